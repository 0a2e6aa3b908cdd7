/* SPDX-License-Identifier: MIT */
/*
 * Compile-time trimming (vdev/config.h): what a build leaves out is not
 * offered, cannot be negotiated and is refused where the API could reach
 * it; what it keeps works. Every test checks both ways, so it means the
 * same in a full build (scripts/check-trim.sh builds and runs it in
 * trimmed ones; the main test build runs it untrimmed).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "drv_mmio.h"
#include "drvsim.h"
#include "testdev.h"
#include "vdev/blk.h"
#include "vdev/config.h"
#include "vdev/inflight.h"
#include "vdev/mmio.h"

#define F(b) VDEV_BIT(VDEV_F_##b)
#define RING_ALL (F(EVENT_IDX) | F(INDIRECT_DESC) | F(RING_PACKED) | F(RING_RESET))

static struct sim_mem M;
static struct testdev TD;
static struct vdev_mmio MM;
static struct drv_mmio DM;
static struct drv_transport TR;

static void setup(void)
{
	sim_mem_init(&M, 1u << 20, false);
	/* The test device asks for every ring feature; the build decides. */
	cr_assert_eq(testdev_init(&TD, &M.mem, RING_ALL, 64), 0);
	struct vdev_mmio_config c = {.irq = drv_mmio_irq, .irq_opaque = &DM};
	cr_assert_eq(vdev_mmio_init(&MM, &TD.dev, &c), 0);
	memset(&DM, 0, sizeof(DM));
	DM.mmio = &MM;
	TR = drv_mmio_transport(&DM);
}

TestSuite(trim, .init = setup);

Test(trim, build_configuration)
{
	/* What this binary was built with, for the log. */
	cr_log_info("packed %d indirect %d blk %d net %d vsock %d gpu %d gpu3d %d console %d "
		    "rng %d input %d",
		    VDEV_CONFIG_PACKED, VDEV_CONFIG_INDIRECT, VDEV_CONFIG_DEV_BLK,
		    VDEV_CONFIG_DEV_NET, VDEV_CONFIG_DEV_VSOCK, VDEV_CONFIG_DEV_GPU,
		    VDEV_CONFIG_GPU_3D, VDEV_CONFIG_DEV_CONSOLE, VDEV_CONFIG_DEV_RNG,
		    VDEV_CONFIG_DEV_INPUT);
	cr_expect_eq(vdev_dev_offered_features(&TD.dev) & F(EVENT_IDX), F(EVENT_IDX),
		     "what is not trimmed stays offered");
}

/* The driver reads the offer through the transport's registers. */
Test(trim, offer_through_the_transport)
{
	TR.ops->set_status(TR.t, 0);
	TR.ops->set_status(TR.t, 0x01);
	TR.ops->set_status(TR.t, 0x03);
	uint64_t offered = TR.ops->get_features(TR.t);
	cr_expect_eq((offered & F(RING_PACKED)) != 0, VDEV_CONFIG_PACKED != 0,
		     "RING_PACKED offered: %d", (offered & F(RING_PACKED)) != 0);
	cr_expect_eq((offered & F(INDIRECT_DESC)) != 0, VDEV_CONFIG_INDIRECT != 0,
		     "INDIRECT_DESC offered: %d", (offered & F(INDIRECT_DESC)) != 0);
	cr_expect(offered & F(VERSION_1));
	cr_expect(offered & F(EVENT_IDX));
	cr_expect(offered & F(RING_RESET));
}

/* A driver that writes a feature anyway does not get FEATURES_OK. */
static bool features_ok_with(uint64_t extra)
{
	TR.ops->set_status(TR.t, 0);
	TR.ops->set_status(TR.t, 0x01);
	TR.ops->set_status(TR.t, 0x03);
	TR.ops->set_features(TR.t, F(VERSION_1) | extra);
	TR.ops->set_status(TR.t, 0x0b);
	return (TR.ops->get_status(TR.t) & 0x08) != 0;
}

