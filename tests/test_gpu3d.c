/* SPDX-License-Identifier: MIT */
/*
 * virtio-gpu 3D mode: the device model with a fake renderer behind
 * struct vdev_gpu_renderer_ops, driven through virtio-mmio by the driver
 * simulator. Every 3D command, the malformed cases the model must refuse
 * before the renderer sees them, capsets, host blobs mapped into the host
 * visible region, fences held until the renderer retires them (in order
 * per timeline, out of order across timelines), slots running out, and
 * CTX_DESTROY / reset with everything outstanding. The fake renderer counts
 * its live objects: after every test nothing is left.
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
#define NFENCE 8
#define BUDGET (4u << 20)
#define REGION (8u << 20)
#define HV_SIZE (1u << 20)
#define SUBMIT_MAX 4096u

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
	CMD_RESOURCE_MAP_BLOB,
	CMD_RESOURCE_UNMAP_BLOB,
	CMD_UPDATE_CURSOR = 0x0300,
	CMD_MOVE_CURSOR,
	OK_NODATA = 0x1100,
	OK_DISPLAY_INFO,
	OK_CAPSET_INFO,
	OK_CAPSET,
	OK_EDID,
	OK_RESOURCE_UUID,
	OK_MAP_INFO,
	ERR_UNSPEC = 0x1200,
	ERR_OUT_OF_MEMORY,
	ERR_INVALID_SCANOUT_ID,
	ERR_INVALID_RESOURCE_ID,
	ERR_INVALID_CONTEXT_ID,
	ERR_INVALID_PARAMETER,
};
#define FENCE 1u
#define RING_IDX 2u
#define ALL (~F(RING_PACKED))
#define XRGB VDEV_GPU_FORMAT_B8G8R8X8_UNORM
#define GLOBAL VDEV_GPU_FENCE_GLOBAL

/* ---- the fake renderer ---- */
#define CAP1_SIZE 64u
#define CAP2_SIZE 2048u /* bigger than the model's response scratch */
struct fence_rec {
	uint32_t ctx, ring;
	uint64_t id;
};
struct fake {
	/* live objects */
	int contexts, resources, backings, maps, shm_maps;
	/* calls */
	int creates_3d, unrefs, attaches, detaches, ctx_attaches, ctx_detaches, submits,
		transfers_to, transfers_from, blobs, resets, reads, polls;
	uint32_t last_ctx_init;
	struct vdev_gpu_resource_3d last_3d;
	struct vdev_gpu_transfer last_transfer;
	struct vdev_gpu_blob last_blob;
	uint64_t last_backing_bytes, last_blob_seg_bytes;
	uint8_t submit[SUBMIT_MAX];
	uint32_t submit_size, submit_ctx;
	struct fence_rec fences[64];
	unsigned nfences;
	struct vdev_gpu_rect last_read;
	uint64_t shm_offset, shm_size;
	uint32_t shm_map_info;
	int rc_create_3d, rc_submit, rc_fence, rc_map, rc_shm_map;
	bool sync_retire; /* retire each fence from inside create_fence */
	bool retire_in_read; /* read_rect retires every fence made so far */
	bool has_map[NRES * 4 + 64];
	uint8_t blob_mem_host[1 << 16];
};
static struct fake R;
static struct vdev_gpu *fake_gpu;

static int f_ctx_create(void *o, uint32_t id, uint32_t init, const char *name, size_t n)
{
	(void)o, (void)id, (void)name;
	cr_assert_leq(n, 64);
	R.contexts++;
	R.last_ctx_init = init;
	return 0;
}
static void f_ctx_destroy(void *o, uint32_t id)
{
	(void)o, (void)id;
	R.contexts--;
	cr_assert_geq(R.contexts, 0);
}
static int f_capset_info(void *o, uint32_t i, struct vdev_gpu_capset_info *c)
{
	(void)o;
	if (i == 0)
		*c = (struct vdev_gpu_capset_info){.id = 1, .max_version = 1, .max_size = CAP1_SIZE};
	else if (i == 1)
		*c = (struct vdev_gpu_capset_info){.id = 2, .max_version = 2, .max_size = CAP2_SIZE};
	else
		return VDEV_ENOENT;
	return 0;
}
static int f_capset_get(void *o, uint32_t id, uint32_t ver, void *buf, uint32_t size)
{
	(void)o;
	uint8_t *b = buf;
	for (uint32_t i = 0; i < size; i++) {
		cr_assert_eq(b[i], 0, "zeroed");
		b[i] = (uint8_t)(id * 16 + ver + i);
	}
	return 0;
}
static int f_create_3d(void *o, uint32_t id, const struct vdev_gpu_resource_3d *a)
{
	(void)o, (void)id;
	R.creates_3d++;
	R.last_3d = *a;
	if (R.rc_create_3d)
		return R.rc_create_3d;
	R.resources++;
	return 0;
}
static void f_unref(void *o, uint32_t id)
{
	(void)o;
	cr_assert(id < sizeof(R.has_map) && !R.has_map[id], "unmapped before unref");
	R.unrefs++;
	R.resources--;
	cr_assert_geq(R.resources, 0);
}
static int f_attach(void *o, uint32_t id, const struct vdev_iov *s, unsigned n)
{
	(void)o, (void)id;
	uint64_t t = 0;
	for (unsigned i = 0; i < n; i++)
		t += s[i].len;
	R.last_backing_bytes = t;
	R.attaches++;
	R.backings++;
	return 0;
}
static void f_detach(void *o, uint32_t id)
{
	(void)o, (void)id;
	R.detaches++;
	R.backings--;
	cr_assert_geq(R.backings, 0);
}
static void f_ctx_attach(void *o, uint32_t c, uint32_t r)
{
	(void)o, (void)c, (void)r;
	R.ctx_attaches++;
}
static void f_ctx_detach(void *o, uint32_t c, uint32_t r)
{
	(void)o, (void)c, (void)r;
	R.ctx_detaches++;
}
static int f_to_host(void *o, uint32_t id, const struct vdev_gpu_transfer *t)
{
	(void)o, (void)id;
	R.transfers_to++;
	R.last_transfer = *t;
	return 0;
}
static int f_from_host(void *o, uint32_t id, const struct vdev_gpu_transfer *t)
{
	(void)o, (void)id;
	R.transfers_from++;
	R.last_transfer = *t;
	return 0;
}
static int f_submit(void *o, uint32_t ctx, const void *cmd, uint32_t size)
{
	(void)o;
	cr_assert_leq(size, SUBMIT_MAX);
	memcpy(R.submit, cmd, size);
	R.submit_size = size;
	R.submit_ctx = ctx;
	R.submits++;
	return R.rc_submit;
}
static int f_create_fence(void *o, uint32_t ctx, uint32_t ring, uint64_t id)
{
	(void)o;
	if (R.rc_fence)
		return R.rc_fence;
	cr_assert_lt(R.nfences, 64);
	R.fences[R.nfences++] = (struct fence_rec){ctx, ring, id};
	if (R.sync_retire)
		vdev_gpu_fence_retired(fake_gpu, ctx, ring, id);
	return 0;
}
static void f_poll(void *o)
{
	(void)o;
	R.polls++;
	/* retire everything created so far */
	for (unsigned i = 0; i < R.nfences; i++)
		vdev_gpu_fence_retired(fake_gpu, R.fences[i].ctx, R.fences[i].ring, R.fences[i].id);
	R.nfences = 0;
}
static int f_blob_create(void *o, uint32_t id, const struct vdev_gpu_blob *b)
{
	(void)o, (void)id;
	uint64_t t = 0;
	for (unsigned i = 0; i < b->nsegs; i++)
		t += b->segs[i].len;
	R.last_blob_seg_bytes = t;
	if (b->nsegs != 0)
		R.backings++; /* given at creation: detached before unref */
	R.last_blob = *b;
	R.last_blob.segs = NULL;
	R.blobs++;
	R.resources++;
	return 0;
}
static int f_blob_map(void *o, uint32_t id, struct vdev_gpu_blob_map *m)
{
	(void)o;
	if (R.rc_map)
		return R.rc_map;
	cr_assert(!R.has_map[id]);
	R.has_map[id] = true;
	m->host = R.blob_mem_host;
	m->size = sizeof(R.blob_mem_host);
	m->map_info = VDEV_GPU_MAP_CACHE_WC | 0xf0; /* high bits are not the guest's business */
	R.maps++;
	return 0;
}
static void f_blob_unmap(void *o, uint32_t id)
{
	(void)o;
	cr_assert(R.has_map[id]);
	R.has_map[id] = false;
	R.maps--;
}
static int f_read_rect(void *o, uint32_t id, const struct vdev_gpu_rect *r, void *dst,
		       uint32_t stride)
{
	(void)o;
	R.reads++;
	R.last_read = *r;
	if (R.retire_in_read)
		f_poll(o);
	for (uint32_t y = 0; y < r->height; y++)
		for (uint32_t x = 0; x < r->width; x++) {
			uint32_t v = id << 24 | (r->y + y) << 12 | (r->x + x);
			memcpy((uint8_t *)dst + (size_t)y * stride + (size_t)x * 4, &v, 4);
		}
	return 0;
}
static void f_reset(void *o)
{
	(void)o;
	R.resets++;
	R.nfences = 0;
}
static const struct vdev_gpu_renderer_ops fake_ops = {
	.size = sizeof(struct vdev_gpu_renderer_ops),
	.ctx_create = f_ctx_create,
	.ctx_destroy = f_ctx_destroy,
	.capset_info = f_capset_info,
	.capset_get = f_capset_get,
	.resource_create_3d = f_create_3d,
	.resource_unref = f_unref,
	.attach_backing = f_attach,
	.detach_backing = f_detach,
	.ctx_attach_resource = f_ctx_attach,
	.ctx_detach_resource = f_ctx_detach,
	.transfer_to_host = f_to_host,
	.transfer_from_host = f_from_host,
	.submit = f_submit,
	.create_fence = f_create_fence,
	.poll = f_poll,
	.blob_create = f_blob_create,
	.blob_map = f_blob_map,
	.blob_unmap = f_blob_unmap,
	.read_rect = f_read_rect,
	.reset = f_reset,
};

static int s_map(void *o, uint32_t id, uint64_t off, uint64_t size,
		 const struct vdev_gpu_blob_map *m)
{
	(void)o, (void)id;
	if (R.rc_shm_map)
		return R.rc_shm_map;
	cr_assert_not_null(m->host);
	cr_assert_eq(off % 4096, 0);
	cr_assert_leq(off + size, HV_SIZE);
	R.shm_offset = off;
	R.shm_size = size;
	R.shm_map_info = m->map_info;
	R.shm_maps++;
	return 0;
}
static void s_unmap(void *o, uint32_t id, uint64_t off, uint64_t size)
{
	(void)o, (void)id, (void)off, (void)size;
	R.shm_maps--;
	cr_assert_geq(R.shm_maps, 0);
}
static const struct vdev_gpu_shm_ops shm_ops = {
	.size = sizeof(struct vdev_gpu_shm_ops), .map = s_map, .unmap = s_unmap};

