/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtqueue life cycle and the layout-independent half of
 * processing. The rings themselves are in vq_split.c and vq_packed.c.
 */
#include "vq_internal.h"

/* --- configuration -------------------------------------------------------- */

static void vq_forget_region(struct vdev_vq *vq)
{
	vq->P(fast_gpa) = 0;
	vq->P(fast_size) = 0;
	vq->P(fast_hva) = NULL;
	vq->P(fast_ro) = 0;
}

/* No buffer held: the bitmap covers max_size entries. */
static void held_clear(struct vdev_vq *vq)
{
	memset(vq->P(held), 0, VDEV_VQ_HELD_WORDS(vq->P(max_size)) * sizeof(uint64_t));
}

static void clear_runtime(struct vdev_vq *vq)
{
	vq->P(desc) = NULL;
	vq->P(driver) = NULL;
	vq->P(device) = NULL;
	vq->P(mask) = 0;
	vq->P(last_avail) = 0;
	vq->P(avail_shadow) = 0;
	vq->P(used_idx) = 0;
	vq->P(signalled_used) = 0;
	vq->P(unchecked_used) = 0;
	vq->P(staged) = 0;
	vq->P(batch_pos) = 0;
	vq->P(batch_flags) = 0;
	vq->P(inflight) = 0;
	vq->P(inflight_descs) = 0;
	vq->P(pop_seq) = 0;
	vq->P(push_seq) = 0;
	vq->P(notify_hint) = 0;
	vq->P(inflight_log) = NULL;
	held_clear(vq);
	vq_forget_region(vq);
	/* Packed wrap counters start at 1 (spec); split ignores them. */
	vq->P(state) = VQ_AVAIL_WRAP | VQ_USED_WRAP;
}

VDEV_API int vdev_vq_init(struct vdev_vq *vq, uint16_t index, uint32_t max_size,
			  uint64_t *held)
{
	if (max_size == 0 || max_size > VDEV_VQ_MAX_SIZE || held == NULL)
		return VDEV_EINVAL;
	memset(vq, 0, sizeof(*vq));
	vq->P(dev) = NULL;
	vq->P(held) = held;
	vq->P(index) = index;
	vq->P(max_size) = (uint16_t)(max_size == VDEV_VQ_MAX_SIZE ? VDEV_VQ_MAX_SIZE : max_size);
	vq->P(size) = vq->P(max_size);
	clear_runtime(vq);
	return 0;
}

VDEV_API void vdev_vq_set_device_reads_only(struct vdev_vq *vq, bool on)
{
	vq->P(reads_only) = on ? 1u : 0u;
}

VDEV_API void vdev_vq_set_feeds(struct vdev_vq *vq, const struct vdev_vq *peer)
{
	vq->P(peer) = peer;
}

VDEV_API void vdev_vq_attach(struct vdev_vq *vq, struct vdev_dev *dev)
{
	vq->P(dev) = dev;
}

VDEV_API int vdev_vq_set_size(struct vdev_vq *vq, uint32_t size)
{
	if (vq->P(state) & VQ_LIVE)
		return VDEV_EBUSY;
	if (size == 0 || size > vq->P(max_size))
		return VDEV_EINVAL;
	vq->P(size) = (uint16_t)size;
	return 0;
}

VDEV_API int vdev_vq_set_addrs(struct vdev_vq *vq, uint64_t desc, uint64_t driver,
			       uint64_t device)
{
	if (vq->P(state) & VQ_LIVE)
		return VDEV_EBUSY;
	vq->P(desc_addr) = desc;
	vq->P(driver_addr) = driver;
	vq->P(device_addr) = device;
	return 0;
}

VDEV_API uint16_t vdev_vq_size(const struct vdev_vq *vq) { return vq->P(size); }
VDEV_API uint16_t vdev_vq_max_size(const struct vdev_vq *vq) { return vq->P(max_size); }
VDEV_API uint16_t vdev_vq_index(const struct vdev_vq *vq) { return vq->P(index); }

VDEV_API void vdev_vq_addrs(const struct vdev_vq *vq, uint64_t *desc, uint64_t *driver,
			    uint64_t *device)
{
	if (desc != NULL)
		*desc = vq->P(desc_addr);
	if (driver != NULL)
		*driver = vq->P(driver_addr);
	if (device != NULL)
		*device = vq->P(device_addr);
}

VDEV_API bool vdev_vq_is_live(const struct vdev_vq *vq)
{
	return (vq->P(state) & VQ_LIVE) != 0;
}

