/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-gpu device model, 2D (spec "GPU Device").
 *
 * Reads top-down: spec constants and layouts, host memory and the resource
 * table, images for the sink, backing (guest scatter lists), the EDID
 * generator, one handler per command, the chain path (pop -> copy the
 * command out once -> checks -> handler -> response -> push), the device
 * core ops, init.
 */
#include "vdev/gpu.h"

#include "compiler.h"

#define P(x) VDEV_PRIV(x)
#define BIT(b) VDEV_BIT(VDEV_GPU_F_##b)

/* ---- spec constants ----------------------------------------------------------- */

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

	RESP_OK_NODATA = 0x1100,
	RESP_OK_DISPLAY_INFO,
	RESP_OK_CAPSET_INFO,
	RESP_OK_CAPSET,
	RESP_OK_EDID,
	RESP_OK_RESOURCE_UUID,
	RESP_OK_MAP_INFO,

	RESP_ERR_UNSPEC = 0x1200,
	RESP_ERR_OUT_OF_MEMORY,
	RESP_ERR_INVALID_SCANOUT_ID,
	RESP_ERR_INVALID_RESOURCE_ID,
	RESP_ERR_INVALID_CONTEXT_ID,
	RESP_ERR_INVALID_PARAMETER,
};

#define FLAG_FENCE 0x1u
#define FLAG_INFO_RING_IDX 0x2u
#define MAX_RING_IDX 63u

#define BLOB_MEM_GUEST VDEV_GPU_BLOB_MEM_GUEST
#define BLOB_MEM_HOST3D VDEV_GPU_BLOB_MEM_HOST3D
#define BLOB_MEM_HOST3D_GUEST VDEV_GPU_BLOB_MEM_HOST3D_GUEST
#define PAGE VDEV_GPU_BLOB_PAGE
#define GLOBAL VDEV_GPU_FENCE_GLOBAL
#define BLOB_FLAGS_MASK 0x7u /* USE_MAPPABLE | USE_SHAREABLE | USE_CROSS_DEVICE */
#define CONTEXT_INIT_CAPSET_ID_MASK 0xffu

/* struct virtio_gpu_ctrl_hdr: type, flags, fence_id, ctx_id, ring_idx, padding */
#define HDR_SIZE 24u
#define HDR_TYPE 0
#define HDR_FLAGS 4
#define HDR_FENCE 8
#define HDR_CTX 16
#define HDR_RING 20

/* Request sizes (header included). */
#define REQ_CREATE_2D 40u      /* resource_id, format, width, height */
#define REQ_RES_ID 32u         /* resource_id, padding (unref, detach, uuid) */
#define REQ_SET_SCANOUT 48u    /* rect, scanout_id, resource_id */
#define REQ_FLUSH 48u          /* rect, resource_id, padding */
#define REQ_TRANSFER_2D 56u    /* rect, offset, resource_id, padding */
#define REQ_ATTACH 32u         /* resource_id, nr_entries; entries follow */
#define REQ_CAPSET_INFO 32u
#define REQ_CAPSET 32u
#define REQ_EDID 32u
#define REQ_CREATE_BLOB 56u    /* id, blob_mem, blob_flags, nr_entries, blob_id, size */
#define REQ_SCANOUT_BLOB 96u   /* rect, scanout, res, w, h, format, pad, strides[4], offsets[4] */
#define REQ_CTX_CREATE 96u     /* nlen, context_init, debug_name[64] */
#define REQ_CTX_RES 32u
#define REQ_CURSOR 56u         /* pos{scanout, x, y, pad}, resource_id, hot_x, hot_y, pad */
#define REQ_CREATE_3D 72u      /* id, target, format, bind, w, h, d, array_size, last_level,
				* nr_samples, flags, padding */
#define REQ_TRANSFER_3D 72u    /* box{x, y, z, w, h, d}, le64 offset, id, level, stride,
				* layer_stride */
#define REQ_SUBMIT 32u         /* size, padding; the command stream follows */
#define REQ_MAP_BLOB 40u       /* resource_id, padding, le64 offset */
#define MAX_REQ 96u
#define MEM_ENTRY_SIZE 16u     /* le64 addr, le32 length, le32 padding */

/* Response sizes. */
#define RESP_DISPLAY_INFO (HDR_SIZE + VDEV_GPU_MAX_SCANOUTS * 24u)
#define RESP_CAPSET_INFO (HDR_SIZE + 16u)
#define RESP_EDID (HDR_SIZE + 8u + 1024u)
#define RESP_UUID (HDR_SIZE + 16u)
#define RESP_MAP_INFO (HDR_SIZE + 8u)

/* struct virtio_gpu_config */
enum {
	CFG_EVENTS_READ = 0,
	CFG_EVENTS_CLEAR = 4,
	CFG_NUM_SCANOUTS = 8,
	CFG_NUM_CAPSETS = 12,
	CFG_BLOB_ALIGNMENT = 16,
};

#define DEFAULT_RING_FEATURES                                                              \
	(VDEV_BIT(VDEV_F_INDIRECT_DESC) | VDEV_BIT(VDEV_F_EVENT_IDX) |                      \
	 VDEV_BIT(VDEV_F_RING_PACKED) | VDEV_BIT(VDEV_F_RING_RESET))

#define MAX_DIM 16384u
#define MAX2(a, b) ((a) > (b) ? (a) : (b))
#define CURSOR_BYTES (VDEV_GPU_CURSOR_SIZE * VDEV_GPU_CURSOR_SIZE * VDEV_GPU_BYTES_PER_PIXEL)
#define MAX_REFRESH_MILLIHZ 1000000u

#define HAS_OP(ops, type, op)                                                             \
	((ops) != NULL && (ops)->size >= offsetof(type, op) + sizeof((ops)->op) &&           \
	 (ops)->op != NULL)
#define SINK_HAS(gpu, op) HAS_OP((gpu)->P(sink), struct vdev_gpu_sink_ops, op)
/* Constant false without the 3D mode (VDEV_CONFIG_GPU_3D 0: no renderer). */
#define RENDERER_HAS(gpu, op)                                                             \
	(VDEV_CONFIG_GPU_3D && HAS_OP((gpu)->P(renderer), struct vdev_gpu_renderer_ops, op))
#define REND(gpu) ((gpu)->P(renderer))
#define ROP(gpu) ((gpu)->P(renderer_opaque))

_Static_assert(sizeof(((struct vdev_gpu *)0)->P(resp)) >= RESP_EDID, "response scratch");

static bool negotiated(const struct vdev_gpu *gpu, unsigned bit)
{
	return vdev_dev_has_feature(&gpu->P(dev), bit);
}

/* ---- formats ------------------------------------------------------------------ */

VDEV_API bool vdev_gpu_format_valid(uint32_t format)
{
	switch (format) {
	case VDEV_GPU_FORMAT_B8G8R8A8_UNORM:
	case VDEV_GPU_FORMAT_B8G8R8X8_UNORM:
	case VDEV_GPU_FORMAT_A8R8G8B8_UNORM:
	case VDEV_GPU_FORMAT_X8R8G8B8_UNORM:
	case VDEV_GPU_FORMAT_R8G8B8A8_UNORM:
	case VDEV_GPU_FORMAT_X8B8G8R8_UNORM:
	case VDEV_GPU_FORMAT_A8B8G8R8_UNORM:
	case VDEV_GPU_FORMAT_R8G8B8X8_UNORM:
		return true;
	default:
		return false;
	}
}

VDEV_API int vdev_gpu_to_rgba(uint32_t format, const void *src, uint8_t *dst, uint32_t npix)
{
	/* Byte positions of R, G, B and A in memory (4: no alpha, 255). */
	unsigned r, g, b, a;
	const uint8_t *s = src;

	switch (format) {
	case VDEV_GPU_FORMAT_B8G8R8A8_UNORM: r = 2, g = 1, b = 0, a = 3; break;
	case VDEV_GPU_FORMAT_B8G8R8X8_UNORM: r = 2, g = 1, b = 0, a = 4; break;
	case VDEV_GPU_FORMAT_A8R8G8B8_UNORM: r = 1, g = 2, b = 3, a = 0; break;
	case VDEV_GPU_FORMAT_X8R8G8B8_UNORM: r = 1, g = 2, b = 3, a = 4; break;
	case VDEV_GPU_FORMAT_R8G8B8A8_UNORM: r = 0, g = 1, b = 2, a = 3; break;
	case VDEV_GPU_FORMAT_X8B8G8R8_UNORM: r = 3, g = 2, b = 1, a = 4; break;
	case VDEV_GPU_FORMAT_A8B8G8R8_UNORM: r = 3, g = 2, b = 1, a = 0; break;
	case VDEV_GPU_FORMAT_R8G8B8X8_UNORM: r = 0, g = 1, b = 2, a = 4; break;
	default: return VDEV_EINVAL;
	}
	for (uint32_t i = 0; i < npix; i++, s += 4, dst += 4) {
		uint8_t px[4] = {s[0], s[1], s[2], s[3]};
		dst[0] = px[r];
		dst[1] = px[g];
		dst[2] = px[b];
		dst[3] = a < 4 ? px[a] : 0xffu;
	}
	return 0;
}

/* ---- host memory (the budget) ------------------------------------------------------ */

static void *hm_alloc(struct vdev_gpu *gpu, uint64_t bytes)
{
	void *p;

	if (bytes == 0 || bytes > SIZE_MAX ||
	    bytes > gpu->P(max_host_bytes) - gpu->P(stats).host_bytes - gpu->P(stats).renderer_bytes)
		return NULL;
	p = gpu->P(hm)->alloc(gpu->P(hm_opaque), (size_t)bytes);
	if (p != NULL)
		gpu->P(stats).host_bytes += bytes;
	return p;
}

/* Charge `bytes` of renderer memory (an estimate) to the budget. */
static bool charge(struct vdev_gpu *gpu, uint64_t bytes)
{
	if (bytes < gpu->P(min_charge))
		bytes = gpu->P(min_charge);
	if (bytes > gpu->P(max_host_bytes) - gpu->P(stats).host_bytes - gpu->P(stats).renderer_bytes)
		return false;
	gpu->P(stats).renderer_bytes += bytes;
	return true;
}

static void hm_free(struct vdev_gpu *gpu, void *p, size_t bytes)
{
	if (p == NULL)
		return;
	gpu->P(hm)->free(gpu->P(hm_opaque), p, bytes);
	gpu->P(stats).host_bytes -= bytes;
}

/* ---- resource table ------------------------------------------------------------------ */

static struct vdev_gpu_resource *res_find(struct vdev_gpu *gpu, uint32_t id)
{
	if (id == 0)
		return NULL;
	for (unsigned i = 0; i < gpu->P(num_res); i++)
		if (gpu->P(res)[i].P(id) == id)
			return &gpu->P(res)[i];
	return NULL;
}

static struct vdev_gpu_resource *res_free_slot(struct vdev_gpu *gpu)
{
	for (unsigned i = 0; i < gpu->P(num_res); i++)
		if (gpu->P(res)[i].P(id) == 0)
			return &gpu->P(res)[i];
	return NULL;
}

static bool is_blob(const struct vdev_gpu_resource *r) { return r->P(blob_mem) != 0; }
/* A 3D resource (RESOURCE_CREATE_3D): the renderer holds it, the model keeps
 * at most a shadow of level 0 for the sink. */
static bool is_3d(const struct vdev_gpu_resource *r) { return r->P(rend) && !is_blob(r); }
static bool is_host_blob(const struct vdev_gpu_resource *r)
{
	return r->P(blob_mem) == BLOB_MEM_HOST3D || r->P(blob_mem) == BLOB_MEM_HOST3D_GUEST;
}

static void backing_free(struct vdev_gpu *gpu, struct vdev_gpu_resource *r)
{
	hm_free(gpu, r->P(segs), r->P(segs_bytes));
	r->P(segs) = NULL;
	r->P(segs_bytes) = 0;
	r->P(nsegs) = 0;
	r->P(backing_bytes) = 0;
}

/* ---- images and the sink --------------------------------------------------------------- */

static void image_of(const struct vdev_gpu_scanout_slot *so, const struct vdev_gpu_resource *r,
		     struct vdev_gpu_image *img)
{
	memset(img, 0, sizeof(*img));
	if (!is_blob(r)) {
		img->format = r->P(format);
		img->width = r->P(width);
		img->height = r->P(height);
		img->stride = r->P(stride);
		img->size = r->P(host_bytes);
		img->data = r->P(host);
		return;
	}
	img->format = so->P(format);
	img->width = so->P(width);
	img->height = so->P(height);
	img->stride = so->P(stride);
	img->offset = so->P(offset);
	img->size = r->P(size);
	img->segs = r->P(segs);
	img->nsegs = r->P(nsegs);
	/* A blob in one host piece is contiguous: give sinks the fast path. */
	if (r->P(nsegs) == 1)
		img->data = r->P(segs)[0].base;
}

static void scanout_describe(struct vdev_gpu *gpu, uint32_t sid, struct vdev_gpu_scanout *s,
			     struct vdev_gpu_image *img)
{
	const struct vdev_gpu_scanout_slot *so = &gpu->P(scanouts)[sid];
	const struct vdev_gpu_resource *r = res_find(gpu, so->P(resource_id));

	memset(s, 0, sizeof(*s));
	memset(img, 0, sizeof(*img));
	if (r == NULL)
		return;
	image_of(so, r, img);
	s->enabled = true;
	s->blob = is_blob(r);
	s->resource_id = so->P(resource_id);
	s->src = so->P(src);
	s->width = so->P(src).width;
	s->height = so->P(src).height;
	s->format = img->format;
	s->image = img;
}

static void sink_scanout(struct vdev_gpu *gpu, uint32_t sid)
{
	struct vdev_gpu_scanout s;
	struct vdev_gpu_image img;

	if (!SINK_HAS(gpu, scanout))
		return;
	scanout_describe(gpu, sid, &s, &img);
	gpu->P(sink)->scanout(gpu->P(sink_opaque), sid, &s);
}