/* ---- the sink ---- */
struct sink {
	int scanouts, updates, cursors;
	uint32_t px0, cursor_px0;
	struct vdev_gpu_rect damage;
	bool enabled;
};
static struct sink S;
static void k_scanout(void *o, uint32_t sid, const struct vdev_gpu_scanout *s)
{
	(void)o, (void)sid;
	S.scanouts++;
	S.enabled = s->enabled;
	if (s->enabled)
		cr_assert_eq(vdev_gpu_image_read(s->image, s->src.x, s->src.y, 1, &S.px0), 1);
}
static void k_update(void *o, uint32_t sid, const struct vdev_gpu_scanout *s,
		     const struct vdev_gpu_rect *r)
{
	(void)o, (void)sid;
	S.updates++;
	S.damage = *r;
	cr_assert_eq(vdev_gpu_image_read(s->image, s->src.x + r->x, s->src.y + r->y, 1, &S.px0), 1);
}
static void k_cursor(void *o, const struct vdev_gpu_cursor *c)
{
	(void)o;
	S.cursors++;
	if (c->image != NULL)
		cr_assert_eq(vdev_gpu_image_read(c->image, 1, 2, 1, &S.cursor_px0), 1);
}
static const struct vdev_gpu_sink_ops sink_ops = {
	.size = sizeof(struct vdev_gpu_sink_ops), .scanout = k_scanout, .update = k_update,
	.cursor = k_cursor};

/* ---- host memory ---- */
static long live_allocs;
static bool fail_alloc;
static void *h_alloc(void *o, size_t n)
{
	(void)o;
	if (fail_alloc)
		return NULL;
	void *p = malloc(n);
	memset(p, 0xa5, n);
	live_allocs++;
	return p;
}
static void h_free(void *o, void *p, size_t n)
{
	(void)o, (void)n;
	live_allocs--;
	free(p);
}
static const struct vdev_gpu_host_mem_ops hm_ops = {
	.size = sizeof(struct vdev_gpu_host_mem_ops), .alloc = h_alloc, .free = h_free};

/* ---- the device under test ---- */
static struct {
	struct sim_mem m;
	struct vdev_gpu gpu;
	struct vdev_vq queues[2];
	uint64_t queue_held[2 * VDEV_VQ_HELD_WORDS(QSIZE)];
	struct vdev_iov iovs[2 * IOVS];
	struct vdev_gpu_resource res[NRES];
	struct vdev_gpu_context ctx[NCTX];
	struct vdev_gpu_fence fences[NFENCE];
	uint8_t submit_buf[SUBMIT_MAX];
	struct vdev_mmio mmio;
	struct drv_mmio dm;
	struct drv_transport tr;
	struct drv_vq q[2];
	uint64_t neg;
	struct vdev_gpu_config cfg;
} T;

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
	T.cfg.num_scanouts = 1;
	T.cfg.displays[0] = (struct vdev_gpu_display){.enabled = true, .width = 1024, .height = 768};
	T.cfg.queue_size = QSIZE;
	T.cfg.max_host_bytes = BUDGET;
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
	T.cfg.sink = &sink_ops;
	T.cfg.renderer = &fake_ops;
	T.cfg.fences = T.fences;
	T.cfg.num_fences = NFENCE;
	T.cfg.submit_buf = T.submit_buf;
	T.cfg.submit_buf_size = SUBMIT_MAX;
	T.cfg.host_visible_size = HV_SIZE;
	T.cfg.shm = &shm_ops;
}

static void start(uint64_t want)
{
	memset(&S, 0, sizeof(S));
	cr_assert_eq(vdev_gpu_init(&T.gpu, &T.cfg), 0);
	fake_gpu = &T.gpu;
	cr_assert_eq(drv_mmio_attach(&T.dm, &T.mmio, vdev_gpu_dev(&T.gpu), &T.tr), 0);
	bring_up(want);
}

static void setup(void)
{
	memset(&R, 0, sizeof(R));
	live_allocs = 0;
	fail_alloc = false;
	sim_mem_init(&T.m, REGION, false);
	default_cfg();
	start(ALL);
}

static void no_leaks(void)
{
	cr_expect_eq(live_allocs, 0, "host allocations leaked: %ld", live_allocs);
	cr_expect_eq(R.contexts, 0, "renderer contexts leaked");
	cr_expect_eq(R.resources, 0, "renderer resources leaked");
	cr_expect_eq(R.backings, 0, "renderer backings leaked");
	cr_expect_eq(R.maps, 0, "renderer mappings leaked");
	cr_expect_eq(R.shm_maps, 0, "shm mappings leaked");
}

static void teardown(void)
{
	vdev_gpu_fini(&T.gpu);
	no_leaks();
	sim_mem_destroy(&T.m);
}

TestSuite(gpu3d, .init = setup, .fini = teardown);

static void restart(uint64_t want)
{
	vdev_gpu_fini(&T.gpu);
	no_leaks();
	sim_mem_destroy(&T.m);
	sim_mem_init(&T.m, REGION, false);
	start(want);
}

