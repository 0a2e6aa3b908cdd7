/* SPDX-License-Identifier: MIT */
/*
 * virglrenderer behind struct vdev_gpu_renderer_ops (see gpu_virgl.h).
 */
#define VIRGL_RENDERER_UNSTABLE_APIS 1 /* context fences, write_context_fence */
#include "gpu_virgl.h"

#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <virgl/virglrenderer.h>

/* virglrenderer's box (declared, not defined, in its public header):
 * x, y, z, w, h, d as uint32_t, as virtio-gpu's. */
struct virgl_box {
	uint32_t x, y, z, w, h, d;
};

/* The guest's segments are handed to virglrenderer as iovecs. */
_Static_assert(sizeof(struct vdev_iov) == sizeof(struct iovec), "vdev_iov is an iovec");
_Static_assert(offsetof(struct vdev_iov, base) == offsetof(struct iovec, iov_base),
	       "vdev_iov is an iovec");
_Static_assert(offsetof(struct vdev_iov, len) == offsetof(struct iovec, iov_len),
	       "vdev_iov is an iovec");

/* virtio-gpu's values are virglrenderer's. */
_Static_assert(VDEV_GPU_BLOB_MEM_HOST3D == VIRGL_RENDERER_BLOB_MEM_HOST3D, "blob_mem");
_Static_assert(VDEV_GPU_BLOB_FLAG_MAPPABLE == VIRGL_RENDERER_BLOB_FLAG_USE_MAPPABLE, "flags");
_Static_assert(VDEV_GPU_MAP_CACHE_WC == VIRGL_RENDERER_MAP_CACHE_WC, "map_info");

#define CAPSET_VIRGL 1u
#define CAPSET_VIRGL2 2u

/* The live adapter (virglrenderer is one per process), for its logger. */
static struct gpu_virgl *live;
static char last_msg[256];
static virgl_debug_callback_type old_logger; /* restored at fini */

static void say(const struct gpu_virgl *v, const char *msg)
{
	if (v != NULL && v->cfg.log != NULL)
		v->cfg.log(v->cfg.log_opaque, msg);
	else
		fprintf(stderr, "virglrenderer: %s\n", msg);
}

__attribute__((format(printf, 1, 0))) static void on_virgl_log(const char *fmt, va_list ap)
{
	char buf[sizeof(last_msg)];
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n == 0)
		return;
	memcpy(last_msg, buf, n + 1);
	if (live != NULL && live->cfg.verbose)
		say(live, buf);
}

/* virglrenderer returns positive or negative errno values. */
static int err_of(int rc)
{
	if (rc == 0)
		return 0;
	if (rc == ENOMEM || rc == -ENOMEM)
		return VDEV_ENOMEM;
	return VDEV_EINVAL;
}

/* ---- fences ---- */

/* Device-wide fence `virgl_id` retired: so did every older one. */
static void report_global(struct gpu_virgl *v, uint32_t virgl_id)
{
	while (v->fence_count != 0) {
		const struct gpu_virgl_fence_map *f = &v->fences[v->fence_head];
		/* serial-number order: f is at or before virgl_id */
		if ((int32_t)(virgl_id - f->virgl_id) < 0)
			break;
		uint64_t id = f->fence_id;
		v->fence_head = (v->fence_head + 1) % GPU_VIRGL_MAX_FENCES;
		v->fence_count--;
		v->stats.fences_retired++;
		if (v->gpu != NULL)
			vdev_gpu_fence_retired(v->gpu, 0, VDEV_GPU_FENCE_GLOBAL, id);
	}
}

static void report_context(struct gpu_virgl *v, uint32_t ctx_id, uint32_t ring_idx,
			   uint64_t fence_id)
{
	v->stats.fences_retired++;
	if (v->gpu != NULL)
		vdev_gpu_fence_retired(v->gpu, ctx_id, ring_idx, fence_id);
}

/*
 * virglrenderer's callbacks. Inside virgl_renderer_poll() they only note
 * what retired: reporting it may make the device run queued commands
 * (vdev_gpu_fence_retired() resumes a stalled controlq), which must not
 * re-enter virglrenderer while it walks its retired fences (a CTX_DESTROY
 * there would free a context its list still points to). r_poll() reports
 * once virgl_renderer_poll() returned. Called from anywhere else (inside
 * a renderer op: the device defers its processing itself), they report
 * at once.
 */
