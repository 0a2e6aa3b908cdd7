/* SPDX-License-Identifier: MIT */
/*
 * libvdev — packed virtqueues, device side (spec "Packed Virtqueues").
 *
 *   desc    ring of `size` 16-byte descriptors, read and written by both
 *   driver  driver event suppression {off_wrap, flags} (device reads)
 *   device  device event suppression {off_wrap, flags} (device writes)
 *
 * The device reads available descriptors at last_avail in ring order and
 * writes used descriptors at used_idx, also in ring order, advancing by
 * the number of descriptors of the buffer it completes. used_idx never
 * passes last_avail because only popped descriptors are ever pushed.
 */
#include "vq_internal.h"

static inline struct pvirtq_desc *ring(struct vdev_vq *vq)
{
	return (struct pvirtq_desc *)vq->P(desc);
}
static inline struct pvirtq_event_suppress *driver_evt(struct vdev_vq *vq)
{
	return (struct pvirtq_event_suppress *)vq->P(driver);
}
static inline struct pvirtq_event_suppress *device_evt(struct vdev_vq *vq)
{
	return (struct pvirtq_event_suppress *)vq->P(device);
}

/* Available: AVAIL bit equals the wrap counter, USED bit does not. */
static inline uint16_t avail_bits(bool wrap)
{
	return wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
}
static inline bool is_avail(uint16_t flags, bool wrap)
{
	return (flags & (VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED)) == avail_bits(wrap);
}

VDEV__INTERNAL int vdev__packed_map(struct vdev_vq *vq)
{
	void *d, *drv, *dev;
	int rc;

	rc = vdev__vq_map_area(vq, vq->P(desc_addr), 16u * (uint64_t)vq->P(size), 16,
			       VDEV_MEM_READ | VDEV_MEM_WRITE, &d);
	if (rc == 0)
		rc = vdev__vq_map_area(vq, vq->P(driver_addr), 4, 4, VDEV_MEM_READ, &drv);
	if (rc == 0)
		rc = vdev__vq_map_area(vq, vq->P(device_addr), 4, 4,
				       VDEV_MEM_READ | VDEV_MEM_WRITE, &dev);
	if (rc < 0)
		return rc;
	vq->P(desc) = d;
	vq->P(driver) = drv;
	vq->P(device) = dev;
	return 0;
}

/*
 * An indirect table: len / 16 descriptors used in order; only their WRITE
 * flag means anything (NEXT and the id are reserved and ignored). An entry
 * marked INDIRECT asks for a nested table, which the driver must not do:
 * the chain is rejected rather than the entry read as a buffer. The whole
 * table must be guest memory before any entry is used.
 */
static void walk_indirect(struct vdev_vq *vq, struct vq_fast *f, struct vq_chain *c,
			  uint64_t addr, uint32_t len)
{
	const struct pvirtq_desc *tbl = NULL;
	uint32_t n = len / 16u;
	void *p;
	uint64_t got;
	int rc;

	if (n > vq->P(size)) {
		chain_fail(c, VDEV_ELOOP); /* longer than the queue */
		return;
	}
	rc = vdev_mem_map(vq->P(mem), addr, len, VDEV_MEM_READ, &p, &got);
	if (rc < 0) {
		chain_fail(c, rc);
		return;
	}
	/* Fast path: one aligned host piece; else check the whole table,
	 * then copy each descriptor out (the map above already rejected a
	 * table wrapping 2^64). */
	if (got == len && ((uintptr_t)p & 7u) == 0) {
		tbl = p;
	} else if (got < len) {
		rc = vdev__mem_check(vq->P(mem), addr, len, VDEV_MEM_READ);
		if (rc < 0) {
			chain_fail(c, rc);
			return;
		}
	}
	for (uint32_t i = 0; i < n && c->error == 0; i++) {
		uint64_t daddr;
		uint32_t dlen;
		uint16_t flags;

		if (tbl != NULL) {
			daddr = vdev__rd64(&tbl[i].addr);
			dlen = vdev__rd32(&tbl[i].len);
			flags = vdev__rd16(&tbl[i].flags);
		} else {
			uint8_t raw[16];
			rc = vdev__read_indirect(vq, addr, i, raw);
			if (rc < 0) {
				chain_fail(c, rc);
				return;
			}
			daddr = vdev__get_le64(raw);
			dlen = vdev__get_le32(raw + 8);
			flags = vdev__get_le16(raw + 14);
		}
		if (flags & VIRTQ_DESC_F_INDIRECT) {
			chain_fail(c, VDEV_EPROTO); /* nested indirect table */
			return;
		}
		chain_add(vq, f, c, daddr, dlen, (flags & VIRTQ_DESC_F_WRITE) >> 1);
	}
}

