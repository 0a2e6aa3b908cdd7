/* SPDX-License-Identifier: MIT */
/*
 * Transport test cases written once over the driver simulator's transport
 * ops (drv_transport.h), included by test_mmio.c and test_pci.c. Each runs
 * against the echo test device (testdev.h). A including file provides
 *   static struct sim_mem M; static struct testdev TD;
 *   static struct drv_transport TR;   (set up by its fixture)
 */
#ifndef VDEV_TESTS_TRANSPORT_CASES_H
#define VDEV_TESTS_TRANSPORT_CASES_H

#include <criterion/criterion.h>
#include <string.h>

#include "drv_transport.h"
#include "drvsim.h"
#include "testdev.h"

#define TC_BIT(b) VDEV_BIT(VDEV_F_##b)
#define TC_LIVE 0x0fu /* ACK | DRIVER | FEATURES_OK | DRIVER_OK */

static uint64_t tc_wanted(bool packed)
{
	return TC_BIT(VERSION_1) | VDEV_BIT(TESTDEV_F_XOR) | TC_BIT(EVENT_IDX) |
	       TC_BIT(INDIRECT_DESC) | TC_BIT(RING_RESET) | (packed ? TC_BIT(RING_PACKED) : 0);
}

/* Bring the test device up with queue 0 over the transport. */
static uint64_t tc_bring_up(struct drv_transport *tr, struct sim_mem *m, struct drv_vq *q0,
			    bool packed)
{
	uint64_t neg = 0;

	cr_assert_eq(tr->ops->device_id(tr->t), TESTDEV_ID);
	cr_assert_eq(drv_virtio_negotiate(tr, tc_wanted(packed), &neg), 0);
	cr_assert_eq(neg, tc_wanted(packed), "negotiated %llx", (unsigned long long)neg);
	cr_assert_eq(drv_virtio_setup_queue(tr, q0, m, 0, 0, neg), 0);
	cr_assert_eq(drv_virtio_driver_ok(tr), TC_LIVE);
	return neg;
}

/* Send `rounds` echo requests through queue 0 and check the answers and
 * that a used-buffer interrupt arrived for each batch. */
static void tc_echo(struct drv_transport *tr, struct sim_mem *m, struct drv_vq *q0, int rounds)
{
	static int tok[64];
	uint64_t req = sim_alloc(m, 64, 8), resp = sim_alloc(m, 64, 8);

	for (int r = 0; r < rounds; r++) {
		uint8_t *rq = sim_ptr(m, req), *rp = sim_ptr(m, resp);
		for (int i = 0; i < 64; i++)
			rq[i] = (uint8_t)(r + i);
		memset(rp, 0, 64);
		struct drv_buf b[2] = {{req, 40, false}, {resp, 64, true}};
		cr_assert_eq(drv_add(q0, b, 2, (r & 1) != 0, &tok[r % 64]), 0);
		if (drv_kick_prepare(q0))
			tr->ops->notify(tr->t, 0, false, 0);
		uint32_t ints = tr->ops->take_interrupts(tr->t);
		cr_assert(ints & DRV_INT_VRING, "round %d: no used-buffer interrupt", r);
		uint32_t len = 0;
		cr_assert_eq(drv_get_used(q0, &len), &tok[r % 64], "round %d", r);
		cr_assert_eq(len, 40);
		for (int i = 0; i < 40; i++)
			cr_assert_eq(rp[i], (uint8_t)((r + i) ^ 0xff));
		cr_assert_eq(q0->errors, 0, "%s", q0->last_error);
	}
}

static void tc_init_move_data_reset_reinit(struct drv_transport *tr, struct sim_mem *m,
					   struct testdev *td, bool packed)
{
	struct drv_vq q0;

	memset(&q0, 0, sizeof(q0));
	tc_bring_up(tr, m, &q0, packed);
	cr_expect_eq(td->activates, 1);
	tc_echo(tr, m, &q0, 20);
	/* reset and bring it up again, with the other layout */
	unsigned resets = td->resets;
	cr_assert_eq(drv_virtio_reset(tr), 0);
	cr_expect_eq(td->resets, resets + 1);
	cr_expect_not(tr->ops->queue_enabled(tr->t, 0), "ready cleared by reset");
	cr_expect_eq(tr->ops->take_interrupts(tr->t), 0, "interrupt status cleared by reset");
	tc_bring_up(tr, m, &q0, !packed);
	tc_echo(tr, m, &q0, 20);
	drv_vq_destroy(&q0);
}

