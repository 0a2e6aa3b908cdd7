/* SPDX-License-Identifier: MIT */
/*
 * virtio-gpu 2D device model, driven through the virtio-mmio transport by
 * the driver simulator playing a guest's virtio-gpu driver, with a
 * recording display sink and a counting host allocator. Every command, the
 * budget, EDID decoding, fences, blobs read through scattered guest pages,
 * and the malformed cases.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "drv_mmio.h"
#include "drvsim.h"
#include "sim_le.h"
#include "vdev/gpu.h"
#include "vdev/mmio.h"

#define F(b) VDEV_BIT(VDEV_F_##b)
#define G(b) VDEV_BIT(VDEV_GPU_F_##b)

#define QSIZE 64
#define IOVS 64
#define NRES 8
#define NCTX 4
#define BUDGET (4u << 20)
#define REGION (8u << 20)

enum {
	CMD_GET_DISPLAY_INFO = 0x0100,
	CMD_RESOURCE_CREATE_2D,
	CMD_RESOURCE_UNREF,
	CMD_SET_SCANOUT,
	CMD_RESOURCE_FLUSH,
	CMD_TRANSFER_TO_HOST_2D,
	CMD_RESOURCE_ATTACH_BACKING,
	CMD_RESOURCE_DETACH_BACKING,
	CMD_GET_CAPSET_INFO,
	CMD_GET_CAPSET,
	CMD_GET_EDID,
	CMD_RESOURCE_ASSIGN_UUID,
	CMD_RESOURCE_CREATE_BLOB,
	CMD_SET_SCANOUT_BLOB,
	CMD_CTX_CREATE = 0x0200,
	CMD_CTX_DESTROY,
	CMD_CTX_ATTACH_RESOURCE,
	CMD_CTX_DETACH_RESOURCE,
	CMD_RESOURCE_CREATE_3D,
	CMD_TRANSFER_TO_HOST_3D,
	CMD_TRANSFER_FROM_HOST_3D,
	CMD_SUBMIT_3D,
	CMD_UPDATE_CURSOR = 0x0300,
	CMD_MOVE_CURSOR,
	OK_NODATA = 0x1100,
	OK_DISPLAY_INFO,
	OK_CAPSET_INFO,
	OK_CAPSET,
	OK_EDID,
	OK_RESOURCE_UUID,
	ERR_UNSPEC = 0x1200,
	ERR_OUT_OF_MEMORY,
	ERR_INVALID_SCANOUT_ID,
	ERR_INVALID_RESOURCE_ID,
	ERR_INVALID_CONTEXT_ID,
	ERR_INVALID_PARAMETER,
};
#define FENCE 1u
#define RING_IDX 2u
#define XRGB VDEV_GPU_FORMAT_B8G8R8X8_UNORM
/* What the guest asks for: everything, split rings unless a test says so. */
#define ALL (~F(RING_PACKED))

/* ---- the sink: records everything ---- */
struct sink {
	int scanouts, updates, cursors, moves;
	struct vdev_gpu_scanout last[VDEV_GPU_MAX_SCANOUTS];
	bool enabled[VDEV_GPU_MAX_SCANOUTS];
	uint32_t last_sid;
	struct vdev_gpu_rect damage;
	uint32_t px[64 * 64]; /* pixels of the last damage rectangle (via image_read) */
	struct vdev_gpu_cursor cursor;
	uint32_t cursor_px0;
	bool had_image;
};

static void s_scanout(void *o, uint32_t sid, const struct vdev_gpu_scanout *s)
{
	struct sink *k = o;
	cr_assert_lt(sid, VDEV_GPU_MAX_SCANOUTS);
	k->scanouts++;
	k->last[sid] = *s;
	k->last[sid].image = NULL;
	k->enabled[sid] = s->enabled;
	if (s->enabled) {
		cr_assert_not_null(s->image);
		cr_assert_eq(s->width, s->src.width);
	} else {
		cr_assert_null(s->image);
	}
}

static void s_update(void *o, uint32_t sid, const struct vdev_gpu_scanout *s,
		     const struct vdev_gpu_rect *r)
{
	struct sink *k = o;
	k->updates++;
	k->last_sid = sid;
	k->damage = *r;
	cr_assert(s->enabled);
	cr_assert_leq((uint64_t)r->x + r->width, s->width);
	cr_assert_leq((uint64_t)r->y + r->height, s->height);
	cr_assert_gt(r->width, 0);
	cr_assert_gt(r->height, 0);
	for (uint32_t y = 0; y < r->height && y < 64; y++) {
		uint32_t n = r->width < 64 ? r->width : 64;
		cr_assert_eq(vdev_gpu_image_read(s->image, s->src.x + r->x, s->src.y + r->y + y, n,
						 &k->px[y * 64]),
			     n);
	}
}

static void s_cursor(void *o, const struct vdev_gpu_cursor *c)
{
	struct sink *k = o;
	k->cursors++;
	k->cursor = *c;
	k->had_image = c->image != NULL;
	k->cursor.image = NULL;
	if (c->image != NULL) {
		cr_assert_eq(c->image->width, 64);
		cr_assert_eq(vdev_gpu_image_read(c->image, 0, 0, 1, &k->cursor_px0), 1);
	}
}

static void s_move(void *o, const struct vdev_gpu_cursor *c)
{
	struct sink *k = o;
	k->moves++;
	k->cursor = *c;
	cr_assert_null(c->image);
}

static const struct vdev_gpu_sink_ops sink_ops = {
	.size = sizeof(struct vdev_gpu_sink_ops),
	.scanout = s_scanout,
	.update = s_update,
	.cursor = s_cursor,
	.cursor_move = s_move,
};

/* ---- host memory: malloc with a live count and a failure switch ---- */
struct hostmem {
	long live;
	size_t bytes;
	bool fail;
};
static void *h_alloc(void *o, size_t n)
{
	struct hostmem *h = o;
	if (h->fail)
		return NULL;
	void *p = malloc(n);
	memset(p, 0xa5, n); /* not zero: the device must clear what it shows */
	h->live++;
	h->bytes += n;
	return p;
}
static void h_free(void *o, void *p, size_t n)
{
	struct hostmem *h = o;
	cr_assert_not_null(p);
	h->live--;
	h->bytes -= n;
	free(p);
}
static const struct vdev_gpu_host_mem_ops hm_ops = {
	.size = sizeof(struct vdev_gpu_host_mem_ops), .alloc = h_alloc, .free = h_free};

/* ---- a renderer stub, to see the seam is called ---- */
static int rend_creates, rend_destroys;
static int r_create(void *o, uint32_t id, uint32_t init, const char *name, size_t n)
{
	(void)o, (void)id, (void)init, (void)name;
	cr_assert_leq(n, 64);
	rend_creates++;
	return 0;
}
static void r_destroy(void *o, uint32_t id)
{
	(void)o, (void)id;
	rend_destroys++;
}
static const struct vdev_gpu_renderer_ops rend_ops = {
	.size = sizeof(struct vdev_gpu_renderer_ops), .ctx_create = r_create, .ctx_destroy = r_destroy};

static struct {
	struct sim_mem m;
	struct sink s;
	struct hostmem h;
	struct vdev_gpu gpu;
	struct vdev_vq queues[2];
	uint64_t queue_held[2 * VDEV_VQ_HELD_WORDS(QSIZE)];
	struct vdev_iov iovs[2 * IOVS];
	struct vdev_gpu_resource res[NRES];
	struct vdev_gpu_context ctx[NCTX];
	struct vdev_mmio mmio;
	struct drv_mmio dm;
	struct drv_transport tr;
	struct drv_vq q[2];
	uint64_t neg;
	struct vdev_gpu_config cfg;
} T;
static int tok[QSIZE];

static void bring_up(uint64_t want)
{
	cr_assert_eq(drv_virtio_negotiate(&T.tr, want, &T.neg), 0);
	for (unsigned i = 0; i < 2; i++)
		cr_assert_eq(drv_virtio_setup_queue(&T.tr, &T.q[i], &T.m, (uint16_t)i, QSIZE, T.neg),
			     0);
	cr_assert_eq(drv_virtio_driver_ok(&T.tr), 0x0f);
}

static void default_cfg(void)
{
	memset(&T.cfg, 0, sizeof(T.cfg));
	T.cfg.num_scanouts = 2;
	T.cfg.displays[0] = (struct vdev_gpu_display){.enabled = true, .width = 1280, .height = 800,
						      .refresh_millihz = 60000, .width_mm = 286,
						      .height_mm = 179};
	T.cfg.displays[1] = (struct vdev_gpu_display){.enabled = false, .x = 1280, .width = 800,
						      .height = 600};
	T.cfg.queue_size = QSIZE;
	T.cfg.max_host_bytes = BUDGET;
	T.cfg.uuid_base[3] = 0x42;
	T.cfg.mem = &T.m.mem;
	T.cfg.queues = T.queues;
	T.cfg.queue_held = T.queue_held;
	T.cfg.iovs = T.iovs;
	T.cfg.iov_per_chain = IOVS;
	T.cfg.resources = T.res;
	T.cfg.num_resources = NRES;
	T.cfg.contexts = T.ctx;
	T.cfg.num_contexts = NCTX;
	T.cfg.host_mem = &hm_ops;
	T.cfg.host_mem_opaque = &T.h;
	T.cfg.sink = &sink_ops;
	T.cfg.sink_opaque = &T.s;
}

