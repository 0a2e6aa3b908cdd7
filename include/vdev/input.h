/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-input device model (spec "Input Device", device id 18).
 *
 * One evdev-style input device: a keyboard, a mouse, a touch screen, a
 * rotary controller... What it can do is described by a profile (name,
 * serial, ids, property bits, per event type the supported codes, per
 * absolute axis its range), which the driver queries through the
 * configuration space's select/subsel protocol; helpers fill profiles for
 * a keyboard, a mouse and a multi-touch screen. There are no feature bits.
 *
 * Queues: 0 eventq (device -> driver: input events), 1 statusq (driver ->
 * device: LED, sound and other feedback, handed to the host's status op).
 * Both carry struct virtio_input_event { le16 type; le16 code; le32 value; }.
 *
 * Events from the host: vdev_input_send() takes one device update (the
 * events up to and including their EV_SYN/SYN_REPORT) and keeps it whole:
 * it goes into a caller-sized backlog, from which events are written into
 * the driver's eventq buffers, one per buffer, in order, as buffers come.
 * When the backlog cannot hold the whole update it is dropped, all of it
 * (the spec: "buffer or drop the entire sequence"), the call says so
 * (VDEV_ENOSPC) and stats count it. A device reset empties the backlog.
 *
 * Hostile input: select/subsel combinations the profile does not have
 * read size 0 and a zero union; writes to any other config byte are
 * ignored. An eventq buffer that is rejected by the queue, has a readable
 * part or fewer than 8 writable bytes is completed empty without using an
 * event; a statusq buffer with fewer than 8 readable bytes is completed
 * without calling the host (both counted). Only the first event of a
 * status buffer is taken.
 *
 * Context: one thread for the device (queue notifications, the
 * transport's config accesses and every vdev_input_* call), or the
 * integrator serialises them. Host ops are called from inside those
 * calls and must not call vdev_input_process().
 */
#ifndef VDEV_INPUT_H
#define VDEV_INPUT_H

/* Absent from a build with VDEV_CONFIG_DEV_INPUT 0 (vdev/config.h): the
 * functions below are declared there but not defined (a call does not
 * link). */

#include "vdev/common.h"
#include "vdev/device.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VDEV_INPUT_NUM_QUEUES 2u
#define VDEV_INPUT_EVENTQ 0u
#define VDEV_INPUT_STATUSQ 1u
#define VDEV_INPUT_CONFIG_SIZE 136u /* struct virtio_input_config */
#define VDEV_INPUT_EVENT_SIZE 8u    /* struct virtio_input_event */
#define VDEV_INPUT_STRING_MAX 128u  /* u.string, no NUL needed */
#define VDEV_INPUT_BITMAP_BYTES 128u
#define VDEV_INPUT_EV_TYPES 32u     /* EV_* 0x00..0x1f */
#define VDEV_INPUT_ABS_AXES 64u     /* ABS_* 0x00..0x3f */

/* virtio_input_config.select */
#define VDEV_INPUT_CFG_UNSET 0x00u
#define VDEV_INPUT_CFG_ID_NAME 0x01u
#define VDEV_INPUT_CFG_ID_SERIAL 0x02u
#define VDEV_INPUT_CFG_ID_DEVIDS 0x03u
#define VDEV_INPUT_CFG_PROP_BITS 0x10u
#define VDEV_INPUT_CFG_EV_BITS 0x11u
#define VDEV_INPUT_CFG_ABS_INFO 0x12u

/* The evdev codes the profiles use (values of Linux's input-event-codes.h). */
#define VDEV_INPUT_EV_SYN 0x00u
#define VDEV_INPUT_EV_KEY 0x01u
#define VDEV_INPUT_EV_REL 0x02u
#define VDEV_INPUT_EV_ABS 0x03u
#define VDEV_INPUT_EV_MSC 0x04u
#define VDEV_INPUT_EV_LED 0x11u
#define VDEV_INPUT_EV_REP 0x14u
#define VDEV_INPUT_SYN_REPORT 0x00u
#define VDEV_INPUT_PROP_POINTER 0x00u
#define VDEV_INPUT_PROP_DIRECT 0x01u
#define VDEV_INPUT_KEY_ESC 1u
#define VDEV_INPUT_KEY_A 30u
#define VDEV_INPUT_KEY_MAX_KEYBOARD 248u /* KEY_MICMUTE: the last "keyboard" key */
#define VDEV_INPUT_BTN_LEFT 0x110u
#define VDEV_INPUT_BTN_RIGHT 0x111u
#define VDEV_INPUT_BTN_MIDDLE 0x112u
#define VDEV_INPUT_BTN_SIDE 0x113u
#define VDEV_INPUT_BTN_EXTRA 0x114u
#define VDEV_INPUT_BTN_TOUCH 0x14au
#define VDEV_INPUT_REL_X 0x00u
#define VDEV_INPUT_REL_Y 0x01u
#define VDEV_INPUT_REL_WHEEL 0x08u
#define VDEV_INPUT_ABS_X 0x00u
#define VDEV_INPUT_ABS_Y 0x01u
#define VDEV_INPUT_ABS_MT_SLOT 0x2fu
#define VDEV_INPUT_ABS_MT_POSITION_X 0x35u
#define VDEV_INPUT_ABS_MT_POSITION_Y 0x36u
#define VDEV_INPUT_ABS_MT_TRACKING_ID 0x39u
#define VDEV_INPUT_LED_NUML 0x00u
#define VDEV_INPUT_LED_CAPSL 0x01u
#define VDEV_INPUT_LED_SCROLLL 0x02u
#define VDEV_INPUT_BUS_VIRTUAL 0x06u

/* One event, in host byte order (the device converts to little endian). */
struct vdev_input_event {
	uint16_t type;
	uint16_t code;
	uint32_t value; /* evdev's s32, as its two's complement bits */
};

struct vdev_input_absinfo {
	int32_t min, max, fuzz, flat, res;
};

struct vdev_input_devids {
	uint16_t bustype, vendor, product, version;
};

/*
 * What the device is, as the configuration space tells the driver. Fill
 * it with the vdev_input_profile_* helpers or by hand (zero it first).
 * Strings need no NUL if they take all 128 bytes. A bitmap's size is up
 * to its last non-zero byte; an event type is supported if its bitmap is
 * not empty; an axis has ABS_INFO if its bit is set in ev_bits[EV_ABS].
 * Large (about 5 KiB): allocate it statically or on a heap.
 */
struct vdev_input_profile {
	char name[VDEV_INPUT_STRING_MAX];
	char serial[VDEV_INPUT_STRING_MAX];
	struct vdev_input_devids ids;
	bool has_ids; /* ID_DEVIDS answered only if set */
	uint8_t props[VDEV_INPUT_BITMAP_BYTES];
	uint8_t ev_bits[VDEV_INPUT_EV_TYPES][VDEV_INPUT_BITMAP_BYTES];
	struct vdev_input_absinfo abs[VDEV_INPUT_ABS_AXES];
};

/*
 * The host side. `size` first; ops get `opaque` (cfg->host_opaque) first;
 * all optional.
 * status: the driver sent a status event (EV_LED, EV_SND, ...).
 * drained: the backlog became empty: every update the host sent is in
 *   the driver's buffers (a host that stopped reading its source after a
 *   drop may resume).
 */
struct vdev_input_host_ops {
	uint32_t size; /* sizeof(struct vdev_input_host_ops) */
	void (*status)(void *opaque, const struct vdev_input_event *ev);
	void (*drained)(void *opaque);
};

struct vdev_input_config {
	const struct vdev_input_profile *profile; /* borrowed; not changed meanwhile */
	uint32_t queue_size;       /* largest ring, 1..32768 */
	uint64_t ring_features;    /* VDEV_BIT(VDEV_F_*); 0: INDIRECT_DESC, EVENT_IDX,
				    * RING_PACKED, RING_RESET */
	const struct vdev_mem *mem;
	/* Caller-owned storage, borrowed for the life of the device: */
	struct vdev_vq *queues;    /* VDEV_INPUT_NUM_QUEUES queues */
	uint64_t *queue_held;      /* VDEV_INPUT_NUM_QUEUES * VDEV_VQ_HELD_WORDS(queue_size):
				    * buffers each queue holds (virtqueue.h) */
	struct vdev_iov *iovs;     /* 2 * iov_per_chain */
	unsigned iov_per_chain;    /* segments per buffer, 1..65535 */
	struct vdev_input_event *backlog; /* events waiting for eventq buffers */
	unsigned backlog_len;      /* >= 1: the longest update the host sends, plus
				    * what to keep while the driver is slow */
	const struct vdev_input_host_ops *host; /* may be NULL */
	void *host_opaque;
};

struct vdev_input_stats {
	uint64_t events;          /* written into eventq buffers */
	uint64_t updates;         /* vdev_input_send() calls accepted */
	uint64_t dropped_updates; /* refused: the backlog had no room */
	uint64_t dropped_events;  /* their events, plus those a reset discarded */
	uint64_t backlog_max;     /* most events ever waiting */
	uint64_t status;          /* status events handed to the host */
	uint64_t bad_event_bufs;  /* eventq buffers completed empty */
	uint64_t bad_status_bufs; /* statusq buffers too short / rejected */
	uint64_t unknown_selects; /* config queries answered with size 0 */
};

/* Device state. Caller-allocated; fields private. */
struct vdev_input {
	struct vdev_dev VDEV_PRIV(dev);
	const struct vdev_input_profile *VDEV_PRIV(profile);
	const struct vdev_input_host_ops *VDEV_PRIV(ops);
	void *VDEV_PRIV(opaque);
	struct vdev_vq *VDEV_PRIV(queues);
	struct vdev_iov *VDEV_PRIV(iovs);
	struct vdev_input_event *VDEV_PRIV(backlog);
	struct vdev_input_stats VDEV_PRIV(stats);
	unsigned VDEV_PRIV(iov_per_chain);
	unsigned VDEV_PRIV(backlog_len);
	unsigned VDEV_PRIV(head);  /* oldest waiting event */
	unsigned VDEV_PRIV(count); /* events waiting */
	uint8_t VDEV_PRIV(config)[VDEV_INPUT_CONFIG_SIZE];
};

/*
 * vdev_input_init() - set up an input device.
 * Returns 0 or VDEV_EINVAL: no profile, queue_size out of range,
 * iov_per_chain 0 or above 65535, backlog_len 0, NULL mem/queues/queue_held/iovs/
 * backlog, a host ops table shorter than its size field's first member,
 * ring features the core does not implement.
 * Ownership: cfg is copied; the profile, arrays and ops are borrowed.
 * Context: before the transport is set up.
 */
VDEV_API int vdev_input_init(struct vdev_input *in, const struct vdev_input_config *cfg);

/* vdev_input_dev() - the device core object, for vdev_mmio_init() & co. */
VDEV_API struct vdev_dev *vdev_input_dev(struct vdev_input *in);

/*
 * vdev_input_send() - one device update from the host: `n` events, in
 * order (normally ending with EV_SYN/SYN_REPORT). Accepted whole into the
 * backlog and written to the driver as far as it has buffers, or dropped
 * whole. Returns 0 (accepted), VDEV_ENOSPC (dropped: the backlog has no
 * room for all n events; counted), VDEV_EINVAL (n == 0 or ev NULL).
 * Events sent before the driver is up wait in the backlog.
 * Context: the device's thread.
 */
VDEV_API int vdev_input_send(struct vdev_input *in, const struct vdev_input_event *ev,
			     unsigned n);

/*
 * vdev_input_process() - what a queue notification does, callable by the
 * integrator too: write waiting events into eventq buffers, hand statusq
 * events to the host; publish and notify.
 * Context: the device's thread.
 */
VDEV_API void vdev_input_process(struct vdev_input *in);

/* vdev_input_backlog() - events accepted and not yet in a driver buffer. */
VDEV_API unsigned vdev_input_backlog(const struct vdev_input *in);

VDEV_API void vdev_input_get_stats(const struct vdev_input *in, struct vdev_input_stats *out);

/* --- profiles ------------------------------------------------------------------ */

/*
 * vdev_input_profile_init() - zero the profile and set its name (copied,
 * at most 128 bytes; NULL: none) and ids (bustype VIRTUAL, the given
 * vendor/product, version 1).
 */
VDEV_API void vdev_input_profile_init(struct vdev_input_profile *p, const char *name,
				      uint16_t vendor, uint16_t product);
/* vdev_input_profile_set_serial() - the ID_SERIAL string (copied, <= 128 bytes). */
VDEV_API void vdev_input_profile_set_serial(struct vdev_input_profile *p, const char *serial);
/* vdev_input_profile_set_bit() - mark event `code` of `type` supported.
 * VDEV_EINVAL if type >= 32 or code >= 1024 (no effect). */
VDEV_API int vdev_input_profile_set_bit(struct vdev_input_profile *p, unsigned type,
					unsigned code);
/* vdev_input_profile_set_prop() - set INPUT_PROP bit `prop` (< 1024). */
VDEV_API int vdev_input_profile_set_prop(struct vdev_input_profile *p, unsigned prop);
/* vdev_input_profile_set_abs() - axis `axis` (< 64) supported (EV_ABS bit) with this range. */
VDEV_API int vdev_input_profile_set_abs(struct vdev_input_profile *p, unsigned axis,
					const struct vdev_input_absinfo *info);

/*
 * Ready-made profiles (each calls vdev_input_profile_init() first):
 * keyboard: EV_KEY for keys 1..248, EV_REP, EV_LED NUML/CAPSL/SCROLLL
 *   (the LEDs come back on the statusq).
 * mouse: EV_KEY BTN_LEFT/RIGHT/MIDDLE/SIDE/EXTRA, EV_REL X/Y/WHEEL,
 *   PROP_POINTER.
 * touchscreen: PROP_DIRECT, EV_KEY BTN_TOUCH, EV_ABS X/Y (0..width-1,
 *   0..height-1) and the type B multi-touch axes: MT_SLOT 0..slots-1,
 *   MT_POSITION_X/Y, MT_TRACKING_ID 0..65535. VDEV_EINVAL if width,
 *   height or slots is 0 or above INT32_MAX (slots above 64).
 */
VDEV_API void vdev_input_profile_keyboard(struct vdev_input_profile *p, const char *name);
VDEV_API void vdev_input_profile_mouse(struct vdev_input_profile *p, const char *name);
VDEV_API int vdev_input_profile_touchscreen(struct vdev_input_profile *p, const char *name,
					    uint32_t width, uint32_t height, unsigned slots);

#ifdef __cplusplus
}
#endif

#endif /* VDEV_INPUT_H */
