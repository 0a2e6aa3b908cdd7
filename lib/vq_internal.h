/* SPDX-License-Identifier: MIT */
/*
 * Internal: what vq.c, vq_split.c and vq_packed.c share — queue state
 * flags, the chain builder that turns descriptors into checked host
 * segments, and the per-layout entry points.
 */
#ifndef VDEV_LIB_VQ_INTERNAL_H
#define VDEV_LIB_VQ_INTERNAL_H

#include "vdev/device.h"
#include "vdev/inflight.h"
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
#define VQ_NOTIFY_EVERY 0x80u   /* packed: notify_on_next's mode until found empty */

static inline int vq_has(const struct vdev_vq *vq, unsigned bit)
{
	/* A feature left out of the build (vdev/config.h) is never
	 * negotiated; a constant here drops the code that serves it. */
	if (!VDEV_CONFIG_INDIRECT && bit == VDEV_F_INDIRECT_DESC)
		return 0;
	return (vq->P(features) >> bit) & 1u;
}

/* The queue uses the packed layout (never, when the build leaves it out). */
static inline bool vq_is_packed(const struct vdev_vq *vq)
{
	return VDEV_CONFIG_PACKED && vq->P(layout) == VDEV_VQ_PACKED;
}

/*
 * The region the last buffer hit, copied into locals by the pop loops so
 * that the common case (every buffer in one region) is a subtraction and
 * two compares. size == 0 means no hint: every lookup takes the slow path.
 */
struct vq_fast {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	uint32_t ro; /* 1 if the region is read-only */
};

/*
 * The fast paths take a device-writable buffer only where the device may
 * write it: not in read-only memory, not on a device-reads-only queue
 * (whose writable descriptors the general walk turns into readable ones).
 */
static inline uint32_t vq_fast_no_write(const struct vdev_vq *vq)
{
	return vq->P(fast_ro) | vq->P(reads_only);
}

static inline void vq_fast_load(const struct vdev_vq *vq, struct vq_fast *f)
{
	f->gpa = vq->P(fast_gpa);
	f->size = vq->P(fast_size);
	f->hva = vq->P(fast_hva);
	f->ro = vq->P(fast_ro);
}

/*
 * Device-writable buffers must not lie on where the queue looks for new
 * work (its avail ring; packed: its descriptor ring), nor on the work
 * area of the queue it feeds (vdev_vq_set_feeds()): the device's writes
 * there would make buffers available, and one request could feed itself
 * for ever inside one process call. Such a chain is rejected (VDEV_EEXIST).
 *
 * The full walk checks exactly, on the host: vdev__writes_on_work() (in
 * vq.c, out of line: the stack budget). The fast paths check a writable
 * segment's guest range against a window instead (struct vq_wwin): the
 * guest range, within the hinted region, that holds those work areas
 * (their union's bounds; empty if none lies in the region). Meeting it,
 * the fast path declines and the full walk decides. Two compares.
 */
VDEV__INTERNAL bool vdev__writes_on_work(const struct vdev_vq *vq, const struct vdev_iov *v,
					 unsigned n);
/* The same for one non-empty segment: for the one-chain fast paths, which
 * are inlined into the pop dispatchers and have no window of their own. */
VDEV__INTERNAL bool vdev__write_on_work(const struct vdev_vq *vq, const void *base, uint32_t len);

struct vq_wwin {
	uint64_t lo, last; /* guest range [lo, last]; lo > last: none */
};

/* The window for the hint (gpa, size, hva) the caller took from vq. */
VDEV__INTERNAL struct vq_wwin vdev__write_window(const struct vdev_vq *vq, uint64_t gpa,
						 uint64_t size, const uint8_t *hva);

/* True if the non-empty guest range [addr, addr + len) meets w. */
static inline __attribute__((always_inline)) bool wwin_meets(struct vq_wwin w, uint64_t addr,
							     uint32_t len)
{
	return addr <= w.last && w.lo <= addr + ((uint64_t)len - 1u);
}

/*
 * Chain builder. Collects segments of one chain into the caller's iov
 * array, enforcing: readable before writable, total bytes <= 2^32 - 1,
 * at most `cap` segments, every byte inside guest memory with the right
 * access. Structural failures found while walking are kept in `error`
 * (the first one wins); later descriptors are still walked to find the
 * chain's extent but add nothing. Order and total length are tracked
 * without branches and judged once, in chain_finish().
 */
