/* SPDX-License-Identifier: MIT */
/* File / block-device backend: see blk_file.h. */
#include "blk_file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

_Static_assert(sizeof(struct vdev_iov) == sizeof(struct iovec) &&
		       offsetof(struct vdev_iov, base) == offsetof(struct iovec, iov_base) &&
		       offsetof(struct vdev_iov, len) == offsetof(struct iovec, iov_len),
	       "struct vdev_iov must be layout-compatible with struct iovec");

static int err_to_vdev(int e)
{
	return e > 0 ? -e : VDEV_EIO; /* VDEV_E* values are negated errnos */
}

/* Read or write the whole io, coping with short transfers; returns bytes
 * moved (READ may stop early at end of file) or a negative error. */
static int64_t rw_all(struct file_blk *f, struct vdev_blk_io *io, bool write, int rwflags)
{
	struct iovec local[64];
	const struct iovec *v = (const struct iovec *)io->iov;
	unsigned n = io->iovcnt;
	uint64_t off = io->offset, done = 0;

	while (done < io->len) {
		ssize_t r;
		if (write)
			r = rwflags ? pwritev2(f->fd, v, (int)n, (off_t)off, rwflags)
				    : pwritev(f->fd, v, (int)n, (off_t)off);
		else
			r = preadv(f->fd, v, (int)n, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return err_to_vdev(errno);
		}
		if (r == 0)
			break; /* end of file: a short read */
		done += (uint64_t)r;
		off += (uint64_t)r;
		if (done >= io->len)
			break;
		/* Resume mid-list: skip what was moved, into a local copy. */
		size_t skip = (size_t)r;
		while (n > 0 && skip >= v->iov_len) {
			skip -= v->iov_len;
			v++;
			n--;
		}
		if (n == 0)
			break;
		unsigned k = n < 64 ? n : 64;
		memcpy(local, v, k * sizeof(*v));
		local[0].iov_base = (uint8_t *)local[0].iov_base + skip;
		local[0].iov_len -= skip;
		v = local;
		n = k;
	}
	return (int64_t)done;
}

static int f_read(void *o, struct vdev_blk_io *io)
{
	int64_t r = rw_all(o, io, false, 0);
	if (r < 0)
		return (int)r;
	vdev_blk_io_set_done(io, (uint32_t)r);
	return 0;
}

static int f_write(void *o, struct vdev_blk_io *io)
{
	struct file_blk *f = o;
	bool fua = (io->flags & VDEV_BLK_IO_FUA) != 0;
	int64_t r = rw_all(f, io, true, fua && f->has_dsync ? RWF_DSYNC : 0);

	if (r < 0)
		return (int)r;
	if ((uint64_t)r != io->len)
		return VDEV_EIO;
	if (fua && !f->has_dsync && fdatasync(f->fd) != 0)
		return err_to_vdev(errno);
	return 0;
}

static int f_flush(void *o, struct vdev_blk_io *io)
{
	(void)io;
	return fdatasync(((struct file_blk *)o)->fd) == 0 ? 0 : err_to_vdev(errno);
}

static int ranges(struct file_blk *f, struct vdev_blk_io *io, int file_mode, unsigned long ioc)
{
	for (unsigned i = 0; i < io->nranges; i++) {
		const struct vdev_blk_range *g = &io->ranges[i];
		int rc;
		if (f->block_device) {
			uint64_t r[2] = {g->offset, g->len};
			rc = ioctl(f->fd, ioc, r);
		} else {
			rc = fallocate(f->fd, file_mode, (off_t)g->offset, (off_t)g->len);
		}
		if (rc != 0)
			return err_to_vdev(errno);
	}
	return 0;
}

static int f_discard(void *o, struct vdev_blk_io *io)
{
	return ranges(o, io, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, BLKDISCARD);
}

