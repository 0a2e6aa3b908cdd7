/* SPDX-License-Identifier: MIT */
/*
 * Driver simulator: plays a guest's virtio driver against libvdev's
 * device-side queues, in a simulated guest memory with holes.
 *
 * Written from the driver-side requirements of the VIRTIO spec: it keeps
 * its own free lists, buffer ids and wrap counters and never looks at the
 * device's private state, so a test that passes through it checks the
 * device against the ring protocol, not against itself. Used by the unit
 * tests, the benchmarks and (with a transport front end) the transport
 * tests.
 *
 * Guest memory layout of a simulated guest (struct sim_mem):
 *   region 0  [SIM_R0_GPA, +size)        RAM
 *   region 1  [end of region 0, +size)   RAM, adjacent in guest-physical
 *                                        space but a separate host buffer
 *                                        (a buffer straddling 0/1 is not
 *                                        host-contiguous)
 *   hole      unmapped
 *   region 2  [SIM_RO_GPA, +size)        read-only to the device
 * Single-region mode (for benchmarks) has only region 0.
 */
#ifndef VDEV_TESTS_DRVSIM_H
#define VDEV_TESTS_DRVSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vdev/mem.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SIM_R0_GPA 0x10000ull
#define SIM_HOLE_GPA 0x40000000ull  /* inside the hole in every layout */
#define SIM_RO_GPA 0x80000000ull

struct sim_mem {
	struct vdev_mem_region regions[3];
	uint32_t nregions;
	struct vdev_mem mem;
	uint8_t *host[3];
	uint64_t next[3]; /* bump allocator offset per region */
	int memfd;        /* memfd mode: both regions live in this file */
	size_t memfd_len;
};

/* Create guest memory; `single` gives one region only. Aborts on ENOMEM.
 * Objects must start zeroed (static, or memset); initialising one again
 * frees what it held first (also for drv_vq_init and sim_pair_init). */
void sim_mem_init(struct sim_mem *m, size_t region_size, bool single);
void sim_mem_destroy(struct sim_mem *m);
/*
 * Guest memory in a shared memfd, as a vhost-user front-end has it: two
 * GPA-adjacent regions of `region_size` each, region 0 at file offset 0
 * and region 1 at `region_size` (so a back-end maps with mmap offsets).
 */
void sim_mem_init_memfd(struct sim_mem *m, size_t region_size);
/* Allocate `len` bytes, zeroed, aligned, inside region `r` (0..2). */
uint64_t sim_alloc_in(struct sim_mem *m, unsigned r, size_t len, size_t align);
static inline uint64_t sim_alloc(struct sim_mem *m, size_t len, size_t align)
{
	return sim_alloc_in(m, 0, len, align);
}
/* Bytes the allocator still has in region 0 (before alignment). */
size_t sim_room(const struct sim_mem *m);
/* Bytes drv_vq_init() takes for one queue (alignment included). */
size_t drv_vq_footprint(uint16_t size, bool packed, uint16_t max_indirect);
/* A range of `len` bytes starting `before` bytes before the end of region
 * 0, so it straddles into region 1. Not tracked by the allocator. */
uint64_t sim_straddle_gpa(const struct sim_mem *m, size_t before);
/* Host pointer for a guest address the driver owns (aborts if unmapped). */
void *sim_ptr(const struct sim_mem *m, uint64_t gpa);
/* Reset the allocators (all previous allocations become free). */
void sim_mem_reset_alloc(struct sim_mem *m);

/* A buffer of a chain, as the driver describes it. */
struct drv_buf {
	uint64_t gpa;
	uint32_t len;
	bool write; /* device-writable */
};

struct drv_vq {
	struct sim_mem *m;
	bool packed;
	bool event_idx;
	bool indirect_ok;
	uint16_t size;
	uint64_t desc_gpa, driver_gpa, device_gpa;
	/* host views */
	void *desc, *driver, *device;
	/* per buffer (split: head index; packed: buffer id) */
	void **token;
	uint16_t *chain_len;   /* descriptors in the ring */
	uint64_t indirect_pool; /* one table of max_indirect entries per id */
	uint16_t max_indirect;
	uint16_t num_free;
	uint16_t num_added;    /* since the last kick_prepare */
	/* split */
	uint16_t *next_free;
	uint16_t free_head;
	uint16_t avail_idx;
	uint16_t last_used;
	uint16_t avail_flags_shadow;
	/* packed */
	uint16_t *id_next;
	uint16_t free_id;
	uint16_t next_avail;
	bool avail_wrap;
	bool used_wrap;
	uint16_t packed_last_used;
	bool cb_disabled;
	/* counters and protocol errors seen (tests assert errors == 0) */
	uint64_t kicks, kick_checks;
	unsigned errors;
	char last_error[128];
};