/* ---- requests ---- */
struct msg {
	uint8_t d[8192];
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
static struct msg hdrc(uint32_t type, uint32_t ctx) { return hdr_full(type, 0, 0, ctx, 0); }

struct resp {
	uint32_t used;
	uint32_t type, flags, ctx;
	uint64_t fence;
	uint8_t ring;
	uint8_t d[4096];
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

/* A pending request: what the driver queued and where its answer goes. */
struct pend {
	uint64_t rs;
	uint32_t rlen;
	int tok;
};

static void add(const struct msg *m, uint32_t rlen, struct pend *p)
{
	uint64_t rq = sim_alloc(&T.m, m->n, 8);
	struct drv_buf b[2];
	p->rs = sim_alloc(&T.m, rlen, 8);
	p->rlen = rlen;
	memcpy(sim_ptr(&T.m, rq), m->d, m->n);
	memset(sim_ptr(&T.m, p->rs), 0xcc, rlen);
	b[0] = (struct drv_buf){rq, m->n, false};
	b[1] = (struct drv_buf){p->rs, rlen, true};
	cr_assert_eq(drv_add(&T.q[0], b, 2, false, p), 0);
}

/* The next used buffer of the controlq (NULL if none). */
static struct pend *used(struct resp *r)
{
	uint32_t l;
	struct pend *p = drv_get_used(&T.q[0], &l);
	cr_assert_eq(T.q[0].errors, 0, "%s", T.q[0].last_error);
	if (p == NULL)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->used = l;
	cr_assert_leq(l, p->rlen);
	if (l >= 24) {
		memcpy(r->d, sim_ptr(&T.m, p->rs), l < sizeof(r->d) ? l : sizeof(r->d));
		r->type = sim_get_le32(r->d);
		r->flags = sim_get_le32(r->d + 4);
		r->fence = sim_get_le64(r->d + 8);
		r->ctx = sim_get_le32(r->d + 16);
		r->ring = r->d[20];
		cr_assert_eq(r->d[21] | r->d[22] | r->d[23], 0, "padding initialised");
	}
	return p;
}

static struct resp sendr(const struct msg *m, uint32_t rlen)
{
	struct pend p;
	struct resp r;
	add(m, rlen, &p);
	kick(0);
	cr_assert_eq(used(&r), &p, "answered at once");
	return r;
}

static uint32_t send(const struct msg *m)
{
	struct resp r = sendr(m, 24);
	cr_assert_eq(r.used, 24, "used %u", r.used);
	return r.type;
}

/* ---- command helpers ---- */
static uint32_t ctx_create(uint32_t ctx, uint32_t init)
{
	struct msg m = hdrc(CMD_CTX_CREATE, ctx);
	p32(&m, 4);
	p32(&m, init);
	memcpy(m.d + m.n, "test", 4);
	m.n += 64;
	return send(&m);
}
static uint32_t ctx_destroy(uint32_t ctx)
{
	struct msg m = hdrc(CMD_CTX_DESTROY, ctx);
	return send(&m);
}
static struct msg create_3d_msg(uint32_t id, const struct vdev_gpu_resource_3d *a)
{
	struct msg m = hdr(CMD_RESOURCE_CREATE_3D);
	p32(&m, id);
	p32(&m, a->target);
	p32(&m, a->format);
	p32(&m, a->bind);
	p32(&m, a->width);
	p32(&m, a->height);
	p32(&m, a->depth);
	p32(&m, a->array_size);
	p32(&m, a->last_level);
	p32(&m, a->nr_samples);
	p32(&m, a->flags);
	p32(&m, 0);
	return m;
}
static uint32_t create_3d(uint32_t id, const struct vdev_gpu_resource_3d *a)
{
	struct msg m = create_3d_msg(id, a);
	return send(&m);
}
/* A 2D texture, w x h, XRGB, with `levels` mips. */
static struct vdev_gpu_resource_3d tex2d(uint32_t w, uint32_t h, uint32_t last_level)
{
	return (struct vdev_gpu_resource_3d){.target = VDEV_GPU_TARGET_2D, .format = XRGB,
					     .bind = 2, .width = w, .height = h, .depth = 1,
					     .array_size = 1, .last_level = last_level};
}
static uint32_t create_tex(uint32_t id, uint32_t w, uint32_t h)
{
	struct vdev_gpu_resource_3d a = tex2d(w, h, 0);
	return create_3d(id, &a);
}
static uint32_t unref(uint32_t id)
{
	struct msg m = hdr(CMD_RESOURCE_UNREF);
	p32(&m, id);
	p32(&m, 0);
	return send(&m);
}
static uint32_t attach(uint32_t id, uint32_t bytes)
{
	struct msg m = hdr(CMD_RESOURCE_ATTACH_BACKING);
	uint64_t g = sim_alloc(&T.m, bytes, 4096);
	p32(&m, id);
	p32(&m, 1);
	p64(&m, g);
	p32(&m, bytes);
	p32(&m, 0);
	return send(&m);
}
static uint32_t detach(uint32_t id)
{
	struct msg m = hdr(CMD_RESOURCE_DETACH_BACKING);
	p32(&m, id);
	p32(&m, 0);
	return send(&m);
}
static struct msg transfer_msg(uint32_t type, uint32_t ctx, uint32_t id, struct vdev_gpu_box b,
			       uint64_t off, uint32_t level, uint32_t stride, uint32_t lstride)
{
	struct msg m = hdrc(type, ctx);
	p32(&m, b.x);
	p32(&m, b.y);
	p32(&m, b.z);
	p32(&m, b.w);
	p32(&m, b.h);
	p32(&m, b.d);
	p64(&m, off);
	p32(&m, id);
	p32(&m, level);
	p32(&m, stride);
	p32(&m, lstride);
	return m;
}
static uint32_t transfer(bool to, uint32_t id, struct vdev_gpu_box b, uint64_t off, uint32_t level)
{
	struct msg m = transfer_msg(to ? CMD_TRANSFER_TO_HOST_3D : CMD_TRANSFER_FROM_HOST_3D, 1, id,
				    b, off, level, 256, 0);
	return send(&m);
}
static struct msg submit_msg(uint32_t ctx, uint32_t size, uint32_t payload)
{
	struct msg m = hdrc(CMD_SUBMIT_3D, ctx);
	p32(&m, size);
	p32(&m, 0);
	for (uint32_t i = 0; i < payload / 4; i++)
		p32(&m, 0xc0de0000u + i);
	return m;
}
static uint32_t submit(uint32_t ctx, uint32_t size, uint32_t payload)
{
	struct msg m = submit_msg(ctx, size, payload);
	return send(&m);
}
static struct msg blob_msg(uint32_t id, uint32_t ctx, uint32_t mem, uint32_t flags, uint64_t size,
			   uint32_t nr)
{
	struct msg m = hdrc(CMD_RESOURCE_CREATE_BLOB, ctx);
	p32(&m, id);
	p32(&m, mem);
	p32(&m, flags);
	p32(&m, nr);
	p64(&m, 0x77);
	p64(&m, size);
	for (uint32_t i = 0; i < nr; i++) {
		uint32_t len = (uint32_t)(size / nr);
		p64(&m, sim_alloc(&T.m, len, 4096));
		p32(&m, len);
		p32(&m, 0);
	}
	return m;
}
static uint32_t blob(uint32_t id, uint32_t ctx, uint32_t mem, uint32_t flags, uint64_t size,
		     uint32_t nr)
{
	struct msg m = blob_msg(id, ctx, mem, flags, size, nr);
	return send(&m);
}
static struct resp map_blob(uint32_t id, uint64_t off)
{
	struct msg m = hdr(CMD_RESOURCE_MAP_BLOB);
	p32(&m, id);
	p32(&m, 0);
	p64(&m, off);
	return sendr(&m, 32);
}
static uint32_t unmap_blob(uint32_t id)
{
	struct msg m = hdr(CMD_RESOURCE_UNMAP_BLOB);
	p32(&m, id);
	p32(&m, 0);
	return send(&m);
}
static uint32_t ctx_res(bool att, uint32_t ctx, uint32_t id)
{
	struct msg m = hdrc(att ? CMD_CTX_ATTACH_RESOURCE : CMD_CTX_DETACH_RESOURCE, ctx);
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
#define MAPPABLE VDEV_GPU_BLOB_FLAG_MAPPABLE
#define HOST3D VDEV_GPU_BLOB_MEM_HOST3D
#define HOST3D_GUEST VDEV_GPU_BLOB_MEM_HOST3D_GUEST

/* ---- features, config, capsets ---- */

Test(gpu3d, offers_virgl_capsets_and_the_host_visible_region)
{
	uint64_t f = vdev_dev_offered_features(vdev_gpu_dev(&T.gpu));
	uint32_t cfg[5];
	cr_expect(f & G(VIRGL));
	cr_expect(f & G(CONTEXT_INIT));
	cr_expect(f & G(RESOURCE_BLOB));
	cr_expect(T.neg & G(VIRGL));
	cr_assert_eq(drv_virtio_config_read(&T.tr, 0, cfg, sizeof(cfg)), 0);
	for (unsigned ci = 0; ci < sizeof(cfg) / 4; ci++)
		cfg[ci] = sim_le32(cfg[ci]); /* config space is little-endian */
	cr_expect_eq(cfg[3], 2, "num_capsets");
	cr_assert_eq(vdev_dev_num_shm(vdev_gpu_dev(&T.gpu)), 1);
	cr_expect_eq(vdev_dev_shm(vdev_gpu_dev(&T.gpu), 0)->id, VDEV_GPU_SHM_ID_HOST_VISIBLE);
	cr_expect_eq(vdev_dev_shm(vdev_gpu_dev(&T.gpu), 0)->len, HV_SIZE);
}

Test(gpu3d, virgl_needs_a_full_renderer_table)
{
	static const struct vdev_gpu_renderer_ops partial = {
		.size = sizeof(struct vdev_gpu_renderer_ops), .ctx_create = f_ctx_create,
		.ctx_destroy = f_ctx_destroy};
	static struct vdev_gpu_renderer_ops old;
	old = fake_ops;
	struct vdev_gpu g;
	struct vdev_gpu_config c = T.cfg;
	uint32_t cfg[5];

	c.renderer = &partial;
	c.host_visible_size = 0;
	c.features = VDEV_GPU_SUPPORTED_FEATURES | G(VIRGL);
	cr_expect_eq(vdev_gpu_init(&g, &c), VDEV_EINVAL, "VIRGL asked without the ops");
	/* An older, shorter table: only the first two ops. */
	old.size = (uint32_t)offsetof(struct vdev_gpu_renderer_ops, capset_info);
	T.cfg.renderer = &old;
	T.cfg.host_visible_size = 0;
	restart(ALL);
	cr_expect_not(vdev_dev_offered_features(vdev_gpu_dev(&T.gpu)) & G(VIRGL));
	cr_assert_eq(drv_virtio_config_read(&T.tr, 0, cfg, sizeof(cfg)), 0);
	for (unsigned ci = 0; ci < sizeof(cfg) / 4; ci++)
		cfg[ci] = sim_le32(cfg[ci]); /* config space is little-endian */
	cr_expect_eq(cfg[3], 0, "no capsets without VIRGL");
	cr_expect_eq(ctx_create(1, 0), OK_NODATA, "contexts still reach the renderer");
	cr_expect_eq(R.contexts, 1);
	cr_expect_eq(create_tex(1, 4, 4), ERR_UNSPEC, "3D commands need VIRGL");
	cr_expect_eq(submit(1, 0, 0), ERR_UNSPEC);
	cr_expect_eq(R.creates_3d, 0);
	cr_expect_eq(ctx_destroy(1), OK_NODATA);
}

Test(gpu3d, commands_need_virgl_negotiated)
{
	restart(ALL & ~G(VIRGL));
	cr_expect_eq(ctx_create(1, 0), OK_NODATA);
	cr_expect_eq(create_tex(1, 4, 4), ERR_UNSPEC);
	cr_expect_eq(submit(1, 4, 4), ERR_UNSPEC);
	cr_expect_eq(transfer(true, 1, (struct vdev_gpu_box){0, 0, 0, 1, 1, 1}, 0, 0), ERR_UNSPEC);
	cr_expect_eq(blob(2, 1, HOST3D, MAPPABLE, 4096, 0), ERR_INVALID_PARAMETER);
	struct msg m = hdr(CMD_GET_CAPSET_INFO);
	p32(&m, 0);
	p32(&m, 0);
	cr_expect_eq(sendr(&m, 40).type, ERR_INVALID_PARAMETER);
	cr_expect_eq(R.creates_3d + R.submits + R.transfers_to + R.blobs, 0);
	cr_expect_eq(ctx_destroy(1), OK_NODATA);
}

Test(gpu3d, init_rejects_bad_3d_configs)
{
	struct vdev_gpu g;
	struct vdev_gpu_config c;
	static struct vdev_gpu_renderer_ops r;
	r = fake_ops;

	c = T.cfg;
	c.num_fences = 0;
	cr_expect_eq(vdev_gpu_init(&g, &c), VDEV_EINVAL, "fences need slots");
	c = T.cfg;
	c.fences = NULL;
	cr_expect_eq(vdev_gpu_init(&g, &c), VDEV_EINVAL);
	c = T.cfg;
	c.ring_features = F(IN_ORDER) | F(INDIRECT_DESC);
	cr_expect_eq(vdev_gpu_init(&g, &c), VDEV_EINVAL, "held responses break IN_ORDER");
	c = T.cfg;
	c.host_visible_size = 4096 + 1;
	cr_expect_eq(vdev_gpu_init(&g, &c), VDEV_EINVAL, "region not in pages");
	c = T.cfg;
	c.shm = NULL;
	cr_expect_eq(vdev_gpu_init(&g, &c), VDEV_EINVAL, "region without shm ops");
	c = T.cfg;
	r.blob_map = NULL;
	c.renderer = &r;
	cr_expect_eq(vdev_gpu_init(&g, &c), VDEV_EINVAL, "region without blob_map");
	c = T.cfg;
	c.submit_buf = NULL;
	cr_expect_eq(vdev_gpu_init(&g, &c), VDEV_EINVAL, "a size without a buffer");
	r = fake_ops;
	r.create_fence = NULL;
	c = T.cfg;
	c.renderer = &r;
	c.num_fences = 0;
	c.fences = NULL;
	cr_expect_eq(vdev_gpu_init(&g, &c), 0, "no fences op: no slots needed");
	vdev_gpu_fini(&g);
}

static int bad_capset_info(void *o, uint32_t i, struct vdev_gpu_capset_info *c)
{
	(void)o;
	if (i > 1)
		return VDEV_ENOENT;
	*c = (struct vdev_gpu_capset_info){.id = 1, .max_version = 1, .max_size = 16};
	return 0; /* the same id twice */
}
static int huge_capset_info(void *o, uint32_t i, struct vdev_gpu_capset_info *c)
{
	(void)o;
	if (i > 0)
		return VDEV_ENOENT;
	*c = (struct vdev_gpu_capset_info){.id = 1, .max_version = 1,
					   .max_size = VDEV_GPU_MAX_CAPSET_SIZE + 1};
	return 0;
}
static int many_capset_info(void *o, uint32_t i, struct vdev_gpu_capset_info *c)
{
	(void)o;
	*c = (struct vdev_gpu_capset_info){.id = i + 1, .max_version = 0, .max_size = 8};
	return 0; /* never ends: the model lists VDEV_GPU_MAX_CAPSETS */
}

Test(gpu3d, init_checks_the_renderers_capsets)
{
	struct vdev_gpu g;
	struct vdev_gpu_config c = T.cfg;
	static struct vdev_gpu_renderer_ops r;
	r = fake_ops;
	uint32_t cfg[5];

	c.renderer = &r;
	r.capset_info = bad_capset_info;
	cr_expect_eq(vdev_gpu_init(&g, &c), VDEV_EINVAL, "duplicate capset id");
	r.capset_info = huge_capset_info;
	cr_expect_eq(vdev_gpu_init(&g, &c), VDEV_EINVAL, "capset too large");
	r.capset_info = many_capset_info;
	T.cfg.renderer = &r;
	restart(ALL);
	cr_assert_eq(drv_virtio_config_read(&T.tr, 0, cfg, sizeof(cfg)), 0);
	for (unsigned ci = 0; ci < sizeof(cfg) / 4; ci++)
		cfg[ci] = sim_le32(cfg[ci]); /* config space is little-endian */
	cr_expect_eq(cfg[3], VDEV_GPU_MAX_CAPSETS);
}

Test(gpu3d, capset_info_and_capsets)
{
	struct msg m = hdr(CMD_GET_CAPSET_INFO);
	struct resp r;
	p32(&m, 1);
	p32(&m, 0);
	r = sendr(&m, 40);
	cr_expect_eq(r.type, OK_CAPSET_INFO);
	cr_expect_eq(r.used, 40);
	cr_expect_eq(g32(&r, 24), 2, "id");
	cr_expect_eq(g32(&r, 28), 2, "max_version");
	cr_expect_eq(g32(&r, 32), CAP2_SIZE, "max_size");
	cr_expect_eq(g32(&r, 36), 0, "padding");
	m = hdr(CMD_GET_CAPSET_INFO);
	p32(&m, 2);
	p32(&m, 0);
	cr_expect_eq(sendr(&m, 40).type, ERR_INVALID_PARAMETER, "index out of range");
	m = hdr(CMD_GET_CAPSET_INFO);
	p32(&m, 0xffffffffu);
	p32(&m, 0);
	cr_expect_eq(sendr(&m, 40).type, ERR_INVALID_PARAMETER);

	m = hdr(CMD_GET_CAPSET);
	p32(&m, 2);
	p32(&m, 2);
	r = sendr(&m, 24 + CAP2_SIZE);
	cr_expect_eq(r.type, OK_CAPSET);
	cr_expect_eq(r.used, 24 + CAP2_SIZE);
	for (uint32_t i = 0; i < CAP2_SIZE; i++)
		cr_assert_eq(r.d[24 + i], (uint8_t)(2 * 16 + 2 + i), "byte %u", i);
	m = hdr(CMD_GET_CAPSET);
	p32(&m, 1);
	p32(&m, 0);
	r = sendr(&m, 24 + CAP1_SIZE);
	cr_expect_eq(r.type, OK_CAPSET);
	cr_expect_eq(r.d[24], 16);
	m = hdr(CMD_GET_CAPSET);
	p32(&m, 1);
	p32(&m, 2);
	cr_expect_eq(sendr(&m, 24 + CAP1_SIZE).type, ERR_INVALID_PARAMETER, "version too new");
	m = hdr(CMD_GET_CAPSET);
	p32(&m, 4);
	p32(&m, 0);
	cr_expect_eq(sendr(&m, 4096).type, ERR_INVALID_PARAMETER, "unknown capset");
	m = hdr(CMD_GET_CAPSET);
	p32(&m, 2);
	p32(&m, 1);
	r = sendr(&m, 24 + CAP2_SIZE - 1);
	cr_expect_eq(r.type, ERR_UNSPEC, "no room for the capset");
	cr_expect_eq(r.used, 24);
	fail_alloc = true;
	m = hdr(CMD_GET_CAPSET);
	p32(&m, 2);
	p32(&m, 1);
	cr_expect_eq(sendr(&m, 24 + CAP2_SIZE).type, ERR_OUT_OF_MEMORY);
	fail_alloc = false;
}

/* ---- contexts ---- */

Test(gpu3d, contexts_are_validated)
{
	cr_expect_eq(ctx_create(0, 0), ERR_INVALID_CONTEXT_ID, "id 0");
	cr_expect_eq(ctx_create(1, 2), OK_NODATA, "capset VIRGL2");
	cr_expect_eq(R.last_ctx_init, 2);
	cr_expect_eq(ctx_create(1, 1), ERR_INVALID_CONTEXT_ID, "duplicate");
	cr_expect_eq(ctx_create(2, 4), ERR_INVALID_PARAMETER, "capset the renderer lacks");
	cr_expect_eq(ctx_create(2, 0x102), ERR_INVALID_PARAMETER, "bits above the capset id");
	cr_expect_eq(ctx_create(2, 0), OK_NODATA, "default type");
	cr_expect_eq(R.contexts, 2);
	cr_expect_eq(ctx_destroy(3), ERR_INVALID_CONTEXT_ID);
	cr_expect_eq(ctx_destroy(0), ERR_INVALID_CONTEXT_ID);
	cr_expect_eq(ctx_destroy(1), OK_NODATA);
	cr_expect_eq(ctx_destroy(1), ERR_INVALID_CONTEXT_ID, "destroyed");
	cr_expect_eq(R.contexts, 1);
	/* A full context table. */
	for (uint32_t i = 10; i < 10 + NCTX - 1; i++)
		cr_expect_eq(ctx_create(i, 0), OK_NODATA);
	cr_expect_eq(ctx_create(99, 0), ERR_OUT_OF_MEMORY);
}

Test(gpu3d, ctx_attach_and_detach_resources)
{
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	cr_assert_eq(create_tex(5, 16, 16), OK_NODATA);
	cr_expect_eq(ctx_res(true, 1, 5), OK_NODATA);
	cr_expect_eq(R.ctx_attaches, 1);
	cr_expect_eq(ctx_res(true, 2, 5), ERR_INVALID_CONTEXT_ID);
	cr_expect_eq(ctx_res(true, 0, 5), ERR_INVALID_CONTEXT_ID);
	cr_expect_eq(ctx_res(true, 1, 6), ERR_INVALID_RESOURCE_ID);
	cr_expect_eq(ctx_res(false, 1, 5), OK_NODATA);
	cr_expect_eq(R.ctx_detaches, 1);
	cr_expect_eq(ctx_res(false, 1, 0), ERR_INVALID_RESOURCE_ID);
	cr_expect_eq(R.ctx_attaches + R.ctx_detaches, 2, "errors never reach the renderer");
}

/* ---- 3D resources ---- */

Test(gpu3d, create_3d_reaches_the_renderer)
{
	struct vdev_gpu_resource_3d a = {.target = VDEV_GPU_TARGET_2D_ARRAY, .format = 67,
					 .bind = 0x1a, .width = 256, .height = 128, .depth = 1,
					 .array_size = 4, .last_level = 8, .nr_samples = 0,
					 .flags = 3};
	cr_expect_eq(create_3d(7, &a), OK_NODATA);
	cr_expect_eq(memcmp(&R.last_3d, &a, sizeof(a)), 0, "arguments passed through");
	cr_expect_eq(create_3d(7, &a), ERR_INVALID_RESOURCE_ID, "duplicate");
	cr_expect_eq(create_3d(0, &a), ERR_INVALID_RESOURCE_ID, "id 0");
	/* One id space with 2D resources. */
	struct msg m = hdr(CMD_RESOURCE_CREATE_2D);
	p32(&m, 7);
	p32(&m, XRGB);
	p32(&m, 4);
	p32(&m, 4);
	cr_expect_eq(send(&m), ERR_INVALID_RESOURCE_ID, "2D with a 3D id");
	m.d[24] = 8;
	cr_expect_eq(send(&m), OK_NODATA);
	cr_expect_eq(create_3d(8, &a), ERR_INVALID_RESOURCE_ID, "3D with a 2D id");
	cr_expect_eq(R.creates_3d, 1);
	cr_expect_eq(stats().resources, 2);
	cr_expect_gt(stats().renderer_bytes, 256u * 128 * 4 * 4, "charged");
	cr_expect_eq(unref(7), OK_NODATA);
	cr_expect_eq(R.unrefs, 1);
	cr_expect_eq(stats().renderer_bytes, 0, "refunded");
	cr_expect_eq(unref(8), OK_NODATA);
	cr_expect_eq(R.unrefs, 1, "2D resources are the model's own");
}

Test(gpu3d, create_3d_rejects_absurd_resources)
{
	const struct vdev_gpu_resource_3d ok = tex2d(64, 64, 6);
	struct vdev_gpu_resource_3d bad[32];
	unsigned n = 0;
#define BAD(field, value)                                                                  \
	do {                                                                                \
		bad[n] = ok;                                                                \
		bad[n].field = value;                                                       \
		n++;                                                                        \
	} while (0)
	BAD(target, 9);
	BAD(target, 0xffffffffu);
	BAD(format, 0);
	BAD(width, 0);
	BAD(height, 0);
	BAD(depth, 0);
	BAD(array_size, 0);
	BAD(width, 16385);
	BAD(height, 0x80000000u);
	BAD(depth, 2);
	BAD(array_size, 2);
	BAD(last_level, 7); /* 64: levels 0..6 */
	BAD(last_level, 0xffffffffu);
	BAD(nr_samples, 33);
	BAD(nr_samples, 4); /* with mips */
	bad[n] = ok, bad[n].target = VDEV_GPU_TARGET_BUFFER, bad[n].last_level = 0,
	bad[n].height = 2, n++;
	bad[n] = ok, bad[n].target = VDEV_GPU_TARGET_1D, bad[n].last_level = 0, bad[n].height = 2,
	n++;
	bad[n] = ok, bad[n].target = VDEV_GPU_TARGET_RECT, n++; /* RECT has no mips */
	bad[n] = ok, bad[n].target = VDEV_GPU_TARGET_CUBE, n++; /* array_size must be 6 */
	bad[n] = ok, bad[n].target = VDEV_GPU_TARGET_CUBE, bad[n].array_size = 6, bad[n].height = 32,
	n++; /* not square */
	bad[n] = ok, bad[n].target = VDEV_GPU_TARGET_CUBE_ARRAY, bad[n].array_size = 9, n++;
	bad[n] = ok, bad[n].target = VDEV_GPU_TARGET_2D_ARRAY, bad[n].array_size = 2049, n++;
	bad[n] = ok, bad[n].target = VDEV_GPU_TARGET_3D, bad[n].depth = 2049, n++;
	bad[n] = ok, bad[n].target = VDEV_GPU_TARGET_3D, bad[n].array_size = 2, bad[n].depth = 2,
	n++;
	for (unsigned i = 0; i < n; i++)
		cr_expect_eq(create_3d(1, &bad[i]), ERR_INVALID_PARAMETER, "case %u", i);
	cr_expect_eq(R.creates_3d, 0, "nothing reached the renderer");
	/* And the good ones of each target. */
	struct vdev_gpu_resource_3d good[] = {
		{.target = 0, .format = 64, .width = 1u << 20, .height = 1, .depth = 1, .array_size = 1},
		{.target = 1, .format = 1, .width = 4096, .height = 1, .depth = 1, .array_size = 1,
		 .last_level = 12},
		{.target = 3, .format = 1, .width = 16, .height = 16, .depth = 32, .array_size = 1,
		 .last_level = 5},
		{.target = 4, .format = 1, .width = 32, .height = 32, .depth = 1, .array_size = 6},
		{.target = 5, .format = 1, .width = 30, .height = 20, .depth = 1, .array_size = 1},
		{.target = 6, .format = 1, .width = 32, .height = 1, .depth = 1, .array_size = 8},
		{.target = 8, .format = 1, .width = 8, .height = 8, .depth = 1, .array_size = 12},
		{.target = 2, .format = 1, .width = 64, .height = 64, .depth = 1, .array_size = 1,
		 .nr_samples = 4},
	};
	for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_expect_eq(create_3d(10 + i, &good[i]), OK_NODATA, "good %u", i);
		cr_expect_eq(unref(10 + i), OK_NODATA);
	}
}

Test(gpu3d, renderer_failures_are_answered_and_refunded)
{
	R.rc_create_3d = VDEV_ENOMEM;
	cr_expect_eq(create_tex(1, 16, 16), ERR_OUT_OF_MEMORY);
	R.rc_create_3d = VDEV_EINVAL;
	cr_expect_eq(create_tex(1, 16, 16), ERR_INVALID_PARAMETER);
	cr_expect_eq(stats().renderer_bytes, 0);
	cr_expect_eq(stats().resources, 0);
	R.rc_create_3d = 0;
	cr_expect_eq(create_tex(1, 16, 16), OK_NODATA, "the id was not taken");
}

Test(gpu3d, budget_covers_renderer_resources)
{
	unsigned made = 0;
	/* 1024 x 1024 x 4 = 4 MiB: the whole budget; two cannot fit. */
	cr_expect_eq(create_tex(1, 1024, 1024), OK_NODATA);
	cr_expect_eq(create_tex(2, 1024, 1024), ERR_OUT_OF_MEMORY);
	cr_expect_eq(create_tex(2, 16384, 16384), ERR_OUT_OF_MEMORY, "huge");
	cr_expect_eq(ctx_create(1, 0), OK_NODATA);
	cr_expect_eq(blob(3, 1, HOST3D, MAPPABLE, 4096, 0), ERR_OUT_OF_MEMORY, "blobs too");
	cr_expect_eq(attach(1, 4096), ERR_OUT_OF_MEMORY, "and host allocations");
	cr_expect_eq(unref(1), OK_NODATA);
	cr_expect_eq(stats().renderer_bytes, 0);
	for (uint32_t id = 1; id <= NRES + 1; id++)
		made += create_tex(id, 64, 64) == OK_NODATA;
	cr_expect_eq(made, NRES, "the resource table bounds them as well");
	cr_expect_geq(stats().out_of_memory, 5);
}

Test(gpu3d, backing_of_3d_resources)
{
	cr_assert_eq(create_tex(1, 16, 16), OK_NODATA);
	cr_expect_eq(attach(1, 16 * 16 * 4), OK_NODATA);
	cr_expect_eq(R.backings, 1);
	cr_expect_eq(R.last_backing_bytes, 16 * 16 * 4);
	cr_expect_eq(attach(1, 4096), ERR_UNSPEC, "already attached");
	cr_expect_eq(detach(1), OK_NODATA);
	cr_expect_eq(R.backings, 0);
	cr_expect_eq(detach(1), ERR_UNSPEC, "nothing attached");
	cr_expect_eq(attach(1, 1024), OK_NODATA);
	cr_expect_eq(unref(1), OK_NODATA);
	cr_expect_eq(R.detaches, 2, "unref detaches first");
	cr_expect_eq(R.backings, 0);
}

Test(gpu3d, transfers_are_checked_against_the_resource)
{
	struct vdev_gpu_resource_3d arr = {.target = VDEV_GPU_TARGET_2D_ARRAY, .format = XRGB,
					   .width = 64, .height = 32, .depth = 1, .array_size = 3,
					   .last_level = 2};
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	cr_assert_eq(create_3d(1, &arr), OK_NODATA);
	cr_expect_eq(transfer(true, 1, (struct vdev_gpu_box){0, 0, 0, 4, 4, 1}, 0, 0), ERR_UNSPEC,
		     "no backing");
	cr_assert_eq(attach(1, 64 * 32 * 4 * 3), OK_NODATA);
	cr_expect_eq(transfer(true, 1, (struct vdev_gpu_box){8, 4, 1, 56, 28, 2}, 256, 0), OK_NODATA);
	cr_expect_eq(R.transfers_to, 1);
	cr_expect_eq(R.last_transfer.box.x, 8);
	cr_expect_eq(R.last_transfer.box.d, 2);
	cr_expect_eq(R.last_transfer.offset, 256);
	cr_expect_eq(R.last_transfer.stride, 256);
	cr_expect_eq(R.last_transfer.ctx_id, 1);
	cr_expect_eq(transfer(false, 1, (struct vdev_gpu_box){0, 0, 0, 16, 8, 3}, 0, 2), OK_NODATA,
		     "level 2 is 16 x 8");
	cr_expect_eq(R.transfers_from, 1);
	cr_expect_eq(R.last_transfer.level, 2);
	struct vdev_gpu_box bad[] = {
		{0, 0, 0, 65, 1, 1},          {64, 0, 0, 1, 1, 1}, {0, 0, 0, 1, 33, 1},
		{0, 0, 3, 1, 1, 1},           {0, 0, 2, 1, 1, 2},  {0xffffffffu, 0, 0, 2, 1, 1},
		{0, 0xfffffff0u, 0, 1, 0x20u, 1},
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(transfer(true, 1, bad[i], 0, 0), ERR_INVALID_PARAMETER, "box %u", i);
		cr_expect_eq(transfer(false, 1, bad[i], 0, 0), ERR_INVALID_PARAMETER, "box %u", i);
	}
	cr_expect_eq(transfer(true, 1, (struct vdev_gpu_box){0, 0, 0, 17, 1, 1}, 0, 2),
		     ERR_INVALID_PARAMETER, "outside level 2");
	cr_expect_eq(transfer(true, 1, (struct vdev_gpu_box){0, 0, 0, 1, 1, 1}, 0, 3),
		     ERR_INVALID_PARAMETER, "no level 3");
	cr_expect_eq(transfer(true, 1, (struct vdev_gpu_box){0, 0, 0, 1, 1, 1}, 64 * 32 * 4 * 3 + 1,
			      0),
		     ERR_INVALID_PARAMETER, "offset past the backing");
	cr_expect_eq(transfer(true, 2, (struct vdev_gpu_box){0, 0, 0, 1, 1, 1}, 0, 0),
		     ERR_INVALID_RESOURCE_ID);
	struct msg m = transfer_msg(CMD_TRANSFER_TO_HOST_3D, 3, 1, (struct vdev_gpu_box){0, 0, 0, 1, 1, 1},
				    0, 0, 0, 0);
	cr_expect_eq(send(&m), ERR_INVALID_CONTEXT_ID, "unknown context");
	m = transfer_msg(CMD_TRANSFER_TO_HOST_3D, 0, 1, (struct vdev_gpu_box){0, 0, 0, 1, 1, 1}, 0,
			 0, 0, 0);
	cr_expect_eq(send(&m), OK_NODATA, "ctx 0: no context");
	/* A 2D resource is not the renderer's. */
	m = hdr(CMD_RESOURCE_CREATE_2D);
	p32(&m, 9);
	p32(&m, XRGB);
	p32(&m, 4);
	p32(&m, 4);
	cr_assert_eq(send(&m), OK_NODATA);
	cr_expect_eq(transfer(true, 9, (struct vdev_gpu_box){0, 0, 0, 1, 1, 1}, 0, 0),
		     ERR_INVALID_RESOURCE_ID);
	cr_expect_eq(R.transfers_to, 2);
	cr_expect_eq(R.transfers_from, 1);
	/* Truncated request. */
	m = transfer_msg(CMD_TRANSFER_TO_HOST_3D, 1, 1, (struct vdev_gpu_box){0, 0, 0, 1, 1, 1}, 0,
			 0, 0, 0);
	m.n -= 4;
	cr_expect_eq(send(&m), ERR_UNSPEC);
}

Test(gpu3d, transfer_to_host_2d_of_a_3d_resource_goes_to_the_renderer)
{
	struct msg m;
	cr_assert_eq(create_tex(1, 32, 16), OK_NODATA);
	m = hdr(CMD_TRANSFER_TO_HOST_2D);
	p32(&m, 4);
	p32(&m, 2);
	p32(&m, 8);
	p32(&m, 8);
	p64(&m, 64);
	p32(&m, 1);
	p32(&m, 0);
	cr_expect_eq(send(&m), ERR_UNSPEC, "no backing");
	cr_assert_eq(attach(1, 32 * 16 * 4), OK_NODATA);
	cr_expect_eq(send(&m), OK_NODATA);
	cr_expect_eq(R.transfers_to, 1);
	cr_expect_eq(R.last_transfer.box.x, 4);
	cr_expect_eq(R.last_transfer.box.h, 8);
	cr_expect_eq(R.last_transfer.box.d, 1);
	cr_expect_eq(R.last_transfer.offset, 64);
	cr_expect_eq(R.last_transfer.level, 0);
	m.d[24 + 8] = 29; /* x 4 + width 29 > 32 */
	cr_expect_eq(send(&m), ERR_INVALID_PARAMETER);
	cr_expect_eq(R.transfers_to, 1);
}

Test(gpu3d, transfer_boxes_per_target)
{
	struct vdev_gpu_resource_3d a1 = {.target = VDEV_GPU_TARGET_1D_ARRAY, .format = 1,
					  .width = 32, .height = 1, .depth = 1, .array_size = 4};
	struct vdev_gpu_resource_3d a3 = {.target = VDEV_GPU_TARGET_3D, .format = 1, .width = 8,
					  .height = 8, .depth = 8, .array_size = 1, .last_level = 3};
	struct vdev_gpu_resource_3d ab = {.target = VDEV_GPU_TARGET_BUFFER, .format = 64,
					  .width = 1000, .height = 1, .depth = 1, .array_size = 1};
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	cr_assert_eq(create_3d(1, &a1), OK_NODATA);
	cr_assert_eq(create_3d(2, &a3), OK_NODATA);
	cr_assert_eq(create_3d(3, &ab), OK_NODATA);
	for (uint32_t id = 1; id <= 3; id++)
		cr_assert_eq(attach(id, 4096), OK_NODATA);
	cr_expect_eq(transfer(true, 1, (struct vdev_gpu_box){0, 0, 0, 32, 4, 1}, 0, 0), OK_NODATA,
		     "1D array: y is the layer");
	cr_expect_eq(transfer(true, 1, (struct vdev_gpu_box){0, 0, 0, 32, 5, 1}, 0, 0),
		     ERR_INVALID_PARAMETER);
	cr_expect_eq(transfer(true, 2, (struct vdev_gpu_box){0, 0, 0, 1, 1, 1}, 0, 3), OK_NODATA);
	cr_expect_eq(transfer(true, 2, (struct vdev_gpu_box){0, 0, 0, 1, 1, 2}, 0, 3),
		     ERR_INVALID_PARAMETER, "depth minified");
	cr_expect_eq(transfer(true, 3, (struct vdev_gpu_box){10, 0, 0, 990, 1, 1}, 0, 0), OK_NODATA);
	cr_expect_eq(transfer(true, 3, (struct vdev_gpu_box){10, 0, 0, 991, 1, 1}, 0, 0),
		     ERR_INVALID_PARAMETER);
	cr_expect_eq(transfer(true, 3, (struct vdev_gpu_box){0, 1, 0, 1, 1, 1}, 0, 0),
		     ERR_INVALID_PARAMETER, "a buffer has one row");
}

/* ---- SUBMIT_3D ---- */

Test(gpu3d, submit_copies_the_stream_for_the_renderer)
{
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	cr_expect_eq(submit(1, 64, 64), OK_NODATA);
	cr_expect_eq(R.submits, 1);
	cr_expect_eq(R.submit_size, 64);
	cr_expect_eq(R.submit_ctx, 1);
	uint32_t w;
	w = sim_get_le32(R.submit + 60);
	cr_expect_eq(w, 0xc0de000fu);
	cr_expect_eq(submit(1, 32, 64), OK_NODATA, "less than the payload is fine");
	cr_expect_eq(R.submit_size, 32);
	cr_expect_eq(submit(1, 68, 64), ERR_INVALID_PARAMETER, "beyond the payload");
	cr_expect_eq(submit(1, 0xfffffffcu, 64), ERR_INVALID_PARAMETER);
	cr_expect_eq(submit(1, 6, 64), ERR_INVALID_PARAMETER, "not in dwords");
	cr_expect_eq(submit(2, 4, 4), ERR_INVALID_CONTEXT_ID);
	cr_expect_eq(submit(0, 4, 4), ERR_INVALID_CONTEXT_ID);
	cr_expect_eq(submit(1, SUBMIT_MAX + 4, SUBMIT_MAX + 4), ERR_OUT_OF_MEMORY,
		     "bigger than the scratch buffer");
	cr_expect_eq(submit(1, 0, 0), OK_NODATA);
	R.rc_submit = VDEV_EINVAL;
	cr_expect_eq(submit(1, 4, 4), ERR_INVALID_PARAMETER, "the renderer refused");
	cr_expect_eq(R.submits, 3);
	cr_expect_eq(stats().submits, 3);
}

Test(gpu3d, submit_without_scratch_uses_the_budget)
{
	T.cfg.submit_buf = NULL;
	T.cfg.submit_buf_size = 0;
	restart(ALL);
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	cr_expect_eq(submit(1, 4096, 4096), OK_NODATA);
	cr_expect_eq(live_allocs, 0, "temporary copy freed");
	fail_alloc = true;
	cr_expect_eq(submit(1, 4, 4), ERR_OUT_OF_MEMORY);
	fail_alloc = false;
}

/* The stream split over several descriptors, and a request whose header is
 * alone in the first one. */
Test(gpu3d, submit_across_segments)
{
	struct msg m = submit_msg(1, 256, 256);
	struct pend p;
	struct resp r;
	uint64_t a = sim_alloc(&T.m, 32, 8), b = sim_straddle_gpa(&T.m, 100);
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	memcpy(sim_ptr(&T.m, a), m.d, 32);
	for (uint32_t i = 0; i < 256; i++)
		*(uint8_t *)sim_ptr(&T.m, b + i) = m.d[32 + i];
	p.rs = sim_alloc(&T.m, 24, 8);
	p.rlen = 24;
	struct drv_buf bufs[3] = {{a, 32, false}, {b, 256, false}, {p.rs, 24, true}};
	cr_assert_eq(drv_add(&T.q[0], bufs, 3, false, &p), 0);
	kick(0);
	cr_assert_eq(used(&r), &p);
	cr_expect_eq(r.type, OK_NODATA);
	cr_expect_eq(memcmp(R.submit, m.d + 32, 256), 0);
}

/* ---- host blobs and the host visible region ---- */

Test(gpu3d, host_blobs_are_validated)
{
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	cr_expect_eq(blob(1, 1, HOST3D, MAPPABLE, 8192, 0), OK_NODATA);
	cr_expect_eq(R.blobs, 1);
	cr_expect_eq(R.last_blob.blob_id, 0x77);
	cr_expect_eq(R.last_blob.size, 8192);
	cr_expect_eq(R.last_blob.ctx_id, 1);
	cr_expect_eq(R.last_blob.blob_mem, HOST3D);
	cr_expect_eq(R.last_blob.nsegs, 0);
	cr_expect_eq(blob(1, 1, HOST3D, MAPPABLE, 8192, 0), ERR_INVALID_RESOURCE_ID, "duplicate");
	cr_expect_eq(blob(2, 2, HOST3D, MAPPABLE, 8192, 0), ERR_INVALID_CONTEXT_ID);
	cr_expect_eq(blob(2, 0, HOST3D, MAPPABLE, 8192, 0), ERR_INVALID_CONTEXT_ID);
	cr_expect_eq(blob(2, 1, HOST3D, MAPPABLE, 0, 0), ERR_INVALID_PARAMETER, "size 0");
	cr_expect_eq(blob(2, 1, HOST3D, MAPPABLE, 4097, 0), ERR_INVALID_PARAMETER, "not pages");
	cr_expect_eq(blob(2, 1, HOST3D, 8, 4096, 0), ERR_INVALID_PARAMETER, "unknown flag");
	cr_expect_eq(blob(2, 1, 4, 0, 4096, 0), ERR_INVALID_PARAMETER, "unknown blob_mem");
	cr_expect_eq(blob(2, 1, HOST3D, 0, 8192, 2), ERR_INVALID_PARAMETER, "host-only with pages");
	cr_expect_eq(blob(2, 1, HOST3D, 0, UINT64_C(1) << 40, 0), ERR_OUT_OF_MEMORY, "huge");
	cr_expect_eq(blob(2, 1, HOST3D, 0, UINT64_MAX & ~UINT64_C(4095), 0), ERR_OUT_OF_MEMORY);
	cr_expect_eq(R.blobs, 1);
	cr_expect_eq(blob(2, 1, HOST3D_GUEST, MAPPABLE, 8192, 2), OK_NODATA);
	cr_expect_eq(R.last_blob_seg_bytes, 8192, "the guest pages are passed on");
	cr_expect_eq(blob(3, 1, HOST3D_GUEST, 0, 8192, 0), OK_NODATA, "pages attached later");
	cr_expect_eq(attach(3, 8192), OK_NODATA);
	cr_expect_eq(R.backings, 2);
	cr_expect_eq(attach(1, 8192), ERR_INVALID_PARAMETER, "host-only blob: no pages");
	cr_expect_eq(stats().renderer_bytes, 3 * 8192);
	cr_expect_eq(unref(3), OK_NODATA);
	cr_expect_eq(R.backings, 1);
}

Test(gpu3d, guest_blobs_reach_the_renderer_with_virgl)
{
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	cr_expect_eq(blob(1, 0, VDEV_GPU_BLOB_MEM_GUEST, 0, 8192, 2), OK_NODATA, "ctx 0 is fine");
	cr_expect_eq(R.blobs, 1);
	cr_expect_eq(R.last_blob.blob_mem, VDEV_GPU_BLOB_MEM_GUEST);
	cr_expect_eq(R.last_blob_seg_bytes, 8192);
	cr_expect_eq(R.backings, 1);
	cr_expect_eq(blob(2, 1, VDEV_GPU_BLOB_MEM_GUEST, MAPPABLE, 100, 0), OK_NODATA,
		     "any size, pages later");
	cr_expect_eq(attach(2, 4096), OK_NODATA);
	cr_expect_eq(R.backings, 2);
	cr_expect_eq(blob(3, 3, VDEV_GPU_BLOB_MEM_GUEST, 0, 4096, 0), ERR_INVALID_CONTEXT_ID);
	cr_expect_eq(map_blob(2, 0).type, ERR_INVALID_PARAMETER, "guest memory is not mapped");
	cr_expect_eq(ctx_res(true, 1, 1), OK_NODATA);
	cr_expect_eq(R.ctx_attaches, 1);
	cr_expect_eq(detach(2), OK_NODATA);
	cr_expect_eq(R.backings, 1);
	cr_expect_eq(unref(1), OK_NODATA);
	cr_expect_eq(R.backings, 0);
	cr_expect_eq(R.resources, 1);
	/* Without VIRGL they stay the model's own. */
	restart(ALL & ~G(VIRGL));
	int before = R.blobs;
	cr_expect_eq(blob(1, 0, VDEV_GPU_BLOB_MEM_GUEST, 0, 4096, 1), OK_NODATA);
	cr_expect_eq(R.blobs, before);
}

Test(gpu3d, map_and_unmap_blobs)
{
	struct resp r;
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	cr_assert_eq(blob(1, 1, HOST3D, MAPPABLE, 8192, 0), OK_NODATA);
	cr_assert_eq(blob(2, 1, HOST3D, MAPPABLE, 4096, 0), OK_NODATA);
	cr_assert_eq(blob(3, 1, HOST3D, 0, 4096, 0), OK_NODATA);
	cr_assert_eq(create_tex(4, 16, 16), OK_NODATA);
	r = map_blob(1, 4096);
	cr_expect_eq(r.type, OK_MAP_INFO);
	cr_expect_eq(r.used, 32);
	cr_expect_eq(g32(&r, 24), VDEV_GPU_MAP_CACHE_WC, "the renderer's caching type");
	cr_expect_eq(g32(&r, 28), 0, "padding");
	cr_expect_eq(R.shm_offset, 4096);
	cr_expect_eq(R.shm_size, 8192);
	cr_expect_eq(R.shm_map_info, VDEV_GPU_MAP_CACHE_WC);
	cr_expect_eq(stats().mapped_blobs, 1);
	cr_expect_eq(map_blob(1, 65536).type, ERR_INVALID_PARAMETER, "already mapped");
	cr_expect_eq(map_blob(2, 8192).type, ERR_INVALID_PARAMETER, "overlaps blob 1");
	cr_expect_eq(map_blob(2, 0).type, OK_MAP_INFO, "just before it");
	cr_expect_eq(unmap_blob(2), OK_NODATA);
	cr_expect_eq(map_blob(2, 12288).type, OK_MAP_INFO, "just after it");
	cr_expect_eq(unmap_blob(2), OK_NODATA);
	cr_expect_eq(map_blob(2, 100).type, ERR_INVALID_PARAMETER, "misaligned");
	cr_expect_eq(map_blob(2, HV_SIZE).type, ERR_INVALID_PARAMETER, "outside");
	cr_expect_eq(map_blob(2, HV_SIZE - 4096).type, OK_MAP_INFO, "last page");
	cr_expect_eq(unmap_blob(2), OK_NODATA);
	cr_expect_eq(map_blob(1 + 1, UINT64_MAX & ~UINT64_C(4095)).type, ERR_INVALID_PARAMETER,
		     "wraps");
	cr_expect_eq(map_blob(3, 65536).type, ERR_INVALID_PARAMETER, "not mappable");
	cr_expect_eq(map_blob(4, 65536).type, ERR_INVALID_PARAMETER, "not a blob");
	cr_expect_eq(map_blob(9, 65536).type, ERR_INVALID_RESOURCE_ID);
	R.rc_map = VDEV_EIO;
	cr_expect_eq(map_blob(2, 65536).type, ERR_UNSPEC, "the renderer failed");
	R.rc_map = 0;
	R.rc_shm_map = VDEV_ENOMEM;
	cr_expect_eq(map_blob(2, 65536).type, ERR_OUT_OF_MEMORY, "the integrator failed");
	cr_expect_eq(R.maps, 1, "renderer mapping undone");
	R.rc_shm_map = 0;
	cr_expect_eq(unmap_blob(2), ERR_INVALID_PARAMETER, "not mapped");
	cr_expect_eq(unmap_blob(9), ERR_INVALID_RESOURCE_ID);
	cr_expect_eq(R.shm_maps, 1);
	cr_expect_eq(unref(1), OK_NODATA, "unref of a mapped blob unmaps it");
	cr_expect_eq(R.shm_maps, 0);
	cr_expect_eq(R.maps, 0);
	cr_expect_eq(stats().mapped_blobs, 0);
}

Test(gpu3d, map_needs_the_region)
{
	T.cfg.host_visible_size = 0;
	restart(ALL);
	cr_expect_eq(vdev_dev_num_shm(vdev_gpu_dev(&T.gpu)), 0);
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	cr_assert_eq(blob(1, 1, HOST3D, MAPPABLE, 4096, 0), OK_NODATA);
	cr_expect_eq(map_blob(1, 0).type, ERR_UNSPEC);
	cr_expect_eq(unmap_blob(1), ERR_UNSPEC);
}

/* ---- scanouts and cursors of 3D resources ---- */

Test(gpu3d, scanout_of_a_3d_resource_reads_it_back)
{
	struct msg m;
	cr_assert_eq(create_tex(1, 64, 32), OK_NODATA);
	m = hdr(CMD_SET_SCANOUT);
	p32(&m, 8);
	p32(&m, 4);
	p32(&m, 40);
	p32(&m, 20);
	p32(&m, 0);
	p32(&m, 1);
	cr_expect_eq(send(&m), OK_NODATA);
	cr_expect(S.enabled);
	cr_expect_eq(R.reads, 1);
	cr_expect_eq(S.px0, 1u << 24 | 4u << 12 | 8u, "pixel (8, 4) from the renderer");
	m = hdr(CMD_RESOURCE_FLUSH);
	p32(&m, 10);
	p32(&m, 6);
	p32(&m, 100);
	p32(&m, 100);
	p32(&m, 1);
	p32(&m, 0);
	cr_expect_eq(send(&m), ERR_INVALID_PARAMETER, "outside the resource");
	m.d[24 + 8] = 4;
	m.d[24 + 12] = 4;
	cr_expect_eq(send(&m), OK_NODATA);
	cr_expect_eq(R.reads, 2);
	cr_expect_eq(R.last_read.x, 10);
	cr_expect_eq(R.last_read.width, 4);
	cr_expect_eq(S.updates, 1);
	cr_expect_eq(S.damage.x, 2, "scanout coordinates");
	cr_expect_eq(S.px0, 1u << 24 | 6u << 12 | 10u);
	/* A buffer cannot be shown. */
	struct vdev_gpu_resource_3d b = {.target = VDEV_GPU_TARGET_BUFFER, .format = XRGB,
					 .width = 4096, .height = 1, .depth = 1, .array_size = 1};
	cr_assert_eq(create_3d(2, &b), OK_NODATA);
	m = hdr(CMD_SET_SCANOUT);
	p32(&m, 0);
	p32(&m, 0);
	p32(&m, 1);
	p32(&m, 1);
	p32(&m, 0);
	p32(&m, 2);
	cr_expect_eq(send(&m), ERR_INVALID_RESOURCE_ID);
	cr_expect_eq(unref(1), OK_NODATA);
	cr_expect_not(S.enabled, "unref disables the scanout");
}

Test(gpu3d, scanout_of_a_3d_resource_needs_read_rect)
{
	static struct vdev_gpu_renderer_ops r;
	r = fake_ops;
	r.read_rect = NULL;
	T.cfg.renderer = &r;
	restart(ALL);
	cr_assert_eq(create_tex(1, 64, 32), OK_NODATA);
	struct msg m = hdr(CMD_SET_SCANOUT);
	p32(&m, 0);
	p32(&m, 0);
	p32(&m, 64);
	p32(&m, 32);
	p32(&m, 0);
	p32(&m, 1);
	cr_expect_eq(send(&m), ERR_INVALID_RESOURCE_ID);
}

Test(gpu3d, cursor_of_a_3d_resource)
{
	struct msg m = hdr(CMD_UPDATE_CURSOR);
	struct pend p;
	uint32_t l;
	cr_assert_eq(create_tex(1, 64, 64), OK_NODATA);
	p32(&m, 0);
	p32(&m, 10);
	p32(&m, 10);
	p32(&m, 0);
	p32(&m, 1);
	p32(&m, 0);
	p32(&m, 0);
	p32(&m, 0);
	uint64_t rq = sim_alloc(&T.m, m.n, 8);
	memcpy(sim_ptr(&T.m, rq), m.d, m.n);
	struct drv_buf b = {rq, m.n, false};
	cr_assert_eq(drv_add(&T.q[1], &b, 1, false, &p.tok), 0);
	if (drv_kick_prepare(&T.q[1]))
		T.tr.ops->notify(T.tr.t, 1, false, 0);
	cr_assert_eq(drv_get_used(&T.q[1], &l), &p.tok);
	cr_expect_eq(S.cursors, 1);
	cr_expect_eq(S.cursor_px0, 1u << 24 | 2u << 12 | 1u);
}

/* ---- fences ---- */

/* Queue a fenced command without waiting for its answer. */
static void add_fenced(uint32_t type, uint32_t ctx, bool ring, uint8_t ring_idx, uint64_t fence,
		       struct pend *p)
{
	struct msg m = hdr_full(type, FENCE | (ring ? RING_IDX : 0), fence, ctx, ring_idx);
	if (type == CMD_SUBMIT_3D) {
		p32(&m, 4);
		p32(&m, 0);
		p32(&m, 0x1234);
	}
	add(&m, 24, p);
}

static void expect_answer(struct pend *want, uint64_t fence)
{
	struct resp r;
	struct pend *got = used(&r);
	cr_assert_eq(got, want, "expected the answer of fence %llu", (unsigned long long)fence);
	cr_expect_eq(r.used, 24);
	cr_expect_eq(r.type, OK_NODATA);
	cr_expect(r.flags & FENCE);
	cr_expect_eq(r.fence, fence);
}

static void expect_nothing(void)
{
	struct resp r;
	cr_assert_null(used(&r), "nothing answered yet");
}

Test(gpu3d, fenced_submit_is_answered_when_the_fence_retires)
{
	struct pend p, q;
	struct resp r;
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	add_fenced(CMD_SUBMIT_3D, 1, false, 0, 42, &p);
	kick(0);
	expect_nothing();
	cr_expect_eq(R.nfences, 1);
	cr_expect_eq(R.fences[0].ring, GLOBAL);
	cr_expect_eq(R.fences[0].id, 42);
	cr_expect_eq(stats().fences_pending, 1);
	/* Later commands keep being served. */
	struct msg m = hdr(CMD_GET_DISPLAY_INFO);
	add(&m, 408, &q);
	kick(0);
	cr_assert_eq(used(&r), &q);
	cr_expect_eq(r.type, OK_DISPLAY_INFO);
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 0, GLOBAL, 41), 0, "not yet");
	expect_nothing();
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 0, GLOBAL, 42), 1);
	expect_answer(&p, 42);
	cr_expect_eq(stats().fences_pending, 0);
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 0, GLOBAL, 42), 0, "answered once");
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 5, 64, 1), 0, "bad ring");
}