static void scanout_disable(struct vdev_gpu *gpu, uint32_t sid)
{
	struct vdev_gpu_scanout_slot *so = &gpu->P(scanouts)[sid];
	struct vdev_gpu_resource *r = res_find(gpu, so->P(resource_id));

	if (so->P(resource_id) == 0)
		return;
	if (r != NULL)
		r->P(scanouts) = (uint16_t)(r->P(scanouts) & ~(1u << sid));
	so->P(resource_id) = 0;
	so->P(blob) = false;
	memset(&so->P(src), 0, sizeof(so->P(src)));
	sink_scanout(gpu, sid);
}

/*
 * Put resource `r` (id `id`) on scanout `sid`, showing `rect` of it; the
 * resource it showed before no longer counts it. The caller fills in the
 * rest of the slot and tells the sink. Returns the slot.
 */
static struct vdev_gpu_scanout_slot *scanout_bind(struct vdev_gpu *gpu, uint32_t sid,
						  struct vdev_gpu_resource *r, uint32_t id,
						  const struct vdev_gpu_rect *rect, bool blob)
{
	struct vdev_gpu_scanout_slot *so = &gpu->P(scanouts)[sid];
	struct vdev_gpu_resource *old = res_find(gpu, so->P(resource_id));

	if (old != NULL)
		old->P(scanouts) = (uint16_t)(old->P(scanouts) & ~(1u << sid));
	so->P(resource_id) = id;
	so->P(blob) = blob;
	so->P(src) = *rect;
	r->P(scanouts) = (uint16_t)(r->P(scanouts) | (1u << sid));
	return so;
}

/* Disable every scanout that shows `r`. */
static void scanouts_drop(struct vdev_gpu *gpu, struct vdev_gpu_resource *r)
{
	for (uint32_t i = 0; i < gpu->P(num_scanouts); i++)
		if (r->P(scanouts) & (1u << i))
			scanout_disable(gpu, i);
	r->P(scanouts) = 0;
}

static void blob_unmap(struct vdev_gpu *gpu, struct vdev_gpu_resource *r)
{
	if (!r->P(mapped))
		return;
	gpu->P(shm_ops)->unmap(gpu->P(shm_opaque), r->P(id), r->P(map_offset), r->P(map_size));
	REND(gpu)->blob_unmap(ROP(gpu), r->P(id));
	r->P(mapped) = false;
	gpu->P(stats).mapped_blobs--;
}

static void res_destroy(struct vdev_gpu *gpu, struct vdev_gpu_resource *r, bool tell_sink)
{
	if (tell_sink)
		scanouts_drop(gpu, r);
	if (gpu->P(cursor_res) == r->P(id))
		gpu->P(cursor_res) = 0;
	if (r->P(rend)) {
		/* Unmap, take the backing away, then the resource itself. */
		blob_unmap(gpu, r);
		if (r->P(segs) != NULL)
			REND(gpu)->detach_backing(ROP(gpu), r->P(id));
		REND(gpu)->resource_unref(ROP(gpu), r->P(id));
		gpu->P(stats).renderer_bytes -= r->P(charge);
	}
	backing_free(gpu, r);
	hm_free(gpu, r->P(host), (size_t)r->P(host_bytes));
	memset(r, 0, sizeof(*r));
	gpu->P(stats).resources--;
}

VDEV_API uint32_t vdev_gpu_image_read(const struct vdev_gpu_image *img, uint32_t x, uint32_t y,
				      uint32_t npix, void *dst)
{
	uint64_t off, len;

	if (img == NULL || dst == NULL || npix == 0 || y >= img->height || x > img->width ||
	    npix > img->width - x)
		return 0;
	if (VDEV__ADD_OVERFLOW(img->offset, (uint64_t)y * img->stride, &off))
		return 0;
	if (VDEV__ADD_OVERFLOW(off, (uint64_t)x * VDEV_GPU_BYTES_PER_PIXEL, &off))
		return 0;
	len = (uint64_t)npix * VDEV_GPU_BYTES_PER_PIXEL;
	if (off > img->size || len > img->size - off || img->size > SIZE_MAX)
		return 0;
	if (img->data != NULL) {
		memcpy(dst, img->data + off, (size_t)len);
		return npix;
	}
	if (vdev_iov_to_buf(img->segs, img->nsegs, (size_t)off, dst, (size_t)len) != len)
		return 0;
	return npix;
}

/* ---- backing: guest scatter lists ------------------------------------------------------ */

/* A forward-moving reader over a segment list (transfers read rows in
 * ascending order, so each row does not walk the list from the start). */
struct seg_cursor {
	const struct vdev_iov *segs;
	unsigned n, i;
	uint64_t base; /* offset of segs[i] in the list */
};

static bool seg_copy(struct seg_cursor *c, uint64_t off, uint8_t *dst, uint64_t len)
{
	if (off < c->base) {
		c->i = 0;
		c->base = 0;
	}
	while (c->i < c->n && off >= c->base + c->segs[c->i].len) {
		c->base += c->segs[c->i].len;
		c->i++;
	}
	while (len > 0) {
		uint64_t in, chunk;

		if (c->i >= c->n)
			return false;
		in = off - c->base;
		chunk = VDEV__MIN(len, (uint64_t)c->segs[c->i].len - in);
		memcpy(dst, (const uint8_t *)c->segs[c->i].base + in, (size_t)chunk);
		dst += chunk;
		off += chunk;
		len -= chunk;
		if (off == c->base + c->segs[c->i].len) {
			c->base += c->segs[c->i].len;
			c->i++;
		}
	}
	return true;
}

/*
 * Host segments of one guest range, counted (segs NULL) or stored into
 * segs[*n..cap). Returns false if the range is not guest memory or needs
 * more than cap segments in all.
 */
static bool map_entry(const struct vdev_mem *mem, uint64_t gpa, uint64_t len, struct vdev_iov *segs,
		      unsigned cap, unsigned *n)
{
	while (len > 0) {
		void *hva;
		uint64_t mapped;

		if (*n >= cap || vdev_mem_map(mem, gpa, len, VDEV_MEM_READ, &hva, &mapped) != 0 ||
		    mapped == 0 || mapped > len || mapped > SIZE_MAX)
			return false;
		if (segs != NULL) {
			segs[*n].base = hva;
			segs[*n].len = (size_t)mapped;
		}
		(*n)++;
		gpa += mapped;
		len -= mapped;
	}
	return true;
}

/*
 * Attach the `nr` struct virtio_gpu_mem_entry that follow `entries_off`
 * bytes into the readable part of chain e as the backing of r. The entries
 * are copied out once (into a temporary buffer from the budget), then
 * translated; the segment table is sized by the copy, so nothing the guest
 * changes meanwhile matters. Returns a response type.
 */
static uint32_t backing_attach(struct vdev_gpu *gpu, const struct vdev_vq_elem *e,
			       uint64_t entries_off, uint32_t nr, struct vdev_gpu_resource *r)
{
	uint64_t bytes = (uint64_t)nr * MEM_ENTRY_SIZE, total = 0;
	unsigned nsegs = 0, cap = gpu->P(max_entries);
	uint8_t *copy;
	struct vdev_iov *segs;
	uint32_t resp = RESP_ERR_INVALID_PARAMETER;

	if (nr == 0 || nr > gpu->P(max_entries))
		return RESP_ERR_INVALID_PARAMETER;
	if (entries_off + bytes > e->out_bytes)
		return RESP_ERR_UNSPEC; /* the entries are not all in the request */
	copy = hm_alloc(gpu, bytes);
	if (copy == NULL) {
		gpu->P(stats).out_of_memory++;
		return RESP_ERR_OUT_OF_MEMORY;
	}
	if (vdev_iov_to_buf(e->iov, e->n_out, (size_t)entries_off, copy, (size_t)bytes) != bytes)
		goto out;
	for (uint32_t i = 0; i < nr; i++) {
		uint64_t gpa = vdev__get_le64(copy + i * MEM_ENTRY_SIZE);
		uint32_t len = vdev__get_le32(copy + i * MEM_ENTRY_SIZE + 8);

		if (len == 0 || !map_entry(gpu->P(mem), gpa, len, NULL, cap, &nsegs))
			goto out;
		total += len;
	}
	segs = hm_alloc(gpu, (uint64_t)nsegs * sizeof(*segs));
	if (segs == NULL) {
		gpu->P(stats).out_of_memory++;
		resp = RESP_ERR_OUT_OF_MEMORY;
		goto out;
	}
	cap = nsegs;
	nsegs = 0;
	for (uint32_t i = 0; i < nr; i++) {
		uint64_t gpa = vdev__get_le64(copy + i * MEM_ENTRY_SIZE);
		uint32_t len = vdev__get_le32(copy + i * MEM_ENTRY_SIZE + 8);

		if (!map_entry(gpu->P(mem), gpa, len, segs, cap, &nsegs)) {
			hm_free(gpu, segs, (size_t)cap * sizeof(*segs));
			goto out;
		}
	}
	/* The backing must hold the whole resource. */
	if (total < r->P(size)) {
		hm_free(gpu, segs, (size_t)cap * sizeof(*segs));
		goto out;
	}
	r->P(segs) = segs;
	r->P(segs_bytes) = (size_t)cap * sizeof(*segs);
	r->P(nsegs) = nsegs;
	r->P(backing_bytes) = total;
	resp = RESP_OK_NODATA;
out:
	hm_free(gpu, copy, (size_t)bytes);
	return resp;
}

/* ---- EDID ------------------------------------------------------------------------------- */

static uint8_t clamp8(uint64_t v) { return (uint8_t)(v > 255 ? 255 : v); }

/* 64-bit division without the libgcc helper 32-bit targets would need
 * (__aeabi_uldivmod): shift and subtract. d != 0. */
static uint64_t div64(uint64_t n, uint64_t d)
{
	uint64_t q = 0, r = 0;

	for (int i = 63; i >= 0; i--) {
		r = (r << 1) | ((n >> i) & 1u);
		if (r >= d) {
			r -= d;
			q |= UINT64_C(1) << i;
		}
	}
	return q;
}

static void edid_dummy(uint8_t *d)
{
	memset(d, 0, 18);
	d[3] = 0x10;
}

static void edid_text(uint8_t *d, uint8_t tag, const char *s, size_t n)
{
	memset(d, 0, 5);
	d[3] = tag;
	for (size_t i = 0; i < 13; i++)
		d[5 + i] = i < n ? (uint8_t)s[i] : (i == n ? 0x0a : 0x20);
}

VDEV_API void vdev_gpu_edid(const struct vdev_gpu_display *d, uint32_t index,
			    uint8_t out[VDEV_GPU_EDID_SIZE])
{
	/* sRGB primaries and D65 white, 10-bit binary fractions. */
	static const uint16_t chroma[8] = {655, 338, 307, 614, 154, 61, 320, 337};
	uint32_t w = d->width != 0 ? d->width : 1024u;
	uint32_t h = d->height != 0 ? d->height : 768u;
	uint64_t mhz = d->refresh_millihz != 0 ? d->refresh_millihz : 60000u;
	uint64_t wmm = d->width_mm != 0 ? d->width_mm : div64((uint64_t)w * 254u + 480u, 960u);
	uint64_t hmm = d->height_mm != 0 ? d->height_mm : div64((uint64_t)h * 254u + 480u, 960u);
	uint64_t hblank = 160, hfront = 48, hsync = 32, vfront = 3, vsync = 6, vblank;
	uint64_t htotal, vtotal, pclk_hz, pclk10k, hz, khz;
	uint8_t *t;
	char name[16] = "libvdev-";
	size_t nlen = 8;
	unsigned sum = 0;

	if (mhz > MAX_REFRESH_MILLIHZ)
		mhz = MAX_REFRESH_MILLIHZ;
	/* CVT reduced blanking: at least 460 us of vertical blanking. */
	vblank = div64(460u * (uint64_t)h * mhz + (1000000000u - 460u * mhz) - 1,
		       1000000000u - 460u * mhz);
	if (vblank < vfront + vsync + 6)
		vblank = vfront + vsync + 6;
	htotal = w + hblank;
	vtotal = h + vblank;
	pclk_hz = div64(htotal * vtotal * mhz, 1000u);
	pclk10k = div64(pclk_hz + 5000u, 10000u);
	hz = div64(mhz + 500u, 1000u);
	khz = div64(vtotal * mhz + 500000u, 1000000u);

	memset(out, 0, VDEV_GPU_EDID_SIZE);
	out[1] = out[2] = out[3] = out[4] = out[5] = out[6] = 0xff;
	/* Manufacturer "VDV" (5-bit letters, big-endian), product 1, serial. */
	out[8] = (uint8_t)((22u << 2) | (4u >> 3));
	out[9] = (uint8_t)(((4u & 7u) << 5) | 22u);
	out[10] = 1;
	vdev__put_le32(out + 12, index);
	out[16] = 0;   /* week unspecified */
	out[17] = 34;  /* 2024 */
	out[18] = 1;   /* EDID 1.4 */
	out[19] = 4;
	out[20] = 0xa5; /* digital, 8 bits per colour, DisplayPort */
	out[21] = clamp8(div64(wmm + 5u, 10u));
	out[22] = clamp8(div64(hmm + 5u, 10u));
	if (out[21] == 0)
		out[21] = 1;
	if (out[22] == 0)
		out[22] = 1;
	out[23] = 120; /* gamma 2.2 */
	out[24] = 0x06; /* RGB 4:4:4, sRGB default, preferred timing is native */
	out[25] = (uint8_t)((chroma[0] & 3u) << 6 | (chroma[1] & 3u) << 4 | (chroma[2] & 3u) << 2 |
			    (chroma[3] & 3u));
	out[26] = (uint8_t)((chroma[4] & 3u) << 6 | (chroma[5] & 3u) << 4 | (chroma[6] & 3u) << 2 |
			    (chroma[7] & 3u));
	for (unsigned i = 0; i < 8; i++)
		out[27 + i] = (uint8_t)(chroma[i] >> 2);
	for (unsigned i = 38; i < 54; i++)
		out[i] = 0x01; /* standard timings unused */

	/* Descriptor 1: the preferred mode as a detailed timing. */
	t = out + 54;
	if (w <= 4095 && h <= 4095 && vblank <= 4095 && pclk10k > 0 && pclk10k <= 0xffff) {
		uint64_t iw = wmm > 4095 ? 4095 : wmm, ih = hmm > 4095 ? 4095 : hmm;

		vdev__put_le16(t, (uint16_t)pclk10k);
		t[2] = (uint8_t)w;
		t[3] = (uint8_t)hblank;
		t[4] = (uint8_t)(((w >> 8) & 0xfu) << 4 | ((hblank >> 8) & 0xfu));
		t[5] = (uint8_t)h;
		t[6] = (uint8_t)vblank;
		t[7] = (uint8_t)(((h >> 8) & 0xfu) << 4 | ((vblank >> 8) & 0xfu));
		t[8] = (uint8_t)hfront;
		t[9] = (uint8_t)hsync;
		t[10] = (uint8_t)((vfront & 0xfu) << 4 | (vsync & 0xfu));
		t[11] = (uint8_t)(((hfront >> 8) & 3u) << 6 | ((hsync >> 8) & 3u) << 4 |
				  ((vfront >> 4) & 3u) << 2 | ((vsync >> 4) & 3u));
		t[12] = (uint8_t)iw;
		t[13] = (uint8_t)ih;
		t[14] = (uint8_t)(((iw >> 8) & 0xfu) << 4 | ((ih >> 8) & 0xfu));
		t[17] = 0x1a; /* digital separate sync, hsync +, vsync - */
	} else {
		edid_dummy(t);
	}

	/* Descriptor 2: range limits around the mode. */
	t = out + 72;
	memset(t, 0, 18);
	t[3] = 0xfd;
	t[5] = clamp8(hz < 50 ? (hz > 0 ? hz : 1) : 50);
	t[6] = clamp8(hz > 75 ? hz : 75);
	t[7] = clamp8(khz < 30 ? (khz > 0 ? khz : 1) : 30);
	t[8] = clamp8(khz + 1 > 160 ? khz + 1 : 160);
	t[9] = clamp8(div64(pclk_hz + 9999999u, 10000000u) + 1u);
	t[10] = 0x01; /* range limits only */
	t[11] = 0x0a;
	for (unsigned i = 12; i < 18; i++)
		t[i] = 0x20;

	/* Descriptor 3: the name; descriptor 4: unused. */
	{
		char digits[10];
		unsigned nd = 0;
		uint32_t v = index;

		do {
			digits[nd++] = (char)('0' + v % 10u);
			v /= 10u;
		} while (v != 0 && nd < sizeof(digits));
		while (nd > 0 && nlen < 13)
			name[nlen++] = digits[--nd];
	}
	edid_text(out + 90, 0xfc, name, nlen);
	edid_dummy(out + 108);

	out[126] = 0; /* no extensions */
	for (unsigned i = 0; i < 127; i++)
		sum += out[i];
	out[127] = (uint8_t)(256u - (sum & 0xffu));
}

