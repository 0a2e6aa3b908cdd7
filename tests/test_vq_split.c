/* SPDX-License-Identifier: MIT */
/*
 * Split rings: hostile descriptor tables and indices written byte by byte,
 * ring placement checks, index wrap-around.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "drvsim.h"
#include "sim_le.h"
#include "vdev/device.h"

#define F(b) VDEV_BIT(VDEV_F_##b)
#define NEXT 1u
#define WRITE 2u
#define INDIRECT 4u

static struct sim_pair P;
static struct vdev_iov iov[64];
static uint64_t buf;

static void setup(uint64_t extra, uint16_t size)
{
	cr_assert_eq(sim_pair_init(&P, size, F(VERSION_1) | extra, 1u << 20, false), 0);
	buf = sim_alloc(&P.m, 4096, 16);
}

static void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct drv_split_desc d = {addr, len, flags, next};
	drv_split_write_desc(&P.drv, i, &d);
}

/* Make `head` available as the next avail entry. */
static void offer(uint16_t head)
{
	uint16_t idx = P.drv.avail_idx;
	drv_split_set_avail(&P.drv, idx, head);
	drv_split_set_avail_idx(&P.drv, (uint16_t)(idx + 1));
}

static uint32_t used_id_at(uint16_t slot)
{
	uint8_t *u = (uint8_t *)P.drv.device + 4 + 8u * (slot & (P.drv.size - 1));
	uint32_t id;
	id = sim_get_le32(u);
	return id;
}

/* Pop one chain, expect it rejected with `err`, complete it, check the
 * used entry carries its head and the queue still works. */
static void expect_rejected(uint16_t head, int err)
{
	struct vdev_vq_elem e;

	offer(head);
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, err, "error %d, want %d", e.error, err);
	cr_expect_eq(e.id, head);
	cr_expect_eq(e.n_out + e.n_in, 0);
	cr_assert_eq(vdev_vq_push(&P.vq, &e, 0), 0);
	vdev_vq_publish(&P.vq);
	cr_expect_eq(drv_split_used_idx(&P.drv), 1);
	cr_expect_eq(used_id_at(0), head);
	cr_expect_not(vdev_vq_is_broken(&P.vq));
	/* a good chain afterwards is served */
	desc(0, buf, 8, WRITE, 0);
	offer(0);
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, 0);
}

Test(vq_split, rejects_descriptor_self_loop)
{
	setup(0, 8);
	desc(3, buf, 8, NEXT, 3);
	expect_rejected(3, VDEV_ELOOP);
}

Test(vq_split, rejects_descriptor_loop)
{
	setup(0, 8);
	desc(1, buf, 8, NEXT, 2);
	desc(2, buf, 8, NEXT, 5);
	desc(5, buf, 8, NEXT, 1);
	expect_rejected(1, VDEV_ELOOP);
}

Test(vq_split, rejects_next_out_of_range)
{
	setup(0, 8);
	desc(2, buf, 8, NEXT, 8);
	expect_rejected(2, VDEV_ERANGE);
	setup(0, 8);
	desc(2, buf, 8, NEXT, 0xffff);
	expect_rejected(2, VDEV_ERANGE);
}

Test(vq_split, full_length_chain_is_fine_but_not_longer)
{
	struct vdev_vq_elem e;

	setup(0, 4);
	for (uint16_t i = 0; i < 4; i++)
		desc(i, buf + 16u * i, 16, i < 3 ? NEXT : 0, (uint16_t)(i + 1));
	offer(0);
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, 0);
	cr_expect_eq(e.n_out, 4);
}

Test(vq_split, rejects_indirect_nested)
{
	setup(F(INDIRECT_DESC), 8);
	uint64_t tbl = sim_alloc(&P.m, 32, 16);
	uint8_t *t = sim_ptr(&P.m, tbl);
	/* entry 0 is itself indirect */
	uint64_t a = tbl;
	uint32_t l = 32;
	uint16_t f = INDIRECT, n = 0;
	sim_put_le64(t, a), sim_put_le32(t + 8, l), sim_put_le16(t + 12, f), sim_put_le16(t + 14, n);
	desc(0, tbl, 32, INDIRECT, 0);
	expect_rejected(0, VDEV_EPROTO);
}

