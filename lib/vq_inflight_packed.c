/* SPDX-License-Identifier: MIT */
/*
 * libvdev — in-flight request log of a packed queue (see
 * include/vdev/inflight.h for the layout and the protocol). Written from
 * the "Inflight I/O tracking" section of QEMU's docs/interop/vhost-user.rst,
 * packed layout.
 *
 * The region is shared with another process that may write anything at
 * any time: each field is read once into a local, every index is checked
 * against desc_num before use, every walk is bounded. Stores are ordered
 * with release fences so that a process killed between any two of them
 * leaves a log the recovery settles:
 *
 *   pop      entries written, head's num/last/counter, head inflight = 1,
 *            then old_free_head and free_head past the buffer's entries
 *            (killed before: the entries are still on the free list and
 *            the recovery clears their flags; the ring gives it again);
 *   push     the buffer's entries linked into a pending list (process
 *            memory; the `next` of an in-flight buffer's last entry is
 *            otherwise unused);
 *   publish  free_head = pending list + old free list, used_idx and
 *            used_wrap_counter = the new used position; the ring's flags;
 *            the batch's inflight flags cleared; old_free_head,
 *            old_used_wrap_counter, old_used_idx = the new ones;
 *   unpop    the buffer's entries put back in front of the free list
 *            (old_free_head, free_head), then its inflight flag cleared.
 */
#include "vdev/inflight.h"

#include <stddef.h>

#include "vdev/mem.h"
#include "vq_internal.h"

struct plog_hdr {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t free_head;
	uint16_t old_free_head;
	uint16_t used_idx;
	uint16_t old_used_idx;
	uint8_t used_wrap;
	uint8_t old_used_wrap;
	uint8_t padding[10];
};

struct plog_entry {
	uint8_t inflight;
	uint8_t padding;
	uint16_t next;
	uint16_t last;
	uint16_t num;
	uint64_t counter;
	uint16_t id;
	uint16_t flags;
	uint32_t len;
	uint64_t addr;
};

_Static_assert(sizeof(struct plog_hdr) == VDEV_INFLIGHT_PACKED_HDR, "packed region header");
_Static_assert(sizeof(struct plog_entry) == VDEV_INFLIGHT_PACKED_ENTRY, "packed region entry");
_Static_assert(offsetof(struct plog_hdr, used_wrap) == 20 &&
		       offsetof(struct plog_hdr, old_used_wrap) == 21,
	       "QueueRegionPacked layout");
_Static_assert(offsetof(struct plog_entry, counter) == 8 && offsetof(struct plog_entry, id) == 16 &&
		       offsetof(struct plog_entry, addr) == 24,
	       "DescStatePacked layout");

#define MARK 0x8000u

static inline struct plog_hdr *phdr(const struct vdev_vq_inflight *log)
{
	return (struct plog_hdr *)log->P(region);
}

static inline struct plog_entry *pent(const struct vdev_vq_inflight *log, uint32_t i)
{
	return (struct plog_entry *)((uint8_t *)log->P(region) + VDEV_INFLIGHT_PACKED_HDR) + i;
}

/* Each access to the region exactly once (see vq_inflight.c). */
static inline uint8_t ld8(const uint8_t *p) { return *(const volatile uint8_t *)p; }
static inline uint16_t ld16(const uint16_t *p) { return *(const volatile uint16_t *)p; }
static inline uint32_t ld32(const uint32_t *p) { return *(const volatile uint32_t *)p; }
static inline uint64_t ld64(const uint64_t *p) { return *(const volatile uint64_t *)p; }
static inline void st8(uint8_t *p, uint8_t v) { *(volatile uint8_t *)p = v; }
static inline void st16(uint16_t *p, uint16_t v) { *(volatile uint16_t *)p = v; }
static inline void st32(uint32_t *p, uint32_t v) { *(volatile uint32_t *)p = v; }
static inline void st64(uint64_t *p, uint64_t v) { *(volatile uint64_t *)p = v; }

