/* SPDX-License-Identifier: MIT */
/*
 * virtio-input device model, driven through the virtio-mmio transport by
 * the driver simulator with a recording host: the config space's
 * select/subsel protocol for every select (and the ones that do not
 * exist), the keyboard, mouse and multi-touch profiles, events in order
 * through the eventq with a backlog when the driver has no buffers and
 * whole-update drops when that is full, LEDs back through the statusq,
 * and every malformed buffer and config write.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "drv_mmio.h"
#include "drvsim.h"
#include "vdev/input.h"
#include "vdev/mmio.h"

#define F(b) VDEV_BIT(VDEV_F_##b)
#define IOVS 4
#define QSIZE 16
#define BACKLOG 16

struct host {
	struct vdev_input_event st[16];
	unsigned nst, drained;
};

static struct {
	struct sim_mem m;
	struct host h;
	struct vdev_input_profile prof;
	struct vdev_input in;
	struct vdev_vq queues[2];
	uint64_t queue_held[2 * VDEV_VQ_HELD_WORDS(VDEV_VQ_MAX_SIZE)];
	struct vdev_iov iovs[2 * IOVS];
	struct vdev_input_event backlog[BACKLOG];
	struct vdev_mmio mmio;
	struct drv_mmio dm;
	struct drv_transport tr;
	struct drv_vq q[2];
	uint64_t neg, arena;
} F;
static int tok[64];

static void h_status(void *o, const struct vdev_input_event *ev)
{
	struct host *h = o;
	cr_assert_lt(h->nst, 16);
	h->st[h->nst++] = *ev;
}

static void h_drained(void *o) { ((struct host *)o)->drained++; }

static const struct vdev_input_host_ops host_ops = {
	.size = sizeof(struct vdev_input_host_ops),
	.status = h_status,
	.drained = h_drained,
};

enum profile { P_KEYBOARD, P_MOUSE, P_TOUCH };

struct opts {
	enum profile profile;
	bool packed, no_driver_ok;
	unsigned backlog;
};

static void bring_up(bool packed)
{
	uint64_t want = ~(uint64_t)0;
	if (!packed)
		want &= ~F(RING_PACKED);
	cr_assert_eq(drv_virtio_negotiate(&F.tr, want, &F.neg), 0);
	for (uint16_t i = 0; i < 2; i++)
		cr_assert_eq(drv_virtio_setup_queue(&F.tr, &F.q[i], &F.m, i, QSIZE, F.neg), 0);
	cr_assert_eq(drv_virtio_driver_ok(&F.tr), 0x0f);
}

static void setup_with(struct opts o)
{
	memset(&F.h, 0, sizeof(F.h));
	sim_mem_init(&F.m, 4u << 20, false);
	switch (o.profile) {
	case P_KEYBOARD: vdev_input_profile_keyboard(&F.prof, "vdev keyboard"); break;
	case P_MOUSE: vdev_input_profile_mouse(&F.prof, "vdev mouse"); break;
	case P_TOUCH:
		cr_assert_eq(vdev_input_profile_touchscreen(&F.prof, "vdev touch", 1920, 1080, 10),
			     0);
		break;
	}
	struct vdev_input_config c = {
		.profile = &F.prof,
		.queue_size = QSIZE,
		.mem = &F.m.mem,
		.queues = F.queues,
		.queue_held = F.queue_held,
		.iovs = F.iovs,
		.iov_per_chain = IOVS,
		.backlog = F.backlog,
		.backlog_len = o.backlog ? o.backlog : BACKLOG,
		.host = &host_ops,
		.host_opaque = &F.h,
	};
	cr_assert_eq(vdev_input_init(&F.in, &c), 0);
	cr_assert_eq(drv_mmio_attach(&F.dm, &F.mmio, vdev_input_dev(&F.in), &F.tr), 0);
	F.arena = sim_alloc(&F.m, 64u * 64u, 64);
	if (!o.no_driver_ok)
		bring_up(o.packed);
}

static void setup(void) { setup_with((struct opts){0}); }
static void teardown(void) { sim_mem_destroy(&F.m); }

TestSuite(input, .fini = teardown);

static uint64_t slot(int t) { return F.arena + (uint64_t)t * 64u; }

static void kick(unsigned q)
{
	if (drv_kick_prepare(&F.q[q]))
		F.tr.ops->notify(F.tr.t, (uint16_t)q, false, 0);
}

static struct vdev_input_stats stats(void)
{
	struct vdev_input_stats s;
	vdev_input_get_stats(&F.in, &s);
	return s;
}

/* ---- the config space ---- */

