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
static inline bool is_avail(uint16_t flags, bool wrap)
{
	return ((flags & VIRTQ_DESC_F_AVAIL) != 0) == wrap &&
	       ((flags & VIRTQ_DESC_F_USED) != 0) != wrap;
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
 * flag means anything (others, and the id, are reserved and ignored).
 */
static void walk_indirect(struct vdev_vq *vq, struct vq_chain *c, uint64_t addr, uint32_t len)
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
	/* Fast path: one aligned host piece; else copy each descriptor out
	 * (the map above already rejected a table wrapping 2^64). */
	if (got == len && ((uintptr_t)p & 7u) == 0)
		tbl = p;
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
		chain_add(vq, c, daddr, dlen, (flags & VIRTQ_DESC_F_WRITE) != 0);
	}
}

/*
 * Walk the list starting at last_avail, whose head flags were read (once)
 * by the caller. The list's extent in the ring is given by the NEXT flags
 * alone; it must end within `size` descriptors and every descriptor of it
 * must be available, or the ring cannot be trusted.
 */
static int walk_list(struct vdev_vq *vq, uint16_t head_flags, struct vdev_vq_elem *e,
		     struct vdev_iov *iov, unsigned cap)
{
	struct pvirtq_desc *r = ring(vq);
	uint16_t size = vq->P(size);
	uint16_t pos = vq->P(last_avail);
	bool wrap = (vq->P(state) & VQ_AVAIL_WRAP) != 0;
	uint16_t flags = head_flags;
	uint16_t count = 0;
	uint16_t id;
	struct vq_chain c;

	chain_begin(&c, iov, cap);
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
		count++;
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
				walk_indirect(vq, &c, addr, len);
		} else {
			chain_add(vq, &c, addr, len, (flags & VIRTQ_DESC_F_WRITE) != 0);
		}
		if (!(flags & VIRTQ_DESC_F_NEXT))
			break;
		if (count == size)
			return vdev__vq_break(vq); /* the list never ends */
	}
	if (VDEV__UNLIKELY(id >= size))
		return vdev__vq_break(vq); /* buffer id we could not give back sanely */
	vq->P(last_avail) = pos;
	if (wrap)
		vq->P(state) |= VQ_AVAIL_WRAP;
	else
		vq->P(state) &= (uint8_t)~VQ_AVAIL_WRAP;
	vq->P(inflight_descs) = (uint16_t)(vq->P(inflight_descs) + count);
	e->id = id;
	e->ndescs = count;
	chain_finish(vq, &c, e);
	return 0;
}

VDEV__INTERNAL int vdev__packed_pop(struct vdev_vq *vq, struct vdev_vq_elem *elems,
				    unsigned max, struct vdev_iov *iov, unsigned iov_per_elem)
{
	struct pvirtq_desc *r = ring(vq);
	unsigned n = 0;
	int rc;

	while (n < max) {
		bool wrap = (vq->P(state) & VQ_AVAIL_WRAP) != 0;
		uint16_t pos = vq->P(last_avail);
		uint16_t flags = vdev__rd16(&r[pos].flags);

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
			vdev__mb();
			flags = vdev__rd16(&r[pos].flags);
			if (!is_avail(flags, wrap))
				break;
		}
		/* The rest of the list after its head flags; pairs with the
		 * driver's write barrier before it stores the head's flags. */
		vdev__rmb();
		rc = walk_list(vq, flags, &elems[n], iov + (size_t)n * iov_per_elem, iov_per_elem);
		if (rc < 0)
			return n > 0 ? (int)n : rc;
		n++;
	}
	return (int)n;
}

VDEV__INTERNAL void vdev__packed_push(struct vdev_vq *vq, const struct vdev_vq_elem *e,
				      uint32_t len)
{
	uint16_t pos = vq->P(used_idx);
	struct pvirtq_desc *d = &ring(vq)[pos];
	bool wrap = (vq->P(state) & VQ_USED_WRAP) != 0;
	uint16_t flags = (uint16_t)((wrap ? (VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED) : 0u) |
				    (len != 0 ? VIRTQ_DESC_F_WRITE : 0u));
	uint32_t next;

	vdev__wr16(&d->id, e->id);
	vdev__wr32(&d->len, len);
	if (vq->P(staged) == 0) {
		/* First of a batch: its flags are stored last, by publish. */
		vq->P(batch_pos) = pos;
		vq->P(batch_flags) = flags;
	} else {
		/* The driver reads this one only after the batch's first, which
		 * publish stores after a release barrier. */
		vdev__wr16(&d->flags, flags);
	}
	next = (uint32_t)pos + e->ndescs;
	if (next >= vq->P(size)) {
		next -= vq->P(size);
		vq->P(state) ^= VQ_USED_WRAP;
	}
	vq->P(used_idx) = (uint16_t)next;
	vq->P(inflight_descs) = (uint16_t)(vq->P(inflight_descs) - e->ndescs);
	vq->P(unchecked_used) = (uint16_t)(vq->P(unchecked_used) + e->ndescs);
	vq->P(staged)++;
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

VDEV__INTERNAL bool vdev__packed_has_work(struct vdev_vq *vq)
{
	uint16_t flags = vdev__rd16(&ring(vq)[vq->P(last_avail)].flags);

	return is_avail(flags, (vq->P(state) & VQ_AVAIL_WRAP) != 0);
}