VDEV_API bool vdev_vq_is_broken(const struct vdev_vq *vq)
{
	return (vq->P(state) & VQ_BROKEN) != 0;
}

VDEV_API enum vdev_vq_layout vdev_vq_layout(const struct vdev_vq *vq)
{
	return vq_is_packed(vq) ? VDEV_VQ_PACKED : VDEV_VQ_SPLIT;
}

VDEV__INTERNAL int vdev__vq_map_area(const struct vdev_vq *vq, uint64_t gpa, uint64_t len,
				     uint32_t align, unsigned access, void **out)
{
	void *p;
	uint64_t got;
	int rc;

	if ((gpa & (align - 1u)) != 0) /* align is a power of two */
		return VDEV_EINVAL;
	rc = vdev_mem_map(vq->P(mem), gpa, len, access, &p, &got);
	if (rc < 0)
		return rc;
	if (got < len)
		return VDEV_EFAULT; /* not contiguous on the host */
	if (((uintptr_t)p & (align - 1u)) != 0)
		return VDEV_EINVAL;
	*out = p;
	return 0;
}

/*
 * Ring areas must not overlap, neither one queue's nor those of two queues
 * of one device. A driver never lays them out so; a hostile one can, and
 * then the device's own writes feed it work: a used index written over an
 * avail index (of this queue or of a sibling, vsock's rx over its tx)
 * makes one more buffer available with every completion, and the device
 * would be kept for ever by a guest that wrote one request. Compared on
 * the host, so that two guest addresses of one page count as the same.
 */
struct vq_span {
	uintptr_t lo, last; /* first and last byte: a range that ends at the top
			     * of the address space (32-bit hosts) does not wrap */
};

/* The host ranges of q's three areas, translated through mem now (not
 * the pointers q keeps, which may predate a new memory table). Returns how
 * many could be translated into s[], in order. */
static unsigned vq_spans(const struct vdev_vq *q, const struct vdev_mem *mem,
			 struct vq_span s[3])
{
	uint32_t n = q->P(size);
	uint64_t gpa[3] = {q->P(desc_addr), q->P(driver_addr), q->P(device_addr)};
	uint64_t len[3];
	unsigned k = 0;

	len[0] = virtq_desc_bytes(n); /* 16-byte descriptors in both layouts */
	if (vq_is_packed(q)) {
		len[1] = len[2] = 4;
	} else {
		len[1] = virtq_avail_bytes(n);
		len[2] = virtq_used_bytes(n);
	}
	for (unsigned i = 0; i < 3; i++) {
		void *p;
		uint64_t got;

		if (vdev_mem_map(mem, gpa[i], len[i], VDEV_MEM_READ, &p, &got) < 0 ||
		    got < len[i])
			continue;
		s[k].lo = (uintptr_t)p;
		s[k].last = (uintptr_t)p + (uintptr_t)(len[i] - 1);
		k++;
	}
	return k;
}

static bool spans_meet(const struct vq_span *a, unsigned na, const struct vq_span *b,
		       unsigned nb)
{
	for (unsigned i = 0; i < na; i++)
		for (unsigned j = 0; j < nb; j++)
			if (a[i].lo <= b[j].last && b[j].lo <= a[i].last)
				return true;
	return false;
}

/* VDEV_EEXIST if vq's areas (mapped) overlap each other or those of a
 * live queue of the same device. */
static int rings_apart(const struct vdev_vq *vq)
{
	const struct vdev_dev *dev = vq->P(dev);
	struct vq_span a[3], b[3];
	unsigned na = vq_spans(vq, vq->P(mem), a);

	for (unsigned i = 0; i + 1 < na; i++)
		if (spans_meet(&a[i], 1, &a[i + 1], na - i - 1))
			return VDEV_EEXIST;
	if (dev == NULL)
		return 0;
	for (uint16_t i = 0; i < dev->P(num_queues); i++) {
		const struct vdev_vq *q = &dev->P(queues)[i];

		if (q == vq || !(q->P(state) & VQ_LIVE))
			continue;
		if (spans_meet(a, na, b, vq_spans(q, vq->P(mem), b)))
			return VDEV_EEXIST;
	}
	return 0;
}

static int map_rings(struct vdev_vq *vq)
{
	int rc = vq_is_packed(vq) ? vdev__packed_map(vq) : vdev__split_map(vq);

	return rc < 0 ? rc : rings_apart(vq);
}

