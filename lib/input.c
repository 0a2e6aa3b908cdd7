/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-input device model (spec "Input Device").
 *
 * Reads top-down: the configuration space (select/subsel -> size and
 * union), the event path (host update -> backlog -> eventq buffers), the
 * status path (statusq buffer -> host), the device core ops, init, and
 * the profile helpers.
 */
#include "vdev/input.h"

#include "compiler.h"

#define P(x) VDEV_PRIV(x)

/* struct virtio_input_config offsets */
enum {
	CFG_SELECT = 0,
	CFG_SUBSEL = 1,
	CFG_SIZE = 2,
	CFG_UNION = 8,
};
#define ABSINFO_BYTES 20u
#define DEVIDS_BYTES 8u
#define MAX_CODE (VDEV_INPUT_BITMAP_BYTES * 8u)

#define DEFAULT_RING_FEATURES                                                              \
	(VDEV_BIT(VDEV_F_INDIRECT_DESC) | VDEV_BIT(VDEV_F_EVENT_IDX) |                      \
	 VDEV_BIT(VDEV_F_RING_PACKED) | VDEV_BIT(VDEV_F_RING_RESET))

#define HAS_OP(ops, op)                                                                   \
	((ops) != NULL &&                                                                  \
	 (ops)->size >= offsetof(struct vdev_input_host_ops, op) + sizeof((ops)->op) &&      \
	 (ops)->op != NULL)

/* ---- configuration space ---------------------------------------------------------- */

static uint8_t string_len(const char *s)
{
	uint8_t n = 0;

	while (n < VDEV_INPUT_STRING_MAX && s[n] != '\0')
		n++;
	return n;
}

/* Bytes of a bitmap up to its last non-zero one. */
static uint8_t bitmap_len(const uint8_t *bits)
{
	uint8_t n = VDEV_INPUT_BITMAP_BYTES;

	while (n > 0 && bits[n - 1] == 0)
		n--;
	return n;
}

static bool has_bit(const uint8_t *bits, unsigned code)
{
	return code < MAX_CODE && (bits[code / 8] & (1u << (code % 8))) != 0;
}

/* Answer the current select/subsel: size and union (zero beyond size). */
static void refresh_config(struct vdev_input *in)
{
	const struct vdev_input_profile *p = in->P(profile);
	uint8_t *c = in->P(config);
	uint8_t *u = c + CFG_UNION;
	uint8_t sel = c[CFG_SELECT], sub = c[CFG_SUBSEL];
	uint8_t size = 0;

	memset(c + CFG_SIZE, 0, VDEV_INPUT_CONFIG_SIZE - CFG_SIZE);
	switch (sel) {
	case VDEV_INPUT_CFG_UNSET:
		return; /* nothing selected: size 0, not a bad query */
	case VDEV_INPUT_CFG_ID_NAME:
	case VDEV_INPUT_CFG_ID_SERIAL: {
		const char *s = sel == VDEV_INPUT_CFG_ID_NAME ? p->name : p->serial;
		if (sub == 0) {
			size = string_len(s);
			memcpy(u, s, size);
		}
		break;
	}
	case VDEV_INPUT_CFG_ID_DEVIDS:
		if (sub == 0 && p->has_ids) {
			vdev__put_le16(u + 0, p->ids.bustype);
			vdev__put_le16(u + 2, p->ids.vendor);
			vdev__put_le16(u + 4, p->ids.product);
			vdev__put_le16(u + 6, p->ids.version);
			size = DEVIDS_BYTES;
		}
		break;
	case VDEV_INPUT_CFG_PROP_BITS:
		if (sub == 0) {
			size = bitmap_len(p->props);
			memcpy(u, p->props, size);
		}
		break;
	case VDEV_INPUT_CFG_EV_BITS:
		if (sub < VDEV_INPUT_EV_TYPES) {
			size = bitmap_len(p->ev_bits[sub]);
			memcpy(u, p->ev_bits[sub], size);
		}
		break;
	case VDEV_INPUT_CFG_ABS_INFO:
		if (sub < VDEV_INPUT_ABS_AXES && has_bit(p->ev_bits[VDEV_INPUT_EV_ABS], sub)) {
			const struct vdev_input_absinfo *a = &p->abs[sub];
			vdev__put_le32(u + 0, (uint32_t)a->min);
			vdev__put_le32(u + 4, (uint32_t)a->max);
			vdev__put_le32(u + 8, (uint32_t)a->fuzz);
			vdev__put_le32(u + 12, (uint32_t)a->flat);
			vdev__put_le32(u + 16, (uint32_t)a->res);
			size = ABSINFO_BYTES;
		}
		break;
	default:
		break;
	}
	/* The spec's MUST: size 0 for a combination the device does not have. */
	if (size == 0)
		in->P(stats).unknown_selects++;
	c[CFG_SIZE] = size;
}

