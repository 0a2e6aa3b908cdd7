/* SPDX-License-Identifier: MIT */
/*
 * libvdev — split virtqueues, device side (spec "Split Virtqueues").
 *
 *   desc   table of `size` 16-byte descriptors        (driver writes)
 *   avail  flags, idx, ring[size], used_event          (driver writes)
 *   used   flags, idx, ring[size] {id,len}, avail_event (device writes)
 */
#include "vq_internal.h"

static inline struct virtq_desc *desc_table(struct vdev_vq *vq)
{
	return (struct virtq_desc *)vq->P(desc);
}
static inline struct virtq_avail *avail_ring(struct vdev_vq *vq)
{
	return (struct virtq_avail *)vq->P(driver);
}
static inline struct virtq_used *used_ring(struct vdev_vq *vq)
{
	return (struct virtq_used *)vq->P(device);
}
/* used_event lives after avail->ring[size]; avail_event after used->ring[size]. */
static inline struct vdev__le16 *used_event(struct vdev_vq *vq)
{
	return &avail_ring(vq)->ring[vq->P(size)];
}
static inline struct vdev__le16 *avail_event(struct vdev_vq *vq)
{
	return (struct vdev__le16 *)&used_ring(vq)->ring[vq->P(size)];
}

VDEV__INTERNAL int vdev__split_map(struct vdev_vq *vq)
{
	uint32_t n = vq->P(size);
	void *d, *a, *u;
	int rc;

	rc = vdev__vq_map_area(vq, vq->P(desc_addr), virtq_desc_bytes(n), 16, VDEV_MEM_READ, &d);
	if (rc == 0)
		rc = vdev__vq_map_area(vq, vq->P(driver_addr), virtq_avail_bytes(n), 2,
				       VDEV_MEM_READ, &a);
	if (rc == 0)
		rc = vdev__vq_map_area(vq, vq->P(device_addr), virtq_used_bytes(n), 4,
				       VDEV_MEM_READ | VDEV_MEM_WRITE, &u);
	if (rc < 0)
		return rc;
	vq->P(desc) = d;
	vq->P(driver) = a;
	vq->P(device) = u;
	return 0;
}

/*
 * Read avail->idx into the shadow. An index more than `size` ahead of what
 * we consumed (or behind it, which looks the same mod 2^16) means the ring
 * is corrupt: the driver can have at most `size` chains outstanding.
 */
static int refresh_avail(struct vdev_vq *vq, uint16_t *idx_out)
{
	uint16_t idx = vdev__rd16(&avail_ring(vq)->idx);

	if (VDEV__UNLIKELY((uint16_t)(idx - vq->P(last_avail)) > vq->P(size)))
		return vdev__vq_break(vq);
	vq->P(avail_shadow) = idx;
	*idx_out = idx;
	/* Ring entries and descriptors are read after idx; pairs with the
	 * driver's write barrier before its avail->idx store. */
	vdev__rmb();
	return 0;
}