static void tc_features_ok_refused(struct drv_transport *tr)
{
	cr_assert_eq(drv_virtio_reset(tr), 0);
	tr->ops->set_status(tr->t, 0x01);
	tr->ops->set_status(tr->t, 0x03);
	/* bit 5 is not offered by the test device */
	tr->ops->set_features(tr->t, TC_BIT(VERSION_1) | VDEV_BIT(5));
	tr->ops->set_status(tr->t, 0x0b);
	cr_expect_eq(tr->ops->get_status(tr->t) & 0x08, 0, "FEATURES_OK must read back clear");
	/* without VERSION_1 */
	cr_assert_eq(drv_virtio_reset(tr), 0);
	tr->ops->set_status(tr->t, 0x03);
	tr->ops->set_features(tr->t, VDEV_BIT(TESTDEV_F_XOR));
	tr->ops->set_status(tr->t, 0x0b);
	cr_expect_eq(tr->ops->get_status(tr->t) & 0x08, 0);
}

static void tc_queue_registers_locked_after_driver_ok(struct drv_transport *tr,
						      struct sim_mem *m, bool packed)
{
	struct drv_vq q0, q1;
	uint64_t neg = 0;

	memset(&q0, 0, sizeof(q0));
	memset(&q1, 0, sizeof(q1));
	/* without RING_RESET: no queue set-up after DRIVER_OK */
	cr_assert_eq(drv_virtio_negotiate(tr, tc_wanted(packed) & ~TC_BIT(RING_RESET), &neg), 0);
	cr_assert_eq(drv_virtio_setup_queue(tr, &q0, m, 0, 8, neg), 0);
	cr_assert_eq(drv_virtio_driver_ok(tr), TC_LIVE);
	cr_expect_eq(drv_virtio_setup_queue(tr, &q1, m, 1, 8, neg), -1,
		     "queue 1 must not become live after DRIVER_OK");
	cr_expect_not(tr->ops->queue_enabled(tr->t, 1));
	/* rewriting queue 0 has no effect: it still works where it was */
	tr->ops->setup_queue(tr->t, 0, 4, SIM_HOLE_GPA, SIM_HOLE_GPA, SIM_HOLE_GPA);
	tc_echo(tr, m, &q0, 5);
	drv_vq_destroy(&q0);
	drv_vq_destroy(&q1);
}

static void tc_kick_before_driver_ok_and_disabled_queue(struct drv_transport *tr,
							struct sim_mem *m, struct testdev *td,
							bool packed)
{
	struct drv_vq q0;
	uint64_t neg = 0;
	static int tok;

	memset(&q0, 0, sizeof(q0));
	cr_assert_eq(drv_virtio_negotiate(tr, tc_wanted(packed), &neg), 0);
	cr_assert_eq(drv_virtio_setup_queue(tr, &q0, m, 0, 8, neg), 0);
	uint64_t b = sim_alloc(m, 16, 8);
	struct drv_buf bufs[2] = {{b, 4, false}, {b + 8, 4, true}};
	cr_assert_eq(drv_add(&q0, bufs, 2, false, &tok), 0);
	tr->ops->notify(tr->t, 0, false, 0); /* before DRIVER_OK */
	cr_expect_eq(td->requests, 0, "no buffer may be consumed before DRIVER_OK");
	cr_expect_eq(td->notifies, 0);
	cr_assert_eq(drv_virtio_driver_ok(tr), TC_LIVE);
	tr->ops->notify(tr->t, 1, false, 0); /* never enabled */
	tr->ops->notify(tr->t, 0xffff, false, 0); /* no such queue */
	cr_expect_eq(td->notifies, 0);
	tr->ops->notify(tr->t, 0, false, 0);
	cr_expect_eq(td->requests, 1);
	drv_vq_destroy(&q0);
}

