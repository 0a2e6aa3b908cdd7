/* SPDX-License-Identifier: MIT */
/*
 * The GPU display sinks of examples/backends, fed through their ops tables
 * with images built here (what the device model would hand them): the
 * PPM/PNG file sink writes exactly the scanout's pixels; the
 * vhost-user-gpu display-protocol sink frames its messages as QEMU reads
 * them, announces a scanout before any update, converts to x8r8g8b8, and
 * drops a channel whose peer misbehaves or goes away.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gpu_file.h"
#include "gpu_vugpu.h"
#include "vdev/gpu.h"

/* A 6x5 B8G8R8X8 image with 8 bytes of padding per row; pixel (x, y) has
 * B = x, G = y, R = 0x40 + x + 10 * y. */
#define IW 6u
#define IH 5u
#define ISTRIDE (IW * 4u + 8u)
static uint8_t pixels[ISTRIDE * IH];

static struct vdev_gpu_image make_image(void)
{
	for (uint32_t y = 0; y < IH; y++)
		for (uint32_t x = 0; x < IW; x++) {
			uint8_t *p = pixels + y * ISTRIDE + x * 4u;
			p[0] = (uint8_t)x, p[1] = (uint8_t)y, p[2] = (uint8_t)(0x40 + x + 10 * y), p[3] = 0x99;
		}
	return (struct vdev_gpu_image){.format = VDEV_GPU_FORMAT_B8G8R8X8_UNORM, .width = IW,
				       .height = IH, .stride = ISTRIDE, .size = sizeof(pixels),
				       .data = pixels};
}

/* Scanout 0 shows the 4x3 rectangle at (1, 1) of the image. */
static struct vdev_gpu_scanout make_scanout(const struct vdev_gpu_image *img)
{
	return (struct vdev_gpu_scanout){.enabled = true, .resource_id = 7, .width = 4, .height = 3,
					 .format = img->format, .src = {1, 1, 4, 3}, .image = img};
}

static uint8_t red(uint32_t x, uint32_t y) { return (uint8_t)(0x40 + x + 10 * y); }

Test(gpu_sinks, ppm_file_has_the_scanout_pixels)
{
	struct gpu_file_sink s;
	char dir[] = "/tmp/vdev-sink.XXXXXX", path[64], err[128];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/shot.ppm", dir);
	cr_assert_eq(gpu_file_sink_init(&s, path, GPU_FILE_PPM, 0, err, sizeof(err)), 0, "%s", err);
	struct vdev_gpu_image img = make_image();
	struct vdev_gpu_scanout sc = make_scanout(&img);
	struct vdev_gpu_rect all = {0, 0, 4, 3};
	gpu_file_sink_ops.scanout(&s, 0, &sc);
	gpu_file_sink_ops.update(&s, 0, &sc, &all);
	cr_expect_eq(s.writes, 1, "interval 0: written at once");

	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f);
	uint8_t buf[64];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	static const char hdr[] = "P6\n4 3\n255\n";
	cr_assert_eq(n, sizeof(hdr) - 1 + 4 * 3 * 3);
	cr_assert_arr_eq(buf, hdr, sizeof(hdr) - 1);
	const uint8_t *rgb = buf + sizeof(hdr) - 1;
	for (uint32_t y = 0; y < 3; y++)
		for (uint32_t x = 0; x < 4; x++) {
			const uint8_t *p = rgb + (y * 4 + x) * 3;
			cr_expect(p[0] == red(x + 1, y + 1) && p[1] == y + 1 && p[2] == x + 1,
				  "pixel (%u,%u) is %02x%02x%02x", x, y, p[0], p[1], p[2]);
		}
	/* a partial update within the interval is deferred to the timer */
	gpu_file_sink_destroy(&s);
	cr_assert_eq(gpu_file_sink_init(&s, path, GPU_FILE_PPM, 60000, err, sizeof(err)), 0);
	gpu_file_sink_ops.scanout(&s, 0, &sc);
	gpu_file_sink_ops.update(&s, 0, &sc, &all);
	gpu_file_sink_ops.update(&s, 0, &sc, &all);
	cr_expect_eq(s.writes, 1);
	cr_expect(s.timer_armed && s.frames[0].dirty);
	cr_expect_eq(gpu_file_sink_write_all(&s), 0);
	cr_expect_eq(s.writes, 2, "the final write");
	gpu_file_sink_destroy(&s);
	unlink(path);
	rmdir(dir);
}

