/* SPDX-License-Identifier: MIT */
/*
 * The test pattern of the real-guest GPU test, shared by the guest program
 * that draws it (vdev-drm.c) and the host tool that checks a screenshot
 * against it (gpu-imgcheck.c). Every pixel differs from its neighbours in
 * a way a wrong stride, offset, row order or channel order shows.
 */
#ifndef VDEV_TESTS_GPU_PATTERN_H
#define VDEV_TESTS_GPU_PATTERN_H

#include <stdint.h>

/* The colour of pixel (x, y) as 0x00RRGGBB. */
static inline uint32_t gpu_pattern_rgb(uint32_t x, uint32_t y)
{
	uint32_t r = (x * 3u + (y >> 5)) & 0xffu;
	uint32_t g = (y * 5u + (x >> 6)) & 0xffu;
	uint32_t b = ((x ^ y) * 7u + 0x5au) & 0xffu;
	return r << 16 | g << 8 | b;
}

#endif
