/* SPDX-License-Identifier: MIT */
/*
 * The in-flight log of a packed queue (vdev/inflight.h, packed layout):
 * what a queue records, what a recovery finds after a "crash" at each
 * point of the protocol (the queue abandoned, a new one started on the
 * same ring and log with the positions a front-end gives after a crash,
 * those of the first start), completions out of order (used descriptors
 * overwrite the ring slots of buffers still in flight, so only the log's
 * copies can give them back), and regions written by a hostile front-end:
 * counted, never followed out of bounds, nothing resubmitted from them.
 */
#define INFLIGHT_TOKENS 256
#include "inflight_rig.h"

static uint64_t region[(VDEV_INFLIGHT_PACKED_SIZE(QS) + 7) / 8];
static uint16_t scratch[VDEV_INFLIGHT_PACKED_SCRATCH(QS)];
static uint64_t features;

struct hdr {
	uint64_t features;
	uint16_t version, desc_num, free_head, old_free_head, used_idx, old_used_idx;
	uint8_t used_wrap, old_used_wrap, pad[10];
};
struct entry {
	uint8_t inflight, pad;
	uint16_t next, last, num;
	uint64_t counter;
	uint16_t id, flags;
	uint32_t len;
	uint64_t addr;
};
static struct hdr *H(void) { return (struct hdr *)region; }
static struct entry *E(unsigned i) { return (struct entry *)((uint8_t *)region + 32) + i; }

/* The positions QEMU sends for a packed ring after a crash: those of the
 * first start (it cannot know where a dead back-end stopped). */
static struct vdev_vq_state first_start(void)
{
	struct vdev_vq_state st = {.avail_idx = 0, .used_idx = 0, .avail_wrap = 1, .used_wrap = 1};
	return st;
}

static void attach(uint64_t feat)
{
	struct vdev_vq_state st = first_start();

	features = feat | F(VERSION_1) | F(RING_PACKED);
	memset(region, 0, sizeof(region));
	memset(&L, 0, sizeof(L));
	cr_assert_eq(sim_pair_init(&P, QS, features, 1u << 20, false), 0);
	buf = sim_alloc(&P.m, 256u * 64u, 16);
	cr_assert_eq(vdev_vq_inflight_init_packed(&L, region, scratch, QS), 0);
	cr_assert_eq(vdev_vq_inflight_recover_packed(&L, &P.m.mem, P.drv.desc_gpa, QS, &st), 0);
	cr_assert_eq(vdev_vq_set_inflight(&P.vq, &L), 0);
}

static void setup(void) { attach(0); }
static void teardown(void) { sim_pair_destroy(&P); }

/* The device's side dies: a new queue on the same ring and log, resumed
 * where the log says. Returns how many buffers it hands out again. */
static unsigned restart(void)
{
	struct vdev_vq_state st = first_start();
	unsigned n;

	memset(&P.vq, 0, sizeof(P.vq)); /* nothing of the old one survives */
	memset(P.held, 0, sizeof(P.held));
	cr_assert_eq(vdev_vq_init(&P.vq, 0, QS, P.held), 0);
	vdev_vq_set_addrs(&P.vq, P.drv.desc_gpa, P.drv.driver_gpa, P.drv.device_gpa);
	memset(&L, 0xa5, sizeof(L));
	cr_assert_eq(vdev_vq_inflight_init_packed(&L, region, scratch, QS), 0);
	n = vdev_vq_inflight_recover_packed(&L, &P.m.mem, P.drv.desc_gpa, QS, &st);
	cr_assert_lt(st.avail_idx, QS);
	cr_assert_lt(st.used_idx, QS);
	cr_assert_eq(vdev_vq_set_state(&P.vq, &st), 0);
	cr_assert_eq(vdev_vq_start(&P.vq, &P.m.mem, features), 0);
	cr_assert_eq(vdev_vq_set_inflight(&P.vq, &L), 0);
	return n;
}

/* Which chain t an element's first segment belongs to. */
static int chain_of(const struct vdev_vq_elem *e)
{
	uint8_t *base = sim_ptr(&P.m, buf);
	return (int)(((uint8_t *)e->iov[0].base - base) / 64);
}