/* Only select and subsel are writable (driver MUST NOT write the rest). */
static void input_config_write(void *opaque, uint32_t off, const void *data, uint32_t len)
{
	struct vdev_input *in = opaque;
	const uint8_t *d = data;
	bool changed = false;

	for (uint32_t f = CFG_SELECT; f <= CFG_SUBSEL; f++) {
		if (f < off || f - off >= len)
			continue;
		in->P(config)[f] = d[f - off]; /* each byte read once */
		changed = true;
	}
	if (changed)
		refresh_config(in);
}

/* ---- events to the driver ---------------------------------------------------------- */

/*
 * Write waiting events into eventq buffers, one per buffer, until either
 * runs out. Buffers that cannot hold an event go back empty.
 */
static void flush_events(struct vdev_input *in)
{
	struct vdev_vq *vq = &in->P(queues)[VDEV_INPUT_EVENTQ];
	bool had = in->P(count) > 0;

	while (in->P(count) > 0) {
		struct vdev_vq_elem e;
		const struct vdev_input_event *ev;
		uint8_t raw[VDEV_INPUT_EVENT_SIZE];

		if (vdev_vq_pop(vq, &e, in->P(iovs), in->P(iov_per_chain)) <= 0)
			break; /* no buffer (or the queue is not live) */
		if (e.error != 0 || e.n_out != 0 || e.in_bytes < VDEV_INPUT_EVENT_SIZE) {
			in->P(stats).bad_event_bufs++;
			(void)vdev_vq_push(vq, &e, 0);
			continue;
		}
		ev = &in->P(backlog)[in->P(head)];
		vdev__put_le16(raw, ev->type);
		vdev__put_le16(raw + 2, ev->code);
		vdev__put_le32(raw + 4, ev->value);
		(void)vdev_iov_from_buf(e.iov, e.n_in, 0, raw, sizeof(raw));
		(void)vdev_vq_push(vq, &e, VDEV_INPUT_EVENT_SIZE);
		in->P(head) = (in->P(head) + 1) % in->P(backlog_len);
		in->P(count)--;
		in->P(stats).events++;
	}
	vdev_vq_flush(vq);
	if (had && in->P(count) == 0 && HAS_OP(in->P(ops), drained))
		in->P(ops)->drained(in->P(opaque));
}

VDEV_API int vdev_input_send(struct vdev_input *in, const struct vdev_input_event *ev,
			     unsigned n)
{
	unsigned tail;

	if (ev == NULL || n == 0)
		return VDEV_EINVAL;
	/* Whole or nothing: the spec asks not to split a device update. */
	if (n > in->P(backlog_len) - in->P(count)) {
		in->P(stats).dropped_updates++;
		in->P(stats).dropped_events += n;
		return VDEV_ENOSPC;
	}
	tail = (in->P(head) + in->P(count)) % in->P(backlog_len);
	for (unsigned i = 0; i < n; i++) {
		in->P(backlog)[tail] = ev[i];
		tail = (tail + 1) % in->P(backlog_len);
	}
	in->P(count) += n;
	in->P(stats).updates++;
	if (in->P(count) > in->P(stats).backlog_max)
		in->P(stats).backlog_max = in->P(count);
	if (vdev_dev_is_running(&in->P(dev)))
		flush_events(in);
	return 0;
}

