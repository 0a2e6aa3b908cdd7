/* SPDX-License-Identifier: MIT */
/*
 * libvdev — guest memory: region table lookups and the translate fallback.
 */
#include "vdev/mem.h"

#include "compiler.h"
#include "vq_internal.h"


VDEV_API int vdev_mem_init(struct vdev_mem *mem, const struct vdev_mem_region *regions,
			   uint32_t nregions)
{
	mem->P(regions) = NULL;
	mem->P(nregions) = 0;
	mem->P(translate) = NULL;
	mem->P(translate_opaque) = NULL;
	if (nregions == 0)
		return 0;
	if (regions == NULL)
		return VDEV_EINVAL;
	for (uint32_t i = 0; i < nregions; i++) {
		const struct vdev_mem_region *r = &regions[i];
		uint64_t gend;
		uintptr_t hend;

		if (r->size == 0 || r->hva == NULL)
			return VDEV_EINVAL;
		/* Both ends must be representable: last byte gpa+size-1, host too. */
		if (VDEV__ADD_OVERFLOW(r->gpa, r->size - 1, &gend))
			return VDEV_EINVAL;
		if (r->size - 1 > (uint64_t)UINTPTR_MAX ||
		    VDEV__ADD_OVERFLOW((uintptr_t)r->hva, (uintptr_t)(r->size - 1), &hend))
			return VDEV_EINVAL;
		if (r->flags & ~VDEV_MEM_F_READONLY)
			return VDEV_EINVAL;
		if (i > 0) {
			const struct vdev_mem_region *p = &regions[i - 1];
			/* sorted and disjoint: previous last byte < this first byte */
			if (p->gpa + (p->size - 1) >= r->gpa)
				return VDEV_EINVAL;
		}
	}
	mem->P(regions) = regions;
	mem->P(nregions) = nregions;
	return 0;
}

VDEV_API void vdev_mem_set_translate(struct vdev_mem *mem, vdev_mem_translate_fn fn,
				     void *opaque)
{
	mem->P(translate) = fn;
	mem->P(translate_opaque) = opaque;
}

/* The region containing gpa, or NULL. Binary search over the sorted table.
 * Inlined where one frame fewer counts (vdev__map_slow); elsewhere through
 * find_region(), as the compiler sees fit. */
static inline __attribute__((always_inline)) const struct vdev_mem_region *
find_region_inl(const struct vdev_mem *mem, uint64_t gpa)
{
	const struct vdev_mem_region *r = mem->P(regions);
	uint32_t lo = 0, hi = mem->P(nregions);

	/* Most tables have one or two entries: test the first directly. */
	if (VDEV__LIKELY(hi != 0) && gpa - r[0].gpa < r[0].size)
		return &r[0];
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (gpa < r[mid].gpa)
			hi = mid;
		else if (gpa - r[mid].gpa >= r[mid].size)
			lo = mid + 1;
		else
			return &r[mid];
	}
	return NULL;
}

static const struct vdev_mem_region *find_region(const struct vdev_mem *mem, uint64_t gpa)
{
	return find_region_inl(mem, gpa);
}

/*
 * vdev_mem_map()'s body, inlined into vdev__map_slow() too (with the region
 * lookup, inline_lookup true): a chain's buffer outside the queue's hinted
 * region is translated in one frame, not four (the stack budget,
 * scripts/stack-budget.py).
 */
static inline __attribute__((always_inline)) int mem_map(const struct vdev_mem *mem,
							 uint64_t gpa, uint64_t len,
							 unsigned access, void **hva,
							 uint64_t *mapped, bool inline_lookup,
							 const struct vdev_mem_region **hit)
{
	const struct vdev_mem_region *r;
	uint64_t last;

	if (len == 0)
		return VDEV_EINVAL;
	if (VDEV__ADD_OVERFLOW(gpa, len - 1, &last))
		return VDEV_EOVERFLOW;
	r = inline_lookup ? find_region_inl(mem, gpa) : find_region(mem, gpa);
	if (hit != NULL)
		*hit = r;
	if (VDEV__LIKELY(r != NULL)) {
		uint64_t off = gpa - r->gpa;
		uint64_t avail = r->size - off;

		if ((access & VDEV_MEM_WRITE) && (r->flags & VDEV_MEM_F_READONLY))
			return VDEV_EROFS;
		*hva = (uint8_t *)r->hva + (uintptr_t)off;
		*mapped = len < avail ? len : avail;
		return 0;
	}
	if (mem->P(translate) != NULL) {
		void *p = NULL;
		uint64_t got = 0;
		int rc = mem->P(translate)(mem->P(translate_opaque), gpa, len, access, &p, &got);

		if (rc < 0)
			return rc;
		if (got == 0 || p == NULL)
			return VDEV_EFAULT;
		*hva = p;
		*mapped = got < len ? got : len;
		return 0;
	}
	return VDEV_EFAULT;
}

VDEV_API int vdev_mem_map(const struct vdev_mem *mem, uint64_t gpa, uint64_t len,
			  unsigned access, void **hva, uint64_t *mapped)
{
	return mem_map(mem, gpa, len, access, hva, mapped, false, NULL);
}

