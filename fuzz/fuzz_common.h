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

#endif