struct vq_chain {
	struct vdev_iov *iov;
	uint32_t cap;
	uint32_t n;
	uint32_t n_out;
	uint32_t seen_write; /* 1 once a writable descriptor was seen */
	uint32_t bad_order;  /* 1 if a readable one came after that */
	uint32_t reads_only; /* 1: take writable descriptors as readable */
	uint32_t as_read;    /* 1 once one was */
	int error;
	uint64_t bytes[2]; /* [0] readable, [1] writable; cannot overflow:
			    * at most 32768 descriptors of < 2^32 bytes */
};

static inline void chain_begin(struct vq_chain *c, const struct vdev_vq *vq,
			       struct vdev_iov *iov, unsigned cap)
{
	c->iov = iov;
	c->cap = cap;
	c->reads_only = vq->P(reads_only);
	c->as_read = 0;
	c->n = 0;
	c->n_out = 0;
	c->seen_write = 0;
	c->bad_order = 0;
	c->error = 0;
	c->bytes[0] = 0;
	c->bytes[1] = 0;
}

static inline void chain_fail(struct vq_chain *c, int err)
{
	if (c->error == 0)
		c->error = err;
}

/*
 * Slow path: a buffer not inside the hinted region. Translates it into at
 * most `room` segments at `iov`, stores their number in *got, updates the
 * queue's hint (the caller reloads it) and returns 0 or a VDEV_E* code.
 * Deliberately not given the chain: the chain's state stays in registers.
 * In mem.c, where the translation inlines into it (one frame: the stack
 * budget, scripts/stack-budget.py).
 */
VDEV__INTERNAL int vdev__map_slow(struct vdev_vq *vq, uint64_t addr, uint32_t len,
				  uint32_t write, struct vdev_iov *iov, uint32_t room,
				  unsigned *got);

/* Add one buffer descriptor (not an indirect table) to the chain. */
static inline void chain_add(struct vdev_vq *vq, struct vq_fast *f, struct vq_chain *c,
			     uint64_t addr, uint32_t len, uint32_t write)
{
	uint64_t off;

	/* A device-reads-only queue takes a writable descriptor as readable. */
	c->as_read |= write & c->reads_only;
	write &= c->reads_only ^ 1u;
	c->bad_order |= c->seen_write & (write ^ 1u);
	c->seen_write |= write;
	c->bytes[write] += len;
	if (VDEV__UNLIKELY(c->error != 0 || len == 0))
		return;
	off = addr - f->gpa;
	if (VDEV__LIKELY(off < f->size && len <= f->size - off && !(write & f->ro) &&
			 c->n < c->cap)) {
		c->iov[c->n].base = f->hva + (uintptr_t)off;
		c->iov[c->n].len = len;
		c->n++;
		c->n_out += write ^ 1u; /* readable ones come first, or the chain is rejected */
		return;
	}
	{
		unsigned got = 0;
		int rc = vdev__map_slow(vq, addr, len, write, c->iov + c->n, c->cap - c->n, &got);
		if (rc < 0) {
			chain_fail(c, rc);
		} else {
			c->n += got;
			c->n_out += (write ^ 1u) * got;
		}
	}
	vq_fast_load(vq, f);
}

/* Finish an element from a built chain. Returns 1 if it was rejected. The
 * caller accounts for the element in the queue's counters, except for
 * write_as_read, counted here for a chain that was not rejected. */
static inline int chain_finish(struct vdev_vq *vq, struct vq_chain *c, struct vdev_vq_elem *e,
			       uint16_t seq)
{
	e->iov = c->iov;
	e->seq = seq;
	if (VDEV__UNLIKELY(c->error == 0 && c->bad_order))
		c->error = VDEV_EPROTO; /* readable after writable */
	if (VDEV__UNLIKELY(c->error == 0 && c->bytes[0] + c->bytes[1] > UINT32_MAX))
		c->error = VDEV_EOVERFLOW; /* spec: at most 2^32 bytes in a chain */
	if (c->error == 0 && c->n > c->n_out &&
	    vdev__writes_on_work(vq, c->iov + c->n_out, c->n - c->n_out))
		c->error = VDEV_EEXIST; /* would write where the device looks for work */
	if (VDEV__UNLIKELY(c->error != 0)) {
		e->n_out = 0;
		e->n_in = 0;
		e->out_bytes = 0;
		e->in_bytes = 0;
		e->error = (int16_t)c->error;
		return 1;
	}
	e->n_out = (uint16_t)c->n_out;
	e->n_in = (uint16_t)(c->n - c->n_out);
	e->out_bytes = (uint32_t)c->bytes[0];
	e->in_bytes = (uint32_t)c->bytes[1];
	e->error = 0;
	vq->P(stats).write_as_read += c->as_read;
	return 0;
}

