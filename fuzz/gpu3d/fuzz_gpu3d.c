/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-gpu device model in 3D mode behind
 * virtio-mmio, with a fake renderer that checks what the model lets
 * through (ids it knows, resource limits, transfer boxes inside the
 * resource, submit sizes, page-multiple blobs, mappings inside the host
 * visible region and not overlapping) and a fake host-visible mapper. The
 * input picks features and config (fence slots, submit scratch or the
 * budget, synchronous fence retirement), then queues controlq commands
 * (2D and 3D types, or raw ones) with small or raw fields, submits of any
 * size, fenced on any ring of any context, kicks, reaps, retires recorded
 * or made-up fences, polls, resets the controlq (RING_RESET, also with
 * fenced chains held) and the device, fails host allocations.
 *
 * Invariants: nothing outside guest memory or host allocations is touched
 * (ASan); the budget covers host allocations and renderer charges; every
 * renderer call names a live object and passes the model's checks; after
 * every fence is retired each queued chain comes back exactly once (none
 * from before a reset of the controlq: the driver forgot those), with a
 * response no larger than its buffer; after reset and fini the renderer
 * has no contexts, resources, backings or mappings left and no host memory
 * is allocated.
 *
 * Speed: guest memory is created once per process and only its allocator is
 * reset per input; nothing large is cleared per input.
 */
#include <stdlib.h>
#include <string.h>

#include "drv_mmio.h"
#include "fuzz_common.h"
#include "fuzz_mem.h"
#include "sim_le.h"
#include "vdev/gpu.h"
#include "vdev/mmio.h"

#define REGION (256u * 1024u)
#define BUDGET (256u * 1024u)
#define NRES 6
#define NCTX 3
#define NFENCE 4
#define IOVS 16
#define SLOTS 32
#define SLOT 1024u
#define RESP_MAX 512u
#define HV_SIZE (64u * 1024u)
#define SUBMIT_BUF 512u

static struct sim_mem m;
static struct vdev_gpu gpu;
static struct vdev_vq queues[2];
static uint64_t queue_held[2 * VDEV_VQ_HELD_WORDS(32)];
static struct vdev_iov iovs[2 * IOVS];
static struct vdev_gpu_resource res[NRES];
static struct vdev_gpu_context ctxs[NCTX];
static struct vdev_gpu_fence fences[NFENCE];
static uint8_t submit_buf[SUBMIT_BUF];
static struct vdev_mmio mmio;
static struct drv_mmio dm;
static struct drv_vq q[2];
static bool qup[2];
static int tok[256];
static unsigned queued, reaped;
static uint64_t arena, resp_arena;
static long live;
static size_t live_bytes;
static int fail_alloc;

