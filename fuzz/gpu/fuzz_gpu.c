/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-gpu device model behind virtio-mmio, with a
 * display sink that reads every pixel it is offered at the corners of each
 * damage rectangle and a budgeted host allocator that sometimes fails. The
 * input picks the negotiated features and ring layout, then queues
 * controlq and cursorq commands (a likely command type or a raw one,
 * small resource/scanout/context ids or raw values, rectangles, offsets,
 * strides, backing entries pointing at good, straddling, read-only,
 * unmapped or random guest addresses, truncated requests, response
 * buffers of any size, direction and place), kicks, reaps, changes the
 * displays, writes events_clear, resets, and now and then scribbles on
 * the rings.
 *
 * Invariants: nothing outside guest memory or the host allocations is
 * touched (ASan); the budget is never exceeded; every answer is a
 * documented response type and at most the response size; unless the
 * rings were scribbled on, the driver sees no protocol error and every
 * chain comes back exactly once; after reset and fini no host memory is
 * left allocated.
 */
#include <stdlib.h>
#include <string.h>

#include "drv_mmio.h"
#include "fuzz_common.h"
#include "fuzz_mem.h"
#include "sim_le.h"
#include "vdev/gpu.h"
#include "vdev/mmio.h"

#define REGION (512u * 1024u)
#define BUDGET (256u * 1024u)
#define NRES 6
#define NCTX 3
#define IOVS 16
#define SLOTS 32
#define SLOT 2048u
#define RESP_MAX 1100u

static struct sim_mem m;
static struct vdev_gpu gpu;
static struct vdev_vq queues[2];
static uint64_t queue_held[2 * VDEV_VQ_HELD_WORDS(32)];
static struct vdev_iov iovs[2 * IOVS];
static struct vdev_gpu_resource res[NRES];
static struct vdev_gpu_context ctxs[NCTX];
static struct vdev_mmio mmio;
static struct drv_mmio dm;
static struct drv_vq q[2];
static bool qup[2];
static int tok[2][256];
static unsigned queued[2], reaped[2];
static uint64_t arena, resp_arena;
static long live;
static size_t live_bytes;
static int fail_alloc;

static void *fz_alloc(void *o, size_t n)
{
	(void)o;
	FUZZ_CHECK(n > 0 && live_bytes + n <= BUDGET);
	if (fail_alloc > 0 && --fail_alloc == 0)
		return NULL;
	void *p = malloc(n);
	FUZZ_CHECK(p != NULL);
	memset(p, 0x5a, n);
	live++;
	live_bytes += n;
	return p;
}
static void fz_free(void *o, void *p, size_t n)
{
	(void)o;
	FUZZ_CHECK(p != NULL && live > 0 && live_bytes >= n);
	live--;
	live_bytes -= n;
	free(p);
}
static const struct vdev_gpu_host_mem_ops fz_hm = {
	.size = sizeof(struct vdev_gpu_host_mem_ops), .alloc = fz_alloc, .free = fz_free};

static uint32_t row[4096];

static void read_row(const struct vdev_gpu_image *img, uint32_t x, uint32_t y, uint32_t w)
{
	while (w > 0) {
		uint32_t n = w < 4096 ? w : 4096;
		FUZZ_CHECK(vdev_gpu_image_read(img, x, y, n, row) == n);
		x += n;
		w -= n;
	}
}

static void fz_scanout(void *o, uint32_t sid, const struct vdev_gpu_scanout *s)
{
	(void)o;
	FUZZ_CHECK(sid < VDEV_GPU_MAX_SCANOUTS);
	if (!s->enabled) {
		FUZZ_CHECK(s->image == NULL);
		return;
	}
	FUZZ_CHECK(s->image != NULL && s->width == s->src.width && s->height == s->src.height);
	FUZZ_CHECK((uint64_t)s->src.x + s->src.width <= s->image->width);
	FUZZ_CHECK((uint64_t)s->src.y + s->src.height <= s->image->height);
	FUZZ_CHECK(vdev_gpu_format_valid(s->format));
	/* the corners of the whole image are readable */
	read_row(s->image, 0, 0, 1);
	read_row(s->image, s->image->width - 1, s->image->height - 1, 1);
}

