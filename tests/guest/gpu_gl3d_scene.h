/* SPDX-License-Identifier: MIT */
/*
 * The real guest's 3D scene (guest_gpu3d), shared by the guest's GL client
 * (vdev-gl3d.c draws it and checks its read-back) and the host's
 * gpu-imgcheck (checks our daemon's PNG and QEMU's screendump).
 *
 * Cleared to GL3D_CLEAR with depth 1.0; depth test GL_LESS; then, in this
 * order: triangle A (red, z = -0.5, near), triangle B (green, z = +0.5,
 * far; it overlaps A, so where both cover a pixel the depth test must keep
 * A's red although B is drawn later), a quad at z = 0 textured with a 4x4
 * GL_NEAREST texture (texel (i, j): red i * 0x55, green j * 0x55, blue 0xff
 * where i + j is odd; row j = 0 uploaded first, at the quad's bottom).
 * Every colour is k/255 with integer k, so a correct renderer produces it
 * exactly.
 *
 * gl3d_expect() says what the pixel (x, y) of a w x h image (origin top
 * left, as scanned out) must be. Pixels within GL3D_MARGIN pixels of a
 * primitive's edge or a texel border are left out (rasterisation rules
 * and sampling there are the renderer's business); every other pixel
 * must match exactly.
 */
#ifndef VDEV_GPU_GL3D_SCENE_H
#define VDEV_GPU_GL3D_SCENE_H

#include <stdint.h>

#define GL3D_CLEAR 0x003366u
#define GL3D_RED 0xff0000u
#define GL3D_GREEN 0x00ff00u
#define GL3D_MARGIN 2.0

/* NDC x, y of the triangles' vertices and the quad's corners */
static const double gl3d_tri_a[3][2] = {{-0.9, -0.7}, {0.1, -0.7}, {-0.4, 0.7}};
static const double gl3d_tri_b[3][2] = {{-0.6, -0.5}, {0.4, -0.5}, {-0.1, 0.9}};
static const double gl3d_quad[2][2] = {{0.45, -0.9}, {0.95, 0.9}}; /* (x0, y0), (x1, y1) */

static inline uint32_t gl3d_texel(unsigned i, unsigned j)
{
	return (uint32_t)(i * 0x55u) << 16 | (uint32_t)(j * 0x55u) << 8 | (((i + j) & 1u) ? 0xffu : 0u);
}

enum gl3d_kind { GL3D_EDGE, GL3D_BACKGROUND, GL3D_A_ONLY, GL3D_A_OVER_B, GL3D_B_ONLY, GL3D_TEXEL };

/* 1 inside, 0 outside, -1 within the margin of an edge */
static inline int gl3d_in_triangle(const double v[3][2], double px, double py, double w, double h)
{
	double X[3], Y[3], area;
	int inside = 1;
	for (int i = 0; i < 3; i++) {
		X[i] = (v[i][0] + 1.0) * 0.5 * w;
		Y[i] = (1.0 - v[i][1]) * 0.5 * h;
	}
	area = (X[1] - X[0]) * (Y[2] - Y[0]) - (Y[1] - Y[0]) * (X[2] - X[0]);
	for (int i = 0; i < 3; i++) {
		int j = (i + 1) % 3;
		double ex = X[j] - X[i], ey = Y[j] - Y[i];
		/* c / |e| is the signed distance from the edge, positive inside */
		double c = ex * (py - Y[i]) - ey * (px - X[i]), m2 = GL3D_MARGIN * GL3D_MARGIN;
		if (area < 0)
			c = -c;
		if (c < 0 && c * c > m2 * (ex * ex + ey * ey))
			return 0;
		if (c <= 0 || c * c <= m2 * (ex * ex + ey * ey))
			inside = -1;
	}
	return inside;
}

/* Which part of the scene (x, y) is in and, unless GL3D_EDGE, its colour. */
static inline enum gl3d_kind gl3d_expect(uint32_t x, uint32_t y, uint32_t w, uint32_t h,
					 uint32_t *rgb)
{
	double px = x + 0.5, py = y + 0.5, W = w, H = h;
	int a = gl3d_in_triangle(gl3d_tri_a, px, py, W, H);
	int b = gl3d_in_triangle(gl3d_tri_b, px, py, W, H);
	if (a < 0 || (a == 0 && b < 0))
		return GL3D_EDGE;
	if (a == 1) {
		*rgb = GL3D_RED;
		return b == 1 ? GL3D_A_OVER_B : GL3D_A_ONLY; /* red wherever B's edges are */
	}
	if (b == 1) {
		*rgb = GL3D_GREEN;
		return GL3D_B_ONLY;
	}
	/* the quad, in pixels; texel borders every quarter of it */
	double qx0 = (gl3d_quad[0][0] + 1.0) * 0.5 * W, qx1 = (gl3d_quad[1][0] + 1.0) * 0.5 * W;
	double qy1 = (1.0 - gl3d_quad[0][1]) * 0.5 * H, qy0 = (1.0 - gl3d_quad[1][1]) * 0.5 * H;
	if (px < qx0 - GL3D_MARGIN || px > qx1 + GL3D_MARGIN || py < qy0 - GL3D_MARGIN ||
	    py > qy1 + GL3D_MARGIN) {
		*rgb = GL3D_CLEAR;
		return GL3D_BACKGROUND;
	}
	double tu = (px - qx0) / (qx1 - qx0) * 4.0, tv = (qy1 - py) / (qy1 - qy0) * 4.0;
	double mu = GL3D_MARGIN / (qx1 - qx0) * 4.0, mv = GL3D_MARGIN / (qy1 - qy0) * 4.0;
	for (int k = 0; k <= 4; k++)
		if ((tu > k - mu && tu < k + mu) || (tv > k - mv && tv < k + mv))
			return GL3D_EDGE;
	*rgb = gl3d_texel((unsigned)tu, (unsigned)tv);
	return GL3D_TEXEL;
}

#endif
