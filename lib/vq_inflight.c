/* SPDX-License-Identifier: MIT */
/*
 * libvdev — in-flight request log of a split queue (see
 * include/vdev/inflight.h). Written from the "Inflight I/O tracking"
 * section of QEMU's docs/interop/vhost-user.rst.
 *
 * The region is shared with another process: each field is read once into
 * a local, every index is checked, every walk is bounded. Stores are
 * ordered with release fences so that a process killed between any two of
 * them leaves a log the recovery understands (a kill does not lose
 * stores, but the compiler must not move them).
 */
#include "vdev/inflight.h"

#include <stddef.h>

#include "vq_internal.h"

struct log_hdr {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t last_batch_head;
	uint16_t used_idx;
};

struct log_entry {
	uint8_t inflight;
	uint8_t padding[5];
	uint16_t next;
	uint64_t counter;
};

_Static_assert(sizeof(struct log_hdr) == VDEV_INFLIGHT_SPLIT_HDR, "split region header");
_Static_assert(sizeof(struct log_entry) == VDEV_INFLIGHT_SPLIT_ENTRY, "split region entry");
_Static_assert(offsetof(struct log_entry, next) == 6 && offsetof(struct log_entry, counter) == 8,
	       "DescStateSplit layout");

static inline struct log_hdr *hdr(const struct vdev_vq_inflight *log)
{
	return (struct log_hdr *)log->P(region);
}

static inline struct log_entry *entry(const struct vdev_vq_inflight *log, uint16_t i)
{
	return (struct log_entry *)((uint8_t *)log->P(region) + VDEV_INFLIGHT_SPLIT_HDR) + i;
}

/*
 * Each access to the region exactly once (volatile: the compiler may
 * neither repeat nor merge it; the other process may write it). Host byte
 * order, as the region's layout is defined. 64-bit counters are not
 * atomic on 32-bit targets: a torn counter only misorders a resubmission.
 */
static inline uint8_t ld8(const uint8_t *p) { return *(const volatile uint8_t *)p; }
static inline uint16_t ld16(const uint16_t *p) { return *(const volatile uint16_t *)p; }
static inline uint64_t ld64(const uint64_t *p) { return *(const volatile uint64_t *)p; }
static inline void st8(uint8_t *p, uint8_t v) { *(volatile uint8_t *)p = v; }
static inline void st16(uint16_t *p, uint16_t v) { *(volatile uint16_t *)p = v; }
static inline void st64(uint64_t *p, uint64_t v) { *(volatile uint64_t *)p = v; }

static void log_clear(struct vdev_vq_inflight *log)
{
	struct log_hdr *h = hdr(log);

	for (uint32_t i = 0; i < log->P(desc_num); i++) {
		struct log_entry *e = entry(log, (uint16_t)i);
		st8(&e->inflight, 0);
		st16(&e->next, 0);
		st64(&e->counter, 0);
	}
	st64(&h->features, 0);
	st16(&h->desc_num, log->P(desc_num));
	st16(&h->last_batch_head, 0);
	st16(&h->used_idx, 0);
	vdev__wmb(); /* the entries before the version that vouches for them */
	st16(&h->version, (uint16_t)VDEV_INFLIGHT_VERSION);
}

VDEV_API int vdev_vq_inflight_init(struct vdev_vq_inflight *log, void *region, uint16_t *order,
				   uint32_t desc_num)
{
	struct log_hdr *h;
	uint16_t version, num;

	if (log == NULL || region == NULL || order == NULL || desc_num == 0 ||
	    desc_num > VDEV_VQ_MAX_SIZE)
		return VDEV_EINVAL;
	log->P(region) = region;
	log->P(order) = order;
	log->P(counter) = 1;
	log->P(desc_num) = (uint16_t)desc_num;
	log->P(resubmit_next) = 0;
	log->P(resubmit_count) = 0;
	log->P(ring_pops) = UINT16_MAX;
	log->errors = 0;
	log->resubmitted = 0;
	log->P(fresh) = false;
	log->P(packed) = false;
	log->P(lost) = false;
	log->P(head_of) = NULL;
	log->P(pend_count) = 0;
	h = hdr(log);
	version = ld16(&h->version);
	num = ld16(&h->desc_num);
	if (version == VDEV_INFLIGHT_VERSION && num == desc_num)
		return 0; /* a restart: recovery reads it */
	if (version != 0)
		log->errors++; /* someone else's or damaged: nothing to recover */
	log_clear(log);
	log->P(fresh) = true;
	return 0;
}

/* Heap sort of order[] by (counter, head). */
static bool order_less(const struct vdev_vq_inflight *log, uint16_t a, uint16_t b)
{
	uint64_t ca = ld64(&entry(log, a)->counter), cb = ld64(&entry(log, b)->counter);
	return ca < cb || (ca == cb && a < b);
}

static void sift(const struct vdev_vq_inflight *log, uint16_t *o, uint32_t root, uint32_t n)
{
	for (;;) {
		uint32_t child = 2 * root + 1;
		uint16_t t;

		if (child >= n)
			return;
		if (child + 1 < n && order_less(log, o[child], o[child + 1]))
			child++;
		if (!order_less(log, o[root], o[child]))
			return;
		t = o[root];
		o[root] = o[child];
		o[child] = t;
		root = child;
	}
}