VDEV_API int vdev_mem_to_iov(const struct vdev_mem *mem, uint64_t gpa, uint64_t len,
			     unsigned access, struct vdev_iov *iov, unsigned cap,
			     unsigned *n)
{
	unsigned used = 0;

	*n = 0;
	while (len > 0) {
		void *p;
		uint64_t got;
		int rc = vdev_mem_map(mem, gpa, len, access, &p, &got);

		if (rc < 0)
			return rc;
		if (used == cap)
			return VDEV_E2BIG;
		if (got > SIZE_MAX)
			got = SIZE_MAX;
		iov[used].base = p;
		iov[used].len = (size_t)got;
		used++;
		gpa += got; /* cannot wrap: gpa + len - 1 was checked */
		len -= got;
	}
	*n = used;
	return 0;
}

/*
 * The queues' slow path (vq_internal.h): vdev_mem_to_iov() with the
 * translation inlined, then the region of the buffer's first byte becomes
 * the queue's hint. Here rather than in vq.c so that it is one frame.
 */
VDEV__INTERNAL int vdev__map_slow(struct vdev_vq *vq, uint64_t addr, uint32_t len,
				  uint32_t write, struct vdev_iov *iov, uint32_t room,
				  unsigned *got)
{
	const struct vdev_mem *mem = vq->P(mem);
	const unsigned access = write ? VDEV_MEM_WRITE : VDEV_MEM_READ;
	const struct vdev_mem_region *r = NULL, *first = NULL;
	uint64_t gpa = addr, left = len;
	unsigned used = 0;

	while (left > 0) {
		void *p;
		uint64_t n;
		int rc = mem_map(mem, gpa, left, access, &p, &n, true, &r);

		if (rc < 0)
			return rc;
		if (used == 0)
			first = r; /* the region of addr, if any */
		if (used == room)
			return VDEV_E2BIG;
		iov[used].base = p;
		iov[used].len = (size_t)n; /* n <= len < 2^32 */
		used++;
		gpa += n; /* cannot wrap: gpa + len - 1 was checked */
		left -= n;
	}
	*got = used;
	/* Remember the region for the next buffer; most land in the same one. */
	if (first != NULL) {
		vq->P(fast_gpa) = first->gpa;
		vq->P(fast_size) = first->size;
		vq->P(fast_hva) = first->hva;
		vq->P(fast_ro) = (first->flags & VDEV_MEM_F_READONLY) ? 1u : 0u;
	}
	return 0;
}

/* Check that the whole range is accessible before touching anything. */
VDEV__INTERNAL int vdev__mem_check(const struct vdev_mem *mem, uint64_t gpa, uint64_t len,
				   unsigned access)
{
	while (len > 0) {
		void *p;
		uint64_t got;
		int rc = vdev_mem_map(mem, gpa, len, access, &p, &got);

		if (rc < 0)
			return rc;
		gpa += got;
		len -= got;
	}
	return 0;
}

VDEV_API int vdev_mem_read(const struct vdev_mem *mem, uint64_t gpa, void *dst, size_t len)
{
	uint8_t *d = dst;

	while (len > 0) {
		void *p;
		uint64_t got;
		int rc = vdev_mem_map(mem, gpa, len, VDEV_MEM_READ, &p, &got);

		if (rc < 0)
			return rc;
		memcpy(d, p, (size_t)got);
		d += got;
		gpa += got;
		len -= (size_t)got;
	}
	return 0;
}

VDEV_API int vdev_mem_write(const struct vdev_mem *mem, uint64_t gpa, const void *src,
			    size_t len)
{
	const uint8_t *s = src;
	int rc;

	if (len == 0)
		return 0;
	rc = vdev__mem_check(mem, gpa, len, VDEV_MEM_WRITE);
	if (rc < 0)
		return rc;
	while (len > 0) {
		void *p;
		uint64_t got;

		rc = vdev_mem_map(mem, gpa, len, VDEV_MEM_WRITE, &p, &got);
		if (rc < 0)
			return rc; /* translate callback changed its mind */
		memcpy(p, s, (size_t)got);
		s += got;
		gpa += got;
		len -= (size_t)got;
	}
	return 0;
}

VDEV_API size_t vdev_iov_to_buf(const struct vdev_iov *iov, unsigned n, size_t offset,
				void *buf, size_t len)
{
	uint8_t *b = buf;
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t seg = iov[i].len;

		if (offset >= seg) {
			offset -= seg;
			continue;
		}
		size_t chunk = VDEV__MIN(seg - offset, len - done);
		memcpy(b + done, (const uint8_t *)iov[i].base + offset, chunk);
		done += chunk;
		offset = 0;
	}
	return done;
}

VDEV_API size_t vdev_iov_from_buf(const struct vdev_iov *iov, unsigned n, size_t offset,
				  const void *buf, size_t len)
{
	const uint8_t *b = buf;
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t seg = iov[i].len;

		if (offset >= seg) {
			offset -= seg;
			continue;
		}
		size_t chunk = VDEV__MIN(seg - offset, len - done);
		memcpy((uint8_t *)iov[i].base + offset, b + done, chunk);
		done += chunk;
		offset = 0;
	}
	return done;
}

VDEV_API size_t vdev_iov_length(const struct vdev_iov *iov, unsigned n)
{
	size_t total = 0;

	for (unsigned i = 0; i < n; i++) {
		if (VDEV__ADD_OVERFLOW(total, iov[i].len, &total))
			return SIZE_MAX;
	}
	return total;
}