static void start(uint64_t want)
{
	memset(&T.s, 0, sizeof(T.s));
	memset(&T.h, 0, sizeof(T.h));
	cr_assert_eq(vdev_gpu_init(&T.gpu, &T.cfg), 0);
	cr_assert_eq(drv_mmio_attach(&T.dm, &T.mmio, vdev_gpu_dev(&T.gpu), &T.tr), 0);
	bring_up(want);
}

static void setup(void)
{
	sim_mem_init(&T.m, REGION, false);
	default_cfg();
	start(ALL);
}

static void teardown(void)
{
	vdev_gpu_fini(&T.gpu);
	cr_expect_eq(T.h.live, 0, "host allocations leaked: %ld", T.h.live);
	sim_mem_destroy(&T.m);
}

TestSuite(gpu, .init = setup, .fini = teardown);

static void restart(uint64_t want)
{
	vdev_gpu_fini(&T.gpu);
	sim_mem_destroy(&T.m);
	sim_mem_init(&T.m, REGION, false);
	start(want);
}

/* ---- building requests ---- */
struct msg {
	uint8_t d[2048];
	uint32_t n;
};
static void p32(struct msg *m, uint32_t v)
{
	sim_put_le32(m->d + m->n, v);
	m->n += 4;
}
static void p64(struct msg *m, uint64_t v)
{
	sim_put_le64(m->d + m->n, v);
	m->n += 8;
}
static struct msg hdr_full(uint32_t type, uint32_t flags, uint64_t fence, uint32_t ctx, uint8_t ring)
{
	struct msg m = {.n = 0};
	p32(&m, type);
	p32(&m, flags);
	p64(&m, fence);
	p32(&m, ctx);
	m.d[m.n++] = ring;
	m.n += 3;
	return m;
}
static struct msg hdr(uint32_t type) { return hdr_full(type, 0, 0, 0, 0); }

struct resp {
	uint32_t used;
	uint32_t type, flags, ctx;
	uint64_t fence;
	uint8_t ring;
	uint8_t d[1100];
};
static uint32_t g32(const struct resp *r, unsigned off)
{
	uint32_t v;
	v = sim_get_le32(r->d + off);
	return v;
}

static void kick(unsigned q)
{
	if (drv_kick_prepare(&T.q[q]))
		T.tr.ops->notify(T.tr.t, (uint16_t)q, false, 0);
}

/* Queue a request of `m` with a response buffer of `rlen` bytes in region
 * `rreg` (0 RAM, 2 read-only; rlen 0: none). Returns the response gpa. */
static uint64_t add(unsigned q, const struct msg *m, uint32_t rlen, unsigned rreg, int *t)
{
	uint64_t rq = sim_alloc(&T.m, m->n ? m->n : 1, 8);
	uint64_t rs = rlen ? sim_alloc_in(&T.m, rreg, rlen, 8) : 0;
	struct drv_buf b[2];
	unsigned n = 0;
	memcpy(sim_ptr(&T.m, rq), m->d, m->n);
	if (m->n)
		b[n++] = (struct drv_buf){rq, m->n, false};
	if (rlen) {
		if (rreg != 2)
			memset(sim_ptr(&T.m, rs), 0xcc, rlen);
		b[n++] = (struct drv_buf){rs, rlen, true};
	}
	cr_assert_eq(drv_add(&T.q[q], b, n, false, t), 0);
	return rs;
}

static void reap(unsigned q, uint64_t rs, int *t, struct resp *r)
{
	uint32_t l;
	int *got = drv_get_used(&T.q[q], &l);
	cr_assert_eq(T.q[q].errors, 0, "%s", T.q[q].last_error);
	cr_assert_eq(got, t, "responses come back in order");
	memset(r, 0, sizeof(*r));
	r->used = l;
	if (l >= 24) {
		memcpy(r->d, sim_ptr(&T.m, rs), l < sizeof(r->d) ? l : sizeof(r->d));
		r->type = sim_get_le32(r->d);
		r->flags = sim_get_le32(r->d + 4);
		r->fence = sim_get_le64(r->d + 8);
		r->ctx = sim_get_le32(r->d + 16);
		r->ring = r->d[20];
		cr_assert_eq(r->d[21] | r->d[22] | r->d[23], 0, "padding initialised");
	}
}

static struct resp sendq(unsigned q, const struct msg *m, uint32_t rlen)
{
	struct resp r;
	uint64_t rs = add(q, m, rlen, 0, &tok[0]);
	kick(q);
	reap(q, rs, &tok[0], &r);
	return r;
}

static uint32_t send(const struct msg *m)
{
	struct resp r = sendq(0, m, 24);
	cr_assert_eq(r.used, 24, "used %u", r.used);
	return r.type;
}

/* ---- command helpers ---- */
static uint32_t create_2d(uint32_t id, uint32_t fmt, uint32_t w, uint32_t h)
{
	struct msg m = hdr(CMD_RESOURCE_CREATE_2D);
	p32(&m, id);
	p32(&m, fmt);
	p32(&m, w);
	p32(&m, h);
	return send(&m);
}
static uint32_t unref(uint32_t id)
{
	struct msg m = hdr(CMD_RESOURCE_UNREF);
	p32(&m, id);
	p32(&m, 0);
	return send(&m);
}
struct ent {
	uint64_t addr;
	uint32_t len;
};
static struct msg attach_msg(uint32_t id, const struct ent *e, uint32_t n, uint32_t nr)
{
	struct msg m = hdr(CMD_RESOURCE_ATTACH_BACKING);
	p32(&m, id);
	p32(&m, nr);
	for (uint32_t i = 0; i < n; i++) {
		p64(&m, e[i].addr);
		p32(&m, e[i].len);
		p32(&m, 0);
	}
	return m;
}
static uint32_t attach(uint32_t id, const struct ent *e, uint32_t n)
{
	struct msg m = attach_msg(id, e, n, n);
	return send(&m);
}
static uint32_t detach(uint32_t id)
{
	struct msg m = hdr(CMD_RESOURCE_DETACH_BACKING);
	p32(&m, id);
	p32(&m, 0);
	return send(&m);
}
static void rect(struct msg *m, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	p32(m, x);
	p32(m, y);
	p32(m, w);
	p32(m, h);
}
static uint32_t set_scanout(uint32_t sid, uint32_t id, uint32_t x, uint32_t y, uint32_t w,
			    uint32_t h)
{
	struct msg m = hdr(CMD_SET_SCANOUT);
	rect(&m, x, y, w, h);
	p32(&m, sid);
	p32(&m, id);
	return send(&m);
}
static uint32_t transfer(uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h, uint64_t off)
{
	struct msg m = hdr(CMD_TRANSFER_TO_HOST_2D);
	rect(&m, x, y, w, h);
	p64(&m, off);
	p32(&m, id);
	p32(&m, 0);
	return send(&m);
}
static uint32_t flush(uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	struct msg m = hdr(CMD_RESOURCE_FLUSH);
	rect(&m, x, y, w, h);
	p32(&m, id);
	p32(&m, 0);
	return send(&m);
}

static struct vdev_gpu_stats stats(void)
{
	struct vdev_gpu_stats s;
	vdev_gpu_get_stats(&T.gpu, &s);
	return s;
}

/* A guest framebuffer of w x h XRGB pixels with pixel(x, y) = y << 16 | x,
 * spread over `pieces` backing entries; the first entry straddles the
 * region 0/1 boundary when `straddle`. */
static uint32_t pix(uint32_t x, uint32_t y) { return y << 16 | x; }
static unsigned make_fb(uint32_t w, uint32_t h, unsigned pieces, bool straddle, struct ent *e)
{
	size_t bytes = (size_t)w * h * 4, per = (bytes + pieces - 1) / pieces;
	uint8_t *img = malloc(bytes);
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++)
			memcpy(img + ((size_t)y * w + x) * 4, &(uint32_t){pix(x, y)}, 4);
	for (unsigned i = 0; i < pieces; i++) {
		size_t len = i + 1 < pieces ? per : bytes - per * (pieces - 1);
		uint64_t g = (i == 0 && straddle) ? sim_straddle_gpa(&T.m, len / 2)
						  : sim_alloc(&T.m, len + 64, 8) + 24; /* scattered */
		for (size_t k = 0; k < len; k++)
			*(uint8_t *)sim_ptr(&T.m, g + k) = img[per * i + k];
		e[i] = (struct ent){g, (uint32_t)len};
	}
	free(img);
	return pieces;
}

/* ---- configuration and features ---- */

