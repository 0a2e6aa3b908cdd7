/* SPDX-License-Identifier: MIT */
/* io_uring block backend: see blk_uring.h. */
#include "blk_uring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

/* io->backend_data[0]: SQEs of this io still outstanding;
 * io->backend_data[1]: first error (as a positive errno), or 0. */

static struct io_uring_sqe *get_sqe(struct uring_blk *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (sqe == NULL && io_uring_submit(&u->ring) >= 0) {
		u->queued = 0;
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

static void queued(struct uring_blk *u, struct io_uring_sqe *sqe, struct vdev_blk_io *io)
{
	io_uring_sqe_set_data(sqe, io);
	io->backend_data[0]++;
	u->queued++;
}

static int start(struct uring_blk *u, struct vdev_blk_io *io)
{
	io->backend_data[0] = 0;
	io->backend_data[1] = 0;
	u->inflight++;
	return VDEV_BLK_ASYNC;
}

static int u_rw(void *o, struct vdev_blk_io *io)
{
	struct uring_blk *u = o;
	struct io_uring_sqe *sqe = get_sqe(u);
	bool write = io->type == VDEV_BLK_IO_WRITE;

	if (sqe == NULL) /* ring full even after submitting: do it now */
		return write ? u->file.ops.write(&u->file, io) : u->file.ops.read(&u->file, io);
	if (write) {
		io_uring_prep_writev(sqe, u->file.fd, (const struct iovec *)io->iov, io->iovcnt,
				     io->offset);
		if (io->flags & VDEV_BLK_IO_FUA)
			sqe->rw_flags = RWF_DSYNC;
	} else {
		io_uring_prep_readv(sqe, u->file.fd, (const struct iovec *)io->iov, io->iovcnt,
				    io->offset);
	}
	start(u, io);
	queued(u, sqe, io);
	return VDEV_BLK_ASYNC;
}

static int u_flush(void *o, struct vdev_blk_io *io)
{
	struct uring_blk *u = o;
	struct io_uring_sqe *sqe = get_sqe(u);

	if (sqe == NULL)
		return u->file.ops.flush(&u->file, io);
	io_uring_prep_fsync(sqe, u->file.fd, IORING_FSYNC_DATASYNC);
	start(u, io);
	queued(u, sqe, io);
	return VDEV_BLK_ASYNC;
}

/* One fallocate per range through the ring, where that is the operation. */
static int u_ranges(struct uring_blk *u, struct vdev_blk_io *io, int mode,
		    int (*sync_op)(void *, struct vdev_blk_io *))
{
	if (u->file.block_device || mode < 0 || io->nranges > u->ring.sq.ring_entries)
		return sync_op(&u->file, io);
	start(u, io);
	for (unsigned i = 0; i < io->nranges; i++) {
		struct io_uring_sqe *sqe = get_sqe(u);
		if (sqe == NULL) {
			io->backend_data[1] = EAGAIN; /* report the failure once the rest land */
			break;
		}
		io_uring_prep_fallocate(sqe, u->file.fd, mode, (off_t)io->ranges[i].offset,
					(off_t)io->ranges[i].len);
		queued(u, sqe, io);
	}
	if (io->backend_data[0] == 0) { /* nothing went out */
		u->inflight--;
		return VDEV_EIO;
	}
	return VDEV_BLK_ASYNC;
}

static int u_discard(void *o, struct vdev_blk_io *io)
{
	struct uring_blk *u = o;
	return u_ranges(u, io, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, u->file.ops.discard);
}

static int u_write_zeroes(void *o, struct vdev_blk_io *io)
{
	struct uring_blk *u = o;
	int mode = -1; /* the file backend's synchronous fallback */

	if ((io->flags & VDEV_BLK_IO_UNMAP) && u->file.has_punch_hole)
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	else if (u->file.has_zero_range)
		mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	return u_ranges(u, io, mode, u->file.ops.write_zeroes);
}

static int u_secure_erase(void *o, struct vdev_blk_io *io)
{
	struct uring_blk *u = o;
	return u->file.ops.secure_erase(&u->file, io);
}

static void u_commit(void *o, uint16_t queue)
{
	(void)queue;
	(void)uring_blk_submit(o);
}

int uring_blk_open(struct uring_blk *u, const char *path, bool read_only, unsigned depth,
		   char *err, size_t errlen)
{
	int rc;

	memset(u, 0, sizeof(*u));
	u->efd = -1;
	rc = file_blk_open(&u->file, path, read_only, err, errlen);
	if (rc < 0)
		return rc;
	rc = io_uring_queue_init(depth, &u->ring, 0);
	if (rc < 0) {
		snprintf(err, errlen, "io_uring_queue_init(%u): %s", depth, strerror(-rc));
		file_blk_close(&u->file);
		return rc;
	}
	u->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (u->efd < 0 || io_uring_register_eventfd(&u->ring, u->efd) < 0) {
		snprintf(err, errlen, "io_uring eventfd: %s", strerror(errno));
		uring_blk_close(u);
		return VDEV_EIO;
	}
	u->ops = u->file.ops; /* same capabilities; route through the ring */
	u->ops.read = u_rw;
	if (u->file.ops.write != NULL)
		u->ops.write = u_rw;
	if (u->file.ops.flush != NULL)
		u->ops.flush = u_flush;
	if (u->file.ops.discard != NULL)
		u->ops.discard = u_discard;
	if (u->file.ops.write_zeroes != NULL)
		u->ops.write_zeroes = u_write_zeroes;
	if (u->file.ops.secure_erase != NULL)
		u->ops.secure_erase = u_secure_erase;
	u->ops.commit = u_commit; /* one io_uring_submit per processing pass */
	return 0;
}

void uring_blk_close(struct uring_blk *u)
{
	if (u->efd >= 0) {
		io_uring_queue_exit(&u->ring);
		close(u->efd);
	}
	u->efd = -1;
	file_blk_close(&u->file);
}

int uring_blk_eventfd(const struct uring_blk *u)
{
	return u->efd;
}

int uring_blk_submit(struct uring_blk *u)
{
	int rc = 0;

	if (u->queued > 0) {
		rc = io_uring_submit(&u->ring);
		if (rc >= 0)
			u->queued = 0;
	}
	return rc;
}

/* A read or write that moved less than asked: finish it synchronously. */
static int finish_short(struct uring_blk *u, struct vdev_blk_io *io, uint32_t *moved)
{
	uint64_t done = *moved;

	while (done < io->len) {
		struct iovec v[1];
		size_t skip = (size_t)done;
		unsigned i = 0;
		while (i < io->iovcnt && skip >= io->iov[i].len)
			skip -= io->iov[i++].len;
		if (i == io->iovcnt)
			break;
		v[0].iov_base = (uint8_t *)io->iov[i].base + skip;
		v[0].iov_len = io->iov[i].len - skip;
		ssize_t r = io->type == VDEV_BLK_IO_WRITE
				    ? pwritev(u->file.fd, v, 1, (off_t)(io->offset + done))
				    : preadv(u->file.fd, v, 1, (off_t)(io->offset + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break; /* error or end of file: stays short */
		done += (uint64_t)r;
	}
	*moved = (uint32_t)done;
	if (io->type == VDEV_BLK_IO_WRITE && done == io->len && (io->flags & VDEV_BLK_IO_FUA))
		return fdatasync(u->file.fd) == 0 ? 0 : -errno;
	return done == io->len || io->type == VDEV_BLK_IO_READ ? 0 : VDEV_EIO;
}

unsigned uring_blk_reap(struct uring_blk *u, bool wait)
{
	struct io_uring_cqe *cqe;
	unsigned completed = 0;
	uint64_t junk;

	(void)!read(u->efd, &junk, sizeof(junk)); /* reset the eventfd */
	if (wait && u->inflight > 0 && io_uring_peek_cqe(&u->ring, &cqe) != 0)
		(void)io_uring_wait_cqe(&u->ring, &cqe);
	while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		struct vdev_blk_io *io = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&u->ring, cqe);
		if (io == NULL)
			continue;
		if (res < 0 && io->backend_data[1] == 0)
			io->backend_data[1] = (uint64_t)-res;
		if (--io->backend_data[0] > 0)
			continue; /* more SQEs of this io outstanding */
		u->inflight--;
		int result = io->backend_data[1] ? -(int)io->backend_data[1] : 0;
		uint32_t moved = res > 0 ? (uint32_t)res : 0;
		if (result == 0 && (io->type == VDEV_BLK_IO_READ || io->type == VDEV_BLK_IO_WRITE) &&
		    moved < io->len)
			result = finish_short(u, io, &moved);
		vdev_blk_complete(u->blk, io, result, moved);
		completed++;
	}
	if (completed > 0)
		(void)vdev_blk_process(u->blk, u->queue);
	(void)uring_blk_submit(u);
	return completed;
}
