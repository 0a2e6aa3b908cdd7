/* SPDX-License-Identifier: MIT */
/*
 * vhost-user-gpu display-protocol sink (see gpu_vugpu.h). Written from
 * QEMU's docs/interop/vhost-user-gpu.rst: every message is a header of
 * three native-endian u32 (request, flags, payload size) and the payload;
 * bit 2 of flags marks a reply.
 */
#include "gpu_vugpu.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

enum {
	VUGPU_GET_PROTOCOL_FEATURES = 1,
	VUGPU_SET_PROTOCOL_FEATURES = 2,
	VUGPU_GET_DISPLAY_INFO = 3,
	VUGPU_CURSOR_POS = 4,
	VUGPU_CURSOR_POS_HIDE = 5,
	VUGPU_CURSOR_UPDATE = 6,
	VUGPU_SCANOUT = 7,
	VUGPU_UPDATE = 8,
};
#define VUGPU_FLAG_REPLY 0x4u
#define VUGPU_HDR 12u
#define VUGPU_UPDATE_HDR 20u          /* scanout_id, x, y, width, height */
#define VUGPU_CURSOR_BYTES (64u * 64u * 4u)
#define VUGPU_MAX_REPLY 64u           /* the replies we ask for are 8 bytes */
#define VUGPU_BAND_BYTES (4u << 20)   /* largest UPDATE payload we build */
/* Protocol features we would use: none (EDID and DMABUF2 are not needed). */
#define VUGPU_OUR_PROTOCOL_FEATURES 0ull

