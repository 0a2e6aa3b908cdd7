/* SPDX-License-Identifier: MIT */
/*
 * Device core: feature negotiation, the status state machine, queue
 * programming rules, configuration space, reset (synchronous and
 * asynchronous), RING_RESET, NEEDS_RESET on broken rings.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "drvsim.h"
#include "vdev/device.h"

#define F(b) VDEV_BIT(VDEV_F_##b)
#define S(b) VDEV_STATUS_##b

/* A test device model that records what the core asked of it. */
struct tdev {
	struct vdev_dev dev;
	struct vdev_vq q[2];
	uint64_t held[2 * VDEV_VQ_HELD_WORDS(16)];
	uint8_t cfg[16];
	int validate_ret, activate_ret, reset_ret;
	unsigned validates, activates, resets, notifies[2], queue_resets, queue_enables;
	unsigned config_writes, irq_queue[2], irq_config;
	uint32_t last_off, last_len;
	uint8_t last_byte;
	uint64_t validated;
};

static struct tdev T;
static struct sim_mem M;

static int t_validate(void *o, uint64_t f)
{
	struct tdev *t = o;
	t->validates++;
	t->validated = f;
	return t->validate_ret;
}
static int t_activate(void *o) { struct tdev *t = o; t->activates++; return t->activate_ret; }
static int t_reset(void *o) { struct tdev *t = o; t->resets++; return t->reset_ret; }
static void t_notify(void *o, uint16_t q) { ((struct tdev *)o)->notifies[q]++; }
static void t_config_write(void *o, uint32_t off, const void *d, uint32_t len)
{
	struct tdev *t = o;
	t->config_writes++;
	t->last_off = off;
	t->last_len = len;
	t->last_byte = *(const uint8_t *)d;
	if (off == 8) /* one writable byte */
		t->cfg[8] = t->last_byte;
}
static void t_queue_reset(void *o, uint16_t q) { (void)q; ((struct tdev *)o)->queue_resets++; }
static void t_queue_enable(void *o, uint16_t q) { (void)q; ((struct tdev *)o)->queue_enables++; }

static const struct vdev_dev_ops t_ops = {
	.size = sizeof(struct vdev_dev_ops),
	.validate_features = t_validate,
	.activate = t_activate,
	.reset = t_reset,
	.queue_notify = t_notify,
	.config_write = t_config_write,
	.queue_reset = t_queue_reset,
	.queue_enable = t_queue_enable,
};

static void irq_q(void *o, uint16_t q) { ((struct tdev *)o)->irq_queue[q]++; }
static void irq_c(void *o) { ((struct tdev *)o)->irq_config++; }
static const struct vdev_transport_ops t_tops = {
	.size = sizeof(struct vdev_transport_ops),
	.notify_queue = irq_q,
	.notify_config = irq_c,
};

#define OFFER (F(VERSION_1) | F(EVENT_IDX) | F(RING_PACKED) | F(RING_RESET) | VDEV_BIT(3))

static void setup(void)
{
	memset(&T, 0, sizeof(T));
	for (unsigned i = 0; i < sizeof(T.cfg); i++)
		T.cfg[i] = (uint8_t)(0x10 + i);
	sim_mem_init(&M, 1u << 20, false);
	struct vdev_dev_config c = {
		.device_id = 42, .features = OFFER, .queues = T.q, .queue_held = T.held, .num_queues = 2,
		.queue_max_size = 16, .config = T.cfg, .config_len = sizeof(T.cfg),
		.mem = &M.mem, .ops = &t_ops, .opaque = &T,
	};
	cr_assert_eq(vdev_dev_init(&T.dev, &c), 0);
	vdev_dev_set_transport(&T.dev, &t_tops, &T);
}

/* Driver side of one queue, allocated in M. */
static struct drv_vq DQ[2];