static void on_write_fence(void *cookie, uint32_t virgl_id)
{
	struct gpu_virgl *v = cookie;

	if (!v->in_poll) {
		report_global(v, virgl_id);
		return;
	}
	if (!v->global_retired || (int32_t)(virgl_id - v->global_virgl_id) > 0)
		v->global_virgl_id = virgl_id;
	v->global_retired = true;
}

static void on_write_context_fence(void *cookie, uint32_t ctx_id, uint32_t ring_idx,
				   uint64_t fence_id)
{
	struct gpu_virgl *v = cookie;
	unsigned i;

	if (!v->in_poll) {
		report_context(v, ctx_id, ring_idx, fence_id);
		return;
	}
	/* ids grow per timeline: the largest retired one says it all */
	for (i = 0; i < v->nretired; i++) {
		struct gpu_virgl_retired *r = &v->retired[i];
		if (r->ctx_id == ctx_id && r->ring_idx == ring_idx) {
			if (fence_id > r->fence_id)
				r->fence_id = fence_id;
			return;
		}
	}
	if (i == GPU_VIRGL_MAX_RETIRED) {
		report_context(v, ctx_id, ring_idx, fence_id); /* more timelines than noted */
		return;
	}
	v->retired[v->nretired++] =
		(struct gpu_virgl_retired){.ctx_id = ctx_id, .ring_idx = ring_idx, .fence_id = fence_id};
}

static struct virgl_renderer_callbacks callbacks = {
	.version = VIRGL_RENDERER_CALLBACKS_VERSION,
	.write_fence = on_write_fence,
	.write_context_fence = on_write_context_fence,
};

static int r_create_fence(void *opaque, uint32_t ctx_id, uint32_t ring_idx, uint64_t fence_id)
{
	struct gpu_virgl *v = opaque;
	int rc;

	if (ring_idx != VDEV_GPU_FENCE_GLOBAL) {
		rc = virgl_renderer_context_create_fence(ctx_id, VIRGL_RENDERER_FENCE_FLAG_MERGEABLE,
							 ring_idx, fence_id);
		if (rc == 0)
			v->stats.fences_created++;
		return err_of(rc);
	}
	if (v->fence_count == GPU_VIRGL_MAX_FENCES)
		return VDEV_ENOMEM;
	uint32_t vid = v->next_virgl_id++;
	if (v->next_virgl_id == 0)
		v->next_virgl_id = 1;
	rc = virgl_renderer_create_fence((int)vid, ctx_id);
	if (rc != 0)
		return err_of(rc);
	unsigned tail = (v->fence_head + v->fence_count) % GPU_VIRGL_MAX_FENCES;
	v->fences[tail] = (struct gpu_virgl_fence_map){.virgl_id = vid, .fence_id = fence_id};
	v->fence_count++;
	v->stats.fences_created++;
	return 0;
}

static void r_poll(void *opaque)
{
	struct gpu_virgl *v = opaque;

	v->in_poll = true;
	virgl_renderer_poll(); /* calls on_write_fence / on_write_context_fence */
	v->in_poll = false;
	if (v->global_retired) {
		v->global_retired = false;
		report_global(v, v->global_virgl_id);
	}
	/* Take the noted ones first: the array is written only inside
	 * virgl_renderer_poll(), and reporting may run commands. */
	unsigned n = v->nretired;
	v->nretired = 0;
	for (unsigned i = 0; i < n; i++)
		report_context(v, v->retired[i].ctx_id, v->retired[i].ring_idx,
			       v->retired[i].fence_id);
}

static void r_reset(void *opaque)
{
	struct gpu_virgl *v = opaque;

	/* Contexts and resources were destroyed through the ops; fences still
	 * in virglrenderer's lists may retire later: their ids are no longer
	 * in the table (device-wide) or name dead contexts (ignored). */
	v->fence_head = 0;
	v->fence_count = 0;
	v->global_retired = false;
	v->nretired = 0;
}

/* ---- capsets and contexts ---- */

static int r_capset_info(void *opaque, uint32_t index, struct vdev_gpu_capset_info *out)
{
	struct gpu_virgl *v = opaque;

	if (index >= v->num_capsets)
		return VDEV_ENOENT;
	*out = v->capsets[index];
	return 0;
}