struct answer {
	uint8_t size;
	uint8_t u[128];
};

static void cfg_select(uint8_t sel, uint8_t sub)
{
	F.tr.ops->config_write(F.tr.t, 0, &sel, 1);
	F.tr.ops->config_write(F.tr.t, 1, &sub, 1);
}

static struct answer query(uint8_t sel, uint8_t sub)
{
	uint8_t raw[VDEV_INPUT_CONFIG_SIZE];
	struct answer a;

	cfg_select(sel, sub);
	cr_assert_eq(drv_virtio_config_read(&F.tr, 0, raw, sizeof(raw)), 0);
	cr_assert_eq(raw[0], sel);
	cr_assert_eq(raw[1], sub);
	for (unsigned i = 3; i < 8; i++)
		cr_assert_eq(raw[i], 0, "reserved byte %u", i);
	a.size = raw[2];
	memcpy(a.u, raw + 8, 128);
	/* never anything beyond size */
	for (unsigned i = a.size; i < 128; i++)
		cr_assert_eq(a.u[i], 0, "select %#x/%u: byte %u beyond size %u", sel, sub, i, a.size);
	return a;
}

static bool bit(const struct answer *a, unsigned code)
{
	return code / 8 < a->size && (a->u[code / 8] >> (code % 8)) & 1;
}

static int32_t le32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			 (uint32_t)p[3] << 24);
}

Test(input, identity, .init = setup)
{
	cr_expect_eq(F.tr.ops->device_id(F.tr.t), 18);
	cr_expect_eq(vdev_dev_config_len(vdev_input_dev(&F.in)), 136);
	uint64_t dev = vdev_dev_offered_features(vdev_input_dev(&F.in));
	cr_expect_eq(dev & ~(F(VERSION_1) | VDEV_F_CORE_MASK), 0, "no device feature bits");
}

Test(input, name_serial_and_ids, .init = setup)
{
	struct answer a = query(VDEV_INPUT_CFG_ID_NAME, 0);
	cr_expect_eq(a.size, strlen("vdev keyboard"));
	cr_expect_eq(memcmp(a.u, "vdev keyboard", a.size), 0);
	a = query(VDEV_INPUT_CFG_ID_SERIAL, 0);
	cr_expect_eq(a.size, 0, "no serial set");
	a = query(VDEV_INPUT_CFG_ID_DEVIDS, 0);
	cr_expect_eq(a.size, 8);
	cr_expect_eq(a.u[0] | a.u[1] << 8, VDEV_INPUT_BUS_VIRTUAL);
	cr_expect_eq(a.u[6] | a.u[7] << 8, 1, "version");
}

Test(input, serial_when_set)
{
	setup_with((struct opts){.no_driver_ok = true});
	vdev_input_profile_set_serial(&F.prof, "SN-0042");
	bring_up(false);
	struct answer a = query(VDEV_INPUT_CFG_ID_SERIAL, 0);
	cr_expect_eq(a.size, 7);
	cr_expect_eq(memcmp(a.u, "SN-0042", 7), 0);
}

Test(input, keyboard_profile, .init = setup)
{
	struct answer a = query(VDEV_INPUT_CFG_EV_BITS, VDEV_INPUT_EV_KEY);
	cr_expect_eq(a.size, 32, "keys up to 248");
	cr_expect(bit(&a, VDEV_INPUT_KEY_ESC));
	cr_expect(bit(&a, VDEV_INPUT_KEY_A));
	cr_expect(bit(&a, 248));
	cr_expect_not(bit(&a, 0), "KEY_RESERVED");
	a = query(VDEV_INPUT_CFG_EV_BITS, VDEV_INPUT_EV_LED);
	cr_expect_eq(a.size, 1);
	cr_expect_eq(a.u[0], 0x7);
	a = query(VDEV_INPUT_CFG_EV_BITS, VDEV_INPUT_EV_REP);
	cr_expect_neq(a.size, 0, "autorepeat offered");
	a = query(VDEV_INPUT_CFG_EV_BITS, VDEV_INPUT_EV_REL);
	cr_expect_eq(a.size, 0, "a keyboard has no relative axes");
	a = query(VDEV_INPUT_CFG_EV_BITS, VDEV_INPUT_EV_ABS);
	cr_expect_eq(a.size, 0);
	a = query(VDEV_INPUT_CFG_ABS_INFO, VDEV_INPUT_ABS_X);
	cr_expect_eq(a.size, 0, "no ABS_INFO for an axis it does not have");
	a = query(VDEV_INPUT_CFG_PROP_BITS, 0);
	cr_expect_eq(a.size, 0);
}

