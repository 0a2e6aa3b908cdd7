/* SPDX-License-Identifier: MIT */
/* virtio-mmio transport: the shared transport cases plus MMIO specifics. */
#include <criterion/criterion.h>
#include <string.h>

#include "drv_mmio.h"
#include "transport_cases.h"
#include "vdev/mmio.h"

static struct sim_mem M;
static struct testdev TD;
static struct vdev_mmio MM;
static struct drv_mmio DM;
static struct drv_transport TR;
static const struct vdev_mmio_shm SHM = {.id = TESTDEV_SHM_ID, .base = 0x800000000ull};

static void setup(void)
{
	sim_mem_init(&M, 1u << 20, false);
	uint64_t ring = TC_BIT(EVENT_IDX) | TC_BIT(INDIRECT_DESC) | TC_BIT(RING_PACKED) |
			TC_BIT(RING_RESET) | TC_BIT(NOTIFICATION_DATA);
	cr_assert_eq(testdev_init(&TD, &M.mem, ring, 64), 0);
	struct vdev_mmio_config c = {.irq = drv_mmio_irq, .irq_opaque = &DM, .shm = &SHM,
				     .num_shm = 1};
	cr_assert_eq(vdev_mmio_init(&MM, &TD.dev, &c), 0);
	memset(&DM, 0, sizeof(DM));
	DM.mmio = &MM;
	TR = drv_mmio_transport(&DM);
}

TestSuite(mmio, .init = setup);

Test(mmio, init_move_data_reset_reinit_split) { tc_init_move_data_reset_reinit(&TR, &M, &TD, false); }
Test(mmio, init_move_data_reset_reinit_packed) { tc_init_move_data_reset_reinit(&TR, &M, &TD, true); }
Test(mmio, features_ok_refused) { tc_features_ok_refused(&TR); }
Test(mmio, queue_registers_locked_after_driver_ok_split)
{
	tc_queue_registers_locked_after_driver_ok(&TR, &M, false);
}
Test(mmio, queue_registers_locked_after_driver_ok_packed)
{
	tc_queue_registers_locked_after_driver_ok(&TR, &M, true);
}
Test(mmio, kick_before_driver_ok_and_disabled_queue)
{
	tc_kick_before_driver_ok_and_disabled_queue(&TR, &M, &TD, false);
}
Test(mmio, config_space) { tc_config_space(&TR, &M, &TD); }
Test(mmio, ring_reset_split) { tc_ring_reset(&TR, &M, &TD, false); }
Test(mmio, ring_reset_packed) { tc_ring_reset(&TR, &M, &TD, true); }
Test(mmio, ring_reset_ongoing) { tc_ring_reset_ongoing(&TR, &M, &TD); }
Test(mmio, bad_ring_needs_reset) { tc_bad_ring_needs_reset(&TR, &M); }

Test(mmio, identity_registers)
{
	cr_expect_eq(drv_mmio_rd(&DM, 0x000), VDEV_MMIO_MAGIC);
	cr_expect_eq(drv_mmio_rd(&DM, 0x004), 2);
	cr_expect_eq(drv_mmio_rd(&DM, 0x008), TESTDEV_ID);
	cr_expect_eq(drv_mmio_rd(&DM, 0x00c), 0x56444556u);
	cr_expect_eq(vdev_mmio_window_size(&MM), 0x100 + 16);
	/* writes to read-only registers are ignored */
	drv_mmio_wr(&DM, 0x000, 0);
	drv_mmio_wr(&DM, 0x008, 7);
	cr_expect_eq(drv_mmio_rd(&DM, 0x000), VDEV_MMIO_MAGIC);
	cr_expect_eq(drv_mmio_rd(&DM, 0x008), TESTDEV_ID);
}