/* Walk an indirect table; *count bounds the whole chain by the queue size. */
static void walk_indirect(struct vdev_vq *vq, struct vq_fast *f, struct vq_chain *c,
			  uint64_t addr, uint32_t len, uint32_t *count)
{
	const struct virtq_desc *tbl = NULL;
	uint32_t limit = len / 16u;
	uint32_t i = 0;
	void *p;
	uint64_t got;
	int rc;

	rc = vdev_mem_map(vq->P(mem), addr, len, VDEV_MEM_READ, &p, &got);
	if (rc < 0) {
		chain_fail(c, rc);
		return;
	}
	/* Fast path: the table is one aligned host piece. Otherwise (split
	 * across regions, or unaligned) the whole table must still be guest
	 * memory, checked before any entry is used however few of them the
	 * chain reads; each descriptor is then copied out on its own. The
	 * map above already rejected a table whose end wraps 2^64, so table
	 * + 16 * i stays in range. */
	if (got == len && ((uintptr_t)p & 7u) == 0) {
		tbl = p;
	} else if (got < len) {
		rc = vdev__mem_check(vq->P(mem), addr, len, VDEV_MEM_READ);
		if (rc < 0) {
			chain_fail(c, rc);
			return;
		}
	}
	for (;;) {
		uint64_t daddr;
		uint32_t dlen;
		uint16_t flags, next;

		if (++*count > vq->P(size)) {
			chain_fail(c, VDEV_ELOOP);
			return;
		}
		if (tbl != NULL) {
			daddr = vdev__rd64(&tbl[i].addr);
			dlen = vdev__rd32(&tbl[i].len);
			flags = vdev__rd16(&tbl[i].flags);
			next = vdev__rd16(&tbl[i].next);
		} else {
			uint8_t raw[16];
			rc = vdev__read_indirect(vq, addr, i, raw);
			if (rc < 0) {
				chain_fail(c, rc);
				return;
			}
			daddr = vdev__get_le64(raw);
			dlen = vdev__get_le32(raw + 8);
			flags = vdev__get_le16(raw + 12);
			next = vdev__get_le16(raw + 14);
		}
		if (flags & VIRTQ_DESC_F_INDIRECT) {
			chain_fail(c, VDEV_EPROTO); /* nested indirect table */
			return;
		}
		chain_add(vq, f, c, daddr, dlen, (flags & VIRTQ_DESC_F_WRITE) >> 1);
		if (!(flags & VIRTQ_DESC_F_NEXT))
			return;
		if (next >= limit) {
			chain_fail(c, VDEV_ERANGE);
			return;
		}
		i = next;
	}
}

/*
 * Walk the chain starting at `head` (already checked < size). Buffer
 * descriptors are counted against the queue size, which bounds loops both
 * in the table and in an indirect table. The descriptor pointing at an
 * indirect table is not a buffer and is not counted.
 */
static __attribute__((noinline)) int walk_chain(struct vdev_vq *vq, uint16_t head,
						 struct vdev_vq_elem *e, struct vdev_iov *iov,
						 unsigned cap, uint16_t seq)
{
	const struct virtq_desc *tbl = desc_table(vq);
	struct vq_fast fast, *f = &fast;
	uint16_t size = vq->P(size);
	uint32_t count = 0;
	uint16_t ndescs = 0;
	uint16_t i = head;
	struct vq_chain c;

	vq_fast_load(vq, f);
	chain_begin(&c, vq, iov, cap);
	for (;;) {
		const struct virtq_desc *d = &tbl[i];
		uint64_t addr = vdev__rd64(&d->addr);
		uint32_t len = vdev__rd32(&d->len);
		uint16_t flags = vdev__rd16(&d->flags);
		uint16_t next = vdev__rd16(&d->next);

		ndescs++;
		if (flags & VIRTQ_DESC_F_INDIRECT) {
			if (!vq_has(vq, VDEV_F_INDIRECT_DESC))
				chain_fail(&c, VDEV_ENOTSUP);
			else if (flags & VIRTQ_DESC_F_NEXT)
				chain_fail(&c, VDEV_EPROTO);
			else if (len == 0 || (len & 15u) != 0)
				chain_fail(&c, VDEV_EPROTO);
			else
				walk_indirect(vq, f, &c, addr, len, &count);
			break;
		}
		if (++count > size) {
			chain_fail(&c, VDEV_ELOOP);
			break;
		}
		chain_add(vq, f, &c, addr, len, (flags & VIRTQ_DESC_F_WRITE) >> 1);
		if (!(flags & VIRTQ_DESC_F_NEXT))
			break;
		if (next >= size) {
			chain_fail(&c, VDEV_ERANGE);
			break;
		}
		i = next;
	}
	e->id = head;
	e->ndescs = ndescs;
	return chain_finish(vq, &c, e, seq);
}

/*
 * One multi-descriptor chain on the fast path: direct descriptors only,
 * each non-empty and inside the hinted region with the right access,
 * readable before writable, within the segment limit. Returns 0 with *e
 * filled, or -1 having filled nothing. Everything used here is read here,
 * once. Two loops, readable descriptors then writable ones, so the order
 * rule costs nothing: a readable descriptor in the second loop fails it.
 */