static void set_notify(struct vdev_vq *vq, bool enable)
{
	if (enable)
		vq->P(state) &= (uint8_t)~VQ_NOTIFY_OFF;
	else
		vq->P(state) |= VQ_NOTIFY_OFF;
	if (vq_is_packed(vq))
		vdev__packed_set_notify(vq, enable);
	else
		vdev__split_set_notify(vq, enable);
}

VDEV_API int vdev_vq_start(struct vdev_vq *vq, const struct vdev_mem *mem, uint64_t features)
{
	uint32_t size = vq->P(size);
	int rc;

	if (vq->P(state) & VQ_LIVE)
		return VDEV_EBUSY;
	if (mem == NULL)
		return VDEV_EINVAL;
	if (!VDEV_CONFIG_PACKED && (features & VDEV_BIT(VDEV_F_RING_PACKED)))
		return VDEV_ENOTSUP; /* left out of this build (vdev/config.h) */
	vq->P(layout) = (features & VDEV_BIT(VDEV_F_RING_PACKED)) ? VDEV_VQ_PACKED : VDEV_VQ_SPLIT;
	if (size == 0 || size > vq->P(max_size))
		return VDEV_EINVAL;
	if (vq->P(layout) == VDEV_VQ_SPLIT && !vdev__is_pow2(size))
		return VDEV_EINVAL;
	if (vq_is_packed(vq) &&
	    (vq->P(last_avail) >= size || vq->P(used_idx) >= size))
		return VDEV_EINVAL; /* positions from set_state do not fit */
	vq->P(mem) = mem;
	vq->P(features) = features;
	vq->P(mask) = (uint16_t)(size - 1);
	rc = map_rings(vq);
	if (rc < 0) {
		vq->P(desc) = vq->P(driver) = vq->P(device) = NULL;
		return rc;
	}
	vq_forget_region(vq);
	vq->P(avail_shadow) = vq->P(last_avail);
	vq->P(signalled_used) = vq->P(used_idx);
	vq->P(unchecked_used) = 0;
	vq->P(staged) = 0;
	vq->P(inflight) = 0;
	vq->P(inflight_descs) = 0;
	vq->P(pop_seq) = 0;
	vq->P(push_seq) = 0;
	held_clear(vq); /* chains of before a stop are not pushed: forgotten */
	vq->P(state) &= (uint8_t)~(VQ_BROKEN | VQ_SIGNALLED_VALID);
	vq->P(state) |= VQ_LIVE;
	set_notify(vq, true);
	return 0;
}

VDEV_API void vdev_vq_stop(struct vdev_vq *vq)
{
	if (!(vq->P(state) & VQ_LIVE))
		return;
	if (vq->P(staged) != 0 && !(vq->P(state) & VQ_BROKEN))
		vdev_vq_flush(vq);
	vq->P(state) &= (uint8_t)~VQ_LIVE;
	vq->P(desc) = vq->P(driver) = vq->P(device) = NULL;
	vq->P(inflight_log) = NULL;
}

VDEV_API void vdev_vq_reset(struct vdev_vq *vq)
{
	/* Configuration back to defaults; counters are kept for diagnostics.
	 * clear_runtime() also clears VQ_ENABLED: a reset queue is disabled. */
	vq->P(desc_addr) = 0;
	vq->P(driver_addr) = 0;
	vq->P(device_addr) = 0;
	vq->P(features) = 0;
	vq->P(layout) = VDEV_VQ_SPLIT;
	vq->P(size) = vq->P(max_size);
	clear_runtime(vq);
}

VDEV_API int vdev_vq_remap(struct vdev_vq *vq)
{
	int rc;

	if (!(vq->P(state) & VQ_LIVE))
		return VDEV_EPERM;
	vq_forget_region(vq); /* the table it came from may be gone */
	rc = map_rings(vq);
	if (rc < 0) {
		vdev__vq_break(vq);
		/* The rings are not where they were, and the old host addresses
		 * may be unmapped or reused: no pop, push or publish touches
		 * them again (the queue is not live) until it is started anew. */
		vq->P(state) &= (uint8_t)~VQ_LIVE;
		vq->P(desc) = vq->P(driver) = vq->P(device) = NULL;
		vq->P(inflight_log) = NULL;
	}
	return rc;
}

VDEV_API void vdev_vq_get_state(const struct vdev_vq *vq, struct vdev_vq_state *st)
{
	st->avail_idx = vq->P(last_avail);
	st->used_idx = vq->P(used_idx);
	st->avail_wrap = (vq->P(state) & VQ_AVAIL_WRAP) != 0;
	st->used_wrap = (vq->P(state) & VQ_USED_WRAP) != 0;
}