Test(vq_split, rejects_indirect_with_next)
{
	setup(F(INDIRECT_DESC), 8);
	uint64_t tbl = sim_alloc(&P.m, 32, 16);
	desc(0, tbl, 32, INDIRECT | NEXT, 1);
	desc(1, buf, 8, 0, 0);
	expect_rejected(0, VDEV_EPROTO);
}

Test(vq_split, rejects_indirect_of_bad_length)
{
	setup(F(INDIRECT_DESC), 8);
	uint64_t tbl = sim_alloc(&P.m, 64, 16);
	desc(0, tbl, 0, INDIRECT, 0);
	expect_rejected(0, VDEV_EPROTO);
	setup(F(INDIRECT_DESC), 8);
	tbl = sim_alloc(&P.m, 64, 16);
	desc(0, tbl, 24, INDIRECT, 0);
	expect_rejected(0, VDEV_EPROTO);
}

Test(vq_split, rejects_indirect_without_feature)
{
	setup(0, 8);
	uint64_t tbl = sim_alloc(&P.m, 16, 16);
	desc(0, tbl, 16, INDIRECT, 0);
	expect_rejected(0, VDEV_ENOTSUP);
}

Test(vq_split, rejects_indirect_table_outside_memory)
{
	setup(F(INDIRECT_DESC), 8);
	desc(0, SIM_HOLE_GPA, 16, INDIRECT, 0);
	expect_rejected(0, VDEV_EFAULT);
	setup(F(INDIRECT_DESC), 8);
	desc(0, UINT64_MAX - 15, 32, INDIRECT, 0);
	expect_rejected(0, VDEV_EOVERFLOW);
}

/* An indirect table whose `next` links loop or run past its end. */
Test(vq_split, rejects_loops_and_bad_next_inside_indirect)
{
	setup(F(INDIRECT_DESC), 8);
	uint64_t tbl = sim_alloc(&P.m, 32, 16);
	uint8_t *t = sim_ptr(&P.m, tbl);
	uint32_t l = 8;
	uint16_t f = NEXT, n0 = 1, n1 = 0;
	sim_put_le64(t, buf), sim_put_le32(t + 8, l), sim_put_le16(t + 12, f), sim_put_le16(t + 14, n0);
	sim_put_le64(t + 16, buf), sim_put_le32(t + 24, l), sim_put_le16(t + 28, f),
		sim_put_le16(t + 30, n1);
	desc(0, tbl, 32, INDIRECT, 0);
	expect_rejected(0, VDEV_ELOOP);

	setup(F(INDIRECT_DESC), 8);
	tbl = sim_alloc(&P.m, 32, 16);
	t = sim_ptr(&P.m, tbl);
	uint16_t bad = 2; /* table has 2 entries */
	sim_put_le64(t, buf), sim_put_le32(t + 8, l), sim_put_le16(t + 12, f), sim_put_le16(t + 14, bad);
	desc(0, tbl, 32, INDIRECT, 0);
	expect_rejected(0, VDEV_ERANGE);
}

Test(vq_split, rejects_indirect_chain_longer_than_queue)
{
	setup(F(INDIRECT_DESC), 4);
	uint64_t tbl = sim_alloc(&P.m, 16 * 5, 16);
	uint8_t *t = sim_ptr(&P.m, tbl);
	for (uint16_t i = 0; i < 5; i++) {
		uint32_t l = 4;
		uint16_t f = i < 4 ? NEXT : 0, n = (uint16_t)(i + 1);
		sim_put_le64(t + 16 * i, buf), sim_put_le32(t + 16 * i + 8, l);
		sim_put_le16(t + 16 * i + 12, f), sim_put_le16(t + 16 * i + 14, n);
	}
	desc(0, tbl, 16 * 5, INDIRECT, 0);
	expect_rejected(0, VDEV_ELOOP);
}