VDEV_API unsigned vdev_input_backlog(const struct vdev_input *in)
{
	return in->P(count);
}

/* ---- status from the driver ----------------------------------------------------------- */

static void process_status(struct vdev_input *in)
{
	struct vdev_vq *vq = &in->P(queues)[VDEV_INPUT_STATUSQ];
	struct vdev_iov *iov = in->P(iovs) + in->P(iov_per_chain);

	for (;;) {
		struct vdev_vq_elem e;
		struct vdev_input_event ev;
		uint8_t raw[VDEV_INPUT_EVENT_SIZE];

		if (vdev_vq_pop(vq, &e, iov, in->P(iov_per_chain)) <= 0)
			break;
		if (e.error != 0 || e.out_bytes < VDEV_INPUT_EVENT_SIZE) {
			in->P(stats).bad_status_bufs++;
			(void)vdev_vq_push(vq, &e, 0);
			continue;
		}
		/* Copied out once; the guest may change the buffer meanwhile. */
		(void)vdev_iov_to_buf(e.iov, e.n_out, 0, raw, sizeof(raw));
		ev.type = vdev__get_le16(raw);
		ev.code = vdev__get_le16(raw + 2);
		ev.value = vdev__get_le32(raw + 4);
		(void)vdev_vq_push(vq, &e, 0);
		in->P(stats).status++;
		if (HAS_OP(in->P(ops), status))
			in->P(ops)->status(in->P(opaque), &ev);
	}
	vdev_vq_flush(vq);
}

VDEV_API void vdev_input_process(struct vdev_input *in)
{
	flush_events(in);
	process_status(in);
}

VDEV_API void vdev_input_get_stats(const struct vdev_input *in, struct vdev_input_stats *out)
{
	*out = in->P(stats);
}

/* ---- device core ops -------------------------------------------------------------------- */

static void input_queue_notify(void *opaque, uint16_t q)
{
	struct vdev_input *in = opaque;

	if (q == VDEV_INPUT_EVENTQ)
		flush_events(in);
	else
		process_status(in);
}

static int input_activate(void *opaque)
{
	flush_events(opaque); /* events the host sent before the driver was up */
	return 0;
}

static void input_queue_enable(void *opaque, uint16_t q)
{
	if (q == VDEV_INPUT_EVENTQ)
		flush_events(opaque);
}

static int input_reset(void *opaque)
{
	struct vdev_input *in = opaque;

	/* Nothing is in flight (every buffer is completed at once); events
	 * still waiting were meant for the driver that is gone. */
	in->P(stats).dropped_events += in->P(count);
	in->P(head) = 0;
	in->P(count) = 0;
	in->P(config)[CFG_SELECT] = 0;
	in->P(config)[CFG_SUBSEL] = 0;
	refresh_config(in);
	return 0;
}

static const struct vdev_dev_ops input_dev_ops = {
	.size = sizeof(struct vdev_dev_ops),
	.activate = input_activate,
	.reset = input_reset,
	.queue_notify = input_queue_notify,
	.config_write = input_config_write,
	.queue_enable = input_queue_enable,
};

/* ---- init ---------------------------------------------------------------------------------- */