/*
 * The guest offers a held response's buffer again (its fence has not
 * retired): the ring cannot be trusted, the device needs a reset, and the
 * held response is answered once when its fence retires, or never if the
 * driver resets the device first.
 */
static void held_buffer_offered_again(bool reset_first)
{
	struct pend p;
	uint16_t id = UINT16_MAX;

	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	add_fenced(CMD_SUBMIT_3D, 1, false, 0, 42, &p);
	kick(0);
	expect_nothing();
	for (uint16_t i = 0; i < T.q[0].size; i++)
		if (T.q[0].token[i] == &p)
			id = i;
	cr_assert_neq(id, UINT16_MAX);
	drv_offer_again(&T.q[0], id, &(struct drv_buf){p.rs, 24, true});
	T.tr.ops->notify(T.tr.t, 0, false, 0);
	cr_expect(T.tr.ops->get_status(T.tr.t) & 0x40, "DEVICE_NEEDS_RESET");
	cr_expect_eq(R.nfences, 1, "the command ran once");
	expect_nothing();
	if (reset_first) {
		T.tr.ops->set_status(T.tr.t, 0);
		cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 0, GLOBAL, 42), 0, "forgotten");
		expect_nothing();
		return;
	}
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 0, GLOBAL, 42), 1);
	expect_answer(&p, 42);
	expect_nothing();
}

