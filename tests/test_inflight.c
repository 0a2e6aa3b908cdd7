/* SPDX-License-Identifier: MIT */
/*
 * The in-flight log of a split queue (vdev/inflight.h): what a queue
 * records while it runs, what a recovery finds after a "crash" (the queue
 * abandoned mid-flight, a new one started on the same ring and log), and
 * logs written by a hostile front-end (sizes, counters, indexes out of
 * range, flags on descriptors never offered): counted, never followed out
 * of bounds.
 */
#define INFLIGHT_TOKENS 64
#include "inflight_rig.h"

static uint64_t region[(VDEV_INFLIGHT_SPLIT_SIZE(QS * 2) + 7) / 8];
static uint16_t order[QS * 2];

struct entry {
	uint8_t inflight, pad[5];
	uint16_t next;
	uint64_t counter;
};
struct hdr {
	uint64_t features;
	uint16_t version, desc_num, last_batch_head, used_idx;
};
static struct hdr *H(void) { return (struct hdr *)region; }
static struct entry *E(unsigned i) { return (struct entry *)((uint8_t *)region + 16) + i; }

/* A region a previous instance left (version 1 for `desc_num` entries). */
static void left_behind(uint16_t desc_num)
{
	memset(region, 0, sizeof(region));
	H()->version = 1;
	H()->desc_num = desc_num;
}

static void setup(void)
{
	memset(region, 0, sizeof(region));
	memset(&L, 0, sizeof(L));
	cr_assert_eq(sim_pair_init(&P, QS, F(VERSION_1), 1u << 20, false), 0);
	buf = sim_alloc(&P.m, 64u * 64u, 16);
	cr_assert_eq(vdev_vq_inflight_init(&L, region, order, QS), 0);
	cr_assert_eq(vdev_vq_set_inflight(&P.vq, &L), 0);
}

static void teardown(void) { sim_pair_destroy(&P); }

/* The device's side dies: a new queue on the same ring and the same log,
 * resumed where the log says. Returns how many chains it hands out again. */
static unsigned restart(void)
{
	uint16_t used, avail, resume;
	uint8_t *u = (uint8_t *)P.drv.device + 2, *a = (uint8_t *)P.drv.driver + 2;
	struct vdev_vq_state st = {0};
	unsigned n;

	used = sim_get_le16(u); /* the ring is little-endian */
	avail = sim_get_le16(a);
	memset(&P.vq, 0, sizeof(P.vq)); /* nothing of the old one survives */
	cr_assert_eq(vdev_vq_init(&P.vq, 0, QS, P.held), 0);
	vdev_vq_set_addrs(&P.vq, P.drv.desc_gpa, P.drv.driver_gpa, P.drv.device_gpa);
	memset(&L, 0, sizeof(L));
	cr_assert_eq(vdev_vq_inflight_init(&L, region, order, QS), 0);
	n = vdev_vq_inflight_recover(&L, QS, used, avail, &resume);
	st.avail_idx = resume;
	st.used_idx = used;
	cr_assert_eq(vdev_vq_set_state(&P.vq, &st), 0);
	cr_assert_eq(vdev_vq_start(&P.vq, &P.m.mem, F(VERSION_1)), 0);
	cr_assert_eq(vdev_vq_set_inflight(&P.vq, &L), 0);
	return n;
}

Test(inflight, pops_are_logged_and_cleared_after_publish, .init = setup, .fini = teardown)
{
	struct vdev_vq_elem e[3];

	cr_expect_eq(H()->version, 1);
	cr_expect_eq(H()->desc_num, QS);
	for (int t = 0; t < 3; t++)
		offer(t);
	for (int t = 0; t < 3; t++)
		pop(&e[t]);
	for (int t = 0; t < 3; t++)
		cr_expect_eq(E(e[t].id)->inflight, 1);
	cr_expect_lt(E(e[0].id)->counter, E(e[1].id)->counter);
	cr_expect_lt(E(e[1].id)->counter, E(e[2].id)->counter);
	cr_assert_eq(vdev_vq_push(&P.vq, &e[1], 0), 0);
	cr_expect_eq(E(e[1].id)->inflight, 1, "cleared only once the used index is out");
	cr_expect_eq(H()->last_batch_head, e[1].id);
	(void)vdev_vq_publish(&P.vq);
	cr_expect_eq(E(e[1].id)->inflight, 0);
	cr_expect_eq(E(e[0].id)->inflight, 1);
	cr_expect_eq(H()->used_idx, 1);
	cr_expect_eq(L.errors, 0);
}