/* Write real zeroes over the ranges (the range stays allocated). */
static int write_real_zeroes(struct file_blk *f, struct vdev_blk_io *io)
{
	static const uint8_t zeroes[64 * 1024];

	for (unsigned i = 0; i < io->nranges; i++) {
		uint64_t off = io->ranges[i].offset, left = io->ranges[i].len;
		while (left > 0) {
			size_t n = left < sizeof(zeroes) ? (size_t)left : sizeof(zeroes);
			ssize_t w = pwrite(f->fd, zeroes, n, (off_t)off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return w < 0 ? err_to_vdev(errno) : VDEV_EIO;
			off += (uint64_t)w;
			left -= (uint64_t)w;
		}
	}
	return 0;
}

static int f_write_zeroes(void *o, struct vdev_blk_io *io)
{
	struct file_blk *f = o;

	if (f->block_device)
		return ranges(f, io, 0, BLKZEROOUT);
	/* With UNMAP the range may be deallocated: a hole reads back zero. */
	if ((io->flags & VDEV_BLK_IO_UNMAP) && f->has_punch_hole)
		return ranges(f, io, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0);
	if (f->has_zero_range)
		return ranges(f, io, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0);
	return write_real_zeroes(f, io);
}

static int f_secure_erase(void *o, struct vdev_blk_io *io)
{
	return ranges(o, io, 0, BLKSECDISCARD);
}

/* Probe a fallocate mode on a range just past the end of the file (with
 * KEEP_SIZE the size does not change; a punch afterwards frees any blocks
 * the probe allocated). */
static bool probe(int fd, int mode)
{
	struct stat st;
	bool ok;

	if (fstat(fd, &st) != 0)
		return false;
	ok = fallocate(fd, mode | FALLOC_FL_KEEP_SIZE, st.st_size, 4096) == 0;
	if (ok && mode != FALLOC_FL_PUNCH_HOLE)
		(void)fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, st.st_size, 4096);
	return ok;
}

bool file_blk_probe_punch_hole(int fd) { return probe(fd, FALLOC_FL_PUNCH_HOLE); }
bool file_blk_probe_zero_range(int fd) { return probe(fd, FALLOC_FL_ZERO_RANGE); }

int file_blk_open(struct file_blk *f, const char *path, bool read_only, char *err, size_t errlen)
{
	struct stat st;

	memset(f, 0, sizeof(*f));
	f->fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (f->fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return err_to_vdev(errno);
	}
	if (fstat(f->fd, &st) != 0) {
		snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
		close(f->fd);
		return VDEV_EIO;
	}
	f->read_only = read_only;
	if (S_ISBLK(st.st_mode)) {
		uint64_t bytes = 0;
		if (ioctl(f->fd, BLKGETSIZE64, &bytes) != 0) {
			snprintf(err, errlen, "%s: BLKGETSIZE64: %s", path, strerror(errno));
			close(f->fd);
			return VDEV_EIO;
		}
		f->size = bytes;
		f->block_device = true;
	} else if (S_ISREG(st.st_mode)) {
		f->size = (uint64_t)st.st_size;
	} else {
		snprintf(err, errlen, "%s is neither a regular file nor a block device", path);
		close(f->fd);
		return VDEV_EINVAL;
	}
	if (f->size % VDEV_BLK_SECTOR_SIZE != 0) {
		snprintf(err, errlen, "%s: size %llu is not a multiple of 512", path,
			 (unsigned long long)f->size);
		close(f->fd);
		return VDEV_EINVAL;
	}
	f->ops.size = sizeof(f->ops);
	f->ops.read = f_read;
	if (!read_only) {
		struct iovec none = {NULL, 0};
		f->ops.write = f_write;
		f->ops.flush = f_flush;
		f->has_dsync = pwritev2(f->fd, &none, 1, 0, RWF_DSYNC) >= 0;
		if (f->block_device) {
			f->ops.discard = f_discard;
			f->ops.write_zeroes = f_write_zeroes;
			f->ops.secure_erase = f_secure_erase;
		} else {
			f->has_punch_hole = file_blk_probe_punch_hole(f->fd);
			f->has_zero_range = file_blk_probe_zero_range(f->fd);
			if (f->has_punch_hole)
				f->ops.discard = f_discard;
			f->ops.write_zeroes = f_write_zeroes; /* real zeroes at worst */
		}
	}
	return 0;
}

void file_blk_close(struct file_blk *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}