VDEV_API int vdev_vq_set_state(struct vdev_vq *vq, const struct vdev_vq_state *st)
{
	if (vq->P(state) & VQ_LIVE)
		return VDEV_EBUSY;
	if (st->avail_idx >= VDEV_VQ_MAX_SIZE && st->avail_wrap)
		return VDEV_EINVAL; /* a packed position never reaches 2^15 */
	vq->P(last_avail) = st->avail_idx;
	vq->P(used_idx) = st->used_idx;
	vq->P(state) &= (uint8_t)~(VQ_AVAIL_WRAP | VQ_USED_WRAP);
	if (st->avail_wrap)
		vq->P(state) |= VQ_AVAIL_WRAP;
	if (st->used_wrap)
		vq->P(state) |= VQ_USED_WRAP;
	return 0;
}

/* --- guest errors --------------------------------------------------------- */

VDEV__INTERNAL int vdev__vq_break(struct vdev_vq *vq)
{
	if (!(vq->P(state) & VQ_BROKEN)) {
		vq->P(state) |= VQ_BROKEN;
		if (vq->P(dev) != NULL)
			vdev__dev_queue_broken(vq->P(dev), vq);
	}
	return VDEV_EPROTO;
}

/* vdev__map_slow() is in mem.c. */

#if VDEV_CONFIG_INDIRECT
VDEV__INTERNAL int vdev__read_indirect(const struct vdev_vq *vq, uint64_t table, uint32_t i,
				       void *desc16)
{
	/* table + 16 * i cannot wrap: the whole table was range-checked. */
	return vdev_mem_read(vq->P(mem), table + 16u * (uint64_t)i, desc16, 16);
}
#endif

/* --- processing ----------------------------------------------------------- */

/*
 * A split queue with an in-flight log: chains a recovery found come first
 * (from their heads, not the avail ring), then the ring's; every chain
 * taken is logged before the caller sees it. In two steps around the
 * ring's pop, which the caller makes, so that the log's frame is not
 * under the pop's (the stack budget, scripts/stack-budget.py).
 *
 * pop_resubmitted() takes up to max chains from the log's list and
 * returns their number.
 */
static __attribute__((noinline)) unsigned pop_resubmitted(struct vdev_vq *vq,
							  struct vdev_vq_elem *elems,
							  unsigned max, struct vdev_iov *iov,
							  unsigned iov_per_elem)
{
	struct vdev_vq_inflight *log = vq->P(inflight_log);
	unsigned n = 0;
	uint16_t head;

	while (n < max && vdev__inflight_next(log, vq->P(size), &head)) {
		/* A head the queue holds already (a log that names one twice,
		 * or attached after pops) is not handed out a second time: the
		 * chain has its one completion coming. Counted and dropped, as
		 * every other inconsistency of the log; the driver's ring is
		 * not at fault, so it stays usable. */
		if (vq_is_held(vq->P(held), head)) {
			log->errors++;
			log->resubmitted--;
			continue;
		}
		vdev__split_pop_head(vq, head, &elems[n], iov + (size_t)n * iov_per_elem,
				     iov_per_elem); /* holds it */
		log->P(ring_pops) = 0;
		n++;
	}
	return n;
}

/* The pop's end: `rc` is the ring's pop's result after `n` resubmitted. */
static __attribute__((noinline)) int pop_logged_done(struct vdev_vq *vq,
						     struct vdev_vq_elem *elems, unsigned n,
						     int rc)
{
	struct vdev_vq_inflight *log = vq->P(inflight_log);

	if (rc < 0 && n == 0)
		return rc;
	if (rc > 0) {
		uint32_t r = log->P(ring_pops) + (unsigned)rc;

		n += (unsigned)rc;
		log->P(ring_pops) = (uint16_t)(r < UINT16_MAX ? r : UINT16_MAX);
	}
	vdev__inflight_popped(log, elems, n);
	return (int)n;
}

static __attribute__((noinline)) int pop_logged(struct vdev_vq *vq, struct vdev_vq_elem *elems,
						unsigned max, struct vdev_iov *iov,
						unsigned iov_per_elem)
{
	unsigned n = pop_resubmitted(vq, elems, max, iov, iov_per_elem);
	int rc = 0;

	if (n < max)
		rc = vdev__split_pop(vq, elems + n, max - n, iov + (size_t)n * iov_per_elem,
				     iov_per_elem);
	return pop_logged_done(vq, elems, n, rc);
}