/* ---- config space ------------------------------------------------------------------------ */

static uint32_t events_read(const struct vdev_gpu *gpu)
{
	return vdev__get_le32(gpu->P(config) + CFG_EVENTS_READ);
}

static void set_events_read(struct vdev_gpu *gpu, uint32_t v)
{
	vdev__put_le32(gpu->P(config) + CFG_EVENTS_READ, v);
}

/* ---- the command handlers -------------------------------------------------------------------
 * Each gets the command copied out of the chain (cmd, `len` bytes, header
 * included; at least the command's request size, checked by the caller) and
 * returns the response type; a payload goes into gpu->resp after the header
 * (already zeroed up to the response size).
 */

struct req {
	const struct vdev_vq_elem *e;
	const uint8_t *cmd;
	uint32_t len;
	uint32_t ctx_id;
};

static uint32_t rd32(const struct req *q, unsigned off) { return vdev__get_le32(q->cmd + off); }

static void rect_at(const struct req *q, unsigned off, struct vdev_gpu_rect *r)
{
	r->x = rd32(q, off);
	r->y = rd32(q, off + 4);
	r->width = rd32(q, off + 8);
	r->height = rd32(q, off + 12);
}

/* r inside a w x h area, all in 64 bits (x + width cannot wrap). */
static bool rect_inside(const struct vdev_gpu_rect *r, uint32_t w, uint32_t h)
{
	return (uint64_t)r->x + r->width <= w && (uint64_t)r->y + r->height <= h;
}

static struct vdev_gpu_context *ctx_find(struct vdev_gpu *gpu, uint32_t id);
static void fences_retire_ctx(struct vdev_gpu *gpu, uint32_t ctx_id);
static bool box_inside(const struct vdev_gpu_resource_3d *a, uint32_t level,
		       const struct vdev_gpu_box *b);
static uint32_t rend_err(int rc);

static uint32_t cmd_get_display_info(struct vdev_gpu *gpu, const struct req *q)
{
	(void)q;
	for (uint32_t i = 0; i < gpu->P(num_scanouts); i++) {
		const struct vdev_gpu_display *d = &gpu->P(scanouts)[i].P(display);
		uint8_t *p = gpu->P(resp) + HDR_SIZE + i * 24u;

		if (!d->enabled)
			continue;
		vdev__put_le32(p, d->x);
		vdev__put_le32(p + 4, d->y);
		vdev__put_le32(p + 8, d->width);
		vdev__put_le32(p + 12, d->height);
		vdev__put_le32(p + 16, 1);
	}
	return RESP_OK_DISPLAY_INFO;
}

static uint32_t cmd_get_edid(struct vdev_gpu *gpu, const struct req *q)
{
	uint32_t sid = rd32(q, HDR_SIZE);

	if (!negotiated(gpu, VDEV_GPU_F_EDID))
		return RESP_ERR_UNSPEC;
	if (sid >= gpu->P(num_scanouts))
		return RESP_ERR_INVALID_SCANOUT_ID;
	vdev__put_le32(gpu->P(resp) + HDR_SIZE, VDEV_GPU_EDID_SIZE);
	vdev_gpu_edid(&gpu->P(scanouts)[sid].P(display), sid, gpu->P(resp) + HDR_SIZE + 8);
	return RESP_OK_EDID;
}

static uint32_t new_resource_id_check(struct vdev_gpu *gpu, uint32_t id)
{
	if (id == 0 || res_find(gpu, id) != NULL)
		return RESP_ERR_INVALID_RESOURCE_ID;
	return RESP_OK_NODATA;
}

static uint32_t cmd_create_2d(struct vdev_gpu *gpu, const struct req *q)
{
	uint32_t id = rd32(q, HDR_SIZE), format = rd32(q, HDR_SIZE + 4);
	uint32_t width = rd32(q, HDR_SIZE + 8), height = rd32(q, HDR_SIZE + 12);
	uint64_t stride = (uint64_t)width * VDEV_GPU_BYTES_PER_PIXEL, size;
	struct vdev_gpu_resource *r;
	uint32_t resp = new_resource_id_check(gpu, id);

	if (resp != RESP_OK_NODATA)
		return resp;
	if (!vdev_gpu_format_valid(format) || width == 0 || height == 0)
		return RESP_ERR_INVALID_PARAMETER;
	size = stride * height; /* < 2^34 * 2^32: no wrap */
	r = res_free_slot(gpu);
	if (stride > UINT32_MAX || r == NULL)
		goto oom;
	r->P(host) = hm_alloc(gpu, size);
	if (r->P(host) == NULL)
		goto oom;
	memset(r->P(host), 0, (size_t)size);
	r->P(id) = id;
	r->P(format) = format;
	r->P(width) = width;
	r->P(height) = height;
	r->P(stride) = (uint32_t)stride;
	r->P(size) = size;
	r->P(host_bytes) = size;
	gpu->P(stats).resources++;
	return RESP_OK_NODATA;
oom:
	gpu->P(stats).out_of_memory++;
	return RESP_ERR_OUT_OF_MEMORY;
}

static bool virgl_on(const struct vdev_gpu *gpu)
{
	return VDEV_CONFIG_GPU_3D && gpu->P(virgl) && negotiated(gpu, VDEV_GPU_F_VIRGL);
}


static uint32_t rend_err(int rc)
{
	return rc == VDEV_ENOMEM ? RESP_ERR_OUT_OF_MEMORY : RESP_ERR_INVALID_PARAMETER;
}

/* The renderer's half of RESOURCE_CREATE_BLOB for resource slot r (blob
 * memory, flags and size already recorded, guest pages attached). */
static uint32_t rend_blob_create(struct vdev_gpu *gpu, const struct req *q,
				 struct vdev_gpu_resource *r, uint32_t id)
{
	const struct vdev_gpu_blob b = {
		.ctx_id = q->ctx_id,
		.blob_mem = r->P(blob_mem),
		.blob_flags = r->P(blob_flags),
		.blob_id = vdev__get_le64(q->cmd + HDR_SIZE + 16),
		.size = r->P(size),
		.segs = r->P(segs),
		.nsegs = r->P(nsegs),
	};
	int rc = REND(gpu)->blob_create(ROP(gpu), id, &b);

	if (rc != 0) {
		if (rc == VDEV_ENOMEM)
			gpu->P(stats).out_of_memory++;
		return rend_err(rc);
	}
	r->P(rend) = true;
	return RESP_OK_NODATA;
}

/* RESOURCE_CREATE_BLOB with HOST3D / HOST3D_GUEST memory: the renderer
 * makes the blob from context object blob_id; optional guest pages
 * (HOST3D_GUEST) are its shadow. */
static uint32_t create_host_blob(struct vdev_gpu *gpu, const struct req *q, uint32_t id,
				 uint32_t blob_mem, uint32_t blob_flags, uint32_t nr, uint64_t size)
{
	struct vdev_gpu_resource *r;
	uint32_t resp;

	if (!virgl_on(gpu) || !RENDERER_HAS(gpu, blob_create))
		return RESP_ERR_INVALID_PARAMETER;
	if (ctx_find(gpu, q->ctx_id) == NULL)
		return RESP_ERR_INVALID_CONTEXT_ID;
	if ((blob_flags & ~BLOB_FLAGS_MASK) != 0 || size == 0 || size % PAGE != 0 ||
	    (blob_mem == BLOB_MEM_HOST3D && nr != 0) || nr > gpu->P(max_entries))
		return RESP_ERR_INVALID_PARAMETER;
	r = res_free_slot(gpu);
	if (r == NULL || !charge(gpu, size))
		goto oom;
	r->P(charge) = size < gpu->P(min_charge) ? gpu->P(min_charge) : size;
	r->P(blob_mem) = blob_mem;
	r->P(blob_flags) = blob_flags;
	r->P(size) = size;
	if (nr != 0) {
		resp = backing_attach(gpu, q->e, REQ_CREATE_BLOB, nr, r);
		if (resp != RESP_OK_NODATA)
			goto undo;
	}
	resp = rend_blob_create(gpu, q, r, id);
	if (resp != RESP_OK_NODATA)
		goto undo;
	r->P(id) = id;
	gpu->P(stats).resources++;
	return RESP_OK_NODATA;
undo:
	gpu->P(stats).renderer_bytes -= r->P(charge);
	backing_free(gpu, r);
	memset(r, 0, sizeof(*r));
	return resp;
oom:
	gpu->P(stats).out_of_memory++;
	return RESP_ERR_OUT_OF_MEMORY;
}

static uint32_t cmd_create_blob(struct vdev_gpu *gpu, const struct req *q)
{
	uint32_t id = rd32(q, HDR_SIZE), blob_mem = rd32(q, HDR_SIZE + 4);
	uint32_t blob_flags = rd32(q, HDR_SIZE + 8), nr = rd32(q, HDR_SIZE + 12);
	uint64_t size = vdev__get_le64(q->cmd + HDR_SIZE + 24);
	struct vdev_gpu_resource *r;
	uint32_t resp;
	bool rend;

	if (!negotiated(gpu, VDEV_GPU_F_RESOURCE_BLOB))
		return RESP_ERR_UNSPEC;
	resp = new_resource_id_check(gpu, id);
	if (resp != RESP_OK_NODATA)
		return resp;
	/* Host blobs need a 3D renderer (blob_id names its object). */
	if (blob_mem == BLOB_MEM_HOST3D || blob_mem == BLOB_MEM_HOST3D_GUEST)
		return create_host_blob(gpu, q, id, blob_mem, blob_flags, nr, size);
	if (blob_mem != BLOB_MEM_GUEST || (blob_flags & ~BLOB_FLAGS_MASK) != 0 || size == 0 ||
	    nr > gpu->P(max_entries))
		return RESP_ERR_INVALID_PARAMETER;
	/* With VIRGL a guest blob is the renderer's too (a context may import
	 * guest memory, as venus does); ctx_id 0 or a live context. */
	rend = virgl_on(gpu) && RENDERER_HAS(gpu, blob_create);
	if (rend && q->ctx_id != 0 && ctx_find(gpu, q->ctx_id) == NULL)
		return RESP_ERR_INVALID_CONTEXT_ID;
	r = res_free_slot(gpu);
	if (r == NULL || (rend && !charge(gpu, 0))) {
		gpu->P(stats).out_of_memory++;
		return RESP_ERR_OUT_OF_MEMORY;
	}
	r->P(charge) = rend ? gpu->P(min_charge) : 0;
	r->P(blob_mem) = blob_mem;
	r->P(blob_flags) = blob_flags;
	r->P(size) = size;
	if (nr != 0) {
		resp = backing_attach(gpu, q->e, REQ_CREATE_BLOB, nr, r);
		if (resp != RESP_OK_NODATA)
			goto undo;
	}
	if (rend) {
		resp = rend_blob_create(gpu, q, r, id);
		if (resp != RESP_OK_NODATA)
			goto undo;
	}
	r->P(id) = id;
	gpu->P(stats).resources++;
	return RESP_OK_NODATA;
undo:
	gpu->P(stats).renderer_bytes -= r->P(charge);
	backing_free(gpu, r);
	memset(r, 0, sizeof(*r));
	return resp;
}

static uint32_t cmd_unref(struct vdev_gpu *gpu, const struct req *q)
{
	struct vdev_gpu_resource *r = res_find(gpu, rd32(q, HDR_SIZE));

	if (r == NULL)
		return RESP_ERR_INVALID_RESOURCE_ID;
	res_destroy(gpu, r, true);
	return RESP_OK_NODATA;
}

/* Can the sink be shown 3D resource r? Level 0 of a 2D texture in a
 * format of the spec, read back by the renderer. */