static void tc_config_space(struct drv_transport *tr, struct sim_mem *m, struct testdev *td)
{
	struct drv_vq q0;
	uint8_t cfg[16];

	memset(&q0, 0, sizeof(q0));
	tc_bring_up(tr, m, &q0, false);
	cr_assert_eq(drv_virtio_config_read(tr, 0, cfg, sizeof(cfg)), 0);
	cr_expect_eq((uint32_t)cfg[0] | (uint32_t)cfg[1] << 8 | (uint32_t)cfg[2] << 16 |
			     (uint32_t)cfg[3] << 24,
		     TESTDEV_MAGIC);
	/* the writable byte, and a read-only field that must not change */
	uint8_t v = 0x5a, junk[4] = {1, 2, 3, 4};
	tr->ops->config_write(tr->t, TESTDEV_CFG_KNOB, &v, 1);
	tr->ops->config_write(tr->t, 0, junk, 4);
	cr_assert_eq(drv_virtio_config_read(tr, 0, cfg, sizeof(cfg)), 0);
	cr_expect_eq(cfg[TESTDEV_CFG_KNOB], 0x5a);
	cr_expect_eq(cfg[0], 0x54, "read-only field written");
	/* past the end reads as zero and does not crash */
	uint8_t far[4] = {9, 9, 9, 9};
	tr->ops->config_read(tr->t, 14, far, 4);
	cr_expect_eq(far[2] | far[3], 0);
	tr->ops->config_read(tr->t, 0xfffffffcu, far, 4);
	cr_expect_eq(far[0] | far[1] | far[2] | far[3], 0);
	tr->ops->config_write(tr->t, 0xfffffffcu, junk, 4);
	/* a config change: new generation, config interrupt */
	uint32_t gen = tr->ops->config_generation(tr->t);
	(void)tr->ops->take_interrupts(tr->t);
	testdev_config_bump(td);
	cr_expect_neq(tr->ops->config_generation(tr->t), gen);
	cr_expect(tr->ops->take_interrupts(tr->t) & DRV_INT_CONFIG);
	drv_vq_destroy(&q0);
}

static void tc_ring_reset(struct drv_transport *tr, struct sim_mem *m, struct testdev *td,
			  bool packed)
{
	struct drv_vq q0;
	uint64_t neg;

	memset(&q0, 0, sizeof(q0));
	neg = tc_bring_up(tr, m, &q0, packed);
	tc_echo(tr, m, &q0, 3);
	cr_assert(tr->ops->reset_queue(tr->t, 0));
	cr_expect_eq(td->queue_resets, 1);
	cr_expect_not(tr->ops->queue_enabled(tr->t, 0));
	/* set it up again, fresh, while the device is live */
	cr_assert_eq(drv_virtio_setup_queue(tr, &q0, m, 0, 4, neg), 0);
	tc_echo(tr, m, &q0, 6);
	drv_vq_destroy(&q0);
}

/* A queue reset the model cannot finish at once reads as ongoing (1) and
 * the queue cannot be enabled again until the model completes it. */
static void tc_ring_reset_ongoing(struct drv_transport *tr, struct sim_mem *m,
				  struct testdev *td)
{
	struct drv_vq q0;
	uint64_t neg;

	memset(&q0, 0, sizeof(q0));
	neg = tc_bring_up(tr, m, &q0, false);
	tc_echo(tr, m, &q0, 2);
	td->hold_queue_reset = true;
	cr_expect_not(tr->ops->reset_queue(tr->t, 0), "reset reads as ongoing");
	cr_expect(vdev_dev_queue_reset_pending(&td->dev, 0));
	cr_expect_not(tr->ops->queue_enabled(tr->t, 0));
	cr_expect_neq(drv_virtio_setup_queue(tr, &q0, m, 0, 4, neg), 0,
		      "cannot re-enable while ongoing");
	cr_expect_not(tr->ops->queue_enabled(tr->t, 0));
	vdev_dev_queue_reset_complete(&td->dev, 0);
	cr_expect_not(vdev_dev_queue_reset_pending(&td->dev, 0));
	vdev_dev_queue_reset_complete(&td->dev, 0); /* stray: ignored */
	td->hold_queue_reset = false;
	cr_assert_eq(drv_virtio_setup_queue(tr, &q0, m, 0, 4, neg), 0);
	tc_echo(tr, m, &q0, 5);
	drv_vq_destroy(&q0);
}

static void tc_bad_ring_needs_reset(struct drv_transport *tr, struct sim_mem *m)
{
	struct drv_vq q0;
	uint64_t neg;

	memset(&q0, 0, sizeof(q0));
	neg = tc_bring_up(tr, m, &q0, false);
	(void)neg;
	drv_split_set_avail_idx(&q0, 77); /* far beyond the queue size */
	(void)tr->ops->take_interrupts(tr->t);
	tr->ops->notify(tr->t, 0, false, 0);
	cr_expect(tr->ops->get_status(tr->t) & 0x40, "DEVICE_NEEDS_RESET");
	cr_expect(tr->ops->take_interrupts(tr->t) & DRV_INT_CONFIG);
	cr_assert_eq(drv_virtio_reset(tr), 0);
	cr_expect_eq(tr->ops->get_status(tr->t), 0);
	drv_vq_destroy(&q0);
}

#endif