static void program_queue(unsigned i, uint16_t size, bool packed)
{
	drv_vq_init(&DQ[i], &M, size, packed, false, false, 0);
	cr_assert_eq(vdev_dev_queue_set_size(&T.dev, i, size), 0);
	cr_assert_eq(vdev_dev_queue_set_addrs(&T.dev, i, DQ[i].desc_gpa, DQ[i].driver_gpa,
					      DQ[i].device_gpa), 0);
	cr_assert_eq(vdev_dev_queue_enable(&T.dev, i, true), 0);
}

/* The spec's initialisation sequence up to (not including) DRIVER_OK. */
static void negotiate(uint64_t f)
{
	cr_assert_eq(vdev_dev_set_status(&T.dev, S(ACKNOWLEDGE)), 0);
	cr_assert_eq(vdev_dev_set_status(&T.dev, S(ACKNOWLEDGE) | S(DRIVER)), 0);
	cr_assert_eq(vdev_dev_set_driver_features(&T.dev, f), 0);
	cr_assert_eq(vdev_dev_set_status(&T.dev, S(ACKNOWLEDGE) | S(DRIVER) | S(FEATURES_OK)), 0);
	cr_assert(vdev_dev_status(&T.dev) & S(FEATURES_OK));
}

static const uint8_t LIVE = S(ACKNOWLEDGE) | S(DRIVER) | S(FEATURES_OK) | S(DRIVER_OK);

static void bring_up(uint64_t f)
{
	negotiate(f);
	program_queue(0, 8, (f & F(RING_PACKED)) != 0);
	cr_assert_eq(vdev_dev_set_status(&T.dev, LIVE), 0);
	cr_assert_eq(vdev_dev_status(&T.dev), LIVE);
}

Test(device, init_validates_the_configuration)
{
	struct vdev_dev d;
	struct vdev_vq q[1];
	uint64_t held[VDEV_VQ_HELD_WORDS(8)];
	uint8_t cfg[4];
	sim_mem_init(&M, 4096, true);
	struct vdev_dev_config c = {.device_id = 1, .features = F(VERSION_1), .queues = q,
				    .queue_held = held, .num_queues = 1, .queue_max_size = 8, .config = cfg,
				    .config_len = 4, .mem = &M.mem, .ops = &t_ops};
	cr_expect_eq(vdev_dev_init(&d, &c), 0);
	c.features = VDEV_BIT(0);
	cr_expect_eq(vdev_dev_init(&d, &c), VDEV_EINVAL, "no VERSION_1");
	c.features = F(VERSION_1) | VDEV_BIT(VDEV_F_ACCESS_PLATFORM + 10); /* bit 43: SUSPEND */
	cr_expect_eq(vdev_dev_init(&d, &c), VDEV_EINVAL, "reserved bit the core lacks");
	c.features = F(VERSION_1);
	c.num_queues = 0;
	cr_expect_eq(vdev_dev_init(&d, &c), VDEV_EINVAL);
	c.num_queues = 1;
	c.queue_max_size = 32769;
	cr_expect_eq(vdev_dev_init(&d, &c), VDEV_EINVAL);
	c.queue_max_size = 8;
	c.config_len = VDEV_CONFIG_MAX + 1;
	cr_expect_eq(vdev_dev_init(&d, &c), VDEV_EINVAL);
	c.config_len = 4;
	c.ops = NULL;
	cr_expect_eq(vdev_dev_init(&d, &c), VDEV_EINVAL);
	c.ops = &t_ops;
	c.queue_held = NULL;
	cr_expect_eq(vdev_dev_init(&d, &c), VDEV_EINVAL, "no held-buffer bitmap");
}

