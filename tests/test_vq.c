/* SPDX-License-Identifier: MIT */
/*
 * Virtqueue behaviour common to both layouts, each test run on a split and
 * a packed ring, with the driver simulator as the guest.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "drvsim.h"
#include "sim_le.h"
#include "vdev/device.h"

/* Define a test body once, run it on both layouts. */
#define BOTH(name)                                                                       \
	static void name##_body(bool packed);                                            \
	Test(vq_common_split, name) { name##_body(false); }                              \
	Test(vq_common_packed, name) { name##_body(true); }                              \
	static void name##_body(bool packed)

#define F(b) VDEV_BIT(VDEV_F_##b)

static struct sim_pair P;
static struct vdev_iov iov[64];

static uint64_t feats(bool packed, uint64_t extra)
{
	return F(VERSION_1) | (packed ? F(RING_PACKED) : 0) | extra;
}

static void setup(bool packed, uint64_t extra, uint16_t size)
{
	cr_assert_eq(sim_pair_init(&P, size, feats(packed, extra), 1u << 20, false), 0);
}

static int tok[4096]; /* distinct non-NULL tokens */

static struct drv_buf rd(uint64_t gpa, uint32_t len) { return (struct drv_buf){gpa, len, false}; }
static struct drv_buf wr(uint64_t gpa, uint32_t len) { return (struct drv_buf){gpa, len, true}; }

/* Add a chain and expect it accepted by the driver. */
static void add(const struct drv_buf *b, unsigned n, bool indirect, int t)
{
	cr_assert_eq(drv_add(&P.drv, b, n, indirect, &tok[t]), 0);
}

static int pop(struct vdev_vq_elem *e)
{
	return vdev_vq_pop(&P.vq, e, iov, 64);
}

/* Complete e with `len`, publish, and reap it on the driver side. */
static void complete_and_reap(struct vdev_vq_elem *e, uint32_t len, int t, uint32_t expect_len)
{
	uint32_t got = 12345;

	cr_assert_eq(vdev_vq_push(&P.vq, e, len), 0);
	vdev_vq_publish(&P.vq);
	cr_assert_eq(drv_get_used(&P.drv, &got), &tok[t]);
	cr_assert_eq(got, expect_len);
	cr_assert_eq(P.drv.errors, 0, "%s", P.drv.last_error);
}

BOTH(empty_ring_pops_nothing)
{
	struct vdev_vq_elem e;

	setup(packed, 0, 8);
	cr_expect_eq(pop(&e), 0);
	cr_expect_not(vdev_vq_has_work(&P.vq));
	cr_expect_not(vdev_vq_publish(&P.vq), "nothing staged, nothing to notify");
}

BOTH(readable_then_writable_chain)
{
	struct vdev_vq_elem e;

	setup(packed, 0, 8);
	uint64_t hdr = sim_alloc(&P.m, 16, 8), data = sim_alloc(&P.m, 512, 8),
		 st = sim_alloc(&P.m, 1, 1);
	memcpy(sim_ptr(&P.m, hdr), "header-bytes-16!", 16);
	struct drv_buf b[3] = {rd(hdr, 16), wr(data, 512), wr(st, 1)};

	add(b, 3, false, 1);
	cr_expect(vdev_vq_has_work(&P.vq));
	cr_assert_eq(pop(&e), 1);
	cr_expect_eq(e.error, 0);
	cr_expect_eq(e.n_out, 1);
	cr_expect_eq(e.n_in, 2);
	cr_expect_eq(e.out_bytes, 16);
	cr_expect_eq(e.in_bytes, 513);
	cr_expect_eq(e.ndescs, 3);
	cr_expect_eq(memcmp(e.iov[0].base, "header-bytes-16!", 16), 0);
	cr_expect_eq(e.iov[1].base, sim_ptr(&P.m, data));
	cr_expect_eq(e.iov[2].len, 1);
	memset(e.iov[1].base, 0x5a, 512);
	complete_and_reap(&e, 513, 1, 513);
	cr_expect_eq(((uint8_t *)sim_ptr(&P.m, data))[511], 0x5a);
	cr_expect_eq(pop(&e), 0);
}

BOTH(many_chains_in_order_and_batch_pop)
{
	struct vdev_vq_elem e[8];

	setup(packed, 0, 8);
	uint64_t data = sim_alloc(&P.m, 8 * 64, 8);
	for (int i = 0; i < 8; i++) {
		struct drv_buf b = wr(data + 64u * (unsigned)i, 64);
		add(&b, 1, false, i);
	}
	cr_expect_eq(drv_add(&P.drv, &(struct drv_buf){data, 8, true}, 1, false, &tok[99]), -1,
		     "ring full");
	cr_assert_eq(vdev_vq_pop_batch(&P.vq, e, 8, iov, 8), 8);
	for (int i = 0; i < 8; i++) {
		cr_expect_eq(e[i].iov, &iov[i * 8]);
		cr_expect_eq(e[i].iov[0].base, sim_ptr(&P.m, data + 64u * (unsigned)i));
	}
	/* complete out of order: 7..0 */
	for (int i = 7; i >= 0; i--)
		cr_assert_eq(vdev_vq_push(&P.vq, &e[i], (uint32_t)i), 0);
	vdev_vq_publish(&P.vq);
	for (int i = 7; i >= 0; i--) {
		uint32_t len;
		cr_assert_eq(drv_get_used(&P.drv, &len), &tok[i]);
		cr_expect_eq(len, (uint32_t)i);
	}
	cr_expect_eq(P.drv.errors, 0, "%s", P.drv.last_error);
}

BOTH(indirect_chain)
{
	struct vdev_vq_elem e;

	setup(packed, F(INDIRECT_DESC), 4);
	uint64_t h = sim_alloc(&P.m, 8, 8), d = sim_alloc(&P.m, 100, 8), s = sim_alloc(&P.m, 1, 1);
	struct drv_buf b[3] = {rd(h, 8), wr(d, 100), wr(s, 1)};

	add(b, 3, true, 1);
	cr_assert_eq(pop(&e), 1);
	cr_expect_eq(e.error, 0);
	cr_expect_eq(e.ndescs, 1, "an indirect chain takes one ring slot");
	cr_expect_eq(e.n_out, 1);
	cr_expect_eq(e.n_in, 2);
	cr_expect_eq(e.in_bytes, 101);
	complete_and_reap(&e, 101, 1, 101);
}

BOTH(indirect_without_the_feature_is_rejected_and_the_queue_goes_on)
{
	struct vdev_vq_elem e;

	/* The driver side may use indirect; the device did not negotiate it. */
	cr_assert_eq(sim_pair_init(&P, 4, feats(packed, 0), 1u << 20, false), 0);
	P.drv.indirect_ok = true;
	P.drv.max_indirect = 4;
	P.drv.indirect_pool = sim_alloc(&P.m, 4 * 4 * 16, 16);
	uint64_t d = sim_alloc(&P.m, 64, 8);
	struct drv_buf b[2] = {rd(d, 8), wr(d + 8, 8)};
	add(b, 2, true, 1);
	cr_assert_eq(pop(&e), 1);
	cr_expect_eq(e.error, VDEV_ENOTSUP);
	cr_expect_eq(e.n_out + e.n_in, 0);
	complete_and_reap(&e, 0, 1, 0);
	/* a normal chain afterwards works */
	add(b, 2, false, 2);
	cr_assert_eq(pop(&e), 1);
	cr_expect_eq(e.error, 0);
	complete_and_reap(&e, 8, 2, 8);
	cr_expect_not(vdev_vq_is_broken(&P.vq));
}

BOTH(buffer_straddling_two_regions_becomes_two_segments)
{
	struct vdev_vq_elem e;

	setup(packed, 0, 4);
	uint64_t g = sim_straddle_gpa(&P.m, 100);
	struct drv_buf b = wr(g, 300);
	add(&b, 1, false, 1);
	cr_assert_eq(pop(&e), 1);
	cr_expect_eq(e.error, 0);
	cr_assert_eq(e.n_in, 2);
	cr_expect_eq(e.iov[0].len, 100);
	cr_expect_eq(e.iov[1].len, 200);
	cr_expect_eq(e.iov[1].base, P.m.host[1]);
	complete_and_reap(&e, 300, 1, 300);
}

/* A chain whose buffer is bad is rejected; the next one is served. */
static void expect_rejected(bool packed, struct drv_buf bad, int err)
{
	struct vdev_vq_elem e;

	setup(packed, 0, 4);
	uint64_t ok = sim_alloc(&P.m, 32, 8);
	add(&bad, 1, false, 1);
	struct drv_buf good = wr(ok, 32);
	add(&good, 1, false, 2);
	cr_assert_eq(pop(&e), 1);
	cr_expect_eq(e.error, err, "got %d want %d", e.error, err);
	cr_expect_eq(e.n_out + e.n_in, 0);
	cr_expect_eq(e.in_bytes, 0);
	complete_and_reap(&e, 77, 1, 0); /* clamped: a rejected chain has no bytes */
	cr_assert_eq(pop(&e), 1);
	cr_expect_eq(e.error, 0);
	complete_and_reap(&e, 32, 2, 32);
	cr_expect_not(vdev_vq_is_broken(&P.vq));
	struct vdev_vq_stats st;
	vdev_vq_get_stats(&P.vq, &st);
	cr_expect_eq(st.rejected, 1);
	cr_expect_eq(st.popped, 2);
}

BOTH(buffer_in_a_hole_is_rejected) { expect_rejected(packed, rd(SIM_HOLE_GPA, 16), VDEV_EFAULT); }
BOTH(buffer_wrapping_2_64_is_rejected)
{
	expect_rejected(packed, rd(UINT64_MAX - 7, 16), VDEV_EOVERFLOW);
}
BOTH(writable_buffer_in_read_only_memory_is_rejected)
{
	expect_rejected(packed, wr(SIM_RO_GPA, 16), VDEV_EROFS);
}

BOTH(readable_buffer_in_read_only_memory_is_fine)
{
	struct vdev_vq_elem e;

	setup(packed, 0, 4);
	struct drv_buf b = rd(SIM_RO_GPA + 64, 16);
	add(&b, 1, false, 1);
	cr_assert_eq(pop(&e), 1);
	cr_expect_eq(e.error, 0);
	cr_expect_eq(e.n_out, 1);
	complete_and_reap(&e, 0, 1, 0);
}

BOTH(readable_after_writable_is_rejected)
{
	struct vdev_vq_elem e;

	setup(packed, 0, 4);
	uint64_t d = sim_alloc(&P.m, 64, 8);
	struct drv_buf b[2] = {wr(d, 8), rd(d + 8, 8)};
	add(b, 2, false, 1);
	cr_assert_eq(pop(&e), 1);
	cr_expect_eq(e.error, VDEV_EPROTO);
	complete_and_reap(&e, 0, 1, 0);
}

BOTH(total_length_over_4g_is_rejected)
{
	struct vdev_vq_elem e;

	/* Three descriptors of 2 GiB each (the addresses are never touched
	 * because the length check comes first). */
	setup(packed, 0, 4);
	struct drv_buf b[3] = {rd(SIM_R0_GPA, 0x80000000u), rd(SIM_R0_GPA, 0x80000000u),
			       rd(SIM_R0_GPA, 16)};
	add(b, 3, false, 1);
	cr_assert_eq(pop(&e), 1);
	cr_expect(e.error == VDEV_EOVERFLOW || e.error == VDEV_EFAULT);
	cr_expect_eq(e.error, VDEV_EFAULT, "the first 2 GiB do not fit guest memory");
	complete_and_reap(&e, 0, 1, 0);
}

BOTH(exactly_4g_minus_1_passes_length_check_but_4g_does_not)
{
	struct vdev_vq_elem e;
	struct vdev_mem_region big;
	struct vdev_mem bigmem;

	/* A fake 8 GiB region at a high address whose host pointer is never
	 * dereferenced: only iov pointers are computed. */
	setup(packed, 0, 4);
	big = (struct vdev_mem_region){.gpa = 0x100000000ull, .size = 0x200000000ull,
				       .hva = (void *)(uintptr_t)0x10000000};
	struct vdev_mem_region regs[4] = {P.m.regions[0], P.m.regions[1], P.m.regions[2], big};
	if (sizeof(void *) < 8) {
		/* A 32-bit host cannot map 8 GiB: the region is refused, not
		 * truncated (scripts/cross.sh armhf). */
		cr_expect_eq(vdev_mem_init(&bigmem, regs, 4), VDEV_EINVAL);
		return;
	}
	cr_assert_eq(vdev_mem_init(&bigmem, regs, 4), 0);
	vdev_vq_stop(&P.vq);
	cr_assert_eq(vdev_vq_start(&P.vq, &bigmem, P.features), 0);
	struct drv_buf ok[2] = {rd(0x100000000ull, 0xffffffffu), rd(0x100000000ull, 0)};
	add(ok, 2, false, 1);
	cr_assert_eq(pop(&e), 1);
	cr_expect_eq(e.error, 0);
	cr_expect_eq(e.out_bytes, 0xffffffffu);
	cr_assert_eq(vdev_vq_push(&P.vq, &e, 0), 0);
	vdev_vq_publish(&P.vq);
	uint32_t len;
	cr_assert_eq(drv_get_used(&P.drv, &len), &tok[1]);
	struct drv_buf bad[2] = {rd(0x100000000ull, 0xffffffffu), rd(0x100000000ull, 1)};
	add(bad, 2, false, 2);
	cr_assert_eq(pop(&e), 1);
	cr_expect_eq(e.error, VDEV_EOVERFLOW);
	complete_and_reap(&e, 0, 2, 0);
}

BOTH(more_segments_than_the_iov_holds_is_rejected)
{
	struct vdev_vq_elem e;

	setup(packed, 0, 8);
	uint64_t d = sim_alloc(&P.m, 64, 8);
	struct drv_buf b[4] = {rd(d, 8), rd(d + 8, 8), rd(d + 16, 8), wr(d + 24, 8)};
	add(b, 4, false, 1);
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 3), 1);
	cr_expect_eq(e.error, VDEV_E2BIG);
	complete_and_reap(&e, 0, 1, 0);
	add(b, 4, false, 2);
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 4), 1);
	cr_expect_eq(e.error, 0);
	complete_and_reap(&e, 8, 2, 8);
}