static bool shadow_ok(struct vdev_gpu *gpu, const struct vdev_gpu_resource *r)
{
	return RENDERER_HAS(gpu, read_rect) &&
	       (r->P(r3d).target == VDEV_GPU_TARGET_2D || r->P(r3d).target == VDEV_GPU_TARGET_RECT) &&
	       vdev_gpu_format_valid(r->P(r3d).format);
}

/* Read `rect` (inside the resource) of 3D resource r into its shadow (level
 * 0, stride width * 4), allocated from the budget on first use. */
static uint32_t shadow_read(struct vdev_gpu *gpu, struct vdev_gpu_resource *r,
			    const struct vdev_gpu_rect *rect)
{
	uint64_t stride = (uint64_t)r->P(width) * VDEV_GPU_BYTES_PER_PIXEL;

	if (r->P(host) == NULL) {
		uint64_t bytes = stride * r->P(height); /* both <= 16384 */

		r->P(host) = hm_alloc(gpu, bytes);
		if (r->P(host) == NULL) {
			gpu->P(stats).out_of_memory++;
			return RESP_ERR_OUT_OF_MEMORY;
		}
		memset(r->P(host), 0, (size_t)bytes);
		r->P(host_bytes) = bytes;
		r->P(stride) = (uint32_t)stride;
	}
	if (rect->width == 0 || rect->height == 0)
		return RESP_OK_NODATA;
	if (REND(gpu)->read_rect(ROP(gpu), r->P(id), rect,
				 r->P(host) + rect->y * stride + (uint64_t)rect->x * 4u,
				 (uint32_t)stride) != 0)
		return RESP_ERR_UNSPEC;
	return RESP_OK_NODATA;
}

static uint32_t cmd_set_scanout(struct vdev_gpu *gpu, const struct req *q)
{
	struct vdev_gpu_rect rect;
	uint32_t sid = rd32(q, HDR_SIZE + 16), id = rd32(q, HDR_SIZE + 20);
	struct vdev_gpu_resource *r;

	rect_at(q, HDR_SIZE, &rect);
	if (sid >= gpu->P(num_scanouts))
		return RESP_ERR_INVALID_SCANOUT_ID;
	if (id == 0) {
		scanout_disable(gpu, sid);
		return RESP_OK_NODATA;
	}
	r = res_find(gpu, id);
	if (r == NULL || is_blob(r) || (is_3d(r) && !shadow_ok(gpu, r)))
		return RESP_ERR_INVALID_RESOURCE_ID;
	if (rect.width == 0 || rect.height == 0 || !rect_inside(&rect, r->P(width), r->P(height)))
		return RESP_ERR_INVALID_PARAMETER;
	if (is_3d(r)) {
		uint32_t resp = shadow_read(gpu, r, &rect);

		if (resp != RESP_OK_NODATA)
			return resp;
	}
	(void)scanout_bind(gpu, sid, r, id, &rect, false);
	sink_scanout(gpu, sid);
	return RESP_OK_NODATA;
}

static uint32_t cmd_set_scanout_blob(struct vdev_gpu *gpu, const struct req *q)
{
	struct vdev_gpu_rect rect;
	uint32_t sid = rd32(q, HDR_SIZE + 16), id = rd32(q, HDR_SIZE + 20);
	uint32_t width = rd32(q, HDR_SIZE + 24), height = rd32(q, HDR_SIZE + 28);
	uint32_t format = rd32(q, HDR_SIZE + 32);
	uint32_t stride = rd32(q, HDR_SIZE + 40), offset = rd32(q, HDR_SIZE + 56);
	uint64_t row = (uint64_t)width * VDEV_GPU_BYTES_PER_PIXEL, end;
	struct vdev_gpu_scanout_slot *so;
	struct vdev_gpu_resource *r;

	rect_at(q, HDR_SIZE, &rect);
	if (!negotiated(gpu, VDEV_GPU_F_RESOURCE_BLOB))
		return RESP_ERR_UNSPEC;
	if (sid >= gpu->P(num_scanouts))
		return RESP_ERR_INVALID_SCANOUT_ID;
	if (id == 0) {
		scanout_disable(gpu, sid);
		return RESP_OK_NODATA;
	}
	r = res_find(gpu, id);
	if (r == NULL || !is_blob(r))
		return RESP_ERR_INVALID_RESOURCE_ID;
	/* Single-plane formats: strides[0] and offsets[0] describe the image;
	 * the last pixel of the last row must lie inside the blob. */
	if (!vdev_gpu_format_valid(format) || width == 0 || height == 0 || rect.width == 0 ||
	    rect.height == 0 || !rect_inside(&rect, width, height) || stride < row)
		return RESP_ERR_INVALID_PARAMETER;
	/* (height - 1) * stride + row <= height * stride < 2^64 as row <= stride */
	end = (uint64_t)(height - 1u) * stride + row;
	if (VDEV__ADD_OVERFLOW(end, (uint64_t)offset, &end) || end > r->P(size))
		return RESP_ERR_INVALID_PARAMETER;
	if (r->P(segs) == NULL)
		return RESP_ERR_UNSPEC;
	so = scanout_bind(gpu, sid, r, id, &rect, true);
	so->P(format) = format;
	so->P(width) = width;
	so->P(height) = height;
	so->P(stride) = stride;
	so->P(offset) = offset;
	sink_scanout(gpu, sid);
	return RESP_OK_NODATA;
}

static uint32_t cmd_flush(struct vdev_gpu *gpu, const struct req *q)
{
	struct vdev_gpu_rect rect;
	struct vdev_gpu_resource *r = res_find(gpu, rd32(q, HDR_SIZE + 16));

	rect_at(q, HDR_SIZE, &rect);
	if (r == NULL)
		return RESP_ERR_INVALID_RESOURCE_ID;
	if (!is_blob(r) && !rect_inside(&rect, r->P(width), r->P(height)))
		return RESP_ERR_INVALID_PARAMETER;
	gpu->P(stats).flushes++;
	for (uint32_t i = 0; i < gpu->P(num_scanouts); i++) {
		const struct vdev_gpu_rect *src = &gpu->P(scanouts)[i].P(src);
		uint64_t x1, y1, x2, y2;
		struct vdev_gpu_rect damage;
		struct vdev_gpu_scanout s;
		struct vdev_gpu_image img;

		if (!(r->P(scanouts) & (1u << i)))
			continue;
		/* Clip to what the scanout shows, in 64 bits, then make it
		 * scanout-relative. */
		x1 = rect.x > src->x ? rect.x : src->x;
		y1 = rect.y > src->y ? rect.y : src->y;
		x2 = VDEV__MIN((uint64_t)rect.x + rect.width, (uint64_t)src->x + src->width);
		y2 = VDEV__MIN((uint64_t)rect.y + rect.height, (uint64_t)src->y + src->height);
		if (x1 >= x2 || y1 >= y2)
			continue;
		if (is_3d(r)) {
			struct vdev_gpu_rect area = {(uint32_t)x1, (uint32_t)y1, (uint32_t)(x2 - x1),
						     (uint32_t)(y2 - y1)};

			if (shadow_read(gpu, r, &area) != RESP_OK_NODATA)
				continue; /* the sink keeps the old pixels */
		}
		if (!SINK_HAS(gpu, update))
			continue;
		damage.x = (uint32_t)(x1 - src->x);
		damage.y = (uint32_t)(y1 - src->y);
		damage.width = (uint32_t)(x2 - x1);
		damage.height = (uint32_t)(y2 - y1);
		scanout_describe(gpu, i, &s, &img);
		gpu->P(sink)->update(gpu->P(sink_opaque), i, &s, &damage);
	}
	return RESP_OK_NODATA;
}

static uint32_t cmd_transfer_2d(struct vdev_gpu *gpu, const struct req *q)
{
	struct vdev_gpu_rect rect;
	uint64_t offset = vdev__get_le64(q->cmd + HDR_SIZE + 16), row, last;
	struct vdev_gpu_resource *r = res_find(gpu, rd32(q, HDR_SIZE + 24));
	struct seg_cursor c;

	rect_at(q, HDR_SIZE, &rect);
	if (r == NULL)
		return RESP_ERR_INVALID_RESOURCE_ID;
	/* A guest blob has no host copy: its pixels are the guest's pages.
	 * Linux still sends transfers for its dumb buffers, which are guest
	 * blobs when RESOURCE_BLOB is negotiated: nothing to do. */
	if (is_blob(r))
		return RESP_OK_NODATA;
	if (r->P(segs) == NULL)
		return RESP_ERR_UNSPEC;
	if (!rect_inside(&rect, r->P(width), r->P(height)))
		return RESP_ERR_INVALID_PARAMETER;
	/* A 3D resource: level 0, layer 0 of it, from its backing, through
	 * the renderer (as QEMU does for virgl). */
	if (is_3d(r)) {
		struct vdev_gpu_transfer t = {
			.box = {rect.x, rect.y, 0, rect.width, rect.height, 1},
			.offset = offset,
		};
		int rc;

		if (!box_inside(&r->P(r3d), 0, &t.box) || offset > r->P(backing_bytes))
			return RESP_ERR_INVALID_PARAMETER;
		rc = REND(gpu)->transfer_to_host(ROP(gpu), r->P(id), &t);
		if (rc != 0)
			return rend_err(rc);
		gpu->P(stats).transfers++;
		return RESP_OK_NODATA;
	}
	if (rect.width == 0 || rect.height == 0)
		return RESP_OK_NODATA;
	/* Source row h starts at offset + h * stride of the backing (the
	 * guest's copy has the resource's layout); the last byte read must be
	 * inside the backing. */
	row = (uint64_t)rect.width * VDEV_GPU_BYTES_PER_PIXEL;
	last = (uint64_t)(rect.height - 1u) * r->P(stride) + row; /* <= height * stride < 2^64 */
	if (offset > r->P(backing_bytes) || last > r->P(backing_bytes) - offset)
		return RESP_ERR_INVALID_PARAMETER;
	c = (struct seg_cursor){.segs = r->P(segs), .n = r->P(nsegs)};
	for (uint32_t h = 0; h < rect.height; h++) {
		uint64_t src = offset + (uint64_t)h * r->P(stride);
		uint64_t dst = ((uint64_t)rect.y + h) * r->P(stride) +
			       (uint64_t)rect.x * VDEV_GPU_BYTES_PER_PIXEL;

		if (!seg_copy(&c, src, r->P(host) + dst, row))
			return RESP_ERR_INVALID_PARAMETER; /* not reached: checked above */
	}
	gpu->P(stats).transfers++;
	gpu->P(stats).transfer_bytes += row * rect.height;
	return RESP_OK_NODATA;
}

static uint32_t cmd_attach_backing(struct vdev_gpu *gpu, const struct req *q)
{
	struct vdev_gpu_resource *r = res_find(gpu, rd32(q, HDR_SIZE));
	uint32_t nr = rd32(q, HDR_SIZE + 4);

	uint32_t resp;
	int rc;

	if (r == NULL)
		return RESP_ERR_INVALID_RESOURCE_ID;
	if (r->P(segs) != NULL)
		return RESP_ERR_UNSPEC;
	if (r->P(blob_mem) == BLOB_MEM_HOST3D)
		return RESP_ERR_INVALID_PARAMETER; /* host-only: no guest pages */
	resp = backing_attach(gpu, q->e, REQ_ATTACH, nr, r);
	if (resp != RESP_OK_NODATA || !r->P(rend))
		return resp;
	rc = REND(gpu)->attach_backing(ROP(gpu), r->P(id), r->P(segs), r->P(nsegs));
	if (rc != 0) {
		backing_free(gpu, r);
		return rend_err(rc);
	}
	return RESP_OK_NODATA;
}

static uint32_t cmd_detach_backing(struct vdev_gpu *gpu, const struct req *q)
{
	struct vdev_gpu_resource *r = res_find(gpu, rd32(q, HDR_SIZE));

	if (r == NULL)
		return RESP_ERR_INVALID_RESOURCE_ID;
	if (r->P(segs) == NULL)
		return RESP_ERR_UNSPEC;
	/* A blob scanout reads the backing itself: it cannot stay on. */
	if (is_blob(r))
		scanouts_drop(gpu, r);
	if (r->P(rend))
		REND(gpu)->detach_backing(ROP(gpu), r->P(id));
	backing_free(gpu, r);
	return RESP_OK_NODATA;
}

static uint32_t cmd_assign_uuid(struct vdev_gpu *gpu, const struct req *q)
{
	struct vdev_gpu_resource *r = res_find(gpu, rd32(q, HDR_SIZE));

	if (!negotiated(gpu, VDEV_GPU_F_RESOURCE_UUID))
		return RESP_ERR_UNSPEC;
	if (r == NULL)
		return RESP_ERR_INVALID_RESOURCE_ID;
	if (!r->P(has_uuid)) {
		uint64_t n = ++gpu->P(uuid_counter);

		/* The counter goes into bits no version/variant mask touches:
		 * bytes 0..1 and 10..15. */
		memcpy(r->P(uuid), gpu->P(uuid_base), 16);
		for (unsigned i = 0; i < 6; i++)
			r->P(uuid)[10 + i] ^= (uint8_t)(n >> (8 * i));
		r->P(uuid)[0] ^= (uint8_t)(n >> 48);
		r->P(uuid)[1] ^= (uint8_t)(n >> 56);
		r->P(uuid)[6] = (uint8_t)((r->P(uuid)[6] & 0x0fu) | 0x40u);
		r->P(uuid)[8] = (uint8_t)((r->P(uuid)[8] & 0x3fu) | 0x80u);
		r->P(has_uuid) = true;
	}
	memcpy(gpu->P(resp) + HDR_SIZE, r->P(uuid), 16);
	return RESP_OK_RESOURCE_UUID;
}

static struct vdev_gpu_context *ctx_find(struct vdev_gpu *gpu, uint32_t id)
{
	if (id == 0)
		return NULL;
	for (unsigned i = 0; i < gpu->P(num_ctx); i++)
		if (gpu->P(ctx)[i].P(id) == id)
			return &gpu->P(ctx)[i];
	return NULL;
}