Test(device, feature_negotiation_accepts_a_subset)
{
	setup();
	cr_expect_eq(vdev_dev_device_id(&T.dev), 42);
	cr_expect_eq(vdev_dev_offered_features(&T.dev), OFFER);
	negotiate(F(VERSION_1) | VDEV_BIT(3));
	cr_expect_eq(T.validates, 1);
	cr_expect_eq(T.validated, F(VERSION_1) | VDEV_BIT(3));
	cr_expect_eq(vdev_dev_features(&T.dev), F(VERSION_1) | VDEV_BIT(3));
	cr_expect(vdev_dev_has_feature(&T.dev, 3));
	cr_expect_not(vdev_dev_has_feature(&T.dev, VDEV_F_EVENT_IDX));
	cr_expect_not(vdev_dev_has_feature(&T.dev, 200));
	cr_expect_eq(vdev_dev_set_driver_features(&T.dev, F(VERSION_1)), VDEV_EPERM,
		     "features are fixed after FEATURES_OK");
	cr_expect_eq(vdev_dev_features(&T.dev), F(VERSION_1) | VDEV_BIT(3));
}

static void expect_features_refused(uint64_t f)
{
	setup();
	vdev_dev_set_status(&T.dev, S(ACKNOWLEDGE) | S(DRIVER));
	vdev_dev_set_driver_features(&T.dev, f);
	cr_expect_eq(vdev_dev_set_status(&T.dev, S(ACKNOWLEDGE) | S(DRIVER) | S(FEATURES_OK)),
		     VDEV_ENOTSUP);
	cr_expect_eq(vdev_dev_status(&T.dev), S(ACKNOWLEDGE) | S(DRIVER),
		     "FEATURES_OK reads back clear");
	cr_expect_eq(vdev_dev_features(&T.dev), 0);
	/* DRIVER_OK cannot follow */
	cr_expect_eq(vdev_dev_set_status(&T.dev, S(ACKNOWLEDGE) | S(DRIVER) | S(DRIVER_OK)),
		     VDEV_EPERM);
	cr_expect_not(vdev_dev_status(&T.dev) & S(DRIVER_OK));
}

Test(device, features_ok_refused_for_unoffered_bits)
{
	expect_features_refused(F(VERSION_1) | VDEV_BIT(5));
}

Test(device, features_ok_refused_without_version_1) { expect_features_refused(VDEV_BIT(3)); }

Test(device, features_ok_refused_by_the_model)
{
	setup();
	T.validate_ret = VDEV_EINVAL;
	vdev_dev_set_status(&T.dev, S(ACKNOWLEDGE) | S(DRIVER));
	vdev_dev_set_driver_features(&T.dev, F(VERSION_1));
	cr_expect_eq(vdev_dev_set_status(&T.dev, S(ACKNOWLEDGE) | S(DRIVER) | S(FEATURES_OK)),
		     VDEV_ENOTSUP);
	cr_expect_not(vdev_dev_status(&T.dev) & S(FEATURES_OK));
}

Test(device, status_bits_cannot_be_cleared_except_by_reset)
{
	setup();
	negotiate(F(VERSION_1));
	cr_expect_eq(vdev_dev_set_status(&T.dev, S(ACKNOWLEDGE)), VDEV_EPERM);
	cr_expect_eq(vdev_dev_status(&T.dev), S(ACKNOWLEDGE) | S(DRIVER) | S(FEATURES_OK));
	/* the driver echoing NEEDS_RESET back is harmless */
	cr_expect_eq(vdev_dev_set_status(&T.dev, S(ACKNOWLEDGE) | S(DRIVER) | S(FEATURES_OK) |
					      S(NEEDS_RESET)), 0);
	cr_expect_not(vdev_dev_status(&T.dev) & S(NEEDS_RESET));
}

Test(device, features_ok_needs_driver)
{
	setup();
	vdev_dev_set_driver_features(&T.dev, F(VERSION_1));
	cr_expect_eq(vdev_dev_set_status(&T.dev, S(ACKNOWLEDGE) | S(FEATURES_OK)), VDEV_EPERM);
	cr_expect_eq(vdev_dev_status(&T.dev), S(ACKNOWLEDGE));
}

