/* SPDX-License-Identifier: MIT */
/*
 * gpu-imgcheck: host-side checks of the real-guest GPU test's screenshots
 * (our daemon's PNG/PPM files, QEMU's screendump PPMs).
 *
 *   gpu-imgcheck pattern FILE W H   every pixel is gpu_pattern.h's (exit 0)
 *   gpu-imgcheck nonblank FILE MIN  at least MIN pixels differ from the
 *                                   most common colour (the background)
 *   gpu-imgcheck gl3d FILE W H      gpu_gl3d_scene.h's scene: every pixel
 *                                   off its edges exactly as expected
 *   gpu-imgcheck diff A B MIN MAX   same size, and MIN..MAX pixels differ
 *   gpu-imgcheck info FILE          size and colour count
 *
 * Reads binary PPM (P6, maxval 255) and, with libpng, 8-bit PNG.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef VDEV_HAVE_LIBPNG
#include <png.h>
#endif

#include "gpu_gl3d_scene.h"
#include "gpu_pattern.h"

struct img {
	uint32_t w, h;
	uint8_t *rgb;
};

static int read_ppm(FILE *f, struct img *im)
{
	unsigned w, h, maxval;
	if (fscanf(f, "P6 %u %u %u", &w, &h, &maxval) != 3 || maxval != 255 || fgetc(f) == EOF ||
	    w == 0 || h == 0 || w > 16384 || h > 16384)
		return -1;
	im->w = w;
	im->h = h;
	im->rgb = malloc((size_t)w * h * 3u);
	return im->rgb && fread(im->rgb, 3, (size_t)w * h, f) == (size_t)w * h ? 0 : -1;
}

#ifdef VDEV_HAVE_LIBPNG
static int read_png(FILE *f, struct img *im)
{
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (info == NULL)
		return -1;
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_read_struct(&png, &info, NULL);
		return -1;
	}
	png_init_io(png, f);
	png_read_info(png, info);
	png_set_expand(png);
	png_set_strip_16(png);
	png_set_strip_alpha(png);
	png_set_gray_to_rgb(png);
	png_read_update_info(png, info);
	im->w = png_get_image_width(png, info);
	im->h = png_get_image_height(png, info);
	if (png_get_rowbytes(png, info) != (size_t)im->w * 3u)
		longjmp(png_jmpbuf(png), 1);
	im->rgb = malloc((size_t)im->w * im->h * 3u);
	if (im->rgb == NULL)
		longjmp(png_jmpbuf(png), 1);
	for (uint32_t y = 0; y < im->h; y++)
		png_read_row(png, im->rgb + (size_t)y * im->w * 3u, NULL);
	png_destroy_read_struct(&png, &info, NULL);
	return 0;
}
#endif

static int load(const char *path, struct img *im)
{
	FILE *f = fopen(path, "rb");
	int c, rc = -1;

	memset(im, 0, sizeof(*im));
	if (f == NULL) {
		fprintf(stderr, "gpu-imgcheck: cannot open %s\n", path);
		return -1;
	}
	c = fgetc(f);
	ungetc(c, f);
	if (c == 'P')
		rc = read_ppm(f, im);
#ifdef VDEV_HAVE_LIBPNG
	else if (c == 0x89)
		rc = read_png(f, im);
#endif
	fclose(f);
	if (rc != 0)
		fprintf(stderr, "gpu-imgcheck: %s: not a readable PPM/PNG image\n", path);
	return rc;
}

static uint32_t px(const struct img *im, uint32_t x, uint32_t y)
{
	const uint8_t *p = im->rgb + ((size_t)y * im->w + x) * 3u;
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/* The most common colour and how many pixels have it (a coarse hash count). */
static uint32_t background(const struct img *im, uint64_t *count)
{
	static uint32_t keys[65536], counts[65536];
	uint32_t best = 0, bestn = 0;

	memset(counts, 0, sizeof(counts));
	for (uint32_t y = 0; y < im->h; y++)
		for (uint32_t x = 0; x < im->w; x++) {
			uint32_t v = px(im, x, y), k = (v * 2654435761u) >> 16, probes = 0;
			while (counts[k] && keys[k] != v && ++probes < 65536u)
				k = (k + 1) & 0xffffu;
			if (probes == 65536u)
				continue; /* table full: a colour too rare to matter */
			keys[k] = v;
			if (++counts[k] > bestn)
				bestn = counts[k], best = v;
		}
	*count = bestn;
	return best;
}

static struct img a, b;

static int done(int rc)
{
	free(a.rgb);
	free(b.rgb);
	return rc;
}

