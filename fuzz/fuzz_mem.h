/* SPDX-License-Identifier: MIT */
/*
 * Guest memory for a fuzz target, kept for the whole run.
 *
 * Creating simulated guest memory for every input cost more than running
 * the input: allocating and freeing a few MiB under ASan maps fresh pages
 * each time, and every page fault and TLB flush is a trip into the kernel
 * (dropping the pages with madvise(MADV_DONTNEED) was tried and is as slow
 * on this machine). Instead the memory is created on the first input and
 * zeroed in place on every later one: the pages stay mapped, so the reset
 * is a memset of resident memory, a few tens of microseconds.
 *
 * An input therefore starts from exactly what fresh memory gave it (every
 * byte zero, the bump allocator at the start), whether it runs alone in a
 * replay or after a million others in a campaign. The whole of every
 * region is cleared, not just what the driver allocated: the device
 * writes wherever the (fuzzed) descriptors point.
 */
#ifndef VDEV_FUZZ_MEM_H
#define VDEV_FUZZ_MEM_H

#include <string.h>

#include "drvsim.h"
#include "fuzz_common.h"

static inline void fuzz_mem_reset(struct sim_mem *m, size_t region_size, bool single)
{
	if (m->nregions != (single ? 1u : 3u) || m->regions[0].size != region_size) {
		sim_mem_init(m, region_size, single); /* zeroed */
		return;
	}
	for (unsigned i = 0; i < m->nregions; i++)
		memset(m->host[i], 0, (size_t)m->regions[i].size);
	sim_mem_reset_alloc(m);
	/* the table is unchanged; describing it again keeps no state over */
	FUZZ_CHECK(vdev_mem_init(&m->mem, m->regions, m->nregions) == 0);
}

#endif