Test(device, driver_ok_starts_enabled_queues_and_activates)
{
	setup();
	bring_up(F(VERSION_1));
	cr_expect_eq(T.activates, 1);
	cr_expect(vdev_vq_is_live(&T.q[0]));
	cr_expect_not(vdev_vq_is_live(&T.q[1]), "never enabled");
	cr_expect(vdev_dev_is_running(&T.dev));
	cr_expect_eq(vdev_dev_queue_notify(&T.dev, 0, false, 0), 0);
	cr_expect_eq(T.notifies[0], 1);
	cr_expect_eq(vdev_dev_queue_notify(&T.dev, 1, false, 0), VDEV_EPERM, "queue not live");
	cr_expect_eq(T.notifies[1], 0);
	cr_expect_eq(vdev_dev_queue_notify(&T.dev, 2, false, 0), VDEV_ENOENT);
	cr_expect_eq(vdev_dev_queue_notify(&T.dev, 0xffff, false, 0), VDEV_ENOENT);
}

Test(device, kick_before_driver_ok_is_ignored)
{
	setup();
	negotiate(F(VERSION_1));
	program_queue(0, 8, false);
	cr_expect_eq(vdev_dev_queue_notify(&T.dev, 0, false, 0), VDEV_EPERM);
	cr_expect_eq(T.notifies[0], 0);
}

Test(device, queue_registers_follow_the_rules)
{
	setup();
	cr_expect_eq(vdev_dev_queue_enable(&T.dev, 0, true), VDEV_EPERM, "before FEATURES_OK");
	negotiate(F(VERSION_1));
	cr_expect_eq(vdev_dev_queue_set_size(&T.dev, 5, 8), VDEV_ENOENT);
	cr_expect_eq(vdev_dev_queue_set_size(&T.dev, 0xffff, 8), VDEV_ENOENT);
	cr_expect_null(vdev_dev_queue(&T.dev, 2));
	cr_expect_eq(vdev_dev_queue_set_size(&T.dev, 0, 17), VDEV_EINVAL, "above max");
	cr_expect_eq(vdev_dev_queue_set_size(&T.dev, 0, 6), 0);
	cr_expect_eq(vdev_dev_queue_enable(&T.dev, 0, true), VDEV_EINVAL,
		     "split ring sizes are powers of two");
	cr_expect_not(vdev_dev_queue_enabled(&T.dev, 0));
	program_queue(0, 8, false);
	cr_expect_eq(vdev_dev_queue_set_size(&T.dev, 0, 4), VDEV_EBUSY, "enabled");
	cr_expect_eq(vdev_dev_queue_set_addrs(&T.dev, 0, 0, 0, 0), VDEV_EBUSY);
	cr_expect_eq(vdev_vq_size(&T.q[0]), 8);
	cr_assert_eq(vdev_dev_set_status(&T.dev, LIVE), 0);
	/* after DRIVER_OK without RING_RESET, queue 1 cannot be set up */
	cr_expect_eq(vdev_dev_queue_set_size(&T.dev, 1, 4), VDEV_EPERM);
	cr_expect_eq(vdev_dev_queue_enable(&T.dev, 1, true), VDEV_EPERM);
	cr_expect_eq(vdev_dev_queue_reset(&T.dev, 0), VDEV_ENOTSUP);
}

Test(device, packed_queue_accepts_any_size)
{
	setup();
	negotiate(F(VERSION_1) | F(RING_PACKED));
	program_queue(0, 6, true);
	cr_assert_eq(vdev_dev_set_status(&T.dev, LIVE), 0);
	cr_expect(vdev_vq_is_live(&T.q[0]));
	cr_expect_eq(vdev_vq_layout(&T.q[0]), VDEV_VQ_PACKED);
}

Test(device, bad_ring_address_at_driver_ok_needs_reset)
{
	setup();
	negotiate(F(VERSION_1));
	cr_assert_eq(vdev_dev_queue_set_addrs(&T.dev, 0, SIM_HOLE_GPA, SIM_HOLE_GPA, SIM_HOLE_GPA),
		     0);
	cr_assert_eq(vdev_dev_queue_enable(&T.dev, 0, true), 0);
	cr_expect_eq(vdev_dev_set_status(&T.dev, LIVE), VDEV_EFAULT);
	cr_expect(vdev_dev_status(&T.dev) & S(NEEDS_RESET));
	cr_expect_eq(T.irq_config, 1, "config notification for NEEDS_RESET");
	cr_expect_eq(T.activates, 0);
	cr_expect_not(vdev_dev_is_running(&T.dev));
	cr_expect_eq(vdev_dev_queue_notify(&T.dev, 0, false, 0), VDEV_EPERM);
}

