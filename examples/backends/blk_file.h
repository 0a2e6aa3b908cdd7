/* SPDX-License-Identifier: MIT */
/*
 * File / block-device backend for libvdev's virtio-blk, synchronous:
 * preadv/pwritev (pwritev2 with RWF_DSYNC for write-through writes, or
 * pwritev + fdatasync where that is not supported), fdatasync for FLUSH,
 * and for DISCARD / WRITE_ZEROES: fallocate(PUNCH_HOLE / ZERO_RANGE) on
 * regular files (writing real zeroes where ZERO_RANGE is missing and the
 * range must stay allocated), BLKDISCARD / BLKZEROOUT (and BLKSECDISCARD
 * for SECURE ERASE) on block devices. What the file system or device cannot do is
 * left out of the ops table, so the device does not offer it.
 */
#ifndef VDEV_EXAMPLES_BLK_FILE_H
#define VDEV_EXAMPLES_BLK_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vdev/blk.h>

struct file_blk {
	int fd;
	uint64_t size;        /* bytes */
	bool read_only;
	bool block_device;
	bool has_dsync;       /* pwritev2(RWF_DSYNC) works */
	bool has_punch_hole;  /* fallocate(PUNCH_HOLE) works */
	bool has_zero_range;  /* fallocate(ZERO_RANGE) works */
	struct vdev_blk_backend_ops ops; /* what this file supports */
};

/*
 * Open `path` (read-only if asked). Probes what the file supports. On
 * failure returns a negative VDEV_E* and writes a message into err.
 */
int file_blk_open(struct file_blk *f, const char *path, bool read_only, char *err,
		  size_t errlen);
void file_blk_close(struct file_blk *f);

/* Shared by the io_uring backend: probe discard/zero support of an fd. */
bool file_blk_probe_punch_hole(int fd);
bool file_blk_probe_zero_range(int fd);

#endif