Test(gpu3d, held_buffer_offered_again_is_answered_once) { held_buffer_offered_again(false); }
Test(gpu3d, held_buffer_offered_again_then_reset) { held_buffer_offered_again(true); }
Test(gpu3d, packed_held_buffer_offered_again_is_answered_once)
{
	restart(ALL | F(RING_PACKED));
	held_buffer_offered_again(false);
}

static void out_of_order_across_timelines(void)
{
	struct pend p[6];
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	cr_assert_eq(ctx_create(2, 0), OK_NODATA);
	add_fenced(CMD_SUBMIT_3D, 1, true, 0, 1, &p[0]); /* ctx 1 ring 0 */
	add_fenced(CMD_SUBMIT_3D, 1, true, 0, 2, &p[1]);
	add_fenced(CMD_SUBMIT_3D, 1, true, 1, 1, &p[2]); /* ctx 1 ring 1 */
	add_fenced(CMD_SUBMIT_3D, 2, true, 0, 5, &p[3]); /* ctx 2 ring 0 */
	add_fenced(CMD_SUBMIT_3D, 1, true, 0, 3, &p[4]);
	add_fenced(CMD_SUBMIT_3D, 2, true, 0, 6, &p[5]);
	kick(0);
	expect_nothing();
	cr_expect_eq(R.nfences, 6);
	cr_expect_eq(R.fences[2].ctx, 1);
	cr_expect_eq(R.fences[2].ring, 1);
	/* The renderer finishes ctx 2 first, then ctx 1 ring 1, then ring 0. */
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 2, 0, 5), 1);
	expect_answer(&p[3], 5);
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 1, 1, 1), 1);
	expect_answer(&p[2], 1);
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 1, 0, 2), 2, "1 and 2, not 3");
	expect_answer(&p[0], 1);
	expect_answer(&p[1], 2);
	expect_nothing();
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 1, 0, 100), 1);
	expect_answer(&p[4], 3);
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 2, 0, 6), 1);
	expect_answer(&p[5], 6);
	cr_expect_eq(stats().fences_pending, 0);
	cr_expect_eq(ctx_destroy(1), OK_NODATA);
	cr_expect_eq(ctx_destroy(2), OK_NODATA);
}