Test(trim, driver_cannot_negotiate_what_is_left_out)
{
	cr_expect_eq(features_ok_with(0), true, "the plain set is accepted");
	cr_expect_eq(features_ok_with(F(RING_PACKED)), VDEV_CONFIG_PACKED != 0);
	cr_expect_eq(features_ok_with(F(INDIRECT_DESC)), VDEV_CONFIG_INDIRECT != 0);
	cr_expect_eq(features_ok_with(F(EVENT_IDX)), true);
}

/* vdev_vq_start() directly (as a transport of the integrator's own would
 * call it): the packed layout is refused when left out. */
Test(trim, vq_start_refuses_packed_when_left_out)
{
	static struct sim_pair p;
	int rc = sim_pair_init(&p, 16, F(VERSION_1) | F(RING_PACKED), 1u << 20, false);
	if (VDEV_CONFIG_PACKED)
		cr_expect_eq(rc, 0);
	else
		cr_expect_eq(rc, VDEV_ENOTSUP);
	sim_pair_destroy(&p);
	cr_expect_eq(sim_pair_init(&p, 16, F(VERSION_1), 1u << 20, false), 0, "split starts");
	sim_pair_destroy(&p);
}

/* The packed in-flight log (vhost-user's INFLIGHT_SHMFD for packed rings)
 * goes with the layout: binding one is refused when it is left out. */
Test(trim, packed_inflight_log_follows_the_build)
{
	static uint64_t region[VDEV_INFLIGHT_PACKED_SIZE(16) / 8 + 1];
	static uint16_t scratch[VDEV_INFLIGHT_PACKED_SCRATCH(16)];
	struct vdev_vq_inflight log;
	int rc;

	memset(&log, 0, sizeof(log));
	rc = vdev_vq_inflight_init_packed(&log, region, scratch, 16);
	cr_expect_eq(rc, VDEV_CONFIG_PACKED ? 0 : VDEV_ENOTSUP, "rc %d", rc);
}

/*
 * An indirect chain on a queue started with INDIRECT_DESC in its features
 * (bypassing negotiation): without indirect support in the build it is a
 * driver error, the chain is rejected (completed empty) and the queue goes
 * on; with it, the chain is served.
 */
Test(trim, indirect_chain_without_indirect_support_is_rejected)
{
	static struct sim_pair p;
	static int tok[2];
	struct vdev_vq_elem e;
	struct vdev_iov iov[8];
	uint64_t a = 0, b = 0;

	cr_assert_eq(sim_pair_init(&p, 16, F(VERSION_1) | F(INDIRECT_DESC), 1u << 20, false), 0);
	a = sim_alloc(&p.m, 64, 8);
	b = sim_alloc(&p.m, 64, 8);
	struct drv_buf bufs[2] = {{a, 16, false}, {b, 32, true}};
	cr_assert_eq(drv_add(&p.drv, bufs, 2, true, &tok[0]), 0);
	cr_assert_eq(vdev_vq_pop(&p.vq, &e, iov, 8), 1);
	if (VDEV_CONFIG_INDIRECT) {
		cr_expect_eq(e.error, 0);
		cr_expect_eq(e.n_out, 1);
		cr_expect_eq(e.n_in, 1);
	} else {
		cr_expect_eq(e.error, VDEV_ENOTSUP, "error %d", e.error);
		cr_expect_eq(e.n_out + e.n_in, 0);
	}
	vdev_vq_push(&p.vq, &e, 0);
	vdev_vq_flush(&p.vq);
	uint32_t len = 1;
	cr_expect_eq(drv_get_used(&p.drv, &len), &tok[0]);
	cr_expect_eq(len, 0);
	/* the queue goes on: a direct chain is served */
	cr_assert_eq(drv_add(&p.drv, bufs, 2, false, &tok[1]), 0);
	cr_assert_eq(vdev_vq_pop(&p.vq, &e, iov, 8), 1);
	cr_expect_eq(e.error, 0);
	cr_expect_eq(e.in_bytes, 32);
	vdev_vq_push(&p.vq, &e, 32);
	vdev_vq_flush(&p.vq);
	cr_expect_eq(drv_get_used(&p.drv, &len), &tok[1]);
	cr_expect_eq(len, 32);
	cr_expect_eq(p.drv.errors, 0, "%s", p.drv.last_error);
	sim_pair_destroy(&p);
}

