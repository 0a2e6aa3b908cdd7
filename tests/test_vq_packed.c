/* SPDX-License-Identifier: MIT */
/*
 * Packed rings: hostile descriptor rings written by hand (wrap-counter
 * confusion, lists that never end or are not wholly available, bad buffer
 * ids), odd sizes and laps, event suppression across wraps.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "drvsim.h"
#include "vdev/device.h"

#define F(b) VDEV_BIT(VDEV_F_##b)
#define NEXT 1u
#define WRITE 2u
#define INDIRECT 4u
#define AVAIL (1u << 7)
#define USED (1u << 15)

static struct sim_pair P;
static struct vdev_iov iov[64];
static uint64_t buf;

static void setup(uint64_t extra, uint16_t size)
{
	cr_assert_eq(sim_pair_init(&P, size, F(VERSION_1) | F(RING_PACKED) | extra, 1u << 20,
				   false), 0);
	buf = sim_alloc(&P.m, 4096, 16);
}

/* Write descriptor i (flags given in full, including AVAIL/USED). */
static void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags)
{
	struct drv_packed_desc d = {addr, len, id, flags};
	drv_packed_write_desc(&P.drv, i, &d);
}

static uint16_t av(bool wrap) { return drv_packed_avail_flags(wrap); }

Test(vq_packed, wrap_counter_confusion_is_not_available)
{
	struct vdev_vq_elem e;

	setup(0, 4);
	/* AVAIL and USED both set with wrap 1: looks used, not available */
	desc(0, buf, 8, 0, AVAIL | USED);
	cr_expect_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 0);
	/* both clear */
	desc(0, buf, 8, 0, 0);
	cr_expect_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 0);
	/* available for the other lap (wrap 0) */
	desc(0, buf, 8, 0, av(false));
	cr_expect_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 0);
	cr_expect_not(vdev_vq_is_broken(&P.vq));
	/* now right */
	desc(0, buf, 8, 0, av(true));
	cr_expect_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
}

Test(vq_packed, list_not_wholly_available_breaks_the_queue)
{
	struct vdev_vq_elem e;

	setup(0, 4);
	desc(1, buf, 8, 0, 0); /* never made available */
	desc(0, buf, 8, 0, (uint16_t)(av(true) | NEXT));
	cr_expect_eq(vdev_vq_pop(&P.vq, &e, iov, 64), VDEV_EPROTO);
	cr_expect(vdev_vq_is_broken(&P.vq));
	cr_expect_eq(vdev_vq_pop(&P.vq, &e, iov, 64), VDEV_EPROTO);
}

Test(vq_packed, list_that_never_ends_breaks_the_queue)
{
	struct vdev_vq_elem e;

	setup(0, 4);
	for (uint16_t i = 4; i-- > 0;)
		desc(i, buf, 8, 0, (uint16_t)(av(true) | NEXT));
	cr_expect_eq(vdev_vq_pop(&P.vq, &e, iov, 64), VDEV_EPROTO);
	cr_expect(vdev_vq_is_broken(&P.vq));
}

Test(vq_packed, list_of_exactly_the_ring_size_is_fine)
{
	struct vdev_vq_elem e;

	setup(0, 4);
	for (uint16_t i = 4; i-- > 0;)
		desc(i, buf + 16u * i, 8, 3, (uint16_t)(av(true) | (i < 3 ? NEXT : 0)));
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, 0);
	cr_expect_eq(e.ndescs, 4);
	cr_expect_eq(e.id, 3);
	cr_expect_eq(e.n_out, 4);
}

/*
 * The ring has `size` slots; the device holds those of the buffers it
 * took and has not used. A list that needs more than the rest can only be
 * there if the driver rewrote descriptors of a buffer in flight (their
 * flags made available for the next lap): the ring cannot be trusted, in
 * the fast paths and the general walk alike, and a one-descriptor list
 * when every slot is held likewise. Nothing more than `size` is ever in
 * flight, so the used index never runs a lap ahead.
 */