static void fz_update(void *o, uint32_t sid, const struct vdev_gpu_scanout *s,
		      const struct vdev_gpu_rect *r)
{
	(void)o, (void)sid;
	FUZZ_CHECK(s->enabled && r->width > 0 && r->height > 0);
	FUZZ_CHECK((uint64_t)r->x + r->width <= s->width);
	FUZZ_CHECK((uint64_t)r->y + r->height <= s->height);
	read_row(s->image, s->src.x + r->x, s->src.y + r->y, r->width);
	read_row(s->image, s->src.x + r->x, s->src.y + r->y + r->height - 1, r->width);
	uint8_t rgba[16];
	FUZZ_CHECK(vdev_gpu_to_rgba(s->format, row, rgba, 1) == 0);
}

static void fz_cursor(void *o, const struct vdev_gpu_cursor *c)
{
	(void)o;
	if (c->image != NULL) {
		FUZZ_CHECK(c->image->width == 64 && c->image->height == 64);
		read_row(c->image, 0, 63, 64);
	}
}

static const struct vdev_gpu_sink_ops fz_sink = {
	.size = sizeof(struct vdev_gpu_sink_ops),
	.scanout = fz_scanout,
	.update = fz_update,
	.cursor = fz_cursor,
};

static bool bring_up(struct drv_transport *tr, uint64_t want, uint16_t qsize)
{
	uint64_t neg;

	sim_mem_reset_alloc(&m);
	arena = sim_alloc(&m, (size_t)SLOTS * SLOT, 4096);
	resp_arena = sim_alloc(&m, (size_t)SLOTS * RESP_MAX, 64);
	memset(qup, 0, sizeof(qup));
	memset(queued, 0, sizeof(queued));
	memset(reaped, 0, sizeof(reaped));
	if (drv_virtio_negotiate(tr, want, &neg) != 0)
		return false;
	for (uint16_t i = 0; i < 2; i++)
		qup[i] = drv_virtio_setup_queue(tr, &q[i], &m, i, qsize, neg) == 0;
	return drv_virtio_driver_ok(tr) == 0x0f;
}

/* A driver that scribbled on a ring may read any length from it (in a
 * packed ring the used entries are the descriptors it wrote on). */
static void reap_all(bool scribbled)
{
	for (unsigned i = 0; i < 2; i++) {
		uint32_t len;
		if (!qup[i])
			continue;
		while (drv_get_used(&q[i], &len) != NULL) {
			FUZZ_CHECK(scribbled || len <= 1056);
			reaped[i]++;
		}
	}
}

static uint64_t entry_addr(struct input *in)
{
	uint8_t k = take(in);
	switch (k % 16) {
	case 0: return sim_straddle_gpa(&m, 1 + take16(in) % 4096u);
	case 1: return SIM_HOLE_GPA;
	case 2: return SIM_RO_GPA + take16(in);
	case 3: return take64(in);
	default: return arena + (take(in) % SLOTS) * SLOT + take(in);
	}
}

static uint32_t small_or_raw(struct input *in, uint32_t mod)
{
	uint8_t k = take(in);
	return k & 0x80 ? take32(in) : k % mod;
}

static const uint16_t types[] = {
	0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x106, 0x107, 0x108, 0x109, 0x10a, 0x10b,
	0x10c, 0x10d, 0x200, 0x201, 0x202, 0x203, 0x207, 0x300, 0x301};

static void put32(uint8_t *p, uint32_t v) { sim_put_le32(p, v); }