/* Fill an element for a one-descriptor chain at host address `base`
 * (already checked); `write` is 1 for a device-writable buffer. */
static inline void elem_single(struct vdev_vq_elem *e, struct vdev_iov *v, void *base,
			       uint32_t len, uint32_t write, uint16_t id, uint16_t seq)
{
	v->base = base;
	v->len = len;
	e->iov = v;
	e->out_bytes = write ? 0 : len;
	e->in_bytes = write ? len : 0;
	e->n_out = (uint16_t)(write ^ 1u);
	e->n_in = (uint16_t)write;
	e->id = id;
	e->ndescs = 1;
	e->seq = seq;
	e->error = 0;
}

/*
 * What a multi-descriptor fast path (split fast_multi(), packed
 * fast_list()) needs of its queue, loaded once for a run of chains: the
 * descriptors (the split table or the packed ring), the hinted region
 * [rgpa, rgpa + rsize) with host address = bias + guest address, whether
 * writable buffers must go the slow way (ro), and the segment limit
 * min(iov_per_elem, size), which bounds the loops too.
 */
struct vq_multi_ctx {
	const void *ring;
	uint64_t rgpa, rsize;
	uintptr_t bias;
	struct vq_wwin w; /* writable segments must not meet it */
	uint32_t ro, limit;
	uint16_t size;
};

static inline __attribute__((always_inline)) struct vq_multi_ctx
vq_multi_ctx(const struct vdev_vq *vq, const void *ring, uint32_t size, unsigned iov_per_elem)
{
	const struct vq_multi_ctx x = {
		.ring = ring,
		.rgpa = vq->P(fast_gpa),
		.rsize = vq->P(fast_size),
		.bias = (uintptr_t)vq->P(fast_hva) - (uintptr_t)vq->P(fast_gpa),
		.w = vdev__write_window(vq, vq->P(fast_gpa), vq->P(fast_size), vq->P(fast_hva)),
		.ro = vq_fast_no_write(vq),
		.limit = iov_per_elem < size ? iov_per_elem : size,
		.size = (uint16_t)size,
	};
	return x;
}

/*
 * One direct descriptor on a multi-descriptor fast path (split
 * fast_multi(), packed fast_list()): a segment slot left (v < vend), and
 * the buffer non-empty and inside the hinted region [rgpa, rgpa + rsize),
 * whose host address is bias + guest address. (len - 1 >= rsize - off)
 * rejects len == 0 and overruns alike. Stores the segment at *v and
 * returns true, or returns false having stored nothing. Always inlined,
 * so that the callers' loops keep all of it in registers.
 */
static inline __attribute__((always_inline)) bool fast_seg(struct vdev_iov *v,
							   const struct vdev_iov *vend,
							   uint64_t addr, uint32_t len,
							   uint64_t rgpa, uint64_t rsize,
							   uintptr_t bias)
{
	uint64_t off = addr - rgpa;

	if (VDEV__UNLIKELY(v == vend))
		return false;
	if (VDEV__UNLIKELY(off >= rsize))
		return false;
	if (VDEV__UNLIKELY((uint64_t)len - 1u >= rsize - off))
		return false;
	v->base = (void *)(bias + (uintptr_t)addr);
	v->len = len;
	return true;
}

/* Fill an element for a chain of segments iov[0, n), the first n_out
 * readable, totalling `total` bytes of which `out` readable, from a fast
 * path (the caller has checked total <= UINT32_MAX). */