Test(inflight, unpopped_chains_are_not_in_flight, .init = setup, .fini = teardown)
{
	struct vdev_vq_elem e;

	offer(0);
	pop(&e);
	cr_assert_eq(vdev_vq_unpop(&P.vq, &e, 1), 0);
	cr_expect_eq(E(e.id)->inflight, 0);
	pop(&e);
	cr_expect_eq(E(e.id)->inflight, 1);
}

Test(inflight, restart_resubmits_in_the_order_taken, .init = setup, .fini = teardown)
{
	struct vdev_vq_elem e[3], r;
	int seen[64] = {0};

	for (int t = 0; t < 4; t++)
		offer(t);
	for (int t = 0; t < 3; t++)
		pop(&e[t]);
	complete(&e[1]); /* out of order */
	cr_expect_eq(reap(seen), 1);
	/* the process dies with chains 0 and 2 in flight and 3 not taken */
	cr_assert_eq(restart(), 2);
	cr_expect_eq(L.errors, 0);
	int want[] = {0, 2, 3};
	for (int k = 0; k < 3; k++) {
		pop(&r);
		if (want[k] < 3)
			cr_expect_eq(r.id, e[want[k]].id, "chain %d", k);
		cr_expect_eq(r.iov[0].base, sim_ptr(&P.m, buf + 64u * (unsigned)want[k]),
			     "chain %d", k);
		complete(&r);
	}
	cr_expect_eq(vdev_vq_pop(&P.vq, &r, iov, 64), 0, "nothing else");
	cr_expect_eq(reap(seen), 3);
	for (int t = 0; t < 4; t++)
		cr_expect_eq(seen[t], 1, "chain %d completed %d times", t, seen[t]);
	cr_expect_eq(L.resubmitted, 2);
}

Test(inflight, restart_after_the_used_index_but_before_the_flags, .init = setup,
     .fini = teardown)
{
	struct vdev_vq_elem e[3];
	int seen[64] = {0};

	for (int t = 0; t < 3; t++)
		offer(t);
	for (int t = 0; t < 3; t++)
		pop(&e[t]);
	cr_assert_eq(vdev_vq_push(&P.vq, &e[0], 0), 0);
	cr_assert_eq(vdev_vq_push(&P.vq, &e[2], 0), 0);
	(void)vdev_vq_publish(&P.vq);
	/* killed right after the used index store: flags and used_idx old */
	E(e[0].id)->inflight = E(e[2].id)->inflight = 1;
	H()->used_idx = 0;
	cr_assert_eq(restart(), 1, "only chain 1 is still in flight");
	cr_expect_eq(H()->used_idx, 2);
	struct vdev_vq_elem r;
	pop(&r);
	cr_expect_eq(r.id, e[1].id);
	complete(&r);
	cr_expect_eq(reap(seen), 3);
	for (int t = 0; t < 3; t++)
		cr_expect_eq(seen[t], 1);
}

Test(inflight, restart_with_nothing_in_flight_resumes_the_ring, .init = setup,
     .fini = teardown)
{
	struct vdev_vq_elem e;
	int seen[64] = {0};

	offer(0);
	pop(&e);
	complete(&e);
	offer(1);
	cr_assert_eq(restart(), 0);
	pop(&e);
	complete(&e);
	cr_expect_eq(reap(seen), 2);
	cr_expect_eq(seen[1], 1);
}

/* ---- hostile logs ----------------------------------------------------------------- */

Test(inflight, foreign_or_damaged_region_is_reinitialised, .init = setup, .fini = teardown)
{
	struct vdev_vq_inflight l2;

	H()->version = 7;
	E(3)->inflight = 1;
	cr_assert_eq(vdev_vq_inflight_init(&l2, region, order, QS), 0);
	cr_expect_eq(l2.errors, 1);
	cr_expect_eq(H()->version, 1);
	cr_expect_eq(E(3)->inflight, 0);
	/* version 1 made for another queue size */
	H()->desc_num = QS * 2;
	E(3)->inflight = 1;
	cr_assert_eq(vdev_vq_inflight_init(&l2, region, order, QS), 0);
	cr_expect_eq(l2.errors, 1);
	cr_expect_eq(H()->desc_num, QS);
	cr_expect_eq(E(3)->inflight, 0);
	cr_expect_eq(vdev_vq_inflight_init(&l2, region, order, 0), VDEV_EINVAL);
	cr_expect_eq(vdev_vq_inflight_init(&l2, region, order, 40000), VDEV_EINVAL);
	cr_expect_eq(vdev_vq_inflight_init(&l2, NULL, order, QS), VDEV_EINVAL);
}