VDEV__INTERNAL void vdev__packed_indirect(struct vdev_vq *vq, struct vq_fast *f,
					  struct vq_chain *c, uint64_t addr, uint32_t len)
{
	walk_indirect(vq, f, c, addr, len);
}

/*
 * Walk the list starting at last_avail, whose head flags were read (once)
 * by the caller. The list's extent in the ring is given by the NEXT flags
 * alone; it must end within `size` descriptors and every descriptor of it
 * must be available, or the ring cannot be trusted; so must its buffer id,
 * in range and not held by the device already. Returns 1 if the chain was
 * rejected, 0 if not, VDEV_EPROTO if the ring broke. The fast paths leave
 * every list they decline, a held buffer id's included, to this walk.
 */
static __attribute__((noinline)) int walk_list(struct vdev_vq *vq, uint16_t head_flags,
						struct vdev_vq_elem *e, struct vdev_iov *iov,
						unsigned cap, uint16_t seq)
{
	struct vq_fast fast, *f = &fast;
	struct pvirtq_desc *r = ring(vq);
	uint16_t size = vq->P(size);
	uint16_t pos = vq->P(last_avail);
	bool wrap = (vq->P(state) & VQ_AVAIL_WRAP) != 0;
	uint16_t flags = head_flags;
	uint16_t count = 0;
	/* The slots the driver may have made available: those the device
	 * does not hold. A list that needs more runs into descriptors of
	 * buffers in flight, which only a rewrite of them can make look
	 * available. */
	const uint16_t room = (uint16_t)(size - vq->P(inflight_descs));
	uint16_t id;
	struct vq_chain c;

	vq_fast_load(vq, f);
	chain_begin(&c, vq, iov, cap);
	for (;;) {
		const struct pvirtq_desc *d = &r[pos];
		uint64_t addr;
		uint32_t len;

		if (count > 0) {
			flags = vdev__rd16(&d->flags);
			if (!is_avail(flags, wrap))
				return vdev__vq_break(vq); /* list made available before its tail */
		}
		addr = vdev__rd64(&d->addr);
		len = vdev__rd32(&d->len);
		id = vdev__rd16(&d->id);
		if (++count > room)
			return vdev__vq_break(vq); /* over descriptors the device holds */
		if (++pos == size) {
			pos = 0;
			wrap = !wrap;
		}
		if (flags & VIRTQ_DESC_F_INDIRECT) {
			if (!vq_has(vq, VDEV_F_INDIRECT_DESC))
				chain_fail(&c, VDEV_ENOTSUP);
			else if ((flags & VIRTQ_DESC_F_NEXT) || count > 1)
				chain_fail(&c, VDEV_EPROTO); /* indirect inside a list */
			else if (len == 0 || (len & 15u) != 0)
				chain_fail(&c, VDEV_EPROTO);
			else
				walk_indirect(vq, f, &c, addr, len);
		} else {
			chain_add(vq, f, &c, addr, len, (flags & VIRTQ_DESC_F_WRITE) >> 1);
		}
		if (!(flags & VIRTQ_DESC_F_NEXT))
			break;
	}
	if (VDEV__UNLIKELY(id >= size))
		return vdev__vq_break(vq); /* buffer id we could not give back sanely */
	if (VDEV__UNLIKELY(vq_is_held(vq->P(held), id)))
		return vdev__vq_break(vq); /* a buffer we hold, offered again */
	vq_hold(vq->P(held), id);
	vq->P(last_avail) = pos;
	if (wrap)
		vq->P(state) |= VQ_AVAIL_WRAP;
	else
		vq->P(state) &= (uint8_t)~VQ_AVAIL_WRAP;
	vq->P(inflight_descs) = (uint16_t)(vq->P(inflight_descs) + count);
	e->id = id;
	e->ndescs = count;
	return chain_finish(vq, &c, e, seq);
}