Test(gpu3d, fences_retire_out_of_order_across_timelines_in_order_within)
{
	out_of_order_across_timelines();
}

Test(gpu3d, fences_out_of_order_on_a_packed_ring)
{
	restart(ALL | F(RING_PACKED));
	cr_assert(T.neg & F(RING_PACKED));
	out_of_order_across_timelines();
}

/* Fence ids going backwards (a hostile or buggy driver): a response goes
 * back when nothing with a smaller or equal id on its line still waits. */
Test(gpu3d, fence_ids_going_backwards)
{
	struct pend p[4];
	struct resp r;
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	add_fenced(CMD_SUBMIT_3D, 1, true, 3, 10, &p[0]);
	add_fenced(CMD_SUBMIT_3D, 1, true, 3, 4, &p[1]);
	/* truncated UNREFs fail: no renderer fence */
	add_fenced(CMD_RESOURCE_UNREF, 1, true, 3, 6, &p[2]);
	add_fenced(CMD_RESOURCE_UNREF, 1, true, 3, 2, &p[3]); /* below everything waiting */
	kick(0);
	cr_assert_eq(used(&r), &p[3]);
	cr_expect_eq(r.type, ERR_UNSPEC);
	expect_nothing();
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 1, 3, 4), 2, "4 and 6 are below the waiting 10");
	expect_answer(&p[1], 4);
	cr_assert_eq(used(&r), &p[2], "6 waited for 4");
	cr_expect_eq(r.fence, 6);
	expect_nothing();
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 1, 3, 10), 1);
	expect_answer(&p[0], 10);
}