Test(vq_split, direct_descriptors_then_one_indirect)
{
	struct vdev_vq_elem e;

	/* spec: "zero or more normal chained descriptors followed by a single
	 * descriptor with VIRTQ_DESC_F_INDIRECT" */
	setup(F(INDIRECT_DESC), 8);
	uint64_t tbl = sim_alloc(&P.m, 32, 16);
	uint8_t *t = sim_ptr(&P.m, tbl);
	uint64_t a0 = buf + 100, a1 = buf + 200;
	uint32_t l = 10;
	uint16_t f0 = NEXT | WRITE, f1 = WRITE, n0 = 1, n1 = 0;
	sim_put_le64(t, a0), sim_put_le32(t + 8, l), sim_put_le16(t + 12, f0), sim_put_le16(t + 14, n0);
	sim_put_le64(t + 16, a1), sim_put_le32(t + 24, l), sim_put_le16(t + 28, f1),
		sim_put_le16(t + 30, n1);
	desc(0, buf, 16, NEXT, 1);
	desc(1, tbl, 32, INDIRECT | WRITE /* ignored on a table */, 0);
	offer(0);
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, 0);
	cr_expect_eq(e.n_out, 1);
	cr_expect_eq(e.n_in, 2);
	cr_expect_eq(e.in_bytes, 20);
	cr_expect_eq(e.iov[2].base, sim_ptr(&P.m, a1));
}

Test(vq_split, indirect_table_split_across_regions_or_unaligned)
{
	struct vdev_vq_elem e;

	setup(F(INDIRECT_DESC), 8);
	/* 3-entry table starting 24 bytes before the end of region 0 */
	uint64_t tbl = sim_straddle_gpa(&P.m, 24);
	uint8_t raw[48];
	for (unsigned i = 0; i < 3; i++) {
		uint64_t a = buf + 64u * i;
		uint32_t l = 8;
		uint16_t f = (uint16_t)((i < 2 ? NEXT : 0) | (i == 2 ? WRITE : 0)),
			 n = (uint16_t)(i + 1);
		sim_put_le64(raw + 16 * i, a), sim_put_le32(raw + 16 * i + 8, l);
		sim_put_le16(raw + 16 * i + 12, f), sim_put_le16(raw + 16 * i + 14, n);
	}
	cr_assert_eq(vdev_mem_write(&P.m.mem, tbl, raw, sizeof(raw)), 0);
	desc(0, tbl, 48, INDIRECT, 0);
	offer(0);
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, 0);
	cr_expect_eq(e.n_out, 2);
	cr_expect_eq(e.n_in, 1);
	cr_assert_eq(vdev_vq_push(&P.vq, &e, 0), 0);

	/* unaligned table */
	uint64_t ut = sim_alloc(&P.m, 64, 16) + 3;
	cr_assert_eq(vdev_mem_write(&P.m.mem, ut, raw, sizeof(raw)), 0);
	desc(1, ut, 48, INDIRECT, 0);
	offer(1);
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, 0);
	cr_expect_eq(e.n_out + e.n_in, 3);
}

Test(vq_split, head_out_of_range_breaks_the_queue)
{
	struct vdev_vq_elem e;

	setup(0, 8);
	offer(8);
	cr_expect_eq(vdev_vq_pop(&P.vq, &e, iov, 64), VDEV_EPROTO);
	cr_expect(vdev_vq_is_broken(&P.vq));
	/* stays broken; nothing more is read */
	desc(0, buf, 8, 0, 0);
	offer(0);
	cr_expect_eq(vdev_vq_pop(&P.vq, &e, iov, 64), VDEV_EPROTO);
	cr_expect_not(vdev_vq_has_work(&P.vq));
}

Test(vq_split, good_chains_before_a_bad_head_are_still_returned)
{
	struct vdev_vq_elem e[4];

	setup(0, 8);
	desc(0, buf, 8, 0, 0);
	desc(1, buf, 8, 0, 0);
	offer(0);
	offer(1);
	offer(0xffff);
	cr_expect_eq(vdev_vq_pop_batch(&P.vq, e, 4, iov, 8), 2);
	cr_expect_eq(vdev_vq_pop_batch(&P.vq, e, 4, iov, 8), VDEV_EPROTO);
}