Test(input, mouse_profile)
{
	setup_with((struct opts){.profile = P_MOUSE});
	struct answer a = query(VDEV_INPUT_CFG_EV_BITS, VDEV_INPUT_EV_KEY);
	cr_expect(bit(&a, VDEV_INPUT_BTN_LEFT) && bit(&a, VDEV_INPUT_BTN_RIGHT) &&
		  bit(&a, VDEV_INPUT_BTN_MIDDLE));
	cr_expect_not(bit(&a, VDEV_INPUT_KEY_A));
	a = query(VDEV_INPUT_CFG_EV_BITS, VDEV_INPUT_EV_REL);
	cr_expect(bit(&a, VDEV_INPUT_REL_X) && bit(&a, VDEV_INPUT_REL_Y) &&
		  bit(&a, VDEV_INPUT_REL_WHEEL));
	a = query(VDEV_INPUT_CFG_PROP_BITS, 0);
	cr_expect(bit(&a, VDEV_INPUT_PROP_POINTER));
}

Test(input, touchscreen_profile)
{
	setup_with((struct opts){.profile = P_TOUCH});
	struct answer a = query(VDEV_INPUT_CFG_PROP_BITS, 0);
	cr_expect(bit(&a, VDEV_INPUT_PROP_DIRECT));
	a = query(VDEV_INPUT_CFG_EV_BITS, VDEV_INPUT_EV_ABS);
	cr_expect_eq(a.size, 8);
	unsigned axes[] = {VDEV_INPUT_ABS_X, VDEV_INPUT_ABS_Y, VDEV_INPUT_ABS_MT_SLOT,
			   VDEV_INPUT_ABS_MT_POSITION_X, VDEV_INPUT_ABS_MT_POSITION_Y,
			   VDEV_INPUT_ABS_MT_TRACKING_ID};
	for (unsigned i = 0; i < 6; i++)
		cr_expect(bit(&a, axes[i]), "axis %#x", axes[i]);
	a = query(VDEV_INPUT_CFG_ABS_INFO, VDEV_INPUT_ABS_MT_SLOT);
	cr_expect_eq(a.size, 20);
	cr_expect_eq(le32(a.u), 0);
	cr_expect_eq(le32(a.u + 4), 9, "10 slots");
	a = query(VDEV_INPUT_CFG_ABS_INFO, VDEV_INPUT_ABS_MT_POSITION_X);
	cr_expect_eq(le32(a.u + 4), 1919);
	a = query(VDEV_INPUT_CFG_ABS_INFO, VDEV_INPUT_ABS_Y);
	cr_expect_eq(le32(a.u + 4), 1079);
	a = query(VDEV_INPUT_CFG_ABS_INFO, 0x10); /* ABS_HAT0X: not there */
	cr_expect_eq(a.size, 0);
	a = query(VDEV_INPUT_CFG_EV_BITS, VDEV_INPUT_EV_KEY);
	cr_expect(bit(&a, VDEV_INPUT_BTN_TOUCH));
}

Test(input, unknown_selects_read_size_zero_and_a_zero_union, .init = setup)
{
	const uint8_t bad[][2] = {
		{0x00, 0},                       /* UNSET */
		{0x04, 0}, {0x0f, 0}, {0x13, 0}, {0x80, 0}, {0xff, 0xff},
		{VDEV_INPUT_CFG_ID_NAME, 1},     /* subsel must be 0 */
		{VDEV_INPUT_CFG_ID_SERIAL, 7},
		{VDEV_INPUT_CFG_ID_DEVIDS, 1},
		{VDEV_INPUT_CFG_PROP_BITS, 1},
		{VDEV_INPUT_CFG_EV_BITS, 32},    /* no such event type */
		{VDEV_INPUT_CFG_EV_BITS, 0xff},
		{VDEV_INPUT_CFG_ABS_INFO, 64},   /* no such axis */
		{VDEV_INPUT_CFG_ABS_INFO, 0xff},
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* something with content first: nothing of it may stay visible */
		struct answer a = query(VDEV_INPUT_CFG_EV_BITS, VDEV_INPUT_EV_KEY);
		cr_assert_gt(a.size, 0);
		a = query(bad[i][0], bad[i][1]);
		cr_expect_eq(a.size, 0, "select %#x subsel %#x", bad[i][0], bad[i][1]);
	}
	cr_expect_geq(stats().unknown_selects, 14);
}