static inline __attribute__((always_inline)) void elem_fast(struct vdev_vq_elem *e,
							    struct vdev_iov *iov, unsigned n,
							    unsigned n_out, uint64_t out,
							    uint64_t total, uint16_t id,
							    uint16_t seq)
{
	e->iov = iov;
	e->out_bytes = (uint32_t)out;
	e->in_bytes = (uint32_t)(total - out);
	e->n_out = (uint16_t)n_out;
	e->n_in = (uint16_t)(n - n_out);
	e->id = id;
	e->ndescs = (uint16_t)n;
	e->seq = seq;
	e->error = 0;
}

/*
 * The held-buffer bitmap (see virtqueue.h): one bit per split head /
 * packed buffer id the device holds. The pop paths test a chain's bit
 * before taking it (a set bit: the driver offered a held buffer again,
 * which breaks the ring) and set it when they take it; push and unpop
 * clear it.
 */
static inline uint64_t vq_held_bit(uint16_t id)
{
	return UINT64_C(1) << (id & 63u);
}
static inline bool vq_is_held(const uint64_t *held, uint16_t id)
{
	return (held[id >> 6] & vq_held_bit(id)) != 0;
}
static inline void vq_hold(uint64_t *held, uint16_t id)
{
	held[id >> 6] |= vq_held_bit(id);
}

/* Account for `n` popped elements, `rejected` of them rejected. */
static inline void vq_account_pops(struct vdev_vq *vq, unsigned n, unsigned rejected)
{
	vq->P(stats).popped += n;
	vq->P(stats).rejected += rejected;
	vq->P(inflight) = (uint16_t)(vq->P(inflight) + n);
	vq->P(pop_seq) = (uint16_t)(vq->P(pop_seq) + n);
}

/* Mark the ring untrustworthy: no more pops until reset; device NEEDS_RESET. */
VDEV__INTERNAL int vdev__vq_break(struct vdev_vq *vq);

/* In-flight log (vq_inflight.c), called with a log attached (split only). */
VDEV__INTERNAL void vdev__inflight_popped(struct vdev_vq_inflight *log,
					  const struct vdev_vq_elem *elems, unsigned n);
/* The first `resub` of elems were resubmissions: back to the log's list. */
VDEV__INTERNAL void vdev__inflight_unpopped(struct vdev_vq_inflight *log,
					    const struct vdev_vq_elem *elems, unsigned n,
					    unsigned resub);
VDEV__INTERNAL void vdev__inflight_pushed(struct vdev_vq_inflight *log,
					  const struct vdev_vq_elem *elems, unsigned n);
VDEV__INTERNAL void vdev__inflight_published(struct vdev_vq_inflight *log, uint16_t batch,
					     uint16_t ring_size, uint16_t used_idx);
VDEV__INTERNAL bool vdev__inflight_next(struct vdev_vq_inflight *log, uint16_t ring_size,
					uint16_t *head);
#if VDEV_CONFIG_PACKED
/* Packed logs (vq_inflight_packed.c). `pos`: the ring slot the first of
 * elems was taken from. */
VDEV__INTERNAL void vdev__inflight_packed_popped(struct vdev_vq_inflight *log,
						 const struct vdev_vq *vq,
						 const struct vdev_vq_elem *elems, unsigned n,
						 uint16_t pos);
/* The next buffer to hand out again, built from the log's copies of its
 * descriptors and held; false when there is none. */
VDEV__INTERNAL bool vdev__inflight_packed_next(struct vdev_vq_inflight *log, struct vdev_vq *vq,
					       struct vdev_vq_elem *out, struct vdev_iov *iov,
					       unsigned cap);
VDEV__INTERNAL void vdev__inflight_packed_unpopped(struct vdev_vq_inflight *log,
						   const struct vdev_vq_elem *elems, unsigned n,
						   unsigned resub);
VDEV__INTERNAL void vdev__inflight_packed_pushed(struct vdev_vq_inflight *log,
						 const struct vdev_vq_elem *elems, unsigned n);
/* Around the store of the ring's flags, with the used position after it. */
VDEV__INTERNAL void vdev__inflight_packed_publish_begin(struct vdev_vq_inflight *log,
							uint16_t used_idx, bool used_wrap);
VDEV__INTERNAL void vdev__inflight_packed_publish_end(struct vdev_vq_inflight *log,
						      uint16_t used_idx, bool used_wrap);
#else
/* vq_inflight_packed.c is left out with vq_packed.c (VDEV_CONFIG_PACKED
 * 0): no packed queue exists, so no packed log is ever attached and these
 * are never called. */