Test(vq_split, avail_index_jumping_ahead_breaks_the_queue)
{
	struct vdev_vq_elem e;

	setup(0, 8);
	drv_split_set_avail_idx(&P.drv, 9);
	cr_expect_eq(vdev_vq_pop(&P.vq, &e, iov, 64), VDEV_EPROTO);
	cr_expect(vdev_vq_is_broken(&P.vq));
}

Test(vq_split, avail_index_going_backwards_breaks_the_queue)
{
	struct vdev_vq_elem e;

	setup(0, 8);
	desc(0, buf, 8, 0, 0);
	desc(1, buf, 8, 0, 0);
	offer(0);
	offer(1);
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	drv_split_set_avail_idx(&P.drv, 1);
	cr_expect_eq(vdev_vq_pop(&P.vq, &e, iov, 64), VDEV_EPROTO);
}

Test(vq_split, avail_index_wraps_from_0xffff_to_0)
{
	struct vdev_vq_elem e;
	struct vdev_vq_state st = {.avail_idx = 0xfffd, .used_idx = 0xfffd};

	cr_assert_eq(sim_pair_init(&P, 4, F(VERSION_1) | F(EVENT_IDX), 1u << 20, false), 0);
	buf = sim_alloc(&P.m, 4096, 16);
	vdev_vq_stop(&P.vq);
	cr_assert_eq(vdev_vq_set_state(&P.vq, &st), 0);
	cr_assert_eq(vdev_vq_start(&P.vq, &P.m.mem, P.features), 0);
	/* bring the driver to the same place */
	P.drv.avail_idx = 0xfffd;
	P.drv.last_used = 0xfffd;
	uint8_t *used = P.drv.device;
	uint16_t u = 0xfffd;
	sim_put_le16(used + 2, u);
	for (int i = 0; i < 8; i++) {
		int t = i;
		struct drv_buf b = {buf, 8, true};
		cr_assert_eq(drv_add(&P.drv, &b, 1, false, &t), 0);
		cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1, "at step %d", i);
		cr_assert_eq(vdev_vq_push(&P.vq, &e, 8), 0);
		vdev_vq_publish(&P.vq);
		uint32_t len;
		cr_assert_eq(drv_get_used(&P.drv, &len), &t);
	}
	cr_expect_eq(P.drv.avail_idx, 5);
	cr_expect_not(vdev_vq_is_broken(&P.vq));
}

Test(vq_split, start_checks_size_alignment_and_placement)
{
	struct vdev_vq vq;
	uint64_t held[VDEV_VQ_HELD_WORDS(8)];

	setup(0, 8);
	cr_assert_eq(vdev_vq_init(&vq, 0, 8, held), 0);
	/* non-power-of-two size */
	vdev_vq_set_size(&vq, 6);
	vdev_vq_set_addrs(&vq, P.drv.desc_gpa, P.drv.driver_gpa, P.drv.device_gpa);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), VDEV_EINVAL);
	vdev_vq_set_size(&vq, 8);
	/* misaligned descriptor table / used ring */
	vdev_vq_set_addrs(&vq, P.drv.desc_gpa + 8, P.drv.driver_gpa, P.drv.device_gpa);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), VDEV_EINVAL);
	vdev_vq_set_addrs(&vq, P.drv.desc_gpa, P.drv.driver_gpa, P.drv.device_gpa + 2);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), VDEV_EINVAL);
	/* rings in a hole, straddling regions, used ring read-only */
	vdev_vq_set_addrs(&vq, SIM_HOLE_GPA, P.drv.driver_gpa, P.drv.device_gpa);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), VDEV_EFAULT);
	vdev_vq_set_addrs(&vq, sim_straddle_gpa(&P.m, 64), P.drv.driver_gpa, P.drv.device_gpa);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), VDEV_EFAULT);
	vdev_vq_set_addrs(&vq, P.drv.desc_gpa, P.drv.driver_gpa, SIM_RO_GPA);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), VDEV_EROFS);
	vdev_vq_set_addrs(&vq, UINT64_MAX - 15, P.drv.driver_gpa, P.drv.device_gpa);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), VDEV_EOVERFLOW);
	cr_expect_not(vdev_vq_is_live(&vq));
	vdev_vq_set_addrs(&vq, P.drv.desc_gpa, P.drv.driver_gpa, P.drv.device_gpa);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), 0);
}

