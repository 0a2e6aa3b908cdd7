/* SPDX-License-Identifier: MIT */
/*
 * libvdev — common definitions: version, error codes, scatter segments.
 *
 * Every public header of libvdev includes this one. It depends only on
 * <stdint.h>, <stddef.h> and <stdbool.h>, so it builds freestanding and
 * compiles as C11 and as C++.
 */
#ifndef VDEV_COMMON_H
#define VDEV_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vdev/config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VDEV_VERSION_MAJOR 0
#define VDEV_VERSION_MINOR 1
#define VDEV_VERSION_PATCH 0
/* Encoded as 0xMMmmpp, comparable with < and >. */
#define VDEV_VERSION                                                            \
	((VDEV_VERSION_MAJOR << 16) | (VDEV_VERSION_MINOR << 8) | VDEV_VERSION_PATCH)
#define VDEV_VERSION_STRING "0.1.0"

/* Symbol visibility: the shared library exports only what carries VDEV_API. */
#if defined(_WIN32)
#define VDEV_API
#elif defined(__GNUC__) || defined(__clang__)
#define VDEV_API __attribute__((visibility("default")))
#else
#define VDEV_API
#endif

/*
 * Fields of public structs that are not API. The structs are public so that
 * the integrator can allocate them (statically, on a heap, anywhere); their
 * private members are renamed so that code poking at them stands out and
 * breaks when they change. Use only the functions.
 */
#define VDEV_PRIV(name) vdev_priv_##name

/*
 * Error codes. Functions return 0 on success or one of these (negative)
 * values. Values equal the negated Linux errno of the same name, so a POSIX
 * integrator can pass them on unchanged.
 */
enum vdev_err {
	VDEV_OK = 0,
	VDEV_EPERM = -1,      /* operation not allowed in this state */
	VDEV_ENOENT = -2,     /* no such object (queue, region, id) */
	VDEV_EIO = -5,        /* backend I/O error */
	VDEV_E2BIG = -7,      /* more segments / bytes than the caller allows */
	VDEV_EAGAIN = -11,    /* nothing to do now; try again later */
	VDEV_ENOMEM = -12,    /* a caller-sized pool is exhausted */
	VDEV_EFAULT = -14,    /* guest address not backed by guest memory */
	VDEV_EBUSY = -16,     /* object in use (queue live, request in flight) */
	VDEV_EEXIST = -17,    /* already exists / overlaps */
	VDEV_EINVAL = -22,    /* invalid argument or configuration */
	VDEV_ENOSPC = -28,    /* no space left (backend) */
	VDEV_EROFS = -30,     /* write to read-only memory or device */
	VDEV_ERANGE = -34,    /* value out of range */
	VDEV_ENOSYS = -38,    /* operation not implemented by this object */
	VDEV_ELOOP = -40,     /* descriptor chain loops / longer than queue */
	VDEV_EPROTO = -71,    /* guest broke the virtio protocol (ring corrupt) */
	VDEV_EOVERFLOW = -75, /* arithmetic on guest values would overflow */
	VDEV_EMSGSIZE = -90,  /* message has the wrong size */
	VDEV_ENOTSUP = -95,   /* feature not negotiated / not supported */
	VDEV_ECANCELED = -125 /* request cancelled by reset */
};

/*
 * vdev_strerror() - short English description of a VDEV_E* code.
 * Returns a static string; unknown codes give "unknown error".
 * Context: any.
 */
VDEV_API const char *vdev_strerror(int err);

/*
 * vdev_version() - the library's VDEV_VERSION, for checking that the
 * headers a program was built with match the library it runs with.
 * Context: any.
 */
VDEV_API uint32_t vdev_version(void);

/*
 * One contiguous piece of a guest buffer, already translated to a host
 * virtual address. Layout-compatible with POSIX `struct iovec` (a pointer
 * then a size_t), so POSIX backends may cast an array of these to
 * `struct iovec *` for readv/writev/io_uring.
 * Ownership: points into guest memory; valid until the request that lent
 * it is completed (see vdev_vq_push()).
 */
struct vdev_iov {
	void *base;
	size_t len;
};

#ifdef __cplusplus
}
#endif

#endif /* VDEV_COMMON_H */