static uint32_t cmd_ctx_create(struct vdev_gpu *gpu, const struct req *q)
{
	uint32_t nlen = rd32(q, HDR_SIZE), init = rd32(q, HDR_SIZE + 4);
	struct vdev_gpu_context *c = NULL;

	if (q->ctx_id == 0 || ctx_find(gpu, q->ctx_id) != NULL)
		return RESP_ERR_INVALID_CONTEXT_ID;
	if (nlen > 64 || (init & ~CONTEXT_INIT_CAPSET_ID_MASK) != 0 ||
	    (init != 0 && !negotiated(gpu, VDEV_GPU_F_CONTEXT_INIT)))
		return RESP_ERR_INVALID_PARAMETER;
	/* No capsets without a renderer: only the default context type. */
	if (init != 0 && gpu->P(renderer) == NULL)
		return RESP_ERR_INVALID_PARAMETER;
	if (init != 0 && gpu->P(num_capsets) != 0) {
		bool known = false;

		for (uint32_t i = 0; i < gpu->P(num_capsets); i++)
			known |= gpu->P(capsets)[i].id == init;
		if (!known)
			return RESP_ERR_INVALID_PARAMETER;
	}
	for (unsigned i = 0; i < gpu->P(num_ctx) && c == NULL; i++)
		if (gpu->P(ctx)[i].P(id) == 0)
			c = &gpu->P(ctx)[i];
	if (c == NULL) {
		gpu->P(stats).out_of_memory++;
		return RESP_ERR_OUT_OF_MEMORY;
	}
	if (RENDERER_HAS(gpu, ctx_create)) {
		int rc = gpu->P(renderer)->ctx_create(gpu->P(renderer_opaque), q->ctx_id, init,
						       (const char *)q->cmd + HDR_SIZE + 8, nlen);
		if (rc != 0)
			return rend_err(rc);
	}
	c->P(id) = q->ctx_id;
	c->P(context_init) = init;
	return RESP_OK_NODATA;
}

static void ctx_destroy(struct vdev_gpu *gpu, struct vdev_gpu_context *c)
{
	if (RENDERER_HAS(gpu, ctx_destroy))
		gpu->P(renderer)->ctx_destroy(gpu->P(renderer_opaque), c->P(id));
	c->P(id) = 0;
	c->P(context_init) = 0;
}

static uint32_t cmd_ctx_destroy(struct vdev_gpu *gpu, const struct req *q)
{
	struct vdev_gpu_context *c = ctx_find(gpu, q->ctx_id);

	if (c == NULL)
		return RESP_ERR_INVALID_CONTEXT_ID;
	ctx_destroy(gpu, c);
	fences_retire_ctx(gpu, q->ctx_id);
	return RESP_OK_NODATA;
}

static uint32_t cmd_ctx_resource(struct vdev_gpu *gpu, const struct req *q, bool attach)
{
	struct vdev_gpu_resource *r;

	if (ctx_find(gpu, q->ctx_id) == NULL)
		return RESP_ERR_INVALID_CONTEXT_ID;
	r = res_find(gpu, rd32(q, HDR_SIZE));
	if (r == NULL)
		return RESP_ERR_INVALID_RESOURCE_ID;
	/* Only renderer resources are shared with a context; the others are
	 * the model's own (bookkeeping only). */
	if (!r->P(rend))
		return RESP_OK_NODATA;
	if (attach && RENDERER_HAS(gpu, ctx_attach_resource))
		REND(gpu)->ctx_attach_resource(ROP(gpu), q->ctx_id, r->P(id));
	if (!attach && RENDERER_HAS(gpu, ctx_detach_resource))
		REND(gpu)->ctx_detach_resource(ROP(gpu), q->ctx_id, r->P(id));
	return RESP_OK_NODATA;
}

static void cursor_describe(struct vdev_gpu *gpu, struct vdev_gpu_cursor *c)
{
	memset(c, 0, sizeof(*c));
	c->scanout = gpu->P(cursor_scanout);
	c->x = gpu->P(cursor_x);
	c->y = gpu->P(cursor_y);
	c->hot_x = gpu->P(cursor_hot_x);
	c->hot_y = gpu->P(cursor_hot_y);
	c->resource_id = gpu->P(cursor_res);
}

static uint32_t cmd_cursor(struct vdev_gpu *gpu, const struct req *q, bool update)
{
	uint32_t sid = rd32(q, HDR_SIZE), id = rd32(q, HDR_SIZE + 16);
	struct vdev_gpu_resource *r = NULL;
	struct vdev_gpu_cursor c;
	struct vdev_gpu_image img;

	if (sid >= gpu->P(num_scanouts))
		return RESP_ERR_INVALID_SCANOUT_ID;
	if (update && id != 0) {
		r = res_find(gpu, id);
		if (r == NULL)
			return RESP_ERR_INVALID_RESOURCE_ID;
		/* A blob cursor (Linux's dumb cursor buffer with RESOURCE_BLOB)
		 * is read as 64x64 B8G8R8A8 from its backing. */
		if (is_blob(r) ? r->P(segs) == NULL || r->P(size) < CURSOR_BYTES
			       : r->P(width) != VDEV_GPU_CURSOR_SIZE ||
					 r->P(height) != VDEV_GPU_CURSOR_SIZE)
			return RESP_ERR_INVALID_PARAMETER;
		if (is_3d(r)) {
			struct vdev_gpu_rect all = {0, 0, VDEV_GPU_CURSOR_SIZE, VDEV_GPU_CURSOR_SIZE};
			uint32_t resp;

			if (!shadow_ok(gpu, r))
				return RESP_ERR_INVALID_RESOURCE_ID;
			resp = shadow_read(gpu, r, &all);
			if (resp != RESP_OK_NODATA)
				return resp;
		}
	}
	gpu->P(cursor_scanout) = sid;
	gpu->P(cursor_x) = rd32(q, HDR_SIZE + 4);
	gpu->P(cursor_y) = rd32(q, HDR_SIZE + 8);
	if (!update) {
		cursor_describe(gpu, &c);
		if (SINK_HAS(gpu, cursor_move))
			gpu->P(sink)->cursor_move(gpu->P(sink_opaque), &c);
		return RESP_OK_NODATA;
	}
	gpu->P(cursor_res) = id;
	gpu->P(cursor_hot_x) = rd32(q, HDR_SIZE + 20);
	gpu->P(cursor_hot_y) = rd32(q, HDR_SIZE + 24);
	cursor_describe(gpu, &c);
	if (r != NULL) {
		struct vdev_gpu_scanout_slot fb = {
			.P(format) = VDEV_GPU_FORMAT_B8G8R8A8_UNORM,
			.P(width) = VDEV_GPU_CURSOR_SIZE,
			.P(height) = VDEV_GPU_CURSOR_SIZE,
			.P(stride) = VDEV_GPU_CURSOR_SIZE * VDEV_GPU_BYTES_PER_PIXEL,
		};

		image_of(&fb, r, &img);
		c.image = &img;
	}
	if (SINK_HAS(gpu, cursor))
		gpu->P(sink)->cursor(gpu->P(sink_opaque), &c);
	return RESP_OK_NODATA;
}

/* ---- 3D commands (VIRGL) --------------------------------------------------------------------- */