Test(gpu, offers_2d_features_and_config)
{
	uint64_t f = vdev_dev_offered_features(vdev_gpu_dev(&T.gpu));
	uint32_t cfg[5];
	cr_expect(f & G(EDID));
	cr_expect(f & G(RESOURCE_UUID));
	cr_expect(f & G(RESOURCE_BLOB));
	cr_expect(f & G(CONTEXT_INIT));
	cr_expect_not(f & G(VIRGL), "no 3D yet");
	cr_expect_not(f & G(BLOB_ALIGNMENT));
	cr_expect_eq(T.tr.ops->device_id(T.tr.t), 16);
	cr_assert_eq(drv_virtio_config_read(&T.tr, 0, cfg, sizeof(cfg)), 0);
	for (unsigned ci = 0; ci < sizeof(cfg) / 4; ci++)
		cfg[ci] = sim_le32(cfg[ci]); /* config space is little-endian */
	cr_expect_eq(cfg[0], 0, "events_read");
	cr_expect_eq(cfg[1], 0, "events_clear");
	cr_expect_eq(cfg[2], 2, "num_scanouts");
	cr_expect_eq(cfg[3], 0, "num_capsets");
}

Test(gpu, init_rejects_bad_configs)
{
	struct vdev_gpu g;
	struct vdev_gpu_config c = T.cfg;
	c.num_scanouts = 0;
	cr_expect_eq(vdev_gpu_init(&g, &c), VDEV_EINVAL);
	c.num_scanouts = 17;
	cr_expect_eq(vdev_gpu_init(&g, &c), VDEV_EINVAL);
	c = T.cfg;
	c.features = G(VIRGL);
	cr_expect_eq(vdev_gpu_init(&g, &c), VDEV_EINVAL);
	c = T.cfg;
	c.host_mem = NULL;
	cr_expect_eq(vdev_gpu_init(&g, &c), VDEV_EINVAL);
	c = T.cfg;
	c.num_resources = 0;
	cr_expect_eq(vdev_gpu_init(&g, &c), VDEV_EINVAL);
	c = T.cfg;
	c.displays[0].width = 0;
	cr_expect_eq(vdev_gpu_init(&g, &c), VDEV_EINVAL, "enabled display without a size");
	c = T.cfg;
	c.max_host_bytes = 0;
	cr_expect_eq(vdev_gpu_init(&g, &c), VDEV_EINVAL);
}

Test(gpu, display_info_reports_enabled_scanouts)
{
	struct msg m = hdr(CMD_GET_DISPLAY_INFO);
	struct resp r = sendq(0, &m, 408);
	cr_assert_eq(r.used, 408);
	cr_assert_eq(r.type, OK_DISPLAY_INFO);
	cr_expect_eq(g32(&r, 24 + 8), 1280);
	cr_expect_eq(g32(&r, 24 + 12), 800);
	cr_expect_eq(g32(&r, 24 + 16), 1, "enabled");
	for (unsigned i = 1; i < 16; i++)
		for (unsigned k = 0; k < 24; k += 4)
			cr_expect_eq(g32(&r, 24 + i * 24 + k), 0, "scanout %u zero", i);
}

Test(gpu, display_info_with_small_response_is_not_answered_in_full)
{
	struct msg m = hdr(CMD_GET_DISPLAY_INFO);
	struct resp r = sendq(0, &m, 100);
	cr_assert_eq(r.used, 24);
	cr_expect_eq(r.type, ERR_UNSPEC);
}

/* ---- resources ---- */

Test(gpu, create_2d_accepts_every_format)
{
	static const uint32_t fmts[] = {1, 2, 3, 4, 67, 68, 121, 134};
	for (unsigned i = 0; i < 8; i++) {
		cr_expect_eq(create_2d(10 + i, fmts[i], 16, 16), OK_NODATA, "format %u", fmts[i]);
		cr_expect(vdev_gpu_format_valid(fmts[i]));
	}
	cr_expect_eq(stats().resources, 8);
	cr_expect_eq(stats().host_bytes, 8 * 16 * 16 * 4);
	for (unsigned i = 0; i < 8; i++)
		cr_expect_eq(unref(10 + i), OK_NODATA);
	cr_expect_eq(stats().host_bytes, 0);
	cr_expect_eq(T.h.live, 0);
}

Test(gpu, create_2d_rejects_bad_arguments)
{
	cr_expect_eq(create_2d(1, 0, 16, 16), ERR_INVALID_PARAMETER, "format 0");
	cr_expect_eq(create_2d(1, 5, 16, 16), ERR_INVALID_PARAMETER, "format 5");
	cr_expect_eq(create_2d(1, XRGB, 0, 16), ERR_INVALID_PARAMETER, "width 0");
	cr_expect_eq(create_2d(1, XRGB, 16, 0), ERR_INVALID_PARAMETER, "height 0");
	cr_expect_eq(create_2d(0, XRGB, 16, 16), ERR_INVALID_RESOURCE_ID, "id 0");
	cr_expect_eq(create_2d(1, XRGB, 0x40000001u, 1), ERR_OUT_OF_MEMORY,
		     "stride wraps 32 bits");
	cr_expect_eq(create_2d(1, XRGB, 0x40000001u, 0x40000001u), ERR_OUT_OF_MEMORY);
	cr_expect_eq(create_2d(1, XRGB, 0xffffffffu, 0xffffffffu), ERR_OUT_OF_MEMORY);
	cr_expect_eq(create_2d(1, XRGB, 1024, 1025), ERR_OUT_OF_MEMORY, "over the 4 MiB budget");
	cr_expect_eq(stats().resources, 0);
	cr_expect_eq(T.h.live, 0);
	cr_expect_eq(create_2d(1, XRGB, 1024, 1024), OK_NODATA, "exactly the budget");
	cr_expect_eq(create_2d(1, XRGB, 1, 1), ERR_INVALID_RESOURCE_ID, "duplicate id");
	cr_expect_eq(create_2d(2, XRGB, 1, 1), ERR_OUT_OF_MEMORY, "budget used up");
	cr_expect_eq(unref(1), OK_NODATA);
}

Test(gpu, resource_table_and_allocator_failures_are_out_of_memory)
{
	for (unsigned i = 0; i < NRES; i++)
		cr_assert_eq(create_2d(100 + i, XRGB, 4, 4), OK_NODATA);
	cr_expect_eq(create_2d(200, XRGB, 4, 4), ERR_OUT_OF_MEMORY, "table full");
	cr_expect_eq(unref(100), OK_NODATA);
	T.h.fail = true;
	cr_expect_eq(create_2d(200, XRGB, 4, 4), ERR_OUT_OF_MEMORY, "allocator said no");
	T.h.fail = false;
	cr_expect_eq(create_2d(200, XRGB, 4, 4), OK_NODATA);
	cr_expect_geq(stats().out_of_memory, 2);
}

Test(gpu, double_unref_is_invalid_resource)
{
	cr_assert_eq(create_2d(5, XRGB, 8, 8), OK_NODATA);
	cr_expect_eq(unref(5), OK_NODATA);
	cr_expect_eq(unref(5), ERR_INVALID_RESOURCE_ID);
	cr_expect_eq(unref(0), ERR_INVALID_RESOURCE_ID);
	cr_expect_eq(unref(77), ERR_INVALID_RESOURCE_ID);
}

/* ---- backing, transfer, scanout, flush ---- */

Test(gpu, transfer_and_flush_show_the_guest_pixels)
{
	struct ent e[4];
	unsigned n = make_fb(64, 48, 4, true, e);
	cr_assert_eq(create_2d(1, XRGB, 64, 48), OK_NODATA);
	cr_assert_eq(attach(1, e, n), OK_NODATA);
	cr_assert_eq(set_scanout(0, 1, 0, 0, 64, 48), OK_NODATA);
	cr_expect(T.s.enabled[0]);
	cr_expect_eq(T.s.last[0].width, 64);
	cr_expect_eq(T.s.last[0].format, XRGB);
	cr_expect_eq(T.s.last[0].resource_id, 1);
	cr_expect_not(T.s.last[0].blob);
	/* Before any transfer the host copy is zero (not the allocator's 0xa5). */
	cr_assert_eq(flush(1, 0, 0, 4, 4), OK_NODATA);
	cr_expect_eq(T.s.px[0], 0);
	cr_assert_eq(transfer(1, 0, 0, 64, 48, 0), OK_NODATA);
	cr_assert_eq(flush(1, 0, 0, 64, 48), OK_NODATA);
	cr_expect_eq(T.s.damage.width, 64);
	for (uint32_t y = 0; y < 48; y++)
		for (uint32_t x = 0; x < 64; x++)
			cr_assert_eq(T.s.px[y * 64 + x], pix(x, y), "pixel %u,%u", x, y);
	/* A sub-rectangle transfer with the guest's offset convention. */
	cr_assert_eq(create_2d(2, XRGB, 64, 48), OK_NODATA);
	cr_assert_eq(attach(2, e, n), OK_NODATA);
	cr_assert_eq(transfer(2, 10, 5, 7, 3, (5u * 64 + 10) * 4), OK_NODATA);
	cr_assert_eq(set_scanout(1, 2, 8, 4, 20, 10), OK_NODATA);
	cr_assert_eq(flush(2, 0, 0, 64, 48), OK_NODATA);
	cr_expect_eq(T.s.last_sid, 1);
	cr_expect_eq(T.s.damage.width, 20, "clipped to the scanout");
	cr_expect_eq(T.s.damage.height, 10);
	/* scanout (2,1) = resource (10,5) */
	cr_expect_eq(T.s.px[1 * 64 + 2], pix(10, 5));
	cr_expect_eq(T.s.px[3 * 64 + 8], pix(16, 7));
	cr_expect_eq(T.s.px[0], 0, "outside the transferred box stays zero");
	cr_expect_eq(T.s.px[4 * 64 + 2], 0);
	/* A flush outside every scanout's rectangle reaches no sink. */
	int before = T.s.updates;
	cr_assert_eq(flush(2, 40, 40, 4, 4), OK_NODATA);
	cr_expect_eq(T.s.updates, before);
	cr_expect_eq(stats().transfers, 2);
}

