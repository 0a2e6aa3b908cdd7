/* SPDX-License-Identifier: MIT */
/*
 * The reference device of the benchmarks: the "speed of light" for the
 * ring protocol. It hands the device the same element as libvdev (host
 * segments, readable ones first and their count, readable and writable
 * byte totals, the id) using a shadow avail index and a one-region
 * translate with a single bounds check, and nothing else: no loop, order,
 * length, zero-length, read-only or capacity validation, no indirect
 * support. It keeps the barriers and the notification decision, without
 * which the ring protocol is not correct at all. Both layouts.
 */
#ifndef VDEV_BENCH_REF_VQ_H
#define VDEV_BENCH_REF_VQ_H

#include <stdbool.h>
#include <stdint.h>

#include "drvsim.h"
#include "vdev/common.h"

struct ref {
	uint8_t *base;    /* host address of the single region */
	uint64_t gpa, size;
	void *desc, *driver, *device;
	uint16_t size_q, mask;
	uint16_t last_avail, shadow, used_idx, signalled;
	uint16_t batch_pos, batch_flags, staged, unchecked;
	bool avail_wrap, used_wrap, event_idx, packed;
};

struct ref_elem {
	struct vdev_iov *iov;
	uint32_t out_bytes, in_bytes;
	uint16_t n_out, nseg;
	uint16_t id, ndescs;
};

/* The reference device on the rings and the single region of a simulated
 * pair (both wrap counters start at 1, as the spec has them). */
static inline struct ref ref_for_pair(const struct sim_pair *p, uint16_t qsize, bool event_idx,
				      bool packed)
{
	return (struct ref){.base = p->m.host[0], .gpa = p->m.regions[0].gpa,
			    .size = p->m.regions[0].size, .desc = p->drv.desc,
			    .driver = p->drv.driver, .device = p->drv.device, .size_q = qsize,
			    .mask = (uint16_t)(qsize - 1u), .avail_wrap = true, .used_wrap = true,
			    .event_idx = event_idx, .packed = packed};
}

#define LD16(p) (*(const volatile uint16_t *)(p))
#define LD32(p) (*(const volatile uint32_t *)(p))
#define LD64(p) (*(const volatile uint64_t *)(p))
#define ST16(p, v) (*(volatile uint16_t *)(p) = (uint16_t)(v))
#define ST32(p, v) (*(volatile uint32_t *)(p) = (uint32_t)(v))

/* One-region translate; the segment's direction goes into the counts. */
static inline int ref_xlate(struct ref *r, uint64_t addr, uint32_t len, uint16_t flags,
			    struct ref_elem *e)
{
	uint64_t off = addr - r->gpa;
	if (off >= r->size || len > r->size - off || e->nseg == 4)
		return -1;
	e->iov[e->nseg].base = r->base + off;
	e->iov[e->nseg].len = len;
	e->nseg++;
	if (flags & 2u) {
		e->in_bytes += len;
	} else {
		e->out_bytes += len;
		e->n_out++;
	}
	return 0;
}

static inline int ref_split_pop(struct ref *r, struct ref_elem *es, unsigned max, struct vdev_iov *iov)
{
	unsigned n = 0;
	uint8_t *av = r->driver;
	if (r->last_avail == r->shadow) {
		r->shadow = LD16(av + 2);
		if (r->shadow == r->last_avail)
			return 0;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	}
	while (n < max && r->last_avail != r->shadow) {
		uint16_t i = LD16(av + 4 + 2u * (r->last_avail & r->mask));
		struct ref_elem *e = &es[n];
		e->iov = iov + 4 * n++;
		e->id = i;
		e->nseg = e->n_out = 0;
		e->out_bytes = e->in_bytes = 0;
		e->ndescs = 0;
		r->last_avail++;
		for (;;) {
			uint8_t *d = (uint8_t *)r->desc + 16u * (i & r->mask);
			uint16_t flags = LD16(d + 12);
			ref_xlate(r, LD64(d), LD32(d + 8), flags, e);
			e->ndescs++;
			if (!(flags & 1u))
				break;
			i = LD16(d + 14);
		}
	}
	return (int)n;
}