/*
 * Fast path for a list of several direct descriptors, each available,
 * non-empty, inside the hinted region with the right access, readable ones
 * first, the list within the segment limit and with a valid buffer id.
 * Returns the number of ring descriptors used with *e filled, or -1 having
 * filled nothing (the caller then walks it again with walk_list(), which
 * re-reads everything). Out of line so its loop gets its own registers.
 */
static inline __attribute__((always_inline)) int fast_list(const struct vq_multi_ctx *x,
							   uint16_t pos, bool wrap, uint16_t flags,
							   struct vdev_vq_elem *e, struct vdev_iov *iov,
							   uint16_t seq)
{
	/* In locals: the stores to iov[] and *e could alias the queue. */
	const struct pvirtq_desc *const r = (const struct pvirtq_desc *)x->ring;
	const uint16_t size = x->size;
	const uint64_t rgpa = x->rgpa, rsize = x->rsize;
	const uintptr_t bias = x->bias;
	struct vdev_iov *v = iov;
	struct vdev_iov *const vend = iov + x->limit;
	unsigned n_out;
	uint64_t out = 0, in = 0;
	uint16_t id = 0;

	/* Two loops, readable descriptors then writable ones, so the order
	 * rule costs nothing: a readable one in the second loop fails the
	 * list. fast_seg() checks each descriptor's segment; limit =
	 * min(iov capacity, size) bounds the list. */
	for (;;) { /* readable; the head's flags were read by the caller, once */
		const struct pvirtq_desc *d = &r[pos];
		uint64_t addr;
		uint32_t len;

		if (flags & VIRTQ_DESC_F_WRITE)
			break;
		addr = vdev__rd64(&d->addr);
		len = vdev__rd32(&d->len);
		if (VDEV__UNLIKELY(flags & VIRTQ_DESC_F_INDIRECT))
			return -1;
		if (VDEV__UNLIKELY(!fast_seg(v, vend, addr, len, rgpa, rsize, bias)))
			return -1;
		v++;
		out += len;
		if (++pos == size) {
			pos = 0;
			wrap = !wrap;
		}
		if (!(flags & VIRTQ_DESC_F_NEXT)) {
			id = vdev__rd16(&d->id); /* the list's buffer id: its last */
			n_out = (unsigned)(v - iov);
			goto done;
		}
		flags = vdev__rd16(&r[pos].flags);
		if (VDEV__UNLIKELY(!is_avail(flags, wrap)))
			return -1;
	}
	if (VDEV__UNLIKELY(x->ro))
		return -1;
	n_out = (unsigned)(v - iov);
	for (;;) { /* writable; flags already read and checked */
		const struct pvirtq_desc *d = &r[pos];
		uint64_t addr = vdev__rd64(&d->addr);
		uint32_t len = vdev__rd32(&d->len);

		if (VDEV__UNLIKELY((flags & (VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE)) !=
				   VIRTQ_DESC_F_WRITE))
			return -1;
		if (VDEV__UNLIKELY(!fast_seg(v, vend, addr, len, rgpa, rsize, bias) ||
				   wwin_meets(x->w, addr, len)))
			return -1;
		v++;
		in += len;
		if (++pos == size) {
			pos = 0;
			wrap = !wrap;
		}
		if (!(flags & VIRTQ_DESC_F_NEXT)) {
			id = vdev__rd16(&d->id);
			break;
		}
		flags = vdev__rd16(&r[pos].flags);
		if (VDEV__UNLIKELY(!is_avail(flags, wrap)))
			return -1;
	}
done:
	if (VDEV__UNLIKELY(id >= size))
		return -1;
	if (VDEV__UNLIKELY(out + in > UINT32_MAX))
		return -1;
	elem_fast(e, iov, (unsigned)(v - iov), n_out, out, out + in, id, seq);
	return (int)(v - iov);
}