VDEV_API int vdev_input_init(struct vdev_input *in, const struct vdev_input_config *cfg)
{
	uint64_t ring;

	if (in == NULL || cfg == NULL || cfg->profile == NULL || cfg->queue_size == 0 ||
	    cfg->queue_size > VDEV_VQ_MAX_SIZE || cfg->iov_per_chain == 0 ||
	    cfg->iov_per_chain > UINT16_MAX || cfg->backlog_len == 0 || cfg->mem == NULL ||
	    cfg->queues == NULL || cfg->queue_held == NULL || cfg->iovs == NULL ||
	    cfg->backlog == NULL ||
	    (cfg->host != NULL && cfg->host->size < sizeof(cfg->host->size)) ||
	    (cfg->ring_features & ~VDEV_F_CORE_MASK) != 0)
		return VDEV_EINVAL;
	memset(in, 0, sizeof(*in));
	in->P(profile) = cfg->profile;
	in->P(ops) = cfg->host;
	in->P(opaque) = cfg->host_opaque;
	in->P(queues) = cfg->queues;
	in->P(iovs) = cfg->iovs;
	in->P(iov_per_chain) = cfg->iov_per_chain;
	in->P(backlog) = cfg->backlog;
	in->P(backlog_len) = cfg->backlog_len;
	refresh_config(in);
	in->P(stats).unknown_selects = 0;

	ring = cfg->ring_features != 0 ? cfg->ring_features : DEFAULT_RING_FEATURES;
	struct vdev_dev_config dc = {
		.device_id = VDEV_ID_INPUT,
		.features = ring | VDEV_BIT(VDEV_F_VERSION_1),
		.queues = cfg->queues,
		.queue_held = cfg->queue_held,
		.num_queues = VDEV_INPUT_NUM_QUEUES,
		.queue_max_size = cfg->queue_size,
		.config = in->P(config),
		.config_len = VDEV_INPUT_CONFIG_SIZE,
		.mem = cfg->mem,
		.ops = &input_dev_ops,
		.opaque = in,
	};
	return vdev_dev_init(&in->P(dev), &dc);
}

VDEV_API struct vdev_dev *vdev_input_dev(struct vdev_input *in)
{
	return &in->P(dev);
}

/* ---- profiles ------------------------------------------------------------------------------- */

static void copy_string(char *dst, const char *src)
{
	unsigned i = 0;

	memset(dst, 0, VDEV_INPUT_STRING_MAX);
	if (src == NULL)
		return;
	for (; i < VDEV_INPUT_STRING_MAX && src[i] != '\0'; i++)
		dst[i] = src[i];
}

VDEV_API void vdev_input_profile_init(struct vdev_input_profile *p, const char *name,
				      uint16_t vendor, uint16_t product)
{
	memset(p, 0, sizeof(*p));
	copy_string(p->name, name);
	p->ids.bustype = VDEV_INPUT_BUS_VIRTUAL;
	p->ids.vendor = vendor;
	p->ids.product = product;
	p->ids.version = 1;
	p->has_ids = true;
}

VDEV_API void vdev_input_profile_set_serial(struct vdev_input_profile *p, const char *serial)
{
	copy_string(p->serial, serial);
}

VDEV_API int vdev_input_profile_set_bit(struct vdev_input_profile *p, unsigned type,
					unsigned code)
{
	if (type >= VDEV_INPUT_EV_TYPES || code >= MAX_CODE)
		return VDEV_EINVAL;
	p->ev_bits[type][code / 8] |= (uint8_t)(1u << (code % 8));
	return 0;
}

VDEV_API int vdev_input_profile_set_prop(struct vdev_input_profile *p, unsigned prop)
{
	if (prop >= MAX_CODE)
		return VDEV_EINVAL;
	p->props[prop / 8] |= (uint8_t)(1u << (prop % 8));
	return 0;
}

VDEV_API int vdev_input_profile_set_abs(struct vdev_input_profile *p, unsigned axis,
					const struct vdev_input_absinfo *info)
{
	if (axis >= VDEV_INPUT_ABS_AXES || info == NULL)
		return VDEV_EINVAL;
	p->abs[axis] = *info;
	return vdev_input_profile_set_bit(p, VDEV_INPUT_EV_ABS, axis);
}