Test(inflight, flags_on_descriptors_never_offered_are_not_resubmitted, .init = setup,
     .fini = teardown)
{
	int seen[64] = {0};

	offer(0);
	/* nothing popped, but the front-end marks every head in flight */
	for (unsigned i = 0; i < QS; i++) {
		E(i)->inflight = 1;
		E(i)->counter = 1000 - i;
	}
	cr_assert_eq(restart(), 0, "8 in flight but only 1 made available");
	cr_expect_eq(L.errors, 1);
	for (unsigned i = 0; i < QS; i++)
		cr_expect_eq(E(i)->inflight, 0);
	struct vdev_vq_elem e;
	pop(&e);
	complete(&e);
	cr_expect_eq(reap(seen), 1);
	cr_expect_eq(seen[0], 1);
}

Test(inflight, a_head_in_flight_and_offered_again_is_taken_once, .init = setup,
     .fini = teardown)
{
	struct vdev_vq_elem e, r;
	int seen[64] = {0};

	for (int t = 0; t < 3; t++)
		offer(t);
	pop(&e);
	/* chain 2 still waits in the avail ring, but the log calls its head
	 * in flight (and not chain 1's): a log that lies */
	uint16_t head2;
	head2 = sim_get_le16((uint8_t *)P.drv.driver + 4 + 2 * 2); /* avail ring[2] */
	E(head2)->inflight = 1;
	E(head2)->counter = 0;
	cr_assert_eq(restart(), 2, "the count fits: avail - used = 3");
	cr_expect_eq(L.errors, 1, "dropped when the queue started");
	int want[] = {0, 1, 2};
	for (int k = 0; k < 3; k++) {
		pop(&r);
		cr_expect_eq(r.iov[0].base, sim_ptr(&P.m, buf + 64u * (unsigned)want[k]),
			     "chain %d", want[k]);
		complete(&r);
	}
	cr_expect_eq(vdev_vq_pop(&P.vq, &r, iov, 64), 0, "nothing more");
	cr_expect_eq(reap(seen), 3);
	for (int t = 0; t < 3; t++)
		cr_expect_eq(seen[t], 1, "chain %d completed %d times", t, seen[t]);
}

Test(inflight, flag_on_a_garbage_descriptor_gives_a_rejected_chain, .init = setup,
     .fini = teardown)
{
	struct vdev_vq_elem e;
	struct drv_split_desc bad = {0xdead0000000ull, 4096, 0, 0};

	offer(0);
	/* a descriptor the driver never used, pointing outside guest memory */
	drv_split_write_desc(&P.drv, QS - 1, &bad);
	E(QS - 1)->inflight = 1;
	cr_assert_eq(restart(), 1);
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.id, QS - 1);
	cr_expect_neq(e.error, 0, "its buffer is not in guest memory");
	cr_assert_eq(vdev_vq_push(&P.vq, &e, 0), 0);
}

Test(inflight, a_new_log_takes_the_rings_used_index)
{
	struct vdev_vq_inflight l;
	uint16_t resume;

	memset(region, 0, sizeof(region));
	cr_assert_eq(vdev_vq_inflight_init(&l, region, order, QS), 0);
	cr_expect_eq(vdev_vq_inflight_recover(&l, QS, 1000, 1003, &resume), 0);
	cr_expect_eq(resume, 1000);
	cr_expect_eq(l.errors, 0);
	cr_expect_eq(H()->used_idx, 1000);
	/* a restart now recovers from it */
	E(5)->inflight = 1;
	cr_assert_eq(vdev_vq_inflight_init(&l, region, order, QS), 0);
	cr_expect_eq(vdev_vq_inflight_recover(&l, QS, 1000, 1003, &resume), 1);
	cr_expect_eq(resume, 1001);
}

Test(inflight, flags_beyond_the_ring_size_are_counted_and_dropped)
{
	struct vdev_vq_inflight l;
	uint16_t resume;

	left_behind(QS * 2);
	cr_assert_eq(vdev_vq_inflight_init(&l, region, order, QS * 2), 0);
	H()->used_idx = 10;
	E(QS + 3)->inflight = 1;
	E(1)->inflight = 1;
	cr_expect_eq(vdev_vq_inflight_recover(&l, QS, 10, 12, &resume), 1);
	cr_expect_eq(resume, 11);
	cr_expect_eq(l.errors, 1);
	cr_expect_eq(E(QS + 3)->inflight, 0);
	/* a ring larger than the log */
	cr_expect_eq(vdev_vq_inflight_recover(&l, QS * 4, 10, 12, &resume), 0);
	cr_expect_eq(resume, 10);
	cr_expect_eq(l.errors, 2);
}