static inline void save_avail(struct vdev_vq *vq, uint16_t pos, bool wrap)
{
	vq->P(last_avail) = pos;
	if (wrap)
		vq->P(state) |= VQ_AVAIL_WRAP;
	else
		vq->P(state) &= (uint8_t)~VQ_AVAIL_WRAP;
}

/*
 * A run of one-descriptor lists, from chain n of this pop, at the queue's
 * position: each available, with a valid buffer id, inside the hinted
 * region, non-empty, with the right access. The commonest list, with the
 * least state; a loop without calls, so it keeps everything in registers.
 * Stops at the first other list (or one not available yet) and returns its
 * index, with the queue's position and inflight_descs updated.
 */
static __attribute__((noinline)) unsigned packed_single_run(struct vdev_vq *vq,
							    struct vdev_vq_elem *elems,
							    struct vdev_iov *iov,
							    unsigned iov_per_elem, unsigned n,
							    unsigned max)
{
	const struct pvirtq_desc *r = ring(vq);
	const uint16_t size = vq->P(size), seq = vq->P(pop_seq);
	const uint64_t gpa = vq->P(fast_gpa), fsize = vq->P(fast_size);
	/* host address = bias + guest address, for addresses in the region */
	const uintptr_t bias = (uintptr_t)vq->P(fast_hva) - (uintptr_t)gpa;
	const uint32_t ro = vq_fast_no_write(vq);
	const struct vq_wwin w = vdev__write_window(vq, gpa, fsize, vq->P(fast_hva));
	uint64_t *const held = vq->P(held);
	uint16_t pos = vq->P(last_avail);
	bool wrap = (vq->P(state) & VQ_AVAIL_WRAP) != 0;
	unsigned start = n;

	if (iov_per_elem == 0)
		return n; /* no room for a segment: the slow walk fails them */
	/* At most one per slot the device does not hold (see walk_list) */
	if (max - n > (unsigned)(size - vq->P(inflight_descs)))
		max = n + (unsigned)(size - vq->P(inflight_descs));
	for (; n < max; n++) {
		const struct pvirtq_desc *d = &r[pos];
		uint16_t flags = vdev__rd16(&d->flags);
		struct vdev_vq_elem *e = &elems[n];
		struct vdev_iov *v = iov + (size_t)n * iov_per_elem;
		uint64_t addr, off;
		uint32_t len, write;
		uint16_t id;

		if (!is_avail(flags, wrap) || (flags & (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT)))
			break;
		/* The descriptor after its flags; pairs with the driver's write
		 * barrier before it stores them. */
		vdev__rmb();
		addr = vdev__rd64(&d->addr);
		len = vdev__rd32(&d->len);
		id = vdev__rd16(&d->id);
		write = (flags >> 1) & 1u;
		off = addr - gpa;
		/* (len - 1 >= fsize - off) rejects len == 0 and overruns alike */
		if (VDEV__UNLIKELY(id >= size || off >= fsize || (uint64_t)len - 1u >= fsize - off ||
				   (write & ro) || vq_is_held(held, id) ||
				   (write && wwin_meets(w, addr, len))))
			break;
		elem_single(e, v, (void *)(bias + (uintptr_t)addr), len, write, id,
			    (uint16_t)(seq + n));
		vq_hold(held, id);
		if (++pos == size) {
			pos = 0;
			wrap = !wrap;
		}
	}
	if (n > start) {
		save_avail(vq, pos, wrap);
		vq->P(inflight_descs) = (uint16_t)(vq->P(inflight_descs) + (n - start));
	}
	return n;
}

/*
 * A run of multi-descriptor lists (fast_list), from chain n of this pop.
 * Out of line so that its loop has registers of its own, and so that a
 * ring of such lists pays one call per batch. Stops at the first list that
 * is not one, is not available, or that fast_list declines, and returns
 * its index, with the queue's position and inflight_descs updated.
 */
