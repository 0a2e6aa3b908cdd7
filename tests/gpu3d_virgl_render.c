/* SPDX-License-Identifier: MIT */
/*
 * virtio-gpu 3D end to end without a guest: the device model with the real
 * virglrenderer adapter (examples/backends/gpu_virgl.c, EGL surfaceless on
 * Mesa's llvmpipe), driven through virtio-mmio by the driver simulator as
 * Linux's virtio-gpu driver and Mesa's virgl driver would:
 *
 *   GET_CAPSET_INFO / GET_CAPSET   virgl and virgl2 capsets, plausible
 *   CTX_CREATE (virgl2), RESOURCE_CREATE_3D of a 64x64 B8G8R8X8 render
 *   target, ATTACH_BACKING, CTX_ATTACH_RESOURCE
 *   SUBMIT_3D (fenced, a 64-bit fence id) of a hand-built virgl command
 *   stream: create a surface, bind it as the framebuffer, clear it
 *       -> the response is held until virglrenderer retires the fence
 *   SUBMIT_3D fenced on the context's ring 0 (context fence timeline)
 *   TRANSFER_FROM_HOST_3D into the guest's backing -> every pixel is the
 *       clear colour
 *   SET_SCANOUT + RESOURCE_FLUSH of the 3D resource -> the display sinks
 *       (a recording sink and the PPM file sink) get the clear colour
 *   teardown, then vdev_gpu_fini / gpu_virgl_fini with nothing left.
 *
 * With --thread-sync, virglrenderer runs its fence thread and the test
 * waits for its poll fd (as vhost-user-gpu --virgl does) before each
 * vdev_gpu_poll(); without, it polls every millisecond (the timer way).
 *
 * A plain program (not Criterion: it has to be able to skip). Exit 0 on
 * success, 1 on failure, 77 with "SKIPPED: <why>" if virglrenderer cannot
 * set up EGL on this host; with VDEV_REQUIRE_ALL=1 that is a failure.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu3d_rig.h"
#include "gpu_file.h"
#include "gpu_virgl.h"

#define W 64u
#define H 64u

/* the clear colour and what it is in B8G8R8X8 bytes */
#define CLEAR_R 1.0f
#define CLEAR_G 0.2f
#define CLEAR_B 0.6f
static const uint8_t want_bgr[3] = {153, 51, 255};

static int failures;
#define CHECK(cond, ...)                                                                 \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
			fprintf(stderr, __VA_ARGS__);                                    \
			fprintf(stderr, "\n");                                           \
			failures++;                                                      \
			goto out;                                                        \
		}                                                                        \
	} while (0)

/* ---- the renderer and the file sink beside the rig's device ---- */
static struct {
	struct gpu_virgl virgl;
	struct gpu_file_sink file;
	char ppm[256];
} T;

/* ---- the sink: records what a display would show, and feeds the file sink ---- */
static struct {
	int scanouts, updates, bad_pixels;
	uint8_t px[4]; /* pixel (0,0) of the last update */
} S;

static void check_image(const struct vdev_gpu_scanout *s, const struct vdev_gpu_rect *r)
{
	uint8_t row[W * 4];
	for (uint32_t y = r->y; y < r->y + r->height; y++) {
		if (r->width > W ||
		    vdev_gpu_image_read(s->image, s->src.x + r->x, s->src.y + y, r->width, row) !=
			    r->width) {
			S.bad_pixels++;
			continue;
		}
		for (uint32_t x = 0; x < r->width; x++)
			for (unsigned c = 0; c < 3; c++)
				if (abs((int)row[x * 4 + c] - (int)want_bgr[c]) > 1)
					S.bad_pixels++;
		if (y == r->y)
			memcpy(S.px, row, 4);
	}
}

static void k_scanout(void *o, uint32_t n, const struct vdev_gpu_scanout *s)
{
	(void)o;
	S.scanouts++;
	gpu_file_sink_ops.scanout(&T.file, n, s);
}

static void k_update(void *o, uint32_t n, const struct vdev_gpu_scanout *s,
		     const struct vdev_gpu_rect *r)
{
	(void)o;
	S.updates++;
	check_image(s, r);
	gpu_file_sink_ops.update(&T.file, n, s, r);
}

static const struct vdev_gpu_sink_ops sink_ops = {
	.size = sizeof(struct vdev_gpu_sink_ops), .scanout = k_scanout, .update = k_update};

