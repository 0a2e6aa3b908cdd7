/* SPDX-License-Identifier: MIT */
/*
 * io_uring block backend for libvdev's virtio-blk (liburing): reads,
 * writes (RWF_DSYNC for write-through), fdatasync and fallocate go
 * through the ring and complete asynchronously; the few operations
 * io_uring cannot express (block-device discard/zero ioctls, writing
 * real zeroes where ZERO_RANGE is missing) run synchronously.
 *
 * Integration: ops only queue submissions; the device's commit op (end of
 * a vdev_blk_process() pass) submits them in one go. When
 * uring_blk_eventfd() becomes readable, call uring_blk_reap(), which
 * completes requests with vdev_blk_complete() and then calls
 * vdev_blk_process() so requests waiting for a free pool slot move on.
 * All from the queue's thread.
 */
#ifndef VDEV_EXAMPLES_BLK_URING_H
#define VDEV_EXAMPLES_BLK_URING_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>

#include "blk_file.h"

struct uring_blk {
	struct io_uring ring;
	struct file_blk file;
	struct vdev_blk *blk;   /* set by the integrator before use */
	uint16_t queue;         /* the request queue this ring serves */
	int efd;                /* completion eventfd */
	unsigned queued;        /* SQEs not yet submitted */
	unsigned inflight;      /* ios submitted, not completed */
	struct vdev_blk_backend_ops ops;
};

/* Open `path` and set up a ring of `depth` entries. Negative VDEV_E* and a
 * message in err on failure. */
int uring_blk_open(struct uring_blk *u, const char *path, bool read_only, unsigned depth,
		   char *err, size_t errlen);
void uring_blk_close(struct uring_blk *u);
int uring_blk_eventfd(const struct uring_blk *u);
/* Submit queued operations; returns the number submitted or -errno. */
int uring_blk_submit(struct uring_blk *u);
/* Complete whatever finished (clears the eventfd); returns how many
 * requests were completed. `wait`: block for at least one if none ready. */
unsigned uring_blk_reap(struct uring_blk *u, bool wait);

#endif