Test(gpu_sinks, png_file_is_written)
{
	struct gpu_file_sink s;
	char dir[] = "/tmp/vdev-sink.XXXXXX", path[64], err[128];
	if (!gpu_file_png_supported())
		cr_skip_test("built without libpng");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/shot.png", dir);
	cr_assert_eq(gpu_file_sink_init(&s, path, GPU_FILE_PNG, 0, err, sizeof(err)), 0, "%s", err);
	struct vdev_gpu_image img = make_image();
	struct vdev_gpu_scanout sc = make_scanout(&img);
	struct vdev_gpu_rect r = {1, 1, 2, 2};
	gpu_file_sink_ops.scanout(&s, 0, &sc);
	gpu_file_sink_ops.update(&s, 0, &sc, &r);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f);
	uint8_t sig[8];
	cr_expect_eq(fread(sig, 1, 8, f), 8);
	fclose(f);
	cr_expect_arr_eq(sig, "\x89PNG\r\n\x1a\n", 8);
	gpu_file_sink_destroy(&s);
	unlink(path);
	rmdir(dir);
}

/* ---- the display channel ---- */

struct msg {
	uint32_t req, flags, size;
	uint8_t payload[256];
};

static bool next_msg(int fd, struct msg *m)
{
	struct pollfd p = {fd, POLLIN, 0};
	if (poll(&p, 1, 1000) != 1 || recv(fd, m, 12, MSG_WAITALL) != 12)
		return false;
	cr_assert_leq(m->size, sizeof(m->payload));
	return m->size == 0 || recv(fd, m->payload, m->size, MSG_WAITALL) == (ssize_t)m->size;
}

static uint32_t u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static int sv[2];
static struct gpu_vugpu_sink S;

static void chan_setup(void)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	gpu_vugpu_sink_init(&S, NULL, 1);
	gpu_vugpu_sink_set_socket(&S, sv[1]);
}

static void chan_teardown(void)
{
	gpu_vugpu_sink_destroy(&S);
	close(sv[0]);
}

Test(gpu_sinks, channel_negotiates_then_announces_and_updates, .init = chan_setup,
     .fini = chan_teardown)
{
	struct msg m;
	cr_assert(next_msg(sv[0], &m));
	cr_expect_eq(m.req, 1, "GET_PROTOCOL_FEATURES first");
	cr_expect_eq(m.size, 0);
	/* the front-end answers: EDID | DMABUF2 */
	/* (host byte order, as vhost-user is: a u64 payload, not two u32s) */
	uint8_t rep[20];
	uint32_t rh[3] = {1, 4, 8};
	uint64_t pf = 3;
	memcpy(rep, rh, sizeof(rh));
	memcpy(rep + 12, &pf, 8);
	cr_assert_eq(send(sv[0], rep, sizeof(rep), 0), (ssize_t)sizeof(rep));

	struct vdev_gpu_image img = make_image();
	struct vdev_gpu_scanout sc = make_scanout(&img);
	struct vdev_gpu_rect r = {1, 1, 2, 2};
	/* an update before any scanout op: the scanout is announced first */
	gpu_vugpu_sink_ops.update(&S, 0, &sc, &r);
	cr_assert(next_msg(sv[0], &m));
	cr_expect_eq(m.req, 2, "SET_PROTOCOL_FEATURES after the reply came");
	cr_expect_eq(m.size, 8);
	cr_expect(S.features_known && S.protocol_features == 3);
	cr_assert(next_msg(sv[0], &m));
	cr_expect_eq(m.req, 7, "SCANOUT");
	cr_expect(u32(m.payload) == 0 && u32(m.payload + 4) == 4 && u32(m.payload + 8) == 3);
	cr_assert(next_msg(sv[0], &m));
	cr_expect_eq(m.req, 8, "UPDATE");
	cr_assert_eq(m.size, 20 + 2 * 2 * 4);
	cr_expect(u32(m.payload) == 0 && u32(m.payload + 4) == 1 && u32(m.payload + 8) == 1 &&
		  u32(m.payload + 12) == 2 && u32(m.payload + 16) == 2);
	for (uint32_t y = 0; y < 2; y++)
		for (uint32_t x = 0; x < 2; x++) {
			const uint8_t *p = m.payload + 20 + (y * 2 + x) * 4;
			uint32_t ix = 1 + 1 + x, iy = 1 + 1 + y; /* src origin + rect origin */
			cr_expect(p[0] == ix && p[1] == iy && p[2] == red(ix, iy),
				  "x8r8g8b8 pixel (%u,%u)", x, y);
		}
	/* disabling sends SCANOUT 0x0; later updates of that size re-announce */
	struct vdev_gpu_scanout off = {.enabled = false};
	gpu_vugpu_sink_ops.scanout(&S, 0, &off);
	cr_assert(next_msg(sv[0], &m));
	cr_expect(m.req == 7 && u32(m.payload + 4) == 0 && u32(m.payload + 8) == 0);
	cr_expect_eq(S.failures, 0);
}