Test(input, select_and_subsel_in_either_order, .init = setup)
{
	uint8_t sub = VDEV_INPUT_EV_LED, sel = VDEV_INPUT_CFG_EV_BITS, size = 0;
	F.tr.ops->config_write(F.tr.t, 1, &sub, 1);
	F.tr.ops->config_write(F.tr.t, 0, &sel, 1);
	F.tr.ops->config_read(F.tr.t, 2, &size, 1);
	cr_expect_eq(size, 1);
	/* both in one 16-bit write */
	uint8_t both[2] = {VDEV_INPUT_CFG_ID_NAME, 0};
	F.tr.ops->config_write(F.tr.t, 0, both, 2);
	F.tr.ops->config_read(F.tr.t, 2, &size, 1);
	cr_expect_eq(size, strlen("vdev keyboard"));
}

Test(input, writes_to_read_only_fields_are_ignored, .init = setup)
{
	struct answer before = query(VDEV_INPUT_CFG_ID_NAME, 0);
	uint8_t junk[128];
	memset(junk, 0x5a, sizeof(junk));
	F.tr.ops->config_write(F.tr.t, 2, junk, 1);    /* size */
	F.tr.ops->config_write(F.tr.t, 3, junk, 4);    /* reserved */
	F.tr.ops->config_write(F.tr.t, 8, junk, 4);    /* union */
	F.tr.ops->config_write(F.tr.t, 132, junk, 4);  /* last word */
	uint8_t raw[VDEV_INPUT_CONFIG_SIZE];
	cr_assert_eq(drv_virtio_config_read(&F.tr, 0, raw, sizeof(raw)), 0);
	cr_expect_eq(raw[2], before.size);
	cr_expect_eq(memcmp(raw + 8, before.u, 128), 0);
	for (unsigned i = 3; i < 8; i++)
		cr_expect_eq(raw[i], 0);
	/* a write of the whole space (as QEMU's vhost-user front-end sends
	 * it): select/subsel taken, the rest ignored */
	memset(raw, 0x77, sizeof(raw));
	raw[0] = VDEV_INPUT_CFG_EV_BITS;
	raw[1] = VDEV_INPUT_EV_LED;
	vdev_dev_config_write(vdev_input_dev(&F.in), 0, raw, sizeof(raw));
	cr_assert_eq(drv_virtio_config_read(&F.tr, 0, raw, sizeof(raw)), 0);
	cr_expect_eq(raw[2], 1);
	cr_expect_eq(raw[8], 0x7);
	cr_expect_eq(raw[9], 0);
	/* out of the space entirely: refused by the core, no effect */
	cr_expect_eq(vdev_dev_config_write(vdev_input_dev(&F.in), 130, junk, 8), VDEV_ERANGE);
}

Test(input, reset_clears_the_selection, .init = setup)
{
	(void)query(VDEV_INPUT_CFG_ID_NAME, 0);
	cr_assert_eq(drv_virtio_reset(&F.tr), 0);
	uint8_t raw[VDEV_INPUT_CONFIG_SIZE];
	F.tr.ops->config_read(F.tr.t, 0, raw, sizeof(raw));
	for (unsigned i = 0; i < sizeof(raw); i++)
		cr_expect_eq(raw[i], 0, "byte %u", i);
}

/* ---- events ---- */

static void post_event_buf(int t)
{
	memset(sim_ptr(&F.m, slot(t)), 0xee, 8);
	struct drv_buf b = {slot(t), 8, true};
	cr_assert_eq(drv_add(&F.q[0], &b, 1, false, &tok[t]), 0);
}

static struct vdev_input_event ev(uint16_t type, uint16_t code, uint32_t value)
{
	return (struct vdev_input_event){type, code, value};
}

/* Reap an event buffer and check it carries `want`. */
static void expect_event(struct vdev_input_event want)
{
	uint32_t len = 0;
	int *t = drv_get_used(&F.q[0], &len);
	cr_assert_eq(F.q[0].errors, 0, "%s", F.q[0].last_error);
	cr_assert_not_null(t, "an event buffer must be used");
	cr_assert_eq(len, 8);
	const uint8_t *p = sim_ptr(&F.m, slot((int)(t - tok)));
	cr_expect_eq(p[0] | p[1] << 8, want.type);
	cr_expect_eq(p[2] | p[3] << 8, want.code);
	cr_expect_eq((uint32_t)le32(p + 4), want.value);
}

static void expect_no_event(void)
{
	uint32_t len;
	cr_expect_null(drv_get_used(&F.q[0], &len));
}