/* After a recovery: pop and complete everything, each chain once. */
static void drain(int *seen)
{
	struct vdev_vq_elem r;
	int rc;

	while ((rc = vdev_vq_pop(&P.vq, &r, iov, 64)) == 1) {
		cr_assert_eq(r.error, 0);
		complete(&r);
	}
	cr_assert_eq(rc, 0);
	reap(seen);
}

/* The head entry of the log that holds buffer `id` in flight, or -1. */
static int head_of(uint16_t id)
{
	for (unsigned i = 0; i < QS; i++)
		if (E(i)->inflight == 1 && E(E(i)->last)->id == id)
			return (int)i;
	return -1;
}

Test(inflight_packed, pops_are_logged_and_cleared_after_publish, .init = setup,
     .fini = teardown)
{
	struct vdev_vq_elem e[3];
	int h[3];

	cr_expect_eq(H()->version, 1);
	cr_expect_eq(H()->desc_num, QS);
	for (int t = 0; t < 3; t++)
		offer(t);
	for (int t = 0; t < 3; t++)
		pop(&e[t]);
	for (int t = 0; t < 3; t++) {
		h[t] = head_of(e[t].id);
		cr_assert_geq(h[t], 0, "buffer %d in flight", t);
		cr_expect_eq(E((unsigned)h[t])->num, 2);
		cr_expect_eq(E((unsigned)h[t])->addr, buf + 64u * (unsigned)t, "the ring's copy");
		cr_expect_eq(E(E((unsigned)h[t])->last)->addr, buf + 64u * (unsigned)t + 16);
	}
	cr_expect_lt(E((unsigned)h[0])->counter, E((unsigned)h[1])->counter);
	cr_expect_lt(E((unsigned)h[1])->counter, E((unsigned)h[2])->counter);
	cr_expect_eq(H()->free_head, 6);
	cr_assert_eq(vdev_vq_push(&P.vq, &e[1], 0), 0);
	cr_expect_eq(E((unsigned)h[1])->inflight, 1, "cleared only once the ring says so");
	(void)vdev_vq_publish(&P.vq);
	cr_expect_eq(E((unsigned)h[1])->inflight, 0);
	cr_expect_eq(E((unsigned)h[0])->inflight, 1);
	cr_expect_eq(H()->old_used_idx, 2);
	cr_expect_eq(H()->used_idx, 2);
	cr_expect_eq(H()->old_free_head, h[1], "its entries back in front of the free list");
	cr_expect_eq(L.errors, 0);
}

/* Completions out of order overwrite the ring slots of buffers still in
 * flight; the restart gives them back from the log's copies, in the order
 * taken, then the ring's, and the ring runs on across its wrap. */
Test(inflight_packed, restart_resubmits_in_the_order_taken, .init = setup, .fini = teardown)
{
	struct vdev_vq_elem e[3], r;
	int seen[256] = {0};

	for (int t = 0; t < 4; t++)
		offer(t);
	for (int t = 0; t < 3; t++)
		pop(&e[t]);
	complete(&e[1]); /* its used descriptor lands on chain 0's slot */
	complete(&e[2]);
	cr_expect_eq(reap(seen), 2);
	/* dies with chain 0 in flight (its ring slots overwritten) and 3 not taken */
	cr_assert_eq(restart(), 1);
	cr_expect_eq(L.errors, 0);
	pop(&r);
	cr_expect_eq(r.id, e[0].id);
	cr_expect_eq(chain_of(&r), 0);
	cr_expect_eq(r.n_out, 1);
	cr_expect_eq(r.n_in, 1);
	cr_expect_eq(r.ndescs, 2);
	complete(&r);
	pop(&r);
	cr_expect_eq(chain_of(&r), 3);
	complete(&r);
	cr_expect_eq(vdev_vq_pop(&P.vq, &r, iov, 64), 0, "nothing else");
	cr_expect_eq(reap(seen), 2);
	/* Many laps more, each chain once. */
	for (int t = 4; t < 200; t++) {
		offer(t);
		pop(&r);
		cr_expect_eq(chain_of(&r), t);
		complete(&r);
		cr_expect_eq(reap(seen), 1);
	}
	for (int t = 0; t < 200; t++)
		cr_expect_eq(seen[t], 1, "chain %d completed %d times", t, seen[t]);
	cr_expect_eq(L.resubmitted, 1);
	cr_expect_eq(L.errors, 0);
}