int main(int argc, char **argv)
{

	if (argc == 5 && strcmp(argv[1], "pattern") == 0) {
		uint32_t w = (uint32_t)strtoul(argv[3], NULL, 10), h = (uint32_t)strtoul(argv[4], NULL, 10);
		if (load(argv[2], &a) != 0)
			return done(1);
		if (a.w != w || a.h != h) {
			printf("pattern: %s is %ux%u, expected %ux%u\n", argv[2], a.w, a.h, w, h);
			return done(1);
		}
		uint64_t bad = 0;
		for (uint32_t y = 0; y < h; y++)
			for (uint32_t x = 0; x < w; x++)
				if (px(&a, x, y) != gpu_pattern_rgb(x, y)) {
					if (bad++ == 0)
						printf("pattern: first mismatch at (%u,%u): %06x, expected %06x\n",
						       x, y, px(&a, x, y), gpu_pattern_rgb(x, y));
				}
		printf("pattern: %s: %llu of %llu pixels differ\n", argv[2], (unsigned long long)bad,
		       (unsigned long long)w * h);
		return done(bad == 0 ? 0 : 1);
	}
	if (argc == 5 && strcmp(argv[1], "gl3d") == 0) {
		uint32_t w = (uint32_t)strtoul(argv[3], NULL, 10), h = (uint32_t)strtoul(argv[4], NULL, 10);
		uint64_t n[GL3D_TEXEL + 1] = {0}, bad = 0;
		if (load(argv[2], &a) != 0)
			return done(1);
		if (a.w != w || a.h != h) {
			printf("gl3d: %s is %ux%u, expected %ux%u\n", argv[2], a.w, a.h, w, h);
			return done(1);
		}
		for (uint32_t y = 0; y < h; y++)
			for (uint32_t x = 0; x < w; x++) {
				uint32_t want = 0;
				enum gl3d_kind k = gl3d_expect(x, y, w, h, &want);
				n[k]++;
				if (k != GL3D_EDGE && px(&a, x, y) != want && bad++ == 0)
					printf("gl3d: first mismatch at (%u,%u): %06x, expected %06x\n", x, y,
					       px(&a, x, y), want);
			}
		printf("gl3d: %s: %llu pixels differ; checked background %llu red %llu red-over-green %llu "
		       "green %llu texel %llu, edge pixels skipped %llu\n",
		       argv[2], (unsigned long long)bad, (unsigned long long)n[GL3D_BACKGROUND],
		       (unsigned long long)n[GL3D_A_ONLY], (unsigned long long)n[GL3D_A_OVER_B],
		       (unsigned long long)n[GL3D_B_ONLY], (unsigned long long)n[GL3D_TEXEL],
		       (unsigned long long)n[GL3D_EDGE]);
		return done(bad == 0 ? 0 : 1);
	}
	if (argc == 4 && strcmp(argv[1], "nonblank") == 0) {
		uint64_t n;
		if (load(argv[2], &a) != 0)
			return done(1);
		uint32_t bg = background(&a, &n);
		uint64_t other = (uint64_t)a.w * a.h - n, min = strtoull(argv[3], NULL, 10);
		printf("nonblank: %s: %llu pixels differ from the background %06x\n", argv[2],
		       (unsigned long long)other, bg);
		return done(other >= min ? 0 : 1);
	}
	if (argc == 6 && strcmp(argv[1], "diff") == 0) {
		if (load(argv[2], &a) != 0 || load(argv[3], &b) != 0)
			return done(1);
		if (a.w != b.w || a.h != b.h) {
			printf("diff: sizes differ: %ux%u and %ux%u\n", a.w, a.h, b.w, b.h);
			return done(1);
		}
		uint64_t n = 0, min = strtoull(argv[4], NULL, 10), max = strtoull(argv[5], NULL, 10);
		for (uint32_t y = 0; y < a.h; y++)
			for (uint32_t x = 0; x < a.w; x++)
				n += px(&a, x, y) != px(&b, x, y);
		printf("diff: %llu pixels differ (allowed %llu..%llu)\n", (unsigned long long)n,
		       (unsigned long long)min, (unsigned long long)max);
		return done(n >= min && n <= max ? 0 : 1);
	}
	if (argc == 3 && strcmp(argv[1], "info") == 0) {
		uint64_t n;
		if (load(argv[2], &a) != 0)
			return done(1);
		uint32_t bg = background(&a, &n);
		printf("%ux%u background %06x (%llu pixels)\n", a.w, a.h, bg, (unsigned long long)n);
		return done(0);
	}
	fprintf(stderr, "usage: gpu-imgcheck pattern FILE W H | gl3d FILE W H | nonblank FILE MIN | "
			"diff A B MIN MAX | info FILE\n");
	return done(2);
}