static void key_events(bool packed)
{
	setup_with((struct opts){.packed = packed});
	for (int t = 0; t < 8; t++)
		post_event_buf(t);
	kick(0);
	struct vdev_input_event press[] = {ev(VDEV_INPUT_EV_KEY, VDEV_INPUT_KEY_A, 1),
					   ev(VDEV_INPUT_EV_SYN, VDEV_INPUT_SYN_REPORT, 0)};
	struct vdev_input_event release[] = {ev(VDEV_INPUT_EV_KEY, VDEV_INPUT_KEY_A, 0),
					     ev(VDEV_INPUT_EV_SYN, VDEV_INPUT_SYN_REPORT, 0)};
	cr_assert_eq(vdev_input_send(&F.in, press, 2), 0);
	cr_assert_eq(vdev_input_send(&F.in, release, 2), 0);
	cr_expect(F.dm.raises > 0, "the driver is interrupted");
	expect_event(press[0]);
	expect_event(press[1]);
	expect_event(release[0]);
	expect_event(release[1]);
	expect_no_event();
	cr_expect_eq(stats().events, 4);
	cr_expect_eq(vdev_input_backlog(&F.in), 0);
}

Test(input, key_press_and_release_split) { key_events(false); }
Test(input, key_press_and_release_packed) { key_events(true); }

Test(input, negative_values_keep_their_bits, .init = setup)
{
	post_event_buf(0);
	kick(0);
	struct vdev_input_event e = ev(VDEV_INPUT_EV_REL, VDEV_INPUT_REL_X, (uint32_t)-5);
	cr_assert_eq(vdev_input_send(&F.in, &e, 1), 0);
	expect_event(e);
}

Test(input, events_wait_for_buffers_in_order, .init = setup)
{
	struct vdev_input_event u1[] = {ev(3, VDEV_INPUT_ABS_MT_SLOT, 1),
					ev(3, VDEV_INPUT_ABS_MT_TRACKING_ID, 7),
					ev(3, VDEV_INPUT_ABS_MT_POSITION_X, 100), ev(0, 0, 0)};
	struct vdev_input_event u2[] = {ev(3, VDEV_INPUT_ABS_MT_POSITION_X, 101), ev(0, 0, 0)};
	cr_assert_eq(vdev_input_send(&F.in, u1, 4), 0);
	cr_assert_eq(vdev_input_send(&F.in, u2, 2), 0);
	cr_expect_eq(vdev_input_backlog(&F.in), 6, "no buffers yet: all wait");
	/* buffers trickle in two at a time */
	for (int t = 0; t < 2; t++)
		post_event_buf(t);
	kick(0);
	expect_event(u1[0]);
	expect_event(u1[1]);
	expect_no_event();
	cr_expect_eq(vdev_input_backlog(&F.in), 4);
	cr_expect_eq(F.h.drained, 0);
	for (int t = 2; t < 8; t++)
		post_event_buf(t);
	kick(0);
	expect_event(u1[2]);
	expect_event(u1[3]);
	expect_event(u2[0]);
	expect_event(u2[1]);
	expect_no_event();
	cr_expect_eq(F.h.drained, 1, "the host hears the backlog is empty");
	cr_expect_eq(stats().backlog_max, 6);
}

Test(input, full_backlog_drops_whole_updates)
{
	setup_with((struct opts){.backlog = 8});
	struct vdev_input_event u[5];
	for (unsigned i = 0; i < 4; i++)
		u[i] = ev(VDEV_INPUT_EV_KEY, (uint16_t)(VDEV_INPUT_KEY_A + i), 1);
	u[4] = ev(0, 0, 0);
	cr_assert_eq(vdev_input_send(&F.in, u, 5), 0);
	cr_expect_eq(vdev_input_send(&F.in, u, 5), VDEV_ENOSPC, "3 free, 5 needed: dropped");
	cr_expect_eq(vdev_input_backlog(&F.in), 5, "nothing of the dropped update queued");
	cr_expect_eq(stats().dropped_updates, 1);
	cr_expect_eq(stats().dropped_events, 5);
	struct vdev_input_event big[9];
	for (unsigned i = 0; i < 9; i++)
		big[i] = ev(0, 0, 0);
	cr_expect_eq(vdev_input_send(&F.in, big, 9), VDEV_ENOSPC, "larger than the backlog");
	cr_expect_eq(vdev_input_send(&F.in, u, 0), VDEV_EINVAL);
	cr_expect_eq(vdev_input_send(&F.in, NULL, 1), VDEV_EINVAL);
	for (int t = 0; t < 16; t++)
		post_event_buf(t);
	kick(0);
	for (unsigned i = 0; i < 5; i++)
		expect_event(u[i]);
	expect_no_event();
	/* room again: accepted and delivered at once */
	cr_expect_eq(vdev_input_send(&F.in, u, 5), 0);
	for (unsigned i = 0; i < 5; i++)
		expect_event(u[i]);
}

