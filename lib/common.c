/* SPDX-License-Identifier: MIT */
/* libvdev — error strings and version. */
#include "vdev/common.h"

#include "compiler.h"

VDEV_API const char *vdev_strerror(int err)
{
	switch (err) {
	case VDEV_OK: return "success";
	case VDEV_EPERM: return "operation not allowed in this state";
	case VDEV_ENOENT: return "no such object";
	case VDEV_EIO: return "I/O error";
	case VDEV_E2BIG: return "too many segments or bytes";
	case VDEV_EAGAIN: return "try again";
	case VDEV_ENOMEM: return "pool exhausted";
	case VDEV_EFAULT: return "address not in guest memory";
	case VDEV_EBUSY: return "busy";
	case VDEV_EEXIST: return "already exists";
	case VDEV_EINVAL: return "invalid argument";
	case VDEV_ENOSPC: return "no space left";
	case VDEV_EROFS: return "read-only";
	case VDEV_ERANGE: return "out of range";
	case VDEV_ENOSYS: return "not implemented";
	case VDEV_ELOOP: return "descriptor loop or chain too long";
	case VDEV_EPROTO: return "virtio protocol violation";
	case VDEV_EOVERFLOW: return "arithmetic overflow";
	case VDEV_EMSGSIZE: return "bad message size";
	case VDEV_ENOTSUP: return "not supported";
	case VDEV_ECANCELED: return "cancelled";
	default: return "unknown error";
	}
}

VDEV_API uint32_t vdev_version(void)
{
	return VDEV_VERSION;
}