static uint32_t log2_floor(uint32_t v)
{
	uint32_t n = 0;

	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

static uint32_t minify(uint32_t v, uint32_t level)
{
	v >>= level;
	return v != 0 ? v : 1;
}

/*
 * The checks of RESOURCE_CREATE_3D (gallium's rules per target, as
 * virglrenderer applies them) and the estimated bytes it costs.
 */
static bool create_3d_ok(const struct vdev_gpu_resource_3d *a, uint64_t *est)
{
	uint32_t t = a->target, maxdim = 0;
	bool flat = a->depth == 1, one_layer = a->array_size == 1;

	if (a->format == 0 || a->width == 0 || a->height == 0 || a->depth == 0 ||
	    a->array_size == 0 || a->nr_samples > VDEV_GPU_MAX_SAMPLES_3D ||
	    (a->nr_samples > 1 && a->last_level != 0))
		return false;
	switch (t) {
	case VDEV_GPU_TARGET_BUFFER:
		if (a->height != 1 || !flat || !one_layer || a->last_level != 0 || a->nr_samples > 1)
			return false;
		break;
	case VDEV_GPU_TARGET_1D:
	case VDEV_GPU_TARGET_1D_ARRAY:
		if (a->width > VDEV_GPU_MAX_DIM_3D || a->height != 1 || !flat ||
		    (t == VDEV_GPU_TARGET_1D ? !one_layer : a->array_size > VDEV_GPU_MAX_LAYERS_3D))
			return false;
		maxdim = a->width;
		break;
	case VDEV_GPU_TARGET_2D:
	case VDEV_GPU_TARGET_RECT:
	case VDEV_GPU_TARGET_2D_ARRAY:
		if (a->width > VDEV_GPU_MAX_DIM_3D || a->height > VDEV_GPU_MAX_DIM_3D || !flat ||
		    (t == VDEV_GPU_TARGET_2D_ARRAY ? a->array_size > VDEV_GPU_MAX_LAYERS_3D
						   : !one_layer) ||
		    (t == VDEV_GPU_TARGET_RECT && a->last_level != 0))
			return false;
		maxdim = MAX2(a->width, a->height);
		break;
	case VDEV_GPU_TARGET_CUBE:
	case VDEV_GPU_TARGET_CUBE_ARRAY:
		if (a->width > VDEV_GPU_MAX_DIM_3D || a->width != a->height || !flat ||
		    a->array_size % 6u != 0 || a->array_size > VDEV_GPU_MAX_LAYERS_3D ||
		    (t == VDEV_GPU_TARGET_CUBE && a->array_size != 6))
			return false;
		maxdim = a->width;
		break;
	case VDEV_GPU_TARGET_3D:
		if (a->width > VDEV_GPU_MAX_DEPTH_3D || a->height > VDEV_GPU_MAX_DEPTH_3D ||
		    a->depth > VDEV_GPU_MAX_DEPTH_3D || !one_layer)
			return false;
		maxdim = MAX2(MAX2(a->width, a->height), a->depth);
		break;
	default:
		return false;
	}
	if (t != VDEV_GPU_TARGET_BUFFER && a->last_level > log2_floor(maxdim))
		return false;
	/* <= 2^14 * 2^14 * 2^11 * 2^2 * 2^5 * 2: no wrap */
	*est = t == VDEV_GPU_TARGET_BUFFER
		       ? a->width
		       : (uint64_t)a->width * a->height * a->depth * a->array_size * 4u *
				 (a->nr_samples > 1 ? a->nr_samples : 1u) * (a->last_level ? 2u : 1u);
	return true;
}

static uint32_t cmd_create_3d(struct vdev_gpu *gpu, const struct req *q)
{
	struct vdev_gpu_resource_3d a = {
		.target = rd32(q, HDR_SIZE + 4),
		.format = rd32(q, HDR_SIZE + 8),
		.bind = rd32(q, HDR_SIZE + 12),
		.width = rd32(q, HDR_SIZE + 16),
		.height = rd32(q, HDR_SIZE + 20),
		.depth = rd32(q, HDR_SIZE + 24),
		.array_size = rd32(q, HDR_SIZE + 28),
		.last_level = rd32(q, HDR_SIZE + 32),
		.nr_samples = rd32(q, HDR_SIZE + 36),
		.flags = rd32(q, HDR_SIZE + 40),
	};
	uint32_t id = rd32(q, HDR_SIZE), resp = new_resource_id_check(gpu, id);
	struct vdev_gpu_resource *r;
	uint64_t est;
	int rc;

	if (resp != RESP_OK_NODATA)
		return resp;
	if (!create_3d_ok(&a, &est))
		return RESP_ERR_INVALID_PARAMETER;
	r = res_free_slot(gpu);
	if (r == NULL || !charge(gpu, est)) {
		gpu->P(stats).out_of_memory++;
		return RESP_ERR_OUT_OF_MEMORY;
	}
	r->P(charge) = est < gpu->P(min_charge) ? gpu->P(min_charge) : est;
	rc = REND(gpu)->resource_create_3d(ROP(gpu), id, &a);
	if (rc != 0) {
		gpu->P(stats).renderer_bytes -= r->P(charge);
		r->P(charge) = 0;
		if (rc == VDEV_ENOMEM)
			gpu->P(stats).out_of_memory++;
		return rend_err(rc);
	}
	r->P(id) = id;
	r->P(rend) = true;
	r->P(r3d) = a;
	r->P(format) = a.format;
	r->P(width) = a.width;
	r->P(height) = a.height;
	gpu->P(stats).resources++;
	return RESP_OK_NODATA;
}

/* The box lies inside mip `level` of 3D resource `a` (x/y/z in texels,
 * layers for arrays and cubes, as virglrenderer's bounds check). */
static bool box_inside(const struct vdev_gpu_resource_3d *a, uint32_t level,
		       const struct vdev_gpu_box *b)
{
	uint32_t w, h, d;

	if (level > a->last_level)
		return false;
	w = minify(a->width, level);
	h = minify(a->height, level);
	d = 1;
	switch (a->target) {
	case VDEV_GPU_TARGET_BUFFER:
	case VDEV_GPU_TARGET_1D: h = 1; break;
	case VDEV_GPU_TARGET_1D_ARRAY: h = a->array_size; break;
	case VDEV_GPU_TARGET_3D: d = minify(a->depth, level); break;
	case VDEV_GPU_TARGET_2D_ARRAY:
	case VDEV_GPU_TARGET_CUBE:
	case VDEV_GPU_TARGET_CUBE_ARRAY: d = a->array_size; break;
	default: break;
	}
	return (uint64_t)b->x + b->w <= w && (uint64_t)b->y + b->h <= h &&
	       (uint64_t)b->z + b->d <= d;
}

static uint32_t cmd_transfer_3d(struct vdev_gpu *gpu, const struct req *q, bool to_host)
{
	struct vdev_gpu_transfer t = {
		.ctx_id = q->ctx_id,
		.box = {rd32(q, HDR_SIZE), rd32(q, HDR_SIZE + 4), rd32(q, HDR_SIZE + 8),
			rd32(q, HDR_SIZE + 12), rd32(q, HDR_SIZE + 16), rd32(q, HDR_SIZE + 20)},
		.offset = vdev__get_le64(q->cmd + HDR_SIZE + 24),
		.level = rd32(q, HDR_SIZE + 36),
		.stride = rd32(q, HDR_SIZE + 40),
		.layer_stride = rd32(q, HDR_SIZE + 44),
	};
	struct vdev_gpu_resource *r = res_find(gpu, rd32(q, HDR_SIZE + 32));
	int rc;

	if (r == NULL || !r->P(rend))
		return RESP_ERR_INVALID_RESOURCE_ID;
	if (q->ctx_id != 0 && ctx_find(gpu, q->ctx_id) == NULL)
		return RESP_ERR_INVALID_CONTEXT_ID;
	if (r->P(segs) == NULL)
		return RESP_ERR_UNSPEC; /* nothing to transfer from or to */
	/* A blob has no texel layout the model knows: the renderer checks
	 * its box; the offset must be inside the backing either way. */
	if ((is_3d(r) && !box_inside(&r->P(r3d), t.level, &t.box)) ||
	    t.offset > r->P(backing_bytes))
		return RESP_ERR_INVALID_PARAMETER;
	rc = to_host ? REND(gpu)->transfer_to_host(ROP(gpu), r->P(id), &t)
		     : REND(gpu)->transfer_from_host(ROP(gpu), r->P(id), &t);
	if (rc != 0)
		return rend_err(rc);
	gpu->P(stats).transfers++;
	return RESP_OK_NODATA;
}

static uint32_t cmd_submit(struct vdev_gpu *gpu, const struct req *q)
{
	uint32_t size = rd32(q, HDR_SIZE);
	uint8_t *buf = gpu->P(submit_buf);
	bool temp = buf == NULL;
	uint32_t resp = RESP_OK_NODATA;
	int rc;

	if (ctx_find(gpu, q->ctx_id) == NULL)
		return RESP_ERR_INVALID_CONTEXT_ID;
	/* The stream must lie in the request (out_bytes >= REQ_SUBMIT). */
	if (size > q->e->out_bytes - REQ_SUBMIT || size % 4u != 0)
		return RESP_ERR_INVALID_PARAMETER;
	if (size == 0)
		return RESP_OK_NODATA;
	if (temp)
		buf = hm_alloc(gpu, size);
	else if (size > gpu->P(submit_buf_size))
		buf = NULL;
	if (buf == NULL) {
		gpu->P(stats).out_of_memory++;
		return RESP_ERR_OUT_OF_MEMORY;
	}
	/* Copy once: the renderer parses a stable host copy. */
	if (vdev_iov_to_buf(q->e->iov, q->e->n_out, REQ_SUBMIT, buf, size) != size) {
		resp = RESP_ERR_INVALID_PARAMETER; /* not reached: out_bytes checked */
	} else {
		rc = REND(gpu)->submit(ROP(gpu), q->ctx_id, buf, size);
		if (rc != 0)
			resp = rend_err(rc);
		gpu->P(stats).submits++;
		gpu->P(stats).submit_bytes += size;
	}
	if (temp)
		hm_free(gpu, buf, size);
	return resp;
}

static const struct vdev_gpu_capset_info *capset_find(const struct vdev_gpu *gpu, uint32_t id)
{
	for (uint32_t i = 0; i < gpu->P(num_capsets); i++)
		if (gpu->P(capsets)[i].id == id)
			return &gpu->P(capsets)[i];
	return NULL;
}

static uint32_t cmd_capset_info(struct vdev_gpu *gpu, const struct req *q)
{
	uint32_t idx = rd32(q, HDR_SIZE);
	const struct vdev_gpu_capset_info *c;
	uint8_t *p = gpu->P(resp) + HDR_SIZE;

	if (!virgl_on(gpu) || idx >= gpu->P(num_capsets))
		return RESP_ERR_INVALID_PARAMETER;
	c = &gpu->P(capsets)[idx];
	vdev__put_le32(p, c->id);
	vdev__put_le32(p + 4, c->max_version);
	vdev__put_le32(p + 8, c->max_size);
	return RESP_OK_CAPSET_INFO;
}

/* GET_CAPSET writes its payload (max_size bytes) into the chain itself,
 * after the header; the caller checked the room for it. */
static uint32_t cmd_capset(struct vdev_gpu *gpu, const struct req *q)
{
	const struct vdev_gpu_capset_info *c = capset_find(gpu, rd32(q, HDR_SIZE));
	uint32_t version = rd32(q, HDR_SIZE + 4);
	uint8_t *buf;
	int rc;

	if (!virgl_on(gpu) || c == NULL || version > c->max_version)
		return RESP_ERR_INVALID_PARAMETER;
	buf = hm_alloc(gpu, c->max_size);
	if (buf == NULL) {
		gpu->P(stats).out_of_memory++;
		return RESP_ERR_OUT_OF_MEMORY;
	}
	memset(buf, 0, c->max_size);
	rc = REND(gpu)->capset_get(ROP(gpu), c->id, version, buf, c->max_size);
	if (rc == 0)
		vdev_iov_from_buf(q->e->iov + q->e->n_out, q->e->n_in, HDR_SIZE, buf, c->max_size);
	hm_free(gpu, buf, c->max_size);
	return rc == 0 ? RESP_OK_CAPSET : rend_err(rc);
}

static uint32_t cmd_map_blob(struct vdev_gpu *gpu, const struct req *q)
{
	struct vdev_gpu_resource *r = res_find(gpu, rd32(q, HDR_SIZE));
	uint64_t offset = vdev__get_le64(q->cmd + HDR_SIZE + 8);
	struct vdev_gpu_blob_map m;
	int rc;

	if (!negotiated(gpu, VDEV_GPU_F_RESOURCE_BLOB) || gpu->P(hv_size) == 0)
		return RESP_ERR_UNSPEC;
	if (r == NULL)
		return RESP_ERR_INVALID_RESOURCE_ID;
	if (!is_host_blob(r) || !(r->P(blob_flags) & VDEV_GPU_BLOB_FLAG_MAPPABLE) ||
	    r->P(mapped) || offset % PAGE != 0 || offset > gpu->P(hv_size) ||
	    r->P(size) > gpu->P(hv_size) - offset)
		return RESP_ERR_INVALID_PARAMETER;
	for (unsigned i = 0; i < gpu->P(num_res); i++) {
		const struct vdev_gpu_resource *o = &gpu->P(res)[i];

		if (o->P(id) != 0 && o->P(mapped) && offset < o->P(map_offset) + o->P(map_size) &&
		    o->P(map_offset) < offset + r->P(size))
			return RESP_ERR_INVALID_PARAMETER; /* overlaps another mapping */
	}
	memset(&m, 0, sizeof(m));
	rc = REND(gpu)->blob_map(ROP(gpu), r->P(id), &m);
	if (rc != 0)
		return rc == VDEV_ENOMEM ? RESP_ERR_OUT_OF_MEMORY : RESP_ERR_UNSPEC;
	m.map_info &= VDEV_GPU_MAP_CACHE_MASK;
	if (m.size < r->P(size) || (m.host == NULL && m.handle_type == 0)) {
		REND(gpu)->blob_unmap(ROP(gpu), r->P(id));
		return RESP_ERR_UNSPEC;
	}
	rc = gpu->P(shm_ops)->map(gpu->P(shm_opaque), r->P(id), offset, r->P(size), &m);
	if (rc != 0) {
		REND(gpu)->blob_unmap(ROP(gpu), r->P(id));
		return rc == VDEV_ENOMEM ? RESP_ERR_OUT_OF_MEMORY : RESP_ERR_UNSPEC;
	}
	r->P(mapped) = true;
	r->P(map_offset) = offset;
	r->P(map_size) = r->P(size);
	gpu->P(stats).mapped_blobs++;
	vdev__put_le32(gpu->P(resp) + HDR_SIZE, m.map_info);
	return RESP_OK_MAP_INFO;
}

static uint32_t cmd_unmap_blob(struct vdev_gpu *gpu, const struct req *q)
{
	struct vdev_gpu_resource *r = res_find(gpu, rd32(q, HDR_SIZE));

	if (!negotiated(gpu, VDEV_GPU_F_RESOURCE_BLOB) || gpu->P(hv_size) == 0)
		return RESP_ERR_UNSPEC;
	if (r == NULL)
		return RESP_ERR_INVALID_RESOURCE_ID;
	if (!r->P(mapped))
		return RESP_ERR_INVALID_PARAMETER;
	blob_unmap(gpu, r);
	return RESP_OK_NODATA;
}

/* ---- fences: held responses -------------------------------------------------------------------
 * With a renderer that has create_fence, a fenced controlq command is
 * answered when the renderer retires its fence. Its response is written
 * into the chain when the command executes (the driver does not look at it
 * before the used element) and the chain is kept in a fence slot until it
 * is ready (fence retired, or no renderer fence needed) and no command of
 * its timeline, (ctx_id, ring_idx) or the global one, with a fence_id less
 * than or equal to its own is still waiting: a driver that receives fence
 * F signals every fence <= F of the timeline (Linux does), so F may only
 * be answered when they are all complete. With ascending fence ids (every
 * driver) this is queue order. Slots are checked before a chain is
 * popped, so every popped chain can be held.
 */

static bool same_line(const struct vdev_gpu_fence *f, uint32_t ctx_id, uint32_t ring)
{
	return f->P(seq) != 0 && f->P(ring_idx) == ring && (ring == GLOBAL || f->P(ctx_id) == ctx_id);
}

/* The smallest fence_id of a timeline still waiting for the renderer
 * (UINT64_MAX: none; a fence_id of UINT64_MAX waits for CTX_DESTROY or
 * reset if anything else waits). */
static uint64_t line_waiting(const struct vdev_gpu *gpu, uint32_t ctx_id, uint32_t ring)
{
	uint64_t min = UINT64_MAX;

	for (unsigned i = 0; i < gpu->P(num_fences); i++) {
		const struct vdev_gpu_fence *f = &gpu->P(fences)[i];

		if (same_line(f, ctx_id, ring) && !f->P(ready) && f->P(fence_id) < min)
			min = f->P(fence_id);
	}
	return min;
}

/* Answer, oldest first, a timeline's ready held responses whose fence_id is
 * below every one still waiting. */
static unsigned line_advance(struct vdev_gpu *gpu, uint32_t ctx_id, uint32_t ring)
{
	struct vdev_vq *vq = &gpu->P(queues)[VDEV_GPU_CONTROLQ];
	uint64_t waiting = line_waiting(gpu, ctx_id, ring);
	bool any_waiting = false;
	unsigned n = 0;

	for (unsigned i = 0; i < gpu->P(num_fences) && !any_waiting; i++) {
		const struct vdev_gpu_fence *f = &gpu->P(fences)[i];

		any_waiting = same_line(f, ctx_id, ring) && !f->P(ready);
	}
	for (;;) {
		struct vdev_gpu_fence *next = NULL;

		for (unsigned i = 0; i < gpu->P(num_fences); i++) {
			struct vdev_gpu_fence *f = &gpu->P(fences)[i];

			if (same_line(f, ctx_id, ring) && f->P(ready) &&
			    (!any_waiting || f->P(fence_id) < waiting) &&
			    (next == NULL || f->P(seq) < next->P(seq)))
				next = f;
		}
		if (next == NULL)
			return n;
		vdev_vq_push(vq, &next->P(elem), next->P(written));
		memset(next, 0, sizeof(*next));
		gpu->P(fences_used)--;
		gpu->P(stats).fences_pending--;
		n++;
	}
}

/* Forget every held response without answering it (reset: the queue is
 * being reset with them). */
static void fences_drop(struct vdev_gpu *gpu)
{
	if (gpu->P(num_fences) != 0)
		memset(gpu->P(fences), 0, sizeof(*gpu->P(fences)) * gpu->P(num_fences));
	gpu->P(fences_used) = 0;
	gpu->P(stats).fences_pending = 0;
	gpu->P(stalled) = false;
}

/* CTX_DESTROY: the context's fences will never be retired by the renderer;
 * answer its held responses now, in order per ring. */
static void fences_retire_ctx(struct vdev_gpu *gpu, uint32_t ctx_id)
{
	for (unsigned i = 0; i < gpu->P(num_fences); i++) {
		struct vdev_gpu_fence *f = &gpu->P(fences)[i];

		if (f->P(seq) != 0 && f->P(ring_idx) != GLOBAL && f->P(ctx_id) == ctx_id)
			f->P(ready) = true;
	}
	for (uint32_t ring = 0; ring <= MAX_RING_IDX; ring++)
		(void)line_advance(gpu, ctx_id, ring);
}

/*
 * Answer a controlq chain whose response (`written` bytes) is already in
 * it, now or once its fence retires. `rend_fence`: the command executed
 * with a renderer and needs a renderer fence.
 */
static void fence_hold(struct vdev_gpu *gpu, const struct vdev_vq_elem *e, uint32_t written,
		       uint32_t ctx_id, uint32_t ring, uint64_t fence_id, bool rend_fence)
{
	struct vdev_vq *vq = &gpu->P(queues)[VDEV_GPU_CONTROLQ];
	struct vdev_gpu_fence *f = NULL;
	uint64_t seq;

	if (ring == GLOBAL)
		ctx_id = 0;
	if (!rend_fence && fence_id < line_waiting(gpu, ctx_id, ring)) {
		vdev_vq_push(vq, e, written); /* nothing it must wait for */
		return;
	}
	for (unsigned i = 0; i < gpu->P(num_fences) && f == NULL; i++)
		if (gpu->P(fences)[i].P(seq) == 0)
			f = &gpu->P(fences)[i];
	if (f == NULL) { /* not reached: a slot was free before the pop */
		vdev_vq_push(vq, e, written);
		return;
	}
	seq = ++gpu->P(fence_seq);
	f->P(elem) = *e;
	f->P(elem).iov = NULL;
	f->P(fence_id) = fence_id;
	f->P(seq) = seq;
	f->P(ctx_id) = ctx_id;
	f->P(ring_idx) = ring;
	f->P(written) = written;
	f->P(ready) = !rend_fence;
	gpu->P(fences_used)++;
	gpu->P(stats).fences_pending++;
	/* The slot is filled first: a renderer may retire it from inside
	 * create_fence. */
	if (rend_fence && REND(gpu)->create_fence(ROP(gpu), ctx_id, ring, fence_id) != 0 &&
	    f->P(seq) == seq)
		f->P(ready) = true;
	(void)line_advance(gpu, ctx_id, ring);
}

VDEV_API unsigned vdev_gpu_fence_retired(struct vdev_gpu *gpu, uint32_t ctx_id, uint32_t ring_idx,
					 uint64_t fence_id)
{
	unsigned n;

	if (gpu == NULL || (ring_idx != GLOBAL && ring_idx > MAX_RING_IDX))
		return 0;
	if (ring_idx == GLOBAL)
		ctx_id = 0;
	for (unsigned i = 0; i < gpu->P(num_fences); i++) {
		struct vdev_gpu_fence *f = &gpu->P(fences)[i];

		if (same_line(f, ctx_id, ring_idx) && f->P(fence_id) <= fence_id)
			f->P(ready) = true;
	}
	n = line_advance(gpu, ctx_id, ring_idx);
	if (n == 0)
		return 0;
	/* From inside queue processing (a renderer op): the processing
	 * publishes and resumes the controlq when it is done. */
	if (gpu->P(busy)) {
		gpu->P(deferred) = true;
		return n;
	}
	(void)vdev_vq_flush(&gpu->P(queues)[VDEV_GPU_CONTROLQ]);
	if (gpu->P(stalled))
		(void)vdev_gpu_process(gpu, VDEV_GPU_CONTROLQ);
	return n;
}

VDEV_API void vdev_gpu_poll(struct vdev_gpu *gpu)
{
	if (gpu == NULL)
		return;
	if (RENDERER_HAS(gpu, poll))
		REND(gpu)->poll(ROP(gpu));
	if (gpu->P(stalled) && !gpu->P(busy))
		(void)vdev_gpu_process(gpu, VDEV_GPU_CONTROLQ);
}

/* ---- the chain path ------------------------------------------------------------------------- */

/* The request size of a command (0: not a command of that queue). */
static uint32_t req_size(uint16_t q, uint32_t type)
{
	if (q == VDEV_GPU_CURSORQ)
		return type == CMD_UPDATE_CURSOR || type == CMD_MOVE_CURSOR ? REQ_CURSOR : 0;
	switch (type) {
	case CMD_GET_DISPLAY_INFO: return HDR_SIZE;
	case CMD_RESOURCE_CREATE_2D: return REQ_CREATE_2D;
	case CMD_RESOURCE_UNREF: return REQ_RES_ID;
	case CMD_SET_SCANOUT: return REQ_SET_SCANOUT;
	case CMD_RESOURCE_FLUSH: return REQ_FLUSH;
	case CMD_TRANSFER_TO_HOST_2D: return REQ_TRANSFER_2D;
	case CMD_RESOURCE_ATTACH_BACKING: return REQ_ATTACH;
	case CMD_RESOURCE_DETACH_BACKING: return REQ_RES_ID;
	case CMD_GET_CAPSET_INFO: return REQ_CAPSET_INFO;
	case CMD_GET_CAPSET: return REQ_CAPSET;
	case CMD_GET_EDID: return REQ_EDID;
	case CMD_RESOURCE_ASSIGN_UUID: return REQ_RES_ID;
	case CMD_RESOURCE_CREATE_BLOB: return REQ_CREATE_BLOB;
	case CMD_SET_SCANOUT_BLOB: return REQ_SCANOUT_BLOB;
	case CMD_CTX_CREATE: return REQ_CTX_CREATE;
	case CMD_CTX_DESTROY: return HDR_SIZE;
	case CMD_CTX_ATTACH_RESOURCE:
	case CMD_CTX_DETACH_RESOURCE: return REQ_CTX_RES;
	case CMD_RESOURCE_CREATE_3D: return REQ_CREATE_3D;
	case CMD_TRANSFER_TO_HOST_3D:
	case CMD_TRANSFER_FROM_HOST_3D: return REQ_TRANSFER_3D;
	case CMD_SUBMIT_3D: return REQ_SUBMIT;
	case CMD_RESOURCE_MAP_BLOB: return REQ_MAP_BLOB;
	case CMD_RESOURCE_UNMAP_BLOB: return REQ_RES_ID;
	default: return 0;
	}
}

/* The size of the successful response of a command (`len` bytes of it
 * copied out in `cmd`). */
static uint32_t resp_size(const struct vdev_gpu *gpu, uint32_t type, const uint8_t *cmd,
			  uint32_t len)
{
	const struct vdev_gpu_capset_info *c;

	switch (type) {
	case CMD_GET_DISPLAY_INFO: return RESP_DISPLAY_INFO;
	case CMD_GET_CAPSET_INFO: return RESP_CAPSET_INFO;
	case CMD_GET_CAPSET:
		/* Header and the capset's max_size bytes; an unknown capset
		 * gets an error header. */
		c = len >= REQ_CAPSET ? capset_find(gpu, vdev__get_le32(cmd + HDR_SIZE)) : NULL;
		return c != NULL ? HDR_SIZE + c->max_size : HDR_SIZE;
	case CMD_GET_EDID: return RESP_EDID;
	case CMD_RESOURCE_ASSIGN_UUID: return RESP_UUID;
	case CMD_RESOURCE_MAP_BLOB: return RESP_MAP_INFO;
	default: return HDR_SIZE;
	}
}

static uint32_t dispatch(struct vdev_gpu *gpu, uint16_t qidx, const struct req *q, uint32_t type)
{
	if (qidx == VDEV_GPU_CURSORQ)
		return cmd_cursor(gpu, q, type == CMD_UPDATE_CURSOR);
	switch (type) {
	case CMD_GET_DISPLAY_INFO: return cmd_get_display_info(gpu, q);
	case CMD_RESOURCE_CREATE_2D: return cmd_create_2d(gpu, q);
	case CMD_RESOURCE_UNREF: return cmd_unref(gpu, q);
	case CMD_SET_SCANOUT: return cmd_set_scanout(gpu, q);
	case CMD_RESOURCE_FLUSH: return cmd_flush(gpu, q);
	case CMD_TRANSFER_TO_HOST_2D: return cmd_transfer_2d(gpu, q);
	case CMD_RESOURCE_ATTACH_BACKING: return cmd_attach_backing(gpu, q);
	case CMD_RESOURCE_DETACH_BACKING: return cmd_detach_backing(gpu, q);
	case CMD_GET_CAPSET_INFO: return cmd_capset_info(gpu, q);
	case CMD_GET_CAPSET: return cmd_capset(gpu, q);
	case CMD_GET_EDID: return cmd_get_edid(gpu, q);
	case CMD_RESOURCE_ASSIGN_UUID: return cmd_assign_uuid(gpu, q);
	case CMD_RESOURCE_CREATE_BLOB: return cmd_create_blob(gpu, q);
	case CMD_SET_SCANOUT_BLOB: return cmd_set_scanout_blob(gpu, q);
	case CMD_CTX_CREATE: return cmd_ctx_create(gpu, q);
	case CMD_CTX_DESTROY: return cmd_ctx_destroy(gpu, q);
	case CMD_CTX_ATTACH_RESOURCE: return cmd_ctx_resource(gpu, q, true);
	case CMD_CTX_DETACH_RESOURCE: return cmd_ctx_resource(gpu, q, false);
	case CMD_RESOURCE_MAP_BLOB: return cmd_map_blob(gpu, q);
	case CMD_RESOURCE_UNMAP_BLOB: return cmd_unmap_blob(gpu, q);
	default: break;
	}
	/* The 3D commands: only with VIRGL negotiated. */
	if (!virgl_on(gpu))
		return RESP_ERR_UNSPEC;
	switch (type) {
	case CMD_RESOURCE_CREATE_3D: return cmd_create_3d(gpu, q);
	case CMD_TRANSFER_TO_HOST_3D: return cmd_transfer_3d(gpu, q, true);
	case CMD_TRANSFER_FROM_HOST_3D: return cmd_transfer_3d(gpu, q, false);
	case CMD_SUBMIT_3D: return cmd_submit(gpu, q);
	default: return RESP_ERR_UNSPEC;
	}
}

/* Out of line: its frame (the command's copy, the commands' locals) is
 * not under the pop's (the stack budget, scripts/stack-budget.py). */
static __attribute__((noinline)) void chain_one(struct vdev_gpu *gpu, uint16_t qidx,
						struct vdev_vq *vq,
						const struct vdev_vq_elem *e)
{
	uint8_t cmd[MAX_REQ];
	uint32_t type = 0, flags = 0, ctx_id = 0, rtype, len, need, room = e->in_bytes;
	uint64_t fence = 0;
	uint8_t ring = 0;
	uint8_t *resp = gpu->P(resp);
	bool ring_echo = false, execute = true;

	/* A rejected chain (bad addresses, writable memory that is read-only
	 * ...) has no usable segments: complete it empty. */
	if (e->error != 0) {
		gpu->P(stats).no_response++;
		vdev_vq_push(vq, e, 0);
		return;
	}
	/* Copy the command out once; every check below is on the copy. */
	memset(cmd, 0, sizeof(cmd));
	len = (uint32_t)vdev_iov_to_buf(e->iov, e->n_out, 0, cmd, sizeof(cmd));
	need = HDR_SIZE;
	if (len >= HDR_SIZE) {
		type = vdev__get_le32(cmd + HDR_TYPE);
		flags = vdev__get_le32(cmd + HDR_FLAGS);
		fence = vdev__get_le64(cmd + HDR_FENCE);
		ctx_id = vdev__get_le32(cmd + HDR_CTX);
		ring = cmd[HDR_RING];
		need = resp_size(gpu, type, cmd, len);
	}
	/* The controlq answers every command; without room for the whole
	 * response it does not execute it. */
	if (room < need && qidx == VDEV_GPU_CONTROLQ) {
		execute = false;
		need = HDR_SIZE;
	}
	/* (GET_CAPSET writes its payload itself: only the header is here.) */
	memset(resp, 0, need <= sizeof(gpu->P(resp)) ? need : HDR_SIZE);
	if (len < HDR_SIZE || !execute) {
		rtype = RESP_ERR_UNSPEC;
	} else {
		uint32_t min = req_size(qidx, type);

		ring_echo = (flags & FLAG_INFO_RING_IDX) && negotiated(gpu, VDEV_GPU_F_CONTEXT_INIT);
		if (min == 0 || len < min)
			rtype = RESP_ERR_UNSPEC; /* unknown here, or truncated */
		else if (ring_echo && ring > MAX_RING_IDX)
			rtype = RESP_ERR_INVALID_PARAMETER;
		else
			rtype = dispatch(gpu, qidx, &(struct req){.e = e, .cmd = cmd, .len = len,
								  .ctx_id = ctx_id},
					 type);
	}
	if (rtype >= RESP_ERR_UNSPEC) {
		gpu->P(stats).errors++;
		need = HDR_SIZE;
	}
	gpu->P(stats).commands++;
	vdev__put_le32(resp + HDR_TYPE, rtype);
	if (len >= HDR_SIZE) {
		uint32_t rflags = flags & FLAG_FENCE;

		if (ring_echo) {
			rflags |= FLAG_INFO_RING_IDX;
			resp[HDR_RING] = ring;
		}
		vdev__put_le32(resp + HDR_FLAGS, rflags);
		if (flags & FLAG_FENCE) {
			vdev__put_le64(resp + HDR_FENCE, fence);
			gpu->P(stats).fences++;
		}
		vdev__put_le32(resp + HDR_CTX, ctx_id);
	}
	if (room < need) {
		gpu->P(stats).no_response++;
		vdev_vq_push(vq, e, 0);
		return;
	}
	vdev_iov_from_buf(e->iov + e->n_out, e->n_in, 0, resp,
			  rtype == RESP_OK_CAPSET ? HDR_SIZE : need);
	if ((flags & FLAG_FENCE) && qidx == VDEV_GPU_CONTROLQ && gpu->P(num_fences) != 0) {
		uint32_t line = ring_echo ? ring : GLOBAL;
		/* A command that executed with the renderer gets a renderer
		 * fence (on a live context for a ring timeline); errors and
		 * the rest only keep their place in line. */
		bool rend_fence = rtype < RESP_ERR_UNSPEC && virgl_on(gpu) &&
				  (line == GLOBAL || ctx_find(gpu, ctx_id) != NULL);

		fence_hold(gpu, e, need, ctx_id, line, fence, rend_fence);
		return;
	}
	vdev_vq_push(vq, e, need);
}

/* Take chains from queue q until it is empty (or the controlq stalls). */
static int process_queue(struct vdev_gpu *gpu, uint16_t q)
{
	struct vdev_vq *vq = &gpu->P(queues)[q];
	struct vdev_iov *iov = gpu->P(iovs) + (size_t)q * gpu->P(iov_per_chain);
	struct vdev_vq_elem e;
	int taken = 0;

	gpu->P(busy) = true;
	if (q == VDEV_GPU_CONTROLQ)
		gpu->P(stalled) = false;
	for (;;) {
		int rc;

		/* Pop only a chain that can be held if it is fenced. */
		if (q == VDEV_GPU_CONTROLQ && gpu->P(num_fences) != 0 &&
		    gpu->P(fences_used) >= gpu->P(num_fences)) {
			gpu->P(stalled) = true;
			gpu->P(stats).fences_stalled++;
			break;
		}
		rc = vdev_vq_pop(vq, &e, iov, gpu->P(iov_per_chain));
		if (rc <= 0) {
			if (rc < 0 && taken == 0)
				taken = rc;
			break;
		}
		chain_one(gpu, q, vq, &e);
		taken++;
	}
	vdev_vq_flush(vq);
	gpu->P(busy) = false;
	return taken;
}

VDEV_API int vdev_gpu_process(struct vdev_gpu *gpu, uint16_t q)
{
	int taken;

	if (q >= VDEV_GPU_NUM_QUEUES)
		return VDEV_ENOENT;
	if (gpu->P(busy))
		return 0; /* re-entered from a renderer op: the outer loop goes on */
	taken = process_queue(gpu, q);
	/* Fences retired meanwhile (a renderer op retiring synchronously):
	 * publish their answers, and take up a stalled controlq (a loop, not
	 * a recursion: the stack stays bounded). */
	while (gpu->P(deferred)) {
		gpu->P(deferred) = false;
		(void)vdev_vq_flush(&gpu->P(queues)[VDEV_GPU_CONTROLQ]);
		if (gpu->P(stalled))
			(void)process_queue(gpu, VDEV_GPU_CONTROLQ);
	}
	return taken;
}

/* ---- host-facing ------------------------------------------------------------------------------ */

static bool display_ok(const struct vdev_gpu_display *d)
{
	return d->width <= MAX_DIM && d->height <= MAX_DIM &&
	       (!d->enabled || (d->width != 0 && d->height != 0)) &&
	       d->refresh_millihz <= MAX_REFRESH_MILLIHZ;
}

VDEV_API int vdev_gpu_set_display(struct vdev_gpu *gpu, uint32_t scanout,
				  const struct vdev_gpu_display *d)
{
	if (gpu == NULL || d == NULL || scanout >= gpu->P(num_scanouts) || !display_ok(d))
		return VDEV_EINVAL;
	gpu->P(scanouts)[scanout].P(display) = *d;
	set_events_read(gpu, events_read(gpu) | VDEV_GPU_EVENT_DISPLAY);
	vdev_dev_config_changed(&gpu->P(dev));
	return 0;
}

VDEV_API int vdev_gpu_get_display(const struct vdev_gpu *gpu, uint32_t scanout,
				  struct vdev_gpu_display *out)
{
	if (gpu == NULL || out == NULL || scanout >= gpu->P(num_scanouts))
		return VDEV_EINVAL;
	*out = gpu->P(scanouts)[scanout].P(display);
	return 0;
}

VDEV_API int vdev_gpu_scanout_state(struct vdev_gpu *gpu, uint32_t scanout,
				    struct vdev_gpu_scanout *out, struct vdev_gpu_image *image)
{
	if (gpu == NULL || out == NULL || image == NULL || scanout >= gpu->P(num_scanouts))
		return VDEV_EINVAL;
	scanout_describe(gpu, scanout, out, image);
	return 0;
}

/* Free every resource and context; with tell_sink, disable the scanouts
 * and hide the cursor through the sink. */
static void release_all(struct vdev_gpu *gpu, bool tell_sink)
{
	for (uint32_t i = 0; i < gpu->P(num_scanouts); i++) {
		if (tell_sink)
			scanout_disable(gpu, i);
		gpu->P(scanouts)[i].P(resource_id) = 0;
	}
	for (unsigned i = 0; i < gpu->P(num_res); i++)
		if (gpu->P(res)[i].P(id) != 0)
			res_destroy(gpu, &gpu->P(res)[i], false);
	for (unsigned i = 0; i < gpu->P(num_ctx); i++)
		if (gpu->P(ctx)[i].P(id) != 0)
			ctx_destroy(gpu, &gpu->P(ctx)[i]);
	if (tell_sink && gpu->P(cursor_res) != 0 && SINK_HAS(gpu, cursor)) {
		struct vdev_gpu_cursor c;

		gpu->P(cursor_res) = 0;
		cursor_describe(gpu, &c);
		gpu->P(sink)->cursor(gpu->P(sink_opaque), &c);
	}
	gpu->P(cursor_res) = 0;
	gpu->P(cursor_scanout) = gpu->P(cursor_x) = gpu->P(cursor_y) = 0;
	gpu->P(cursor_hot_x) = gpu->P(cursor_hot_y) = 0;
}

VDEV_API void vdev_gpu_fini(struct vdev_gpu *gpu)
{
	fences_drop(gpu);
	release_all(gpu, false);
}

VDEV_API void vdev_gpu_get_stats(const struct vdev_gpu *gpu, struct vdev_gpu_stats *out)
{
	*out = gpu->P(stats);
}

/* ---- device core ops ---------------------------------------------------------------------- */

static int gpu_validate_features(void *opaque, uint64_t f)
{
	(void)opaque, (void)f;
	return 0; /* any subset of the offer works */
}

static void gpu_queue_notify(void *opaque, uint16_t q)
{
	(void)vdev_gpu_process(opaque, q);
}

static int gpu_reset(void *opaque)
{
	struct vdev_gpu *gpu = opaque;

	/* Held fenced responses are forgotten with the queue (never pushed);
	 * the renderer forgets their fences (reset op). */
	fences_drop(gpu);
	release_all(gpu, true);
	if (RENDERER_HAS(gpu, reset))
		REND(gpu)->reset(ROP(gpu));
	set_events_read(gpu, 0);
	return 0; /* nothing else is in flight: every command is synchronous */
}

static void gpu_queue_reset(void *opaque, uint16_t q)
{
	/* RING_RESET of the controlq: its held chains go with it. The
	 * renderer's fences stay; their retirement finds nothing to answer. */
	if (q == VDEV_GPU_CONTROLQ)
		fences_drop(opaque);
}

static void gpu_config_write(void *opaque, uint32_t off, const void *data, uint32_t len)
{
	struct vdev_gpu *gpu = opaque;
	const uint8_t *p = data;

	/* Only events_clear is writable: a 1 bit clears that bit of
	 * events_read; the field itself reads as 0. */
	for (uint32_t i = 0; i < len; i++) {
		uint64_t at = (uint64_t)off + i;

		if (at >= CFG_EVENTS_CLEAR && at < CFG_EVENTS_CLEAR + 4u)
			gpu->P(config)[at - CFG_EVENTS_CLEAR + CFG_EVENTS_READ] &= (uint8_t)~p[i];
	}
}

static const struct vdev_dev_ops gpu_dev_ops = {
	.size = sizeof(struct vdev_dev_ops),
	.validate_features = gpu_validate_features,
	.reset = gpu_reset,
	.queue_notify = gpu_queue_notify,
	.config_write = gpu_config_write,
	.queue_reset = gpu_queue_reset,
};

/* ---- init ---------------------------------------------------------------------------------- */

/* The renderer table has every op VIRGL needs. */
static bool renderer_full(const struct vdev_gpu_renderer_ops *r)
{
#define NEED(op) HAS_OP(r, struct vdev_gpu_renderer_ops, op)
	return NEED(ctx_create) && NEED(ctx_destroy) && NEED(capset_info) && NEED(capset_get) &&
	       NEED(resource_create_3d) && NEED(resource_unref) && NEED(attach_backing) &&
	       NEED(detach_backing) && NEED(transfer_to_host) && NEED(transfer_from_host) &&
	       NEED(submit);
#undef NEED
}

/* Ask the renderer for its capsets (once: the list is fixed). */
static int capsets_load(struct vdev_gpu *gpu)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < VDEV_GPU_MAX_CAPSETS; i++) {
		struct vdev_gpu_capset_info c = {0, 0, 0};

		if (REND(gpu)->capset_info(ROP(gpu), i, &c) != 0)
			break;
		if (c.id == 0 || c.max_size == 0 || c.max_size > VDEV_GPU_MAX_CAPSET_SIZE ||
		    capset_find(gpu, c.id) != NULL)
			return VDEV_EINVAL;
		gpu->P(capsets)[n++] = c;
		gpu->P(num_capsets) = n;
	}
	return 0;
}