/*
 * The rings of two queues overlap: queue 1's used ring is queue 0's avail
 * ring, so every completion on queue 1 would be new work on queue 0
 * (vsock's rx and tx). DRIVER_OK refuses it as a bad ring address; so does
 * a queue enabled later (RING_RESET) over a live queue's rings.
 */
static void sibling_overlap(bool packed)
{
	setup();
	negotiate(F(VERSION_1) | F(RING_RESET) | (packed ? F(RING_PACKED) : 0));
	program_queue(0, 8, packed);
	drv_vq_init(&DQ[1], &M, 8, packed, false, false, 0);
	cr_assert_eq(vdev_dev_queue_set_size(&T.dev, 1, 8), 0);
	cr_assert_eq(vdev_dev_queue_set_addrs(&T.dev, 1, DQ[1].desc_gpa, DQ[1].driver_gpa,
					      DQ[0].driver_gpa), 0);
	cr_assert_eq(vdev_dev_queue_enable(&T.dev, 1, true), 0);
	cr_expect_eq(vdev_dev_set_status(&T.dev, LIVE), VDEV_EEXIST);
	cr_expect(vdev_dev_status(&T.dev) & S(NEEDS_RESET));
	cr_expect_eq(T.activates, 0);

	/* again, the overlapping queue enabled while the device runs */
	setup();
	negotiate(F(VERSION_1) | F(RING_RESET) | (packed ? F(RING_PACKED) : 0));
	program_queue(0, 8, packed);
	program_queue(1, 8, packed);
	cr_assert_eq(vdev_dev_set_status(&T.dev, LIVE), 0);
	cr_assert_eq(vdev_dev_queue_reset(&T.dev, 1), 0);
	cr_assert_eq(vdev_dev_queue_set_size(&T.dev, 1, 8), 0);
	cr_assert_eq(vdev_dev_queue_set_addrs(&T.dev, 1, DQ[1].desc_gpa, DQ[1].driver_gpa,
					      DQ[0].driver_gpa), 0);
	cr_expect_eq(vdev_dev_queue_enable(&T.dev, 1, true), VDEV_EEXIST);
	cr_expect_not(vdev_vq_is_live(&T.q[1]));
	cr_expect(vdev_dev_status(&T.dev) & S(NEEDS_RESET));
	/* and apart, it comes up */
	setup();
	negotiate(F(VERSION_1) | (packed ? F(RING_PACKED) : 0));
	program_queue(0, 8, packed);
	program_queue(1, 8, packed);
	cr_expect_eq(vdev_dev_set_status(&T.dev, LIVE), 0);
	cr_expect(vdev_vq_is_live(&T.q[1]));
}
Test(device, split_rings_of_two_queues_that_overlap_need_reset) { sibling_overlap(false); }
Test(device, packed_rings_of_two_queues_that_overlap_need_reset) { sibling_overlap(true); }

/*
 * vdev_vq_set_feeds(): queue 0 is written while queue 1 is processed
 * (vsock's rx and tx), so a buffer of queue 0 the device would write on
 * where queue 1 looks for work (its avail ring; packed: its descriptor
 * ring) is rejected (VDEV_EEXIST); read there, it is fine.
 */