Test(gpu, transfer_rejects_rectangles_outside_the_resource)
{
	struct ent e[1];
	make_fb(16, 16, 1, false, e);
	cr_assert_eq(create_2d(1, XRGB, 16, 16), OK_NODATA);
	cr_expect_eq(transfer(1, 0, 0, 16, 16, 0), ERR_UNSPEC, "no backing yet");
	cr_assert_eq(attach(1, e, 1), OK_NODATA);
	cr_expect_eq(transfer(1, 0, 0, 17, 16, 0), ERR_INVALID_PARAMETER);
	cr_expect_eq(transfer(1, 0, 0, 16, 17, 0), ERR_INVALID_PARAMETER);
	cr_expect_eq(transfer(1, 1, 0, 16, 16, 0), ERR_INVALID_PARAMETER);
	cr_expect_eq(transfer(1, 0xfffffff0u, 0, 0x20, 1, 0), ERR_INVALID_PARAMETER,
		     "x + width wraps");
	cr_expect_eq(transfer(1, 0, 0xffffffffu, 1, 2, 0), ERR_INVALID_PARAMETER, "y wraps");
	cr_expect_eq(transfer(1, 0, 0, 16, 16, 4), ERR_INVALID_PARAMETER, "offset past backing");
	cr_expect_eq(transfer(1, 0, 0, 1, 1, 16 * 16 * 4), ERR_INVALID_PARAMETER);
	cr_expect_eq(transfer(1, 0, 0, 1, 1, UINT64_MAX - 2), ERR_INVALID_PARAMETER,
		     "offset wraps");
	cr_expect_eq(transfer(1, 0, 15, 16, 1, 15 * 64), OK_NODATA, "last row");
	cr_expect_eq(transfer(1, 0, 0, 0, 0, 0), OK_NODATA, "empty box");
	cr_expect_eq(transfer(9, 0, 0, 1, 1, 0), ERR_INVALID_RESOURCE_ID);
	cr_expect_eq(flush(1, 0, 0, 17, 1), ERR_INVALID_PARAMETER);
	cr_expect_eq(flush(1, 0xffffffffu, 0, 2, 1), ERR_INVALID_PARAMETER);
	cr_expect_eq(flush(9, 0, 0, 1, 1), ERR_INVALID_RESOURCE_ID);
}

Test(gpu, attach_rejects_bad_backing)
{
	struct ent e[2];
	make_fb(16, 16, 2, false, e);
	cr_assert_eq(create_2d(1, XRGB, 16, 16), OK_NODATA);
	cr_expect_eq(attach(1, e, 1), ERR_INVALID_PARAMETER, "backing smaller than the resource");
	struct ent hole = {SIM_HOLE_GPA, 4096};
	struct ent two[2] = {e[0], hole};
	cr_expect_eq(attach(1, two, 2), ERR_INVALID_PARAMETER, "entry in the hole");
	struct ent wrap[2] = {e[0], {UINT64_MAX - 100, 4096}};
	cr_expect_eq(attach(1, wrap, 2), ERR_INVALID_PARAMETER, "entry wraps 2^64");
	struct ent zero[3] = {e[0], {e[1].addr, 0}, e[1]};
	cr_expect_eq(attach(1, zero, 3), ERR_INVALID_PARAMETER, "zero-length entry");
	cr_expect_eq(attach(1, e, 0), ERR_INVALID_PARAMETER, "no entries");
	struct msg m = attach_msg(1, e, 2, 0x10000000u);
	cr_expect_eq(send(&m), ERR_INVALID_PARAMETER, "nr_entries huge");
	m = attach_msg(1, e, 2, 3);
	cr_expect_eq(send(&m), ERR_UNSPEC, "nr_entries beyond the request");
	cr_expect_eq(attach(9, e, 2), ERR_INVALID_RESOURCE_ID);
	cr_expect_eq(T.h.live, 1, "failed attaches keep nothing");
	cr_expect_eq(attach(1, e, 2), OK_NODATA);
	cr_expect_eq(attach(1, e, 2), ERR_UNSPEC, "already attached");
	cr_expect_eq(detach(1), OK_NODATA);
	cr_expect_eq(detach(1), ERR_UNSPEC, "nothing attached");
	cr_expect_eq(detach(9), ERR_INVALID_RESOURCE_ID);
	cr_expect_eq(transfer(1, 0, 0, 1, 1, 0), ERR_UNSPEC, "detached");
	cr_expect_eq(attach(1, e, 2), OK_NODATA, "re-attach");
	cr_expect_eq(unref(1), OK_NODATA, "unref with backing frees it");
	cr_expect_eq(T.h.live, 0);
}

Test(gpu, backing_entry_limit_is_configurable)
{
	T.cfg.max_backing_entries = 2;
	restart(ALL);
	struct ent e[3];
	make_fb(16, 16, 3, false, e);
	cr_assert_eq(create_2d(1, XRGB, 16, 16), OK_NODATA);
	cr_expect_eq(attach(1, e, 3), ERR_INVALID_PARAMETER);
	struct ent s[2];
	make_fb(16, 16, 2, true, s); /* 2 entries, 3 host segments */
	cr_expect_eq(attach(1, s, 2), ERR_INVALID_PARAMETER, "segments count too");
	cr_expect_eq(unref(1), OK_NODATA);
}

Test(gpu, set_scanout_checks_and_disables)
{
	cr_assert_eq(create_2d(1, XRGB, 32, 32), OK_NODATA);
	cr_expect_eq(set_scanout(2, 1, 0, 0, 32, 32), ERR_INVALID_SCANOUT_ID);
	cr_expect_eq(set_scanout(0xffffffffu, 1, 0, 0, 32, 32), ERR_INVALID_SCANOUT_ID);
	cr_expect_eq(set_scanout(0, 2, 0, 0, 32, 32), ERR_INVALID_RESOURCE_ID);
	cr_expect_eq(set_scanout(0, 1, 0, 0, 33, 32), ERR_INVALID_PARAMETER);
	cr_expect_eq(set_scanout(0, 1, 1, 0, 0xffffffffu, 32), ERR_INVALID_PARAMETER, "wraps");
	cr_expect_eq(set_scanout(0, 1, 0, 0, 0, 32), ERR_INVALID_PARAMETER, "empty");
	cr_expect_eq(T.s.scanouts, 0);
	cr_expect_eq(set_scanout(0, 1, 16, 16, 16, 16), OK_NODATA);
	cr_expect(T.s.enabled[0]);
	cr_expect_eq(T.s.last[0].src.x, 16);
	cr_expect_eq(set_scanout(0, 0, 0, 0, 0, 0), OK_NODATA, "resource 0 disables");
	cr_expect_not(T.s.enabled[0]);
	cr_expect_eq(T.s.scanouts, 2);
}

Test(gpu, unref_of_a_scanout_resource_disables_the_scanout)
{
	cr_assert_eq(create_2d(1, XRGB, 32, 32), OK_NODATA);
	cr_assert_eq(set_scanout(0, 1, 0, 0, 32, 32), OK_NODATA);
	cr_assert_eq(set_scanout(1, 1, 0, 0, 16, 16), OK_NODATA);
	cr_assert(T.s.enabled[0] && T.s.enabled[1]);
	cr_expect_eq(unref(1), OK_NODATA);
	cr_expect_not(T.s.enabled[0]);
	cr_expect_not(T.s.enabled[1]);
	struct vdev_gpu_scanout s;
	struct vdev_gpu_image img;
	cr_expect_eq(vdev_gpu_scanout_state(&T.gpu, 0, &s, &img), 0);
	cr_expect_not(s.enabled);
	cr_expect_eq(flush(1, 0, 0, 1, 1), ERR_INVALID_RESOURCE_ID);
}

/* ---- malformed chains ---- */