Test(gpu3d, failed_fenced_commands_keep_their_place)
{
	struct pend p[3];
	struct resp r;
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	add_fenced(CMD_SUBMIT_3D, 1, false, 0, 1, &p[0]);
	add_fenced(CMD_SUBMIT_3D, 9, false, 0, 2, &p[1]); /* unknown context */
	add_fenced(CMD_SUBMIT_3D, 1, false, 0, 3, &p[2]);
	kick(0);
	expect_nothing();
	cr_expect_eq(R.nfences, 2, "no renderer fence for the failed command");
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 0, GLOBAL, 1), 2);
	expect_answer(&p[0], 1);
	cr_assert_eq(used(&r), &p[1]);
	cr_expect_eq(r.type, ERR_INVALID_CONTEXT_ID);
	cr_expect_eq(r.fence, 2);
	cr_expect(r.flags & FENCE);
	expect_nothing();
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 0, GLOBAL, 3), 1);
	expect_answer(&p[2], 3);
}

Test(gpu3d, fenced_commands_with_nothing_before_them_need_no_slot)
{
	struct pend p;
	struct resp r;
	/* The ring of a context that does not exist: no renderer fence, and
	 * nothing before it in line. */
	struct msg m = hdr_full(CMD_GET_DISPLAY_INFO, FENCE | RING_IDX, 9, 3, 7);
	add(&m, 408, &p);
	kick(0);
	cr_expect_eq(R.nfences, 0);
	cr_assert_eq(used(&r), &p);
	cr_expect_eq(r.type, OK_DISPLAY_INFO);
	cr_expect_eq(r.ring, 7);
	cr_expect(r.flags & RING_IDX);
	/* On the global line every executed command gets a renderer fence. */
	m = hdr_full(CMD_GET_DISPLAY_INFO, FENCE, 10, 0, 0);
	add(&m, 408, &p);
	kick(0);
	cr_expect_eq(R.nfences, 1);
	cr_expect_eq(R.fences[0].ring, GLOBAL);
	expect_nothing();
	vdev_gpu_poll(&T.gpu);
	cr_assert_eq(used(&r), &p);
	cr_expect_eq(r.type, OK_DISPLAY_INFO);
	cr_expect_eq(r.fence, 10);
	cr_expect_eq(R.polls, 1);
}