Test(mmio, wrong_width_unaligned_and_out_of_window_accesses_are_ignored)
{
	cr_expect_eq(vdev_mmio_read(&MM, 0x000, 2), 0, "16-bit control register read");
	cr_expect_eq(vdev_mmio_read(&MM, 0x000, 8), 0);
	cr_expect_eq(vdev_mmio_read(&MM, 0x000, 3), 0);
	cr_expect_eq(vdev_mmio_read(&MM, 0x002, 4), 0, "unaligned");
	cr_expect_eq(vdev_mmio_read(&MM, 0x101, 2), 0, "unaligned config read");
	cr_expect_eq(vdev_mmio_read(&MM, 0x200, 4), 0, "beyond the config space");
	cr_expect_eq(vdev_mmio_read(&MM, UINT64_MAX - 3, 4), 0);
	cr_expect_eq(vdev_mmio_read(&MM, 0x100 + 0xfffffffcull, 4), 0);
	/* a 16-bit status write must not reset or change anything */
	drv_mmio_wr(&DM, 0x070, 1);
	vdev_mmio_write(&MM, 0x070, 2, 0);
	vdev_mmio_write(&MM, 0x071, 1, 0);
	cr_expect_eq(drv_mmio_rd(&DM, 0x070), 1);
	vdev_mmio_write(&MM, UINT64_MAX - 7, 8, ~0ull);
	vdev_mmio_write(&MM, 0x100 + 0xfffffff8ull, 8, ~0ull);
	cr_expect_eq(drv_mmio_rd(&DM, 0x070), 1);
	/* write-only registers read as 0 */
	cr_expect_eq(drv_mmio_rd(&DM, 0x050), 0);
	cr_expect_eq(drv_mmio_rd(&DM, 0x064), 0);
	/* status values wider than a byte are ignored */
	drv_mmio_wr(&DM, 0x070, 0x103);
	cr_expect_eq(drv_mmio_rd(&DM, 0x070), 1);
}

Test(mmio, config_space_widths)
{
	cr_expect_eq(vdev_mmio_read(&MM, 0x100, 1), 0x54);
	cr_expect_eq(vdev_mmio_read(&MM, 0x100, 2), 0x5354);
	cr_expect_eq(vdev_mmio_read(&MM, 0x100, 4), TESTDEV_MAGIC);
	cr_expect_eq(vdev_mmio_read(&MM, 0x100, 8), TESTDEV_MAGIC);
	cr_expect_eq(vdev_mmio_read(&MM, 0x10c, 8), 0, "8 bytes, 4 past the end");
	vdev_mmio_write(&MM, 0x108, 1, 0x77);
	cr_expect_eq(TD.config[TESTDEV_CFG_KNOB], 0x77);
}

Test(mmio, queue_sel_beyond_the_queues)
{
	uint32_t sels[] = {2, 100, 0xffff, 0x10000, 0xffffffffu};
	static struct drv_vq q0;

	tc_bring_up(&TR, &M, &q0, false);
	for (unsigned i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		drv_mmio_wr(&DM, 0x030, sels[i]);
		cr_expect_eq(drv_mmio_rd(&DM, 0x034), 0, "QueueSizeMax of a missing queue");
		drv_mmio_wr(&DM, 0x038, 8);
		drv_mmio_wr(&DM, 0x080, 0x1000);
		drv_mmio_wr(&DM, 0x044, 1);
		cr_expect_eq(drv_mmio_rd(&DM, 0x044), 0);
		drv_mmio_wr(&DM, 0x0c0, 1);
		drv_mmio_wr(&DM, 0x050, sels[i]);
	}
	cr_expect_eq(TD.notifies, 0);
	drv_vq_destroy(&q0);
}

Test(mmio, queue_size_above_max_or_invalid_never_goes_live)
{
	uint64_t neg;

	cr_assert_eq(drv_virtio_negotiate(&TR, TC_BIT(VERSION_1), &neg), 0);
	drv_mmio_wr(&DM, 0x030, 0);
	cr_expect_eq(drv_mmio_rd(&DM, 0x034), 64);
	drv_mmio_wr(&DM, 0x038, 128); /* above max: ignored */
	drv_mmio_wr(&DM, 0x038, 48);  /* not a power of two for a split ring */
	drv_mmio_wr(&DM, 0x044, 1);
	cr_expect_eq(drv_mmio_rd(&DM, 0x044), 0, "a 48-entry split ring is not valid");
	drv_mmio_wr(&DM, 0x038, 0);
	drv_mmio_wr(&DM, 0x044, 1);
	cr_expect_eq(drv_mmio_rd(&DM, 0x044), 0);
}

Test(mmio, interrupt_line_follows_status_and_ack)
{
	struct drv_vq q0 = {0};
	static int tok;

	tc_bring_up(&TR, &M, &q0, false);
	cr_expect_not(DM.line);
	uint64_t b = sim_alloc(&M, 16, 8);
	struct drv_buf bufs[2] = {{b, 4, false}, {b + 8, 4, true}};
	cr_assert_eq(drv_add(&q0, bufs, 2, false, &tok), 0);
	drv_mmio_wr(&DM, 0x050, 0);
	cr_expect(DM.line, "used buffer: line high");
	cr_expect_eq(drv_mmio_rd(&DM, 0x060), VDEV_MMIO_INT_VRING);
	testdev_config_bump(&TD);
	cr_expect_eq(drv_mmio_rd(&DM, 0x060), VDEV_MMIO_INT_VRING | VDEV_MMIO_INT_CONFIG);
	drv_mmio_wr(&DM, 0x064, VDEV_MMIO_INT_VRING);
	cr_expect(DM.line, "config bit still pending");
	drv_mmio_wr(&DM, 0x064, VDEV_MMIO_INT_CONFIG | 0xfffffff0u);
	cr_expect_not(DM.line);
	cr_expect_eq(drv_mmio_rd(&DM, 0x060), 0);
	cr_expect_eq(DM.raises, 1);
	drv_vq_destroy(&q0);
}