static int r_capset_get(void *opaque, uint32_t id, uint32_t version, void *buf, uint32_t size)
{
	struct gpu_virgl *v = opaque;

	for (unsigned i = 0; i < v->num_capsets; i++) {
		if (v->capsets[i].id != id)
			continue;
		/* virglrenderer writes max_size bytes: the device's buffer is
		 * exactly that big. */
		if (size < v->capsets[i].max_size)
			return VDEV_EINVAL;
		virgl_renderer_fill_caps(id, version, buf);
		return 0;
	}
	return VDEV_EINVAL;
}

static int r_ctx_create(void *opaque, uint32_t ctx_id, uint32_t context_init, const char *name,
			size_t name_len)
{
	char n[65];
	(void)opaque;

	if (name_len > 64)
		name_len = 64;
	memcpy(n, name, name_len);
	n[name_len] = '\0';
	uint32_t capset = context_init & VIRGL_RENDERER_CONTEXT_FLAG_CAPSET_ID_MASK;
	if (capset == 0)
		return err_of(virgl_renderer_context_create(ctx_id, (uint32_t)name_len, n));
	return err_of(
		virgl_renderer_context_create_with_flags(ctx_id, capset, (uint32_t)name_len, n));
}

static void r_ctx_destroy(void *opaque, uint32_t ctx_id)
{
	(void)opaque;
	virgl_renderer_context_destroy(ctx_id);
}

static void r_ctx_attach(void *opaque, uint32_t ctx_id, uint32_t res_id)
{
	(void)opaque;
	virgl_renderer_ctx_attach_resource((int)ctx_id, (int)res_id);
}

static void r_ctx_detach(void *opaque, uint32_t ctx_id, uint32_t res_id)
{
	(void)opaque;
	virgl_renderer_ctx_detach_resource((int)ctx_id, (int)res_id);
}

/* ---- resources ---- */

static int r_create_3d(void *opaque, uint32_t res_id, const struct vdev_gpu_resource_3d *a)
{
	struct virgl_renderer_resource_create_args args = {
		.handle = res_id,
		.target = a->target,
		.format = a->format,
		.bind = a->bind,
		.width = a->width,
		.height = a->height,
		.depth = a->depth,
		.array_size = a->array_size,
		.last_level = a->last_level,
		.nr_samples = a->nr_samples,
		.flags = a->flags,
	};
	(void)opaque;
	return err_of(virgl_renderer_resource_create(&args, NULL, 0));
}

static void r_unref(void *opaque, uint32_t res_id)
{
	(void)opaque;
	virgl_renderer_resource_unref(res_id);
}

static int r_attach(void *opaque, uint32_t res_id, const struct vdev_iov *segs, unsigned nsegs)
{
	(void)opaque;
	if (nsegs > INT32_MAX)
		return VDEV_EINVAL;
	/* virglrenderer keeps the array until detach (allowed, see
	 * struct vdev_gpu_renderer_ops); it does not write it. */
	return err_of(virgl_renderer_resource_attach_iov(
		(int)res_id, (struct iovec *)(uintptr_t)segs, (int)nsegs));
}

static void r_detach(void *opaque, uint32_t res_id)
{
	(void)opaque;
	virgl_renderer_resource_detach_iov((int)res_id, NULL, NULL);
}

static struct virgl_box box_of(const struct vdev_gpu_box *b)
{
	return (struct virgl_box){b->x, b->y, b->z, b->w, b->h, b->d};
}

static int r_to_host(void *opaque, uint32_t res_id, const struct vdev_gpu_transfer *t)
{
	struct virgl_box box = box_of(&t->box);
	(void)opaque;
	return err_of(virgl_renderer_transfer_write_iov(res_id, t->ctx_id, (int)t->level, t->stride,
							t->layer_stride, &box, t->offset, NULL,
							0));
}

static int r_from_host(void *opaque, uint32_t res_id, const struct vdev_gpu_transfer *t)
{
	struct virgl_box box = box_of(&t->box);
	(void)opaque;
	return err_of(virgl_renderer_transfer_read_iov(res_id, t->ctx_id, t->level, t->stride,
						       t->layer_stride, &box, t->offset, NULL, 0));
}

