/* SPDX-License-Identifier: MIT */
/*
 * Internal: what vq.c, vq_split.c and vq_packed.c share — queue state
 * flags, the chain builder that turns descriptors into checked host
 * segments, and the per-layout entry points.
 */
#ifndef VDEV_LIB_VQ_INTERNAL_H
#define VDEV_LIB_VQ_INTERNAL_H

#include "vdev/device.h"
#include "vdev/virtqueue.h"

#include "compiler.h"
#include "ring.h"

#define P(x) VDEV_PRIV(x)

/* vq->state bits */
#define VQ_LIVE 0x01u
#define VQ_BROKEN 0x02u
#define VQ_NOTIFY_OFF 0x04u     /* device asked for no kicks */
#define VQ_AVAIL_WRAP 0x08u     /* packed: device's view of the driver wrap counter */
#define VQ_USED_WRAP 0x10u      /* packed: device ring wrap counter */
#define VQ_SIGNALLED_VALID 0x20u /* split: signalled_used is meaningful */
#define VQ_ENABLED 0x40u        /* driver enabled the queue (device core) */

static inline int vq_has(const struct vdev_vq *vq, unsigned bit)
{
	return (vq->P(features) >> bit) & 1u;
}

/*
 * Chain builder. Collects segments of one chain into the caller's iov
 * array, enforcing: readable before writable, total bytes <= 2^32 - 1,
 * at most `cap` segments, every byte inside guest memory with the right
 * access. The first failure is kept in `error`; later descriptors are
 * still walked (to find the chain's extent) but add nothing.
 */
struct vq_chain {
	struct vdev_iov *iov;
	uint32_t cap;
	uint32_t n;
	uint32_t n_out;
	uint64_t bytes[2]; /* [0] readable, [1] writable */
	int error;
	uint8_t seen_write;
};

static inline void chain_begin(struct vq_chain *c, struct vdev_iov *iov, unsigned cap)
{
	c->iov = iov;
	c->cap = cap;
	c->n = 0;
	c->n_out = 0;
	c->bytes[0] = 0;
	c->bytes[1] = 0;
	c->error = 0;
	c->seen_write = 0;
}

static inline void chain_fail(struct vq_chain *c, int err)
{
	if (c->error == 0)
		c->error = err;
}

/* Slow path: range not inside the hinted region. Defined in vq.c. */
VDEV__INTERNAL void vdev__chain_add_slow(struct vdev_vq *vq, struct vq_chain *c,
					 uint64_t addr, uint32_t len, int write);

/* Add one buffer descriptor (not an indirect table) to the chain. */
static inline void chain_add(struct vdev_vq *vq, struct vq_chain *c, uint64_t addr,
			     uint32_t len, int write)
{
	const struct vdev_mem *mem = vq->P(mem);
	const struct vdev_mem_region *r;
	uint64_t off;

	if (write)
		c->seen_write = 1;
	else if (c->seen_write)
		chain_fail(c, VDEV_EPROTO); /* readable after writable */
	if (c->error != 0 || len == 0)
		return;
	c->bytes[write] += len;
	if (VDEV__UNLIKELY(c->bytes[0] + c->bytes[1] > UINT32_MAX)) {
		chain_fail(c, VDEV_EOVERFLOW);
		return;
	}
	/* Fast path: the whole buffer inside the region the last one hit. */
	if (VDEV__LIKELY(vq->P(mem_hint) < mem->P(nregions) && c->n < c->cap)) {
		r = &mem->P(regions)[vq->P(mem_hint)];
		off = addr - r->gpa;
		if (VDEV__LIKELY(off < r->size && len <= r->size - off &&
				 !(write && (r->flags & VDEV_MEM_F_READONLY)))) {
			c->iov[c->n].base = (uint8_t *)r->hva + (uintptr_t)off;
			c->iov[c->n].len = len;
			c->n++;
			if (!write)
				c->n_out = c->n;
			return;
		}
	}
	vdev__chain_add_slow(vq, c, addr, len, write);
}

/* Finish an element from a built chain. */
static inline void chain_finish(struct vdev_vq *vq, struct vq_chain *c, struct vdev_vq_elem *e)
{
	e->iov = c->iov;
	e->seq = vq->P(pop_seq)++;
	if (VDEV__UNLIKELY(c->error != 0)) {
		e->n_out = 0;
		e->n_in = 0;
		e->out_bytes = 0;
		e->in_bytes = 0;
		e->error = (int16_t)c->error;
		vq->P(stats).rejected++;
	} else {
		e->n_out = (uint16_t)c->n_out;
		e->n_in = (uint16_t)(c->n - c->n_out);
		e->out_bytes = (uint32_t)c->bytes[0];
		e->in_bytes = (uint32_t)c->bytes[1];
		e->error = 0;
	}
	vq->P(stats).popped++;
	vq->P(inflight)++;
}

/* Mark the ring untrustworthy: no more pops until reset; device NEEDS_RESET. */
VDEV__INTERNAL int vdev__vq_break(struct vdev_vq *vq);

/* Per layout. */
VDEV__INTERNAL int vdev__split_map(struct vdev_vq *vq);
VDEV__INTERNAL int vdev__split_pop(struct vdev_vq *vq, struct vdev_vq_elem *elems, unsigned max,
				   struct vdev_iov *iov, unsigned iov_per_elem);
VDEV__INTERNAL void vdev__split_push(struct vdev_vq *vq, const struct vdev_vq_elem *e,
				     uint32_t len);
VDEV__INTERNAL bool vdev__split_publish(struct vdev_vq *vq);
VDEV__INTERNAL void vdev__split_set_notify(struct vdev_vq *vq, bool enable);
VDEV__INTERNAL bool vdev__split_has_work(struct vdev_vq *vq);

VDEV__INTERNAL int vdev__packed_map(struct vdev_vq *vq);
VDEV__INTERNAL int vdev__packed_pop(struct vdev_vq *vq, struct vdev_vq_elem *elems,
				    unsigned max, struct vdev_iov *iov, unsigned iov_per_elem);
VDEV__INTERNAL void vdev__packed_push(struct vdev_vq *vq, const struct vdev_vq_elem *e,
				      uint32_t len);
VDEV__INTERNAL bool vdev__packed_publish(struct vdev_vq *vq);
VDEV__INTERNAL void vdev__packed_set_notify(struct vdev_vq *vq, bool enable);
VDEV__INTERNAL bool vdev__packed_has_work(struct vdev_vq *vq);

/* Map one ring area: must be one host-contiguous piece, aligned. */
VDEV__INTERNAL int vdev__vq_map_area(const struct vdev_vq *vq, uint64_t gpa, uint64_t len,
				     uint32_t align, unsigned access, void **out);

/* Read one 16-byte descriptor of an indirect table that is not mapped
 * in one aligned piece. */
VDEV__INTERNAL int vdev__read_indirect(const struct vdev_vq *vq, uint64_t table, uint32_t i,
				       void *desc16);

/* Index of the region containing gpa, or UINT32_MAX (mem.c). */
VDEV__INTERNAL uint32_t vdev__mem_region_index(const struct vdev_mem *mem, uint64_t gpa);

/* Device core hook (device.c). */
VDEV__INTERNAL void vdev__dev_queue_broken(struct vdev_dev *dev, struct vdev_vq *vq);

#endif /* VDEV_LIB_VQ_INTERNAL_H */
