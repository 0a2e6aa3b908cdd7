/* SPDX-License-Identifier: MIT */
/* Every public header, compiled as C11 with -Wpedantic and warnings as errors. */
#include "all_headers.h"

int vdev_headers_c(void);

int vdev_headers_c(void)
{
	return vdev_version() == VDEV_VERSION ? 0 : 1;
}
