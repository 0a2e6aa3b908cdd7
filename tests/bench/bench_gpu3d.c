/* SPDX-License-Identifier: MIT */
/*
 * virtio-gpu 3D benchmark: the device model's share of each 3D command
 * against the renderer's. The GPU runs with the real virglrenderer
 * adapter (EGL surfaceless on Mesa's llvmpipe) behind virtio-mmio, driven
 * by the driver simulator (tests/support/gpu3d_rig.h). Every renderer op
 * is wrapped by a timer, so of the time the device spends on a command
 * (the QueueNotify write that makes it process the controlq: transport,
 * parsing, validation, bookkeeping, the response, and the renderer's
 * calls) we know how much the renderer took; the rest is the model's.
 * Requests are placed in guest memory once and made available again per
 * command; only the notify is timed.
 *
 * Commands (64x64 B8G8R8X8 render target, context virgl2):
 *   submit-clear      SUBMIT_3D of a virgl stream: framebuffer + clear
 *   transfer-to       TRANSFER_TO_HOST_3D of the whole 64x64 box
 *   transfer-from     TRANSFER_FROM_HOST_3D of the whole 64x64 box
 *   flush-scanout     RESOURCE_FLUSH of the scanned-out 3D resource
 *                     (read back through the renderer, a null sink)
 *   ctx-attach+detach CTX_ATTACH_RESOURCE then CTX_DETACH_RESOURCE
 *   get-capset        GET_CAPSET of virgl2 (the model copies it)
 *
 * For each: model ns and renderer ns per command and the model's share of
 * the total, medians of >= 5 runs (the share is the median of per-run
 * shares). The renderer's time is llvmpipe's on this CPU; on a host GPU
 * it is smaller and the model's share larger.
 *
 * usage: bench_gpu3d [--runs N] [--rounds R]
 * Exit 0; 77 with "SKIPPED: <why>" when virglrenderer cannot set up EGL;
 * 1 when a command fails or the render target has the wrong colour.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "gpu3d_rig.h"
#include "gpu_virgl.h"

#define W 64u
#define H 64u

static struct gpu_virgl virgl;

/* ---- the renderer, timed ---- */
static uint64_t ren_ns;
static const struct vdev_gpu_renderer_ops *real = &gpu_virgl_renderer_ops;

#define TIMED(call)                                   \
	do {                                          \
		uint64_t t0_ = now_ns();              \
		call;                                 \
		ren_ns += now_ns() - t0_;             \
	} while (0)

static int t_ctx_create(void *o, uint32_t id, uint32_t ci, const char *n, size_t nl)
{
	int rc;
	TIMED(rc = real->ctx_create(o, id, ci, n, nl));
	return rc;
}
static void t_ctx_destroy(void *o, uint32_t id) { TIMED(real->ctx_destroy(o, id)); }
static int t_capset_info(void *o, uint32_t i, struct vdev_gpu_capset_info *out)
{
	int rc;
	TIMED(rc = real->capset_info(o, i, out));
	return rc;
}
static int t_capset_get(void *o, uint32_t id, uint32_t v, void *buf, uint32_t size)
{
	int rc;
	TIMED(rc = real->capset_get(o, id, v, buf, size));
	return rc;
}
static int t_create_3d(void *o, uint32_t res, const struct vdev_gpu_resource_3d *a)
{
	int rc;
	TIMED(rc = real->resource_create_3d(o, res, a));
	return rc;
}
static void t_unref(void *o, uint32_t res) { TIMED(real->resource_unref(o, res)); }
static int t_attach_backing(void *o, uint32_t res, const struct vdev_iov *s, unsigned n)
{
	int rc;
	TIMED(rc = real->attach_backing(o, res, s, n));
	return rc;
}
static void t_detach_backing(void *o, uint32_t res) { TIMED(real->detach_backing(o, res)); }
static void t_ctx_attach(void *o, uint32_t c, uint32_t r)
{
	TIMED(real->ctx_attach_resource(o, c, r));
}
static void t_ctx_detach(void *o, uint32_t c, uint32_t r)
{
	TIMED(real->ctx_detach_resource(o, c, r));
}
static int t_to_host(void *o, uint32_t res, const struct vdev_gpu_transfer *t)
{
	int rc;
	TIMED(rc = real->transfer_to_host(o, res, t));
	return rc;
}
static int t_from_host(void *o, uint32_t res, const struct vdev_gpu_transfer *t)
{
	int rc;
	TIMED(rc = real->transfer_from_host(o, res, t));
	return rc;
}
static int t_submit(void *o, uint32_t c, const void *cmd, uint32_t size)
{
	int rc;
	TIMED(rc = real->submit(o, c, cmd, size));
	return rc;
}
static int t_create_fence(void *o, uint32_t c, uint32_t ring, uint64_t id)
{
	int rc;
	TIMED(rc = real->create_fence(o, c, ring, id));
	return rc;
}
static void t_poll(void *o) { TIMED(real->poll(o)); }
static int t_read_rect(void *o, uint32_t res, const struct vdev_gpu_rect *r, void *dst,
		       uint32_t stride)
{
	int rc;
	TIMED(rc = real->read_rect(o, res, r, dst, stride));
	return rc;
}
static void t_reset(void *o) { TIMED(real->reset(o)); }