/* An empty log: every entry free, in index order, the ring at (used, wrap). */
static void plog_clear(struct vdev_vq_inflight *log, uint16_t used, bool wrap)
{
	struct plog_hdr *h = phdr(log);
	uint32_t n = log->P(desc_num);

	st16(&h->version, 0); /* nothing vouches for the entries while they change */
	vdev__wmb();
	for (uint32_t i = 0; i < n; i++) {
		struct plog_entry *e = pent(log, i);
		st8(&e->inflight, 0);
		st16(&e->next, (uint16_t)(i + 1)); /* n: the end */
		st16(&e->last, 0);
		st16(&e->num, 0);
		st64(&e->counter, 0);
	}
	st64(&h->features, 0);
	st16(&h->desc_num, (uint16_t)n);
	st16(&h->free_head, 0);
	st16(&h->old_free_head, 0);
	st16(&h->used_idx, used);
	st16(&h->old_used_idx, used);
	st8(&h->used_wrap, wrap);
	st8(&h->old_used_wrap, wrap);
	vdev__wmb();
	st16(&h->version, (uint16_t)VDEV_INFLIGHT_VERSION);
	log->P(free) = 0;
	log->P(pend_count) = 0;
}

/* An entry index, or UINT16_MAX for the end of a list (any value >=
 * desc_num, desc_num itself as written here) or a value out of range. */
static inline uint16_t idx_ok(const struct vdev_vq_inflight *log, uint16_t i)
{
	return i < log->P(desc_num) ? i : UINT16_MAX;
}

VDEV_API int vdev_vq_inflight_init_packed(struct vdev_vq_inflight *log, void *region,
					  uint16_t *scratch, uint32_t desc_num)
{
	struct plog_hdr *h;
	uint16_t version, num;

	if (log == NULL || region == NULL || scratch == NULL || desc_num == 0 ||
	    desc_num > VDEV_VQ_MAX_SIZE)
		return VDEV_EINVAL;
	log->P(region) = region;
	log->P(order) = scratch;
	log->P(head_of) = scratch + desc_num;
	log->P(counter) = 1;
	log->P(desc_num) = (uint16_t)(desc_num == VDEV_VQ_MAX_SIZE ? VDEV_VQ_MAX_SIZE : desc_num);
	log->P(resubmit_next) = 0;
	log->P(resubmit_count) = 0;
	log->P(ring_pops) = UINT16_MAX;
	log->P(packed) = true;
	log->P(lost) = false;
	log->P(pend_count) = 0;
	log->P(pend_head) = log->P(pend_tail) = 0;
	log->P(free) = 0;
	log->errors = 0;
	log->resubmitted = 0;
	log->P(fresh) = false;
	h = phdr(log);
	version = ld16(&h->version);
	num = ld16(&h->desc_num);
	if (version == VDEV_INFLIGHT_VERSION && num == (uint16_t)desc_num)
		return 0; /* a restart: recovery reads it */
	if (version != 0)
		log->errors++;
	plog_clear(log, 0, true);
	log->P(fresh) = true;
	return 0;
}

/* Heap sort of order[0..n) (low 15 bits) by (counter, entry). */
static bool pless(const struct vdev_vq_inflight *log, uint16_t a, uint16_t b)
{
	uint64_t ca = ld64(&pent(log, a)->counter), cb = ld64(&pent(log, b)->counter);
	return ca < cb || (ca == cb && a < b);
}

static void psift(const struct vdev_vq_inflight *log, uint16_t *o, uint32_t root, uint32_t n)
{
	for (;;) {
		uint32_t child = 2 * root + 1;
		uint16_t t;

		if (child >= n)
			return;
		if (child + 1 < n && pless(log, o[child], o[child + 1]))
			child++;
		if (!pless(log, o[root], o[child]))
			return;
		t = o[root];
		o[root] = o[child];
		o[child] = t;
		root = child;
	}
}

/* The flags of ring descriptor `i`, or -1 if they cannot be read. */
static int ring_flags(const struct vdev_mem *mem, uint64_t desc_addr, uint16_t i)
{
	uint8_t b[2];

	if (vdev_mem_read(mem, desc_addr + 16u * (uint64_t)i + 14u, b, 2) < 0)
		return -1;
	return b[0] | b[1] << 8;
}

