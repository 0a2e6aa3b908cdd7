/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-blk device model behind virtio-mmio, with a
 * RAM backend that completes at once or later in any order. The input
 * picks the negotiated features and ring layout, then queues requests
 * whose type, sector, header bytes, descriptor layout (pieces, addresses
 * good or bad, direction, indirect) and discard segments it chooses,
 * kicks, completes, reaps, writes config space, resets, and now and then
 * scribbles on the rings.
 *
 * Invariants: nothing outside guest memory is touched (ASan); the pool
 * never holds more than its size; and unless the rings were scribbled on,
 * every chain the driver queued comes back exactly once (no loss, no
 * duplicate, no protocol error seen by the driver) once the backend has
 * finished.
 */
#include <string.h>

#include "blk_ram.h"
#include "drv_mmio.h"
#include "fuzz_common.h"
#include "fuzz_mem.h"
#include "sim_le.h"
#include "vdev/blk.h"
#include "vdev/mmio.h"

#define REGION (256u * 1024u)
#define SECTORS 128u
#define NREQ 8
#define IOV_PER_REQ 20

static struct sim_mem m;
static struct ram_blk ram;
static struct vdev_blk blk;
static struct vdev_vq queues[1];
static uint64_t queue_held[1 * VDEV_VQ_HELD_WORDS(32)];
static struct vdev_blk_req reqs[NREQ];
static struct vdev_iov iovs[NREQ * IOV_PER_REQ];
static struct vdev_blk_range ranges[NREQ * 4];
static struct vdev_mmio mmio;
static struct drv_mmio dm;
static struct drv_vq q;
static int tok[64];
static uint64_t arena;

static uint64_t neg; /* what the last bring-up negotiated */

static bool bring_up(struct drv_transport *tr, uint64_t want, uint16_t qsize)
{
	sim_mem_reset_alloc(&m);
	arena = sim_alloc(&m, 64u * 1024u, 4096);
	return drv_virtio_negotiate(tr, want, &neg) == 0 &&
	       drv_virtio_setup_queue(tr, &q, &m, 0, qsize, neg) == 0 &&
	       drv_virtio_driver_ok(tr) == 0x0f;
}