Test(gpu_sinks, channel_converts_other_formats, .init = chan_setup, .fini = chan_teardown)
{
	struct msg m;
	uint8_t rgba[4 * 4] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
			       0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00};
	struct vdev_gpu_image img = {.format = VDEV_GPU_FORMAT_R8G8B8A8_UNORM, .width = 2,
				     .height = 2, .stride = 8, .size = sizeof(rgba), .data = rgba};
	struct vdev_gpu_scanout sc = {.enabled = true, .resource_id = 1, .width = 2, .height = 2,
				      .format = img.format, .src = {0, 0, 2, 2}, .image = &img};
	struct vdev_gpu_rect all = {0, 0, 2, 2};
	cr_assert(next_msg(sv[0], &m)); /* GET_PROTOCOL_FEATURES */
	gpu_vugpu_sink_ops.scanout(&S, 0, &sc);
	gpu_vugpu_sink_ops.update(&S, 0, &sc, &all);
	cr_assert(next_msg(sv[0], &m));
	cr_assert(next_msg(sv[0], &m));
	cr_assert_eq(m.req, 8);
	/* R8G8B8A8 (R, G, B, A in memory) becomes B, G, R, X */
	cr_expect(m.payload[20] == 0x33 && m.payload[21] == 0x22 && m.payload[22] == 0x11);
	cr_expect(m.payload[28] == 0xbb && m.payload[29] == 0xaa && m.payload[30] == 0x99);
}

Test(gpu_sinks, channel_closed_on_an_oversized_reply, .init = chan_setup, .fini = chan_teardown)
{
	struct msg m;
	cr_assert(next_msg(sv[0], &m));
	uint32_t bad[3] = {1, 4, 100000};
	cr_assert_eq(send(sv[0], bad, sizeof(bad), 0), (ssize_t)sizeof(bad));
	struct vdev_gpu_image img = make_image();
	struct vdev_gpu_scanout sc = make_scanout(&img);
	gpu_vugpu_sink_ops.scanout(&S, 0, &sc);
	cr_expect_eq(S.fd, -1, "the channel is dropped");
	cr_expect_eq(S.failures, 1);
	/* later events are dropped quietly */
	struct vdev_gpu_rect all = {0, 0, 4, 3};
	gpu_vugpu_sink_ops.update(&S, 0, &sc, &all);
	cr_expect_eq(S.updates, 0);
}

Test(gpu_sinks, channel_peer_gone_is_not_a_failure, .init = chan_setup, .fini = chan_teardown)
{
	struct msg m;
	cr_assert(next_msg(sv[0], &m));
	close(sv[0]);
	sv[0] = socket(AF_UNIX, SOCK_STREAM, 0); /* something for teardown to close */
	struct vdev_gpu_image img = make_image();
	struct vdev_gpu_scanout sc = make_scanout(&img);
	gpu_vugpu_sink_ops.scanout(&S, 0, &sc);
	cr_expect_eq(S.fd, -1);
	cr_expect_eq(S.failures, 0);
}

Test(gpu_sinks, channel_ignores_scanouts_it_was_not_given, .init = chan_setup,
     .fini = chan_teardown)
{
	struct msg m;
	cr_assert(next_msg(sv[0], &m));
	struct vdev_gpu_image img = make_image();
	struct vdev_gpu_scanout sc = make_scanout(&img);
	gpu_vugpu_sink_ops.scanout(&S, 1, &sc); /* the sink was set up for 1 scanout */
	struct pollfd p = {sv[0], POLLIN, 0};
	cr_expect_eq(poll(&p, 1, 50), 0, "nothing sent for scanout 1");
}