/* Build and queue one command on queue qi. */
static void queue_cmd(struct input *in, unsigned qi, unsigned *slot)
{
	uint8_t *p = sim_ptr(&m, arena + *slot * SLOT);
	uint64_t base = arena + *slot * SLOT, rs = resp_arena + *slot * RESP_MAX;
	uint8_t sel = take(in);
	uint32_t type = sel < 240 ? types[sel % (sizeof(types) / sizeof(types[0]))] : take32(in);
	uint32_t len, nfields = 20, nr = 0;
	struct drv_buf b[6];
	unsigned n = 0;

	if (!qup[qi])
		return;
	memset(p, 0, SLOT);
	put32(p, type);
	put32(p + 4, take(in) & 3u);       /* FENCE | INFO_RING_IDX */
	memcpy(p + 8, (uint64_t[]){take16(in)}, 8);
	put32(p + 16, take(in) % 4u);      /* ctx_id */
	p[20] = take(in) % 70u;            /* ring_idx */
	/* Body fields: mostly small values (ids, coordinates), sometimes raw. */
	for (unsigned i = 0; i < nfields; i++)
		put32(p + 24 + 4 * i, small_or_raw(in, i < 4 ? 8u : 80u));
	if (type == 0x101 || type == 0x10d) /* a likely format */
		put32(p + (type == 0x101 ? 28 : 56), take(in) & 1 ? 2u : take(in));
	/* Backing entries for ATTACH_BACKING (at 32) and CREATE_BLOB (at 56). */
	if (type == 0x106 || type == 0x10c) {
		unsigned at = type == 0x106 ? 32 : 56;
		nr = take(in) % 6u;
		put32(p + (type == 0x106 ? 28 : 36), take(in) % 16 ? nr : take32(in));
		if (type == 0x10c) {
			put32(p + 28, take(in) % 8 ? 1u : take(in)); /* blob_mem */
			memcpy(p + 48, (uint64_t[]){take(in) % 8 ? take16(in) * 16u : take64(in)}, 8);
		}
		for (unsigned i = 0; i < nr && at + 16 * (i + 1) <= 256; i++) {
			uint64_t a = entry_addr(in);
			uint32_t l = take(in) % 8 ? 1u + take16(in) % 8192u : take32(in);
			sim_put_le64(p + at + 16 * i, a);
			sim_put_le32(p + at + 16 * i + 8, l);
		}
	}
	len = take(in) % 8 ? 96u + 16u * nr : take(in); /* sometimes truncated */
	if (len > 256)
		len = 256;
	/* Request pieces: one, or split at a random point. */
	if (len > 0) {
		uint32_t cut = take(in) & 1 ? 1 + take(in) % len : len;
		b[n++] = (struct drv_buf){base, cut, false};
		if (cut < len)
			b[n++] = (struct drv_buf){base + cut, len - cut, false};
	}
	/* Response: the right size, too small, none, split, read-only, unmapped. */
	uint8_t rk = take(in);
	uint32_t rlen = rk % 4 == 0 ? take16(in) % RESP_MAX : (rk % 4 == 1 ? 24u : 1056u);
	if (rk & 0x10 && rlen > 0) {
		uint32_t cut = 1 + take(in) % rlen;
		b[n++] = (struct drv_buf){rs, cut, true};
		if (cut < rlen)
			b[n++] = (struct drv_buf){rs + cut, rlen - cut, true};
	} else if (rk & 0x20 && rlen > 0) {
		b[n++] = (struct drv_buf){rk & 0x40 ? SIM_RO_GPA : SIM_HOLE_GPA, rlen, true};
	} else if (rlen > 0) {
		b[n++] = (struct drv_buf){rs, rlen, true};
	}
	*slot = (*slot + 1) % SLOTS;
	if (n > 0 && drv_add(&q[qi], b, n, take(in) & 1, &tok[qi][queued[qi] % 256]) == 0)
		queued[qi]++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	uint8_t flags = take(&in);
	bool scribbled = false, up;
	unsigned slot = 0;
	struct drv_transport tr;
	uint64_t want = ~(uint64_t)0;

	if (!(flags & 1))
		want &= ~VDEV_BIT(VDEV_F_RING_PACKED);
	if (flags & 2)
		want &= ~VDEV_BIT(VDEV_GPU_F_EDID);
	if (flags & 4)
		want &= ~VDEV_BIT(VDEV_GPU_F_RESOURCE_BLOB);
	if (flags & 8)
		want &= ~VDEV_BIT(VDEV_F_EVENT_IDX);
	if (flags & 16)
		want &= ~VDEV_BIT(VDEV_GPU_F_CONTEXT_INIT);
	live = 0;
	live_bytes = 0;
	fail_alloc = 0;
	fuzz_mem_reset(&m, REGION, false);
	struct vdev_gpu_config c = {
		.num_scanouts = 1 + (flags >> 5) % 4u,
		.queue_size = 32,
		.max_host_bytes = BUDGET,
		.max_backing_entries = 8,
		.mem = &m.mem,
		.queues = queues,
		.queue_held = queue_held,
		.iovs = iovs,
		.iov_per_chain = IOVS,
		.resources = res,
		.num_resources = NRES,
		.contexts = ctxs,
		.num_contexts = NCTX,
		.host_mem = &fz_hm,
		.sink = &fz_sink,
	};
	c.displays[0] = (struct vdev_gpu_display){.enabled = true, .width = 640, .height = 480};
	FUZZ_CHECK(vdev_gpu_init(&gpu, &c) == 0);
	FUZZ_CHECK(drv_mmio_attach(&dm, &mmio, vdev_gpu_dev(&gpu), &tr) == 0);
	tr.reset_polls = FUZZ_RESET_POLLS;
	memset(q, 0, sizeof(q));
	uint16_t qsize = (uint16_t)(1u << (1 + take(&in) % 5));
	up = bring_up(&tr, want, qsize);

	while (in.n > 0 && up) {
		uint8_t op = take(&in);
		switch (op % 9) {
		case 0:
		case 1:
		case 2: /* a controlq command */
			queue_cmd(&in, 0, &slot);
			break;
		case 3: /* a cursorq command */
			queue_cmd(&in, 1, &slot);
			break;
		case 4: { /* kick */
			unsigned qi = take(&in) & 1;
			bool force = take(&in) & 1; /* always consumed: keeps seeds aligned */
			if (qup[qi] && (drv_kick_prepare(&q[qi]) || force))
				tr.ops->notify(tr.t, (uint16_t)qi, false, 0);
			break;
		}
		case 5:
			reap_all(scribbled);
			break;
		case 6: /* the host: displays, events, allocator failures */
			switch (take(&in) % 3) {
			case 0: {
				struct vdev_gpu_display d = {.enabled = take(&in) & 1,
							     .width = take16(&in),
							     .height = take16(&in),
							     .refresh_millihz = take32(&in),
							     .width_mm = take16(&in),
							     .height_mm = take16(&in)};
				int rc = vdev_gpu_set_display(&gpu, take(&in) % 5u, &d);
				FUZZ_CHECK(rc == 0 || rc == VDEV_EINVAL);
				uint8_t e[VDEV_GPU_EDID_SIZE];
				unsigned sum = 0;
				vdev_gpu_edid(&d, take(&in), e);
				for (unsigned i = 0; i < sizeof(e); i++)
					sum += e[i];
				FUZZ_CHECK(sum % 256 == 0);
				break;
			}
			case 1: {
				uint32_t v = take32(&in);
				tr.ops->config_write(tr.t, take(&in) % 24u, &v, 1 + take(&in) % 4u);
				break;
			}
			default:
				fail_alloc = take(&in) % 4;
				break;
			}
			break;
		case 7: /* a hostile guest scribbles on a ring */
			if (take(&in) % 4 == 0) {
				unsigned qi = take(&in) & 1;
				if (qup[qi]) {
					unsigned at = take(&in) % (16u * q[qi].size);
					((uint8_t *)q[qi].desc)[at] = take(&in);
					scribbled = true;
				}
			}
			break;
		default: /* reset and bring the device up again */
			if (take(&in) % 8 != 0)
				break;
			tr.ops->set_status(tr.t, 0);
			FUZZ_CHECK(tr.ops->get_status(tr.t) == 0);
			FUZZ_CHECK(live == 0 && live_bytes == 0);
			up = bring_up(&tr, want, qsize);
			scribbled = false;
			break;
		}
		struct vdev_gpu_stats st;
		vdev_gpu_get_stats(&gpu, &st);
		FUZZ_CHECK(st.host_bytes == live_bytes && st.host_bytes <= BUDGET);
	}
	if (up && !scribbled) {
		for (unsigned i = 0; i < 2; i++)
			if (qup[i] && drv_kick_prepare(&q[i]))
				tr.ops->notify(tr.t, (uint16_t)i, false, 0);
		for (unsigned i = 0; i < 2; i++)
			if (qup[i])
				(void)vdev_gpu_process(&gpu, (uint16_t)i);
		reap_all(scribbled);
		for (unsigned i = 0; i < 2; i++) {
			if (!qup[i])
				continue;
			FUZZ_CHECK(q[i].errors == 0);
			FUZZ_CHECK(reaped[i] == queued[i]);
		}
	}
	vdev_gpu_fini(&gpu);
	FUZZ_CHECK(live == 0 && live_bytes == 0);
	for (unsigned i = 0; i < 2; i++)
		drv_vq_destroy(&q[i]);
	return 0;
}