static inline __attribute__((always_inline)) int fast_multi(const struct vq_multi_ctx *x,
							    uint16_t head, struct vdev_vq_elem *e,
							    struct vdev_iov *iov, uint16_t seq)
{
	/* In locals: the stores to iov[] and *e could alias the queue. Few
	 * of them, so that the loops keep theirs in registers: the segment
	 * pointer stands for the count and the limit, one sum for both
	 * byte counts (the readable part's is kept at the turn). */
	const struct virtq_desc *const tbl = (const struct virtq_desc *)x->ring;
	const uint16_t size = x->size;
	const uint64_t rgpa = x->rgpa, rsize = x->rsize;
	const uintptr_t bias = x->bias;
	struct vdev_iov *v = iov;
	struct vdev_iov *const vend = iov + x->limit;
	uint64_t total = 0, out;
	unsigned n_out;
	uint16_t i = head, flags;

	/* fast_seg() checks each descriptor's segment; limit = min(iov
	 * capacity, queue size) bounds the loops too. */
	for (;;) { /* readable */
		const struct virtq_desc *d = &tbl[i];
		uint64_t addr = vdev__rd64(&d->addr);
		uint32_t len = vdev__rd32(&d->len);

		flags = vdev__rd16(&d->flags);
		if (flags & VIRTQ_DESC_F_WRITE)
			break;
		if (VDEV__UNLIKELY(flags & VIRTQ_DESC_F_INDIRECT))
			return -1;
		if (VDEV__UNLIKELY(!fast_seg(v, vend, addr, len, rgpa, rsize, bias)))
			return -1;
		v++;
		total += len;
		if (!(flags & VIRTQ_DESC_F_NEXT))
			goto done;
		i = vdev__rd16(&d->next);
		if (VDEV__UNLIKELY(i >= size))
			return -1;
	}
	if (VDEV__UNLIKELY(x->ro))
		return -1;
done:
	out = total;
	n_out = (unsigned)(v - iov);
	if (flags & VIRTQ_DESC_F_WRITE) {
		for (;;) { /* writable; flags already read for the first */
			const struct virtq_desc *d = &tbl[i];
			uint64_t addr = vdev__rd64(&d->addr);
			uint32_t len = vdev__rd32(&d->len);

			if (VDEV__UNLIKELY((flags & (VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE)) !=
					   VIRTQ_DESC_F_WRITE))
				return -1;
			if (VDEV__UNLIKELY(!fast_seg(v, vend, addr, len, rgpa, rsize, bias) ||
					   wwin_meets(x->w, addr, len)))
				return -1;
			v++;
			total += len;
			if (!(flags & VIRTQ_DESC_F_NEXT))
				break;
			i = vdev__rd16(&d->next);
			if (VDEV__UNLIKELY(i >= size))
				return -1;
			flags = vdev__rd16(&tbl[i].flags);
		}
	}
	if (VDEV__UNLIKELY(total > UINT32_MAX))
		return -1;
	elem_fast(e, iov, (unsigned)(v - iov), n_out, out, total, head, seq);
	return 0;
}

/*
 * One one-descriptor chain whose head and flags the caller has read: the
 * last chain of a pop (a batch of one, as at queue depth 1), where a run
 * would not pay for its set-up. Same checks as pop_single_run(). Returns
 * 0 with *e filled, or -1 having filled nothing.
 */
static inline int take_single(const struct vdev_vq *vq, uint16_t head, uint16_t flags,
			      struct vdev_vq_elem *e, struct vdev_iov *v, uint16_t seq)
{
	const struct virtq_desc *d = &((const struct virtq_desc *)vq->P(desc))[head];
	uint64_t addr = vdev__rd64(&d->addr);
	uint32_t len = vdev__rd32(&d->len);
	uint32_t write = (flags >> 1) & 1u;
	uint64_t gpa = vq->P(fast_gpa), fsize = vq->P(fast_size);
	uint64_t off = addr - gpa;

	if (VDEV__UNLIKELY(off >= fsize || (uint64_t)len - 1u >= fsize - off ||
			   (write & vq_fast_no_write(vq))))
		return -1;
	if (write && vdev__write_on_work(vq, vq->P(fast_hva) + (uintptr_t)off, len))
		return -1; /* the full walk rejects it */
	elem_single(e, v, vq->P(fast_hva) + (uintptr_t)off, len, write, head, seq);
	return 0;
}

/*
 * A run of one-descriptor chains, from chain n of this pop: each inside
 * the hinted region, non-empty, with the right access ((len - 1 >= fsize -
 * off) rejects len == 0 and overruns alike). The commonest chain, with the
 * least state; a loop without calls, so it keeps everything in registers.
 * Stops at the first other chain, or at a head out of range, and returns
 * its index.
 */