/*
 * A dead instance may have written used descriptors it never published
 * (a batch's later ones go out before its first, whose flags publish
 * stores last). They lie in the slots of buffers still in flight, from
 * the committed used position on; once the new instance publishes the
 * one before, the driver would read such a stale one as a completion. So
 * each of those slots that looks used for its lap gets the available
 * flags of that lap back (the driver reads neither until it is used; the
 * device's next look at it is a lap later, where those are not
 * available).
 */
static void unpublish(const struct vdev_mem *mem, uint64_t desc_addr, uint16_t ring_size,
		      uint16_t used, bool wrap, uint32_t slots)
{
	for (uint32_t k = 0; k < slots; k++) {
		uint16_t both = VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED;
		int fl = ring_flags(mem, desc_addr, used);

		if (fl >= 0 && ((unsigned)fl & both) == (wrap ? both : 0u)) {
			uint16_t v = (uint16_t)(((unsigned)fl & ~(unsigned)both) |
						(wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED));
			uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
			(void)vdev_mem_write(mem, desc_addr + 16u * (uint64_t)used + 14u, b, 2);
		}
		if (++used == ring_size) {
			used = 0;
			wrap = !wrap;
		}
	}
}

static inline void pmark(uint16_t *o, uint16_t i) { o[i] |= MARK; }
static inline bool pmarked(const uint16_t *o, uint16_t i) { return (o[i] & MARK) != 0; }
/* order[k] keeps entry k's mark in bit 15 and the k-th head in bits 0..14. */
static inline void pset_head(uint16_t *o, uint32_t k, uint16_t head)
{
	o[k] = (uint16_t)((o[k] & MARK) | head);
}