static struct vdev_gpu_renderer_ops timed_ops;

static void make_timed_ops(void)
{
	timed_ops = *real;
	timed_ops.ctx_create = t_ctx_create;
	timed_ops.ctx_destroy = t_ctx_destroy;
	timed_ops.capset_info = t_capset_info;
	timed_ops.capset_get = t_capset_get;
	timed_ops.resource_create_3d = t_create_3d;
	timed_ops.resource_unref = t_unref;
	timed_ops.attach_backing = t_attach_backing;
	timed_ops.detach_backing = t_detach_backing;
	timed_ops.ctx_attach_resource = t_ctx_attach;
	timed_ops.ctx_detach_resource = t_ctx_detach;
	timed_ops.transfer_to_host = t_to_host;
	timed_ops.transfer_from_host = t_from_host;
	timed_ops.submit = t_submit;
	timed_ops.create_fence = t_create_fence;
	timed_ops.poll = real->poll ? t_poll : NULL;
	timed_ops.read_rect = real->read_rect ? t_read_rect : NULL;
	timed_ops.reset = real->reset ? t_reset : NULL;
	/* blob ops: not exercised here, left as they are */
}

/* ---- a null display ---- */
static volatile uint32_t updates;
static void n_scanout(void *o, uint32_t n, const struct vdev_gpu_scanout *s)
{
	(void)o, (void)n, (void)s;
}
static void n_update(void *o, uint32_t n, const struct vdev_gpu_scanout *s,
		     const struct vdev_gpu_rect *r)
{
	(void)o, (void)n, (void)s, (void)r;
	updates++;
}
static const struct vdev_gpu_sink_ops null_sink = {
	.size = sizeof(struct vdev_gpu_sink_ops), .scanout = n_scanout, .update = n_update};

/* ---- one command kind ---- */
struct kind {
	const char *name;
	struct pend req[2]; /* placed requests, sent in turn */
	uint32_t len[2];
	unsigned nreq;
};

/* Send each of k's requests `rounds` times; add the notify time and the
 * renderer's part of it. Every answer must be OK_*. */
static int run_kind(struct kind *k, unsigned rounds, uint64_t *total, uint64_t *renderer)
{
	struct resp r;
	uint64_t t = 0;
	ren_ns = 0;
	for (unsigned i = 0; i < rounds; i++)
		for (unsigned j = 0; j < k->nreq; j++) {
			struct pend *p = &k->req[j];
			struct drv_buf b[2] = {{p->rq, k->len[j], false}, {p->rs, p->rlen, true}};
			if (drv_add(&R.q[0], b, 2, false, p) != 0)
				return -1;
			bool kick = drv_kick_prepare(&R.q[0]);
			uint64_t t0 = now_ns();
			if (kick)
				R.tr.ops->notify(R.tr.t, 0, false, 0);
			t += now_ns() - t0;
			if (used(&r) != p || r.type < OK_NODATA || r.type > OK_CAPSET) {
				fprintf(stderr, "FAIL %s: answer 0x%x\n", k->name, r.type);
				return -1;
			}
		}
	*total = t;
	*renderer = ren_ns;
	return 0;
}