static __attribute__((noinline)) unsigned pop_single_run(struct vdev_vq *vq,
							 struct vdev_vq_elem *elems,
							 struct vdev_iov *iov, unsigned iov_per_elem,
							 unsigned n, unsigned cnt)
{
	const struct virtq_avail *av = avail_ring(vq);
	const struct virtq_desc *tbl = desc_table(vq);
	const uint16_t mask = vq->P(mask), last = vq->P(last_avail), seq = vq->P(pop_seq);
	const uint64_t gpa = vq->P(fast_gpa), fsize = vq->P(fast_size);
	/* host address = bias + guest address, for addresses in the region */
	const uintptr_t bias = (uintptr_t)vq->P(fast_hva) - (uintptr_t)gpa;
	const uint32_t ro = vq_fast_no_write(vq);
	const struct vq_wwin w = vdev__write_window(vq, gpa, fsize, vq->P(fast_hva));
	uint64_t *const held = vq->P(held);

	if (iov_per_elem == 0)
		return n; /* no room for a segment: the slow walk fails them */
	for (; n < cnt; n++) {
		uint16_t head = vdev__rd16(&av->ring[(uint16_t)(last + n) & mask]);
		struct vdev_vq_elem *e = &elems[n];
		struct vdev_iov *v = iov + (size_t)n * iov_per_elem;
		const struct virtq_desc *d;
		uint64_t addr, off;
		uint32_t len, write;
		uint16_t flags;
		uint64_t *hw, bit;

		if (VDEV__UNLIKELY(head > mask))
			break; /* the dispatcher breaks the ring */
		hw = &held[head >> 6];
		bit = vq_held_bit(head);
		if (VDEV__UNLIKELY(*hw & bit))
			break; /* likewise */
		d = &tbl[head];
		flags = vdev__rd16(&d->flags);
		if (flags & (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT))
			break;
		addr = vdev__rd64(&d->addr);
		len = vdev__rd32(&d->len);
		write = (flags >> 1) & 1u;
		off = addr - gpa;
		if (VDEV__UNLIKELY(off >= fsize || (uint64_t)len - 1u >= fsize - off ||
				   (write & ro) || (write && wwin_meets(w, addr, len))))
			break;
		elem_single(e, v, (void *)(bias + (uintptr_t)addr), len, write, head,
			    (uint16_t)(seq + n));
		*hw |= bit; /* held */
	}
	return n;
}

/*
 * A run of multi-descriptor chains, from chain n of this pop: out of line
 * so that its loop has registers of its own, and so that a ring of
 * multi-descriptor chains (a block device's) pays one call per batch, not
 * one per chain. Stops at the first chain that is not a multi-descriptor
 * one or that the fast path declines, or at a head out of range, and
 * returns its index; the caller takes that chain its own way (the slow
 * walk if this returned at once, so there is always progress).
 */
static __attribute__((noinline)) unsigned pop_multi_run(struct vdev_vq *vq,
							struct vdev_vq_elem *elems,
							struct vdev_iov *iov, unsigned iov_per_elem,
							unsigned n, unsigned cnt)
{
	const struct virtq_avail *av = avail_ring(vq);
	const uint16_t mask = vq->P(mask), last = vq->P(last_avail), seq = vq->P(pop_seq);
	const struct virtq_desc *const tbl = desc_table(vq);
	const struct vq_multi_ctx x = vq_multi_ctx(vq, tbl, (uint32_t)mask + 1u, iov_per_elem);
	uint64_t *const held = vq->P(held);

	for (; n < cnt; n++) {
		uint16_t head = vdev__rd16(&av->ring[(uint16_t)(last + n) & mask]);
		uint16_t flags;
		uint64_t *hw, bit;

		if (VDEV__UNLIKELY(head > mask))
			break; /* the dispatcher breaks the ring */
		hw = &held[head >> 6];
		bit = vq_held_bit(head);
		if (VDEV__UNLIKELY(*hw & bit))
			break; /* likewise */
		flags = vdev__rd16(&tbl[head].flags);
		if ((flags & (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT)) != VIRTQ_DESC_F_NEXT)
			break;
		if (fast_multi(&x, head, &elems[n], iov + (size_t)n * iov_per_elem,
			       (uint16_t)(seq + n)) < 0)
			break;
		*hw |= bit; /* held */
	}
	return n;
}