BOTH(zero_length_descriptors_yield_no_segment)
{
	struct vdev_vq_elem e;

	setup(packed, 0, 4);
	uint64_t d = sim_alloc(&P.m, 64, 8);
	struct drv_buf b[3] = {rd(d, 0), wr(d, 0), wr(d + 8, 4)};
	add(b, 3, false, 1);
	cr_assert_eq(pop(&e), 1);
	cr_expect_eq(e.error, 0);
	cr_expect_eq(e.n_out, 0);
	cr_expect_eq(e.n_in, 1);
	cr_expect_eq(e.ndescs, 3);
	complete_and_reap(&e, 4, 1, 4);
}

BOTH(written_length_is_clamped_to_the_writable_bytes)
{
	struct vdev_vq_elem e;

	setup(packed, 0, 4);
	uint64_t d = sim_alloc(&P.m, 64, 8);
	struct drv_buf b[2] = {rd(d, 8), wr(d + 8, 8)};
	add(b, 2, false, 1);
	cr_assert_eq(pop(&e), 1);
	complete_and_reap(&e, 1000, 1, 8);
}

BOTH(push_without_pop_and_on_a_stopped_queue_is_refused)
{
	struct vdev_vq_elem e = {0};

	setup(packed, 0, 4);
	cr_expect_eq(vdev_vq_push(&P.vq, &e, 0), VDEV_EINVAL);
	vdev_vq_stop(&P.vq);
	cr_expect_eq(vdev_vq_push(&P.vq, &e, 0), VDEV_EPERM);
	cr_expect_eq(pop(&e), VDEV_EPERM);
	cr_expect_not(vdev_vq_publish(&P.vq));
}