static void feeds_peer(bool packed)
{
	struct vdev_vq_elem e;
	struct vdev_iov v[4];
	int tk;

	setup();
	vdev_vq_set_feeds(&T.q[0], &T.q[1]);
	negotiate(F(VERSION_1) | (packed ? F(RING_PACKED) : 0));
	program_queue(0, 8, packed);
	program_queue(1, 8, packed);
	cr_assert_eq(vdev_dev_set_status(&T.dev, LIVE), 0);
	const uint64_t work = packed ? DQ[1].desc_gpa + 16 * 7 + 14 : DQ[1].driver_gpa + 2;
	struct drv_buf b = {work, 2, true};
	cr_assert_eq(drv_add(&DQ[0], &b, 1, false, &tk), 0);
	cr_assert_eq(vdev_vq_pop(&T.q[0], &e, v, 4), 1);
	cr_expect_eq(e.error, VDEV_EEXIST);
	cr_expect_eq(e.n_in, 0);
	b.write = false;
	cr_assert_eq(drv_add(&DQ[0], &b, 1, false, &tk), 0);
	cr_assert_eq(vdev_vq_pop(&T.q[0], &e, v, 4), 1);
	cr_expect_eq(e.error, 0, "read there: fine");
	cr_expect_eq(e.n_out, 1);
}
Test(device, split_buffer_written_on_the_ring_of_the_queue_it_feeds_is_rejected)
{
	feeds_peer(false);
}
Test(device, packed_buffer_written_on_the_ring_of_the_queue_it_feeds_is_rejected)
{
	feeds_peer(true);
}

Test(device, broken_ring_marks_needs_reset_once)
{
	struct vdev_vq_elem e;
	struct vdev_iov iov[4];

	setup();
	bring_up(F(VERSION_1));
	drv_split_set_avail_idx(&DQ[0], 100); /* far ahead */
	cr_expect_eq(vdev_vq_pop(&T.q[0], &e, iov, 4), VDEV_EPROTO);
	cr_expect_eq(vdev_dev_status(&T.dev), LIVE | S(NEEDS_RESET));
	cr_expect_eq(T.irq_config, 1);
	cr_expect_eq(vdev_vq_pop(&T.q[0], &e, iov, 4), VDEV_EPROTO);
	cr_expect_eq(T.irq_config, 1, "one notification");
	cr_expect_eq(vdev_dev_queue_notify(&T.dev, 0, false, 0), VDEV_EPERM);
	/* reset clears it */
	cr_expect_eq(vdev_dev_set_status(&T.dev, 0), 0);
	cr_expect_eq(vdev_dev_status(&T.dev), 0);
}

/* A buffer made available again while the device holds it: the ring is
 * broken, NEEDS_RESET with one configuration-change notification; after a
 * reset the same buffer is the device's to take again. */
static void offered_twice_needs_reset(bool packed)
{
	struct vdev_vq_elem e;
	struct vdev_iov iov[4];
	uint64_t f = F(VERSION_1) | (packed ? F(RING_PACKED) : 0);
	uint64_t d;
	static int tk;

	setup();
	bring_up(f);
	d = sim_alloc(&M, 64, 8);
	struct drv_buf b = {d, 16, true};
	cr_assert_eq(drv_add(&DQ[0], &b, 1, false, &tk), 0);
	cr_assert_eq(vdev_vq_pop(&T.q[0], &e, iov, 4), 1);
	drv_offer_again(&DQ[0], e.id, &b);
	cr_expect_eq(vdev_vq_pop(&T.q[0], &e, iov, 4), VDEV_EPROTO);
	cr_expect_eq(vdev_dev_status(&T.dev), LIVE | S(NEEDS_RESET));
	cr_expect_eq(T.irq_config, 1);
	cr_expect_eq(vdev_dev_queue_notify(&T.dev, 0, false, 0), VDEV_EPERM);
	cr_expect_eq(vdev_dev_set_status(&T.dev, 0), 0);
	cr_expect_eq(vdev_dev_status(&T.dev), 0);
	/* a fresh driver: buffer 0 again, taken normally */
	bring_up(f);
	cr_assert_eq(drv_add(&DQ[0], &b, 1, false, &tk), 0);
	cr_assert_eq(vdev_vq_pop(&T.q[0], &e, iov, 4), 1);
	cr_expect_eq(e.id, 0);
	cr_expect_eq(vdev_vq_push(&T.q[0], &e, 16), 0);
	cr_expect_eq(vdev_dev_status(&T.dev), LIVE);
}