/*
 * A packed queue with a log: buffers a recovery found first (from the
 * log's copies of their descriptors), then the ring's (vdev__packed_pop,
 * called by vdev_vq_pop_batch itself so that these are not on its stack),
 * each copied into the log before the caller sees it.
 */
static __attribute__((noinline)) unsigned resubmit_packed(struct vdev_vq *vq,
							  struct vdev_vq_elem *elems, unsigned max,
							  struct vdev_iov *iov, unsigned iov_per_elem)
{
	struct vdev_vq_inflight *log = vq->P(inflight_log);
	unsigned n = 0;

	while (n < max && vdev__inflight_packed_next(log, vq, &elems[n],
						     iov + (size_t)n * iov_per_elem, iov_per_elem)) {
		log->P(ring_pops) = 0;
		n++;
	}
	return n;
}

/* After the ring's pop of rc chains from slot pos, at elems[n]. */
static __attribute__((noinline)) int log_packed_pops(struct vdev_vq *vq,
						     struct vdev_vq_elem *elems, unsigned n,
						     int rc, uint16_t pos)
{
	struct vdev_vq_inflight *log = vq->P(inflight_log);

	if (rc < 0)
		return n > 0 ? (int)n : rc;
	if (rc > 0) {
		uint32_t r = log->P(ring_pops) + (unsigned)rc;

		vdev__inflight_packed_popped(log, vq, elems + n, (unsigned)rc, pos);
		log->P(ring_pops) = (uint16_t)(r < UINT16_MAX ? r : UINT16_MAX);
	}
	return (int)n + rc;
}

/* --- writes where the device looks for work (vq_internal.h) ------------- */

/* The host range [*lo, *last] where live queue q looks for new work: a
 * split queue's avail ring, a packed queue's descriptor ring. */
static inline void work_area(const struct vdev_vq *q, uintptr_t *lo, uintptr_t *last)
{
	if (vq_is_packed(q)) {
		*lo = (uintptr_t)q->P(desc);
		*last = *lo + (uintptr_t)virtq_desc_bytes(q->P(size)) - 1u;
	} else {
		*lo = (uintptr_t)q->P(driver);
		*last = *lo + (uintptr_t)virtq_avail_bytes(q->P(size)) - 1u;
	}
}

/* The work areas a writable buffer of vq must not meet: its own and, if
 * live, its peer's (vdev_vq_set_feeds()). Returns how many (1 or 2). */
static unsigned work_areas(const struct vdev_vq *vq, uintptr_t lo[2], uintptr_t last[2])
{
	const struct vdev_vq *peer = vq->P(peer);

	work_area(vq, &lo[0], &last[0]);
	if (peer == NULL || !(peer->P(state) & VQ_LIVE))
		return 1;
	work_area(peer, &lo[1], &last[1]);
	return 2;
}

VDEV__INTERNAL bool vdev__writes_on_work(const struct vdev_vq *vq, const struct vdev_iov *v,
					 unsigned n)
{
	uintptr_t lo[2], last[2];
	unsigned na = work_areas(vq, lo, last);

	for (unsigned s = 0; s < n; s++) {
		/* segments are not empty (chain_add) */
		uintptr_t b = (uintptr_t)v[s].base, e = b + (v[s].len - 1u);

		for (unsigned a = 0; a < na; a++)
			if (b <= last[a] && lo[a] <= e)
				return true;
	}
	return false;
}

VDEV__INTERNAL bool vdev__write_on_work(const struct vdev_vq *vq, const void *base, uint32_t len)
{
	const struct vdev_iov v = {(void *)(uintptr_t)base, len};

	return vdev__writes_on_work(vq, &v, 1);
}

VDEV__INTERNAL struct vq_wwin vdev__write_window(const struct vdev_vq *vq, uint64_t gpa,
						 uint64_t size, const uint8_t *hva)
{
	struct vq_wwin w = {UINT64_MAX, 0}; /* none, until an area widens it */
	uintptr_t lo[2], last[2];
	unsigned na = work_areas(vq, lo, last);
	const uintptr_t h0 = (uintptr_t)hva;

	if (size == 0)
		return w;
	for (unsigned a = 0; a < na; a++) {
		uintptr_t from, to;

		/* the part of the area inside the region's host range */
		if (last[a] < h0 || (lo[a] >= h0 && lo[a] - h0 >= size))
			continue;
		from = lo[a] < h0 ? 0 : lo[a] - h0;
		to = last[a] - h0 < size ? last[a] - h0 : (uintptr_t)(size - 1u);
		w.lo = gpa + from < w.lo ? gpa + from : w.lo;
		w.last = gpa + to > w.last ? gpa + to : w.last;
	}
	return w;
}