static void over_held(uint16_t first_flags, uint16_t id1, bool batch)
{
	struct vdev_vq_elem e[4];

	setup(0, 4);
	/* buffer 0 in slots 0-1, buffer 1 in slot 2: three slots held */
	desc(1, buf, 8, 0, av(true));
	desc(0, buf, 8, 0, (uint16_t)(av(true) | NEXT));
	desc(2, buf, 8, 1, av(true));
	cr_assert_eq(vdev_vq_pop_batch(&P.vq, e, 2, iov, 8), 2);
	/* a list over slot 3 and slot 0 of the next lap (still held) */
	desc(0, buf, 8, id1, av(false));
	desc(3, buf, 8, id1, (uint16_t)(av(true) | first_flags));
	if (batch)
		cr_expect_eq(vdev_vq_pop_batch(&P.vq, e, 4, iov + 8, 8), VDEV_EPROTO);
	else
		cr_expect_eq(vdev_vq_pop(&P.vq, e, iov + 8, 8), VDEV_EPROTO);
	cr_expect(vdev_vq_is_broken(&P.vq));
}

Test(vq_packed, list_over_slots_in_flight_breaks_the_queue) { over_held(NEXT, 2, false); }
Test(vq_packed, list_over_slots_in_flight_breaks_the_queue_batch) { over_held(NEXT, 2, true); }
Test(vq_packed, indirect_list_over_slots_in_flight_breaks_the_queue)
{
	/* the general walk (indirect heads go there) checks it too */
	over_held(NEXT | INDIRECT, 2, false);
}

Test(vq_packed, single_descriptor_when_every_slot_is_held_breaks_the_queue)
{
	struct vdev_vq_elem e[4];

	setup(0, 2);
	/* one buffer of both slots */
	desc(1, buf, 8, 0, av(true));
	desc(0, buf, 8, 0, (uint16_t)(av(true) | NEXT));
	cr_assert_eq(vdev_vq_pop(&P.vq, e, iov, 8), 1);
	cr_expect_eq(e[0].ndescs, 2);
	/* slot 0 rewritten for the next lap with another id, alone */
	desc(0, buf, 8, 1, av(false));
	cr_expect_eq(vdev_vq_pop(&P.vq, e, iov + 8, 8), VDEV_EPROTO);
	cr_expect(vdev_vq_is_broken(&P.vq));
}

Test(vq_packed, buffer_id_out_of_range_breaks_the_queue)
{
	struct vdev_vq_elem e;

	setup(0, 4);
	desc(0, buf, 8, 4, av(true));
	cr_expect_eq(vdev_vq_pop(&P.vq, &e, iov, 64), VDEV_EPROTO);
	setup(0, 4);
	desc(0, buf, 8, 0xffff, av(true));
	cr_expect_eq(vdev_vq_pop(&P.vq, &e, iov, 64), VDEV_EPROTO);
}

Test(vq_packed, indirect_inside_a_list_is_rejected)
{
	struct vdev_vq_elem e;

	setup(F(INDIRECT_DESC), 4);
	uint64_t tbl = sim_alloc(&P.m, 16, 16);
	desc(1, tbl, 16, 0, (uint16_t)(av(true) | INDIRECT));
	desc(0, buf, 8, 0, (uint16_t)(av(true) | NEXT));
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, VDEV_EPROTO);
	cr_expect_eq(e.ndescs, 2, "the list's extent is still known");
	cr_expect_not(vdev_vq_is_broken(&P.vq));
	cr_expect_eq(vdev_vq_push(&P.vq, &e, 0), 0);
}

Test(vq_packed, indirect_with_next_or_bad_length_is_rejected)
{
	struct vdev_vq_elem e;

	setup(F(INDIRECT_DESC), 4);
	uint64_t tbl = sim_alloc(&P.m, 32, 16);
	desc(1, buf, 8, 0, av(true));
	desc(0, tbl, 16, 0, (uint16_t)(av(true) | INDIRECT | NEXT));
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, VDEV_EPROTO);
	cr_expect_eq(e.ndescs, 2);
	cr_expect_eq(vdev_vq_push(&P.vq, &e, 0), 0);
	desc(2, tbl, 20, 1, (uint16_t)(av(true) | INDIRECT));
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, VDEV_EPROTO);
	desc(3, tbl, 0, 2, (uint16_t)(av(true) | INDIRECT));
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, VDEV_EPROTO);
}

Test(vq_packed, indirect_table_longer_than_queue_is_rejected)
{
	struct vdev_vq_elem e;

	setup(F(INDIRECT_DESC), 4);
	uint64_t tbl = sim_alloc(&P.m, 16 * 5, 16);
	desc(0, tbl, 16 * 5, 0, (uint16_t)(av(true) | INDIRECT));
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, VDEV_ELOOP);
}