/* A restart after every step: a new queue each time, in flight what was
 * taken and not published, each chain completed exactly once in the end. */
Test(inflight_packed, restart_at_every_step_completes_each_chain_once, .init = setup,
     .fini = teardown)
{
	int seen[256] = {0};
	int t = 0;

	for (int round = 0; round < 40; round++) {
		struct vdev_vq_elem e[4];
		int k = 0;

		while (drv_outstanding(&P.drv) < 4 && t < 200)
			offer(t++);
		/* take some, complete some out of order, publish or not */
		while (k < 1 + round % 4 && vdev_vq_pop(&P.vq, &e[k], iov, 64) == 1)
			k++;
		for (int i = k - 1; i >= 0; i -= 2)
			cr_assert_eq(vdev_vq_push(&P.vq, &e[i], 0), 0);
		if (round % 3 != 0)
			(void)vdev_vq_publish(&P.vq);
		reap(seen);
		restart();
		cr_expect_eq(L.errors, 0, "round %d", round);
	}
	drain(seen);
	for (int i = 0; i < t; i++)
		cr_expect_eq(seen[i], 1, "chain %d completed %d times", i, seen[i]);
	cr_expect_eq(drv_outstanding(&P.drv), 0);
}

/* Killed between the log's new used position and the ring's flags: the
 * descriptor at the old used position is still available, rolled back. */
Test(inflight_packed, publish_interrupted_before_the_ring_is_rolled_back, .init = setup,
     .fini = teardown)
{
	struct vdev_vq_elem e[2];
	int seen[256] = {0};

	offer(0);
	offer(1);
	pop(&e[0]);
	pop(&e[1]);
	cr_assert_eq(vdev_vq_push(&P.vq, &e[1], 0), 0); /* staged, not published */
	/* what publish stores before the ring's flags */
	H()->free_head = (uint16_t)head_of(e[1].id);
	H()->used_idx = 2;
	cr_assert_eq(restart(), 2);
	cr_expect_eq(L.errors, 0);
	cr_expect_eq(H()->free_head, H()->old_free_head);
	drain(seen);
	cr_expect_eq(seen[0], 1);
	cr_expect_eq(seen[1], 1);
}

/* Killed after the ring's flags, before the log caught up: committed. */
Test(inflight_packed, publish_interrupted_after_the_ring_is_committed, .init = setup,
     .fini = teardown)
{
	struct vdev_vq_elem e[2];
	int seen[256] = {0};
	uint16_t old_free;
	int h;

	offer(0);
	offer(1);
	pop(&e[0]);
	pop(&e[1]);
	old_free = H()->old_free_head;
	h = head_of(e[1].id);
	complete(&e[1]);
	/* back to the moment between the ring's store and the flags */
	E((unsigned)h)->inflight = 1;
	H()->old_free_head = old_free;
	H()->old_used_idx = 0;
	cr_assert_eq(restart(), 1);
	cr_expect_eq(L.errors, 0);
	cr_expect_eq(E((unsigned)h)->inflight, 0);
	drain(seen);
	cr_expect_eq(seen[0], 1);
	cr_expect_eq(seen[1], 1, "published once, not resubmitted");
}

/* Killed halfway through logging a pop: the entries are still on the free
 * list, the flag is dropped, the ring gives the buffer again. */
Test(inflight_packed, pop_interrupted_before_the_free_list_moved, .init = setup,
     .fini = teardown)
{
	struct vdev_vq_elem e;
	int seen[256] = {0};

	offer(0);
	pop(&e);
	H()->old_free_head = H()->free_head = 0; /* as before the pop's last stores */
	cr_assert_eq(restart(), 0);
	cr_expect_eq(L.errors, 0);
	cr_expect_eq(E(0)->inflight, 0);
	drain(seen);
	cr_expect_eq(seen[0], 1);
}

