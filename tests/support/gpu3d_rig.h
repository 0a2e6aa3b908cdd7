/* SPDX-License-Identifier: MIT */
/*
 * A virtio-gpu with a 3D renderer behind virtio-mmio, driven by the driver
 * simulator as Linux's virtio-gpu driver and Mesa's virgl driver would:
 * request building, the controlq round trip, fence waiting, and a virgl
 * command stream that clears a render target. Shared by the end-to-end
 * test (tests/gpu3d_virgl_render.c) and the benchmark
 * (tests/bench/bench_gpu3d.c); header-only, one rig per program.
 *
 * Errors in the rig itself (a full queue, a driver-side ring error) are
 * fatal: they print FAIL and exit(1).
 */
#ifndef VDEV_TEST_GPU3D_RIG_H
#define VDEV_TEST_GPU3D_RIG_H

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drv_mmio.h"
#include "drvsim.h"
#include "vdev/gpu.h"
#include "vdev/mmio.h"

#define RIG_QSIZE 64
#define RIG_IOVS 64
#define RIG_NRES 8
#define RIG_NCTX 4
#define RIG_NFENCE 8
#define RIG_REGION (8u << 20)
#define RIG_SUBMIT_MAX 4096u

enum {
	CMD_RESOURCE_UNREF = 0x0102,
	CMD_SET_SCANOUT = 0x0103,
	CMD_RESOURCE_FLUSH = 0x0104,
	CMD_RESOURCE_ATTACH_BACKING = 0x0106,
	CMD_RESOURCE_DETACH_BACKING = 0x0107,
	CMD_GET_CAPSET_INFO = 0x0108,
	CMD_GET_CAPSET = 0x0109,
	CMD_CTX_CREATE = 0x0200,
	CMD_CTX_DESTROY,
	CMD_CTX_ATTACH_RESOURCE,
	CMD_CTX_DETACH_RESOURCE,
	CMD_RESOURCE_CREATE_3D,
	CMD_TRANSFER_TO_HOST_3D,
	CMD_TRANSFER_FROM_HOST_3D,
	CMD_SUBMIT_3D,
	OK_NODATA = 0x1100,
	OK_CAPSET_INFO = 0x1102,
	OK_CAPSET = 0x1103,
};
#define FLAG_FENCE 1u
#define FLAG_RING_IDX 2u
#define CAPSET_VIRGL 1u
#define CAPSET_VIRGL2 2u

/* gallium / virgl values the guest's Mesa driver would send */
#define PIPE_TEXTURE_2D 2u
#define VIRGL_FORMAT_B8G8R8X8_UNORM 2u
#define BIND_RENDER_TARGET (1u << 1)
#define BIND_SAMPLER_VIEW (1u << 3)
#define PIPE_CLEAR_COLOR0 (1u << 2)
/* virgl command stream: a header dword (command, object type, length in
 * dwords of what follows), then the arguments (virgl_protocol.h) */
#define CCMD_CREATE_OBJECT 1u
#define CCMD_SET_FRAMEBUFFER_STATE 5u
#define CCMD_CLEAR 7u
#define OBJECT_SURFACE 8u
#define CMD0(cmd, obj, len) ((cmd) | (obj) << 8 | (len) << 16)

/* ---- the device and the simulated driver ---- */
static struct rig {
	struct sim_mem m;
	struct vdev_gpu gpu;
	struct vdev_vq queues[2];
	uint64_t queue_held[2 * VDEV_VQ_HELD_WORDS(RIG_QSIZE)];
	struct vdev_iov iovs[2 * RIG_IOVS];
	struct vdev_gpu_resource res[RIG_NRES];
	struct vdev_gpu_context ctx[RIG_NCTX];
	struct vdev_gpu_fence fences[RIG_NFENCE];
	uint8_t submit_buf[RIG_SUBMIT_MAX];
	struct vdev_mmio mmio;
	struct drv_mmio dm;
	struct drv_transport tr;
	struct drv_vq q[2];
	uint64_t neg;
	bool up;
	int poll_fd; /* the renderer's fence fd, or -1: poll on a timer */
} R;