Test(input, backlog_wraps_around)
{
	setup_with((struct opts){.backlog = 5});
	for (unsigned round = 0; round < 20; round++) {
		struct vdev_input_event u[3] = {ev(1, (uint16_t)round, 1), ev(1, (uint16_t)round, 0),
						ev(0, 0, round)};
		cr_assert_eq(vdev_input_send(&F.in, u, 3), 0, "round %u", round);
		for (int t = 0; t < 3; t++)
			post_event_buf((int)(round % 2) * 3 + t);
		kick(0);
		for (unsigned i = 0; i < 3; i++)
			expect_event(u[i]);
	}
}

/* Sent between the driver's reset and DRIVER_OK: kept (a reset, which
 * the driver's start begins with, drops them; see reset_drops_the_backlog). */
Test(input, events_sent_before_the_driver_is_up_wait)
{
	setup_with((struct opts){.no_driver_ok = true});
	struct vdev_input_event u[2] = {ev(1, VDEV_INPUT_KEY_ESC, 1), ev(0, 0, 0)};
	cr_assert_eq(drv_virtio_negotiate(&F.tr, ~F(RING_PACKED), &F.neg), 0);
	for (uint16_t i = 0; i < 2; i++)
		cr_assert_eq(drv_virtio_setup_queue(&F.tr, &F.q[i], &F.m, i, QSIZE, F.neg), 0);
	cr_assert_eq(vdev_input_send(&F.in, u, 2), 0);
	cr_assert_eq(drv_virtio_driver_ok(&F.tr), 0x0f);
	post_event_buf(0);
	post_event_buf(1);
	kick(0);
	expect_event(u[0]);
	expect_event(u[1]);
}

Test(input, reset_drops_the_backlog, .init = setup)
{
	struct vdev_input_event u[2] = {ev(1, VDEV_INPUT_KEY_ESC, 1), ev(0, 0, 0)};
	cr_assert_eq(vdev_input_send(&F.in, u, 2), 0);
	cr_assert_eq(drv_virtio_reset(&F.tr), 0);
	cr_expect_eq(vdev_input_backlog(&F.in), 0);
	cr_expect_eq(stats().dropped_events, 2);
	sim_mem_reset_alloc(&F.m);
	F.arena = sim_alloc(&F.m, 64u * 64u, 64);
	bring_up(false);
	post_event_buf(0);
	kick(0);
	expect_no_event();
}

Test(input, event_split_across_descriptors, .init = setup)
{
	uint64_t g = slot(0);
	struct drv_buf b[3] = {{g, 3, true}, {g + 16, 1, true}, {g + 32, 4, true}};
	cr_assert_eq(drv_add(&F.q[0], b, 3, false, &tok[0]), 0);
	kick(0);
	struct vdev_input_event e = ev(0x1234, 0x5678, 0x9abcdef0u);
	cr_assert_eq(vdev_input_send(&F.in, &e, 1), 0);
	uint32_t len;
	cr_assert_eq(drv_get_used(&F.q[0], &len), &tok[0]);
	cr_expect_eq(len, 8);
	const uint8_t *p = sim_ptr(&F.m, g);
	cr_expect(p[0] == 0x34 && p[1] == 0x12 && p[2] == 0x78);
	cr_expect_eq(p[16], 0x56);
	cr_expect_eq((uint32_t)le32(p + 32), 0x9abcdef0u);
}

/* Malformed event buffers go back empty; the event waits for a good one. */
Test(input, bad_event_buffers_are_returned_empty, .init = setup)
{
	struct drv_buf readable = {slot(0), 8, false};
	struct drv_buf short4 = {slot(1), 4, true};
	struct drv_buf zero = {slot(2), 0, true};
	struct drv_buf hole = {SIM_HOLE_GPA, 8, true};
	struct drv_buf mixed[2] = {{slot(4), 8, false}, {slot(4) + 8, 8, true}};
	cr_assert_eq(drv_add(&F.q[0], &readable, 1, false, &tok[0]), 0);
	cr_assert_eq(drv_add(&F.q[0], &short4, 1, false, &tok[1]), 0);
	cr_assert_eq(drv_add(&F.q[0], &zero, 1, false, &tok[2]), 0);
	cr_assert_eq(drv_add(&F.q[0], &hole, 1, false, &tok[3]), 0);
	cr_assert_eq(drv_add(&F.q[0], mixed, 2, false, &tok[4]), 0);
	post_event_buf(5);
	kick(0);
	struct vdev_input_event e = ev(1, VDEV_INPUT_KEY_A, 1);
	cr_assert_eq(vdev_input_send(&F.in, &e, 1), 0);
	for (int t = 0; t < 5; t++) {
		uint32_t len = 99;
		cr_assert_eq(drv_get_used(&F.q[0], &len), &tok[t]);
		cr_expect_eq(len, 0, "buffer %d", t);
	}
	cr_expect_eq(((uint8_t *)sim_ptr(&F.m, slot(1)))[0], 0, "nothing written to the short one");
	expect_event(e);
	cr_expect_eq(stats().bad_event_bufs, 5);
	cr_expect_eq(stats().events, 1);
}