BOTH(in_order_requires_in_order_pushes)
{
	struct vdev_vq_elem e[2];

	setup(packed, F(IN_ORDER), 4);
	uint64_t d = sim_alloc(&P.m, 64, 8);
	struct drv_buf b = wr(d, 8);
	add(&b, 1, false, 1);
	add(&b, 1, false, 2);
	cr_assert_eq(vdev_vq_pop_batch(&P.vq, e, 2, iov, 8), 2);
	cr_expect_eq(vdev_vq_push(&P.vq, &e[1], 8), VDEV_EINVAL);
	cr_expect_eq(vdev_vq_push(&P.vq, &e[0], 8), 0);
	cr_expect_eq(vdev_vq_push(&P.vq, &e[1], 8), 0);
	vdev_vq_publish(&P.vq);
	uint32_t len;
	cr_expect_eq(drv_get_used(&P.drv, &len), &tok[1]);
	cr_expect_eq(drv_get_used(&P.drv, &len), &tok[2]);
}

BOTH(notifications_follow_the_no_interrupt_flag_without_event_idx)
{
	struct vdev_vq_elem e;

	setup(packed, 0, 8);
	uint64_t d = sim_alloc(&P.m, 64, 8);
	struct drv_buf b = wr(d, 8);
	add(&b, 1, false, 1);
	cr_assert_eq(pop(&e), 1);
	cr_assert_eq(vdev_vq_push(&P.vq, &e, 0), 0);
	cr_expect(vdev_vq_publish(&P.vq), "callbacks enabled: notify");
	drv_disable_cb(&P.drv);
	add(&b, 1, false, 2);
	cr_assert_eq(pop(&e), 1);
	cr_assert_eq(vdev_vq_push(&P.vq, &e, 0), 0);
	cr_expect_not(vdev_vq_publish(&P.vq), "callbacks disabled: no notify");
}

BOTH(event_idx_notifies_exactly_when_the_driver_asked)
{
	struct vdev_vq_elem e;
	uint32_t len;
	uint64_t d;

	setup(packed, F(EVENT_IDX), 16);
	d = sim_alloc(&P.m, 64, 8);
	struct drv_buf b = wr(d, 8);
	/* Ask for a notification after the 5th used buffer only. */
	drv_enable_cb_delayed(&P.drv, 5);
	for (int i = 0; i < 12; i++)
		add(&b, 1, false, i);
	int notified_at = -1, notifications = 0;
	for (int i = 0; i < 12; i++) {
		cr_assert_eq(pop(&e), 1);
		cr_assert_eq(vdev_vq_push(&P.vq, &e, 0), 0);
		if (vdev_vq_publish(&P.vq)) {
			notifications++;
			if (notified_at < 0)
				notified_at = i;
		}
	}
	/* The very first publish may notify (no history yet); after that only
	 * the 5th. */
	cr_expect(notifications <= 2, "notifications %d", notifications);
	cr_expect(notified_at == 0 || notified_at == 4, "first notification at %d", notified_at);
	for (int i = 0; i < 12; i++)
		cr_assert_eq(drv_get_used(&P.drv, &len), &tok[i]);
	cr_expect_eq(P.drv.errors, 0, "%s", P.drv.last_error);
}