VDEV_API unsigned vdev_vq_inflight_recover_packed(struct vdev_vq_inflight *log,
						  const struct vdev_mem *mem, uint64_t desc_addr,
						  uint16_t ring_size, struct vdev_vq_state *st)
{
	struct plog_hdr *h = phdr(log);
	uint16_t *o = log->P(order);
	const uint32_t dn = log->P(desc_num);
	uint16_t fh, ofh, ui, oui, f;
	bool uw, ouw, wrap;
	uint32_t n = 0, marked = 0, total = 0, pos;
	uint64_t max_counter = 0;

	log->P(resubmit_next) = 0;
	log->P(resubmit_count) = 0;
	log->P(ring_pops) = UINT16_MAX;
	log->P(pend_count) = 0;
	if (ring_size == 0 || ring_size > dn || st->used_idx >= ring_size) {
		log->errors++;
		log->P(lost) = true; /* not this ring's log: attached, it does nothing */
		return 0;
	}
	if (log->P(fresh)) {
		/* A new log: the ring is where the front-end says. */
		log->P(fresh) = false;
		plog_clear(log, st->used_idx, st->used_wrap);
		return 0;
	}
	fh = ld16(&h->free_head);
	ofh = ld16(&h->old_free_head);
	ui = ld16(&h->used_idx);
	oui = ld16(&h->old_used_idx);
	uw = ld8(&h->used_wrap) != 0;
	ouw = ld8(&h->old_used_wrap) != 0;
	if (ui >= ring_size || oui >= ring_size)
		goto inconsistent;
	/* A publish in progress: settle it, forwards or back. */
	if (ui != oui || uw != ouw) {
		bool committed;
		int fl = ring_flags(mem, desc_addr, oui);

		if (fl < 0)
			goto inconsistent;
		/* Published: the batch's first flags cleared (after the ring's
		 * store), or the ring's descriptor at the old used position is
		 * no longer the available one of that lap. */
		committed = (idx_ok(log, fh) != UINT16_MAX && ld8(&pent(log, fh)->inflight) == 0) ||
			    ((unsigned)fl & (VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED)) !=
				    (ouw ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED);
		if (committed) {
			ofh = fh;
			oui = ui;
			ouw = uw;
			st16(&h->old_free_head, ofh);
			st8(&h->old_used_wrap, ouw);
			st16(&h->old_used_idx, oui);
		}
	}
	st16(&h->free_head, ofh);
	st8(&h->used_wrap, ouw);
	st16(&h->used_idx, oui);
	/* The free list: bounded, no entry twice; its flags cleared. */
	for (uint32_t i = 0; i < dn; i++)
		o[i] = 0;
	for (uint16_t e = idx_ok(log, ofh); e != UINT16_MAX; e = idx_ok(log, ld16(&pent(log, e)->next))) {
		if (pmarked(o, e))
			goto inconsistent; /* a cycle */
		pmark(o, e);
		marked++;
		st8(&pent(log, e)->inflight, 0);
		if (marked == dn)
			break;
	}
	/* The buffers in flight: marked heads off the free list, each with
	 * 1..ring_size entries no other list has, ending at its `last`, its
	 * buffer id (the last entry's) in the ring. */
	for (uint32_t i = 0; i < dn; i++) {
		uint16_t num, e = (uint16_t)i;

		if (pmarked(o, e) || ld8(&pent(log, e)->inflight) == 0)
			continue;
		num = ld16(&pent(log, e)->num);
		if (num == 0 || num > ring_size || total + num > ring_size)
			goto inconsistent;
		for (uint16_t j = 0;; j++) {
			if (e == UINT16_MAX || pmarked(o, e))
				goto inconsistent;
			pmark(o, e);
			marked++;
			if (j + 1u == num)
				break;
			e = idx_ok(log, ld16(&pent(log, e)->next));
		}
		if (ld16(&pent(log, i)->last) != e || ld16(&pent(log, e)->id) >= ring_size)
			goto inconsistent;
		if (ld64(&pent(log, i)->counter) > max_counter)
			max_counter = ld64(&pent(log, i)->counter);
		total += num;
		pset_head(o, n++, (uint16_t)i);
	}
	if (marked != dn)
		goto inconsistent; /* entries on no list: lost to every later pop */
	for (uint32_t i = 0; i < n; i++)
		o[i] &= (uint16_t)~MARK;
	for (uint32_t i = n; i < dn; i++)
		o[i] = 0;
	for (uint32_t i = n / 2; i-- > 0;)
		psift(log, o, i, n);
	for (uint32_t end = n; end > 1; end--) {
		uint16_t t = o[0];
		o[0] = o[end - 1];
		o[end - 1] = t;
		psift(log, o, 0, end - 1);
	}
	log->P(counter) = (max_counter < UINT64_MAX ? max_counter : UINT64_MAX - 1) + 1;
	log->P(resubmit_count) = (uint16_t)n;
	log->P(free) = ofh;
	/* The ring: used where the log committed; the buffers in flight fill
	 * the slots up to the avail position. */
	pos = (uint32_t)oui + total;
	wrap = ouw;
	if (pos >= ring_size) {
		pos -= ring_size;
		wrap = !wrap;
	}
	st->used_idx = oui;
	st->used_wrap = ouw;
	st->avail_idx = (uint16_t)pos;
	st->avail_wrap = wrap;
	unpublish(mem, desc_addr, ring_size, oui, ouw, total);
	return n;
inconsistent:
	log->errors++;
	for (uint32_t i = 0; i < dn; i++)
		o[i] = 0;
	if (oui < ring_size) {
		f = oui;
		wrap = ouw;
	} else {
		f = st->used_idx;
		wrap = st->used_wrap;
	}
	plog_clear(log, f, wrap);
	st->used_idx = st->avail_idx = f;
	st->used_wrap = st->avail_wrap = wrap;
	return 0;
}

/* ---- hooks from vq.c ---------------------------------------------------------------- */

/* The region no longer matches what we did (someone wrote it): nothing in
 * it may be recovered; the next instance re-creates it. */
static void plog_lose(struct vdev_vq_inflight *log)
{
	log->errors++;
	log->P(lost) = true;
	log->P(resubmit_next) = log->P(resubmit_count) = 0;
	st16(&phdr(log)->version, 0);
}

