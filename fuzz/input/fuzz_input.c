/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-input device model behind virtio-mmio. The
 * input picks the profile, ring layout and backlog size, then posts event
 * and status buffers (pieces with good or bad addresses, either
 * direction, any length, indirect), sends host updates of any length,
 * kicks, reaps, writes and reads the config space anywhere, resets single
 * queues (RING_RESET) and the device, and now and then scribbles on a ring.
 *
 * Invariants: nothing outside guest memory is touched (ASan); the
 * backlog never exceeds its size; every config read shows size <= 128
 * and zeroes beyond it; events reach the driver in the order they were
 * sent, each in one 8-byte used buffer, nothing of a dropped update
 * among them; and unless a ring was scribbled on, every status buffer
 * comes back and every event buffer is used once there are events for it
 * (buffers out on a queue when it was reset never come back; the events
 * still waiting go to the new ring, in order).
 */
#include <string.h>

#include "drv_mmio.h"
#include "fuzz_common.h"
#include "fuzz_mem.h"
#include "vdev/input.h"
#include "vdev/mmio.h"

#define REGION (256u * 1024u)
#define IOVS 4
#define BACKLOG 32

static struct sim_mem m;
static struct vdev_input_profile prof;
static struct vdev_input dev;
static struct vdev_vq queues[2];
static uint64_t queue_held[2 * VDEV_VQ_HELD_WORDS(32)];
static struct vdev_iov iovs[2 * IOVS];
static struct vdev_input_event backlog[BACKLOG];
static struct vdev_mmio mmio;
static struct drv_mmio dm;
static struct drv_vq q[2];
static int tok[2][64];
static uint64_t arena;
/* the events accepted, in order (a shadow of what the driver must see) */
static uint32_t sent[4096], nsent, nseen;
/* event buffers whose first 8 bytes sit at their slot's address */
static bool simple[64];
static bool checking; /* the order is checkable (no scribbling since the reset) */
static uint64_t neg;  /* the features of the current bring-up */

static bool bring_up(struct drv_transport *tr, uint64_t want, uint16_t qsize)
{
	sim_mem_reset_alloc(&m);
	arena = sim_alloc(&m, 2u * 64u * 64u, 4096);
	return drv_virtio_negotiate(tr, want, &neg) == 0 &&
	       drv_virtio_setup_queue(tr, &q[0], &m, 0, qsize, neg) == 0 &&
	       drv_virtio_setup_queue(tr, &q[1], &m, 1, qsize, neg) == 0 &&
	       drv_virtio_driver_ok(tr) == 0x0f;
}

static uint64_t piece_addr(struct input *in, uint64_t good)
{
	uint8_t k = take(in);
	switch (k % 16) {
	case 0: return sim_straddle_gpa(&m, 1 + take(in) % 8u);
	case 1: return SIM_HOLE_GPA;
	case 2: return SIM_RO_GPA + take(in);
	case 3: return take64(in);
	default: return good;
	}
}

static void check_config(struct drv_transport *tr)
{
	uint8_t raw[VDEV_INPUT_CONFIG_SIZE];

	tr->ops->config_read(tr->t, 0, raw, sizeof(raw));
	FUZZ_CHECK(raw[2] <= 128);
	for (unsigned i = 3; i < 8; i++)
		FUZZ_CHECK(raw[i] == 0);
	for (unsigned i = 8u + raw[2]; i < sizeof(raw); i++)
		FUZZ_CHECK(raw[i] == 0);
}