static struct vdev_gpu_stats stats(void)
{
	struct vdev_gpu_stats s;
	vdev_gpu_get_stats(&R.gpu, &s);
	return s;
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

int main(int argc, char **argv)
{
	char eb[512];
	struct gpu_virgl_config vc = {.software = true};
	bool thread_sync = argc > 1 && strcmp(argv[1], "--thread-sync") == 0;
	struct resp r;
	struct msg m;
	struct pend p;
	uint64_t backing = 0;
	bool gpu_up = false, virgl_up = false, file_up = false;
	int rc;

	setvbuf(stdout, NULL, _IONBF, 0);
	vc.thread_sync = thread_sync;
	if (gpu_virgl_init(&T.virgl, &vc, eb, sizeof(eb)) != 0)
		return skip_or_fail(eb);
	virgl_up = true;
	printf("virglrenderer up: %u capsets, fences by %s\n", T.virgl.num_capsets,
	       gpu_virgl_poll_fd(&T.virgl) >= 0 ? "its poll fd" : "polling");
	CHECK(!thread_sync || gpu_virgl_poll_fd(&T.virgl) >= 0, "THREAD_SYNC gives a poll fd");

	const char *tmp = getenv("TMPDIR");
	snprintf(T.ppm, sizeof(T.ppm), "%s/gpu3d_virgl_render-%d.ppm", tmp ? tmp : "/tmp",
		 (int)getpid());
	CHECK(gpu_file_sink_init(&T.file, T.ppm, GPU_FILE_PPM, 0, eb, sizeof(eb)) == 0, "%s", eb);
	file_up = true;

	const char *why = rig_up(&gpu_virgl_renderer_ops, &T.virgl, &sink_ops, NULL, W, H,
				 gpu_virgl_poll_fd(&T.virgl));
	gpu_up = R.up;
	CHECK(why == NULL, "%s", why);
	gpu_virgl_set_device(&T.virgl, &R.gpu);
	CHECK(R.neg & VDEV_BIT(VDEV_GPU_F_VIRGL), "VIRGL negotiated");
	CHECK(R.neg & VDEV_BIT(VDEV_GPU_F_CONTEXT_INIT), "CONTEXT_INIT negotiated");
	uint32_t cfg[5];
	CHECK(drv_virtio_config_read(&R.tr, 0, cfg, sizeof(cfg)) == 0, "config");
	CHECK(cfg[3] >= 1, "num_capsets %u", cfg[3]);
	printf("num_capsets %u\n", cfg[3]);

	/* ---- capsets ---- */
	bool seen_virgl = false;
	for (uint32_t i = 0; i < cfg[3]; i++) {
		m = hdr(CMD_GET_CAPSET_INFO, 0);
		p32(&m, i);
		p32(&m, 0);
		r = sendr(&m, 40);
		CHECK(r.type == OK_CAPSET_INFO, "GET_CAPSET_INFO %u: 0x%x", i, r.type);
		uint32_t id = rd32(r.d + 24), ver = rd32(r.d + 28), size = rd32(r.d + 32);
		printf("capset %u: id %u max_version %u max_size %u\n", i, id, ver, size);
		CHECK(id == CAPSET_VIRGL || id == CAPSET_VIRGL2, "capset id %u", id);
		CHECK(ver >= 1 && size >= 4u * (1 + 4 * 16 + 2), "plausible version/size");
		m = hdr(CMD_GET_CAPSET, 0);
		p32(&m, id);
		p32(&m, ver);
		r = sendr(&m, 24 + size);
		CHECK(r.type == OK_CAPSET && r.used == 24 + size, "GET_CAPSET %u: 0x%x used %u", id,
		      r.type, r.used);
		/* struct virgl_caps_v1/v2: max_version, sampler / render /
		 * depthstencil / vertexbuffer format masks (16 dwords each),
		 * bool set, glsl_level ... */
		const uint8_t *caps = r.d + 24;
		uint32_t max_version = rd32(caps);
		uint32_t render0 = rd32(caps + 4 * (1 + 16));
		uint32_t glsl = rd32(caps + 4 * (1 + 64 + 1));
		printf("  caps: max_version %u, glsl_level %u, render formats[0] 0x%08x\n",
		       max_version, glsl, render0);
		CHECK(max_version >= 1, "caps max_version");
		CHECK(glsl >= 130 && glsl <= 1000, "glsl_level %u", glsl);
		CHECK(render0 & (1u << VIRGL_FORMAT_B8G8R8X8_UNORM), "B8G8R8X8 renderable");
		seen_virgl |= id == CAPSET_VIRGL;
	}
	CHECK(seen_virgl, "the virgl capset is listed");

	/* ---- context, render target, backing ---- */
	m = hdr(CMD_CTX_CREATE, 1);
	p32(&m, 7);
	p32(&m, CAPSET_VIRGL2); /* context_init */
	memcpy(m.d + m.n, "gpu3d-t", 7);
	m.n += 64;
	CHECK((rc = (int)send(&m)) == OK_NODATA, "CTX_CREATE: 0x%x", (unsigned)rc);

	m = create_3d(1, W, H);
	CHECK((rc = (int)send(&m)) == OK_NODATA, "RESOURCE_CREATE_3D: 0x%x", (unsigned)rc);

	backing = sim_alloc(&R.m, W * H * 4, 4096);
	memset(sim_ptr(&R.m, backing), 0xcc, W * H * 4);
	m = hdr(CMD_RESOURCE_ATTACH_BACKING, 0);
	p32(&m, 1);
	p32(&m, 1);
	p64(&m, backing);
	p32(&m, W * H * 4);
	p32(&m, 0);
	CHECK((rc = (int)send(&m)) == OK_NODATA, "ATTACH_BACKING: 0x%x", (unsigned)rc);

	m = res_cmd(CMD_CTX_ATTACH_RESOURCE, 1, 1);
	CHECK((rc = (int)send(&m)) == OK_NODATA, "CTX_ATTACH_RESOURCE: 0x%x", (unsigned)rc);

	/* ---- the clear, fenced on the device-wide timeline with an id
	 * above 32 bits: held until virglrenderer retires it ---- */
	const uint64_t fence1 = 0x100000005ull;
	m = clear_submit(1, 1, 1, FLAG_FENCE, fence1, 0, CLEAR_R, CLEAR_G, CLEAR_B);
	add(&m, 24, &p);
	CHECK(used(&r) == NULL, "fenced SUBMIT_3D answered before its fence retired");
	CHECK(stats().fences_pending == 1, "one fence held");
	CHECK(T.virgl.stats.fences_created == 1 && T.virgl.stats.fences_retired == 0,
	      "fence created, not retired");
	CHECK(wait_answer(&p, &r), "fenced SUBMIT_3D answered after polling");
	CHECK(T.virgl.stats.fences_retired == 1, "answered after the fence retired");
	CHECK(r.type == OK_NODATA, "SUBMIT_3D: 0x%x", r.type);
	CHECK((r.flags & FLAG_FENCE) && r.fence == fence1, "fence echoed: flags %u id 0x%llx",
	      r.flags, (unsigned long long)r.fence);
	CHECK(stats().fences_pending == 0 && stats().submits == 1, "nothing held");
	printf("clear submitted; fence 0x%llx retired and answered\n",
	       (unsigned long long)fence1);

	/* ---- the same on the context's ring 0 (write_context_fence) ---- */
	const uint64_t fence2 = 0x200000001ull;
	m = clear_submit(1, 1, 2, FLAG_FENCE | FLAG_RING_IDX, fence2, 0, CLEAR_R, CLEAR_G, CLEAR_B);
	add(&m, 24, &p);
	CHECK(used(&r) == NULL, "ring fence answered before it retired");
	CHECK(wait_answer(&p, &r), "ring-fenced SUBMIT_3D answered after polling");
	CHECK(r.type == OK_NODATA && r.fence == fence2 && r.ctx == 1 &&
		      (r.flags & (FLAG_FENCE | FLAG_RING_IDX)) == (FLAG_FENCE | FLAG_RING_IDX),
	      "ring fence echoed: type 0x%x flags %u", r.type, r.flags);
	CHECK(T.virgl.stats.fences_retired == 2, "context fence retired");

	/* ---- read the render target back into the guest's backing ---- */
	m = transfer_3d(CMD_TRANSFER_FROM_HOST_3D, 1, 1, W, H);
	CHECK((rc = (int)send(&m)) == OK_NODATA, "TRANSFER_FROM_HOST_3D: 0x%x", (unsigned)rc);
	const uint8_t *px = sim_ptr(&R.m, backing);
	unsigned bad = 0;
	for (uint32_t i = 0; i < W * H; i++)
		for (unsigned ch = 0; ch < 3; ch++)
			bad += abs((int)px[i * 4 + ch] - (int)want_bgr[ch]) > 1;
	printf("pixel check (TRANSFER_FROM_HOST_3D): %ux%u pixels, first B,G,R,X = "
	       "%u,%u,%u,%u, want %u,%u,%u,*: %u bad channels\n",
	       W, H, px[0], px[1], px[2], px[3], want_bgr[0], want_bgr[1], want_bgr[2], bad);
	CHECK(bad == 0, "%u channels differ from the clear colour", bad);

	/* ---- scanout of the 3D resource: the sinks see the clear colour ---- */
	m = rect_cmd(CMD_SET_SCANOUT, W, H, 0, 1); /* scanout 0 shows resource 1 */
	CHECK((rc = (int)send(&m)) == OK_NODATA, "SET_SCANOUT: 0x%x", (unsigned)rc);
	m = rect_cmd(CMD_RESOURCE_FLUSH, W, H, 1, 0);
	CHECK((rc = (int)send(&m)) == OK_NODATA, "RESOURCE_FLUSH: 0x%x", (unsigned)rc);
	CHECK(S.scanouts >= 1 && S.updates == 1, "sink saw %d scanouts, %d updates", S.scanouts,
	      S.updates);
	CHECK(S.bad_pixels == 0, "sink: %d bad pixels", S.bad_pixels);
	CHECK(gpu_file_sink_write_all(&T.file) == 0, "%s", T.file.last_error);
	{
		FILE *f = fopen(T.ppm, "rb");
		char magic[3] = "";
		unsigned fw = 0, fh = 0, maxv = 0;
		uint8_t rgb[3] = {0, 0, 0};
		CHECK(f != NULL, "open %s", T.ppm);
		int ok = fscanf(f, "%2s %u %u %u", magic, &fw, &fh, &maxv) == 4 &&
			 fgetc(f) != EOF && fread(rgb, 1, 3, f) == 3;
		fclose(f);
		CHECK(ok && strcmp(magic, "P6") == 0 && fw == W && fh == H, "PPM header");
		printf("display sinks: %d updates, PPM %ux%u first pixel R,G,B = %u,%u,%u\n",
		       S.updates, fw, fh, rgb[0], rgb[1], rgb[2]);
		CHECK(abs(rgb[0] - want_bgr[2]) <= 1 && abs(rgb[1] - want_bgr[1]) <= 1 &&
			      abs(rgb[2] - want_bgr[0]) <= 1,
		      "PPM pixel");
	}
	CHECK(T.virgl.stats.reads >= 1, "read_rect used");

	/* ---- teardown through the guest's commands ---- */
	m = hdr(CMD_SET_SCANOUT, 0);
	for (int i = 0; i < 6; i++)
		p32(&m, 0);
	CHECK(send(&m) == OK_NODATA, "SET_SCANOUT off");
	m = res_cmd(CMD_CTX_DETACH_RESOURCE, 1, 1);
	CHECK(send(&m) == OK_NODATA, "CTX_DETACH_RESOURCE");
	m = res_cmd(CMD_RESOURCE_DETACH_BACKING, 0, 1);
	CHECK(send(&m) == OK_NODATA, "DETACH_BACKING");
	m = res_cmd(CMD_RESOURCE_UNREF, 0, 1);
	CHECK(send(&m) == OK_NODATA, "RESOURCE_UNREF");
	m = hdr(CMD_CTX_DESTROY, 1);
	CHECK(send(&m) == OK_NODATA, "CTX_DESTROY");
	CHECK(stats().resources == 0 && stats().renderer_bytes == 0, "nothing left");

out:
	if (gpu_up)
		gpu_virgl_set_device(&T.virgl, NULL);
	rig_down();
	if (virgl_up)
		gpu_virgl_fini(&T.virgl);
	if (file_up) {
		gpu_file_sink_destroy(&T.file);
		unlink(T.ppm);
	}
	if (failures == 0)
		printf("PASS\n");
	return failures == 0 ? 0 : 1;
}