VDEV__INTERNAL void vdev__inflight_packed_popped(struct vdev_vq_inflight *log,
						 const struct vdev_vq *vq,
						 const struct vdev_vq_elem *elems, unsigned n,
						 uint16_t pos)
{
	const struct pvirtq_desc *ring = (const struct pvirtq_desc *)vq->P(desc);
	struct plog_hdr *h = phdr(log);
	const uint16_t size = vq->P(size);

	for (unsigned i = 0; i < n && !log->P(lost); i++) {
		uint16_t k = elems[i].ndescs, id = elems[i].id;
		uint16_t head = idx_ok(log, log->P(free)), e = head, nxt;

		for (uint16_t j = 0;; j++) {
			const struct pvirtq_desc *d = &ring[pos];
			struct plog_entry *x;

			if (e == UINT16_MAX) {
				plog_lose(log); /* the free list ran out or left the region */
				return;
			}
			x = pent(log, e);
			st64(&x->addr, vdev__rd64(&d->addr));
			st32(&x->len, vdev__rd32(&d->len));
			st16(&x->flags, vdev__rd16(&d->flags));
			st16(&x->id, id); /* the buffer's, as the queue holds it */
			if (++pos == size)
				pos = 0;
			if (j + 1u == k)
				break;
			e = idx_ok(log, ld16(&x->next));
		}
		nxt = ld16(&pent(log, e)->next);
		st16(&pent(log, head)->num, k);
		st16(&pent(log, head)->last, e);
		st64(&pent(log, head)->counter, log->P(counter)++);
		vdev__wmb(); /* the entries before the flag that makes them count */
		st8(&pent(log, head)->inflight, 1);
		vdev__wmb(); /* in flight before off the free list */
		st16(&h->old_free_head, nxt);
		st16(&h->free_head, nxt);
		log->P(free) = nxt;
		log->P(head_of)[id] = head; /* id < ring size <= desc_num */
	}
}

VDEV__INTERNAL bool vdev__inflight_packed_next(struct vdev_vq_inflight *log, struct vdev_vq *vq,
					       struct vdev_vq_elem *out, struct vdev_iov *iov,
					       unsigned cap)
{
	const uint16_t size = vq->P(size);

	while (!log->P(lost) && log->P(resubmit_next) < log->P(resubmit_count)) {
		uint16_t head = log->P(order)[log->P(resubmit_next)++];
		uint16_t num, e, id = 0;
		struct vq_fast fast;
		struct vq_chain c;
		bool ok = true;

		if (idx_ok(log, head) == UINT16_MAX) {
			log->errors++;
			continue;
		}
		num = ld16(&pent(log, head)->num);
		if (num == 0 || num > size || num > (uint16_t)(size - vq->P(inflight_descs))) {
			log->errors++; /* changed since the recovery */
			continue;
		}
		vq_fast_load(vq, &fast);
		chain_begin(&c, vq, iov, cap);
		e = head;
		for (uint16_t j = 0; j < num; j++) {
			const struct plog_entry *x;
			uint64_t addr;
			uint32_t len;
			uint16_t flags;

			if (e == UINT16_MAX) {
				ok = false;
				break;
			}
			x = pent(log, e);
			addr = ld64(&x->addr);
			len = ld32(&x->len);
			flags = ld16(&x->flags);
			id = ld16(&x->id);
			if (flags & VIRTQ_DESC_F_INDIRECT) {
				if (!vq_has(vq, VDEV_F_INDIRECT_DESC))
					chain_fail(&c, VDEV_ENOTSUP);
				else if (num != 1)
					chain_fail(&c, VDEV_EPROTO); /* indirect inside a list */
				else if (len == 0 || (len & 15u) != 0)
					chain_fail(&c, VDEV_EPROTO);
				else
					vdev__packed_indirect(vq, &fast, &c, addr, len);
			} else {
				chain_add(vq, &fast, &c, addr, len, (flags & VIRTQ_DESC_F_WRITE) >> 1);
			}
			e = idx_ok(log, ld16(&x->next));
		}
		if (!ok || id >= size || vq_is_held(vq->P(held), id)) {
			log->errors++; /* cannot be given back: dropped */
			continue;
		}
		vq_hold(vq->P(held), id);
		log->P(head_of)[id] = head;
		vq->P(inflight_descs) = (uint16_t)(vq->P(inflight_descs) + num);
		out->id = id;
		out->ndescs = num;
		vq_account_pops(vq, 1, (unsigned)chain_finish(vq, &c, out, vq->P(pop_seq)));
		log->resubmitted++;
		return true;
	}
	return false;
}