/* ---- status ---- */

static void post_status(int t, const struct drv_buf *b, unsigned n)
{
	cr_assert_eq(drv_add(&F.q[1], b, n, false, &tok[t]), 0);
}

static void put_event(uint64_t gpa, uint16_t type, uint16_t code, uint32_t value)
{
	uint8_t *p = sim_ptr(&F.m, gpa);
	p[0] = (uint8_t)type, p[1] = (uint8_t)(type >> 8);
	p[2] = (uint8_t)code, p[3] = (uint8_t)(code >> 8);
	for (unsigned i = 0; i < 4; i++)
		p[4 + i] = (uint8_t)(value >> (8 * i));
}

static void reap_status(int t)
{
	uint32_t len = 99;
	cr_assert_eq(drv_get_used(&F.q[1], &len), &tok[t]);
	cr_assert_eq(F.q[1].errors, 0, "%s", F.q[1].last_error);
	cr_expect_eq(len, 0, "the device writes nothing back");
}

Test(input, leds_reach_the_host, .init = setup)
{
	put_event(slot(0), VDEV_INPUT_EV_LED, VDEV_INPUT_LED_CAPSL, 1);
	put_event(slot(1), VDEV_INPUT_EV_LED, VDEV_INPUT_LED_NUML, 0);
	struct drv_buf b0 = {slot(0), 8, false}, b1 = {slot(1), 8, false};
	post_status(0, &b0, 1);
	post_status(1, &b1, 1);
	kick(1);
	reap_status(0);
	reap_status(1);
	cr_assert_eq(F.h.nst, 2);
	cr_expect(F.h.st[0].type == VDEV_INPUT_EV_LED && F.h.st[0].code == VDEV_INPUT_LED_CAPSL &&
		  F.h.st[0].value == 1);
	cr_expect(F.h.st[1].code == VDEV_INPUT_LED_NUML && F.h.st[1].value == 0);
}

Test(input, status_split_across_descriptors_and_longer_buffers, .init = setup)
{
	put_event(slot(0), VDEV_INPUT_EV_LED, VDEV_INPUT_LED_SCROLLL, 1);
	/* the 8 bytes in pieces of 2 and 6 (copied to keep them contiguous in the guest) */
	uint8_t *p = sim_ptr(&F.m, slot(0));
	memcpy(sim_ptr(&F.m, slot(1)), p + 2, 6);
	struct drv_buf b[2] = {{slot(0), 2, false}, {slot(1), 6, false}};
	post_status(0, b, 2);
	/* 16 bytes: only the first event is taken */
	put_event(slot(2), VDEV_INPUT_EV_LED, VDEV_INPUT_LED_CAPSL, 1);
	put_event(slot(2) + 8, VDEV_INPUT_EV_LED, VDEV_INPUT_LED_NUML, 1);
	struct drv_buf l = {slot(2), 16, false};
	post_status(2, &l, 1);
	kick(1);
	reap_status(0);
	reap_status(2);
	cr_assert_eq(F.h.nst, 2);
	cr_expect_eq(F.h.st[0].code, VDEV_INPUT_LED_SCROLLL);
	cr_expect_eq(F.h.st[1].code, VDEV_INPUT_LED_CAPSL);
}

Test(input, bad_status_buffers_are_ignored, .init = setup)
{
	put_event(slot(0), VDEV_INPUT_EV_LED, VDEV_INPUT_LED_CAPSL, 1);
	struct drv_buf short4 = {slot(0), 4, false};
	struct drv_buf writable = {slot(0), 8, true};
	struct drv_buf zero = {slot(0), 0, false};
	struct drv_buf hole = {SIM_HOLE_GPA, 8, false};
	post_status(0, &short4, 1);
	post_status(1, &writable, 1);
	post_status(2, &zero, 1);
	post_status(3, &hole, 1);
	kick(1);
	for (int t = 0; t < 4; t++)
		reap_status(t);
	cr_expect_eq(F.h.nst, 0, "the host hears nothing of them");
	cr_expect_eq(stats().bad_status_bufs, 4);
	/* a good one after them still works */
	struct drv_buf good = {slot(0), 8, false};
	post_status(4, &good, 1);
	kick(1);
	reap_status(4);
	cr_expect_eq(F.h.nst, 1);
}