static void logf_(struct gpu_vugpu_sink *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void logf_(struct gpu_vugpu_sink *s, const char *fmt, ...)
{
	char b[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (s->log != NULL)
		s->log(s->log_opaque, b);
	else
		fprintf(stderr, "vhost-user-gpu display: %s\n", b);
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static void fail(struct gpu_vugpu_sink *s, const char *why)
{
	if (s->fd < 0)
		return;
	logf_(s, "closing the display channel: %s", why);
	s->failures++;
	gpu_vugpu_sink_close(s);
}

/* The front-end closed the channel (it stops the device, or resets it). */
static void peer_closed(struct gpu_vugpu_sink *s)
{
	if (s->fd >= 0)
		logf_(s, "the front-end closed the display channel");
	gpu_vugpu_sink_close(s);
}

static bool ensure(uint8_t **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return true;
	uint8_t *n = realloc(*p, need);
	if (n == NULL)
		return false;
	*p = n;
	*cap = need;
	return true;
}

/* Send `len` bytes as they are (header included). */
static bool raw_send(struct gpu_vugpu_sink *s, const void *b, size_t len)
{
	size_t off = 0;

	while (off < len && s->fd >= 0) {
		ssize_t w = send(s->fd, (const uint8_t *)b + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
				peer_closed(s);
			else
				fail(s, errno == EAGAIN ? "the front-end does not read (2 s)"
							: strerror(errno));
			return false;
		}
		off += (size_t)w;
	}
	return s->fd >= 0;
}

static void reply_received(struct gpu_vugpu_sink *s, uint32_t req, uint32_t flags,
			   const uint8_t *p, uint32_t size)
{
	if (!(flags & VUGPU_FLAG_REPLY))
		return; /* the front-end sends no requests of its own we know */
	if (req == VUGPU_GET_PROTOCOL_FEATURES && size == 8 && !s->features_known) {
		uint8_t m[VUGPU_HDR + 8];
		uint64_t ours;
		memcpy(&s->protocol_features, p, 8);
		s->features_known = true;
		ours = s->protocol_features & VUGPU_OUR_PROTOCOL_FEATURES;
		put32(m, VUGPU_SET_PROTOCOL_FEATURES);
		put32(m + 4, 0);
		put32(m + 8, 8);
		memcpy(m + VUGPU_HDR, &ours, 8);
		(void)raw_send(s, m, sizeof(m));
	}
}

/* Read what the front-end sent, without waiting. */
static void drain_replies(struct gpu_vugpu_sink *s)
{
	while (s->fd >= 0) {
		size_t want = VUGPU_HDR;
		uint32_t size = 0;
		if (s->rx_len >= VUGPU_HDR) {
			memcpy(&size, s->rx + 8, 4);
			if (size > VUGPU_MAX_REPLY) {
				fail(s, "oversized message from the front-end");
				return;
			}
			want = VUGPU_HDR + size;
		}
		if (s->rx_len == want) {
			uint32_t req, flags;
			memcpy(&req, s->rx, 4);
			memcpy(&flags, s->rx + 4, 4);
			s->rx_len = 0;
			reply_received(s, req, flags, s->rx + VUGPU_HDR, size);
			continue;
		}
		ssize_t r = recv(s->fd, s->rx + s->rx_len, want - s->rx_len, MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r == 0) {
			peer_closed(s);
			return;
		}
		if (r < 0) {
			fail(s, strerror(errno));
			return;
		}
		s->rx_len += (size_t)r;
	}
}

/* The message buffer with room for `payload` bytes after the header. */
static uint8_t *msg_begin(struct gpu_vugpu_sink *s, uint32_t req, uint32_t payload)
{
	if (!ensure(&s->buf, &s->buf_cap, VUGPU_HDR + (size_t)payload)) {
		fail(s, "out of memory");
		return NULL;
	}
	put32(s->buf, req);
	put32(s->buf + 4, 0);
	put32(s->buf + 8, payload);
	return s->buf + VUGPU_HDR;
}

static bool msg_send(struct gpu_vugpu_sink *s)
{
	uint32_t size;

	memcpy(&size, s->buf + 8, 4);
	drain_replies(s);
	return s->fd >= 0 && raw_send(s, s->buf, VUGPU_HDR + (size_t)size);
}

/* ---- the sink ops ---- */

static void v_scanout(void *opaque, uint32_t n, const struct vdev_gpu_scanout *sc)
{
	struct gpu_vugpu_sink *s = opaque;
	uint8_t *p;

	if (s->fd < 0 || n >= s->num_scanouts)
		return;
	uint32_t w = sc->enabled ? sc->width : 0, h = sc->enabled ? sc->height : 0;
	if ((p = msg_begin(s, VUGPU_SCANOUT, 12)) == NULL)
		return;
	put32(p, n);
	put32(p + 4, w);
	put32(p + 8, h);
	if (msg_send(s)) {
		s->shown_w[n] = w;
		s->shown_h[n] = h;
		s->scanouts++;
	}
}

/* Pixels of rows [y0, y0 + rows) x [x, x + w) as x8r8g8b8 at out. */
static bool read_rows(struct gpu_vugpu_sink *s, const struct vdev_gpu_scanout *sc, uint32_t x,
		      uint32_t y0, uint32_t w, uint32_t rows, uint8_t *out)
{
	const struct vdev_gpu_image *img = sc->image;
	/* B8G8R8X8 / B8G8R8A8 are x8r8g8b8 in memory already (little-endian) */
	bool direct = img->format == VDEV_GPU_FORMAT_B8G8R8X8_UNORM ||
		      img->format == VDEV_GPU_FORMAT_B8G8R8A8_UNORM;

	if (!direct && !ensure(&s->row, &s->row_cap, (size_t)w * 8u))
		return false;
	for (uint32_t dy = 0; dy < rows; dy++) {
		uint8_t *o = out + (size_t)dy * w * 4u;
		uint32_t ix = sc->src.x + x, iy = sc->src.y + y0 + dy;
		if (direct) {
			if (vdev_gpu_image_read(img, ix, iy, w, o) != w)
				return false;
			continue;
		}
		uint8_t *rgba = s->row + (size_t)w * 4u;
		if (vdev_gpu_image_read(img, ix, iy, w, s->row) != w ||
		    vdev_gpu_to_rgba(img->format, s->row, rgba, w) != 0)
			return false;
		for (uint32_t i = 0; i < w; i++) {
			o[i * 4u] = rgba[i * 4u + 2];
			o[i * 4u + 1] = rgba[i * 4u + 1];
			o[i * 4u + 2] = rgba[i * 4u];
			o[i * 4u + 3] = 0xff;
		}
	}
	return true;
}

static void v_update(void *opaque, uint32_t n, const struct vdev_gpu_scanout *sc,
		     const struct vdev_gpu_rect *r)
{
	struct gpu_vugpu_sink *s = opaque;

	if (s->fd < 0 || n >= s->num_scanouts || !sc->enabled || sc->image == NULL)
		return;
	if (s->shown_w[n] != sc->width || s->shown_h[n] != sc->height)
		v_scanout(s, n, sc); /* QEMU has no surface of this size yet */
	if (s->fd < 0 || s->shown_w[n] == 0)
		return;
	/* clip to what the front-end was told */
	if (r->x >= s->shown_w[n] || r->y >= s->shown_h[n])
		return;
	uint32_t w = r->width < s->shown_w[n] - r->x ? r->width : s->shown_w[n] - r->x;
	uint32_t h = r->height < s->shown_h[n] - r->y ? r->height : s->shown_h[n] - r->y;
	if (w == 0 || h == 0)
		return;
	uint32_t band = VUGPU_BAND_BYTES / (w * 4u);
	if (band == 0)
		band = 1;
	for (uint32_t y = 0; y < h && s->fd >= 0; y += band) {
		uint32_t rows = h - y < band ? h - y : band;
		uint32_t bytes = rows * w * 4u;
		uint8_t *p = msg_begin(s, VUGPU_UPDATE, VUGPU_UPDATE_HDR + bytes);
		if (p == NULL)
			return;
		put32(p, n);
		put32(p + 4, r->x);
		put32(p + 8, r->y + y);
		put32(p + 12, w);
		put32(p + 16, rows);
		if (!read_rows(s, sc, r->x, r->y + y, w, rows, p + VUGPU_UPDATE_HDR)) {
			logf_(s, "scanout %u: pixels not readable; update dropped", n);
			return;
		}
		if (msg_send(s)) {
			s->updates++;
			s->update_bytes += bytes;
		}
	}
}

static void cursor_pos(struct gpu_vugpu_sink *s, uint32_t req, const struct vdev_gpu_cursor *c)
{
	uint8_t *p = msg_begin(s, req, 12);

	if (p == NULL)
		return;
	put32(p, c->scanout);
	put32(p + 4, c->x);
	put32(p + 8, c->y);
	if (msg_send(s))
		s->cursors++;
}

static void v_cursor(void *opaque, const struct vdev_gpu_cursor *c)
{
	struct gpu_vugpu_sink *s = opaque;
	const struct vdev_gpu_image *img = c->image;
	uint8_t *p;

	if (s->fd < 0 || c->scanout >= s->num_scanouts)
		return;
	if (img == NULL || img->width < 64 || img->height < 64) {
		cursor_pos(s, VUGPU_CURSOR_POS_HIDE, c);
		return;
	}
	if (!ensure(&s->row, &s->row_cap, 64u * 8u) ||
	    (p = msg_begin(s, VUGPU_CURSOR_UPDATE, 20 + VUGPU_CURSOR_BYTES)) == NULL)
		return;
	put32(p, c->scanout);
	put32(p + 4, c->x);
	put32(p + 8, c->y);
	put32(p + 12, c->hot_x);
	put32(p + 16, c->hot_y);
	uint8_t *o = p + 20, *rgba = s->row + 64u * 4u;
	for (uint32_t y = 0; y < 64; y++, o += 256) {
		if (vdev_gpu_image_read(img, 0, y, 64, s->row) != 64 ||
		    vdev_gpu_to_rgba(img->format, s->row, rgba, 64) != 0) {
			memset(o, 0, 256); /* transparent */
			continue;
		}
		for (uint32_t i = 0; i < 64; i++) { /* a8r8g8b8: B, G, R, A in memory */
			o[i * 4u] = rgba[i * 4u + 2];
			o[i * 4u + 1] = rgba[i * 4u + 1];
			o[i * 4u + 2] = rgba[i * 4u];
			o[i * 4u + 3] = rgba[i * 4u + 3];
		}
	}
	if (msg_send(s))
		s->cursors++;
}

static void v_cursor_move(void *opaque, const struct vdev_gpu_cursor *c)
{
	struct gpu_vugpu_sink *s = opaque;

	if (s->fd >= 0 && c->scanout < s->num_scanouts)
		cursor_pos(s, VUGPU_CURSOR_POS, c);
}

const struct vdev_gpu_sink_ops gpu_vugpu_sink_ops = {
	.size = sizeof(struct vdev_gpu_sink_ops),
	.scanout = v_scanout,
	.update = v_update,
	.cursor = v_cursor,
	.cursor_move = v_cursor_move,
};

/* ---- the channel ---- */

void gpu_vugpu_sink_init(struct gpu_vugpu_sink *s, struct vdev_gpu *gpu, uint32_t num_scanouts)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->gpu = gpu;
	s->num_scanouts = num_scanouts < VDEV_GPU_MAX_SCANOUTS ? num_scanouts
								: VDEV_GPU_MAX_SCANOUTS;
}

void gpu_vugpu_sink_close(struct gpu_vugpu_sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->rx_len = 0;
	s->features_known = false;
	memset(s->shown_w, 0, sizeof(s->shown_w));
	memset(s->shown_h, 0, sizeof(s->shown_h));
}

void gpu_vugpu_sink_destroy(struct gpu_vugpu_sink *s)
{
	gpu_vugpu_sink_close(s);
	free(s->buf);
	free(s->row);
	s->buf = s->row = NULL;
	s->buf_cap = s->row_cap = 0;
}

void gpu_vugpu_sink_set_socket(struct gpu_vugpu_sink *s, int fd)
{
	struct timeval tv = {2, 0};
	int sndbuf = 4 << 20;
	uint8_t *p;

	gpu_vugpu_sink_close(s);
	s->fd = fd;
	s->channels++;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if ((p = msg_begin(s, VUGPU_GET_PROTOCOL_FEATURES, 0)) == NULL || !msg_send(s))
		return;
	/* a front-end that comes late (or again) gets what is on screen now */
	for (uint32_t i = 0; i < s->num_scanouts && s->gpu != NULL && s->fd >= 0; i++) {
		struct vdev_gpu_scanout sc;
		struct vdev_gpu_image img;
		if (vdev_gpu_scanout_state(s->gpu, i, &sc, &img) != 0 || !sc.enabled)
			continue;
		struct vdev_gpu_rect all = {0, 0, sc.width, sc.height};
		v_scanout(s, i, &sc);
		if (sc.image != NULL && sc.width > 0 && sc.height > 0)
			v_update(s, i, &sc, &all);
	}
}