Test(inflight, last_batch_walk_is_bounded)
{
	struct vdev_vq_inflight l;
	uint16_t resume;

	left_behind(QS);
	cr_assert_eq(vdev_vq_inflight_init(&l, region, order, QS), 0);
	/* a batch longer than the ring */
	H()->used_idx = 100;
	E(2)->inflight = 1;
	cr_expect_eq(vdev_vq_inflight_recover(&l, QS, 200, 210, &resume), 0);
	cr_expect_eq(l.errors, 1);
	cr_expect_eq(resume, 200);
	cr_expect_eq(H()->used_idx, 200);
	cr_expect_eq(E(2)->inflight, 0, "an inconsistent log is cleared");
	/* a batch list leading out of range */
	H()->used_idx = 5;
	H()->last_batch_head = 1;
	E(1)->next = 0xfff0;
	E(1)->inflight = E(4)->inflight = 1;
	cr_expect_eq(vdev_vq_inflight_recover(&l, QS, 7, 9, &resume), 0);
	cr_expect_eq(l.errors, 2);
	/* a batch list that loops: walked batch-size steps only */
	H()->used_idx = 3;
	H()->last_batch_head = 1;
	E(1)->next = 1;
	E(1)->inflight = E(4)->inflight = 1;
	cr_expect_eq(vdev_vq_inflight_recover(&l, QS, 7, 9, &resume), 1);
	cr_expect_eq(resume, 8);
	cr_expect_eq(E(1)->inflight, 0);
	cr_expect_eq(l.errors, 2);
}

Test(inflight, equal_or_extreme_counters_keep_a_total_order)
{
	struct vdev_vq_inflight l;
	uint16_t resume, h;

	left_behind(QS);
	cr_assert_eq(vdev_vq_inflight_init(&l, region, order, QS), 0);
	for (unsigned i = 0; i < QS; i++) {
		E(i)->inflight = (uint8_t)(i % 2 ? 1 : 0xff); /* odd flag values count too */
		E(i)->counter = i < 4 ? UINT64_MAX : 5;
	}
	cr_expect_eq(vdev_vq_inflight_recover(&l, QS, 0, QS, &resume), QS);
	cr_expect_eq(l.errors, QS / 2);
	/* counter 5 first (4..7), then UINT64_MAX (0..3), ties by index */
	uint16_t want[QS] = {4, 5, 6, 7, 0, 1, 2, 3};
	for (unsigned i = 0; i < QS; i++)
		cr_expect_eq(order[i], want[i], "order[%u] = %u", i, order[i]);
	(void)h;
}

Test(inflight, packed_rings_and_short_logs_are_refused)
{
	struct sim_pair p = {0};
	struct vdev_vq_inflight l;

	memset(region, 0, sizeof(region));
	cr_assert_eq(sim_pair_init(&p, QS, F(VERSION_1) | F(RING_PACKED), 1u << 20, false), 0);
	cr_assert_eq(vdev_vq_inflight_init(&l, region, order, QS), 0);
	cr_expect_eq(vdev_vq_set_inflight(&p.vq, &l), VDEV_ENOTSUP);
	sim_pair_destroy(&p);
	memset(&p, 0, sizeof(p));
	cr_assert_eq(sim_pair_init(&p, QS * 2, F(VERSION_1), 1u << 20, false), 0);
	cr_expect_eq(vdev_vq_set_inflight(&p.vq, &l), VDEV_EINVAL, "ring larger than the log");
	vdev_vq_stop(&p.vq);
	cr_expect_eq(vdev_vq_set_inflight(&p.vq, &l), VDEV_EPERM);
	sim_pair_destroy(&p);
}

/* A resubmitted chain is held like any other pop: its one push is taken,
 * a second is refused, and a driver that offers it again while the device
 * has it breaks the ring. */
Test(inflight, resubmitted_chains_are_held, .init = setup, .fini = teardown)
{
	struct vdev_vq_elem e[2], r[2];
	int seen[64] = {0};

	offer(0);
	offer(1);
	pop(&e[0]);
	pop(&e[1]);
	cr_assert_eq(restart(), 2);
	pop(&r[0]);
	pop(&r[1]);
	cr_expect_eq(r[0].id, e[0].id);
	cr_expect_eq(r[1].id, e[1].id);
	cr_assert_eq(vdev_vq_push(&P.vq, &r[0], 0), 0, "a resubmission is held");
	cr_expect_eq(vdev_vq_push(&P.vq, &r[0], 0), VDEV_EINVAL, "and pushed once");
	(void)vdev_vq_publish(&P.vq);
	cr_expect_eq(reap(seen), 1);
	drv_offer_again(&P.drv, r[1].id, NULL);
	cr_expect_eq(vdev_vq_pop(&P.vq, &e[0], iov, 64), VDEV_EPROTO,
		     "a held resubmission offered again breaks the ring");
	cr_expect_eq(L.errors, 0);
}