Test(vq_packed, indirect_without_feature_is_rejected)
{
	struct vdev_vq_elem e;

	setup(0, 4);
	uint64_t tbl = sim_alloc(&P.m, 16, 16);
	desc(0, tbl, 16, 0, (uint16_t)(av(true) | INDIRECT));
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, VDEV_ENOTSUP);
}

/* One 16-byte entry of an indirect table written by hand. */
static void ind(uint64_t tbl, unsigned i, uint64_t addr, uint32_t len, uint16_t flags)
{
	uint8_t *p = sim_ptr(&P.m, tbl + 16u * i);
	for (unsigned k = 0; k < 8; k++)
		p[k] = (uint8_t)(addr >> (8 * k));
	for (unsigned k = 0; k < 4; k++)
		p[8 + k] = (uint8_t)(len >> (8 * k));
	p[12] = (uint8_t)i, p[13] = 0;
	p[14] = (uint8_t)flags, p[15] = (uint8_t)(flags >> 8);
}

static uint64_t write_as_read(void)
{
	struct vdev_vq_stats st;
	vdev_vq_get_stats(&P.vq, &st);
	return st.write_as_read;
}

/* DPDK's packed transmit with an indirect table: every entry marked
 * writable by table initialisation, the header included, the data entries
 * (rewritten per packet) readable: "writable then readable". */
static uint64_t dpdk_style_table(void)
{
	uint64_t tbl = sim_alloc(&P.m, 16 * 3, 16);
	ind(tbl, 0, buf, 12, WRITE);         /* net header */
	ind(tbl, 1, buf + 100, 100, NEXT);   /* data, NEXT as DPDK sets it */
	ind(tbl, 2, buf + 300, 50, 0);
	return tbl;
}

Test(vq_packed, writable_then_readable_rejected_on_a_queue_the_device_writes)
{
	struct vdev_vq_elem e;

	setup(F(INDIRECT_DESC), 4);
	desc(0, dpdk_style_table(), 48, 0, (uint16_t)(av(true) | INDIRECT));
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, VDEV_EPROTO);
	cr_expect_eq(write_as_read(), 0);
	cr_expect_eq(vdev_vq_push(&P.vq, &e, 0), 0);
}

Test(vq_packed, reads_only_queue_takes_writable_indirect_entries_as_readable)
{
	struct vdev_vq_elem e;

	setup(F(INDIRECT_DESC), 4);
	vdev_vq_set_device_reads_only(&P.vq, true);
	desc(0, dpdk_style_table(), 48, 0, (uint16_t)(av(true) | INDIRECT));
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_assert_eq(e.error, 0);
	cr_expect_eq(e.n_out, 3);
	cr_expect_eq(e.n_in, 0);
	cr_expect_eq(e.out_bytes, 162);
	cr_expect_eq(e.in_bytes, 0);
	cr_expect_eq(iov[0].base, sim_ptr(&P.m, buf));
	cr_expect_eq(iov[0].len, 12);
	cr_expect_eq(write_as_read(), 1);
	cr_expect_eq(vdev_vq_push(&P.vq, &e, 0), 0);
	/* a chain without writable entries is not counted */
	uint64_t t2 = sim_alloc(&P.m, 16, 16);
	ind(t2, 0, buf, 64, 0);
	desc(1, t2, 16, 1, (uint16_t)(av(true) | INDIRECT));
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, 0);
	cr_expect_eq(write_as_read(), 1);
}

/* Direct descriptors take the fast paths; they must give the same answer. */
Test(vq_packed, reads_only_queue_takes_writable_direct_descriptors_as_readable)
{
	struct vdev_vq_elem e[2];

	setup(0, 8);
	vdev_vq_set_device_reads_only(&P.vq, true);
	desc(0, buf, 12, 0, (uint16_t)(av(true) | WRITE)); /* one writable descriptor */
	desc(2, buf + 100, 100, 1, av(true));
	desc(1, buf, 12, 1, (uint16_t)(av(true) | WRITE | NEXT)); /* writable, then readable */
	cr_assert_eq(vdev_vq_pop_batch(&P.vq, e, 2, iov, 8), 2);
	cr_expect_eq(e[0].error, 0);
	cr_expect_eq(e[0].n_out, 1);
	cr_expect_eq(e[0].n_in, 0);
	cr_expect_eq(e[0].out_bytes, 12);
	cr_expect_eq(e[1].error, 0);
	cr_expect_eq(e[1].n_out, 2);
	cr_expect_eq(e[1].n_in, 0);
	cr_expect_eq(e[1].out_bytes, 112);
	cr_expect_eq(write_as_read(), 2);
	uint32_t w[2] = {0, 0};
	cr_expect_eq(vdev_vq_push_batch(&P.vq, e, w, 2), 0);
}

