/* SPDX-License-Identifier: MIT */
/*
 * RAM block backend for libvdev's virtio-blk: the disk is a host buffer.
 * For tests and demos. It can complete synchronously or hold requests and
 * complete them later in any order (to exercise the asynchronous path),
 * and it can inject failures and short reads.
 */
#ifndef VDEV_EXAMPLES_BLK_RAM_H
#define VDEV_EXAMPLES_BLK_RAM_H

#include <stdbool.h>
#include <stdint.h>

#include <vdev/blk.h>

struct ram_blk {
	uint8_t *data;
	uint64_t size;
	struct vdev_blk *blk;     /* for vdev_blk_complete in async mode */
	bool async;               /* hold requests until ram_blk_complete_some() */
	int fail_next;            /* > 0: fail that many next ops with VDEV_EIO */
	uint32_t short_read;      /* non-zero: reads return only this many bytes */
	bool with_lifetime;
	struct vdev_blk_lifetime lifetime;
	/* held requests (async mode) */
	struct vdev_blk_io **held;
	unsigned nheld, cap;
	/* what the device asked for */
	unsigned reads, writes, fua_writes, flushes, discards, write_zeroes, unmaps, erases;
	unsigned cancels;
};

/* The ops table; `with_lifetime` chooses whether get_lifetime is offered. */
extern const struct vdev_blk_backend_ops ram_blk_ops;
extern const struct vdev_blk_backend_ops ram_blk_ops_lifetime;

/* Allocate a zeroed disk of `size` bytes; `max_held` bounds async mode. */
int ram_blk_init(struct ram_blk *r, uint64_t size, unsigned max_held);
void ram_blk_destroy(struct ram_blk *r);

/* Async mode: complete up to `n` held requests, in an order picked by
 * `seed` (0: oldest first). Returns how many were completed. */
unsigned ram_blk_complete_some(struct ram_blk *r, unsigned n, uint32_t seed);

#endif