/* vdev_vq_pop_batch()'s body, in vdev_vq_pop() too: a frame less under
 * every device's pop (the stack budget, scripts/stack-budget.py). */
static inline __attribute__((always_inline)) int pop_batch(struct vdev_vq *vq,
							   struct vdev_vq_elem *elems,
							   unsigned max, struct vdev_iov *iov,
							   unsigned iov_per_elem)
{
	uint8_t st = vq->P(state);

	if (VDEV__UNLIKELY(!(st & VQ_LIVE)))
		return VDEV_EPERM;
	if (VDEV__UNLIKELY(st & VQ_BROKEN))
		return VDEV_EPROTO;
	if (iov_per_elem > UINT16_MAX)
		iov_per_elem = UINT16_MAX;
	if (max == 0)
		return 0;
	/* The layouts mark what they take as held (vq_hold). */
	if (vq_is_packed(vq)) {
		if (VDEV__UNLIKELY(vq->P(inflight_log) != NULL)) {
			unsigned n = resubmit_packed(vq, elems, max, iov, iov_per_elem);
			uint16_t pos = vq->P(last_avail);
			int rc = 0;

			if (n < max)
				rc = vdev__packed_pop(vq, elems + n, max - n,
						      iov + (size_t)n * iov_per_elem, iov_per_elem);
			return log_packed_pops(vq, elems, n, rc, pos);
		}
		return vdev__packed_pop(vq, elems, max, iov, iov_per_elem);
	}
	if (VDEV__UNLIKELY(vq->P(inflight_log) != NULL))
		return pop_logged(vq, elems, max, iov, iov_per_elem);
	return vdev__split_pop(vq, elems, max, iov, iov_per_elem);
}

VDEV_API int vdev_vq_pop_batch(struct vdev_vq *vq, struct vdev_vq_elem *elems, unsigned max,
			       struct vdev_iov *iov, unsigned iov_per_elem)
{
	return pop_batch(vq, elems, max, iov, iov_per_elem);
}

VDEV_API int vdev_vq_pop(struct vdev_vq *vq, struct vdev_vq_elem *elem, struct vdev_iov *iov,
			 unsigned iov_cap)
{
	return pop_batch(vq, elem, 1, iov, iov_cap);
}

VDEV_API int vdev_vq_unpop(struct vdev_vq *vq, const struct vdev_vq_elem *elems, unsigned n)
{
	uint32_t descs = 0, ring_descs = 0;
	unsigned resub = 0;

	if (!(vq->P(state) & VQ_LIVE))
		return VDEV_EPERM;
	if (n == 0)
		return 0;
	if (n > vq->P(inflight))
		return VDEV_EINVAL;
	/* With a log, the first `resub` of them may be resubmissions: they
	 * go back to the log's list, not to the avail ring. */
	if (vq->P(inflight_log) != NULL) {
		const struct vdev_vq_inflight *log = vq->P(inflight_log);
		uint16_t ring = log->P(ring_pops);

		resub = n > ring ? n - ring : 0;
		if (resub > log->P(resubmit_next))
			resub = log->P(resubmit_next);
	}
	/* The latest pops carry the sequence numbers just below pop_seq,
	 * and the queue holds them. */
	for (unsigned i = 0; i < n; i++) {
		uint16_t id = elems[i].id;

		if (elems[i].seq != (uint16_t)(vq->P(pop_seq) - n + i))
			return VDEV_EINVAL;
		if (id >= vq->P(size) || !vq_is_held(vq->P(held), id))
			return VDEV_EINVAL;
		descs += elems[i].ndescs;
		if (i >= resub)
			ring_descs += elems[i].ndescs; /* resubmissions took no slots now */
	}
	if (vq_is_packed(vq)) {
		uint16_t size = vq->P(size);
		uint32_t pos = vq->P(last_avail);

		if (descs == 0 || descs > vq->P(inflight_descs) || descs > size)
			return VDEV_EINVAL;
		/* Step the position (and the wrap counter) back over the slots. */
		if (pos >= ring_descs) {
			pos -= ring_descs;
		} else {
			pos = pos + size - ring_descs;
			vq->P(state) ^= VQ_AVAIL_WRAP;
		}
		vq->P(last_avail) = (uint16_t)pos;
		vq->P(inflight_descs) = (uint16_t)(vq->P(inflight_descs) - descs);
	} else {
		vq->P(last_avail) = (uint16_t)(vq->P(last_avail) - (n - resub));
	}
	for (unsigned i = 0; i < n; i++) {
		vq->P(stats).rejected -= elems[i].error != 0; /* counted again when re-popped */
		vq->P(held)[elems[i].id >> 6] &= ~vq_held_bit(elems[i].id); /* not ours now */
	}
	if (vq->P(inflight_log) != NULL) {
		/* The ring pops among them are no longer since the last
		 * resubmission: a later unpop must not take a resubmission for
		 * one (and step the ring back over slots it never took). A
		 * saturated count (no resubmission pending) stays so. */
		struct vdev_vq_inflight *log = vq->P(inflight_log);

		if (log->P(ring_pops) != UINT16_MAX)
			log->P(ring_pops) = (uint16_t)(log->P(ring_pops) - (n - resub));
	}
	if (vq->P(inflight_log) != NULL && vq_is_packed(vq))
		vdev__inflight_packed_unpopped(vq->P(inflight_log), elems, n, resub);
	else if (vq->P(inflight_log) != NULL)
		vdev__inflight_unpopped(vq->P(inflight_log), elems, n, resub);
	vq->P(inflight) = (uint16_t)(vq->P(inflight) - n);
	vq->P(pop_seq) = (uint16_t)(vq->P(pop_seq) - n);
	vq->P(stats).popped -= n;
	return 0;
}