/* What is kept works end to end: negotiate whatever is offered, echo
 * requests over MMIO (indirect ones too when the build has them), in every
 * layout the build has. */
static void echo_all(bool packed)
{
	static struct drv_vq q0;
	static int tok[64];
	uint64_t neg = 0;
	uint64_t want = F(VERSION_1) | VDEV_BIT(TESTDEV_F_XOR) | RING_ALL;

	if (!packed)
		want &= ~F(RING_PACKED);
	cr_assert_eq(drv_virtio_negotiate(&TR, want, &neg), 0);
	cr_assert_eq((neg & F(RING_PACKED)) != 0, packed);
	cr_assert_eq(drv_virtio_setup_queue(&TR, &q0, &M, 0, 0, neg), 0);
	cr_assert_eq(drv_virtio_driver_ok(&TR), 0x0f);
	uint64_t req = sim_alloc(&M, 64, 8), resp = sim_alloc(&M, 64, 8);
	for (int r = 0; r < 32; r++) {
		uint8_t *rq = sim_ptr(&M, req), *rp = sim_ptr(&M, resp);
		for (int i = 0; i < 64; i++)
			rq[i] = (uint8_t)(r + i);
		memset(rp, 0, 64);
		bool indirect = (neg & F(INDIRECT_DESC)) && (r & 1);
		struct drv_buf b[2] = {{req, 40, false}, {resp, 64, true}};
		cr_assert_eq(drv_add(&q0, b, 2, indirect, &tok[r % 64]), 0);
		if (drv_kick_prepare(&q0))
			TR.ops->notify(TR.t, 0, false, 0);
		uint32_t len = 0;
		cr_assert_eq(drv_get_used(&q0, &len), &tok[r % 64], "round %d", r);
		cr_assert_eq(len, 40);
		for (int i = 0; i < 40; i++)
			cr_assert_eq(rp[i], (uint8_t)((r + i) ^ 0xff));
	}
	cr_expect_eq(q0.errors, 0, "%s", q0.last_error);
	cr_expect_eq(TD.requests, 32);
	drv_vq_destroy(&q0);
}

Test(trim, split_works) { echo_all(false); }

Test(trim, packed_works_when_built)
{
	if (!VDEV_CONFIG_PACKED)
		cr_skip_test("packed ring left out of this build (VDEV_CONFIG_PACKED 0)");
	echo_all(true);
}

#if VDEV_CONFIG_DEV_BLK
/* A device model's own offer goes through the same filter. */
static int blk_read(void *opaque, struct vdev_blk_io *io)
{
	(void)opaque, (void)io;
	return VDEV_EIO;
}

Test(trim, blk_offer_follows_the_build)
{
	static struct vdev_blk b;
	static struct vdev_vq q[1];
	static uint64_t held[VDEV_VQ_HELD_WORDS(8)];
	static struct vdev_blk_req r[1];
	static struct vdev_iov v[8];
	static const struct vdev_blk_backend_ops ops = {.size = sizeof(ops), .read = blk_read};
	struct vdev_blk_config c = {
		.capacity = 8, .num_queues = 1, .queue_size = 8, .seg_max = 4, .mem = &M.mem,
		.queues = q, .queue_held = held, .reqs = r, .num_reqs = 1, .iovs = v,
		.iov_per_req = 6, .read_only = true, .backend = &ops,
	};
	cr_assert_eq(vdev_blk_init(&b, &c), 0);
	uint64_t f = vdev_dev_offered_features(vdev_blk_dev(&b));
	cr_expect_eq((f & F(RING_PACKED)) != 0, VDEV_CONFIG_PACKED != 0);
	cr_expect_eq((f & F(INDIRECT_DESC)) != 0, VDEV_CONFIG_INDIRECT != 0);
	cr_expect(f & F(EVENT_IDX));
}
#endif