Test(device, split_buffer_offered_twice_needs_reset) { offered_twice_needs_reset(false); }
Test(device, packed_buffer_offered_twice_needs_reset) { offered_twice_needs_reset(true); }

Test(device, activate_failure_needs_reset)
{
	setup();
	T.activate_ret = VDEV_EIO;
	negotiate(F(VERSION_1));
	program_queue(0, 8, false);
	cr_expect_eq(vdev_dev_set_status(&T.dev, LIVE), VDEV_EIO);
	cr_expect(vdev_dev_status(&T.dev) & S(NEEDS_RESET));
}

Test(device, reset_returns_everything_to_the_start)
{
	setup();
	bring_up(F(VERSION_1) | F(EVENT_IDX));
	cr_assert_eq(vdev_dev_set_status(&T.dev, 0), 0);
	cr_expect_eq(T.resets, 1);
	cr_expect_eq(vdev_dev_status(&T.dev), 0);
	cr_expect_eq(vdev_dev_features(&T.dev), 0);
	cr_expect_eq(vdev_dev_driver_features(&T.dev), 0);
	cr_expect_not(vdev_vq_is_live(&T.q[0]));
	cr_expect_not(vdev_dev_queue_enabled(&T.dev, 0));
	cr_expect_eq(vdev_vq_size(&T.q[0]), 16, "size back to max");
	/* and it can be brought up again, this time packed */
	sim_mem_reset_alloc(&M);
	bring_up(F(VERSION_1) | F(RING_PACKED));
	cr_expect_eq(T.activates, 2);
	cr_expect_eq(vdev_vq_layout(&T.q[0]), VDEV_VQ_PACKED);
}

Test(device, asynchronous_reset_reads_nonzero_until_complete)
{
	setup();
	bring_up(F(VERSION_1));
	T.reset_ret = VDEV_EBUSY;
	cr_assert_eq(vdev_dev_set_status(&T.dev, 0), 0);
	cr_expect_neq(vdev_dev_status(&T.dev), 0, "requests still in flight");
	cr_expect_not(vdev_vq_is_live(&T.q[0]), "queues stop at once");
	cr_expect_not(vdev_dev_is_running(&T.dev));
	cr_expect_eq(vdev_dev_set_status(&T.dev, S(ACKNOWLEDGE)), VDEV_EBUSY);
	cr_expect_eq(vdev_dev_queue_set_size(&T.dev, 0, 4), VDEV_EPERM);
	vdev_dev_reset_complete(&T.dev);
	cr_expect_eq(vdev_dev_status(&T.dev), 0);
	cr_expect_eq(vdev_dev_set_status(&T.dev, S(ACKNOWLEDGE)), 0);
}

Test(device, ring_reset_resets_and_reenables_one_queue)
{
	setup();
	negotiate(F(VERSION_1) | F(RING_RESET));
	program_queue(0, 8, false);
	program_queue(1, 4, false);
	cr_assert_eq(vdev_dev_set_status(&T.dev, LIVE), 0);
	cr_expect_eq(vdev_dev_queue_set_size(&T.dev, 1, 2), VDEV_EBUSY, "still enabled");
	cr_assert_eq(vdev_dev_queue_reset(&T.dev, 1), 0);
	cr_expect_eq(T.queue_resets, 1);
	cr_expect_not(vdev_vq_is_live(&T.q[1]));
	cr_expect(vdev_vq_is_live(&T.q[0]), "other queues unaffected");
	cr_expect_eq(vdev_dev_queue_notify(&T.dev, 1, false, 0), VDEV_EPERM);
	/* re-program and re-enable while the device is live */
	program_queue(1, 2, false);
	cr_expect(vdev_vq_is_live(&T.q[1]));
	cr_expect_eq(vdev_vq_size(&T.q[1]), 2);
	cr_expect_eq(T.queue_enables, 1);
	cr_expect_eq(vdev_dev_queue_reset(&T.dev, 7), VDEV_ENOENT);
}