static inline void vdev__inflight_packed_popped(struct vdev_vq_inflight *log,
						const struct vdev_vq *vq,
						const struct vdev_vq_elem *elems, unsigned n,
						uint16_t pos)
{
	(void)log, (void)vq, (void)elems, (void)n, (void)pos;
}
static inline bool vdev__inflight_packed_next(struct vdev_vq_inflight *log, struct vdev_vq *vq,
					      struct vdev_vq_elem *out, struct vdev_iov *iov,
					      unsigned cap)
{
	(void)log, (void)vq, (void)out, (void)iov, (void)cap;
	return false;
}
static inline void vdev__inflight_packed_unpopped(struct vdev_vq_inflight *log,
						  const struct vdev_vq_elem *elems, unsigned n,
						  unsigned resub)
{
	(void)log, (void)elems, (void)n, (void)resub;
}
static inline void vdev__inflight_packed_pushed(struct vdev_vq_inflight *log,
						const struct vdev_vq_elem *elems, unsigned n)
{
	(void)log, (void)elems, (void)n;
}
static inline void vdev__inflight_packed_publish_begin(struct vdev_vq_inflight *log,
						       uint16_t used_idx, bool used_wrap)
{
	(void)log, (void)used_idx, (void)used_wrap;
}
static inline void vdev__inflight_packed_publish_end(struct vdev_vq_inflight *log,
						     uint16_t used_idx, bool used_wrap)
{
	(void)log, (void)used_idx, (void)used_wrap;
}
#endif
/* Take the chain at descriptor `head` (< size, not held) as popped, without
 * the avail ring; the queue holds it from then on. */
VDEV__INTERNAL void vdev__split_pop_head(struct vdev_vq *vq, uint16_t head,
					 struct vdev_vq_elem *e, struct vdev_iov *iov,
					 unsigned cap);

/* Per layout. */
VDEV__INTERNAL int vdev__split_map(struct vdev_vq *vq);
VDEV__INTERNAL int vdev__split_pop(struct vdev_vq *vq, struct vdev_vq_elem *elems, unsigned max,
				   struct vdev_iov *iov, unsigned iov_per_elem);
VDEV__INTERNAL bool vdev__split_publish(struct vdev_vq *vq);
VDEV__INTERNAL void vdev__split_set_notify(struct vdev_vq *vq, bool enable);
VDEV__INTERNAL void vdev__split_notify_on_next(struct vdev_vq *vq);
VDEV__INTERNAL bool vdev__split_has_work(struct vdev_vq *vq);

#if VDEV_CONFIG_PACKED
/* A packed indirect table into the chain (vq_packed.c). */
VDEV__INTERNAL void vdev__packed_indirect(struct vdev_vq *vq, struct vq_fast *f,
					  struct vq_chain *c, uint64_t addr, uint32_t len);
VDEV__INTERNAL int vdev__packed_map(struct vdev_vq *vq);
VDEV__INTERNAL int vdev__packed_pop(struct vdev_vq *vq, struct vdev_vq_elem *elems,
				    unsigned max, struct vdev_iov *iov, unsigned iov_per_elem);
VDEV__INTERNAL bool vdev__packed_publish(struct vdev_vq *vq);
VDEV__INTERNAL void vdev__packed_set_notify(struct vdev_vq *vq, bool enable);
VDEV__INTERNAL void vdev__packed_notify_on_next(struct vdev_vq *vq);
VDEV__INTERNAL bool vdev__packed_has_work(struct vdev_vq *vq);
#else
/* vq_packed.c is left out (VDEV_CONFIG_PACKED 0): vq_is_packed() is a
 * constant false, so these are never called; they keep the callers free
 * of #if. */
static inline int vdev__packed_map(struct vdev_vq *vq) { (void)vq; return VDEV_ENOTSUP; }
static inline int vdev__packed_pop(struct vdev_vq *vq, struct vdev_vq_elem *elems,
				   unsigned max, struct vdev_iov *iov, unsigned iov_per_elem)
{
	(void)vq, (void)elems, (void)max, (void)iov, (void)iov_per_elem;
	return VDEV_ENOTSUP;
}
static inline bool vdev__packed_publish(struct vdev_vq *vq) { (void)vq; return false; }
static inline void vdev__packed_set_notify(struct vdev_vq *vq, bool enable)
{
	(void)vq, (void)enable;
}
static inline void vdev__packed_notify_on_next(struct vdev_vq *vq) { (void)vq; }
static inline bool vdev__packed_has_work(struct vdev_vq *vq) { (void)vq; return false; }
/* Reached only from a packed queue's log (vq_inflight_packed.c). */
static inline void vdev__packed_indirect(struct vdev_vq *vq, struct vq_fast *f,
					 struct vq_chain *c, uint64_t addr, uint32_t len)
{
	(void)vq, (void)f, (void)c, (void)addr, (void)len;
}
#endif