/*
 * Rings that overlap are refused (VDEV_EEXIST): the device's writes to the
 * used ring would otherwise land in what it reads for new work. A used
 * index on the avail index makes every completion one more buffer. Also
 * when the overlap is on the host only: two guest addresses of one page.
 * Areas that merely touch (the legacy contiguous layout) are fine.
 */
Test(vq_split, rings_that_overlap_are_refused)
{
	struct vdev_vq vq;
	uint64_t held[VDEV_VQ_HELD_WORDS(8)];

	setup(0, 8);
	const uint64_t d = P.drv.desc_gpa;
	cr_assert_eq(vdev_vq_init(&vq, 0, 8, held), 0);
	vdev_vq_set_addrs(&vq, d, P.drv.driver_gpa, P.drv.driver_gpa);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), VDEV_EEXIST, "used on avail");
	cr_expect_not(vdev_vq_is_live(&vq));
	vdev_vq_set_addrs(&vq, d, P.drv.driver_gpa, d + 16 * 8 - 4);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), VDEV_EEXIST,
		     "used over the last descriptor");
	vdev_vq_set_addrs(&vq, d, d + 16 * 7, P.drv.device_gpa);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), VDEV_EEXIST,
		     "avail over the last descriptor");
	vdev_vq_set_addrs(&vq, d, P.drv.driver_gpa, d);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), VDEV_EEXIST, "used on desc");
	cr_expect_not(vdev_vq_is_live(&vq));
	/* the legacy layout: desc, avail right after it, used at the next
	 * 4-byte boundary after the avail ring's 6 + 2 * 8 bytes */
	const uint64_t c = sim_alloc(&P.m, 4096, 4096);
	vdev_vq_set_addrs(&vq, c, c + 128, c + 128 + 24);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), 0, "touching is not overlapping");
	vdev_vq_stop(&vq);
	/* the avail ring's page also at a second guest address */
	const uint64_t alias = 0x20000000ull;
	struct vdev_mem_region r[4] = {P.m.regions[0], P.m.regions[1],
				       {alias, 4096, (uint8_t *)P.m.regions[0].hva + (c - SIM_R0_GPA),
					0},
				       P.m.regions[2]};
	cr_assert_lt(P.m.regions[1].gpa + P.m.regions[1].size, alias);
	cr_assert_eq(vdev_mem_init(&P.m.mem, r, 4), 0);
	vdev_vq_set_addrs(&vq, c, c + 128, alias + 128);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), VDEV_EEXIST,
		     "used on avail through an alias");
	vdev_vq_set_addrs(&vq, c, c + 128, alias + 152);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), 0, "the same place, no overlap");
	/* a memory table that brings an overlap: remap breaks the queue */
	r[2].hva = (uint8_t *)r[2].hva - 24;
	cr_assert_eq(vdev_mem_init(&P.m.mem, r, 4), 0);
	cr_expect_eq(vdev_vq_remap(&vq), VDEV_EEXIST);
	cr_expect(vdev_vq_is_broken(&vq));
}

Test(vq_split, init_checks_max_size)
{
	struct vdev_vq vq;
	static uint64_t held[VDEV_VQ_HELD_WORDS(VDEV_VQ_MAX_SIZE)];

	cr_expect_eq(vdev_vq_init(&vq, 0, 0, held), VDEV_EINVAL);
	cr_expect_eq(vdev_vq_init(&vq, 0, 32769, held), VDEV_EINVAL);
	cr_expect_eq(vdev_vq_init(&vq, 0, 32768, NULL), VDEV_EINVAL, "no held bitmap");
	cr_expect_eq(vdev_vq_init(&vq, 0, 32768, held), 0);
	cr_expect_eq(vdev_vq_max_size(&vq), 32768);
}

