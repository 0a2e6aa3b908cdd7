/* SPDX-License-Identifier: MIT */
/*
 * PNG / PPM display sink for the virtio-gpu device model (see gpu_file.h).
 */
#include "gpu_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#ifdef VDEV_HAVE_LIBPNG
#include <png.h>
#endif

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool gpu_file_png_supported(void)
{
#ifdef VDEV_HAVE_LIBPNG
	return true;
#else
	return false;
#endif
}

/* PATH for scanout 0, PATH with "-N" before the extension for N > 0. */
static void scanout_path(const struct gpu_file_sink *s, uint32_t n, char *out, size_t len)
{
	const char *slash = strrchr(s->path, '/');
	const char *dot = strrchr(s->path, '.');

	if (n == 0) {
		snprintf(out, len, "%s", s->path);
		return;
	}
	if (dot == NULL || (slash != NULL && dot < slash))
		dot = s->path + strlen(s->path);
	snprintf(out, len, "%.*s-%u%s", (int)(dot - s->path), s->path, n, dot);
}

static int write_ppm(FILE *f, const struct gpu_file_frame *fr)
{
	if (fprintf(f, "P6\n%u %u\n255\n", fr->width, fr->height) < 0)
		return -1;
	size_t n = (size_t)fr->width * fr->height * 3u;
	return fwrite(fr->rgb, 1, n, f) == n ? 0 : -1;
}

#ifdef VDEV_HAVE_LIBPNG
static int write_png(FILE *f, const struct gpu_file_frame *fr)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png ? png_create_info_struct(png) : NULL;

	if (info == NULL) {
		png_destroy_write_struct(&png, NULL);
		return -1;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		return -1;
	}
	png_init_io(png, f);
	png_set_compression_level(png, 3); /* a frame every few hundred ms: speed first */
	png_set_IHDR(png, info, fr->width, fr->height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (uint32_t y = 0; y < fr->height; y++)
		png_write_row(png, fr->rgb + (size_t)y * fr->width * 3u);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	return 0;
}
#endif