Test(gpu3d, synchronous_retirement_from_create_fence)
{
	struct pend p;
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	R.sync_retire = true;
	add_fenced(CMD_SUBMIT_3D, 1, true, 2, 5, &p);
	kick(0);
	expect_answer(&p, 5);
	cr_expect_eq(stats().fences_pending, 0);
}

/* A renderer op called from cursorq processing retires a controlq fence:
 * the answer is published when the processing ends. */
Test(gpu3d, retirement_from_inside_cursorq_processing)
{
	struct pend p;
	struct msg m = hdr(CMD_UPDATE_CURSOR);
	int t;
	uint32_t l;
	struct resp r;
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	cr_assert_eq(create_tex(2, 64, 64), OK_NODATA);
	add_fenced(CMD_SUBMIT_3D, 1, true, 0, 1, &p);
	kick(0);
	expect_nothing();
	R.retire_in_read = true;
	p32(&m, 0);
	p32(&m, 0);
	p32(&m, 0);
	p32(&m, 0);
	p32(&m, 2);
	p32(&m, 0);
	p32(&m, 0);
	p32(&m, 0);
	uint64_t rq = sim_alloc(&T.m, m.n, 8);
	memcpy(sim_ptr(&T.m, rq), m.d, m.n);
	struct drv_buf b = {rq, m.n, false};
	cr_assert_eq(drv_add(&T.q[1], &b, 1, false, &t), 0);
	if (drv_kick_prepare(&T.q[1]))
		T.tr.ops->notify(T.tr.t, 1, false, 0);
	cr_assert_eq(drv_get_used(&T.q[1], &l), &t);
	cr_expect_eq(R.reads, 1);
	cr_assert_eq(used(&r), &p, "answered and published");
	cr_expect_eq(r.fence, 1);
}

Test(gpu3d, a_failed_create_fence_answers_in_order)
{
	struct pend p[2];
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	add_fenced(CMD_SUBMIT_3D, 1, false, 0, 1, &p[0]);
	kick(0);
	R.rc_fence = VDEV_EIO;
	add_fenced(CMD_SUBMIT_3D, 1, false, 0, 2, &p[1]);
	kick(0);
	expect_nothing();
	R.rc_fence = 0;
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 0, GLOBAL, 1), 2);
	expect_answer(&p[0], 1);
	expect_answer(&p[1], 2);
}

Test(gpu3d, full_fence_slots_stop_the_controlq_until_a_retirement)
{
	struct pend p[NFENCE + 3];
	struct resp r;
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	for (unsigned i = 0; i < NFENCE + 2; i++)
		add_fenced(CMD_SUBMIT_3D, 1, true, 0, i + 1, &p[i]);
	struct msg m = hdr(CMD_GET_DISPLAY_INFO);
	add(&m, 408, &p[NFENCE + 2]);
	kick(0);
	expect_nothing();
	cr_expect_eq(R.nfences, NFENCE, "only as many popped as can be held");
	cr_expect_eq(stats().fences_pending, NFENCE);
	cr_expect_geq(stats().fences_stalled, 1);
	/* Retiring the first three frees slots: the rest is popped. */
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 1, 0, 3), 3);
	for (unsigned i = 0; i < 3; i++)
		expect_answer(&p[i], i + 1);
	cr_assert_eq(used(&r), &p[NFENCE + 2], "the unfenced command");
	cr_expect_eq(r.type, OK_DISPLAY_INFO);
	cr_expect_eq(R.nfences, NFENCE + 2);
	vdev_gpu_poll(&T.gpu);
	for (unsigned i = 3; i < NFENCE + 2; i++)
		expect_answer(&p[i], i + 1);
	expect_nothing();
}

Test(gpu3d, ctx_destroy_answers_its_held_fences)
{
	struct pend p[5];
	struct resp r;
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	cr_assert_eq(ctx_create(2, 0), OK_NODATA);
	add_fenced(CMD_SUBMIT_3D, 1, true, 0, 1, &p[0]);
	add_fenced(CMD_SUBMIT_3D, 2, true, 0, 1, &p[1]);
	add_fenced(CMD_SUBMIT_3D, 1, true, 5, 7, &p[2]);
	add_fenced(CMD_SUBMIT_3D, 1, false, 0, 8, &p[3]); /* global line: not the context's */
	struct msg m = hdr_full(CMD_CTX_DESTROY, FENCE | RING_IDX, 2, 1, 0);
	add(&m, 24, &p[4]);
	kick(0);
	expect_answer(&p[0], 1);
	expect_answer(&p[2], 7);
	cr_assert_eq(used(&r), &p[4], "then the destroy itself");
	cr_expect_eq(r.type, OK_NODATA);
	cr_expect_eq(r.fence, 2);
	expect_nothing();
	cr_expect_eq(R.contexts, 1);
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 1, 0, 1), 0, "stale: already answered");
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 0, GLOBAL, 8), 1);
	expect_answer(&p[3], 8);
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 2, 0, 1), 1);
	expect_answer(&p[1], 1);
	cr_expect_eq(stats().fences_pending, 0);
}

Test(gpu3d, reset_with_everything_outstanding)
{
	struct pend p[4];
	cr_assert_eq(ctx_create(1, 2), OK_NODATA);
	cr_assert_eq(ctx_create(2, 0), OK_NODATA);
	cr_assert_eq(create_tex(1, 64, 64), OK_NODATA);
	cr_assert_eq(attach(1, 64 * 64 * 4), OK_NODATA);
	cr_assert_eq(ctx_res(true, 1, 1), OK_NODATA);
	cr_assert_eq(blob(2, 1, HOST3D, MAPPABLE, 4096, 0), OK_NODATA);
	cr_assert_eq(blob(3, 1, HOST3D_GUEST, MAPPABLE, 8192, 1), OK_NODATA);
	cr_assert_eq(map_blob(2, 0).type, OK_MAP_INFO);
	cr_assert_eq(map_blob(3, 4096).type, OK_MAP_INFO);
	struct msg m = hdr(CMD_SET_SCANOUT);
	p32(&m, 0);
	p32(&m, 0);
	p32(&m, 64);
	p32(&m, 64);
	p32(&m, 0);
	p32(&m, 1);
	cr_assert_eq(send(&m), OK_NODATA);
	for (unsigned i = 0; i < 4; i++)
		add_fenced(CMD_SUBMIT_3D, 1 + (i & 1), i < 2, 0, 10 + i, &p[i]);
	kick(0);
	expect_nothing();
	cr_expect_eq(stats().fences_pending, 4);
	cr_expect_eq(R.contexts, 2);
	cr_expect_eq(R.resources, 3);
	cr_expect_eq(R.maps, 2);

	cr_assert_eq(drv_virtio_reset(&T.tr), 0);
	cr_expect_eq(R.contexts, 0);
	cr_expect_eq(R.resources, 0);
	cr_expect_eq(R.backings, 0);
	cr_expect_eq(R.maps, 0);
	cr_expect_eq(R.shm_maps, 0);
	cr_expect_geq(R.resets, 1);
	cr_expect_eq(live_allocs, 0, "shadow and segment tables freed");
	cr_expect_eq(stats().fences_pending, 0);
	cr_expect_eq(stats().renderer_bytes, 0);
	cr_expect_eq(stats().mapped_blobs, 0);
	cr_expect_not(S.enabled);
	/* Stale retirements after the reset touch nothing. */
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 1, 0, 100), 0);
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 0, GLOBAL, 100), 0);
	/* The device works again. */
	bring_up(ALL);
	cr_expect_eq(ctx_create(1, 0), OK_NODATA);
	struct pend q;
	add_fenced(CMD_SUBMIT_3D, 1, true, 0, 1, &q);
	kick(0);
	vdev_gpu_poll(&T.gpu);
	expect_answer(&q, 1);
}

Test(gpu3d, fini_with_everything_outstanding)
{
	struct pend p;
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	cr_assert_eq(create_tex(1, 64, 64), OK_NODATA);
	cr_assert_eq(attach(1, 4096), OK_NODATA);
	cr_assert_eq(blob(2, 1, HOST3D, MAPPABLE, 4096, 0), OK_NODATA);
	cr_assert_eq(map_blob(2, 0).type, OK_MAP_INFO);
	add_fenced(CMD_SUBMIT_3D, 1, true, 0, 1, &p);
	kick(0);
	/* teardown: vdev_gpu_fini() and the leak checks */
}

Test(gpu3d, without_create_fence_fences_are_synchronous)
{
	static struct vdev_gpu_renderer_ops r;
	r = fake_ops;
	struct pend p;
	r.create_fence = NULL;
	T.cfg.renderer = &r;
	T.cfg.fences = NULL;
	T.cfg.num_fences = 0;
	restart(ALL);
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	add_fenced(CMD_SUBMIT_3D, 1, true, 0, 3, &p);
	kick(0);
	expect_answer(&p, 3);
}

Test(gpu3d, queue_reset_of_the_controlq_drops_held_chains)
{
	struct pend p;
	cr_assert_eq(ctx_create(1, 0), OK_NODATA);
	add_fenced(CMD_SUBMIT_3D, 1, true, 0, 1, &p);
	kick(0);
	cr_expect_eq(stats().fences_pending, 1);
	cr_assert_eq(vdev_dev_queue_reset(vdev_gpu_dev(&T.gpu), 0), 0);
	cr_expect_eq(stats().fences_pending, 0);
	cr_expect_eq(vdev_gpu_fence_retired(&T.gpu, 1, 0, 1), 0, "nothing left to answer");
}