static void place(struct kind *k, const struct msg *m, uint32_t rlen)
{
	rig_place(m, rlen, &k->req[k->nreq]);
	k->len[k->nreq++] = m->n;
}

/* SUBMIT_3D of framebuffer state + clear (the surface exists). */
static struct msg clear_only(float cr)
{
	struct msg m = hdr(CMD_SUBMIT_3D, 1);
	p32(&m, 4 * (4 + 9));
	p32(&m, 0);
	p32(&m, CMD0(CCMD_SET_FRAMEBUFFER_STATE, 0u, 3u));
	p32(&m, 1);
	p32(&m, 0);
	p32(&m, 1); /* surface 1 */
	p32(&m, CMD0(CCMD_CLEAR, 0u, 8u));
	p32(&m, PIPE_CLEAR_COLOR0);
	pf(&m, cr);
	pf(&m, 0.5f);
	pf(&m, 0.25f);
	pf(&m, 1.0f);
	p64(&m, 0);
	p32(&m, 0);
	return m;
}

static int skip_or_fail(const char *why)
{
	const char *req = getenv("VDEV_REQUIRE_ALL");
	if (req != NULL && strcmp(req, "1") == 0) {
		fprintf(stderr, "FAIL (VDEV_REQUIRE_ALL=1, would skip): %s\n", why);
		return 1;
	}
	printf("SKIPPED: %s\n", why);
	return 77;
}

#define NKINDS 6
#define MAXRUNS 64