static __attribute__((noinline)) unsigned packed_multi_run(struct vdev_vq *vq,
							   struct vdev_vq_elem *elems,
							   struct vdev_iov *iov, unsigned iov_per_elem,
							   unsigned n, unsigned max)
{
	const struct pvirtq_desc *r = ring(vq);
	const uint16_t size = vq->P(size), seq = vq->P(pop_seq);
	const struct vq_multi_ctx x = vq_multi_ctx(vq, r, size, iov_per_elem);
	uint16_t pos = vq->P(last_avail);
	bool wrap = (vq->P(state) & VQ_AVAIL_WRAP) != 0;
	unsigned descs = 0, room = (unsigned)(size - vq->P(inflight_descs));

	if (x.limit == 0)
		return n;
	for (; n < max; n++) {
		uint16_t flags = vdev__rd16(&r[pos].flags);
		int used;

		if (!is_avail(flags, wrap) ||
		    (flags & (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT)) != VIRTQ_DESC_F_NEXT)
			break;
		/* The rest of the list after its head flags; pairs with the
		 * driver's write barrier before it stores the head's flags. */
		vdev__rmb();
		used = fast_list(&x, pos, wrap, flags, &elems[n],
				 iov + (size_t)n * iov_per_elem, (uint16_t)(seq + n));
		if (used < 0 || (unsigned)used > room - descs ||
		    vq_is_held(vq->P(held), elems[n].id))
			break; /* the walk takes it, or breaks the ring */
		vq_hold(vq->P(held), elems[n].id);
		pos = (uint16_t)(pos + used);
		if (pos >= size) {
			pos = (uint16_t)(pos - size);
			wrap = !wrap;
		}
		descs += (unsigned)used;
	}
	if (descs != 0) {
		save_avail(vq, pos, wrap);
		vq->P(inflight_descs) = (uint16_t)(vq->P(inflight_descs) + descs);
	}
	return n;
}

/*
 * One one-descriptor list at the queue's position whose flags the caller
 * has read and found available: the last list of a pop (a batch of one),
 * where a run would not pay for its set-up. Same checks as
 * packed_single_run(). Returns 0 with *e filled and the position moved,
 * or -1 having changed nothing.
 */
static inline int packed_take_single(struct vdev_vq *vq, uint16_t pos, bool wrap,
				     uint16_t flags, struct vdev_vq_elem *e, struct vdev_iov *v,
				     uint16_t seq)
{
	const struct pvirtq_desc *d = &ring(vq)[pos];
	uint64_t addr, off, gpa = vq->P(fast_gpa), fsize = vq->P(fast_size);
	uint32_t len, write = (flags >> 1) & 1u;
	uint16_t id, size = vq->P(size);

	/* The descriptor after its flags (see packed_single_run). */
	vdev__rmb();
	addr = vdev__rd64(&d->addr);
	len = vdev__rd32(&d->len);
	id = vdev__rd16(&d->id);
	off = addr - gpa;
	if (VDEV__UNLIKELY(id >= size || off >= fsize || (uint64_t)len - 1u >= fsize - off ||
			   (write & vq_fast_no_write(vq)) || vq_is_held(vq->P(held), id) ||
			   vq->P(inflight_descs) >= size))
		return -1;
	if (write && vdev__write_on_work(vq, vq->P(fast_hva) + (uintptr_t)off, len))
		return -1; /* the full walk rejects it */
	elem_single(e, v, vq->P(fast_hva) + (uintptr_t)off, len, write, id, seq);
	vq_hold(vq->P(held), id);
	if (++pos == size) {
		pos = 0;
		wrap = !wrap;
	}
	save_avail(vq, pos, wrap);
	vq->P(inflight_descs)++;
	return 0;
}

/* One multi-descriptor list, the last of a pop: fast_list() without a
 * run's set-up; out of line, so the dispatcher keeps its registers. Same
 * contract as packed_take_single(). */