BOTH(device_suppresses_kicks_when_asked)
{
	struct vdev_vq_elem e;

	setup(packed, 0, 8);
	uint64_t d = sim_alloc(&P.m, 64, 8);
	struct drv_buf b = wr(d, 8);
	add(&b, 1, false, 1);
	cr_expect(drv_kick_prepare(&P.drv), "notifications on by default");
	vdev_vq_disable_notify(&P.vq);
	add(&b, 1, false, 2);
	cr_expect_not(drv_kick_prepare(&P.drv), "device is polling");
	cr_expect(vdev_vq_enable_notify(&P.vq), "work is already waiting");
	cr_assert_eq(pop(&e), 1);
	cr_assert_eq(vdev_vq_push(&P.vq, &e, 0), 0);
	cr_assert_eq(pop(&e), 1);
	cr_assert_eq(vdev_vq_push(&P.vq, &e, 0), 0);
	cr_expect_eq(pop(&e), 0);
	cr_expect_not(vdev_vq_enable_notify(&P.vq));
	add(&b, 1, false, 3);
	cr_expect(drv_kick_prepare(&P.drv));
}

BOTH(event_idx_empty_pop_rearms_so_no_kick_is_missed)
{
	struct vdev_vq_elem e;

	setup(packed, F(EVENT_IDX), 8);
	uint64_t d = sim_alloc(&P.m, 64, 8);
	struct drv_buf b = wr(d, 8);
	for (int round = 0; round < 20; round++) {
		add(&b, 1, false, round);
		add(&b, 1, false, 100 + round);
		bool kick = drv_kick_prepare(&P.drv);
		cr_expect(kick, "round %d: the device went idle, so it must be kicked", round);
		cr_assert_eq(pop(&e), 1);
		cr_assert_eq(vdev_vq_push(&P.vq, &e, 0), 0);
		cr_assert_eq(pop(&e), 1);
		cr_assert_eq(vdev_vq_push(&P.vq, &e, 0), 0);
		cr_expect_eq(pop(&e), 0, "drained: this re-arms avail_event");
		vdev_vq_publish(&P.vq);
		uint32_t len;
		cr_assert_not_null(drv_get_used(&P.drv, &len));
		cr_assert_not_null(drv_get_used(&P.drv, &len));
	}
}

BOTH(stop_and_start_keep_the_indices)
{
	struct vdev_vq_elem e;
	struct vdev_vq_state st;

	setup(packed, 0, 4);
	uint64_t d = sim_alloc(&P.m, 64, 8);
	struct drv_buf b = wr(d, 8);
	for (int i = 0; i < 3; i++) {
		add(&b, 1, false, i);
		cr_assert_eq(pop(&e), 1);
		complete_and_reap(&e, 1, i, 1);
	}
	vdev_vq_stop(&P.vq);
	vdev_vq_get_state(&P.vq, &st);
	cr_expect_eq(st.avail_idx, 3);
	cr_expect_eq(st.used_idx, 3);
	cr_expect_eq(vdev_vq_set_state(&P.vq, &st), 0);
	cr_assert_eq(vdev_vq_start(&P.vq, &P.m.mem, P.features), 0);
	cr_expect_eq(vdev_vq_set_state(&P.vq, &st), VDEV_EBUSY, "not while live");
	for (int i = 3; i < 10; i++) {
		add(&b, 1, false, i);
		cr_assert_eq(pop(&e), 1);
		complete_and_reap(&e, 2, i, 2);
	}
}

BOTH(reset_returns_to_the_initial_state)
{
	setup(packed, 0, 8);
	cr_expect_eq(vdev_vq_set_size(&P.vq, 4), VDEV_EBUSY, "live queue");
	vdev_vq_reset(&P.vq);
	cr_expect_not(vdev_vq_is_live(&P.vq));
	cr_expect_eq(vdev_vq_size(&P.vq), 8);
	uint64_t dsc, drv, dev;
	vdev_vq_addrs(&P.vq, &dsc, &drv, &dev);
	cr_expect_eq(dsc + drv + dev, 0);
	cr_expect_eq(vdev_vq_set_size(&P.vq, 9), VDEV_EINVAL, "above max");
	cr_expect_eq(vdev_vq_set_size(&P.vq, 0), VDEV_EINVAL);
}

BOTH(indirect_table_errors_reject_the_chain)
{
	struct vdev_vq_elem e;

	setup(packed, F(INDIRECT_DESC), 4);
	uint64_t d = sim_alloc(&P.m, 256, 16);
	struct drv_buf b[2] = {rd(d, 8), wr(d + 8, 8)};
	/* Valid indirect chain; then corrupt its table through the pool. */
	add(b, 2, true, 1);
	cr_assert_eq(pop(&e), 1);
	cr_expect_eq(e.error, 0);
	complete_and_reap(&e, 0, 1, 0);

	/* nested: first entry of the table marked INDIRECT */
	add(b, 2, true, 2);
	/* find the table the driver used: the pool entry of the buffer */
	uint8_t *tbl = NULL;
	for (unsigned s = 0; s < 4; s++) {
		uint8_t *t = sim_ptr(&P.m, P.drv.indirect_pool + (uint64_t)s * 64u * 16u);
		uint64_t addr;
		addr = sim_get_le64(t);
		if (addr == d && P.drv.token[s] == &tok[2])
			tbl = t;
	}
	cr_assert_not_null(tbl);
	uint16_t fl = 4; /* VIRTQ_DESC_F_INDIRECT */
	sim_put_le16(tbl + (packed ? 14 : 12), fl);
	cr_assert_eq(pop(&e), 1);
	/* both layouts: a nested table is rejected, never read as a buffer */
	cr_expect_eq(e.error, VDEV_EPROTO);
	complete_and_reap(&e, 0, 2, 0);
}

/*
 * Model-based stress: random chains (direct/indirect, straddling regions,
 * zero-length pieces), random batch pops and out-of-order completions,
 * data patterns checked both ways, every buffer completed exactly once.
 * Each token owns a disjoint slice of guest memory so patterns never clash.
 */
#define NTOK 256
#define SLICE 4096u
#define PIECE 680u

struct pending {
	struct vdev_vq_elem e;
	int t;
};