VDEV_API unsigned vdev_vq_inflight_recover(struct vdev_vq_inflight *log, uint16_t ring_size,
					   uint16_t used_idx, uint16_t avail_idx,
					   uint16_t *last_avail)
{
	struct log_hdr *h = hdr(log);
	uint16_t *o = log->P(order);
	uint16_t logged_used = ld16(&h->used_idx);
	uint32_t n = 0;
	uint64_t max_counter = 0;

	log->P(resubmit_next) = 0;
	log->P(resubmit_count) = 0;
	log->P(ring_pops) = UINT16_MAX;
	*last_avail = used_idx;
	if (ring_size == 0 || ring_size > log->P(desc_num)) {
		log->errors++;
		return 0;
	}
	if (log->P(fresh)) {
		/* A new log: whatever the ring did before is not in it. */
		log->P(fresh) = false;
		st16(&h->used_idx, used_idx);
		return 0;
	}
	/* The last batch: published as used (the ring's idx moved past the
	 * log's) but its flags not cleared yet. Its members are linked from
	 * last_batch_head through `next`. */
	if (logged_used != used_idx) {
		uint16_t batch = (uint16_t)(used_idx - logged_used);
		uint16_t i = ld16(&h->last_batch_head);

		if (batch > ring_size) {
			log->errors++;
			goto inconsistent;
		}
		for (uint16_t k = 0; k < batch; k++) {
			if (i >= ring_size) {
				log->errors++;
				goto inconsistent;
			}
			st8(&entry(log, i)->inflight, 0);
			i = ld16(&entry(log, i)->next);
		}
		vdev__wmb();
		st16(&h->used_idx, used_idx);
	}
	/* Flags above the ring's size name no descriptor the driver has. */
	for (uint32_t i = ring_size; i < log->P(desc_num); i++) {
		if (ld8(&entry(log, (uint16_t)i)->inflight) != 0) {
			log->errors++;
			st8(&entry(log, (uint16_t)i)->inflight, 0);
		}
	}
	for (uint32_t i = 0; i < ring_size; i++) {
		uint8_t f = ld8(&entry(log, (uint16_t)i)->inflight);
		uint64_t c;

		if (f == 0)
			continue;
		if (f != 1)
			log->errors++; /* taken as in flight anyway */
		c = ld64(&entry(log, (uint16_t)i)->counter);
		if (c > max_counter)
			max_counter = c;
		o[n++] = (uint16_t)i;
	}
	/* Chains in flight were all made available and not used: more than
	 * avail - used of them cannot be. */
	if (n > (uint16_t)(avail_idx - used_idx)) {
		log->errors++;
		goto inconsistent;
	}
	/* Heap sort by counter: the order the chains were first taken.
	 * The counters may change under us (shared memory); the sort stays
	 * within order[0..n) whatever they say. */
	for (uint32_t i = n / 2; i-- > 0;)
		sift(log, o, i, n);
	for (uint32_t end = n; end > 1; end--) {
		uint16_t t = o[0];
		o[0] = o[end - 1];
		o[end - 1] = t;
		sift(log, o, 0, end - 1);
	}
	log->P(counter) = (max_counter < UINT64_MAX ? max_counter : UINT64_MAX - 1) + 1;
	log->P(resubmit_count) = (uint16_t)n;
	*last_avail = (uint16_t)(used_idx + n);
	return n;
inconsistent:
	/* Nothing in it can be trusted: start from the ring's used index. */
	log_clear(log);
	st16(&h->used_idx, used_idx);
	return 0;
}

/*
 * A head the log calls in flight cannot also wait in the avail ring after
 * the resume position (the driver offers only heads it owns): such a log
 * lies. The ring is the authority: the chain is popped from there, once,
 * and dropped from the resubmissions (counted); the resume position moves
 * back by as many, since the recovery counted them as taken. One pass,
 * bounded by the ring size. Right after vdev_vq_start() (nothing popped).
 */
static void drop_offered_again(struct vdev_vq *vq, struct vdev_vq_inflight *log)
{
	const struct virtq_avail *av = (const struct virtq_avail *)vq->P(driver);
	uint16_t size = vq->P(size), pos = vq->P(last_avail);
	uint16_t pending = (uint16_t)(vdev__rd16(&av->idx) - pos);
	uint16_t *o = log->P(order);
	uint32_t kept = log->P(resubmit_next);

	if (pending > size)
		pending = size; /* a broken ring: the first pop says so */
	for (uint16_t k = 0; k < pending; k++) {
		uint16_t h = vdev__rd16(&av->ring[(uint16_t)(pos + k) & (size - 1u)]);
		if (h < size)
			st8(&entry(log, h)->inflight, 0);
	}
	for (uint32_t i = log->P(resubmit_next); i < log->P(resubmit_count); i++) {
		if (o[i] < size && ld8(&entry(log, o[i])->inflight) != 0)
			o[kept++] = o[i];
		else
			log->errors++;
	}
	vq->P(last_avail) = (uint16_t)(pos - (log->P(resubmit_count) - kept));
	vq->P(avail_shadow) = vq->P(last_avail);
	log->P(resubmit_count) = (uint16_t)kept;
}

