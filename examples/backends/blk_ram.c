/* SPDX-License-Identifier: MIT */
/* RAM block backend: see blk_ram.h. */
#include "blk_ram.h"

#include <stdlib.h>
#include <string.h>

int ram_blk_init(struct ram_blk *r, uint64_t size, unsigned max_held)
{
	memset(r, 0, sizeof(*r));
	r->data = calloc(1, (size_t)size);
	r->held = calloc(max_held ? max_held : 1, sizeof(*r->held));
	if (r->data == NULL || r->held == NULL) {
		free(r->data);
		free(r->held);
		return VDEV_ENOMEM;
	}
	r->size = size;
	r->cap = max_held;
	return 0;
}

void ram_blk_destroy(struct ram_blk *r)
{
	free(r->data);
	free(r->held);
	memset(r, 0, sizeof(*r));
}

/* Do the work of one io; returns its result and sets the read count. */
static int execute(struct ram_blk *r, struct vdev_blk_io *io, uint32_t *bytes)
{
	uint64_t off = io->offset;

	*bytes = 0;
	if (r->fail_next > 0) {
		r->fail_next--;
		return VDEV_EIO;
	}
	switch (io->type) {
	case VDEV_BLK_IO_READ:
	case VDEV_BLK_IO_WRITE:
		if (off > r->size || io->len > r->size - off)
			return VDEV_EIO; /* the device model checked; a backend checks again */
		for (unsigned i = 0; i < io->iovcnt; i++) {
			size_t n = io->iov[i].len;
			if (io->type == VDEV_BLK_IO_READ) {
				if (r->short_read && *bytes + n > r->short_read)
					n = r->short_read - *bytes;
				memcpy(io->iov[i].base, r->data + off, n);
				*bytes += (uint32_t)n;
				if (n < io->iov[i].len)
					break;
			} else {
				memcpy(r->data + off, io->iov[i].base, n);
			}
			off += n;
		}
		return 0;
	case VDEV_BLK_IO_FLUSH:
		return 0;
	case VDEV_BLK_IO_DISCARD:
	case VDEV_BLK_IO_WRITE_ZEROES:
	case VDEV_BLK_IO_SECURE_ERASE:
		for (unsigned i = 0; i < io->nranges; i++) {
			const struct vdev_blk_range *g = &io->ranges[i];
			if (g->offset > r->size || g->len > r->size - g->offset)
				return VDEV_EIO;
			/* discarded ranges read back as zeroes here too */
			memset(r->data + g->offset, 0, (size_t)g->len);
		}
		return 0;
	default:
		return VDEV_ENOSYS;
	}
}

static int submit(struct ram_blk *r, struct vdev_blk_io *io)
{
	uint32_t bytes;
	int rc;

	switch (io->type) {
	case VDEV_BLK_IO_READ: r->reads++; break;
	case VDEV_BLK_IO_WRITE:
		r->writes++;
		r->fua_writes += (io->flags & VDEV_BLK_IO_FUA) != 0;
		break;
	case VDEV_BLK_IO_FLUSH: r->flushes++; break;
	case VDEV_BLK_IO_DISCARD: r->discards++; break;
	case VDEV_BLK_IO_WRITE_ZEROES:
		r->write_zeroes++;
		r->unmaps += (io->flags & VDEV_BLK_IO_UNMAP) != 0;
		break;
	case VDEV_BLK_IO_SECURE_ERASE: r->erases++; break;
	}
	if (r->async && r->nheld < r->cap) {
		r->held[r->nheld++] = io;
		return VDEV_BLK_ASYNC;
	}
	rc = execute(r, io, &bytes);
	if (io->type == VDEV_BLK_IO_READ)
		vdev_blk_io_set_done(io, bytes);
	return rc;
}

unsigned ram_blk_complete_some(struct ram_blk *r, unsigned n, uint32_t seed)
{
	unsigned done = 0;

	while (done < n && r->nheld > 0) {
		unsigned k = 0;
		if (seed != 0) {
			seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
			k = seed % r->nheld;
		}
		struct vdev_blk_io *io = r->held[k];
		memmove(&r->held[k], &r->held[k + 1], (r->nheld - k - 1) * sizeof(*r->held));
		r->nheld--;
		uint32_t bytes;
		int rc = execute(r, io, &bytes);
		vdev_blk_complete(r->blk, io, rc, bytes);
		done++;
	}
	return done;
}

static int op(void *o, struct vdev_blk_io *io) { return submit(o, io); }

static int get_lifetime(void *o, struct vdev_blk_lifetime *out)
{
	*out = ((struct ram_blk *)o)->lifetime;
	return 0;
}

static void cancel(void *o, struct vdev_blk_io *io)
{
	(void)io;
	((struct ram_blk *)o)->cancels++;
}

const struct vdev_blk_backend_ops ram_blk_ops = {
	.size = sizeof(struct vdev_blk_backend_ops),
	.read = op,
	.write = op,
	.flush = op,
	.discard = op,
	.write_zeroes = op,
	.secure_erase = op,
	.cancel = cancel,
};

const struct vdev_blk_backend_ops ram_blk_ops_lifetime = {
	.size = sizeof(struct vdev_blk_backend_ops),
	.read = op,
	.write = op,
	.flush = op,
	.discard = op,
	.write_zeroes = op,
	.secure_erase = op,
	.get_lifetime = get_lifetime,
	.cancel = cancel,
};