/* The relaxation is only about the WRITE flag: everything else that makes
 * a chain unsafe still rejects it on a device-reads-only queue. */
Test(vq_packed, reads_only_queue_still_rejects_unsafe_chains)
{
	struct vdev_vq_elem e;

	setup(F(INDIRECT_DESC), 8);
	vdev_vq_set_device_reads_only(&P.vq, true);
	uint64_t t = sim_alloc(&P.m, 32, 16);
	ind(t, 0, buf, 12, WRITE);
	ind(t, 1, UINT64_C(1) << 40, 100, 0); /* outside guest memory */
	desc(0, t, 32, 0, (uint16_t)(av(true) | INDIRECT));
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, VDEV_EFAULT);
	cr_expect_eq(vdev_vq_push(&P.vq, &e, 0), 0);
	ind(t, 1, buf + 100, 100, 0);
	desc(1, t, 20, 1, (uint16_t)(av(true) | INDIRECT)); /* table length not n * 16 */
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, VDEV_EPROTO);
	cr_expect_eq(vdev_vq_push(&P.vq, &e, 0), 0);
	desc(2, UINT64_C(1) << 40, 64, 2, (uint16_t)(av(true) | WRITE)); /* outside memory */
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_neq(e.error, 0);
	cr_expect_eq(write_as_read(), 0, "rejected chains are not counted");
	cr_expect_eq(vdev_vq_push(&P.vq, &e, 0), 0);
	cr_expect_not(vdev_vq_is_broken(&P.vq));
}

/* Odd ring sizes over many laps, with multi-descriptor lists crossing the
 * ring's end. */
static void laps(uint16_t size, uint64_t extra)
{
	struct vdev_vq_elem e[8];
	static int tok[64];

	setup(extra, size);
	for (int round = 0; round < 200; round++) {
		unsigned n = 1 + (unsigned)round % 3;
		struct drv_buf b[3] = {{buf, 4, false}, {buf + 64, 4, n > 1}, {buf + 128, 4, true}};
		if (n > size)
			n = size;
		int t = round % 64;
		cr_assert_eq(drv_add(&P.drv, b, n, false, &tok[t]), 0, "round %d", round);
		int got = vdev_vq_pop_batch(&P.vq, e, 8, iov, 8);
		cr_assert_eq(got, 1);
		cr_expect_eq(e[0].error, 0);
		cr_expect_eq(e[0].ndescs, n);
		cr_assert_eq(vdev_vq_push(&P.vq, &e[0], e[0].in_bytes), 0);
		vdev_vq_publish(&P.vq);
		uint32_t len;
		cr_assert_eq(drv_get_used(&P.drv, &len), &tok[t], "round %d", round);
		cr_assert_eq(len, e[0].in_bytes);
	}
	cr_expect_eq(P.drv.errors, 0, "%s", P.drv.last_error);
}

Test(vq_packed, any_size_works_over_many_laps)
{
	laps(1, 0);
	laps(3, 0);
	laps(5, F(EVENT_IDX));
	laps(100, 0);
}

Test(vq_packed, largest_queue_works) { laps(32768, 0); }

/* EVENT_IDX over several laps: the device notifies when (and only when)
 * the driver's event offset/wrap is crossed. */
Test(vq_packed, event_idx_across_wraps)
{
	struct vdev_vq_elem e;
	static int tok[8];
	unsigned notes = 0, expected = 0;

	setup(F(EVENT_IDX), 5);
	for (int i = 0; i < 60; i++) {
		struct drv_buf b = {buf, 4, true};
		bool want;
		/* every third buffer, ask for a notification at the next one */
		if (i % 3 == 0) {
			drv_enable_cb(&P.drv);
			want = true;
		} else {
			drv_disable_cb(&P.drv);
			want = false;
		}
		cr_assert_eq(drv_add(&P.drv, &b, 1, false, &tok[i % 8]), 0);
		cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 8), 1);
		cr_assert_eq(vdev_vq_push(&P.vq, &e, 4), 0);
		bool got = vdev_vq_publish(&P.vq);
		cr_expect_eq(got, want, "buffer %d: notify %d, wanted %d", i, got, want);
		notes += got;
		expected += want;
		uint32_t len;
		cr_assert_not_null(drv_get_used(&P.drv, &len));
	}
	cr_expect_eq(notes, expected);
}