VDEV_API int vdev_gpu_init(struct vdev_gpu *gpu, const struct vdev_gpu_config *cfg)
{
	uint64_t features, ring;
	const struct vdev_gpu_host_mem_ops *hm;
	bool virgl, fenced;

	if (gpu == NULL || cfg == NULL)
		return VDEV_EINVAL;
	hm = cfg->host_mem;
	if (cfg->num_scanouts == 0 || cfg->num_scanouts > VDEV_GPU_MAX_SCANOUTS ||
	    cfg->queue_size == 0 || cfg->queue_size > VDEV_VQ_MAX_SIZE ||
	    cfg->iov_per_chain < 2 || cfg->iov_per_chain > UINT16_MAX ||
	    cfg->num_resources == 0 || cfg->max_host_bytes == 0 || hm == NULL ||
	    hm->size < offsetof(struct vdev_gpu_host_mem_ops, free) + sizeof(hm->free) ||
	    hm->alloc == NULL || hm->free == NULL ||
	    (cfg->contexts == NULL && cfg->num_contexts > 0) || cfg->mem == NULL ||
	    cfg->queues == NULL || cfg->queue_held == NULL || cfg->iovs == NULL ||
	    cfg->resources == NULL)
		return VDEV_EINVAL;
	if (!VDEV_CONFIG_GPU_3D && cfg->renderer != NULL)
		return VDEV_ENOTSUP; /* 3D mode left out of this build (vdev/config.h) */
	virgl = renderer_full(cfg->renderer);
	features = cfg->features != 0 ? cfg->features
				      : VDEV_GPU_SUPPORTED_FEATURES | (virgl ? BIT(VIRGL) : 0);
	if ((features & ~(VDEV_GPU_SUPPORTED_FEATURES | BIT(VIRGL))) != 0 ||
	    ((features & BIT(VIRGL)) && !virgl))
		return VDEV_EINVAL;
	virgl = (features & BIT(VIRGL)) != 0;
	ring = cfg->ring_features != 0 ? cfg->ring_features : DEFAULT_RING_FEATURES;
	fenced = virgl && HAS_OP(cfg->renderer, struct vdev_gpu_renderer_ops, create_fence);
	if (fenced && (cfg->num_fences == 0 || cfg->fences == NULL ||
		       (ring & VDEV_BIT(VDEV_F_IN_ORDER)) != 0))
		return VDEV_EINVAL;
	if (cfg->host_visible_size != 0 &&
	    (cfg->host_visible_size % PAGE != 0 || !virgl || cfg->shm == NULL ||
	     !HAS_OP(cfg->shm, struct vdev_gpu_shm_ops, map) ||
	     !HAS_OP(cfg->shm, struct vdev_gpu_shm_ops, unmap) ||
	     !HAS_OP(cfg->renderer, struct vdev_gpu_renderer_ops, blob_create) ||
	     !HAS_OP(cfg->renderer, struct vdev_gpu_renderer_ops, blob_map) ||
	     !HAS_OP(cfg->renderer, struct vdev_gpu_renderer_ops, blob_unmap)))
		return VDEV_EINVAL;
	if (cfg->submit_buf_size != 0 && cfg->submit_buf == NULL)
		return VDEV_EINVAL;
	for (uint32_t i = 0; i < cfg->num_scanouts; i++)
		if (!display_ok(&cfg->displays[i]))
			return VDEV_EINVAL;

	memset(gpu, 0, sizeof(*gpu));
	gpu->P(hm) = hm;
	gpu->P(hm_opaque) = cfg->host_mem_opaque;
	gpu->P(sink) = cfg->sink;
	gpu->P(sink_opaque) = cfg->sink_opaque;
	gpu->P(renderer) = cfg->renderer;
	gpu->P(renderer_opaque) = cfg->renderer_opaque;
	gpu->P(mem) = cfg->mem;
	gpu->P(queues) = cfg->queues;
	gpu->P(iovs) = cfg->iovs;
	gpu->P(iov_per_chain) = cfg->iov_per_chain;
	gpu->P(res) = cfg->resources;
	gpu->P(num_res) = cfg->num_resources;
	gpu->P(ctx) = cfg->contexts;
	gpu->P(num_ctx) = cfg->num_contexts;
	gpu->P(max_host_bytes) = cfg->max_host_bytes;
	gpu->P(max_entries) = cfg->max_backing_entries != 0 ? cfg->max_backing_entries
							     : VDEV_GPU_DEFAULT_MAX_BACKING_ENTRIES;
	gpu->P(num_scanouts) = cfg->num_scanouts;
	memcpy(gpu->P(uuid_base), cfg->uuid_base, 16);
	gpu->P(virgl) = virgl;
	if (fenced) {
		gpu->P(fences) = cfg->fences;
		gpu->P(num_fences) = cfg->num_fences;
		memset(cfg->fences, 0, sizeof(*cfg->fences) * cfg->num_fences);
	}
	gpu->P(submit_buf) = cfg->submit_buf;
	gpu->P(submit_buf_size) = cfg->submit_buf_size;
	gpu->P(hv_size) = cfg->host_visible_size;
	gpu->P(shm_ops) = cfg->shm;
	gpu->P(shm_opaque) = cfg->shm_opaque;
	gpu->P(min_charge) = cfg->min_resource_charge != 0 ? cfg->min_resource_charge : PAGE;
	gpu->P(shm).id = VDEV_GPU_SHM_ID_HOST_VISIBLE;
	gpu->P(shm).len = cfg->host_visible_size;
	if (virgl && capsets_load(gpu) != 0)
		return VDEV_EINVAL;
	memset(cfg->resources, 0, sizeof(*cfg->resources) * cfg->num_resources);
	if (cfg->num_contexts > 0)
		memset(cfg->contexts, 0, sizeof(*cfg->contexts) * cfg->num_contexts);
	for (uint32_t i = 0; i < cfg->num_scanouts; i++)
		gpu->P(scanouts)[i].P(display) = cfg->displays[i];

	vdev__put_le32(gpu->P(config) + CFG_NUM_SCANOUTS, cfg->num_scanouts);
	vdev__put_le32(gpu->P(config) + CFG_NUM_CAPSETS, gpu->P(num_capsets));
	vdev__put_le32(gpu->P(config) + CFG_BLOB_ALIGNMENT, 1); /* BLOB_ALIGNMENT not offered */

	struct vdev_dev_config dc = {
		.device_id = VDEV_ID_GPU,
		.features = features | ring | VDEV_BIT(VDEV_F_VERSION_1),
		.queues = cfg->queues,
		.queue_held = cfg->queue_held,
		.num_queues = VDEV_GPU_NUM_QUEUES,
		.queue_max_size = cfg->queue_size,
		.config = gpu->P(config),
		.config_len = VDEV_GPU_CONFIG_SIZE,
		.shm = &gpu->P(shm),
		.num_shm = cfg->host_visible_size != 0 ? 1 : 0,
		.mem = cfg->mem,
		.ops = &gpu_dev_ops,
		.opaque = gpu,
	};
	return vdev_dev_init(&gpu->P(dev), &dc);
}

VDEV_API struct vdev_dev *vdev_gpu_dev(struct vdev_gpu *gpu)
{
	return &gpu->P(dev);
}