static inline void *rig_alloc(void *o, size_t n)
{
	(void)o;
	return malloc(n);
}
static inline void rig_free(void *o, void *p, size_t n)
{
	(void)o, (void)n;
	free(p);
}
static const struct vdev_gpu_host_mem_ops rig_host_mem = {
	.size = sizeof(struct vdev_gpu_host_mem_ops), .alloc = rig_alloc, .free = rig_free};

/* Bring up a w x h single-scanout GPU with `renderer` and `sink`, negotiate
 * (split ring) and set up both queues. Returns NULL or what failed. */
static inline const char *rig_up(const struct vdev_gpu_renderer_ops *renderer, void *renderer_opaque,
			  const struct vdev_gpu_sink_ops *sink, void *sink_opaque, uint32_t w,
			  uint32_t h, int poll_fd)
{
	static char why[160];
	sim_mem_init(&R.m, RIG_REGION, false);
	R.poll_fd = poll_fd;
	struct vdev_gpu_config c = {
		.num_scanouts = 1,
		.queue_size = RIG_QSIZE,
		.max_host_bytes = 16u << 20,
		.mem = &R.m.mem,
		.queues = R.queues,
		.queue_held = R.queue_held,
		.iovs = R.iovs,
		.iov_per_chain = RIG_IOVS,
		.resources = R.res,
		.num_resources = RIG_NRES,
		.contexts = R.ctx,
		.num_contexts = RIG_NCTX,
		.host_mem = &rig_host_mem,
		.sink = sink,
		.sink_opaque = sink_opaque,
		.renderer = renderer,
		.renderer_opaque = renderer_opaque,
		.fences = R.fences,
		.num_fences = RIG_NFENCE,
		.submit_buf = R.submit_buf,
		.submit_buf_size = RIG_SUBMIT_MAX,
	};
	c.displays[0] = (struct vdev_gpu_display){.enabled = true, .width = w, .height = h};
	int rc = vdev_gpu_init(&R.gpu, &c);
	if (rc != 0) {
		snprintf(why, sizeof(why), "vdev_gpu_init: %s", vdev_strerror(rc));
		return why;
	}
	R.up = true;
	struct vdev_mmio_config mc = {.irq = drv_mmio_irq, .irq_opaque = &R.dm};
	if (vdev_mmio_init(&R.mmio, vdev_gpu_dev(&R.gpu), &mc) != 0)
		return "vdev_mmio_init";
	R.dm.mmio = &R.mmio;
	R.tr = drv_mmio_transport(&R.dm);
	if (drv_virtio_negotiate(&R.tr, ~VDEV_BIT(VDEV_F_RING_PACKED), &R.neg) != 0)
		return "feature negotiation";
	for (uint16_t i = 0; i < 2; i++)
		if (drv_virtio_setup_queue(&R.tr, &R.q[i], &R.m, i, RIG_QSIZE, R.neg) != 0)
			return "queue setup";
	if (drv_virtio_driver_ok(&R.tr) != 0x0f)
		return "DRIVER_OK not accepted";
	return NULL;
}

static inline void rig_down(void)
{
	if (R.up)
		vdev_gpu_fini(&R.gpu);
	R.up = false;
	for (unsigned i = 0; i < 2; i++)
		drv_vq_destroy(&R.q[i]);
	sim_mem_destroy(&R.m);
}

/* ---- requests ---- */
struct msg {
	uint8_t d[1024];
	uint32_t n;
};
static inline void p32(struct msg *m, uint32_t v)
{
	memcpy(m->d + m->n, &v, 4);
	m->n += 4;
}
static inline void p64(struct msg *m, uint64_t v)
{
	memcpy(m->d + m->n, &v, 8);
	m->n += 8;
}
static inline void pf(struct msg *m, float f)
{
	uint32_t v;
	memcpy(&v, &f, 4);
	p32(m, v);
}
static inline struct msg hdr_full(uint32_t type, uint32_t flags, uint64_t fence, uint32_t ctx,
			   uint8_t ring)
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
static inline struct msg hdr(uint32_t type, uint32_t ctx) { return hdr_full(type, 0, 0, ctx, 0); }