static __attribute__((noinline)) int packed_take_multi(struct vdev_vq *vq, uint16_t pos,
						       bool wrap, uint16_t flags,
						       struct vdev_vq_elem *e, struct vdev_iov *iov,
						       unsigned iov_per_elem, uint16_t seq)
{
	const uint16_t size = vq->P(size);
	const struct vq_multi_ctx x = vq_multi_ctx(vq, ring(vq), size, iov_per_elem);
	int used;

	/* The rest of the list after its head flags (see packed_multi_run). */
	vdev__rmb();
	used = fast_list(&x, pos, wrap, flags, e, iov, seq);
	if (used < 0 || used > size - vq->P(inflight_descs) || vq_is_held(vq->P(held), e->id))
		return -1;
	vq_hold(vq->P(held), e->id);
	pos = (uint16_t)(pos + used);
	if (pos >= size) {
		pos = (uint16_t)(pos - size);
		wrap = !wrap;
	}
	save_avail(vq, pos, wrap);
	vq->P(inflight_descs) = (uint16_t)(vq->P(inflight_descs) + used);
	return 0;
}

VDEV__INTERNAL int vdev__packed_pop(struct vdev_vq *vq, struct vdev_vq_elem *elems,
				    unsigned max, struct vdev_iov *iov, unsigned iov_per_elem)
{
	struct pvirtq_desc *r = ring(vq);
	uint16_t seq = vq->P(pop_seq);
	unsigned n = 0, rejected = 0;
	int rc = 0;

	/*
	 * Runs of one-descriptor lists and of multi-descriptor lists, each in
	 * a loop of its own; a list neither fast path takes goes through the
	 * general walk, one at a time (which guarantees progress).
	 */
	while (n < max) {
		uint16_t pos = vq->P(last_avail), flags;
		bool wrap = (vq->P(state) & VQ_AVAIL_WRAP) != 0;

		/* A look at the next list picks the run; the run reads it
		 * again for itself. The last list of a pop is taken without a
		 * run's set-up. */
		flags = vdev__rd16(&r[pos].flags);
		if (is_avail(flags, wrap) && iov_per_elem != 0) {
			uint16_t kind = flags & (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT);
			unsigned m = n;

			if (kind == 0 && n + 1 == max)
				m = n + (packed_take_single(vq, pos, wrap, flags, &elems[n],
							    iov + (size_t)n * iov_per_elem,
							    (uint16_t)(seq + n)) == 0);
			else if (kind == 0)
				m = packed_single_run(vq, elems, iov, iov_per_elem, n, max);
			else if (kind == VIRTQ_DESC_F_NEXT && n + 1 == max)
				m = n + (packed_take_multi(vq, pos, wrap, flags, &elems[n],
							   iov + (size_t)n * iov_per_elem, iov_per_elem,
							   (uint16_t)(seq + n)) == 0);
			else if (kind == VIRTQ_DESC_F_NEXT)
				m = packed_multi_run(vq, elems, iov, iov_per_elem, n, max);
			if (m > n) {
				n = m;
				continue;
			}
			/* declined: the general walk below, with a fresh look */
			flags = vdev__rd16(&r[pos].flags);
		}
		if (!is_avail(flags, wrap)) {
			if (n > 0 || (vq->P(state) & VQ_NOTIFY_OFF) ||
			    !vq_has(vq, VDEV_F_EVENT_IDX))
				break;
			/* Empty with notifications on: ask for a kick at this
			 * position, then look once more. Full barrier: the
			 * event store before the flags load; pairs with the
			 * driver's barrier between making a descriptor
			 * available and reading our event suppression. */
			vdev__wr16(&device_evt(vq)->off_wrap,
				   (uint16_t)(pos | (uint16_t)wrap << RING_EVENT_WRAP_SHIFT));
			if (VDEV__UNLIKELY(vq->P(state) & VQ_NOTIFY_EVERY)) {
				/* back from vdev_vq_notify_on_next(): the
				 * offset before the mode that reads it */
				vq->P(state) &= (uint8_t)~VQ_NOTIFY_EVERY;
				vdev__wmb();
				vdev__wr16(&device_evt(vq)->flags, RING_EVENT_FLAGS_DESC);
			}
			vdev__mb();
			flags = vdev__rd16(&r[pos].flags);
			if (!is_avail(flags, wrap))
				break;
		}
		/* The rest of the list after its head flags (see above). The
		 * general walk keeps the queue's state itself. */
		vdev__rmb();
		rc = walk_list(vq, flags, &elems[n], iov + (size_t)n * iov_per_elem, iov_per_elem,
			       (uint16_t)(seq + n));
		if (rc < 0)
			break;
		rejected += (unsigned)rc;
		rc = 0;
		n++;
	}
	vq_account_pops(vq, n, rejected);
	return n > 0 ? (int)n : rc;
}