/* One multi-descriptor chain, the last of a pop: fast_multi() without a
 * run's set-up. Out of line, so the dispatcher keeps its registers. */
static __attribute__((noinline)) int take_multi(const struct vdev_vq *vq, uint16_t head,
						struct vdev_vq_elem *e, struct vdev_iov *iov,
						unsigned iov_per_elem, uint16_t seq)
{
	const uint16_t mask = vq->P(mask);
	const struct vq_multi_ctx x =
		vq_multi_ctx(vq, vq->P(desc), (uint32_t)mask + 1u, iov_per_elem);

	return fast_multi(&x, head, e, iov, seq);
}

/*
 * A chain the fast paths declined: the full walk, which re-reads every
 * descriptor and uses only its own reads. Counts a rejected chain in the
 * queue's stats; the caller reloads the region hint, which may move.
 * Inline: walk_chain() is out of line already, and a frame less is on
 * the deepest path (the stack budget, scripts/stack-budget.py).
 */
static inline __attribute__((always_inline)) void pop_slow(struct vdev_vq *vq, uint16_t head,
							   struct vdev_vq_elem *e,
							   struct vdev_iov *iov,
							   unsigned iov_per_elem, uint16_t seq)
{
	vq->P(stats).rejected += (unsigned)walk_chain(vq, head, e, iov, iov_per_elem, seq);
}

VDEV__INTERNAL void vdev__split_pop_head(struct vdev_vq *vq, uint16_t head,
					 struct vdev_vq_elem *e, struct vdev_iov *iov,
					 unsigned cap)
{
	pop_slow(vq, head, e, iov, cap, vq->P(pop_seq));
	vq_hold(vq->P(held), head); /* its push is one like any other */
	vq_account_pops(vq, 1, 0); /* pop_slow counted a rejection */
}

VDEV__INTERNAL int vdev__split_pop(struct vdev_vq *vq, struct vdev_vq_elem *elems, unsigned max,
				   struct vdev_iov *iov, unsigned iov_per_elem)
{
	const struct virtq_avail *av = avail_ring(vq);
	const uint16_t mask = vq->P(mask); /* size - 1: split sizes are powers of two */
	uint16_t last = vq->P(last_avail);
	uint16_t idx = vq->P(avail_shadow);
	uint16_t seq = vq->P(pop_seq);
	unsigned n, cnt;
	int rc = 0;

	if (idx == last) {
		rc = refresh_avail(vq, &idx);
		if (rc < 0)
			return rc;
		if (idx == last) {
			if ((vq->P(state) & VQ_NOTIFY_OFF) || !vq_has(vq, VDEV_F_EVENT_IDX))
				return 0;
			/* Empty with notifications on: ask for a kick at the next
			 * buffer, then look once more so one added meanwhile is
			 * not missed. Full barrier: our avail_event store before
			 * the idx load; pairs with the driver's barrier between
			 * its idx store and its avail_event load. */
			vdev__wr16(avail_event(vq), last);
			vdev__mb();
			rc = refresh_avail(vq, &idx);
			if (rc < 0 || idx == last)
				return rc;
		}
	}
	cnt = (uint16_t)(idx - last);
	if (cnt > max)
		cnt = max;
	/*
	 * Runs of one-descriptor chains and of multi-descriptor chains, each
	 * in a loop of its own; a chain neither fast path takes goes the slow
	 * way, one at a time (which guarantees progress). A head out of range
	 * breaks the ring, and so does a head the device holds (offered
	 * twice): the runs stop in front of it, the chains before it are
	 * returned. Whatever takes a chain marks its head held.
	 */
	n = 0;
	while (n < cnt) {
		/* A look at the next chain picks the run; the run reads it
		 * again for itself. */
		uint16_t head = vdev__rd16(&av->ring[(uint16_t)(last + n) & mask]);
		uint16_t flags, kind;
		unsigned m = n;

		if (VDEV__UNLIKELY(head > mask || vq_is_held(vq->P(held), head))) {
			rc = vdev__vq_break(vq);
			break;
		}
		flags = vdev__rd16(&desc_table(vq)[head].flags);
		kind = flags & (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT);
		if (VDEV__LIKELY(iov_per_elem != 0)) {
			if (kind == 0 && n + 1 == cnt)
				m = n + (take_single(vq, head, flags, &elems[n],
						     iov + (size_t)n * iov_per_elem,
						     (uint16_t)(seq + n)) == 0);
			else if (kind == 0)
				m = pop_single_run(vq, elems, iov, iov_per_elem, n, cnt);
			else if (kind == VIRTQ_DESC_F_NEXT && n + 1 == cnt)
				m = n + (take_multi(vq, head, &elems[n], iov + (size_t)n * iov_per_elem,
						    iov_per_elem, (uint16_t)(seq + n)) == 0);
			else if (kind == VIRTQ_DESC_F_NEXT)
				m = pop_multi_run(vq, elems, iov, iov_per_elem, n, cnt);
		}
		if (m > n) {
			if (n + 1 == cnt)
				vq_hold(vq->P(held), head); /* a single take; runs hold their own */
			n = m;
			continue;
		}
		pop_slow(vq, head, &elems[n], iov + (size_t)n * iov_per_elem, iov_per_elem,
			 (uint16_t)(seq + n));
		vq_hold(vq->P(held), head);
		n++;
	}
	vq->P(last_avail) = (uint16_t)(last + n);
	vq_account_pops(vq, n, 0); /* pop_slow counted the rejected ones */
	return n > 0 ? (int)n : rc;
}