int main(int argc, char **argv)
{
	unsigned runs = 7, rounds = 300;
	char eb[512];
	int status = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = (unsigned)atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--runs N (5..64)] [--rounds R]\n", argv[0]);
			return 2;
		}
	}
	if (runs < 5 || runs > MAXRUNS || rounds == 0) {
		fprintf(stderr, "bench: need 5..64 runs and at least one round\n");
		return 2;
	}
	struct gpu_virgl_config vc = {.software = true};
	if (gpu_virgl_init(&virgl, &vc, eb, sizeof(eb)) != 0)
		return skip_or_fail(eb);
	make_timed_ops();
	const char *why = rig_up(&timed_ops, &virgl, &null_sink, NULL, W, H, -1);
	if (why != NULL) {
		fprintf(stderr, "FAIL: %s\n", why);
		goto out;
	}
	gpu_virgl_set_device(&virgl, &R.gpu);

	/* set-up: context, render target with backing, scanout, surface */
	struct msg m = hdr(CMD_CTX_CREATE, 1);
	p32(&m, 5);
	p32(&m, CAPSET_VIRGL2);
	memcpy(m.d + m.n, "bench", 5);
	m.n += 64;
	uint64_t backing = sim_alloc(&R.m, W * H * 4, 4096);
	memset(sim_ptr(&R.m, backing), 0x40, W * H * 4);
	struct msg attach = hdr(CMD_RESOURCE_ATTACH_BACKING, 0);
	p32(&attach, 1);
	p32(&attach, 1);
	p64(&attach, backing);
	p32(&attach, W * H * 4);
	p32(&attach, 0);
	struct msg setup[] = {m,
			      create_3d(1, W, H),
			      attach,
			      res_cmd(CMD_CTX_ATTACH_RESOURCE, 1, 1),
			      rect_cmd(CMD_SET_SCANOUT, W, H, 0, 1),
			      clear_submit(1, 1, 1, 0, 0, 0, 0.0f, 0.0f, 0.0f)};
	for (unsigned i = 0; i < sizeof(setup) / sizeof(setup[0]); i++)
		if (send(&setup[i]) != OK_NODATA) {
			fprintf(stderr, "FAIL: set-up command %u (0x%x)\n", i, rd32(setup[i].d));
			goto out;
		}

	struct msg cap = hdr(CMD_GET_CAPSET_INFO, 0);
	p32(&cap, 0);
	p32(&cap, 0);
	struct resp cr = sendr(&cap, 40);
	uint32_t cap_id = rd32(cr.d + 24), cap_ver = rd32(cr.d + 28), cap_size = rd32(cr.d + 32);

	static struct kind k[NKINDS] = {{.name = "submit-clear"},  {.name = "transfer-to"},
					{.name = "transfer-from"}, {.name = "flush-scanout"},
					{.name = "ctx-attach+detach"}, {.name = "get-capset"}};
	struct msg c1 = clear_only(1.0f);
	place(&k[0], &c1, 24);
	struct msg t1 = transfer_3d(CMD_TRANSFER_TO_HOST_3D, 1, 1, W, H);
	place(&k[1], &t1, 24);
	struct msg t2 = transfer_3d(CMD_TRANSFER_FROM_HOST_3D, 1, 1, W, H);
	place(&k[2], &t2, 24);
	struct msg f = rect_cmd(CMD_RESOURCE_FLUSH, W, H, 1, 0);
	place(&k[3], &f, 24);
	struct msg a = res_cmd(CMD_CTX_DETACH_RESOURCE, 1, 1);
	place(&k[4], &a, 24);
	a = res_cmd(CMD_CTX_ATTACH_RESOURCE, 1, 1);
	place(&k[4], &a, 24);
	struct msg g = hdr(CMD_GET_CAPSET, 0);
	p32(&g, cap_id);
	p32(&g, cap_ver);
	place(&k[5], &g, 24 + cap_size);

	printf("virtio-gpu 3D: device model vs virglrenderer (llvmpipe), %ux%u target, "
	       "%u rounds, median of %u runs\n",
	       W, H, rounds, runs);
	printf("%-18s %12s %14s %12s\n", "command", "model ns", "renderer ns", "model share");
	for (unsigned i = 0; i < NKINDS; i++) {
		double mo[MAXRUNS], re[MAXRUNS], sh[MAXRUNS];
		for (unsigned run = 0; run < runs; run++) {
			uint64_t total, ren;
			if (run_kind(&k[i], rounds, &total, &ren) != 0)
				goto out;
			double n = (double)rounds * k[i].nreq;
			mo[run] = (double)(total - ren) / n;
			re[run] = (double)ren / n;
			sh[run] = (double)(total - ren) / (double)total;
		}
		printf("%-18s %12.0f %14.0f %11.1f%%\n", k[i].name, median(mo, runs),
		       median(re, runs), 100.0 * median(sh, runs));
	}

	/* the renderer does the work: after a clear (red 1.0, green 0.5,
	 * blue 0.25) that is what the target holds */
	struct msg back = transfer_3d(CMD_TRANSFER_FROM_HOST_3D, 1, 1, W, H);
	if (send(&c1) != OK_NODATA || send(&back) != OK_NODATA) {
		fprintf(stderr, "FAIL: read-back\n");
		goto out;
	}
	const uint8_t *px = sim_ptr(&R.m, backing);
	if (px[2] != 255 || px[1] < 127 || px[1] > 128 || px[0] < 63 || px[0] > 64) {
		fprintf(stderr, "FAIL: target holds B,G,R %u,%u,%u, not the clear colour\n", px[0],
			px[1], px[2]);
		goto out;
	}
	if (updates == 0) {
		fprintf(stderr, "FAIL: the flushes reached no display\n");
		goto out;
	}
	status = 0;
out:
	if (R.up)
		gpu_virgl_set_device(&virgl, NULL);
	rig_down();
	gpu_virgl_fini(&virgl);
	return status;
}