Test(vq_packed, device_event_suppression_with_event_idx)
{
	struct vdev_vq_elem e;
	static int t1, t2;

	setup(F(EVENT_IDX), 4);
	struct drv_buf b = {buf, 4, true};
	cr_assert_eq(drv_add(&P.drv, &b, 1, false, &t1), 0);
	cr_expect(drv_kick_prepare(&P.drv));
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 8), 1);
	cr_expect_eq(vdev_vq_pop(&P.vq, &e, iov, 8), 0, "empty: re-arm at position 1");
	cr_assert_eq(drv_add(&P.drv, &b, 1, false, &t2), 0);
	cr_expect(drv_kick_prepare(&P.drv), "the device asked for exactly this one");
	vdev_vq_disable_notify(&P.vq);
	cr_expect_not(drv_kick_prepare(&P.drv));
}

/*
 * Packed ring areas that overlap are refused (VDEV_EEXIST): the device
 * event suppression area written over a descriptor's flags (or over the
 * driver's area) would let the device's own writes make buffers available.
 * Areas that merely touch are fine.
 */
Test(vq_packed, rings_that_overlap_are_refused)
{
	struct vdev_vq vq;
	uint64_t held[VDEV_VQ_HELD_WORDS(8)];

	setup(0, 8);
	const uint64_t d = P.drv.desc_gpa;
	cr_assert_eq(vdev_vq_init(&vq, 0, 8, held), 0);
	vdev_vq_set_addrs(&vq, d, P.drv.driver_gpa, d + 16 * 3 + 12);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), VDEV_EEXIST,
		     "device area over a descriptor's id and flags");
	vdev_vq_set_addrs(&vq, d, d + 16 * 7, P.drv.device_gpa);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), VDEV_EEXIST,
		     "driver area in the descriptor ring");
	vdev_vq_set_addrs(&vq, d, P.drv.driver_gpa, P.drv.driver_gpa);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), VDEV_EEXIST,
		     "device area on the driver area");
	cr_expect_not(vdev_vq_is_live(&vq));
	const uint64_t c = sim_alloc(&P.m, 4096, 4096);
	vdev_vq_set_addrs(&vq, c, c + 128, c + 132);
	cr_expect_eq(vdev_vq_start(&vq, &P.m.mem, P.features), 0, "touching is not overlapping");
	cr_expect(vdev_vq_is_live(&vq));
}

/*
 * A device-writable buffer on the descriptor ring is rejected
 * (VDEV_EEXIST): the device's writes there (a block read of sectors that
 * hold ring images) would mark descriptors available, and one request
 * could feed itself for ever. One descriptor, and a list with a readable
 * header; a buffer that starts where the ring ends is fine.
 */
Test(vq_packed, writable_buffer_on_the_descriptor_ring_is_rejected)
{
	struct vdev_vq_elem e;

	setup(0, 8);
	const uint64_t d = P.drv.desc_gpa;
	desc(0, d + 16 * 4, 64, 0, av(true) | WRITE);
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, VDEV_EEXIST);
	cr_expect_eq(e.n_out + e.n_in, 0);
	cr_expect_eq(e.in_bytes, 0);
	cr_assert_eq(vdev_vq_push(&P.vq, &e, 0), 0);
	desc(1, buf, 16, 1, av(true) | NEXT);
	desc(2, d + 16 * 8 - 1, 1, 1, av(true) | WRITE);
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, VDEV_EEXIST, "the ring's last byte");
	cr_assert_eq(vdev_vq_push(&P.vq, &e, 0), 0);
	desc(3, d + 16 * 8, 4, 2, av(true) | WRITE);
	cr_assert_eq(vdev_vq_pop(&P.vq, &e, iov, 64), 1);
	cr_expect_eq(e.error, 0, "from the byte after the ring");
	cr_expect_eq(e.n_in, 1);
	cr_expect_not(vdev_vq_is_broken(&P.vq));
}