/*
 * Push n chains: everything is checked before anything is staged. Inlined
 * into both entry points, so a single push (n == 1) loses its loops.
 */
static inline __attribute__((always_inline)) int push_n(struct vdev_vq *vq,
							const struct vdev_vq_elem *elems,
							const uint32_t *written, unsigned n)
{
	const uint16_t size = vq->P(size), mask = vq->P(mask);
	uint64_t *const held = vq->P(held);
	uint16_t seq = vq->P(push_seq);
	uint32_t descs = 0;

	if (VDEV__UNLIKELY(!(vq->P(state) & VQ_LIVE)))
		return VDEV_EPERM;
	if (VDEV__UNLIKELY(n > vq->P(inflight)))
		return VDEV_EINVAL;
	if (n == 0)
		return 0;
	/* Check everything before staging anything. */
	if (VDEV__UNLIKELY(vq_has(vq, VDEV_F_IN_ORDER))) {
		for (unsigned i = 0; i < n; i++)
			if (elems[i].seq != (uint16_t)(seq + i))
				return VDEV_EINVAL;
	}
	if (vq_is_packed(vq)) {
		for (unsigned i = 0; i < n; i++) {
			if (VDEV__UNLIKELY(elems[i].ndescs == 0))
				return VDEV_EINVAL;
			descs += elems[i].ndescs;
		}
		if (VDEV__UNLIKELY(descs > vq->P(inflight_descs)))
			return VDEV_EINVAL;
	}
	if (vq_is_packed(vq)) {
		/* Only buffers the queue holds, each once: test and clear,
		 * undone if one of the batch is not held (all or nothing). */
		for (unsigned i = 0; i < n; i++) {
			uint16_t id = elems[i].id;
			uint64_t *w = &held[id >> 6];

			if (VDEV__UNLIKELY(id >= size || !(*w & vq_held_bit(id)))) {
				while (i-- > 0)
					vq_hold(held, elems[i].id);
				return VDEV_EINVAL;
			}
			*w &= ~vq_held_bit(id);
		}
		vq_packed_push_batch(vq, elems, written, n, descs);
		if (VDEV__UNLIKELY(vq->P(inflight_log) != NULL))
			vdev__inflight_packed_pushed(vq->P(inflight_log), elems, n);
	} else {
		struct virtq_used_elem *ring = ((struct virtq_used *)vq->P(device))->ring;
		uint16_t used = vq->P(used_idx);

		/* The same test and clear, in one pass with the used entries:
		 * those past used_idx are the driver's to read only after
		 * publish, so a batch refused half-way leaves nothing behind
		 * but its bits, restored. */
		for (unsigned i = 0; i < n; i++) {
			struct virtq_used_elem *ue = &ring[(uint16_t)(used + i) & mask];
			uint16_t id = elems[i].id;
			uint64_t *hw = &held[id >> 6], bit = vq_held_bit(id);
			uint32_t w = written[i];

			if (VDEV__UNLIKELY(id >= size || !(*hw & bit))) {
				while (i-- > 0)
					vq_hold(held, elems[i].id);
				return VDEV_EINVAL;
			}
			*hw &= ~bit;
			vdev__wr32(&ue->id, id);
			vdev__wr32(&ue->len, w < elems[i].in_bytes ? w : elems[i].in_bytes);
		}
		if (VDEV__UNLIKELY(vq->P(inflight_log) != NULL))
			vdev__inflight_pushed(vq->P(inflight_log), elems, n);
		vq->P(used_idx) = (uint16_t)(used + n);
		vq->P(staged) = (uint16_t)(vq->P(staged) + n);
	}
	vq->P(inflight) = (uint16_t)(vq->P(inflight) - n);
	vq->P(push_seq) = (uint16_t)(seq + n);
	vq->P(stats).pushed += n;
	return 0;
}