struct resp {
	uint32_t used, type, flags, ctx;
	uint64_t fence;
	const uint8_t *d; /* the response in guest memory */
};
static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* A queued request: the token the driver simulator gives back, with its
 * request and response buffers in guest memory. */
struct pend {
	uint64_t rq, rs;
	uint32_t rlen;
};

/* Place `m` and a response buffer of `rlen` bytes in guest memory (once;
 * rig_post() sends the same buffers again and again). */
static inline void rig_place(const struct msg *m, uint32_t rlen, struct pend *p)
{
	p->rq = sim_alloc(&R.m, m->n, 8);
	p->rs = sim_alloc(&R.m, rlen, 8);
	p->rlen = rlen;
	memcpy(sim_ptr(&R.m, p->rq), m->d, m->n);
}

/* Make the placed request available; kick (the device processes the
 * queue inside this call) unless the device suppressed notifications. */
static inline void rig_post(struct pend *p, uint32_t n)
{
	struct drv_buf b[2];
	memset(sim_ptr(&R.m, p->rs), 0xcc, p->rlen);
	b[0] = (struct drv_buf){p->rq, n, false};
	b[1] = (struct drv_buf){p->rs, p->rlen, true};
	if (drv_add(&R.q[0], b, 2, false, p) != 0) {
		fprintf(stderr, "FAIL: controlq full\n");
		exit(1);
	}
	if (drv_kick_prepare(&R.q[0]))
		R.tr.ops->notify(R.tr.t, 0, false, 0);
}

static inline void add(const struct msg *m, uint32_t rlen, struct pend *p)
{
	rig_place(m, rlen, p);
	rig_post(p, m->n);
}

/* The next answered request (NULL: none yet). */
static inline struct pend *used(struct resp *r)
{
	uint32_t l;
	struct pend *p = drv_get_used(&R.q[0], &l);
	if (R.q[0].errors != 0) {
		fprintf(stderr, "FAIL: controlq: %s\n", R.q[0].last_error);
		exit(1);
	}
	if (p == NULL)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->used = l;
	r->d = sim_ptr(&R.m, p->rs);
	if (l >= 24) {
		r->type = rd32(r->d);
		r->flags = rd32(r->d + 4);
		memcpy(&r->fence, r->d + 8, 8);
		r->ctx = rd32(r->d + 16);
	}
	return p;
}

/* Send and expect the answer at once. */
static inline struct resp sendr(const struct msg *m, uint32_t rlen)
{
	struct pend p;
	struct resp r;
	add(m, rlen, &p);
	if (used(&r) != &p) {
		fprintf(stderr, "FAIL: command 0x%x not answered at once\n", rd32(m->d));
		exit(1);
	}
	return r;
}
static inline uint32_t send(const struct msg *m) { return sendr(m, 24).type; }

static inline uint64_t rig_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Poll the renderer (on its fd, or every millisecond as the daemon's
 * timer does) until `p` is answered (true) or another request is, or 20 s
 * passed (false). */
static inline bool wait_answer(struct pend *p, struct resp *r)
{
	uint64_t end = rig_now_ms() + 20000;
	struct timespec ms = {0, 1000000};
	while (rig_now_ms() < end) {
		if (R.poll_fd >= 0) {
			struct pollfd pfd = {.fd = R.poll_fd, .events = POLLIN};
			if (poll(&pfd, 1, 100) <= 0)
				continue;
		}
		vdev_gpu_poll(&R.gpu);
		struct pend *got = used(r);
		if (got != NULL)
			return got == p;
		if (R.poll_fd < 0)
			nanosleep(&ms, NULL);
	}
	return false;
}

/* SUBMIT_3D of a virgl stream: surface `surface` over resource `res`, bound
 * as the framebuffer, cleared to (cr, cg, cb, 1). */