static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static void stress(bool packed, uint64_t extra, uint16_t size, unsigned rounds,
		   unsigned min_added)
{
	static struct drv_buf chains[NTOK][6];
	static unsigned nbufs[NTOK];
	static uint32_t expect_len[NTOK];
	static bool outstanding[NTOK];
	static struct pending pend[NTOK];
	static struct vdev_iov big_iov[64 * 16];
	unsigned npend = 0, added = 0, reaped = 0;
	int straddle_owner = -1;
	bool in_order = (extra & F(IN_ORDER)) != 0;

	memset(outstanding, 0, sizeof(outstanding));
	cr_assert_eq(sim_pair_init(&P, size, feats(packed, extra), 4u << 20, false), 0);
	uint64_t arena = sim_alloc(&P.m, NTOK * SLICE, 16);
	for (unsigned r = 0; r < rounds; r++) {
		unsigned op = rnd() % 4;
		if (op <= 1) { /* driver adds */
			int t = (int)(rnd() % NTOK);
			if (outstanding[t])
				continue;
			unsigned n = 1 + rnd() % 5, nw = rnd() % (n + 1);
			bool straddle = straddle_owner < 0 && rnd() % 8 == 0;
			for (unsigned i = 0; i < n; i++) {
				uint32_t len = rnd() % 3 == 0 ? rnd() % 4 : rnd() % PIECE;
				uint64_t g = arena + (uint64_t)t * SLICE + i * PIECE;
				if (straddle && i == 0)
					g = sim_straddle_gpa(&P.m, 1 + rnd() % 64);
				chains[t][i] = (struct drv_buf){g, len, i >= n - nw};
			}
			bool ind = (extra & F(INDIRECT_DESC)) && rnd() % 2;
			for (unsigned i = 0; i < n - nw; i++)
				for (uint32_t k = 0; k < chains[t][i].len; k++)
					*(uint8_t *)sim_ptr(&P.m, chains[t][i].gpa + k) =
						(uint8_t)(t + (int)k);
			if (drv_add(&P.drv, chains[t], n, ind, &tok[t]) == 0) {
				nbufs[t] = n;
				outstanding[t] = true;
				if (straddle)
					straddle_owner = t;
				added++;
			}
		} else if (op == 2) { /* device pops a batch and completes some */
			struct vdev_vq_elem es[16];
			int got = vdev_vq_pop_batch(&P.vq, es, 1 + rnd() % 16, big_iov, 64);
			cr_assert(got >= 0, "pop %d", got);
			for (int i = 0; i < got; i++) {
				struct vdev_vq_elem *e = &es[i];
				cr_assert_eq(e->error, 0, "unexpected rejection %d", e->error);
				cr_assert(e->id < size);
				int t = (int)((int *)P.drv.token[e->id] - tok);
				cr_assert(t >= 0 && t < NTOK && outstanding[t], "unknown chain id %u", e->id);
				/* segments are exactly the chain's non-empty buffers */
				unsigned seg = 0;
				for (unsigned k = 0; k < nbufs[t]; k++) {
					uint64_t left = chains[t][k].len;
					if (left == 0)
						continue;
					cr_assert(seg < (unsigned)(e->n_out + e->n_in));
					cr_assert_eq(e->iov[seg].base, sim_ptr(&P.m, chains[t][k].gpa));
					while (left > 0) {
						cr_assert(seg < (unsigned)(e->n_out + e->n_in));
						cr_assert(e->iov[seg].len <= left);
						left -= e->iov[seg].len;
						seg++;
					}
				}
				cr_assert_eq(seg, (unsigned)(e->n_out + e->n_in));
				uint8_t buf[4096];
				size_t nread = vdev_iov_to_buf(e->iov, e->n_out, 0, buf, sizeof(buf));
				cr_assert_eq(nread, e->out_bytes);
				size_t off = 0;
				for (unsigned k = 0; k < nbufs[t] && !chains[t][k].write; k++)
					for (uint32_t j = 0; j < chains[t][k].len; j++, off++)
						cr_assert_eq(buf[off], (uint8_t)(t + (int)j));
				uint32_t w = e->in_bytes ? rnd() % (e->in_bytes + 1) : 0;
				memset(buf, (uint8_t)~t, sizeof(buf));
				vdev_iov_from_buf(e->iov + e->n_out, e->n_in, 0, buf, w);
				expect_len[t] = w;
				pend[npend++] = (struct pending){*e, t};
			}
			while (npend > 0 && rnd() % 3 != 0) {
				unsigned k = in_order ? 0 : rnd() % npend;
				cr_assert_eq(vdev_vq_push(&P.vq, &pend[k].e, expect_len[pend[k].t]), 0);
				memmove(&pend[k], &pend[k + 1], (npend - k - 1) * sizeof(pend[0]));
				npend--;
			}
			if (rnd() % 2)
				vdev_vq_publish(&P.vq);
		} else { /* driver reaps */
			uint32_t len;
			void *tk;
			while ((tk = drv_get_used(&P.drv, &len)) != NULL) {
				int t = (int)((int *)tk - tok);
				cr_assert(t >= 0 && t < NTOK && outstanding[t],
					  "completed twice or never added: %d", t);
				cr_assert_eq(len, expect_len[t]);
				uint32_t seen = 0;
				for (unsigned k = 0; k < nbufs[t] && seen < len; k++) {
					if (!chains[t][k].write)
						continue;
					for (uint32_t j = 0; j < chains[t][k].len && seen < len; j++, seen++)
						cr_assert_eq(*(uint8_t *)sim_ptr(&P.m, chains[t][k].gpa + j),
							     (uint8_t)~t);
				}
				outstanding[t] = false;
				if (straddle_owner == t)
					straddle_owner = -1;
				reaped++;
			}
			cr_assert_eq(P.drv.errors, 0, "%s", P.drv.last_error);
		}
	}
	cr_expect(added >= min_added, "stress added only %u chains", added);
	cr_expect(reaped + npend + 2u * size >= added, "added %u, reaped only %u", added, reaped);
	cr_expect_not(vdev_vq_is_broken(&P.vq));
}

BOTH(stress_random_chains) { stress(packed, F(INDIRECT_DESC), 64, 20000, 2500); }
BOTH(stress_random_chains_event_idx)
{
	stress(packed, F(INDIRECT_DESC) | F(EVENT_IDX), 32, 20000, 2500);
}
BOTH(stress_in_order) { stress(packed, F(IN_ORDER), 16, 10000, 1250); }
/* tiny rings: most chains do not fit, but those that do must work */
BOTH(stress_odd_sizes) { stress(packed, F(INDIRECT_DESC), packed ? 7 : 2, 10000, 500); }