Test(inflight_packed, unpopped_buffers_are_not_in_flight, .init = setup, .fini = teardown)
{
	struct vdev_vq_elem e[2];
	int seen[256] = {0};

	offer(0);
	offer(1);
	pop(&e[0]);
	pop(&e[1]);
	cr_assert_eq(vdev_vq_unpop(&P.vq, e, 2), 0);
	cr_expect_eq(head_of(e[0].id), -1);
	cr_expect_eq(head_of(e[1].id), -1);
	cr_expect_eq(H()->free_head, 0, "entries back in front of the free list");
	cr_assert_eq(restart(), 0);
	drain(seen);
	cr_expect_eq(seen[0], 1);
	cr_expect_eq(seen[1], 1);
}

Test(inflight_packed, unpopped_resubmissions_come_back_from_the_log, .init = setup,
     .fini = teardown)
{
	struct vdev_vq_elem e[2], r[2];
	int seen[256] = {0};

	offer(0);
	offer(1);
	pop(&e[0]);
	pop(&e[1]);
	cr_assert_eq(restart(), 2);
	cr_assert_eq(vdev_vq_pop_batch(&P.vq, r, 2, iov, 32), 2);
	cr_assert_eq(vdev_vq_unpop(&P.vq, r, 2), 0);
	cr_assert_eq(vdev_vq_pop_batch(&P.vq, r, 2, iov, 32), 2);
	cr_expect_eq(chain_of(&r[0]), 0);
	cr_expect_eq(r[1].id, e[1].id);
	complete(&r[0]);
	complete(&r[1]);
	cr_expect_eq(reap(seen), 2);
	cr_expect_eq(seen[0] + seen[1], 2);
	offer(2);
	drain(seen);
	cr_expect_eq(seen[2], 1, "the ring resumes after them");
}

/* A resubmitted buffer is held: one push, a second refused; offered again
 * by the driver meanwhile, the ring breaks (virtqueue.h). */
Test(inflight_packed, resubmitted_buffers_are_held, .init = setup, .fini = teardown)
{
	struct vdev_vq_elem e, r, x;
	struct drv_buf b = {buf, 16, false};

	offer(0);
	pop(&e);
	cr_assert_eq(restart(), 1);
	pop(&r);
	cr_expect_eq(r.id, e.id);
	cr_assert_eq(vdev_vq_push(&P.vq, &r, 0), 0);
	cr_expect_eq(vdev_vq_push(&P.vq, &r, 0), VDEV_EINVAL);
	(void)vdev_vq_publish(&P.vq);
	cr_assert_eq(restart(), 0);
	offer(1);
	pop(&x);
	drv_offer_again(&P.drv, x.id, &b);
	cr_expect_lt(vdev_vq_pop(&P.vq, &r, iov, 64), 0);
	cr_expect(vdev_vq_is_broken(&P.vq));
}

/* An indirect table is logged as its one ring descriptor and walked again. */
Test(inflight_packed, indirect_buffers_are_resubmitted, .fini = teardown)
{
	struct vdev_vq_elem e, r;
	int seen[256] = {0};
	struct drv_buf b[3];

	attach(F(INDIRECT_DESC));
	b[0] = (struct drv_buf){sim_alloc(&P.m, 16, 8), 16, false};
	b[1] = (struct drv_buf){sim_alloc(&P.m, 8, 8), 8, true};
	b[2] = (struct drv_buf){sim_alloc(&P.m, 8, 8), 8, true};
	cr_assert_eq(drv_add(&P.drv, b, 3, true, &tok[0]), 0);
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_assert_eq(e.error, 0, "from the ring: %d", e.error);
	cr_expect_eq(e.ndescs, 1);
	cr_assert_eq(restart(), 1);
	pop(&r);
	cr_expect_eq(r.id, e.id);
	cr_expect_eq(r.n_out, 1);
	cr_expect_eq(r.n_in, 2);
	cr_expect_eq(r.in_bytes, 16);
	complete(&r);
	cr_expect_eq(reap(seen), 1);
	cr_expect_eq(seen[0], 1);
}

