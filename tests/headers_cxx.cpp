// SPDX-License-Identifier: MIT
// Every public header, compiled as C++11 with warnings as errors.
#include "all_headers.h"

extern "C" int vdev_headers_cxx(void);

extern "C" int vdev_headers_cxx(void)
{
	struct vdev_iov iov = {nullptr, 0};
	struct vdev_vq_elem elem = {};
	(void)elem;
	return vdev_strerror(VDEV_EINVAL)[0] != '\0' && iov.len == 0 ? 0 : 1;
}