/* vdev_vq_unpop(): the latest pops go back and come out again, unchanged. */
BOTH(unpop_returns_latest_chains)
{
	struct vdev_vq_elem e[3], again;
	static struct vdev_iov iv[3][4];

	setup(packed, 0, 8);
	uint64_t b = sim_alloc(&P.m, 4096, 8);
	/* go round the ring twice so the packed wrap counter flips under unpop */
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 3; i++) {
			struct drv_buf d[2] = {rd(b + 64u * (unsigned)i, 8), wr(b + 1024 + 64u * (unsigned)i, 16)};
			add(d, 2, false, i);
		}
		for (int i = 0; i < 3; i++)
			cr_assert_eq(vdev_vq_pop(&P.vq, &e[i], iv[i], 4), 1);
		/* not the latest pops, or more than in flight: refused, no change */
		cr_expect_eq(vdev_vq_unpop(&P.vq, &e[0], 1), VDEV_EINVAL);
		cr_expect_eq(vdev_vq_unpop(&P.vq, &e[0], 2), VDEV_EINVAL);
		struct vdev_vq_elem many[4] = {e[0], e[1], e[2], e[2]};
		cr_expect_eq(vdev_vq_unpop(&P.vq, many, 4), VDEV_EINVAL);
		cr_expect_eq(vdev_vq_unpop(&P.vq, &e[1], 0), 0);
		/* the last two go back and come out again in order */
		cr_assert_eq(vdev_vq_unpop(&P.vq, &e[1], 2), 0);
		for (int i = 1; i < 3; i++) {
			cr_assert_eq(vdev_vq_pop(&P.vq, &again, iv[i], 4), 1);
			cr_expect_eq(again.id, e[i].id);
			cr_expect_eq(again.seq, e[i].seq);
			cr_expect_eq(again.out_bytes, 8);
			cr_expect_eq(again.in_bytes, 16);
			e[i] = again;
		}
		cr_expect_eq(pop(&again), 0, "nothing else is available");
		for (int i = 0; i < 3; i++)
			complete_and_reap(&e[i], 0, i, 0);
	}
	struct vdev_vq_stats st;
	vdev_vq_get_stats(&P.vq, &st);
	cr_expect_eq(st.popped, 9, "unpopped chains are not counted twice");
	cr_expect_eq(st.pushed, 9);
}

BOTH(unpop_needs_a_live_queue)
{
	struct vdev_vq_elem e;

	setup(packed, 0, 4);
	uint64_t b = sim_alloc(&P.m, 64, 8);
	struct drv_buf d = wr(b, 16);
	add(&d, 1, false, 0);
	cr_assert_eq(pop(&e), 1);
	vdev_vq_stop(&P.vq);
	cr_expect_eq(vdev_vq_unpop(&P.vq, &e, 1), VDEV_EPERM);
}

BOTH(push_batch_completes_chains_with_their_lengths)
{
	struct vdev_vq_elem e[6];
	uint32_t lens[6] = {1, 64, 0, 1000, 7, 33};

	setup(packed, 0, 8);
	uint64_t data = sim_alloc(&P.m, 6 * 64, 8);
	for (int i = 0; i < 6; i++) {
		struct drv_buf b = wr(data + 64u * (unsigned)i, 64);
		add(&b, 1, false, i);
	}
	cr_assert_eq(vdev_vq_pop_batch(&P.vq, e, 6, iov, 8), 6);
	/* out of order is fine without IN_ORDER; 1000 is clamped to 64 */
	struct vdev_vq_elem order[6] = {e[5], e[0], e[3], e[1], e[4], e[2]};
	uint32_t olens[6] = {lens[5], lens[0], lens[3], lens[1], lens[4], lens[2]};
	cr_assert_eq(vdev_vq_push_batch(&P.vq, order, olens, 6), 0);
	cr_expect_eq(vdev_vq_push_batch(&P.vq, order, olens, 0), 0, "empty batch");
	vdev_vq_publish(&P.vq);
	static const int want_tok[6] = {5, 0, 3, 1, 4, 2};
	static const uint32_t want_len[6] = {33, 1, 64, 64, 7, 0};
	for (int i = 0; i < 6; i++) {
		uint32_t len;
		cr_assert_eq(drv_get_used(&P.drv, &len), &tok[want_tok[i]]);
		cr_expect_eq(len, want_len[i]);
	}
	cr_expect_eq(P.drv.errors, 0, "%s", P.drv.last_error);
	struct vdev_vq_stats st;
	vdev_vq_get_stats(&P.vq, &st);
	cr_expect_eq(st.pushed, 6);
}

/* A bad element anywhere in the batch: nothing is staged, and the same
 * chains can then be completed normally. */
BOTH(push_batch_is_all_or_nothing)
{
	struct vdev_vq_elem e[3], bad[3];
	uint32_t lens[3] = {8, 8, 8};

	setup(packed, 0, 4);
	uint64_t d = sim_alloc(&P.m, 64, 8);
	for (int i = 0; i < 3; i++) {
		struct drv_buf b = wr(d + 16u * (unsigned)i, 8);
		add(&b, 1, false, i);
	}
	cr_assert_eq(vdev_vq_pop_batch(&P.vq, e, 3, iov, 8), 3);
	memcpy(bad, e, sizeof(bad));
	if (packed)
		bad[2].ndescs = 0; /* not a chain of this queue */
	else
		bad[2].id = 4; /* beyond the queue size */
	cr_expect_eq(vdev_vq_push_batch(&P.vq, bad, lens, 3), VDEV_EINVAL);
	cr_expect_eq(vdev_vq_push_batch(&P.vq, e, lens, 4), VDEV_EINVAL, "more than in flight");
	cr_expect_not(vdev_vq_publish(&P.vq), "nothing was staged");
	uint32_t len;
	cr_expect_null(drv_get_used(&P.drv, &len));
	cr_assert_eq(vdev_vq_push_batch(&P.vq, e, lens, 3), 0);
	vdev_vq_publish(&P.vq);
	for (int i = 0; i < 3; i++)
		cr_expect_eq(drv_get_used(&P.drv, &len), &tok[i]);
	cr_expect_eq(P.drv.errors, 0, "%s", P.drv.last_error);
	cr_expect_eq(vdev_vq_push_batch(&P.vq, e, lens, 1), VDEV_EINVAL, "none in flight");
	vdev_vq_stop(&P.vq);
	cr_expect_eq(vdev_vq_push_batch(&P.vq, e, lens, 1), VDEV_EPERM);
}