Test(gpu, short_headers_and_bodies_are_unspec)
{
	struct msg m = hdr(CMD_RESOURCE_CREATE_2D);
	m.n = 10;
	cr_expect_eq(send(&m), ERR_UNSPEC, "truncated header");
	m.n = 0;
	struct resp r = sendq(0, &m, 24);
	cr_expect_eq(r.type, ERR_UNSPEC, "no request at all");
	m = hdr(CMD_RESOURCE_CREATE_2D);
	p32(&m, 1);
	p32(&m, XRGB);
	cr_expect_eq(send(&m), ERR_UNSPEC, "truncated body");
	cr_expect_eq(stats().resources, 0);
	m = hdr(0x1234);
	cr_expect_eq(send(&m), ERR_UNSPEC, "unknown command");
	m = hdr(CMD_SUBMIT_3D);
	rect(&m, 0, 0, 0, 0);
	cr_expect_eq(send(&m), ERR_UNSPEC, "3D without VIRGL");
	m = hdr(CMD_UPDATE_CURSOR);
	m.n = 56;
	cr_expect_eq(send(&m), ERR_UNSPEC, "cursor command on the controlq");
}

Test(gpu, response_too_small_or_missing_does_not_execute)
{
	struct msg m = hdr(CMD_RESOURCE_CREATE_2D);
	p32(&m, 1);
	p32(&m, XRGB);
	p32(&m, 4);
	p32(&m, 4);
	struct resp r = sendq(0, &m, 0);
	cr_expect_eq(r.used, 0, "no response buffer: nothing written");
	r = sendq(0, &m, 20);
	cr_expect_eq(r.used, 0, "no room for a header: nothing written");
	cr_expect_eq(stats().resources, 0, "not executed");
	cr_expect_eq(stats().no_response, 2);
	/* Read-only response buffer: the queue rejects the chain. */
	int t;
	uint64_t rs = add(0, &m, 24, 2, &t);
	kick(0);
	reap(0, rs, &t, &r);
	cr_expect_eq(r.used, 0);
	cr_expect_eq(stats().resources, 0, "not executed");
	cr_expect_eq(send(&m), OK_NODATA, "a proper chain works");
	cr_expect_eq(unref(1), OK_NODATA);
}

Test(gpu, responses_are_fully_initialised)
{
	struct msg m = hdr(CMD_GET_EDID);
	p32(&m, 0);
	p32(&m, 0);
	struct resp r;
	int t;
	uint64_t rs = add(0, &m, 1100, 0, &t);
	kick(0);
	reap(0, rs, &t, &r);
	cr_assert_eq(r.used, 1056);
	for (unsigned i = 24 + 8 + 128; i < 1056; i++)
		cr_assert_eq(r.d[i], 0, "byte %u", i);
	const uint8_t *raw = sim_ptr(&T.m, rs);
	cr_expect_eq(raw[1056], 0xcc, "nothing written past the response");
	cr_expect_eq(raw[1099], 0xcc);
	cr_expect_eq(g32(&r, 28), 0, "padding");
}

/* ---- EDID ---- */

static void decode_dtd(const uint8_t *t, uint32_t *w, uint32_t *h, uint32_t *hz_x100,
		       uint32_t *wmm, uint32_t *hmm)
{
	uint32_t pclk = (uint32_t)(t[0] | t[1] << 8) * 10000u;
	uint32_t ha = t[2] | (t[4] & 0xf0u) << 4, hb = t[3] | (t[4] & 0xfu) << 8;
	uint32_t va = t[5] | (t[7] & 0xf0u) << 4, vb = t[6] | (t[7] & 0xfu) << 8;
	*w = ha;
	*h = va;
	*hz_x100 = (uint32_t)((uint64_t)pclk * 100u / ((uint64_t)(ha + hb) * (va + vb)));
	*wmm = t[12] | (t[14] & 0xf0u) << 4;
	*hmm = t[13] | (t[14] & 0xfu) << 8;
}

