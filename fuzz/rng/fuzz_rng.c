/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-rng device model behind virtio-mmio, with a
 * host that answers at once (full, short, nothing, an error, too much) or
 * later in any order. The input picks the ring layout, the pool size and
 * max_request, then queues buffers whose pieces (addresses good or bad,
 * direction, lengths, indirect) it chooses, kicks, completes, reaps,
 * resets the device or the queue, and now and then scribbles on the ring.
 *
 * Invariants: nothing outside guest memory is touched (ASan); the host is
 * never asked for 0 bytes, more than max_request or more than the
 * segments hold; the pool never holds more than its size; and unless the
 * ring was scribbled on, every buffer the driver queued comes back
 * exactly once, with a used length no larger than what the host wrote.
 */
#include <string.h>

#include "drv_mmio.h"
#include "fuzz_common.h"
#include "fuzz_mem.h"
#include "vdev/mmio.h"
#include "vdev/rng.h"

#define REGION (1024u * 1024u)
#define NREQ 8
#define IOVS 8

static struct sim_mem m;
static struct vdev_rng rng;
static struct vdev_vq queues[1];
static uint64_t queue_held[VDEV_VQ_HELD_WORDS(32)];
static struct vdev_rng_req reqs[NREQ];
static struct vdev_iov iovs[NREQ * IOVS];
static struct vdev_mmio mmio;
static struct drv_mmio dm;
static struct drv_vq q;
static int tok[64];
static uint64_t arena, neg;

static struct {
	struct input *in;
	bool async;
	uint32_t max_request;
	struct vdev_rng_io *held[NREQ];
	unsigned nheld;
} host;

static int h_fill(void *o, struct vdev_rng_io *io)
{
	(void)o;
	FUZZ_CHECK(io->len > 0 && io->len <= host.max_request);
	FUZZ_CHECK(vdev_iov_length(io->iov, io->iovcnt) == io->len);
	if (host.async) {
		FUZZ_CHECK(host.nheld < NREQ);
		host.held[host.nheld++] = io;
		return VDEV_RNG_ASYNC;
	}
	uint8_t k = take(host.in);
	switch (k % 5) {
	case 0: return VDEV_EIO;
	case 1: return 0;
	case 2: return (int)io->len + k; /* too much: clamped */
	default: {
		static uint8_t buf[4096];
		uint32_t n = io->len < sizeof(buf) ? io->len : sizeof(buf);
		n = k % 2 ? n : 1 + k % n;
		memset(buf, k, n);
		return (int)vdev_iov_from_buf(io->iov, io->iovcnt, 0, buf, n);
	}
	}
}

static void complete_some(unsigned n, uint8_t pick)
{
	while (n-- > 0 && host.nheld > 0) {
		unsigned i = pick % host.nheld;
		struct vdev_rng_io *io = host.held[i];
		host.held[i] = host.held[--host.nheld];
		vdev_rng_complete(&rng, io, pick);
		pick = (uint8_t)(pick * 7u + 3u);
	}
}

static const struct vdev_rng_backend_ops ops = {
	.size = sizeof(struct vdev_rng_backend_ops),
	.fill = h_fill,
};

static bool bring_up(struct drv_transport *tr, uint64_t want, uint16_t qsize)
{
	sim_mem_reset_alloc(&m);
	/* 64 slots of 1 KiB, and room for a piece of up to 2 KiB starting
	 * near the last one's end: a buffer there must not reach the rings
	 * allocated after it (the device would write entropy over the used
	 * ring, as the campaign found, and the driver would rightly object) */
	arena = sim_alloc(&m, 68u * 1024u, 4096);
	return drv_virtio_negotiate(tr, want, &neg) == 0 &&
	       drv_virtio_setup_queue(tr, &q, &m, 0, qsize, neg) == 0 &&
	       drv_virtio_driver_ok(tr) == 0x0f;
}