BOTH(push_batch_keeps_in_order)
{
	struct vdev_vq_elem e[3];
	uint32_t lens[3] = {8, 8, 8};

	setup(packed, F(IN_ORDER), 4);
	uint64_t d = sim_alloc(&P.m, 64, 8);
	for (int i = 0; i < 3; i++) {
		struct drv_buf b = wr(d, 8);
		add(&b, 1, false, i);
	}
	cr_assert_eq(vdev_vq_pop_batch(&P.vq, e, 3, iov, 8), 3);
	struct vdev_vq_elem swapped[2] = {e[1], e[0]};
	cr_expect_eq(vdev_vq_push_batch(&P.vq, swapped, lens, 2), VDEV_EINVAL);
	cr_expect_eq(vdev_vq_push_batch(&P.vq, &e[1], lens, 2), VDEV_EINVAL, "skips e[0]");
	cr_assert_eq(vdev_vq_push_batch(&P.vq, e, lens, 2), 0);
	cr_assert_eq(vdev_vq_push_batch(&P.vq, &e[2], lens, 1), 0);
	vdev_vq_publish(&P.vq);
	uint32_t len;
	for (int i = 0; i < 3; i++)
		cr_expect_eq(drv_get_used(&P.drv, &len), &tok[i]);
	cr_expect_eq(P.drv.errors, 0, "%s", P.drv.last_error);
}

/* ---- one buffer, one used element ---------------------------------------------- */

/*
 * The driver makes buffer 0 available again while the device holds it
 * (after it was popped, or twice in the ring before one pop takes both).
 * The ring cannot be trusted: the queue breaks, the chains before the
 * duplicate are still the device's, and each of those is completed once,
 * with no used element for the duplicate.
 */
static void offered_twice(bool packed, uint64_t extra, bool indirect, bool one_batch)
{
	struct vdev_vq_elem e[4];
	struct vdev_vq_stats st;
	uint32_t len;

	setup(packed, extra, 8);
	uint64_t d = sim_alloc(&P.m, 256, 8);
	struct drv_buf b[2] = {rd(d, 8), wr(d + 64, 16)};
	add(b, 2, indirect, 1);
	add(b, 2, indirect, 2);
	if (one_batch) {
		drv_offer_again(&P.drv, 0, &b[1]); /* buffer 0: the first one added */
		cr_assert_eq(vdev_vq_pop_batch(&P.vq, e, 4, iov, 16), 2, "the two before it");
	} else {
		cr_assert_eq(vdev_vq_pop_batch(&P.vq, e, 2, iov, 32), 2);
		cr_assert_eq(vdev_vq_pop(&P.vq, &e[2], iov + 64 - 16, 16), 0);
		drv_offer_again(&P.drv, e[0].id, &b[1]);
		cr_expect_eq(vdev_vq_pop(&P.vq, &e[2], iov + 64 - 16, 16), VDEV_EPROTO);
	}
	cr_expect_eq(e[0].id, 0);
	cr_expect_eq(e[0].error, 0);
	cr_expect_eq(e[1].error, 0);
	cr_expect(vdev_vq_is_broken(&P.vq));
	cr_expect_eq(vdev_vq_pop(&P.vq, &e[2], iov + 64 - 16, 16), VDEV_EPROTO, "stays broken");
	vdev_vq_get_stats(&P.vq, &st);
	cr_expect_eq(st.popped, 2, "the duplicate was not taken");
	/* the two the device holds complete once each, and only once */
	cr_assert_eq(vdev_vq_push(&P.vq, &e[0], 16), 0);
	cr_expect_eq(vdev_vq_push(&P.vq, &e[0], 16), VDEV_EINVAL, "already completed");
	cr_assert_eq(vdev_vq_push(&P.vq, &e[1], 16), 0);
	vdev_vq_publish(&P.vq);
	cr_expect_eq(drv_get_used(&P.drv, &len), &tok[1]);
	cr_expect_eq(drv_get_used(&P.drv, &len), &tok[2]);
	cr_expect_null(drv_get_used(&P.drv, &len), "no used element for the duplicate");
	cr_expect_eq(P.drv.errors, 0, "%s", P.drv.last_error);
	vdev_vq_get_stats(&P.vq, &st);
	cr_expect_eq(st.pushed, 2);
}

BOTH(buffer_offered_again_while_held_breaks_the_queue) { offered_twice(packed, 0, false, false); }
BOTH(buffer_twice_in_one_batch_breaks_the_queue) { offered_twice(packed, 0, false, true); }
BOTH(indirect_buffer_offered_again_breaks_the_queue)
{
	offered_twice(packed, F(INDIRECT_DESC), true, false);
}
BOTH(indirect_buffer_twice_in_one_batch_breaks_the_queue)
{
	offered_twice(packed, F(INDIRECT_DESC), true, true);
}
BOTH(in_order_buffer_offered_again_breaks_the_queue)
{
	offered_twice(packed, F(IN_ORDER), false, false);
}
BOTH(in_order_buffer_twice_in_one_batch_breaks_the_queue)
{
	offered_twice(packed, F(IN_ORDER) | F(INDIRECT_DESC), true, true);
}

/* After the device completed a buffer, the driver may offer it again:
 * that is the normal life of a buffer, round the ring many times. */
BOTH(completed_buffer_may_be_offered_again)
{
	struct vdev_vq_elem e;

	setup(packed, 0, 4);
	uint64_t d = sim_alloc(&P.m, 64, 8);
	struct drv_buf b = wr(d, 8);
	for (int i = 0; i < 20; i++) {
		add(&b, 1, false, i);
		cr_assert_eq(pop(&e), 1);
		cr_expect_eq(e.id, 0, "the driver reuses its only free id");
		complete_and_reap(&e, 8, i, 8);
	}
	cr_expect_not(vdev_vq_is_broken(&P.vq));
}

/* A push for a buffer the queue does not hold writes nothing: pushed
 * already, given back by unpop, from before a stop/start or a reset, or
 * the same buffer twice in one batch. */
