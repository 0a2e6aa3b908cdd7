/* SPDX-License-Identifier: MIT */
/*
 * libvdev — guest memory.
 *
 * Every guest address libvdev touches (rings, indirect tables, buffers) is
 * resolved through a `struct vdev_mem`: a caller-owned table of regions for
 * memory the host has mapped, plus an optional translate callback for
 * memory that is not mapped that simply (an IOMMU, VIRTIO_F_ACCESS_PLATFORM,
 * split or lazily mapped RAM).
 *
 * Lookups are bounds- and overflow-checked. A range that straddles two
 * regions is never assumed to be contiguous on the host: it is returned as
 * separate segments (vdev_mem_to_iov) or the contiguous prefix only
 * (vdev_mem_map).
 */
#ifndef VDEV_MEM_H
#define VDEV_MEM_H

#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Region flag: the device may read but never write this memory. */
#define VDEV_MEM_F_READONLY 0x1u

/* Access kinds for lookups. */
#define VDEV_MEM_READ 0x1u
#define VDEV_MEM_WRITE 0x2u

/*
 * One guest-physical (or IOVA) range mapped into the host.
 * Ownership: the caller owns the array and the memory it describes; both
 * must stay valid and unchanged while any queue uses the vdev_mem.
 */
struct vdev_mem_region {
	uint64_t gpa;   /* first guest address of the region */
	uint64_t size;  /* length in bytes, > 0 */
	void *hva;      /* host address of `gpa` */
	uint32_t flags; /* VDEV_MEM_F_* */
};

/*
 * Translate callback for memory not covered by the region table.
 * Resolve `addr` for `access` (VDEV_MEM_READ / VDEV_MEM_WRITE). On success
 * store the host address of `addr` in *hva and the number of bytes, 1..len,
 * that are contiguous on the host from there in *mapped, and return 0.
 * Return a negative VDEV_E* (VDEV_EFAULT, VDEV_EROFS) if `addr` is not
 * accessible. The mapping must stay valid until the integrator tells
 * libvdev otherwise (vdev_vq_remap(), device reset).
 * Context: called from whatever context calls into the queue (device
 * processing); must not block if that context must not.
 */
typedef int (*vdev_mem_translate_fn)(void *opaque, uint64_t addr, uint64_t len,
				     unsigned access, void **hva, uint64_t *mapped);

/*
 * Guest memory as one device sees it. Caller-allocated; set up with
 * vdev_mem_init(). Not modified by lookups, so several queues on several
 * threads may share one vdev_mem.
 */
struct vdev_mem {
	const struct vdev_mem_region *VDEV_PRIV(regions);
	uint32_t VDEV_PRIV(nregions);
	vdev_mem_translate_fn VDEV_PRIV(translate);
	void *VDEV_PRIV(translate_opaque);
};

/*
 * vdev_mem_init() - describe guest memory by a table of regions.
 * @regions: sorted by ascending gpa, non-overlapping, each size > 0, with
 *           neither gpa+size nor hva+size wrapping; may be NULL if
 *           @nregions is 0 (translate-only memory).
 * Returns 0, or VDEV_EINVAL if the table breaks a rule above (the vdev_mem
 * is then left empty: every lookup fails).
 * Ownership: the table is borrowed, not copied; keep it alive and
 * unchanged. To change it, quiesce the queues, call vdev_mem_init() again
 * and vdev_vq_remap() on each live queue.
 * Context: not concurrently with lookups on the same vdev_mem.
 */
VDEV_API int vdev_mem_init(struct vdev_mem *mem, const struct vdev_mem_region *regions,
			   uint32_t nregions);

/*
 * vdev_mem_set_translate() - install (or, with fn NULL, remove) the
 * translate callback consulted for addresses outside every region.
 * Context: as vdev_mem_init().
 */
VDEV_API void vdev_mem_set_translate(struct vdev_mem *mem, vdev_mem_translate_fn fn,
				     void *opaque);

/*
 * vdev_mem_map() - host address of the guest range [gpa, gpa+len).
 * Stores the host address of gpa in *hva and in *mapped how many bytes
 * from there (1..len) are contiguous on the host; a range that crosses a
 * region boundary yields only its first piece. Returns 0 or:
 *   VDEV_EINVAL    len is 0
 *   VDEV_EOVERFLOW gpa + len wraps 2^64
 *   VDEV_EFAULT    gpa is not guest memory
 *   VDEV_EROFS     access includes VDEV_MEM_WRITE and the memory is read-only
 * Context: any; does not modify the vdev_mem.
 */
VDEV_API int vdev_mem_map(const struct vdev_mem *mem, uint64_t gpa, uint64_t len,
			  unsigned access, void **hva, uint64_t *mapped);

/*
 * vdev_mem_to_iov() - translate a whole guest range into host segments.
 * Appends at most `cap` segments to `iov` and stores their number in *n.
 * A len of 0 yields no segments. Errors as vdev_mem_map() for any part of
 * the range, plus VDEV_E2BIG if more than `cap` segments would be needed.
 * On error *n is 0 and the contents of iov are unspecified.
 * Context: any.
 */
VDEV_API int vdev_mem_to_iov(const struct vdev_mem *mem, uint64_t gpa, uint64_t len,
			     unsigned access, struct vdev_iov *iov, unsigned cap,
			     unsigned *n);

/*
 * vdev_mem_read() / vdev_mem_write() - copy between guest memory and a host
 * buffer, across region boundaries as needed. All-or-nothing checks: on
 * error nothing has been written to guest memory (write) and the host
 * buffer contents are unspecified (read). Errors as vdev_mem_map().
 * Context: any.
 */
VDEV_API int vdev_mem_read(const struct vdev_mem *mem, uint64_t gpa, void *dst, size_t len);
VDEV_API int vdev_mem_write(const struct vdev_mem *mem, uint64_t gpa, const void *src,
			    size_t len);

/*
 * Helpers over segment lists (struct vdev_iov arrays), used by device
 * models to read headers and write replies that the guest may have split
 * or merged across descriptors in any way.
 *
 * vdev_iov_to_buf() copies up to `len` bytes starting `offset` bytes into
 * the segment list into `buf`; vdev_iov_from_buf() copies the other way.
 * Both return the number of bytes copied (less than len if the list is
 * shorter). vdev_iov_length() sums the segment lengths (saturating).
 * Context: any.
 */
VDEV_API size_t vdev_iov_to_buf(const struct vdev_iov *iov, unsigned n, size_t offset,
				void *buf, size_t len);
VDEV_API size_t vdev_iov_from_buf(const struct vdev_iov *iov, unsigned n, size_t offset,
				  const void *buf, size_t len);
VDEV_API size_t vdev_iov_length(const struct vdev_iov *iov, unsigned n);

#ifdef __cplusplus
}
#endif

#endif /* VDEV_MEM_H */