/* A guest address for a piece of a request: mostly good, sometimes not. */
static uint64_t piece_addr(struct input *in, unsigned slot)
{
	uint8_t k = take(in);
	switch (k % 16) {
	case 0:
		return sim_straddle_gpa(&m, 1 + take(in) % 32u);
	case 1:
		return SIM_HOLE_GPA;
	case 2:
		return SIM_RO_GPA + take(in);
	case 3:
		return take64(in);
	default:
		return arena + slot * 1024u + (take(in) % 64u) * 8u;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	uint8_t flags = take(&in);
	bool scribbled = false, up;
	unsigned queued = 0, reaped = 0, slot = 0, ring_resets = 0;
	struct drv_transport tr;
	uint64_t want = ~(uint64_t)0;

	if (!(flags & 1))
		want &= ~VDEV_BIT(VDEV_F_RING_PACKED);
	if (flags & 2)
		want &= ~VDEV_BIT(VDEV_BLK_F_FLUSH);
	if (flags & 4)
		want &= ~VDEV_BIT(VDEV_BLK_F_CONFIG_WCE);
	if (flags & 8)
		want &= ~VDEV_BIT(VDEV_F_EVENT_IDX);
	fuzz_mem_reset(&m, REGION, false);
	if (ram_blk_init(&ram, SECTORS * 512u, NREQ) != 0)
		return 0;
	ram.async = (flags & 16) != 0;
	ram.blk = &blk;
	struct vdev_blk_config c = {
		.capacity = SECTORS,
		.read_only = (flags & 32) != 0,
		.writeback = (flags & 64) != 0,
		.num_queues = 1,
		.queue_size = 32,
		.seg_max = IOV_PER_REQ - 2,
		.max_discard_sectors = 64,
		.max_discard_seg = 4,
		.max_write_zeroes_sectors = 64,
		.max_write_zeroes_seg = 4,
		.write_zeroes_may_unmap = true,
		.max_secure_erase_seg = 2,
		.serial = "fuzz",
		.mem = &m.mem,
		.queues = queues,
		.queue_held = queue_held,
		.reqs = reqs,
		.num_reqs = 1 + take(&in) % NREQ,
		.iovs = iovs,
		.iov_per_req = IOV_PER_REQ,
		.ranges = ranges,
		.backend = (flags & 128) ? &ram_blk_ops_lifetime : &ram_blk_ops,
		.backend_opaque = &ram,
	};
	FUZZ_CHECK(vdev_blk_init(&blk, &c) == 0);
	FUZZ_CHECK(drv_mmio_attach(&dm, &mmio, vdev_blk_dev(&blk), &tr) == 0);
	tr.reset_polls = FUZZ_RESET_POLLS;
	memset(&q, 0, sizeof(q));
	up = bring_up(&tr, want, (uint16_t)(1u << (1 + take(&in) % 5)));

	while (in.n > 0 && up) {
		uint8_t op = take(&in);
		switch (op % 8) {
		case 0:
		case 1: { /* queue a request */
			struct drv_buf b[12];
			unsigned n = 0, pieces = 1 + take(&in) % 10u;
			uint64_t base = arena + slot * 1024u;
			uint8_t *h = sim_ptr(&m, base);
			/* header: type (often a real one), reserved, sector */
			static const uint8_t types[] = {0, 1, 4, 8, 10, 11, 13, 14, 99};
			uint8_t t = take(&in);
			memset(h, 0, 16);
			h[0] = t < 200 ? types[t % sizeof(types)] : t;
			uint64_t sector = take(&in) < 200 ? take(&in) % (SECTORS + 4u) : take64(&in);
			sim_put_le64(h + 8, sector);
			/* discard-style segments right after the header */
			for (unsigned k = 16; k < 16 + 64; k++)
				h[k] = take(&in) % 4 == 0 ? take(&in) : (uint8_t)(k == 16 ? sector : 0);
			b[n++] = (struct drv_buf){base, (uint32_t)(take(&in) % 2 ? 16 : 8 + take(&in) % 72), false};
			for (unsigned i = 0; i < pieces && n < 11; i++) {
				uint8_t f = take(&in);
				b[n++] = (struct drv_buf){f % 4 ? base + 128 + i * 64u : piece_addr(&in, slot),
							  (uint32_t)(f % 3 ? 512 : take(&in)), (f & 8) != 0};
			}
			if (take(&in) % 8)
				b[n++] = (struct drv_buf){base + 1000, 1, true}; /* status */
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
			ram_blk_complete_some(&ram, 1 + take(&in) % 4u, take(&in));
			(void)vdev_blk_process(&blk, 0);
			break;
		case 4: {
			uint32_t len;
			while (drv_get_used(&q, &len) != NULL)
				reaped++;
			break;
		}
		case 5: { /* config space write (only writeback is writable) */
			uint8_t v = take(&in);
			tr.ops->config_write(tr.t, take(&in) % 80u, &v, 1);
			break;
		}
		case 6: /* a hostile guest scribbles on the rings */
			if (take(&in) % 4 == 0) {
				unsigned at = take(&in) % (16u * q.size);
				((uint8_t *)q.desc)[at] = take(&in);
				scribbled = true;
			}
			break;
		default: { /* reset the queue (RING_RESET) or the device */
			uint8_t how = take(&in);

			/* each queue reset takes new rings from the simulated
			 * memory: a few per input */
			if (how % 8 == 1 && (neg & VDEV_BIT(VDEV_F_RING_RESET)) && ++ring_resets <= 4) {
				/* while the backend holds requests: the reset
				 * stays ongoing until it gives the last back,
				 * and none of them is answered */
				(void)tr.ops->reset_queue(tr.t, 0);
				ram_blk_complete_some(&ram, take(&in) % 2 ? NREQ : take(&in) % 4u,
						      take(&in));
				if (drv_virtio_setup_queue(&tr, &q, &m, 0, q.size, neg) != 0) {
					/* still ongoing: the driver resets the device */
					tr.ops->set_status(tr.t, 0);
					ram_blk_complete_some(&ram, NREQ, 0);
					FUZZ_CHECK(tr.ops->get_status(tr.t) == 0);
					up = bring_up(&tr, want, q.size);
				}
				/* on new rings: an orphan answered there would be
				 * an id the driver does not have out (q.errors) */
				queued = reaped = 0;
				/* a queue reset does not clear DEVICE_NEEDS_RESET
				 * (spec 2.1.2): a ring declared broken stays so */
				scribbled = (tr.ops->get_status(tr.t) & VDEV_STATUS_NEEDS_RESET) != 0;
				break;
			}
			if (how % 8 != 0)
				break;
			tr.ops->set_status(tr.t, 0);
			ram_blk_complete_some(&ram, NREQ, 0); /* hand the buffers back */
			FUZZ_CHECK(tr.ops->get_status(tr.t) == 0);
			up = bring_up(&tr, want, q.size);
			queued = reaped = 0;
			scribbled = false;
			break;
		}
		}
		FUZZ_CHECK(vdev_blk_inflight(&blk) <= c.num_reqs);
	}
	if (up && !scribbled) {
		/* finish everything: exactly one completion per queued chain */
		for (int i = 0; i < 64 && (ram.nheld > 0 || vdev_blk_inflight(&blk) > 0 ||
					   reaped < queued); i++) {
			ram_blk_complete_some(&ram, NREQ, 0);
			tr.ops->notify(tr.t, 0, false, 0);
			uint32_t len;
			while (drv_get_used(&q, &len) != NULL)
				reaped++;
		}
		FUZZ_CHECK(q.errors == 0);
		FUZZ_CHECK(vdev_blk_inflight(&blk) == 0);
		FUZZ_CHECK(reaped == queued);
	}
	drv_vq_destroy(&q);
	ram_blk_destroy(&ram);
	return 0;
}