BOTH(push_of_a_buffer_not_held_writes_no_used_element)
{
	struct vdev_vq_elem e[2], stale;
	uint32_t lens[2] = {8, 8}, len;

	setup(packed, 0, 4);
	uint64_t d = sim_alloc(&P.m, 64, 8);
	struct drv_buf b = wr(d, 8);
	add(&b, 1, false, 1);
	add(&b, 1, false, 2);
	cr_assert_eq(vdev_vq_pop_batch(&P.vq, e, 2, iov, 8), 2);
	struct vdev_vq_elem twice[2] = {e[0], e[0]};
	cr_expect_eq(vdev_vq_push_batch(&P.vq, twice, lens, 2), VDEV_EINVAL, "one buffer twice");
	cr_expect_not(vdev_vq_publish(&P.vq), "nothing staged");
	cr_assert_eq(vdev_vq_unpop(&P.vq, &e[1], 1), 0);
	cr_expect_eq(vdev_vq_push(&P.vq, &e[1], 8), VDEV_EINVAL, "given back by unpop");
	cr_assert_eq(vdev_vq_push(&P.vq, &e[0], 8), 0);
	cr_expect_eq(vdev_vq_push(&P.vq, &e[0], 8), VDEV_EINVAL, "pushed already");
	vdev_vq_publish(&P.vq);
	cr_expect_eq(drv_get_used(&P.drv, &len), &tok[1]);
	cr_expect_null(drv_get_used(&P.drv, &len));
	/* taken again, then forgotten by a stop/start */
	cr_assert_eq(pop(&e[1]), 1);
	stale = e[1];
	vdev_vq_stop(&P.vq);
	cr_expect_eq(vdev_vq_push(&P.vq, &stale, 8), VDEV_EPERM);
	struct vdev_vq_state st;
	vdev_vq_get_state(&P.vq, &st);
	cr_assert_eq(vdev_vq_start(&P.vq, &P.m.mem, P.features), 0);
	cr_expect_eq(vdev_vq_push(&P.vq, &stale, 8), VDEV_EINVAL, "from before the stop");
	cr_expect_not(vdev_vq_publish(&P.vq));
	cr_expect_null(drv_get_used(&P.drv, &len));
	cr_expect_eq(P.drv.errors, 0, "%s", P.drv.last_error);
	/* and a reset forgets everything */
	vdev_vq_reset(&P.vq);
	cr_expect_eq(vdev_vq_push(&P.vq, &stale, 8), VDEV_EPERM);
}

/* An indirect table that starts in guest memory and runs past its end is
 * rejected as a whole, although the one entry the chain uses (no NEXT) is
 * inside; the queue goes on. */
BOTH(indirect_table_running_out_of_guest_memory_is_rejected)
{
	struct vdev_vq_elem e;

	setup(packed, F(INDIRECT_DESC), 4);
	/* the last 16 bytes of region 1: a hole follows it */
	uint64_t end = P.m.regions[1].gpa + P.m.regions[1].size;
	uint64_t tbl = end - 16, data = sim_alloc(&P.m, 64, 8);
	uint8_t *t = sim_ptr(&P.m, tbl);
	uint32_t dlen = 8;
	uint16_t fl = 2; /* WRITE, no NEXT */
	memset(t, 0, 16);
	sim_put_le64(t, data);
	sim_put_le32(t + 8, dlen);
	sim_put_le16(t + (packed ? 14 : 12), fl);
	if (packed) {
		struct drv_packed_desc pd = {tbl, 32, 0,
					     (uint16_t)(drv_packed_avail_flags(true) | 4u)};
		drv_packed_write_desc(&P.drv, 0, &pd);
	} else {
		struct drv_split_desc sd = {tbl, 32, 4 /* INDIRECT */, 0};
		drv_split_write_desc(&P.drv, 0, &sd);
		drv_split_set_avail(&P.drv, 0, 0);
		drv_split_set_avail_idx(&P.drv, 1);
	}
	cr_assert_eq(pop(&e), 1);
	cr_expect_eq(e.error, VDEV_EFAULT);
	cr_expect_eq(e.n_out + e.n_in, 0);
	cr_expect_not(vdev_vq_is_broken(&P.vq));
	cr_expect_eq(vdev_vq_push(&P.vq, &e, 0), 0);
	/* the same table fully inside guest memory is fine */
	uint64_t ok = sim_alloc(&P.m, 32, 16);
	memcpy(sim_ptr(&P.m, ok), t, 16);
	memset(sim_ptr(&P.m, ok + 16), 0, 16);
	if (packed) {
		struct drv_packed_desc pd = {ok, 16, 1,
					     (uint16_t)(drv_packed_avail_flags(true) | 4u)};
		drv_packed_write_desc(&P.drv, 1, &pd);
	} else {
		struct drv_split_desc sd = {ok, 16, 4, 0};
		drv_split_write_desc(&P.drv, 1, &sd);
		drv_split_set_avail(&P.drv, 1, 1);
		drv_split_set_avail_idx(&P.drv, 2);
	}
	cr_assert_eq(pop(&e), 1);
	cr_expect_eq(e.error, 0);
	cr_expect_eq(e.in_bytes, 8);
}

/* Nested tables are rejected whichever entry asks for one. */
BOTH(indirect_entry_marked_indirect_is_rejected_anywhere_in_the_table)
{
	struct vdev_vq_elem e;

	setup(packed, F(INDIRECT_DESC), 4);
	uint64_t tbl = sim_alloc(&P.m, 48, 16), data = sim_alloc(&P.m, 64, 8);
	uint8_t *t = sim_ptr(&P.m, tbl);
	memset(t, 0, 48);
	for (unsigned i = 0; i < 3; i++) {
		uint64_t a = data + 16u * i;
		uint32_t l = 8;
		/* readable, readable, then the last one INDIRECT (split: chained) */
		uint16_t fl = (uint16_t)(i == 2 ? 4u : (packed ? 0u : 1u));
		uint16_t next = (uint16_t)(i + 1);
		sim_put_le64(t + 16 * i, a);
		sim_put_le32(t + 16 * i + 8, l);
		sim_put_le16(t + 16 * i + (packed ? 14 : 12), fl);
		if (!packed)
			sim_put_le16(t + 16 * i + 14, next);
	}
	if (packed) {
		struct drv_packed_desc pd = {tbl, 48, 0,
					     (uint16_t)(drv_packed_avail_flags(true) | 4u)};
		drv_packed_write_desc(&P.drv, 0, &pd);
	} else {
		struct drv_split_desc sd = {tbl, 48, 4, 0};
		drv_split_write_desc(&P.drv, 0, &sd);
		drv_split_set_avail(&P.drv, 0, 0);
		drv_split_set_avail_idx(&P.drv, 1);
	}
	cr_assert_eq(pop(&e), 1);
	cr_expect_eq(e.error, VDEV_EPROTO);
	cr_expect_eq(e.n_out + e.n_in, 0);
	cr_expect_not(vdev_vq_is_broken(&P.vq));
}