static int r_read_rect(void *opaque, uint32_t res_id, const struct vdev_gpu_rect *r, void *dst,
		       uint32_t dst_stride)
{
	struct gpu_virgl *v = opaque;
	struct virgl_box box = {r->x, r->y, 0, r->width, r->height, 1};
	struct iovec iov = {
		.iov_base = dst,
		.iov_len = (size_t)(r->height - 1) * dst_stride + (size_t)r->width * 4u,
	};
	int rc = virgl_renderer_transfer_read_iov(res_id, 0, 0, dst_stride, 0, &box, 0, &iov, 1);
	if (rc == 0) {
		v->stats.reads++;
		v->stats.read_bytes += iov.iov_len;
	}
	return err_of(rc);
}

static int r_submit(void *opaque, uint32_t ctx_id, const void *cmd, uint32_t size)
{
	struct gpu_virgl *v = opaque;

	if (ctx_id > INT32_MAX)
		return VDEV_EINVAL;
	/* virglrenderer decodes the stream in place without writing it. */
	int rc = virgl_renderer_submit_cmd((void *)(uintptr_t)cmd, (int)ctx_id, (int)(size / 4u));
	if (rc == 0) {
		v->stats.submits++;
		v->stats.submit_bytes += size;
	}
	return err_of(rc);
}

/* ---- blobs ---- */

static int r_blob_create(void *opaque, uint32_t res_id, const struct vdev_gpu_blob *b)
{
	struct virgl_renderer_resource_create_blob_args args = {
		.res_handle = res_id,
		.ctx_id = b->ctx_id,
		.blob_mem = b->blob_mem,
		.blob_flags = b->blob_flags,
		.blob_id = b->blob_id,
		.size = b->size,
		.iovecs = (const struct iovec *)(const void *)b->segs,
		.num_iovs = b->nsegs,
	};
	(void)opaque;
	return err_of(virgl_renderer_resource_create_blob(&args));
}

static int r_blob_map(void *opaque, uint32_t res_id, struct vdev_gpu_blob_map *out)
{
	void *host = NULL;
	uint64_t size = 0;
	uint32_t info = 0;
	(void)opaque;

	int rc = virgl_renderer_resource_map(res_id, &host, &size);
	if (rc != 0)
		return err_of(rc);
	if (virgl_renderer_resource_get_map_info(res_id, &info) != 0)
		info = VDEV_GPU_MAP_CACHE_CACHED;
	out->host = host;
	out->size = size;
	out->map_info = info & VDEV_GPU_MAP_CACHE_MASK;
	return 0;
}

static void r_blob_unmap(void *opaque, uint32_t res_id)
{
	(void)opaque;
	virgl_renderer_resource_unmap(res_id);
}

const struct vdev_gpu_renderer_ops gpu_virgl_renderer_ops = {
	.size = sizeof(struct vdev_gpu_renderer_ops),
	.ctx_create = r_ctx_create,
	.ctx_destroy = r_ctx_destroy,
	.capset_info = r_capset_info,
	.capset_get = r_capset_get,
	.resource_create_3d = r_create_3d,
	.resource_unref = r_unref,
	.attach_backing = r_attach,
	.detach_backing = r_detach,
	.ctx_attach_resource = r_ctx_attach,
	.ctx_detach_resource = r_ctx_detach,
	.transfer_to_host = r_to_host,
	.transfer_from_host = r_from_host,
	.submit = r_submit,
	.create_fence = r_create_fence,
	.poll = r_poll,
	.blob_create = r_blob_create,
	.blob_map = r_blob_map,
	.blob_unmap = r_blob_unmap,
	.read_rect = r_read_rect,
	.reset = r_reset,
};

/* ---- set-up ---- */

/*
 * What virgl_renderer_init() needs from EGL, checked first: virglrenderer
 * 0.10.4 crashes (NULL dereference) instead of failing when there is no EGL
 * implementation, and says little when there is no driver. Returns 0, or
 * -1 with the reason in err.
 */