/* ---- host memory ---- */
static void *fz_alloc(void *o, size_t n)
{
	(void)o;
	FUZZ_CHECK(n > 0 && live_bytes + n <= BUDGET);
	if (fail_alloc > 0 && --fail_alloc == 0)
		return NULL;
	void *p = malloc(n);
	FUZZ_CHECK(p != NULL);
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

/* ---- the fake renderer: a shadow of what it was told ---- */
#define RMAX 32 /* renderer objects tracked (NRES bounds the live ones) */
struct robj {
	uint32_t id;
	bool blob, backing, mapped;
	uint32_t mem;
	struct vdev_gpu_resource_3d a;
	uint64_t size, map_off;
};
static struct robj robjs[RMAX];
static uint32_t rctx[NCTX + 1];
static int nctx_live, nres_live, nback, nmaps, nshm;
static struct {
	uint32_t ctx, ring;
	uint64_t id;
} rec[64];
static unsigned nrec;
static bool sync_retire, fail_render;
static uint8_t blob_host[HV_SIZE];

static struct robj *robj_find(uint32_t id)
{
	for (unsigned i = 0; i < RMAX; i++)
		if (robjs[i].id == id && id != 0)
			return &robjs[i];
	return NULL;
}
static struct robj *robj_new(uint32_t id)
{
	FUZZ_CHECK(id != 0 && robj_find(id) == NULL);
	for (unsigned i = 0; i < RMAX; i++)
		if (robjs[i].id == 0) {
			memset(&robjs[i], 0, sizeof(robjs[i]));
			robjs[i].id = id;
			nres_live++;
			return &robjs[i];
		}
	FUZZ_CHECK(false && "more renderer resources than the model's table");
	return NULL;
}
static bool ctx_live(uint32_t id)
{
	for (unsigned i = 0; i < NCTX + 1; i++)
		if (rctx[i] == id && id != 0)
			return true;
	return false;
}

static int r_ctx_create(void *o, uint32_t id, uint32_t init, const char *name, size_t n)
{
	(void)o, (void)name;
	FUZZ_CHECK(id != 0 && !ctx_live(id) && n <= 64 && (init == 0 || init == 1 || init == 2));
	if (fail_render)
		return VDEV_EINVAL;
	for (unsigned i = 0; i < NCTX + 1; i++)
		if (rctx[i] == 0) {
			rctx[i] = id;
			nctx_live++;
			return 0;
		}
	FUZZ_CHECK(false && "more contexts than the model's table");
	return 0;
}
static void r_ctx_destroy(void *o, uint32_t id)
{
	(void)o;
	FUZZ_CHECK(ctx_live(id));
	for (unsigned i = 0; i < NCTX + 1; i++)
		if (rctx[i] == id)
			rctx[i] = 0;
	nctx_live--;
	/* its fences are never reported again */
	for (unsigned i = 0; i < nrec; i++)
		if (rec[i].ctx == id && rec[i].ring != VDEV_GPU_FENCE_GLOBAL)
			rec[i] = rec[--nrec], i--;
}
static int r_capset_info(void *o, uint32_t i, struct vdev_gpu_capset_info *c)
{
	(void)o;
	if (i >= 2)
		return VDEV_ENOENT;
	*c = (struct vdev_gpu_capset_info){.id = i + 1, .max_version = i + 1,
					   .max_size = i == 0 ? 64u : 300u};
	return 0;
}
static int r_capset_get(void *o, uint32_t id, uint32_t ver, void *buf, uint32_t size)
{
	(void)o;
	FUZZ_CHECK((id == 1 && ver <= 1 && size == 64) || (id == 2 && ver <= 2 && size == 300));
	memset(buf, (int)id, size);
	return 0;
}
static int r_create_3d(void *o, uint32_t id, const struct vdev_gpu_resource_3d *a)
{
	(void)o;
	FUZZ_CHECK(a->format != 0 && a->width != 0 && a->height != 0 && a->depth != 0 &&
		   a->array_size != 0 && a->target <= 8 && a->nr_samples <= 32);
	FUZZ_CHECK(a->target == 0 || (a->width <= 16384 && a->height <= 16384 &&
				      a->depth <= 2048 && a->array_size <= 2048));
	if (fail_render)
		return VDEV_ENOMEM;
	robj_new(id)->a = *a;
	return 0;
}
static void r_unref(void *o, uint32_t id)
{
	(void)o;
	struct robj *r = robj_find(id);
	FUZZ_CHECK(r != NULL && !r->backing && !r->mapped);
	r->id = 0;
	nres_live--;
}
static int r_attach(void *o, uint32_t id, const struct vdev_iov *s, unsigned n)
{
	(void)o;
	struct robj *r = robj_find(id);
	FUZZ_CHECK(r != NULL && !r->backing && n > 0);
	for (unsigned i = 0; i < n; i++)
		FUZZ_CHECK(s[i].base != NULL && s[i].len > 0);
	if (fail_render)
		return VDEV_EINVAL;
	r->backing = true;
	nback++;
	return 0;
}
static void r_detach(void *o, uint32_t id)
{
	(void)o;
	struct robj *r = robj_find(id);
	FUZZ_CHECK(r != NULL && r->backing);
	r->backing = false;
	nback--;
}
static void r_ctx_res(void *o, uint32_t ctx, uint32_t id)
{
	(void)o;
	FUZZ_CHECK(ctx_live(ctx) && robj_find(id) != NULL);
}
static int r_transfer(void *o, uint32_t id, const struct vdev_gpu_transfer *t)
{
	(void)o;
	struct robj *r = robj_find(id);
	FUZZ_CHECK(r != NULL && r->backing);
	FUZZ_CHECK(t->ctx_id == 0 || ctx_live(t->ctx_id));
	if (!r->blob) {
		FUZZ_CHECK(t->level <= r->a.last_level);
		FUZZ_CHECK((uint64_t)t->box.x + t->box.w <= r->a.width);
		FUZZ_CHECK((uint64_t)t->box.y + t->box.h <= (r->a.target == 6 ? r->a.array_size
										: r->a.height));
	}
	return fail_render ? VDEV_EIO : 0;
}
static int r_submit(void *o, uint32_t ctx, const void *cmd, uint32_t size)
{
	(void)o;
	FUZZ_CHECK(ctx_live(ctx) && cmd != NULL && size % 4 == 0 && size > 0);
	volatile const uint8_t *p = cmd;
	(void)p[size - 1]; /* the whole copy is readable */
	return fail_render ? VDEV_EINVAL : 0;
}
static void r_retire_rec(unsigned i)
{
	uint32_t c = rec[i].ctx, r = rec[i].ring;
	uint64_t id = rec[i].id;
	rec[i] = rec[--nrec];
	(void)vdev_gpu_fence_retired(&gpu, c, r, id);
}
static int r_create_fence(void *o, uint32_t ctx, uint32_t ring, uint64_t id)
{
	(void)o;
	FUZZ_CHECK(ring == VDEV_GPU_FENCE_GLOBAL || (ring <= 63 && ctx_live(ctx)));
	if (nrec == 64)
		r_retire_rec(0);
	rec[nrec].ctx = ctx;
	rec[nrec].ring = ring;
	rec[nrec].id = id;
	nrec++;
	if (sync_retire)
		r_retire_rec(nrec - 1);
	return 0;
}
static void r_poll(void *o)
{
	(void)o;
	while (nrec > 0)
		r_retire_rec(0);
}
static int r_blob_create(void *o, uint32_t id, const struct vdev_gpu_blob *b)
{
	(void)o;
	FUZZ_CHECK(b->size != 0 && b->blob_mem >= 1 && b->blob_mem <= 3 &&
		   (b->blob_flags & ~7u) == 0);
	if (b->blob_mem == 1)
		FUZZ_CHECK(b->ctx_id == 0 || ctx_live(b->ctx_id));
	else
		FUZZ_CHECK(ctx_live(b->ctx_id) && b->size % 4096 == 0);
	FUZZ_CHECK(b->blob_mem != 2 || b->nsegs == 0);
	if (fail_render)
		return VDEV_ENOMEM;
	struct robj *r = robj_new(id);
	r->blob = true;
	r->mem = b->blob_mem;
	r->size = b->size;
	if (b->nsegs != 0) {
		r->backing = true;
		nback++;
	}
	return 0;
}
static int r_blob_map(void *o, uint32_t id, struct vdev_gpu_blob_map *mp)
{
	(void)o;
	struct robj *r = robj_find(id);
	FUZZ_CHECK(r != NULL && r->blob && r->mem != 1 && !r->mapped && mp->host == NULL &&
		   mp->size == 0);
	if (fail_render)
		return VDEV_EIO;
	mp->host = blob_host;
	mp->size = r->size;
	mp->map_info = 3;
	r->mapped = true;
	nmaps++;
	return 0;
}
static void r_blob_unmap(void *o, uint32_t id)
{
	(void)o;
	struct robj *r = robj_find(id);
	FUZZ_CHECK(r != NULL && r->mapped);
	r->mapped = false;
	nmaps--;
}
static int r_read_rect(void *o, uint32_t id, const struct vdev_gpu_rect *rc, void *dst,
		       uint32_t stride)
{
	(void)o;
	struct robj *r = robj_find(id);
	FUZZ_CHECK(r != NULL && !r->blob && (r->a.target == 2 || r->a.target == 5));
	FUZZ_CHECK((uint64_t)rc->x + rc->width <= r->a.width);
	FUZZ_CHECK((uint64_t)rc->y + rc->height <= r->a.height);
	FUZZ_CHECK(stride >= r->a.width * 4u);
	/* the first and the last pixel of the rectangle are writable */
	memset(dst, 1, 4);
	memset((uint8_t *)dst + (size_t)(rc->height - 1) * stride + (size_t)(rc->width - 1) * 4, 1,
	       4);
	return 0;
}
static void r_reset(void *o)
{
	(void)o;
	nrec = 0;
}
static const struct vdev_gpu_renderer_ops fz_renderer = {
	.size = sizeof(struct vdev_gpu_renderer_ops),
	.ctx_create = r_ctx_create,
	.ctx_destroy = r_ctx_destroy,
	.capset_info = r_capset_info,
	.capset_get = r_capset_get,
	.resource_create_3d = r_create_3d,
	.resource_unref = r_unref,
	.attach_backing = r_attach,
	.detach_backing = r_detach,
	.ctx_attach_resource = r_ctx_res,
	.ctx_detach_resource = r_ctx_res,
	.transfer_to_host = r_transfer,
	.transfer_from_host = r_transfer,
	.submit = r_submit,
	.create_fence = r_create_fence,
	.poll = r_poll,
	.blob_create = r_blob_create,
	.blob_map = r_blob_map,
	.blob_unmap = r_blob_unmap,
	.read_rect = r_read_rect,
	.reset = r_reset,
};

/* ---- the host visible region ---- */
static struct {
	uint64_t off, size;
	uint32_t id;
} maps[NRES];
static int s_map(void *o, uint32_t id, uint64_t off, uint64_t size,
		 const struct vdev_gpu_blob_map *mp)
{
	(void)o, (void)mp;
	FUZZ_CHECK(off % 4096 == 0 && size % 4096 == 0 && size > 0 && off + size <= HV_SIZE);
	for (unsigned i = 0; i < NRES; i++)
		FUZZ_CHECK(maps[i].size == 0 || off + size <= maps[i].off ||
			   maps[i].off + maps[i].size <= off);
	for (unsigned i = 0; i < NRES; i++)
		if (maps[i].size == 0) {
			maps[i].off = off;
			maps[i].size = size;
			maps[i].id = id;
			nshm++;
			return 0;
		}
	FUZZ_CHECK(false && "more mappings than resources");
	return 0;
}
static void s_unmap(void *o, uint32_t id, uint64_t off, uint64_t size)
{
	(void)o;
	for (unsigned i = 0; i < NRES; i++)
		if (maps[i].size != 0 && maps[i].off == off) {
			FUZZ_CHECK(maps[i].size == size && maps[i].id == id);
			maps[i].size = 0;
			nshm--;
			return;
		}
	FUZZ_CHECK(false && "unmap of something not mapped");
}
static const struct vdev_gpu_shm_ops fz_shm = {
	.size = sizeof(struct vdev_gpu_shm_ops), .map = s_map, .unmap = s_unmap};

/* ---- the sink: reads the pixels it is offered ---- */
static void fz_scanout(void *o, uint32_t sid, const struct vdev_gpu_scanout *s)
{
	(void)o, (void)sid;
	uint32_t px;
	if (s->enabled)
		FUZZ_CHECK(vdev_gpu_image_read(s->image, s->src.x, s->src.y, 1, &px) == 1);
}
static void fz_update(void *o, uint32_t sid, const struct vdev_gpu_scanout *s,
		      const struct vdev_gpu_rect *r)
{
	(void)o, (void)sid;
	uint32_t px;
	FUZZ_CHECK(vdev_gpu_image_read(s->image, s->src.x + r->x + r->width - 1,
				       s->src.y + r->y + r->height - 1, 1, &px) == 1);
}
static const struct vdev_gpu_sink_ops fz_sink = {
	.size = sizeof(struct vdev_gpu_sink_ops), .scanout = fz_scanout, .update = fz_update};

/* ---- the guest ---- */
static uint64_t neg; /* the features of the current bring-up */

static bool bring_up(struct drv_transport *tr, uint64_t want, uint16_t qsize)
{
	sim_mem_reset_alloc(&m);
	arena = sim_alloc(&m, (size_t)SLOTS * SLOT, 4096);
	resp_arena = sim_alloc(&m, (size_t)SLOTS * RESP_MAX, 64);
	qup[0] = qup[1] = false;
	queued = reaped = 0;
	if (drv_virtio_negotiate(tr, want, &neg) != 0)
		return false;
	for (uint16_t i = 0; i < 2; i++)
		qup[i] = drv_virtio_setup_queue(tr, &q[i], &m, i, qsize, neg) == 0;
	return drv_virtio_driver_ok(tr) == 0x0f;
}

static void reap_all(void)
{
	uint32_t len;
	if (!qup[0])
		return;
	while (drv_get_used(&q[0], &len) != NULL) {
		FUZZ_CHECK(len <= RESP_MAX);
		reaped++;
	}
}

/*
 * RING_RESET of the controlq, then new rings for it while the simulated
 * memory has room (else it stays reset). The driver reaps what came back
 * first, then forgets what it had out, fenced chains included: answering
 * one of those when its fence retires would be a protocol error on the new
 * ring.
 */
static void ring_reset(struct drv_transport *tr)
{
	uint16_t size = q[0].size;

	reap_all();
	FUZZ_CHECK(tr->ops->reset_queue(tr->t, 0));
	queued = reaped = 0;
	qup[0] = drv_virtio_setup_queue_if_room(tr, &q[0], &m, 0, size, neg) == 0;
}

static uint32_t small_or_raw(struct input *in, uint32_t mod)
{
	uint8_t k = take(in);
	return k & 0x80 ? take32(in) : k % mod;
}

static const uint16_t types[] = {
	0x101, 0x102, 0x103, 0x104, 0x106, 0x107, 0x108, 0x109, 0x10c, 0x200, 0x201,
	0x202, 0x203, 0x204, 0x204, 0x205, 0x206, 0x207, 0x207, 0x208, 0x209, 0x100, 0x105,
	0x10d};

static void put32(uint8_t *p, uint32_t v) { sim_put_le32(p, v); }
static void put64(uint8_t *p, uint64_t v) { sim_put_le64(p, v); }

/* Build and queue one controlq command. */
static void queue_cmd(struct input *in, unsigned *slot)
{
	uint64_t base = arena + *slot * SLOT, rs = resp_arena + *slot * RESP_MAX;
	uint8_t *p = sim_ptr(&m, base);
	uint8_t sel = take(in);
	uint32_t type = sel < 250 ? types[sel % (sizeof(types) / sizeof(types[0]))] : take32(in);
	uint32_t len = 128, nr = 0;
	struct drv_buf b[4];
	unsigned n = 0;

	if (!qup[0])
		return;
	memset(p, 0, 128);
	put32(p, type);
	put32(p + 4, take(in) & 3u);  /* FENCE | INFO_RING_IDX */
	put64(p + 8, take(in) % 8u);  /* fence ids: small, so they repeat and go back */
	put32(p + 16, take(in) % 4u); /* ctx_id */
	p[20] = take(in) % 66u;       /* ring_idx, a few out of range */
	for (unsigned i = 0; i < 12; i++)
		put32(p + 24 + 4 * i, small_or_raw(in, i == 0 ? 8u : 40u));
	switch (type) {
	case 0x101: /* CREATE_2D: a good format */
		put32(p + 28, 2);
		break;
	case 0x204: /* CREATE_3D: target, format */
		put32(p + 28, take(in) % 10u);
		put32(p + 32, take(in) & 1 ? 2u : take(in));
		break;
	case 0x200: /* CTX_CREATE: nlen, capset */
		put32(p + 24, take(in) % 70u);
		put32(p + 28, take(in) % 4u);
		break;
	case 0x207: { /* SUBMIT_3D: size and payload */
		uint32_t sz = take(in) & 1 ? 4u * (take(in) % 64u) : small_or_raw(in, 1024u);
		put32(p + 24, sz);
		len = 32 + (take(in) % 8 ? sz : take16(in));
		if (len > SLOT)
			len = SLOT;
		break;
	}
	case 0x208: /* MAP_BLOB: page offsets, sometimes raw */
		put64(p + 32, take(in) % 8 ? 4096u * (take(in) % 20u) : take64(in));
		break;
	case 0x106:
	case 0x10c: { /* backing entries, blob memory and size */
		unsigned at = type == 0x106 ? 32 : 56;
		nr = take(in) % 3u;
		put32(p + (type == 0x106 ? 28 : 36), nr);
		if (type == 0x10c) {
			put32(p + 28, 1 + take(in) % 3u);     /* GUEST, HOST3D, HOST3D_GUEST */
			put32(p + 32, take(in) % 8u);         /* flags */
			put64(p + 48, take(in) % 8 ? 4096u * (1u + take(in) % 4u) : take64(in));
		}
		for (unsigned i = 0; i < nr; i++) {
			uint64_t a = take(in) % 8 ? arena + (take(in) % SLOTS) * SLOT : take64(in);
			uint32_t l = take(in) % 8 ? 4096u : take32(in);
			sim_put_le64(p + at + 16 * i, a);
			sim_put_le32(p + at + 16 * i + 8, l);
		}
		len = at + 16 * nr;
		break;
	}
	default:
		break;
	}
	if (take(in) % 16 == 0)
		len = take(in) % len; /* truncated */
	if (len > 0)
		b[n++] = (struct drv_buf){base, len, false};
	uint8_t rk = take(in);
	uint32_t rlen = rk % 4 == 0 ? take16(in) % RESP_MAX : (rk % 4 == 1 ? 24u : 408u);
	if (rk & 0x10 && rlen > 1) {
		uint32_t cut = 1 + take(in) % (rlen - 1);
		b[n++] = (struct drv_buf){rs, cut, true};
		b[n++] = (struct drv_buf){rs + cut, rlen - cut, true};
	} else if (rlen > 0) {
		b[n++] = (struct drv_buf){rs, rlen, true};
	}
	*slot = (*slot + 1) % SLOTS;
	if (n > 0 && drv_add(&q[0], b, n, false, &tok[queued % 256]) == 0)
		queued++;
}

static void check_renderer_empty(void)
{
	FUZZ_CHECK(nctx_live == 0 && nres_live == 0 && nback == 0 && nmaps == 0 && nshm == 0);
	FUZZ_CHECK(live == 0 && live_bytes == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	uint8_t flags = take(&in), flags2 = take(&in);
	unsigned slot = 0;
	struct drv_transport tr;
	uint64_t want = ~VDEV_BIT(VDEV_F_RING_PACKED);
	bool up;

	fuzz_mem_reset(&m, REGION, false);
	if (flags & 1)
		want |= VDEV_BIT(VDEV_F_RING_PACKED);
	if (flags & 2)
		want &= ~VDEV_BIT(VDEV_GPU_F_RESOURCE_BLOB);
	if (flags & 4)
		want &= ~VDEV_BIT(VDEV_GPU_F_CONTEXT_INIT);
	if ((flags & 0x18) == 0x18)
		want &= ~VDEV_BIT(VDEV_GPU_F_VIRGL);
	sync_retire = (flags & 0x20) != 0;
	live = 0;
	live_bytes = 0;
	fail_alloc = 0;
	fail_render = false;
	memset(robjs, 0, sizeof(robjs));
	memset(rctx, 0, sizeof(rctx));
	memset(maps, 0, sizeof(maps));
	nctx_live = nres_live = nback = nmaps = nshm = 0;
	nrec = 0;
	struct vdev_gpu_config c = {
		.num_scanouts = 1,
		.queue_size = 32,
		.max_host_bytes = BUDGET,
		.max_backing_entries = 4,
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
		.renderer = &fz_renderer,
		.fences = fences,
		.num_fences = 1 + flags2 % NFENCE,
		.submit_buf = flags2 & 0x10 ? NULL : submit_buf,
		.submit_buf_size = flags2 & 0x10 ? 0 : SUBMIT_BUF,
		.host_visible_size = HV_SIZE,
		.shm = &fz_shm,
	};
	c.displays[0] = (struct vdev_gpu_display){.enabled = true, .width = 640, .height = 480};
	FUZZ_CHECK(vdev_gpu_init(&gpu, &c) == 0);
	FUZZ_CHECK(drv_mmio_attach(&dm, &mmio, vdev_gpu_dev(&gpu), &tr) == 0);
	tr.reset_polls = FUZZ_RESET_POLLS;
	uint16_t qsize = (uint16_t)(1u << (2 + (flags2 >> 5) % 4));
	memset(q, 0, sizeof(q));
	up = bring_up(&tr, want, qsize);

	while (in.n > 0 && up) {
		uint8_t op = take(&in);
		switch (op % 10) {
		case 0:
		case 1:
		case 2:
		case 3:
			queue_cmd(&in, &slot);
			break;
		case 4: { /* kick, or reset the controlq (RING_RESET) */
			uint8_t k = take(&in); /* always consumed: keeps seeds aligned */
			bool force = k & 1;
			if (qup[0] && k / 2u % 16u == 15u && (neg & VDEV_BIT(VDEV_F_RING_RESET)))
				ring_reset(&tr);
			else if (qup[0] && (drv_kick_prepare(&q[0]) || force))
				tr.ops->notify(tr.t, 0, false, 0);
			break;
		}
		case 5:
			reap_all();
			break;
		case 6: { /* the renderer retires a fence it made, or anything */
			uint8_t k = take(&in), a = take(&in), r = take(&in), id = take(&in);
			if (k & 1 && nrec > 0)
				r_retire_rec(a % nrec);
			else if (!(k & 1))
				(void)vdev_gpu_fence_retired(
					&gpu, a % 4u, k & 2 ? VDEV_GPU_FENCE_GLOBAL : r % 66u, id % 10u);
			break;
		}
		case 7:
			vdev_gpu_poll(&gpu);
			break;
		case 8: /* the host fails things */
			fail_alloc = take(&in) % 4;
			fail_render = take(&in) % 4 == 0;
			break;
		default: /* reset and bring the device up again */
			if (take(&in) % 4 != 0)
				break;
			tr.ops->set_status(tr.t, 0);
			FUZZ_CHECK(tr.ops->get_status(tr.t) == 0);
			check_renderer_empty();
			up = bring_up(&tr, want, qsize);
			break;
		}
		struct vdev_gpu_stats st;
		vdev_gpu_get_stats(&gpu, &st);
		FUZZ_CHECK(st.host_bytes == live_bytes);
		FUZZ_CHECK(st.host_bytes + st.renderer_bytes <= BUDGET);
		FUZZ_CHECK(st.fences_pending <= NFENCE);
	}
	if (up && qup[0]) {
		/* Retire everything: every chain comes back exactly once. */
		fail_render = false;
		fail_alloc = 0;
		if (drv_kick_prepare(&q[0]))
			tr.ops->notify(tr.t, 0, false, 0);
		for (unsigned round = 0; round < 64; round++) {
			(void)vdev_gpu_process(&gpu, VDEV_GPU_CONTROLQ);
			vdev_gpu_poll(&gpu);
			reap_all();
			if (reaped == queued)
				break;
		}
		FUZZ_CHECK(q[0].errors == 0);
		FUZZ_CHECK(reaped == queued);
		struct vdev_gpu_stats st;
		vdev_gpu_get_stats(&gpu, &st);
		FUZZ_CHECK(st.fences_pending == 0);
	}
	vdev_gpu_fini(&gpu);
	check_renderer_empty();
	for (unsigned i = 0; i < 2; i++)
		drv_vq_destroy(&q[i]);
	return 0;
}