static int write_frame(struct gpu_file_sink *s, uint32_t n)
{
	struct gpu_file_frame *fr = &s->frames[n];
	char path[sizeof(s->path) + 16], tmp[sizeof(s->path) + 24];
	FILE *f;
	int rc;

	if (fr->rgb == NULL)
		return 0;
	scanout_path(s, n, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (f == NULL) {
		snprintf(s->last_error, sizeof(s->last_error), "%.200s: %.40s", tmp, strerror(errno));
		s->write_errors++;
		return -1;
	}
#ifdef VDEV_HAVE_LIBPNG
	rc = s->format == GPU_FILE_PNG ? write_png(f, fr) : write_ppm(f, fr);
#else
	rc = write_ppm(f, fr);
#endif
	if (fclose(f) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc != 0) {
		snprintf(s->last_error, sizeof(s->last_error), "cannot write %.200s", path);
		unlink(tmp);
		s->write_errors++;
		return -1;
	}
	fr->dirty = false;
	fr->last_write = now_ms();
	s->writes++;
	return 0;
}

int gpu_file_sink_init(struct gpu_file_sink *s, const char *path, enum gpu_file_format format,
		       unsigned interval_ms, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->timer_fd = -1;
	if (format == GPU_FILE_PNG && !gpu_file_png_supported()) {
		snprintf(err, errlen, "built without libpng: PNG output is not available");
		return -1;
	}
	if (strlen(path) >= sizeof(s->path) - 16) {
		snprintf(err, errlen, "file name too long");
		return -1;
	}
	strcpy(s->path, path);
	s->format = format;
	s->interval_ms = interval_ms;
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer_fd < 0) {
		snprintf(err, errlen, "timerfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void gpu_file_sink_destroy(struct gpu_file_sink *s)
{
	for (unsigned i = 0; i < VDEV_GPU_MAX_SCANOUTS; i++)
		free(s->frames[i].rgb);
	free(s->row);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	memset(s, 0, sizeof(*s));
	s->timer_fd = -1;
}

int gpu_file_sink_write_all(struct gpu_file_sink *s)
{
	int rc = 0;

	for (uint32_t i = 0; i < VDEV_GPU_MAX_SCANOUTS; i++)
		if (s->frames[i].dirty && write_frame(s, i) != 0)
			rc = -1;
	return rc;
}

/* Write the scanouts whose interval is over; re-arm for the others. */
static void write_due(struct gpu_file_sink *s)
{
	uint64_t now = now_ms(), next = 0;

	for (uint32_t i = 0; i < VDEV_GPU_MAX_SCANOUTS; i++) {
		struct gpu_file_frame *fr = &s->frames[i];
		if (!fr->dirty)
			continue;
		uint64_t due = fr->last_write + s->interval_ms;
		if (fr->last_write == 0 || now >= due)
			(void)write_frame(s, i);
		else if (next == 0 || due < next)
			next = due;
	}
	if (next != 0 && !s->timer_armed) {
		uint64_t d = next - now;
		struct itimerspec its = {.it_value = {(time_t)(d / 1000u), (long)(d % 1000u) * 1000000L}};
		if (timerfd_settime(s->timer_fd, 0, &its, NULL) == 0)
			s->timer_armed = true;
	}
}

void gpu_file_sink_on_timer(struct gpu_file_sink *s)
{
	uint64_t expirations;

	(void)!read(s->timer_fd, &expirations, sizeof(expirations));
	s->timer_armed = false;
	write_due(s);
}

/* ---- the sink ops ---- */

static void f_scanout(void *opaque, uint32_t n, const struct vdev_gpu_scanout *sc)
{
	struct gpu_file_sink *s = opaque;
	struct gpu_file_frame *fr;

	if (n >= VDEV_GPU_MAX_SCANOUTS || !sc->enabled)
		return; /* disabled: the file keeps the last frame */
	fr = &s->frames[n];
	if (fr->rgb == NULL || fr->width != sc->width || fr->height != sc->height) {
		size_t bytes = (size_t)sc->width * sc->height * 3u;
		uint8_t *p = calloc(1, bytes ? bytes : 1);
		if (p == NULL) {
			s->read_errors++;
			return;
		}
		free(fr->rgb);
		fr->rgb = p;
		fr->width = sc->width;
		fr->height = sc->height;
	}
	size_t need = (size_t)sc->width * 8u; /* the row in its format, then as RGBA */
	if (need > s->row_cap) {
		uint8_t *r = realloc(s->row, need);
		if (r == NULL) {
			s->read_errors++;
			return;
		}
		s->row = r;
		s->row_cap = need;
	}
}

static void f_update(void *opaque, uint32_t n, const struct vdev_gpu_scanout *sc,
		     const struct vdev_gpu_rect *r)
{
	struct gpu_file_sink *s = opaque;
	struct gpu_file_frame *fr;

	if (n >= VDEV_GPU_MAX_SCANOUTS || !sc->enabled || sc->image == NULL)
		return;
	fr = &s->frames[n];
	/* the core promises rect inside the scanout; check against our copy */
	if (fr->rgb == NULL || fr->width != sc->width || fr->height != sc->height ||
	    (uint64_t)r->x + r->width > fr->width || (uint64_t)r->y + r->height > fr->height ||
	    (size_t)r->width * 8u > s->row_cap) {
		s->read_errors++;
		return;
	}
	uint8_t *raw = s->row, *rgba = s->row + (size_t)r->width * 4u;
	for (uint32_t dy = 0; dy < r->height; dy++) {
		uint8_t *out = fr->rgb + ((size_t)(r->y + dy) * fr->width + r->x) * 3u;
		if (vdev_gpu_image_read(sc->image, sc->src.x + r->x, sc->src.y + r->y + dy, r->width,
					raw) != r->width ||
		    vdev_gpu_to_rgba(sc->image->format, raw, rgba, r->width) != 0) {
			s->read_errors++;
			memset(out, 0, (size_t)r->width * 3u);
			continue;
		}
		for (uint32_t x = 0; x < r->width; x++)
			memcpy(out + x * 3u, rgba + x * 4u, 3);
	}
	s->updates++;
	fr->dirty = true;
	write_due(s);
}

const struct vdev_gpu_sink_ops gpu_file_sink_ops = {
	.size = sizeof(struct vdev_gpu_sink_ops),
	.scanout = f_scanout,
	.update = f_update,
};