static uint64_t piece_addr(struct input *in, unsigned slot)
{
	uint8_t k = take(in);
	switch (k % 16) {
	case 0: return sim_straddle_gpa(&m, 1 + take(in) % 32u);
	case 1: return SIM_HOLE_GPA;
	case 2: return SIM_RO_GPA + take(in);
	case 3: return take64(in);
	default: return arena + slot * 1024u + (take(in) % 64u) * 8u;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	uint8_t flags = take(&in);
	bool scribbled = false, up;
	unsigned queued = 0, reaped = 0, slot = 0, bring_ups = 0, ring_resets = 0;
	struct drv_transport tr;
	uint64_t want = ~(uint64_t)0;

	memset(&host, 0, sizeof(host));
	host.in = &in;
	host.async = (flags & 2) != 0;
	if (!(flags & 1))
		want &= ~VDEV_BIT(VDEV_F_RING_PACKED);
	if (flags & 4)
		want &= ~VDEV_BIT(VDEV_F_EVENT_IDX);
	fuzz_mem_reset(&m, REGION, false);
	host.max_request = (flags & 8) ? 1u + take(&in) : VDEV_RNG_DEFAULT_MAX_REQUEST;
	struct vdev_rng_config c = {
		.queue_size = 32,
		.max_request = host.max_request,
		.mem = &m.mem,
		.queues = queues,
		.queue_held = queue_held,
		.reqs = reqs,
		.num_reqs = 1 + take(&in) % NREQ,
		.iovs = iovs,
		.iov_per_req = 1 + take(&in) % IOVS,
		.backend = &ops,
	};
	FUZZ_CHECK(vdev_rng_init(&rng, &c) == 0);
	FUZZ_CHECK(drv_mmio_attach(&dm, &mmio, vdev_rng_dev(&rng), &tr) == 0);
	tr.reset_polls = FUZZ_RESET_POLLS;
	memset(&q, 0, sizeof(q));
	up = bring_up(&tr, want, (uint16_t)(1u << (1 + take(&in) % 5)));

	while (in.n > 0 && up) {
		uint8_t op = take(&in);
		switch (op % 8) {
		case 0:
		case 1: { /* queue a buffer */
			struct drv_buf b[10];
			unsigned n = 1 + take(&in) % 9u;
			for (unsigned i = 0; i < n; i++) {
				uint8_t f = take(&in);
				uint64_t gpa = f % 4 ? arena + slot * 1024u + i * 64u
						     : piece_addr(&in, slot);
				uint32_t len = f % 3 ? 64 : take16(&in) % 2048u;
				b[i] = (struct drv_buf){gpa, len, (f & 8) == 0};
			}
			slot = (slot + 1) % 64;
			if (drv_add(&q, b, n, take(&in) & 1, &tok[queued % 64]) == 0)
				queued++;
			break;
		}
		case 2:
			if (drv_kick_prepare(&q) || take(&in) & 1)
				tr.ops->notify(tr.t, 0, false, 0);
			break;
		case 3:
			complete_some(1 + take(&in) % 4u, take(&in));
			(void)vdev_rng_process(&rng);
			break;
		case 4: {
			uint32_t len;
			while (drv_get_used(&q, &len) != NULL) {
				FUZZ_CHECK(scribbled || len <= host.max_request);
				reaped++;
			}
			break;
		}
		case 5: /* RING_RESET of the queue while the host holds buffers */
			if (take(&in) % 4 != 0)
				break;
			(void)tr.ops->reset_queue(tr.t, 0);
			complete_some(NREQ, take(&in)); /* forgotten: never pushed */
			/* new rings come from the simulated memory, which only a
			 * bring-up gives back: after a few, reset the device */
			if (++ring_resets > 4 ||
			    drv_virtio_setup_queue(&tr, &q, &m, 0, q.size, neg) != 0) {
				tr.ops->set_status(tr.t, 0);
				FUZZ_CHECK(tr.ops->get_status(tr.t) == 0);
				up = bring_up(&tr, want, q.size);
				ring_resets = 0;
			}
			queued = reaped = 0;
			/* A queue reset does not clear DEVICE_NEEDS_RESET: a
			 * device that declared its ring broken stays so until
			 * the driver resets the whole device (spec 2.1.2). */
			scribbled = (tr.ops->get_status(tr.t) & VDEV_STATUS_NEEDS_RESET) != 0;
			break;
		case 6: /* a hostile guest scribbles on the ring */
			if (take(&in) % 4 == 0) {
				unsigned at = take(&in) % (16u * q.size);
				((uint8_t *)q.desc)[at] = take(&in);
				scribbled = true;
			}
			break;
		default: /* reset and bring the device up again */
			/* each bring-up takes new rings from the simulated
			 * memory: a few per input */
			if (take(&in) % 8 != 0 || ++bring_ups > 4)
				break;
			tr.ops->set_status(tr.t, 0);
			complete_some(NREQ, 0); /* hand the buffers back */
			FUZZ_CHECK(tr.ops->get_status(tr.t) == 0);
			up = bring_up(&tr, want, q.size);
			ring_resets = 0;
			queued = reaped = 0;
			scribbled = false;
			break;
		}
		FUZZ_CHECK(vdev_rng_inflight(&rng) <= c.num_reqs);
		FUZZ_CHECK(vdev_rng_inflight(&rng) == host.nheld);
	}
	if (up && !scribbled) {
		for (int i = 0; i < 64 && (host.nheld > 0 || reaped < queued); i++) {
			complete_some(NREQ, (uint8_t)i);
			tr.ops->notify(tr.t, 0, false, 0);
			uint32_t len;
			while (drv_get_used(&q, &len) != NULL)
				reaped++;
		}
		FUZZ_CHECK(q.errors == 0);
		FUZZ_CHECK(vdev_rng_inflight(&rng) == 0);
		FUZZ_CHECK(!(tr.ops->get_status(tr.t) & VDEV_STATUS_NEEDS_RESET));
		FUZZ_CHECK(reaped == queued);
	}
	drv_vq_destroy(&q);
	return 0;
}