Test(gpu, edid_is_valid_and_describes_the_display)
{
	struct msg m = hdr(CMD_GET_EDID);
	p32(&m, 0);
	p32(&m, 0);
	struct resp r = sendq(0, &m, 1056);
	cr_assert_eq(r.type, OK_EDID);
	cr_assert_eq(g32(&r, 24), 128, "size");
	const uint8_t *e = r.d + 32;
	static const uint8_t magic[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
	cr_expect_arr_eq(e, magic, 8);
	unsigned sum = 0;
	for (unsigned i = 0; i < 128; i++)
		sum += e[i];
	cr_expect_eq(sum % 256, 0, "checksum");
	cr_expect_eq(e[18], 1);
	cr_expect_eq(e[19], 4, "EDID 1.4");
	cr_expect(e[20] & 0x80, "digital");
	cr_expect_eq(e[21], 29, "width 28.6 cm");
	cr_expect_eq(e[22], 18, "height 17.9 cm");
	cr_expect(e[24] & 0x02, "preferred timing is native");
	uint32_t w, h, hz, wmm, hmm;
	cr_assert_neq(e[54] | e[55], 0, "a detailed timing first");
	decode_dtd(e + 54, &w, &h, &hz, &wmm, &hmm);
	cr_expect_eq(w, 1280);
	cr_expect_eq(h, 800);
	cr_expect(hz >= 5990 && hz <= 6010, "refresh %u/100 Hz", hz);
	cr_expect_eq(wmm, 286);
	cr_expect_eq(hmm, 179);
	/* The name descriptor. */
	bool named = false;
	for (unsigned d = 54; d < 126; d += 18)
		if (e[d] == 0 && e[d + 1] == 0 && e[d + 3] == 0xfc)
			named = memcmp(e + d + 5, "libvdev-0\n", 10) == 0;
	cr_expect(named);
	cr_expect_eq(e[126], 0, "no extensions");

	m = hdr(CMD_GET_EDID);
	p32(&m, 2);
	p32(&m, 0);
	r = sendq(0, &m, 1056);
	cr_expect_eq(r.used, 24);
	cr_expect_eq(r.type, ERR_INVALID_SCANOUT_ID);
}

Test(gpu, edid_follows_refresh_and_dpi_defaults)
{
	uint8_t e[128];
	uint32_t w, h, hz, wmm, hmm;
	struct vdev_gpu_display d = {.enabled = true, .width = 1920, .height = 1080,
				     .refresh_millihz = 144000};
	vdev_gpu_edid(&d, 7, e);
	decode_dtd(e + 54, &w, &h, &hz, &wmm, &hmm);
	cr_expect_eq(w, 1920);
	cr_expect_eq(h, 1080);
	cr_expect(hz >= 14380 && hz <= 14420, "refresh %u/100", hz);
	cr_expect_eq(wmm, 508, "96 DPI: 1920 px = 508 mm");
	cr_expect_eq(hmm, 286);
	unsigned sum = 0;
	for (unsigned i = 0; i < 128; i++)
		sum += e[i];
	cr_expect_eq(sum % 256, 0);
	/* Too large for a detailed timing: still a valid block, no DTD. */
	d = (struct vdev_gpu_display){.enabled = true, .width = 7680, .height = 4320};
	vdev_gpu_edid(&d, 0, e);
	cr_expect_eq(e[54] | e[55], 0);
	sum = 0;
	for (unsigned i = 0; i < 128; i++)
		sum += e[i];
	cr_expect_eq(sum % 256, 0);
}

Test(gpu, set_display_raises_the_display_event)
{
	uint32_t ev;
	(void)T.tr.ops->take_interrupts(T.tr.t);
	struct vdev_gpu_display d = {.enabled = true, .width = 1024, .height = 768,
				     .width_mm = 300, .height_mm = 225};
	cr_assert_eq(vdev_gpu_set_display(&T.gpu, 1, &d), 0);
	cr_expect(T.tr.ops->take_interrupts(T.tr.t) & DRV_INT_CONFIG);
	T.tr.ops->config_read(T.tr.t, 0, &ev, 4);
	ev = sim_le32(ev);
	cr_expect_eq(ev, VDEV_GPU_EVENT_DISPLAY);
	struct msg m = hdr(CMD_GET_DISPLAY_INFO);
	struct resp r = sendq(0, &m, 408);
	cr_expect_eq(g32(&r, 24 + 24 + 8), 1024);
	cr_expect_eq(g32(&r, 24 + 24 + 16), 1);
	m = hdr(CMD_GET_EDID);
	p32(&m, 1);
	p32(&m, 0);
	r = sendq(0, &m, 1056);
	uint32_t w, h, hz, wmm, hmm;
	decode_dtd(r.d + 32 + 54, &w, &h, &hz, &wmm, &hmm);
	cr_expect_eq(w, 1024);
	cr_expect_eq(wmm, 300);
	/* events_clear is write-1-to-clear. */
	uint32_t clr = sim_le32(VDEV_GPU_EVENT_DISPLAY);
	T.tr.ops->config_write(T.tr.t, 4, &clr, 4);
	T.tr.ops->config_read(T.tr.t, 0, &ev, 4);
	ev = sim_le32(ev);
	cr_expect_eq(ev, 0);
	T.tr.ops->config_read(T.tr.t, 4, &ev, 4);
	ev = sim_le32(ev);
	cr_expect_eq(ev, 0, "events_clear reads 0");
	cr_expect_eq(vdev_gpu_set_display(&T.gpu, 2, &d), VDEV_EINVAL);
	d.width = 0;
	cr_expect_eq(vdev_gpu_set_display(&T.gpu, 1, &d), VDEV_EINVAL);
}

Test(gpu, edid_needs_the_feature)
{
	restart(ALL & ~G(EDID));
	struct msg m = hdr(CMD_GET_EDID);
	p32(&m, 0);
	p32(&m, 0);
	struct resp r = sendq(0, &m, 1056);
	cr_expect_eq(r.type, ERR_UNSPEC);
}

/* ---- UUID ---- */

Test(gpu, assign_uuid_is_stable_and_unique)
{
	cr_assert_eq(create_2d(1, XRGB, 4, 4), OK_NODATA);
	cr_assert_eq(create_2d(2, XRGB, 4, 4), OK_NODATA);
	uint8_t u[3][16];
	uint32_t ids[3] = {1, 2, 1};
	for (unsigned i = 0; i < 3; i++) {
		struct msg m = hdr(CMD_RESOURCE_ASSIGN_UUID);
		p32(&m, ids[i]);
		p32(&m, 0);
		struct resp r = sendq(0, &m, 40);
		cr_assert_eq(r.type, OK_RESOURCE_UUID);
		cr_assert_eq(r.used, 40);
		memcpy(u[i], r.d + 24, 16);
		cr_expect_eq(u[i][6] >> 4, 4, "version 4");
		cr_expect_eq(u[i][8] >> 6, 2, "RFC 4122 variant");
	}
	cr_expect(memcmp(u[0], u[1], 16) != 0, "unique");
	cr_expect_arr_eq(u[0], u[2], 16, "stable");
	struct msg m = hdr(CMD_RESOURCE_ASSIGN_UUID);
	p32(&m, 9);
	p32(&m, 0);
	cr_expect_eq(sendq(0, &m, 40).type, ERR_INVALID_RESOURCE_ID);
}

/* ---- blobs ---- */

static struct msg blob_msg(uint32_t id, uint32_t mem, uint32_t flags, uint64_t size,
			   const struct ent *e, uint32_t n)
{
	struct msg m = hdr(CMD_RESOURCE_CREATE_BLOB);
	p32(&m, id);
	p32(&m, mem);
	p32(&m, flags);
	p32(&m, n);
	p64(&m, 0);
	p64(&m, size);
	for (uint32_t i = 0; i < n; i++) {
		p64(&m, e[i].addr);
		p32(&m, e[i].len);
		p32(&m, 0);
	}
	return m;
}

static uint32_t scanout_blob(uint32_t sid, uint32_t id, uint32_t w, uint32_t h, uint32_t fmt,
			     uint32_t stride, uint32_t offset, uint32_t rw, uint32_t rh)
{
	struct msg m = hdr(CMD_SET_SCANOUT_BLOB);
	rect(&m, 0, 0, rw, rh);
	p32(&m, sid);
	p32(&m, id);
	p32(&m, w);
	p32(&m, h);
	p32(&m, fmt);
	p32(&m, 0);
	p32(&m, stride);
	for (int i = 0; i < 3; i++)
		p32(&m, 0);
	p32(&m, offset);
	for (int i = 0; i < 3; i++)
		p32(&m, 0);
	return send(&m);
}

Test(gpu, blob_scanout_reads_scattered_guest_pages)
{
	/* A 64x48 framebuffer drawn at offset 256 with stride 64*4, in 5
	 * pieces, the first one straddling two host regions. */
	struct ent e[5];
	unsigned n = make_fb(64, 49, 5, true, e); /* 49 rows: room for the offset */
	uint64_t size = 64u * 49 * 4;
	struct msg m = blob_msg(3, 1, 2, size, e, n);
	cr_assert_eq(send(&m), OK_NODATA);
	cr_expect_eq(scanout_blob(0, 3, 64, 48, XRGB, 256, 256, 64, 48), OK_NODATA);
	cr_expect(T.s.enabled[0]);
	cr_expect(T.s.last[0].blob);
	cr_expect_eq(flush(3, 0, 0, 64, 48), OK_NODATA);
	cr_expect_eq(T.s.updates, 1);
	for (uint32_t y = 0; y < 48; y++)
		for (uint32_t x = 0; x < 64; x++)
			cr_assert_eq(T.s.px[y * 64 + x], pix(x, y + 1), "pixel %u,%u", x, y);
	/* Guest writes show up at the next flush without a transfer. */
	*(uint32_t *)sim_ptr(&T.m, e[n - 1].addr + e[n - 1].len - 4) = 0xdeadbeef;
	cr_expect_eq(flush(3, 63, 47, 1, 1), OK_NODATA);
	cr_expect_eq(T.s.px[0], 0xdeadbeef);
	cr_expect_eq(transfer(3, 0, 0, 1, 1, 0), OK_NODATA, "a transfer on a blob does nothing");
	cr_expect_eq(set_scanout(1, 3, 0, 0, 1, 1), ERR_INVALID_RESOURCE_ID);
	/* Detaching the backing takes the scanout down. */
	cr_expect_eq(detach(3), OK_NODATA);
	cr_expect_not(T.s.enabled[0]);
	cr_expect_eq(scanout_blob(0, 3, 64, 48, XRGB, 256, 256, 64, 48), ERR_UNSPEC);
	cr_expect_eq(attach(3, e, n), OK_NODATA, "re-attach a blob");
	cr_expect_eq(scanout_blob(0, 3, 64, 48, XRGB, 256, 256, 64, 48), OK_NODATA);
	cr_expect_eq(unref(3), OK_NODATA);
	cr_expect_not(T.s.enabled[0]);
}

Test(gpu, blob_strides_and_offsets_must_fit)
{
	struct ent e[1];
	make_fb(16, 16, 1, false, e);
	struct msg m = blob_msg(1, 1, 0, 1024, e, 1);
	cr_assert_eq(send(&m), OK_NODATA);
	cr_expect_eq(scanout_blob(0, 1, 16, 16, XRGB, 64, 0, 16, 16), OK_NODATA, "exact fit");
	cr_expect_eq(scanout_blob(0, 1, 16, 16, XRGB, 64, 4, 16, 16), ERR_INVALID_PARAMETER,
		     "offset pushes past the end");
	cr_expect_eq(scanout_blob(0, 1, 16, 16, XRGB, 68, 0, 16, 16), ERR_INVALID_PARAMETER,
		     "stride too big");
	cr_expect_eq(scanout_blob(0, 1, 16, 16, XRGB, 60, 0, 16, 16), ERR_INVALID_PARAMETER,
		     "stride below a row");
	cr_expect_eq(scanout_blob(0, 1, 16, 16, XRGB, 0xffffffffu, 0xffffffffu, 16, 16),
		     ERR_INVALID_PARAMETER, "huge stride and offset");
	cr_expect_eq(scanout_blob(0, 1, 0x40000001u, 1, XRGB, 0, 0, 1, 1), ERR_INVALID_PARAMETER);
	cr_expect_eq(scanout_blob(0, 1, 16, 16, 0, 64, 0, 16, 16), ERR_INVALID_PARAMETER,
		     "format");
	cr_expect_eq(scanout_blob(0, 1, 16, 16, XRGB, 64, 0, 17, 16), ERR_INVALID_PARAMETER,
		     "rect outside");
	cr_expect_eq(scanout_blob(0, 1, 0, 16, XRGB, 64, 0, 0, 16), ERR_INVALID_PARAMETER);
	cr_expect_eq(scanout_blob(5, 1, 16, 16, XRGB, 64, 0, 16, 16), ERR_INVALID_SCANOUT_ID);
	cr_expect_eq(scanout_blob(0, 7, 16, 16, XRGB, 64, 0, 16, 16), ERR_INVALID_RESOURCE_ID);
	cr_assert_eq(create_2d(2, XRGB, 16, 16), OK_NODATA);
	cr_expect_eq(scanout_blob(0, 2, 16, 16, XRGB, 64, 0, 16, 16), ERR_INVALID_RESOURCE_ID,
		     "not a blob");
	cr_expect_eq(scanout_blob(0, 0, 0, 0, 0, 0, 0, 0, 0), OK_NODATA, "disable");
	cr_expect_not(T.s.enabled[0]);
}

Test(gpu, create_blob_rejects_bad_requests)
{
	struct ent e[1];
	make_fb(16, 16, 1, false, e);
	struct msg m = blob_msg(1, 2, 0, 1024, e, 1);
	cr_expect_eq(send(&m), ERR_INVALID_PARAMETER, "host3d blob without 3D");
	m = blob_msg(1, 1, 0x8, 1024, e, 1);
	cr_expect_eq(send(&m), ERR_INVALID_PARAMETER, "unknown flag");
	m = blob_msg(1, 1, 0, 0, e, 1);
	cr_expect_eq(send(&m), ERR_INVALID_PARAMETER, "size 0");
	m = blob_msg(1, 1, 0, 1025, e, 1);
	cr_expect_eq(send(&m), ERR_INVALID_PARAMETER, "backing smaller than the blob");
	m = blob_msg(1, 1, 0, UINT64_MAX, e, 1);
	cr_expect_eq(send(&m), ERR_INVALID_PARAMETER);
	m = blob_msg(0, 1, 0, 1024, e, 1);
	cr_expect_eq(send(&m), ERR_INVALID_RESOURCE_ID);
	m = blob_msg(1, 1, 0, 1024, e, 1);
	m.n -= 8;
	cr_expect_eq(send(&m), ERR_UNSPEC, "entries truncated");
	cr_expect_eq(stats().resources, 0);
	cr_expect_eq(T.h.live, 0);
	m = blob_msg(1, 1, 0, 1024, e, 0);
	cr_expect_eq(send(&m), OK_NODATA, "no entries yet (swap)");
	cr_expect_eq(attach(1, e, 1), OK_NODATA);
	restart(ALL & ~G(RESOURCE_BLOB));
	m = blob_msg(1, 1, 0, 1024, e, 1);
	cr_expect_eq(send(&m), ERR_UNSPEC, "feature not negotiated");
}

/* ---- contexts, capsets, fences ---- */

static uint32_t ctx_create(uint32_t ctx, uint32_t init, uint32_t nlen)
{
	struct msg m = hdr_full(CMD_CTX_CREATE, 0, 0, ctx, 0);
	p32(&m, nlen);
	p32(&m, init);
	memcpy(m.d + m.n, "test-context", 12);
	m.n += 64;
	return send(&m);
}

Test(gpu, contexts_are_tracked)
{
	cr_expect_eq(ctx_create(1, 0, 12), OK_NODATA);
	cr_expect_eq(ctx_create(1, 0, 12), ERR_INVALID_CONTEXT_ID, "exists");
	cr_expect_eq(ctx_create(0, 0, 12), ERR_INVALID_CONTEXT_ID);
	cr_expect_eq(ctx_create(2, 0, 65), ERR_INVALID_PARAMETER, "name too long");
	cr_expect_eq(ctx_create(2, 1, 4), ERR_INVALID_PARAMETER, "no capsets without a renderer");
	cr_expect_eq(ctx_create(2, 0x100, 4), ERR_INVALID_PARAMETER, "reserved context_init bits");
	for (uint32_t i = 2; i <= NCTX; i++)
		cr_expect_eq(ctx_create(i, 0, 0), OK_NODATA);
	cr_expect_eq(ctx_create(99, 0, 0), ERR_OUT_OF_MEMORY, "table full");
	cr_assert_eq(create_2d(5, XRGB, 4, 4), OK_NODATA);
	struct msg m = hdr_full(CMD_CTX_ATTACH_RESOURCE, 0, 0, 1, 0);
	p32(&m, 5);
	p32(&m, 0);
	cr_expect_eq(send(&m), OK_NODATA);
	m = hdr_full(CMD_CTX_DETACH_RESOURCE, 0, 0, 1, 0);
	p32(&m, 6);
	p32(&m, 0);
	cr_expect_eq(send(&m), ERR_INVALID_RESOURCE_ID);
	m = hdr_full(CMD_CTX_DESTROY, 0, 0, 1, 0);
	cr_expect_eq(send(&m), OK_NODATA);
	cr_expect_eq(send(&m), ERR_INVALID_CONTEXT_ID, "destroyed");
	m = hdr_full(CMD_CTX_ATTACH_RESOURCE, 0, 0, 1, 0);
	p32(&m, 5);
	p32(&m, 0);
	cr_expect_eq(send(&m), ERR_INVALID_CONTEXT_ID);
	m = hdr(CMD_GET_CAPSET_INFO);
	p32(&m, 0);
	p32(&m, 0);
	cr_expect_eq(sendq(0, &m, 40).type, ERR_INVALID_PARAMETER, "num_capsets is 0");
	m = hdr(CMD_GET_CAPSET);
	p32(&m, 1);
	p32(&m, 1);
	cr_expect_eq(send(&m), ERR_INVALID_PARAMETER);
}

Test(gpu, renderer_seam_sees_contexts)
{
	T.cfg.renderer = &rend_ops;
	rend_creates = rend_destroys = 0;
	restart(ALL);
	cr_expect_eq(ctx_create(1, 4, 12), OK_NODATA, "a renderer decides capset ids");
	cr_expect_eq(rend_creates, 1);
	struct msg m = hdr_full(CMD_CTX_DESTROY, 0, 0, 1, 0);
	cr_expect_eq(send(&m), OK_NODATA);
	cr_expect_eq(rend_destroys, 1);
	cr_expect_eq(ctx_create(2, 0, 0), OK_NODATA);
	cr_assert_eq(drv_virtio_reset(&T.tr), 0);
	cr_expect_eq(rend_destroys, 2, "reset destroys contexts");
}

Test(gpu, context_init_needs_the_feature)
{
	T.cfg.renderer = &rend_ops;
	restart(ALL & ~G(CONTEXT_INIT));
	cr_expect_eq(ctx_create(1, 4, 0), ERR_INVALID_PARAMETER);
	cr_expect_eq(ctx_create(1, 0, 0), OK_NODATA);
}

Test(gpu, fences_are_answered_in_order_with_their_ring)
{
	int t[8];
	uint64_t rs[8];
	struct resp r;
	for (unsigned i = 0; i < 8; i++) {
		uint32_t flags = FENCE | (i & 1 ? RING_IDX : 0);
		struct msg m = hdr_full(i == 5 ? CMD_RESOURCE_UNREF : CMD_GET_DISPLAY_INFO, flags,
					1000 + i, i % 3, (uint8_t)(i & 1 ? i : 0));
		if (i == 5) {
			p32(&m, 42);
			p32(&m, 0);
		}
		rs[i] = add(0, &m, 408, 0, &t[i]);
	}
	kick(0);
	for (unsigned i = 0; i < 8; i++) {
		reap(0, rs[i], &t[i], &r);
		cr_expect_eq(r.type, i == 5 ? ERR_INVALID_RESOURCE_ID : OK_DISPLAY_INFO);
		cr_expect(r.flags & FENCE, "fence flag on %u", i);
		cr_expect_eq(r.fence, 1000 + i, "fence id even on errors");
		cr_expect_eq(r.ctx, i % 3);
		if (i & 1) {
			cr_expect(r.flags & RING_IDX);
			cr_expect_eq(r.ring, i);
		} else {
			cr_expect_not(r.flags & RING_IDX);
		}
	}
	cr_expect_eq(stats().fences, 8);
	struct msg m = hdr_full(CMD_GET_DISPLAY_INFO, FENCE | RING_IDX, 7, 1, 64);
	r = sendq(0, &m, 408);
	cr_expect_eq(r.type, ERR_INVALID_PARAMETER, "ring_idx above 63");
	cr_expect_eq(r.fence, 7);
	m = hdr_full(CMD_GET_DISPLAY_INFO, 0, 99, 0, 0);
	r = sendq(0, &m, 408);
	cr_expect_eq(r.flags, 0);
	cr_expect_eq(r.fence, 0, "no fence, no fence id");
}

Test(gpu, ring_idx_is_ignored_without_context_init)
{
	restart(ALL & ~G(CONTEXT_INIT));
	struct msg m = hdr_full(CMD_GET_DISPLAY_INFO, FENCE | RING_IDX, 5, 1, 200);
	struct resp r = sendq(0, &m, 408);
	cr_expect_eq(r.type, OK_DISPLAY_INFO);
	cr_expect_eq(r.flags, FENCE);
	cr_expect_eq(r.ring, 0);
}

/* ---- cursor ---- */

static struct msg cursor_msg(uint32_t type, uint32_t sid, uint32_t x, uint32_t y, uint32_t id,
			     uint32_t hx, uint32_t hy)
{
	struct msg m = hdr(type);
	p32(&m, sid);
	p32(&m, x);
	p32(&m, y);
	p32(&m, 0);
	p32(&m, id);
	p32(&m, hx);
	p32(&m, hy);
	p32(&m, 0);
	return m;
}

Test(gpu, cursor_update_and_move)
{
	struct ent e[1];
	make_fb(64, 64, 1, false, e);
	cr_assert_eq(create_2d(9, VDEV_GPU_FORMAT_B8G8R8A8_UNORM, 64, 64), OK_NODATA);
	cr_assert_eq(attach(9, e, 1), OK_NODATA);
	cr_assert_eq(transfer(9, 0, 0, 64, 64, 0), OK_NODATA);
	struct msg m = cursor_msg(CMD_UPDATE_CURSOR, 0, 100, 200, 9, 3, 4);
	struct resp r = sendq(1, &m, 0); /* Linux sends no response buffer here */
	cr_expect_eq(r.used, 0);
	cr_expect_eq(T.s.cursors, 1);
	cr_expect(T.s.had_image);
	cr_expect_eq(T.s.cursor.x, 100);
	cr_expect_eq(T.s.cursor.y, 200);
	cr_expect_eq(T.s.cursor.hot_x, 3);
	cr_expect_eq(T.s.cursor.hot_y, 4);
	cr_expect_eq(T.s.cursor.resource_id, 9);
	cr_expect_eq(T.s.cursor_px0, pix(0, 0));
	m = cursor_msg(CMD_MOVE_CURSOR, 1, 5, 6, 1234, 0, 0);
	r = sendq(1, &m, 24);
	cr_expect_eq(r.type, OK_NODATA);
	cr_expect_eq(T.s.moves, 1);
	cr_expect_eq(T.s.cursor.scanout, 1);
	cr_expect_eq(T.s.cursor.x, 5);
	cr_expect_eq(T.s.cursor.hot_x, 3, "move keeps the hot spot");
	m = cursor_msg(CMD_UPDATE_CURSOR, 0, 0, 0, 0, 0, 0);
	r = sendq(1, &m, 24);
	cr_expect_eq(r.type, OK_NODATA);
	cr_expect_not(T.s.had_image, "resource 0 hides");
	/* Errors. */
	cr_assert_eq(create_2d(10, XRGB, 32, 32), OK_NODATA);
	m = cursor_msg(CMD_UPDATE_CURSOR, 0, 0, 0, 10, 0, 0);
	cr_expect_eq(sendq(1, &m, 24).type, ERR_INVALID_PARAMETER, "not 64x64");
	m = cursor_msg(CMD_UPDATE_CURSOR, 0, 0, 0, 11, 0, 0);
	cr_expect_eq(sendq(1, &m, 24).type, ERR_INVALID_RESOURCE_ID);
	m = cursor_msg(CMD_MOVE_CURSOR, 2, 0, 0, 0, 0, 0);
	cr_expect_eq(sendq(1, &m, 24).type, ERR_INVALID_SCANOUT_ID);
	m = cursor_msg(CMD_MOVE_CURSOR, 0, 0, 0, 0, 0, 0);
	m.n = 40;
	cr_expect_eq(sendq(1, &m, 24).type, ERR_UNSPEC, "truncated");
	m = hdr(CMD_GET_DISPLAY_INFO);
	cr_expect_eq(sendq(1, &m, 408).type, ERR_UNSPEC, "controlq command on the cursorq");
	cr_expect_eq(T.s.cursors, 2);
	cr_expect_eq(T.s.moves, 1);
}

Test(gpu, blob_cursor_reads_its_guest_pages)
{
	struct ent e[3];
	unsigned n = make_fb(64, 64, 3, true, e);
	struct msg m = blob_msg(4, 1, 2, 64 * 64 * 4, e, n);
	cr_assert_eq(send(&m), OK_NODATA);
	cr_expect_eq(transfer(4, 0, 0, 64, 64, 0), OK_NODATA, "Linux transfers its dumb cursor");
	m = cursor_msg(CMD_UPDATE_CURSOR, 0, 1, 2, 4, 0, 0);
	cr_expect_eq(sendq(1, &m, 24).type, OK_NODATA);
	cr_expect(T.s.had_image);
	cr_expect_eq(T.s.cursor_px0, pix(0, 0));
	struct msg small = blob_msg(5, 1, 2, 4096, e, 1);
	cr_assert_eq(send(&small), OK_NODATA);
	m = cursor_msg(CMD_UPDATE_CURSOR, 0, 1, 2, 5, 0, 0);
	cr_expect_eq(sendq(1, &m, 24).type, ERR_INVALID_PARAMETER, "blob smaller than a cursor");
	small = blob_msg(6, 1, 2, 64 * 64 * 4, e, 0);
	cr_assert_eq(send(&small), OK_NODATA);
	m = cursor_msg(CMD_UPDATE_CURSOR, 0, 1, 2, 6, 0, 0);
	cr_expect_eq(sendq(1, &m, 24).type, ERR_INVALID_PARAMETER, "blob without backing");
}

/* ---- reset and helpers ---- */

Test(gpu, reset_frees_everything)
{
	struct ent e[2];
	make_fb(32, 32, 2, false, e);
	cr_assert_eq(create_2d(1, XRGB, 32, 32), OK_NODATA);
	cr_assert_eq(attach(1, e, 2), OK_NODATA);
	cr_assert_eq(set_scanout(0, 1, 0, 0, 32, 32), OK_NODATA);
	cr_assert_eq(ctx_create(3, 0, 0), OK_NODATA);
	struct vdev_gpu_display d = {.enabled = true, .width = 640, .height = 480};
	cr_assert_eq(vdev_gpu_set_display(&T.gpu, 0, &d), 0);
	cr_assert_gt(T.h.live, 0);
	cr_assert_eq(drv_virtio_reset(&T.tr), 0);
	cr_expect_eq(T.h.live, 0);
	cr_expect_eq(stats().host_bytes, 0);
	cr_expect_eq(stats().resources, 0);
	cr_expect_not(T.s.enabled[0], "the sink saw the scanout go");
	uint32_t ev;
	T.tr.ops->config_read(T.tr.t, 0, &ev, 4);
	ev = sim_le32(ev);
	cr_expect_eq(ev, 0);
	bring_up(ALL);
	struct vdev_gpu_display got;
	cr_assert_eq(vdev_gpu_get_display(&T.gpu, 0, &got), 0);
	cr_expect_eq(got.width, 640, "the host's display survives reset");
	cr_expect_eq(create_2d(1, XRGB, 32, 32), OK_NODATA, "ids are free again");
	cr_expect_eq(ctx_create(3, 0, 0), OK_NODATA);
}

Test(gpu, image_read_and_rgba_conversion)
{
	uint8_t data[2 * 8 * 4];
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	struct vdev_iov segs[3] = {{data, 5}, {data + 5, 30}, {data + 35, 29}};
	struct vdev_gpu_image img = {.format = XRGB, .width = 7, .height = 2, .stride = 32,
				     .offset = 4, .size = sizeof(data), .segs = segs, .nsegs = 3};
	uint8_t out[32];
	cr_expect_eq(vdev_gpu_image_read(&img, 0, 1, 7, out), 7);
	cr_expect_arr_eq(out, data + 36, 28);
	cr_expect_eq(vdev_gpu_image_read(&img, 1, 0, 7, out), 0, "past the row");
	cr_expect_eq(vdev_gpu_image_read(&img, 0, 2, 1, out), 0, "past the image");
	cr_expect_eq(vdev_gpu_image_read(&img, 0xffffffffu, 0, 2, out), 0);
	img.offset = UINT64_MAX - 3;
	cr_expect_eq(vdev_gpu_image_read(&img, 0, 1, 1, out), 0, "offset wraps");
	img.offset = 8; /* last row ends 4 bytes past the data */
	cr_expect_eq(vdev_gpu_image_read(&img, 0, 1, 7, out), 0, "outside the data");
	img.data = data;
	img.offset = 4;
	cr_expect_eq(vdev_gpu_image_read(&img, 2, 1, 3, out), 3);
	cr_expect_arr_eq(out, data + 44, 12);

	uint8_t px[4] = {0x10, 0x20, 0x30, 0x40}, rgba[4];
	cr_assert_eq(vdev_gpu_to_rgba(VDEV_GPU_FORMAT_B8G8R8A8_UNORM, px, rgba, 1), 0);
	cr_expect_arr_eq(rgba, ((uint8_t[]){0x30, 0x20, 0x10, 0x40}), 4);
	cr_assert_eq(vdev_gpu_to_rgba(VDEV_GPU_FORMAT_B8G8R8X8_UNORM, px, rgba, 1), 0);
	cr_expect_arr_eq(rgba, ((uint8_t[]){0x30, 0x20, 0x10, 0xff}), 4);
	cr_assert_eq(vdev_gpu_to_rgba(VDEV_GPU_FORMAT_A8R8G8B8_UNORM, px, rgba, 1), 0);
	cr_expect_arr_eq(rgba, ((uint8_t[]){0x20, 0x30, 0x40, 0x10}), 4);
	cr_assert_eq(vdev_gpu_to_rgba(VDEV_GPU_FORMAT_X8B8G8R8_UNORM, px, rgba, 1), 0);
	cr_expect_arr_eq(rgba, ((uint8_t[]){0x40, 0x30, 0x20, 0xff}), 4);
	cr_assert_eq(vdev_gpu_to_rgba(VDEV_GPU_FORMAT_R8G8B8A8_UNORM, px, rgba, 1), 0);
	cr_expect_arr_eq(rgba, px, 4);
	cr_expect_eq(vdev_gpu_to_rgba(0, px, rgba, 1), VDEV_EINVAL);
}

Test(gpu, packed_ring_and_indirect_work_too)
{
	restart(~(uint64_t)0);
	cr_assert(T.neg & F(RING_PACKED));
	struct ent e[1];
	make_fb(8, 8, 1, false, e);
	cr_expect_eq(create_2d(1, XRGB, 8, 8), OK_NODATA);
	cr_expect_eq(attach(1, e, 1), OK_NODATA);
	cr_expect_eq(transfer(1, 0, 0, 8, 8, 0), OK_NODATA);
	cr_expect_eq(set_scanout(0, 1, 0, 0, 8, 8), OK_NODATA);
	cr_expect_eq(flush(1, 0, 0, 8, 8), OK_NODATA);
	cr_expect_eq(T.s.px[7 * 64 + 7], pix(7, 7));
}