VDEV__INTERNAL void vdev__inflight_packed_unpopped(struct vdev_vq_inflight *log,
						   const struct vdev_vq_elem *elems, unsigned n,
						   unsigned resub)
{
	struct plog_hdr *h = phdr(log);

	if (log->P(lost))
		return;
	if (resub > log->P(resubmit_next))
		resub = log->P(resubmit_next);
	log->P(resubmit_next) = (uint16_t)(log->P(resubmit_next) - resub);
	for (unsigned i = 0; i < resub; i++)
		log->P(order)[log->P(resubmit_next) + i] = log->P(head_of)[elems[i].id];
	log->resubmitted -= resub;
	/* The others go back to the ring: their entries back in front of the
	 * free list, latest first (they were the latest taken from it). */
	for (unsigned i = n; i-- > resub;) {
		uint16_t head = log->P(head_of)[elems[i].id];
		uint16_t last = idx_ok(log, ld16(&pent(log, head)->last));

		if (last == UINT16_MAX) {
			plog_lose(log);
			return;
		}
		st16(&pent(log, last)->next, log->P(free));
		vdev__wmb();
		st16(&h->old_free_head, head);
		st16(&h->free_head, head);
		log->P(free) = head;
		vdev__wmb();
		st8(&pent(log, head)->inflight, 0);
	}
}

VDEV__INTERNAL void vdev__inflight_packed_pushed(struct vdev_vq_inflight *log,
						 const struct vdev_vq_elem *elems, unsigned n)
{
	for (unsigned i = 0; i < n && !log->P(lost); i++) {
		uint16_t head = log->P(head_of)[elems[i].id];
		uint16_t last = idx_ok(log, ld16(&pent(log, head)->last));

		if (last == UINT16_MAX) {
			plog_lose(log);
			return;
		}
		/* Prepended: the first pushed one's last entry is the tail. */
		st16(&pent(log, last)->next, log->P(pend_count) ? log->P(pend_head) : 0);
		if (log->P(pend_count) == 0)
			log->P(pend_tail) = last;
		log->P(pend_head) = head;
		log->P(pend_count)++;
	}
}

VDEV__INTERNAL void vdev__inflight_packed_publish_begin(struct vdev_vq_inflight *log,
							uint16_t used_idx, bool used_wrap)
{
	struct plog_hdr *h = phdr(log);

	if (log->P(lost) || log->P(pend_count) == 0)
		return;
	st16(&pent(log, log->P(pend_tail))->next, log->P(free));
	st16(&h->free_head, log->P(pend_head));
	st8(&h->used_wrap, used_wrap);
	st16(&h->used_idx, used_idx);
	/* the caller's release fence orders these before the ring's flags */
}

VDEV__INTERNAL void vdev__inflight_packed_publish_end(struct vdev_vq_inflight *log,
						      uint16_t used_idx, bool used_wrap)
{
	struct plog_hdr *h = phdr(log);
	uint16_t e = log->P(pend_head);

	if (log->P(lost) || log->P(pend_count) == 0)
		return;
	vdev__wmb(); /* the ring's flags before the log says so */
	for (uint16_t k = 0; k < log->P(pend_count); k++) {
		uint16_t last;

		st8(&pent(log, e)->inflight, 0);
		last = idx_ok(log, ld16(&pent(log, e)->last));
		if (last == UINT16_MAX) {
			plog_lose(log);
			return;
		}
		if (k + 1u < log->P(pend_count)) {
			e = idx_ok(log, ld16(&pent(log, last)->next));
			if (e == UINT16_MAX) {
				plog_lose(log);
				return;
			}
		}
	}
	vdev__wmb();
	st16(&h->old_free_head, log->P(pend_head));
	st8(&h->old_used_wrap, used_wrap);
	st16(&h->old_used_idx, used_idx);
	log->P(free) = log->P(pend_head);
	log->P(pend_count) = 0;
}