VDEV_API int vdev_vq_push(struct vdev_vq *vq, const struct vdev_vq_elem *elem, uint32_t written)
{
	return push_n(vq, elem, &written, 1);
}

VDEV_API int vdev_vq_push_batch(struct vdev_vq *vq, const struct vdev_vq_elem *elems,
				const uint32_t *written, unsigned n)
{
	return push_n(vq, elems, written, n);
}

VDEV_API bool vdev_vq_publish(struct vdev_vq *vq)
{
	bool notify;

	if (!(vq->P(state) & VQ_LIVE) || vq->P(staged) == 0)
		return false;
	if (vq_is_packed(vq)) {
		struct vdev_vq_inflight *log = vq->P(inflight_log);
		bool wrap = (vq->P(state) & VQ_USED_WRAP) != 0;

		if (VDEV__UNLIKELY(log != NULL))
			vdev__inflight_packed_publish_begin(log, vq->P(used_idx), wrap);
		notify = vdev__packed_publish(vq);
		if (VDEV__UNLIKELY(log != NULL))
			vdev__inflight_packed_publish_end(log, vq->P(used_idx), wrap);
	} else {
		uint16_t batch = vq->P(staged);
		notify = vdev__split_publish(vq);
		/* After the used index store: the batch's log entries. */
		if (VDEV__UNLIKELY(vq->P(inflight_log) != NULL))
			vdev__inflight_published(vq->P(inflight_log), batch, vq->P(size),
						 vq->P(used_idx));
	}
	vq->P(stats).publishes++;
	if (notify)
		vq->P(stats).notifications++;
	return notify;
}

VDEV_API bool vdev_vq_flush(struct vdev_vq *vq)
{
	if (!vdev_vq_publish(vq))
		return false;
	if (vq->P(dev) != NULL)
		vdev_dev_notify_queue(vq->P(dev), vq->P(index));
	return true;
}

VDEV_API void vdev_vq_disable_notify(struct vdev_vq *vq)
{
	if (!(vq->P(state) & VQ_LIVE) || (vq->P(state) & VQ_NOTIFY_OFF))
		return;
	set_notify(vq, false);
}

VDEV_API bool vdev_vq_enable_notify(struct vdev_vq *vq)
{
	if (!(vq->P(state) & VQ_LIVE) || (vq->P(state) & VQ_BROKEN))
		return false;
	set_notify(vq, true);
	/* Our store above before the ring check below; pairs with the
	 * driver's full barrier between publishing a buffer and reading the
	 * suppression state. */
	vdev__mb();
	return vdev_vq_has_work(vq);
}

VDEV_API void vdev_vq_notify_on_next(struct vdev_vq *vq)
{
	if (!(vq->P(state) & VQ_LIVE) || (vq->P(state) & (VQ_BROKEN | VQ_NOTIFY_OFF)))
		return;
	if (vq_is_packed(vq))
		vdev__packed_notify_on_next(vq);
	else
		vdev__split_notify_on_next(vq);
}

VDEV_API bool vdev_vq_has_work(struct vdev_vq *vq)
{
	if (!(vq->P(state) & VQ_LIVE) || (vq->P(state) & VQ_BROKEN))
		return false;
	if (vq_is_packed(vq))
		return vdev__packed_has_work(vq);
	return vdev__split_has_work(vq);
}

VDEV_API void vdev_vq_note_notification(struct vdev_vq *vq, uint16_t data)
{
	uint16_t size = vq->P(size);

	vq->P(notify_hint) = data;
	if (!(vq->P(state) & VQ_LIVE))
		return;
	if (vq_is_packed(vq)) {
		if ((data & 0x7fffu) >= size)
			vq->P(stats).bad_notify_data++;
	} else if ((uint16_t)(data - vq->P(last_avail)) > size) {
		vq->P(stats).bad_notify_data++;
	}
}

VDEV_API void vdev_vq_get_stats(const struct vdev_vq *vq, struct vdev_vq_stats *out)
{
	*out = vq->P(stats);
}