static int probe_egl(char *err, size_t errlen)
{
	const char *ext = eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS);

	if (ext == NULL) {
		snprintf(err, errlen,
			 "no EGL implementation: libEGL found no vendor library (Debian: install "
			 "libegl-mesa0; check __EGL_VENDOR_LIBRARY_FILENAMES / _DIRS)");
		return -1;
	}
	if (strstr(ext, "EGL_MESA_platform_surfaceless") == NULL) {
		snprintf(err, errlen,
			 "EGL has no surfaceless platform (EGL_MESA_platform_surfaceless): a "
			 "headless renderer needs Mesa's EGL (Debian: libegl-mesa0)");
		return -1;
	}
	EGLDisplay dpy = eglGetPlatformDisplay(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY,
					       NULL);
	EGLint major = 0, minor = 0;
	if (dpy == EGL_NO_DISPLAY || !eglInitialize(dpy, &major, &minor)) {
		snprintf(err, errlen,
			 "EGL on the surfaceless platform does not initialise (EGL error 0x%x): "
			 "no usable Mesa driver (Debian: libgl1-mesa-dri; without a GPU set "
			 "LIBGL_ALWAYS_SOFTWARE=1 for llvmpipe; EGL_LOG_LEVEL=debug says more)",
			 (unsigned)eglGetError());
		return -1;
	}
	eglTerminate(dpy);
	return 0;
}

int gpu_virgl_init(struct gpu_virgl *v, const struct gpu_virgl_config *cfg, char *err,
		   size_t errlen)
{
	int flags = VIRGL_RENDERER_USE_EGL | VIRGL_RENDERER_USE_SURFACELESS;
	int rc;

	memset(v, 0, sizeof(*v));
	if (cfg != NULL)
		v->cfg = *cfg;
	v->next_virgl_id = 1;
	if (live != NULL) {
		snprintf(err, errlen, "virglrenderer is already in use in this process "
				      "(one renderer per process)");
		return -1;
	}
	if (v->cfg.software && setenv("LIBGL_ALWAYS_SOFTWARE", "1", 0) != 0) {
		snprintf(err, errlen, "cannot set LIBGL_ALWAYS_SOFTWARE: %s", strerror(errno));
		return -1;
	}
	if (v->cfg.thread_sync)
		flags |= VIRGL_RENDERER_THREAD_SYNC;
	if (probe_egl(err, errlen) != 0)
		return -1;
	last_msg[0] = '\0';
	live = v;
	old_logger = virgl_set_debug_callback(on_virgl_log);
	rc = virgl_renderer_init(v, flags, &callbacks);
	if (rc != 0) {
		snprintf(err, errlen,
			 "virglrenderer could not set up OpenGL on EGL (surfaceless platform): "
			 "error %d%s%s. It needs Mesa's EGL and a GL 3.3+ driver (Debian: "
			 "libegl-mesa0 libgl1-mesa-dri); without a GPU, LIBGL_ALWAYS_SOFTWARE=1 "
			 "selects llvmpipe",
			 rc, last_msg[0] ? "; it said: " : "", last_msg);
		live = NULL;
		virgl_set_debug_callback(old_logger);
		return -1;
	}
	v->initialised = true;
	static const uint32_t ids[] = {CAPSET_VIRGL, CAPSET_VIRGL2};
	for (unsigned i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		uint32_t max_ver = 0, max_size = 0;
		virgl_renderer_get_cap_set(ids[i], &max_ver, &max_size);
		if (max_ver == 0 || max_size == 0 || max_size > VDEV_GPU_MAX_CAPSET_SIZE)
			continue;
		v->capsets[v->num_capsets++] = (struct vdev_gpu_capset_info){
			.id = ids[i], .max_version = max_ver, .max_size = max_size};
	}
	if (v->num_capsets == 0) {
		snprintf(err, errlen, "virglrenderer offers no virgl capset (no GL renderer?)");
		gpu_virgl_fini(v);
		return -1;
	}
	return 0;
}

void gpu_virgl_set_device(struct gpu_virgl *v, struct vdev_gpu *gpu)
{
	v->gpu = gpu;
}

int gpu_virgl_poll_fd(const struct gpu_virgl *v)
{
	if (!v->initialised)
		return -1;
	return virgl_renderer_get_poll_fd();
}

void gpu_virgl_fini(struct gpu_virgl *v)
{
	if (!v->initialised)
		return;
	v->gpu = NULL;
	virgl_renderer_cleanup(v);
	v->initialised = false;
	if (live == v)
		live = NULL;
	virgl_set_debug_callback(old_logger);
}