/* ---- hostile regions ----------------------------------------------------------------- */

/* Two chains in flight, then the region is damaged by `damage` and the
 * queue restarted: the damage is counted, nothing is resubmitted, the
 * queue starts at the log's used position (or the front-end's) and works. */
static void damaged(void (*damage)(const struct vdev_vq_elem *e))
{
	struct vdev_vq_elem e[2], r;

	setup();
	offer(0);
	offer(1);
	pop(&e[0]);
	pop(&e[1]);
	damage(e);
	cr_expect_eq(restart(), 0);
	cr_expect_geq(L.errors, 1);
	cr_expect_eq(H()->version, 1, "re-initialised");
	cr_expect_eq(H()->free_head, 0);
	/* the log works again: a pop is logged */
	offer(2);
	if (vdev_vq_pop(&P.vq, &r, iov, 64) == 1)
		cr_expect_eq(E(0)->inflight, 1);
	teardown();
}

static void d_version(const struct vdev_vq_elem *e) { (void)e; H()->version = 7; }
static void d_desc_num(const struct vdev_vq_elem *e) { (void)e; H()->desc_num = QS - 1; }
static void d_used(const struct vdev_vq_elem *e) { (void)e; H()->old_used_idx = H()->used_idx = QS; }
static void d_cycle(const struct vdev_vq_elem *e)
{
	(void)e;
	E(H()->free_head)->next = H()->free_head;
}
static void d_num0(const struct vdev_vq_elem *e) { E((unsigned)head_of(e[0].id))->num = 0; }
static void d_num_big(const struct vdev_vq_elem *e)
{
	E((unsigned)head_of(e[0].id))->num = QS + 1;
}
static void d_sum(const struct vdev_vq_elem *e)
{
	E((unsigned)head_of(e[0].id))->num = QS - 1; /* 7 + 2 slots > 8 */
}
static void d_next(const struct vdev_vq_elem *e) { E((unsigned)head_of(e[0].id))->next = 0x7fff; }
static void d_last(const struct vdev_vq_elem *e) { E((unsigned)head_of(e[0].id))->last = 5; }
static void d_id(const struct vdev_vq_elem *e)
{
	E(E((unsigned)head_of(e[0].id))->last)->id = QS;
}
static void d_leak(const struct vdev_vq_elem *e)
{
	(void)e;
	E(H()->free_head)->next = QS; /* the free list ends early */
}
static void d_share(const struct vdev_vq_elem *e)
{
	/* both buffers claim the same second entry */
	unsigned a = (unsigned)head_of(e[0].id), b = (unsigned)head_of(e[1].id);
	E(b)->next = E(a)->next;
	E(b)->last = E(a)->next;
}
static void d_free_head(const struct vdev_vq_elem *e)
{
	(void)e;
	H()->old_free_head = H()->free_head = 0xffff;
}