Test(vq_split, largest_queue_works)
{
	struct vdev_vq_elem e;

	cr_assert_eq(sim_pair_init(&P, 32768, F(VERSION_1), 4u << 20, false), 0);
	buf = sim_alloc(&P.m, 64, 16);
	for (int i = 0; i < 3; i++) {
		int t = i;
		struct drv_buf b = {buf, 8, true};
		cr_assert_eq(drv_add(&P.drv, &b, 1, false, &t), 0);
		cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
		cr_assert_eq(vdev_vq_push(&P.vq, &e, 8), 0);
		vdev_vq_publish(&P.vq);
		uint32_t len;
		cr_assert_eq(drv_get_used(&P.drv, &len), &t);
	}
}

Test(vq_split, notification_data_bookkeeping)
{
	struct vdev_vq_stats st;

	setup(F(NOTIFICATION_DATA), 8);
	vdev_vq_note_notification(&P.vq, 3);
	vdev_vq_get_stats(&P.vq, &st);
	cr_expect_eq(st.bad_notify_data, 0);
	vdev_vq_note_notification(&P.vq, 100);
	vdev_vq_get_stats(&P.vq, &st);
	cr_expect_eq(st.bad_notify_data, 1, "more than the queue size ahead");
}

Test(vq_split, remap_after_memory_change)
{
	struct vdev_vq_elem e;

	setup(0, 8);
	desc(0, buf, 8, 0, 0);
	offer(0);
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_assert_eq(vdev_vq_push(&P.vq, &e, 0), 0);
	/* a memory table that still has the rings: remap succeeds */
	cr_expect_eq(vdev_vq_remap(&P.vq), 0);
	/* the documented path for a table change, to one without region 0:
	 * the rings are gone */
	offer(0);
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_assert_eq(vdev_mem_init(&P.m.mem, &P.m.regions[1], 2), 0);
	cr_expect_eq(vdev_vq_remap(&P.vq), VDEV_EFAULT);
	cr_expect(vdev_vq_is_broken(&P.vq));
	/* and nothing touches the old rings again (their host memory may be
	 * unmapped by now): the chain in flight is not completed */
	cr_expect_not(vdev_vq_is_live(&P.vq));
	cr_expect_eq(vdev_vq_push(&P.vq, &e, 0), VDEV_EPERM);
	cr_expect_not(vdev_vq_publish(&P.vq));
	cr_expect_eq(vdev_vq_pop(&P.vq, &e, iov, 64), VDEV_EPERM);
	cr_expect_eq(drv_split_used_idx(&P.drv), 0, "nothing published over the old rings");
}

/*
 * A device-writable buffer on the avail ring is rejected (VDEV_EEXIST):
 * what the device writes there (a block read of crafted sectors) would
 * make buffers available, and one request could feed itself for ever.
 * Checked on every pop path: a one-descriptor chain, a direct chain with
 * a readable header, an indirect table. A buffer that ends where the ring
 * starts is fine.
 */
Test(vq_split, writable_buffer_on_the_avail_ring_is_rejected)
{
	setup(F(INDIRECT_DESC), 8);
	desc(0, P.drv.driver_gpa + 4, 4, WRITE, 0);
	expect_rejected(0, VDEV_EEXIST);
	setup(F(INDIRECT_DESC), 8);
	desc(2, buf, 16, NEXT, 3);
	desc(3, P.drv.driver_gpa, 2, WRITE, 0);
	expect_rejected(2, VDEV_EEXIST);
	setup(F(INDIRECT_DESC), 8);
	const uint64_t tbl = sim_alloc(&P.m, 32, 16);
	uint8_t *t = sim_ptr(&P.m, tbl);
	sim_put_le64(t, buf), sim_put_le32(t + 8, 16), sim_put_le16(t + 12, NEXT),
		sim_put_le16(t + 14, 1);
	/* the last byte of the ring: its used_event */
	sim_put_le64(t + 16, P.drv.driver_gpa + 6 + 2 * 8 - 1), sim_put_le32(t + 24, 8),
		sim_put_le16(t + 28, WRITE), sim_put_le16(t + 30, 0);
	desc(4, tbl, 32, INDIRECT, 0);
	expect_rejected(4, VDEV_EEXIST);

	struct vdev_vq_elem e;
	setup(0, 8);
	desc(1, P.drv.driver_gpa - 16, 16, WRITE, 0);
	offer(1);
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, 0, "up to the ring's first byte");
	cr_expect_eq(e.n_in, 1);
}