/* Reap event buffers: a used length of 8 is the next event sent. */
static void reap_events(unsigned *outstanding)
{
	uint32_t len;
	int *t;

	while ((t = drv_get_used(&q[0], &len)) != NULL) {
		(*outstanding)--;
		if (len == 0)
			continue; /* a malformed buffer, returned empty */
		if (!checking)
			continue;
		FUZZ_CHECK(len == 8);
		unsigned idx = (unsigned)(t - tok[0]);
		FUZZ_CHECK(nseen < nsent);
		if (simple[idx]) {
			const uint8_t *p = sim_ptr(&m, arena + idx * 64u);
			uint32_t code = (uint32_t)p[2] | (uint32_t)p[3] << 8;
			FUZZ_CHECK(code == (sent[nseen] & 0xffffu));
		}
		nseen++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	uint8_t flags = take(&in);
	bool scribbled = false, up;
	unsigned ev_out = 0, ev_next = 0, st_out = 0, st_queued = 0, st_reaped = 0, serial = 0;
	struct drv_transport tr;
	uint64_t want = ~(uint64_t)0;

	if (!(flags & 1))
		want &= ~VDEV_BIT(VDEV_F_RING_PACKED);
	if (flags & 2)
		want &= ~VDEV_BIT(VDEV_F_EVENT_IDX);
	switch ((flags >> 2) % 3) {
	case 0: vdev_input_profile_keyboard(&prof, "fuzz keyboard"); break;
	case 1: vdev_input_profile_mouse(&prof, "fuzz mouse"); break;
	default: (void)vdev_input_profile_touchscreen(&prof, "fuzz touch", 800, 480, 5); break;
	}
	fuzz_mem_reset(&m, REGION, false);
	nsent = nseen = 0;
	checking = true;
	struct vdev_input_config c = {
		.profile = &prof,
		.queue_size = 32,
		.mem = &m.mem,
		.queues = queues,
		.queue_held = queue_held,
		.iovs = iovs,
		.iov_per_chain = 1 + take(&in) % IOVS,
		.backlog = backlog,
		.backlog_len = 1 + take(&in) % BACKLOG,
	};
	FUZZ_CHECK(vdev_input_init(&dev, &c) == 0);
	FUZZ_CHECK(drv_mmio_attach(&dm, &mmio, vdev_input_dev(&dev), &tr) == 0);
	tr.reset_polls = FUZZ_RESET_POLLS;
	memset(q, 0, sizeof(q));
	up = bring_up(&tr, want, (uint16_t)(1u << (1 + take(&in) % 5)));

	while (in.n > 0 && up) {
		uint8_t op = take(&in);
		switch (op % 10) {
		case 0: { /* an event buffer */
			unsigned t = ev_next % 64u; /* ring <= 32: no slot still out */
			uint64_t good = arena + t * 64u;
			uint8_t f = take(&in);
			struct drv_buf b[3];
			unsigned n = 1;
			if (f % 4 == 0) {
				uint64_t gpa = piece_addr(&in, good);
				uint32_t len = take(&in) % 16u;
				b[0] = (struct drv_buf){gpa, len, (take(&in) & 1) != 0};
				if (take(&in) & 1) {
					len = take(&in) % 16u;
					b[n++] = (struct drv_buf){good + 32, len, true};
				}
			} else {
				b[0] = (struct drv_buf){good, 8, true};
			}
			simple[t] = b[0].gpa == good && b[0].len >= 8;
			if (drv_outstanding(&q[0]) < 64 &&
			    drv_add(&q[0], b, n, (f & 16) != 0, &tok[0][t]) == 0) {
				ev_out++;
				ev_next++;
			}
			break;
		}
		case 1: { /* a status buffer */
			unsigned t = st_queued % 64u;
			uint64_t good = arena + 64u * 64u + t * 64u;
			uint8_t *p = sim_ptr(&m, good);
			for (unsigned i = 0; i < 8; i++)
				p[i] = take(&in);
			uint64_t gpa = piece_addr(&in, good);
			uint32_t len = take(&in) % 3 ? 8 : take(&in) % 20u;
			struct drv_buf b = {gpa, len, (take(&in) % 4) == 0};
			if (drv_add(&q[1], &b, 1, false, &tok[1][t]) == 0) {
				st_queued++;
				st_out++;
			}
			break;
		}
		case 2: { /* a host update */
			struct vdev_input_event e[40];
			unsigned n = 1 + take(&in) % 40u;
			for (unsigned i = 0; i < n; i++) {
				uint16_t type = take(&in);
				e[i] = (struct vdev_input_event){type, (uint16_t)(serial + i),
								 take32(&in)};
			}
			int rc = vdev_input_send(&dev, e, n);
			if (rc == 0) {
				for (unsigned i = 0; i < n && nsent < 4096; i++)
					sent[nsent++] = serial + i;
			} else {
				FUZZ_CHECK(rc == VDEV_ENOSPC);
			}
			serial += n;
			break;
		}
		case 3:
		case 4:
			if (drv_kick_prepare(&q[op % 2]) || take(&in) & 1)
				tr.ops->notify(tr.t, op % 2, false, 0);
			break;
		case 5: {
			uint32_t len;
			reap_events(&ev_out);
			while (drv_get_used(&q[1], &len) != NULL) {
				FUZZ_CHECK(scribbled || len == 0);
				st_reaped++;
				st_out--;
			}
			break;
		}
		case 6: { /* config write anywhere, then a read */
			uint8_t v[4];
			for (unsigned i = 0; i < 4; i++)
				v[i] = take(&in);
			uint8_t k = take(&in);
			tr.ops->config_write(tr.t, k % 140u, v, 1u + k % 4u);
			check_config(&tr);
			break;
		}
		case 7: { /* a proper select */
			uint8_t sel = take(&in), sub = take(&in);
			tr.ops->config_write(tr.t, 0, &sel, 1);
			tr.ops->config_write(tr.t, 1, &sub, 1);
			check_config(&tr);
			break;
		}
		case 8: { /* a hostile guest scribbles on a ring, or a RING_RESET */
			uint8_t k = take(&in);
			if (k % 4 == 0) {
				struct drv_vq *s = &q[take(&in) & 1];
				((uint8_t *)s->desc)[take(&in) % (16u * s->size)] = take(&in);
				scribbled = true;
			} else if (k % 16 == 1 && (neg & VDEV_BIT(VDEV_F_RING_RESET))) {
				/* what the device used is reaped first; the rest the
				 * driver forgets, and it must never come back */
				unsigned qi = take(&in) & 1u;
				uint32_t len;
				if (qi == 0) {
					reap_events(&ev_out);
				} else {
					while (drv_get_used(&q[1], &len) != NULL) {
						FUZZ_CHECK(scribbled || len == 0);
						st_reaped++;
					}
				}
				FUZZ_CHECK(scribbled || q[qi].errors == 0);
				FUZZ_CHECK(tr.ops->reset_queue(tr.t, (uint16_t)qi));
				if (qi == 0)
					ev_out = 0;
				else
					st_queued = st_reaped, st_out = 0;
				/* new rings while the memory has room; else this
				 * input is over */
				up = drv_virtio_setup_queue_if_room(&tr, &q[qi], &m, (uint16_t)qi,
								    q[qi].size, neg) == 0;
			}
			break;
		}
		default: /* reset and bring the device up again */
			if (take(&in) % 8 != 0)
				break;
			tr.ops->set_status(tr.t, 0);
			FUZZ_CHECK(tr.ops->get_status(tr.t) == 0);
			FUZZ_CHECK(vdev_input_backlog(&dev) == 0);
			up = bring_up(&tr, want, q[0].size);
			ev_out = st_out = st_queued = st_reaped = 0;
			nsent = nseen = 0;
			scribbled = false;
			checking = true;
			break;
		}
		FUZZ_CHECK(vdev_input_backlog(&dev) <= c.backlog_len);
		if (scribbled)
			checking = false; /* the order is no longer checkable */
	}
	if (up && !scribbled) {
		tr.ops->notify(tr.t, 0, false, 0);
		tr.ops->notify(tr.t, 1, false, 0);
		uint32_t len;
		reap_events(&ev_out);
		while (drv_get_used(&q[1], &len) != NULL)
			st_reaped++;
		FUZZ_CHECK(q[0].errors == 0 && q[1].errors == 0);
		FUZZ_CHECK(st_reaped == st_queued);
		/* events left waiting only if every buffer was used */
		FUZZ_CHECK(vdev_input_backlog(&dev) == 0 || ev_out == 0);
	}
	drv_vq_destroy(&q[0]);
	drv_vq_destroy(&q[1]);
	return 0;
}