static inline struct msg clear_submit(uint32_t ctx, uint32_t res, uint32_t surface, uint32_t flags,
			       uint64_t fence, uint8_t ring, float cr, float cg, float cb)
{
	struct msg m = hdr_full(CMD_SUBMIT_3D, flags, fence, ctx, ring);
	uint32_t size_at = m.n;
	p32(&m, 0); /* size, below */
	p32(&m, 0); /* num_in_fences */
	uint32_t start = m.n;
	p32(&m, CMD0(CCMD_CREATE_OBJECT, OBJECT_SURFACE, 5u));
	p32(&m, surface);                     /* surface handle */
	p32(&m, res);                         /* resource */
	p32(&m, VIRGL_FORMAT_B8G8R8X8_UNORM); /* format */
	p32(&m, 0);                           /* level */
	p32(&m, 0);                           /* first | last layer << 16 */
	p32(&m, CMD0(CCMD_SET_FRAMEBUFFER_STATE, 0u, 3u));
	p32(&m, 1);       /* nr_cbufs */
	p32(&m, 0);       /* zsurf handle: none */
	p32(&m, surface); /* cbuf 0 */
	p32(&m, CMD0(CCMD_CLEAR, 0u, 8u));
	p32(&m, PIPE_CLEAR_COLOR0);
	pf(&m, cr);
	pf(&m, cg);
	pf(&m, cb);
	pf(&m, 1.0f);
	p64(&m, 0); /* depth (a double) */
	p32(&m, 0); /* stencil */
	uint32_t size = m.n - start;
	memcpy(m.d + size_at, &size, 4);
	return m;
}

/* RESOURCE_CREATE_3D of a w x h B8G8R8X8 2D render target. */
static inline struct msg create_3d(uint32_t res, uint32_t w, uint32_t h)
{
	struct msg m = hdr(CMD_RESOURCE_CREATE_3D, 0);
	p32(&m, res);
	p32(&m, PIPE_TEXTURE_2D); /* target */
	p32(&m, VIRGL_FORMAT_B8G8R8X8_UNORM);
	p32(&m, BIND_RENDER_TARGET | BIND_SAMPLER_VIEW);
	p32(&m, w);
	p32(&m, h);
	p32(&m, 1); /* depth */
	p32(&m, 1); /* array_size */
	p32(&m, 0); /* last_level */
	p32(&m, 0); /* nr_samples */
	p32(&m, 0); /* flags */
	p32(&m, 0);
	return m;
}

/* TRANSFER_TO_HOST_3D / TRANSFER_FROM_HOST_3D of the w x h box at 0,0 of
 * resource `res` in context `ctx`, the backing tightly packed. */
static inline struct msg transfer_3d(uint32_t type, uint32_t ctx, uint32_t res, uint32_t w, uint32_t h)
{
	struct msg m = hdr(type, ctx);
	p32(&m, 0); /* box x, y, z, w, h, d */
	p32(&m, 0);
	p32(&m, 0);
	p32(&m, w);
	p32(&m, h);
	p32(&m, 1);
	p64(&m, 0);     /* offset */
	p32(&m, res);   /* resource */
	p32(&m, 0);     /* level */
	p32(&m, w * 4); /* stride */
	p32(&m, 0);     /* layer_stride */
	return m;
}

/* A rectangle command (SET_SCANOUT: then scanout and resource; FLUSH:
 * resource and padding). */
static inline struct msg rect_cmd(uint32_t type, uint32_t w, uint32_t h, uint32_t a, uint32_t b)
{
	struct msg m = hdr(type, 0);
	p32(&m, 0);
	p32(&m, 0);
	p32(&m, w);
	p32(&m, h);
	p32(&m, a);
	p32(&m, b);
	return m;
}

/* A command with two dwords after the header (CTX_ATTACH/DETACH_RESOURCE,
 * DETACH_BACKING, UNREF: resource id and padding). */
static inline struct msg res_cmd(uint32_t type, uint32_t ctx, uint32_t res)
{
	struct msg m = hdr(type, ctx);
	p32(&m, res);
	p32(&m, 0);
	return m;
}

#endif