/*
 * Create a queue in guest memory: allocate and zero the three areas (and
 * an indirect table pool of max_indirect entries per buffer if
 * indirect_ok). `size` must suit the layout.
 */
void drv_vq_init(struct drv_vq *q, struct sim_mem *m, uint16_t size, bool packed,
		 bool event_idx, bool indirect_ok, uint16_t max_indirect);
void drv_vq_destroy(struct drv_vq *q);

/*
 * Add a chain (readable bufs first, as the driver must) as direct
 * descriptors, or as one indirect table if `indirect`. Publishes it to the
 * device at once (split: avail idx; packed: head flags). Returns 0, or -1
 * if the ring has no room.
 */
int drv_add(struct drv_vq *q, const struct drv_buf *bufs, unsigned n, bool indirect,
	    void *token);

/* Should the driver notify the device now? Resets the added count. */
bool drv_kick_prepare(struct drv_vq *q);

/* Reap one used buffer: returns its token and written length, or NULL. A
 * protocol violation (bad id, unknown buffer) increments q->errors. */
void *drv_get_used(struct drv_vq *q, uint32_t *len);

/* Used-buffer notification control (EVENT_IDX aware). enable returns
 * true if used buffers are already pending. */
bool drv_enable_cb(struct drv_vq *q);
void drv_disable_cb(struct drv_vq *q);
/* EVENT_IDX: ask for a notification only after `n` more used buffers. */
void drv_enable_cb_delayed(struct drv_vq *q, uint16_t n);

/* Number of buffers outstanding (added, not reaped). */
unsigned drv_outstanding(const struct drv_vq *q);

/* Raw access for hostile tests. */
struct drv_split_desc { uint64_t addr; uint32_t len; uint16_t flags; uint16_t next; };
void drv_split_write_desc(struct drv_vq *q, uint16_t i, const struct drv_split_desc *d);
void drv_split_set_avail(struct drv_vq *q, uint16_t slot, uint16_t head);
void drv_split_set_avail_idx(struct drv_vq *q, uint16_t idx);
uint16_t drv_split_used_idx(const struct drv_vq *q);
struct drv_packed_desc { uint64_t addr; uint32_t len; uint16_t id; uint16_t flags; };
void drv_packed_write_desc(struct drv_vq *q, uint16_t i, const struct drv_packed_desc *d);
/* Flags value that marks a descriptor available for wrap counter `wrap`. */
uint16_t drv_packed_avail_flags(bool wrap);
/*
 * A driver that makes buffer `id` available again while the device still
 * holds it (a hostile or buggy guest). Split: head `id` goes on the avail
 * ring once more (its descriptors are whatever the table holds). Packed:
 * `b` as a one-descriptor buffer with id `id` at the next ring position.
 * Published at once. The driver's own bookkeeping (free lists, tokens)
 * is not touched, only its ring position.
 */
void drv_offer_again(struct drv_vq *q, uint16_t id, const struct drv_buf *b);

/*
 * A driver queue and a device queue wired together over one simulated
 * guest: the usual fixture of queue tests and benchmarks. `features` are
 * the negotiated bits (VDEV_F_*); RING_PACKED picks the layout, EVENT_IDX
 * and INDIRECT_DESC are honoured by both sides.
 */
#include "vdev/virtqueue.h"
struct sim_pair {
	struct sim_mem m;
	struct drv_vq drv;
	struct vdev_vq vq;
	uint64_t held[VDEV_VQ_HELD_WORDS(VDEV_VQ_MAX_SIZE)]; /* vq's held buffers */
	uint64_t features;
};
/* Returns vdev_vq_start()'s result (0 when the queue is live). */
int sim_pair_init(struct sim_pair *p, uint16_t size, uint64_t features, size_t region_size,
		  bool single_region);
void sim_pair_destroy(struct sim_pair *p);

#ifdef __cplusplus
}
#endif

#endif /* VDEV_TESTS_DRVSIM_H */