/*
 * Stage n used elements (packed), already checked (ndescs != 0, `descs`
 * of them in all, within inflight_descs). Each is written at used_idx,
 * which then advances by the number of descriptors of the buffer being
 * completed. The first element of a batch keeps its flags back for
 * publish to store last, after a release barrier.
 */
static inline void vq_packed_push_batch(struct vdev_vq *vq, const struct vdev_vq_elem *elems,
					const uint32_t *written, unsigned n, uint32_t descs)
{
	struct pvirtq_desc *ring = (struct pvirtq_desc *)vq->P(desc);
	const uint32_t size = vq->P(size);
	const bool hold_first = vq->P(staged) == 0;
	uint32_t pos = vq->P(used_idx);
	uint16_t wrapbits = (vq->P(state) & VQ_USED_WRAP) ?
				    (uint16_t)(VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED) : 0u;

	for (unsigned i = 0; i < n; i++) {
		const struct vdev_vq_elem *e = &elems[i];
		uint32_t len = written[i] < e->in_bytes ? written[i] : e->in_bytes;
		uint16_t flags = (uint16_t)(wrapbits | (len != 0 ? VIRTQ_DESC_F_WRITE : 0u));

		vdev__wr16(&ring[pos].id, e->id);
		vdev__wr32(&ring[pos].len, len);
		if (i == 0 && hold_first) {
			vq->P(batch_pos) = (uint16_t)pos;
			vq->P(batch_flags) = flags;
		} else {
			/* The driver reads this one only after the batch's
			 * first, whose flags publish stores last. */
			vdev__wr16(&ring[pos].flags, flags);
		}
		pos += e->ndescs;
		if (pos >= size) {
			pos -= size;
			wrapbits ^= (uint16_t)(VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED);
		}
	}
	vq->P(used_idx) = (uint16_t)pos;
	if (wrapbits)
		vq->P(state) |= VQ_USED_WRAP;
	else
		vq->P(state) &= (uint8_t)~VQ_USED_WRAP;
	vq->P(inflight_descs) = (uint16_t)(vq->P(inflight_descs) - descs);
	vq->P(unchecked_used) = (uint16_t)(vq->P(unchecked_used) + descs);
	vq->P(staged) = (uint16_t)(vq->P(staged) + n);
}

/* Map one ring area: must be one host-contiguous piece, aligned. */
VDEV__INTERNAL int vdev__vq_map_area(const struct vdev_vq *vq, uint64_t gpa, uint64_t len,
				     uint32_t align, unsigned access, void **out);

/* Read one 16-byte descriptor of an indirect table that is not mapped
 * in one aligned piece. (Never called when VDEV_CONFIG_INDIRECT is 0:
 * vq_has() says the feature is off.) */
#if VDEV_CONFIG_INDIRECT
VDEV__INTERNAL int vdev__read_indirect(const struct vdev_vq *vq, uint64_t table, uint32_t i,
				       void *desc16);
#else
static inline int vdev__read_indirect(const struct vdev_vq *vq, uint64_t table, uint32_t i,
				      void *desc16)
{
	(void)vq, (void)table, (void)i, (void)desc16;
	return VDEV_ENOTSUP;
}
#endif

/* 0 if every byte of [gpa, gpa+len) is accessible for `access`, else the
 * error of the first part that is not (mem.c). */
VDEV__INTERNAL int vdev__mem_check(const struct vdev_mem *mem, uint64_t gpa, uint64_t len,
				   unsigned access);


/* Device core hook (device.c). */
VDEV__INTERNAL void vdev__dev_queue_broken(struct vdev_dev *dev, struct vdev_vq *vq);

#endif /* VDEV_LIB_VQ_INTERNAL_H */