Test(device, config_space_bounds_and_writes)
{
	uint8_t b[8];

	setup();
	cr_expect_eq(vdev_dev_config_len(&T.dev), 16);
	cr_expect_eq(vdev_dev_config_read(&T.dev, 4, b, 4), 0);
	cr_expect_eq(b[0], 0x14);
	cr_expect_eq(vdev_dev_config_read(&T.dev, 14, b, 4), VDEV_ERANGE);
	cr_expect_eq(b[0] | b[1] | b[2] | b[3], 0, "out of range reads as zero");
	cr_expect_eq(vdev_dev_config_read(&T.dev, UINT32_MAX - 1, b, 4), VDEV_ERANGE);
	cr_expect_eq(vdev_dev_config_read(&T.dev, 16, b, 0), 0);
	uint8_t v = 0x99;
	cr_expect_eq(vdev_dev_config_write(&T.dev, 8, &v, 1), 0);
	cr_expect_eq(T.cfg[8], 0x99);
	cr_expect_eq(vdev_dev_config_write(&T.dev, 0xfffffffe, &v, 4), VDEV_ERANGE);
	cr_expect_eq(T.config_writes, 1);
}

Test(device, config_change_bumps_generation_and_notifies_after_driver_ok)
{
	setup();
	uint32_t g0 = vdev_dev_config_generation(&T.dev);
	vdev_dev_config_changed(&T.dev);
	cr_expect_eq(vdev_dev_config_generation(&T.dev), g0 + 1);
	cr_expect_eq(T.irq_config, 0, "no notifications before DRIVER_OK");
	bring_up(F(VERSION_1));
	vdev_dev_config_changed(&T.dev);
	cr_expect_eq(vdev_dev_config_generation(&T.dev), g0 + 2);
	cr_expect_eq(T.irq_config, 1);
}

Test(device, failed_stops_processing)
{
	setup();
	bring_up(F(VERSION_1));
	cr_assert_eq(vdev_dev_set_status(&T.dev, LIVE | S(FAILED)), 0);
	cr_expect_not(vdev_dev_is_running(&T.dev));
	cr_expect_eq(vdev_dev_queue_notify(&T.dev, 0, false, 0), VDEV_EPERM);
}

Test(device, used_buffer_notification_goes_through_the_transport)
{
	struct vdev_vq_elem e;
	struct vdev_iov iov[4];
	static int tk;

	setup();
	bring_up(F(VERSION_1));
	uint64_t b = sim_alloc(&M, 16, 8);
	struct drv_buf db = {b, 16, true};
	cr_assert_eq(drv_add(&DQ[0], &db, 1, false, &tk), 0);
	cr_assert_eq(vdev_vq_pop(&T.q[0], &e, iov, 4), 1);
	cr_assert_eq(vdev_vq_push(&T.q[0], &e, 16), 0);
	cr_expect(vdev_vq_flush(&T.q[0]));
	cr_expect_eq(T.irq_queue[0], 1);
}

Test(device, notification_data_reaches_the_queue)
{
	struct vdev_vq_stats st;

	setup();
	struct vdev_dev_config c = {
		.device_id = 42, .features = OFFER | F(NOTIFICATION_DATA), .queues = T.q,
		.queue_held = T.held, .num_queues = 2, .queue_max_size = 16, .config = T.cfg,
		.config_len = sizeof(T.cfg), .mem = &M.mem, .ops = &t_ops, .opaque = &T,
	};
	cr_assert_eq(vdev_dev_init(&T.dev, &c), 0);
	bring_up(F(VERSION_1) | F(NOTIFICATION_DATA));
	cr_expect_eq(vdev_dev_queue_notify(&T.dev, 0, true, 0x1234), 0);
	vdev_vq_get_stats(&T.q[0], &st);
	cr_expect_eq(st.bad_notify_data, 1, "0x1234 is far ahead of an empty ring");
	cr_expect_eq(T.notifies[0], 1);
}