VDEV_API int vdev_vq_set_inflight(struct vdev_vq *vq, struct vdev_vq_inflight *log)
{
	if (!(vq->P(state) & VQ_LIVE))
		return VDEV_EPERM;
	if (log != NULL && log->P(packed) != (vq->P(layout) == VDEV_VQ_PACKED))
		return VDEV_ENOTSUP;
	if (log != NULL && vq->P(size) > log->P(desc_num))
		return VDEV_EINVAL;
	if (log != NULL && log->P(packed)) {
		if (vq->P(inflight) != 0 || vq->P(staged) != 0)
			return VDEV_EBUSY;
		log->P(pend_count) = 0;
		vq->P(inflight_log) = log;
		return 0;
	}
	if (log != NULL && log->P(resubmit_next) < log->P(resubmit_count) &&
	    vq->P(pop_seq) == 0 && vq->P(inflight) == 0)
		drop_offered_again(vq, log);
	vq->P(inflight_log) = log;
	return 0;
}

/* ---- hooks from vq.c ---------------------------------------------------------------- */

VDEV__INTERNAL void vdev__inflight_popped(struct vdev_vq_inflight *log,
					  const struct vdev_vq_elem *elems, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct log_entry *e = entry(log, elems[i].id); /* id < ring size <= desc_num */

		st64(&e->counter, log->P(counter)++);
		vdev__wmb(); /* the counter before the flag that makes it count */
		st8(&e->inflight, 1);
	}
}

VDEV__INTERNAL void vdev__inflight_unpopped(struct vdev_vq_inflight *log,
					    const struct vdev_vq_elem *elems, unsigned n,
					    unsigned resub)
{
	/* Resubmissions stay in flight (the driver will not offer them
	 * again): they go back to the front of the list, in their order, and
	 * the next pops hand them out again. They are the latest handed out,
	 * so the slots just below resubmit_next are free to take them. */
	if (resub > log->P(resubmit_next))
		resub = log->P(resubmit_next); /* cannot be; never below 0 */
	log->P(resubmit_next) = (uint16_t)(log->P(resubmit_next) - resub);
	for (unsigned i = 0; i < resub; i++)
		log->P(order)[log->P(resubmit_next) + i] = elems[i].id;
	log->resubmitted -= resub;
	/* The other chains go back to the avail ring, which gives them again. */
	for (unsigned i = resub; i < n; i++)
		st8(&entry(log, elems[i].id)->inflight, 0);
}

VDEV__INTERNAL void vdev__inflight_pushed(struct vdev_vq_inflight *log,
					  const struct vdev_vq_elem *elems, unsigned n)
{
	struct log_hdr *h = hdr(log);

	for (unsigned i = 0; i < n; i++) {
		uint16_t id = elems[i].id;
		st16(&entry(log, id)->next, ld16(&h->last_batch_head));
		vdev__wmb();
		st16(&h->last_batch_head, id);
	}
}

VDEV__INTERNAL void vdev__inflight_published(struct vdev_vq_inflight *log, uint16_t batch,
					     uint16_t ring_size, uint16_t used_idx)
{
	struct log_hdr *h = hdr(log);
	uint16_t i = ld16(&h->last_batch_head);

	vdev__wmb(); /* the used index (stored by the caller) before the flags */
	for (uint16_t k = 0; k < batch && i < ring_size; k++) {
		st8(&entry(log, i)->inflight, 0);
		i = ld16(&entry(log, i)->next);
	}
	vdev__wmb();
	st16(&h->used_idx, used_idx);
}

VDEV__INTERNAL bool vdev__inflight_next(struct vdev_vq_inflight *log, uint16_t ring_size,
					uint16_t *head)
{
	while (log->P(resubmit_next) < log->P(resubmit_count)) {
		uint16_t h = log->P(order)[log->P(resubmit_next)++];
		if (h < ring_size) {
			log->resubmitted++;
			*head = h;
			return true;
		}
		log->errors++;
	}
	return false;
}

#if !VDEV_CONFIG_PACKED
/* Built without the packed layout (vq_inflight_packed.c left out): no
 * packed queue can be set up, so there is no packed log to bind. */
VDEV_API int vdev_vq_inflight_init_packed(struct vdev_vq_inflight *log, void *region,
					  uint16_t *scratch, uint32_t desc_num)
{
	(void)log, (void)region, (void)scratch, (void)desc_num;
	return VDEV_ENOTSUP;
}

VDEV_API unsigned vdev_vq_inflight_recover_packed(struct vdev_vq_inflight *log,
						  const struct vdev_mem *mem, uint64_t desc_addr,
						  uint16_t ring_size, struct vdev_vq_state *st)
{
	(void)log, (void)mem, (void)desc_addr, (void)ring_size, (void)st;
	return 0;
}
#endif