VDEV__INTERNAL bool vdev__split_publish(struct vdev_vq *vq)
{
	uint16_t new_idx = vq->P(used_idx);
	uint16_t old;
	bool valid;

	/* Used entries before the index; pairs with the driver's read
	 * barrier after it reads used->idx. */
	vdev__wmb();
	vdev__wr16(&used_ring(vq)->idx, new_idx);
	vq->P(staged) = 0;
	/* The index store before reading used_event / flags; pairs with the
	 * driver's full barrier between writing them and re-reading idx. */
	vdev__mb();
	if (!vq_has(vq, VDEV_F_EVENT_IDX))
		return !(vdev__rd16(&avail_ring(vq)->flags) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	old = vq->P(signalled_used);
	valid = (vq->P(state) & VQ_SIGNALLED_VALID) != 0;
	vq->P(signalled_used) = new_idx;
	vq->P(state) |= VQ_SIGNALLED_VALID;
	if (!valid)
		return true;
	return vring_need_event(vdev__rd16(used_event(vq)), new_idx, old);
}

VDEV__INTERNAL void vdev__split_set_notify(struct vdev_vq *vq, bool enable)
{
	if (!vq_has(vq, VDEV_F_EVENT_IDX))
		vdev__wr16(&used_ring(vq)->flags, (uint16_t)(enable ? 0u : VIRTQ_USED_F_NO_NOTIFY));
	else if (enable)
		vdev__wr16(avail_event(vq), vq->P(last_avail));
	/* With EVENT_IDX, "disabled" just means avail_event is left behind. */
}

VDEV__INTERNAL void vdev__split_notify_on_next(struct vdev_vq *vq)
{
	const struct virtq_avail *av = avail_ring(vq);
	uint16_t idx;

	if (!vq_has(vq, VDEV_F_EVENT_IDX)) {
		vdev__wr16(&used_ring(vq)->flags, 0);
		return;
	}
	/* At the driver's newest index, so that its next buffer crosses it;
	 * looked at again after the store (full barrier, as when the ring is
	 * found empty), in case one came meanwhile. Bounded: a driver that
	 * keeps adding is notifying anyway. */
	for (unsigned tries = 0; tries < 4; tries++) {
		idx = vdev__rd16(&av->idx);
		vdev__wr16(avail_event(vq), idx);
		vdev__mb();
		if (vdev__rd16(&av->idx) == idx)
			break;
	}
}

VDEV__INTERNAL bool vdev__split_has_work(struct vdev_vq *vq)
{
	if (vq->P(avail_shadow) != vq->P(last_avail))
		return true;
	return vdev__rd16(&avail_ring(vq)->idx) != vq->P(last_avail);
}