Test(mmio, shared_memory_regions)
{
	drv_mmio_wr(&DM, 0x0ac, TESTDEV_SHM_ID);
	cr_expect_eq(drv_mmio_rd(&DM, 0x0b0), 1u << 20);
	cr_expect_eq(drv_mmio_rd(&DM, 0x0b4), 0);
	cr_expect_eq(drv_mmio_rd(&DM, 0x0b8), 0);
	cr_expect_eq(drv_mmio_rd(&DM, 0x0bc), 8);
	drv_mmio_wr(&DM, 0x0ac, 0);
	cr_expect_eq(drv_mmio_rd(&DM, 0x0b0), 0xffffffffu, "no region 0");
	cr_expect_eq(drv_mmio_rd(&DM, 0x0bc), 0xffffffffu);
	drv_mmio_wr(&DM, 0x0ac, 0xffffffffu);
	cr_expect_eq(drv_mmio_rd(&DM, 0x0b4), 0xffffffffu);
}

Test(mmio, shm_placement_must_name_a_device_region)
{
	struct vdev_mmio m2;
	struct vdev_mmio_shm bad = {.id = 9, .base = 0};
	struct vdev_mmio_config c = {.shm = &bad, .num_shm = 1};

	cr_expect_eq(vdev_mmio_init(&m2, &TD.dev, &c), VDEV_EINVAL);
	cr_expect_eq(vdev_mmio_init(&m2, &TD.dev, NULL), VDEV_EINVAL);
}

Test(mmio, notification_data)
{
	struct drv_vq q0 = {0};
	uint64_t neg;
	static int tok;
	struct vdev_vq_stats st;

	cr_assert_eq(drv_virtio_negotiate(&TR, TC_BIT(VERSION_1) | TC_BIT(NOTIFICATION_DATA), &neg),
		     0);
	cr_assert_eq(drv_virtio_setup_queue(&TR, &q0, &M, 0, 8, neg), 0);
	cr_assert_eq(drv_virtio_driver_ok(&TR), TC_LIVE);
	uint64_t b = sim_alloc(&M, 16, 8);
	struct drv_buf bufs[2] = {{b, 4, false}, {b + 8, 4, true}};
	cr_assert_eq(drv_add(&q0, bufs, 2, false, &tok), 0);
	/* queue 0, avail idx 1 */
	TR.ops->notify(TR.t, 0, true, 1);
	cr_expect_eq(TD.requests, 1);
	vdev_vq_get_stats(&TD.q[0], &st);
	cr_expect_eq(st.bad_notify_data, 0);
	TR.ops->notify(TR.t, 0, true, 0x4000); /* inconsistent with the ring */
	vdev_vq_get_stats(&TD.q[0], &st);
	cr_expect_eq(st.bad_notify_data, 1);
	drv_vq_destroy(&q0);
}

Test(mmio, driver_features_are_merged_from_both_halves)
{
	drv_virtio_reset(&TR);
	drv_mmio_wr(&DM, 0x070, 3);
	drv_mmio_wr(&DM, 0x024, 1);
	drv_mmio_wr(&DM, 0x020, 1); /* VERSION_1 (bit 32) */
	drv_mmio_wr(&DM, 0x024, 0);
	drv_mmio_wr(&DM, 0x020, 1); /* XOR (bit 0) */
	drv_mmio_wr(&DM, 0x024, 7);
	drv_mmio_wr(&DM, 0x020, 0xffffffffu); /* no such word: ignored */
	drv_mmio_wr(&DM, 0x070, 0x0b);
	cr_expect(drv_mmio_rd(&DM, 0x070) & 0x08);
	cr_expect_eq(vdev_dev_features(&TD.dev), TC_BIT(VERSION_1) | 1u);
	drv_mmio_wr(&DM, 0x014, 2);
	cr_expect_eq(drv_mmio_rd(&DM, 0x010), 0, "feature word 2 does not exist");
}