/* ---- profiles and init ---- */

Test(input, profile_helpers_check_their_arguments)
{
	static struct vdev_input_profile p;
	cr_expect_eq(vdev_input_profile_touchscreen(&p, "t", 0, 10, 1), VDEV_EINVAL);
	cr_expect_eq(vdev_input_profile_touchscreen(&p, "t", 10, 0, 1), VDEV_EINVAL);
	cr_expect_eq(vdev_input_profile_touchscreen(&p, "t", 10, 10, 0), VDEV_EINVAL);
	cr_expect_eq(vdev_input_profile_touchscreen(&p, "t", 10, 10, 65), VDEV_EINVAL);
	cr_expect_eq(vdev_input_profile_touchscreen(&p, "t", 0x80000000u, 10, 1), VDEV_EINVAL);
	vdev_input_profile_init(&p, NULL, 1, 2);
	cr_expect_eq(vdev_input_profile_set_bit(&p, 32, 0), VDEV_EINVAL);
	cr_expect_eq(vdev_input_profile_set_bit(&p, 1, 1024), VDEV_EINVAL);
	cr_expect_eq(vdev_input_profile_set_bit(&p, 1, 1023), 0);
	cr_expect_eq(vdev_input_profile_set_prop(&p, 1024), VDEV_EINVAL);
	struct vdev_input_absinfo a = {0, 1, 0, 0, 0};
	cr_expect_eq(vdev_input_profile_set_abs(&p, 64, &a), VDEV_EINVAL);
	cr_expect_eq(vdev_input_profile_set_abs(&p, 1, NULL), VDEV_EINVAL);
}

Test(input, a_128_byte_name_has_no_terminator)
{
	char name[200];
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	setup_with((struct opts){.no_driver_ok = true});
	vdev_input_profile_keyboard(&F.prof, name);
	bring_up(false);
	struct answer a = query(VDEV_INPUT_CFG_ID_NAME, 0);
	cr_expect_eq(a.size, 128, "cut at 128");
	cr_expect_eq(a.u[127], 'n');
}

Test(input, init_rejects_bad_configurations)
{
	static struct vdev_input in;
	static struct sim_mem m;
	static struct vdev_input_profile p;
	sim_mem_init(&m, 1u << 20, true);
	vdev_input_profile_mouse(&p, "m");
	struct vdev_input_config good = {
		.profile = &p, .queue_size = 8, .mem = &m.mem, .queues = F.queues,
		.queue_held = F.queue_held, .iovs = F.iovs, .iov_per_chain = 2, .backlog = F.backlog, .backlog_len = 4,
	};
	cr_assert_eq(vdev_input_init(&in, &good), 0, "host ops are optional");
	struct vdev_input_config c;
	c = good, c.profile = NULL;
	cr_expect_eq(vdev_input_init(&in, &c), VDEV_EINVAL);
	c = good, c.queue_size = 0;
	cr_expect_eq(vdev_input_init(&in, &c), VDEV_EINVAL);
	c = good, c.iov_per_chain = 0;
	cr_expect_eq(vdev_input_init(&in, &c), VDEV_EINVAL);
	c = good, c.iov_per_chain = 65536;
	cr_expect_eq(vdev_input_init(&in, &c), VDEV_EINVAL);
	c = good, c.backlog_len = 0;
	cr_expect_eq(vdev_input_init(&in, &c), VDEV_EINVAL);
	c = good, c.queue_held = NULL;
	cr_expect_eq(vdev_input_init(&in, &c), VDEV_EINVAL);
	c = good, c.backlog = NULL;
	cr_expect_eq(vdev_input_init(&in, &c), VDEV_EINVAL);
	c = good, c.mem = NULL;
	cr_expect_eq(vdev_input_init(&in, &c), VDEV_EINVAL);
	c = good, c.ring_features = VDEV_BIT(3);
	cr_expect_eq(vdev_input_init(&in, &c), VDEV_EINVAL);
	static const struct vdev_input_host_ops tiny = {.size = 0};
	c = good, c.host = &tiny;
	cr_expect_eq(vdev_input_init(&in, &c), VDEV_EINVAL);
	sim_mem_destroy(&m);
}
