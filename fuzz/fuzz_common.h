/* SPDX-License-Identifier: MIT */
/* Shared by the fuzz targets: the entry point and an invariant check that
 * crashes loudly (the fuzzer records the input). */
#ifndef VDEV_FUZZ_COMMON_H
#define VDEV_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                  \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,   \
				#cond);                                                   \
			abort();                                                          \
		}                                                                         \
	} while (0)

/*
 * Reads of the status a harness's driver makes after writing 0, waiting for
 * the reset to finish (struct drv_transport's reset_polls). A fuzz target
 * drives the device from its one thread, so nothing changes between reads:
 * a reset that is still pending (requests out with the host) or a status
 * that cannot read 0 (the register window unmapped) stays so, and the
 * support code's default of 1000 reads only cost time.
 */
#define FUZZ_RESET_POLLS 2u

/*
 * The fuzz input, consumed from the front. Past its end every read gives
 * 0, so a target never needs to check lengths. Multi-byte reads are
 * little-endian.
 */
struct input {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t take(struct input *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint16_t take16(struct input *in)
{
	uint16_t lo = take(in);
	return (uint16_t)(lo | (uint16_t)take(in) << 8);
}

static inline uint32_t take32(struct input *in)
{
	uint32_t lo = take16(in);
	return lo | (uint32_t)take16(in) << 16;
}

static inline uint64_t take64(struct input *in)
{
	uint64_t lo = take32(in);
	return lo | (uint64_t)take32(in) << 32;
}

#endif