Test(inflight_packed, damaged_regions_are_counted_and_ignored)
{
	void (*d[])(const struct vdev_vq_elem *) = {d_version, d_desc_num, d_used, d_cycle,
						    d_num0,    d_num_big,  d_sum,  d_next,
						    d_last,    d_id,       d_leak, d_share,
						    d_free_head};
	for (unsigned i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		damaged(d[i]);
}

/* A front-end writing the region while the queue runs: the log notices
 * the links it follows are gone, gives up (version 0, counted), and the
 * queue goes on without it. */
Test(inflight_packed, region_changed_under_a_running_queue, .init = setup, .fini = teardown)
{
	struct vdev_vq_elem e, r;
	int seen[256] = {0};

	offer(0);
	pop(&e);
	E((unsigned)head_of(e.id))->last = 0x7fff;
	complete(&e);
	cr_expect_geq(L.errors, 1);
	cr_expect_eq(H()->version, 0, "not to be recovered");
	offer(1);
	pop(&r);
	complete(&r);
	cr_expect_eq(reap(seen), 2);
	/* and the free list running out under pops */
	setup();
	for (unsigned i = 0; i < QS; i++)
		E(i)->next = QS;
	offer(0);
	offer(1);
	pop(&e);
	pop(&r);
	cr_expect_geq(L.errors, 1);
	cr_expect_eq(H()->version, 0);
	complete(&e);
	complete(&r);
}

/* Random regions (a valid header, random everything else): whatever the
 * recovery makes of them stays in the ring and the queue stays usable. */
Test(inflight_packed, random_regions_are_harmless, .init = setup, .fini = teardown)
{
	uint32_t x = 12345;

	for (int round = 0; round < 2000; round++) {
		uint8_t *p = (uint8_t *)region;
		struct vdev_vq_elem r[8];
		int n;

		for (size_t i = 0; i < sizeof(region); i++) {
			x = x * 1103515245u + 12345u;
			p[i] = (uint8_t)(x >> 16);
		}
		if (round % 2 == 0) { /* mostly sane values, to get past the checks */
			for (unsigned i = 0; i < QS; i++) {
				E(i)->next = (uint16_t)(E(i)->next % (QS + 1));
				E(i)->last = (uint16_t)(E(i)->last % QS);
				E(i)->num = (uint16_t)(E(i)->num % 3);
				E(i)->inflight &= 1;
				E(i)->id = (uint16_t)(E(i)->id % QS);
				E(i)->len &= 0xff;
				E(i)->addr = buf + (E(i)->addr & 0xfff);
			}
			H()->free_head %= QS + 1;
			H()->old_free_head %= QS + 1;
			H()->used_idx %= QS;
			H()->old_used_idx %= QS;
			H()->used_wrap &= 1;
			H()->old_used_wrap &= 1;
		}
		H()->version = 1;
		H()->desc_num = QS;
		(void)restart();
		n = vdev_vq_pop_batch(&P.vq, r, 8, iov, 8);
		for (int i = 0; i < n; i++)
			(void)vdev_vq_push(&P.vq, &r[i], 0);
		(void)vdev_vq_publish(&P.vq);
	}
}

Test(inflight_packed, logs_of_the_other_layout_and_busy_queues_are_refused)
{
	struct sim_pair p = {0};
	struct vdev_vq_inflight l;
	struct vdev_vq_elem e;
	struct drv_buf b = {0};

	memset(region, 0, sizeof(region));
	cr_assert_eq(sim_pair_init(&p, QS, F(VERSION_1), 1u << 20, false), 0);
	cr_assert_eq(vdev_vq_inflight_init_packed(&l, region, scratch, QS), 0);
	cr_expect_eq(vdev_vq_set_inflight(&p.vq, &l), VDEV_ENOTSUP, "packed log, split ring");
	sim_pair_destroy(&p);
	memset(&p, 0, sizeof(p));
	cr_assert_eq(sim_pair_init(&p, QS, F(VERSION_1) | F(RING_PACKED), 1u << 20, false), 0);
	cr_assert_eq(vdev_vq_inflight_init(&l, region, scratch, QS), 0);
	cr_expect_eq(vdev_vq_set_inflight(&p.vq, &l), VDEV_ENOTSUP, "split log, packed ring");
	cr_assert_eq(vdev_vq_inflight_init_packed(&l, region, scratch, QS), 0);
	b.gpa = sim_alloc(&p.m, 64, 16);
	b.len = 16;
	cr_assert_eq(drv_add(&p.drv, &b, 1, false, &tok[0]), 0);
	cr_assert_eq(vdev_vq_pop(&p.vq, &e, iov, 4), 1);
	cr_expect_eq(vdev_vq_set_inflight(&p.vq, &l), VDEV_EBUSY, "a buffer held, not logged");
	sim_pair_destroy(&p);
	cr_expect_eq(vdev_vq_inflight_init_packed(&l, region, NULL, QS), VDEV_EINVAL);
	cr_expect_eq(vdev_vq_inflight_init_packed(&l, region, scratch, 0), VDEV_EINVAL);
	cr_expect_eq(vdev_vq_inflight_init_packed(&l, region, scratch, 32769), VDEV_EINVAL);
}