/* Product ids of the ready-made profiles (vendor 0: none). */
enum { PRODUCT_KEYBOARD = 1, PRODUCT_MOUSE = 2, PRODUCT_TOUCH = 3 };

VDEV_API void vdev_input_profile_keyboard(struct vdev_input_profile *p, const char *name)
{
	vdev_input_profile_init(p, name, 0, PRODUCT_KEYBOARD);
	for (unsigned k = VDEV_INPUT_KEY_ESC; k <= VDEV_INPUT_KEY_MAX_KEYBOARD; k++)
		(void)vdev_input_profile_set_bit(p, VDEV_INPUT_EV_KEY, k);
	/* autorepeat: the driver's input core repeats held keys itself */
	(void)vdev_input_profile_set_bit(p, VDEV_INPUT_EV_REP, 0);
	(void)vdev_input_profile_set_bit(p, VDEV_INPUT_EV_LED, VDEV_INPUT_LED_NUML);
	(void)vdev_input_profile_set_bit(p, VDEV_INPUT_EV_LED, VDEV_INPUT_LED_CAPSL);
	(void)vdev_input_profile_set_bit(p, VDEV_INPUT_EV_LED, VDEV_INPUT_LED_SCROLLL);
}

VDEV_API void vdev_input_profile_mouse(struct vdev_input_profile *p, const char *name)
{
	vdev_input_profile_init(p, name, 0, PRODUCT_MOUSE);
	(void)vdev_input_profile_set_prop(p, VDEV_INPUT_PROP_POINTER);
	for (unsigned b = VDEV_INPUT_BTN_LEFT; b <= VDEV_INPUT_BTN_EXTRA; b++)
		(void)vdev_input_profile_set_bit(p, VDEV_INPUT_EV_KEY, b);
	(void)vdev_input_profile_set_bit(p, VDEV_INPUT_EV_REL, VDEV_INPUT_REL_X);
	(void)vdev_input_profile_set_bit(p, VDEV_INPUT_EV_REL, VDEV_INPUT_REL_Y);
	(void)vdev_input_profile_set_bit(p, VDEV_INPUT_EV_REL, VDEV_INPUT_REL_WHEEL);
}

VDEV_API int vdev_input_profile_touchscreen(struct vdev_input_profile *p, const char *name,
					    uint32_t width, uint32_t height, unsigned slots)
{
	if (width == 0 || width > INT32_MAX || height == 0 || height > INT32_MAX || slots == 0 ||
	    slots > 64)
		return VDEV_EINVAL;
	struct vdev_input_absinfo x = {.min = 0, .max = (int32_t)(width - 1)};
	struct vdev_input_absinfo y = {.min = 0, .max = (int32_t)(height - 1)};
	struct vdev_input_absinfo slot = {.min = 0, .max = (int32_t)(slots - 1)};
	struct vdev_input_absinfo id = {.min = 0, .max = 65535};

	vdev_input_profile_init(p, name, 0, PRODUCT_TOUCH);
	(void)vdev_input_profile_set_prop(p, VDEV_INPUT_PROP_DIRECT);
	(void)vdev_input_profile_set_bit(p, VDEV_INPUT_EV_KEY, VDEV_INPUT_BTN_TOUCH);
	(void)vdev_input_profile_set_abs(p, VDEV_INPUT_ABS_X, &x);
	(void)vdev_input_profile_set_abs(p, VDEV_INPUT_ABS_Y, &y);
	(void)vdev_input_profile_set_abs(p, VDEV_INPUT_ABS_MT_SLOT, &slot);
	(void)vdev_input_profile_set_abs(p, VDEV_INPUT_ABS_MT_POSITION_X, &x);
	(void)vdev_input_profile_set_abs(p, VDEV_INPUT_ABS_MT_POSITION_Y, &y);
	(void)vdev_input_profile_set_abs(p, VDEV_INPUT_ABS_MT_TRACKING_ID, &id);
	return 0;
}