/* A log attached to a queue that already took chains from the ring may
 * name one of them: it is not handed out a second time (counted), the
 * others are, and each chain gets exactly one completion. */
Test(inflight, a_logged_head_the_queue_holds_is_not_handed_out_twice, .init = setup,
     .fini = teardown)
{
	struct vdev_vq_elem e[2], a, b;
	uint16_t used, avail, resume;
	struct vdev_vq_state st = {0};
	int seen[64] = {0};

	offer(0);
	offer(1);
	pop(&e[0]);
	pop(&e[1]);
	/* restart by hand: the ring position is taken from used_idx, not from
	 * the log, and the log attached after the first pop */
	used = sim_get_le16((uint8_t *)P.drv.device + 2);
	avail = sim_get_le16((uint8_t *)P.drv.driver + 2);
	memset(&P.vq, 0, sizeof(P.vq));
	cr_assert_eq(vdev_vq_init(&P.vq, 0, QS, P.held), 0);
	vdev_vq_set_addrs(&P.vq, P.drv.desc_gpa, P.drv.driver_gpa, P.drv.device_gpa);
	memset(&L, 0, sizeof(L));
	cr_assert_eq(vdev_vq_inflight_init(&L, region, order, QS), 0);
	cr_assert_eq(vdev_vq_inflight_recover(&L, QS, used, avail, &resume), 2);
	st.avail_idx = used;
	st.used_idx = used;
	cr_assert_eq(vdev_vq_set_state(&P.vq, &st), 0);
	cr_assert_eq(vdev_vq_start(&P.vq, &P.m.mem, F(VERSION_1)), 0);
	pop(&a); /* chain 0 from the ring */
	cr_expect_eq(a.id, e[0].id);
	cr_assert_eq(vdev_vq_set_inflight(&P.vq, &L), 0);
	pop(&b); /* the log's chain 0 is held: skipped; chain 1 */
	cr_expect_eq(b.id, e[1].id);
	cr_expect_eq(L.errors, 1);
	cr_expect_eq(L.resubmitted, 1);
	complete(&a);
	complete(&b);
	cr_expect_eq(reap(seen), 2);
	cr_expect_eq(seen[0], 1);
	cr_expect_eq(seen[1], 1);
}

/* Resubmissions given back with unpop come out again from the log, not
 * from the avail ring (which no longer offers them): same heads, same
 * order, and the ring resumes where it was. */
Test(inflight, unpopped_resubmissions_come_back_from_the_log, .init = setup, .fini = teardown)
{
	struct vdev_vq_elem e[2], r[3], again[3];
	int seen[64] = {0};

	for (int t = 0; t < 3; t++)
		offer(t);
	pop(&e[0]);
	pop(&e[1]);
	cr_assert_eq(restart(), 2);
	pop(&r[0]);
	cr_assert_eq(vdev_vq_unpop(&P.vq, &r[0], 1), 0);
	cr_expect_eq(E(r[0].id)->inflight, 1, "still in flight: the driver gave it once");
	cr_expect_eq(L.resubmitted, 0);
	cr_assert_eq(vdev_vq_pop_batch(&P.vq, r, 3, iov, 16), 3);
	cr_expect_eq(r[0].id, e[0].id);
	cr_expect_eq(r[1].id, e[1].id);
	cr_expect_eq(r[2].iov[0].base, sim_ptr(&P.m, buf + 128u), "chain 2 from the ring");
	/* all three back: two to the log, one to the ring */
	cr_assert_eq(vdev_vq_unpop(&P.vq, r, 3), 0);
	cr_assert_eq(vdev_vq_pop_batch(&P.vq, again, 3, iov, 16), 3);
	for (int k = 0; k < 3; k++) {
		cr_expect_eq(again[k].id, r[k].id, "chain %d", k);
		complete(&again[k]);
	}
	cr_expect_eq(vdev_vq_pop(&P.vq, &r[0], iov, 64), 0, "nothing else");
	cr_expect_eq(reap(seen), 3);
	for (int t = 0; t < 3; t++)
		cr_expect_eq(seen[t], 1, "chain %d completed %d times", t, seen[t]);
	cr_expect_eq(L.errors, 0);
	cr_expect_eq(L.resubmitted, 2);
}