VDEV__INTERNAL bool vdev__packed_publish(struct vdev_vq *vq)
{
	struct pvirtq_event_suppress *ev = driver_evt(vq);
	uint16_t evflags, off_wrap, event, new_pos, old;
	bool wrap;

	/* Every used descriptor of the batch before the first one's flags;
	 * pairs with the driver's read barrier after it sees those flags. */
	vdev__wmb();
	vdev__wr16(&ring(vq)[vq->P(batch_pos)].flags, vq->P(batch_flags));
	vq->P(staged) = 0;
	/* The flags store before reading the driver's event suppression;
	 * pairs with the driver's full barrier after it writes it. */
	vdev__mb();
	evflags = vdev__rd16(&ev->flags) & RING_EVENT_FLAGS_MASK;
	new_pos = vq->P(used_idx);
	old = (uint16_t)(new_pos - vq->P(unchecked_used));
	vq->P(unchecked_used) = 0;
	if (evflags == RING_EVENT_FLAGS_DISABLE)
		return false;
	if (evflags != RING_EVENT_FLAGS_DESC || !vq_has(vq, VDEV_F_EVENT_IDX))
		return true; /* ENABLE, or a value we do not honour: notify */
	off_wrap = vdev__rd16(&ev->off_wrap);
	event = off_wrap & 0x7fffu;
	wrap = (off_wrap >> RING_EVENT_WRAP_SHIFT) != 0;
	/* An event offset from the previous lap counts as negative. */
	if (wrap != ((vq->P(state) & VQ_USED_WRAP) != 0))
		event = (uint16_t)(event - vq->P(size));
	return vring_need_event(event, new_pos, old);
}

VDEV__INTERNAL void vdev__packed_set_notify(struct vdev_vq *vq, bool enable)
{
	struct pvirtq_event_suppress *ev = device_evt(vq);

	vq->P(state) &= (uint8_t)~VQ_NOTIFY_EVERY;
	if (!enable) {
		vdev__wr16(&ev->flags, RING_EVENT_FLAGS_DISABLE);
	} else if (vq_has(vq, VDEV_F_EVENT_IDX)) {
		uint16_t wrap = (vq->P(state) & VQ_AVAIL_WRAP) ? 1u : 0u;
		vdev__wr16(&ev->off_wrap,
			   (uint16_t)(vq->P(last_avail) | (uint16_t)(wrap << RING_EVENT_WRAP_SHIFT)));
		/* The offset before the flags that make it meaningful. */
		vdev__wmb();
		vdev__wr16(&ev->flags, RING_EVENT_FLAGS_DESC);
	} else {
		vdev__wr16(&ev->flags, RING_EVENT_FLAGS_ENABLE);
	}
}

VDEV__INTERNAL void vdev__packed_notify_on_next(struct vdev_vq *vq)
{
	/* The driver's next position is not known here: every buffer, until
	 * the device finds the ring empty and asks for one position again. */
	vdev__wr16(&device_evt(vq)->flags, RING_EVENT_FLAGS_ENABLE);
	if (vq_has(vq, VDEV_F_EVENT_IDX))
		vq->P(state) |= VQ_NOTIFY_EVERY;
}

VDEV__INTERNAL bool vdev__packed_has_work(struct vdev_vq *vq)
{
	uint16_t flags = vdev__rd16(&ring(vq)[vq->P(last_avail)].flags);

	return is_avail(flags, (vq->P(state) & VQ_AVAIL_WRAP) != 0);
}