static inline void ref_split_push(struct ref *r, const struct ref_elem *e, uint32_t len)
{
	uint8_t *u = (uint8_t *)r->device + 4 + 8u * (r->used_idx & r->mask);
	ST32(u, e->id);
	ST32(u + 4, len);
	r->used_idx++;
}

static inline bool ref_split_publish(struct ref *r)
{
	uint16_t old = r->signalled;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	ST16((uint8_t *)r->device + 2, r->used_idx);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	r->signalled = r->used_idx;
	if (!r->event_idx)
		return !(LD16(r->driver) & 1u);
	uint16_t ev = LD16((uint8_t *)r->driver + 4 + 2u * r->size_q);
	return (uint16_t)(r->used_idx - ev - 1) < (uint16_t)(r->used_idx - old);
}

static inline int ref_packed_pop(struct ref *r, struct ref_elem *es, unsigned max, struct vdev_iov *iov)
{
	unsigned n = 0;
	while (n < max) {
		uint8_t *d = (uint8_t *)r->desc + 16u * r->last_avail;
		uint16_t flags = LD16(d + 14);
		if (((flags >> 7) & 1u) != r->avail_wrap || ((flags >> 15) & 1u) == r->avail_wrap)
			break;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		struct ref_elem *e = &es[n];
		e->iov = iov + 4 * n++;
		e->nseg = e->n_out = 0;
		e->out_bytes = e->in_bytes = 0;
		e->ndescs = 0;
		for (;;) {
			ref_xlate(r, LD64(d), LD32(d + 8), flags, e);
			e->id = LD16(d + 12);
			e->ndescs++;
			if (++r->last_avail == r->size_q) {
				r->last_avail = 0;
				r->avail_wrap = !r->avail_wrap;
			}
			if (!(flags & 1u))
				break;
			d = (uint8_t *)r->desc + 16u * r->last_avail;
			flags = LD16(d + 14);
		}
	}
	return (int)n;
}

static inline void ref_packed_push(struct ref *r, const struct ref_elem *e, uint32_t len)
{
	uint8_t *d = (uint8_t *)r->desc + 16u * r->used_idx;
	uint16_t flags = (uint16_t)((r->used_wrap ? 0x8080u : 0u) | (len ? 2u : 0u));
	ST16(d + 12, e->id);
	ST32(d + 8, len);
	if (r->staged++ == 0) {
		r->batch_pos = r->used_idx;
		r->batch_flags = flags;
	} else {
		ST16(d + 14, flags);
	}
	r->used_idx = (uint16_t)(r->used_idx + e->ndescs);
	if (r->used_idx >= r->size_q) {
		r->used_idx = (uint16_t)(r->used_idx - r->size_q);
		r->used_wrap = !r->used_wrap;
	}
	r->unchecked = (uint16_t)(r->unchecked + e->ndescs);
}

static inline bool ref_packed_publish(struct ref *r)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	ST16((uint8_t *)r->desc + 16u * r->batch_pos + 14, r->batch_flags);
	r->staged = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t fl = LD16((uint8_t *)r->driver + 2) & 3u;
	uint16_t old = (uint16_t)(r->used_idx - r->unchecked);
	r->unchecked = 0;
	if (fl == 1)
		return false;
	if (fl != 2 || !r->event_idx)
		return true;
	uint16_t ow = LD16(r->driver), ev = ow & 0x7fffu;
	if ((ow >> 15) != r->used_wrap)
		ev = (uint16_t)(ev - r->size_q);
	return (uint16_t)(r->used_idx - ev - 1) < (uint16_t)(r->used_idx - old);
}

#endif
