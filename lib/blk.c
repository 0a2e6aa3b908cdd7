/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-blk device model (spec "Block Device").
 *
 * Reads top-down: configuration layout and features, init, the request
 * path (pop -> parse -> one handler per request type -> backend ->
 * complete), reset.
 */
#include "vdev/blk.h"

#include "compiler.h"

#define P(x) VDEV_PRIV(x)

/* ---- spec constants ----------------------------------------------------------- */

#define VIRTIO_BLK_T_IN 0u
#define VIRTIO_BLK_T_OUT 1u
#define VIRTIO_BLK_T_FLUSH 4u
#define VIRTIO_BLK_T_GET_ID 8u
#define VIRTIO_BLK_T_GET_LIFETIME 10u
#define VIRTIO_BLK_T_DISCARD 11u
#define VIRTIO_BLK_T_WRITE_ZEROES 13u
#define VIRTIO_BLK_T_SECURE_ERASE 14u

#define VIRTIO_BLK_S_OK 0u
#define VIRTIO_BLK_S_IOERR 1u
#define VIRTIO_BLK_S_UNSUPP 2u

#define VIRTIO_BLK_WZ_FLAG_UNMAP 0x1u

#define REQ_HEADER_BYTES 16u /* le32 type, le32 reserved, le64 sector */
#define DWZ_SEGMENT_BYTES 16u /* le64 sector, le32 num_sectors, le32 flags */
#define LIFETIME_BYTES 6u

/* struct virtio_blk_config field offsets */
enum {
	CFG_CAPACITY = 0,
	CFG_SIZE_MAX = 8,
	CFG_SEG_MAX = 12,
	CFG_CYLINDERS = 16,
	CFG_HEADS = 18,
	CFG_SECTORS = 19,
	CFG_BLK_SIZE = 20,
	CFG_PHYS_BLOCK_EXP = 24,
	CFG_ALIGN_OFFSET = 25,
	CFG_MIN_IO_SIZE = 26,
	CFG_OPT_IO_SIZE = 28,
	CFG_WRITEBACK = 32,
	CFG_NUM_QUEUES = 34,
	CFG_MAX_DISCARD_SECTORS = 36,
	CFG_MAX_DISCARD_SEG = 40,
	CFG_DISCARD_ALIGNMENT = 44,
	CFG_MAX_WZ_SECTORS = 48,
	CFG_MAX_WZ_SEG = 52,
	CFG_WZ_MAY_UNMAP = 56,
	CFG_MAX_ERASE_SECTORS = 60,
	CFG_MAX_ERASE_SEG = 64,
	CFG_ERASE_ALIGNMENT = 68,
};

/* Request slot states. */
/* ORPHAN: in flight at a device reset; QORPHAN: at a reset of its queue.
 * Either way the backend still holds the guest buffers and the request is
 * never completed to the guest. */
enum { REQ_FREE = 0, REQ_BUSY = 1, REQ_ORPHAN = 2, REQ_QORPHAN = 3 };

#define BIT(b) VDEV_BIT(VDEV_BLK_F_##b)
#define DEFAULT_RING_FEATURES                                                              \
	(VDEV_BIT(VDEV_F_INDIRECT_DESC) | VDEV_BIT(VDEV_F_EVENT_IDX) |                      \
	 VDEV_BIT(VDEV_F_RING_PACKED) | VDEV_BIT(VDEV_F_RING_RESET))

static uint32_t or_default(uint32_t v, uint32_t dflt) { return v != 0 ? v : dflt; }

/* Ops tables are append-only and carry their size: an op is there only if
 * the table the backend was compiled with reaches it. */
#define HAS_OP(ops, op)                                                                   \
	((ops)->size >= offsetof(struct vdev_blk_backend_ops, op) + sizeof((ops)->op) &&     \
	 (ops)->op != NULL)

static bool negotiated(const struct vdev_blk *blk, unsigned bit)
{
	return vdev_dev_has_feature(&blk->P(dev), bit);
}

/* ---- features and configuration ------------------------------------------------- */

VDEV_API uint64_t vdev_blk_supported_features(const struct vdev_blk_config *cfg)
{
	const struct vdev_blk_backend_ops *ops = cfg->backend;
	uint64_t f = BIT(SEG_MAX);

	if (ops == NULL)
		return 0;
	if (cfg->size_max != 0)
		f |= BIT(SIZE_MAX);
	if (cfg->blk_size != 0)
		f |= BIT(BLK_SIZE);
	if (cfg->physical_block_exp || cfg->alignment_offset || cfg->min_io_size ||
	    cfg->opt_io_size)
		f |= BIT(TOPOLOGY);
	if (cfg->cylinders != 0)
		f |= BIT(GEOMETRY);
	if (cfg->num_queues > 1)
		f |= BIT(MQ);
	if (ops->flush != NULL)
		f |= BIT(FLUSH) | BIT(CONFIG_WCE); /* CONFIG_WCE needs FLUSH (spec) */
	if (HAS_OP(ops, get_lifetime))
		f |= BIT(LIFETIME);
	if (cfg->read_only) {
		f |= BIT(RO); /* nothing that modifies the disk is offered */
	} else {
		if (ops->discard != NULL)
			f |= BIT(DISCARD);
		if (ops->write_zeroes != NULL)
			f |= BIT(WRITE_ZEROES);
		if (ops->secure_erase != NULL)
			f |= BIT(SECURE_ERASE);
	}
	return f;
}

static void fill_config(struct vdev_blk *blk, const struct vdev_blk_config *cfg)
{
	uint8_t *c = blk->P(config);

	memset(c, 0, VDEV_BLK_CONFIG_SIZE); /* padding and unused fields are 0 */
	vdev__put_le64(c + CFG_CAPACITY, cfg->capacity);
	vdev__put_le32(c + CFG_SIZE_MAX, cfg->size_max);
	vdev__put_le32(c + CFG_SEG_MAX, cfg->seg_max);
	vdev__put_le16(c + CFG_CYLINDERS, cfg->cylinders);
	c[CFG_HEADS] = cfg->heads;
	c[CFG_SECTORS] = cfg->sectors;
	vdev__put_le32(c + CFG_BLK_SIZE, cfg->blk_size);
	c[CFG_PHYS_BLOCK_EXP] = cfg->physical_block_exp;
	c[CFG_ALIGN_OFFSET] = cfg->alignment_offset;
	vdev__put_le16(c + CFG_MIN_IO_SIZE, cfg->min_io_size);
	vdev__put_le32(c + CFG_OPT_IO_SIZE, cfg->opt_io_size);
	c[CFG_WRITEBACK] = cfg->writeback ? 1 : 0;
	vdev__put_le16(c + CFG_NUM_QUEUES, cfg->num_queues);
	vdev__put_le32(c + CFG_MAX_DISCARD_SECTORS, blk->P(max_discard_sectors));
	vdev__put_le32(c + CFG_MAX_DISCARD_SEG, blk->P(max_discard_seg));
	vdev__put_le32(c + CFG_DISCARD_ALIGNMENT, or_default(cfg->discard_sector_alignment, 1));
	vdev__put_le32(c + CFG_MAX_WZ_SECTORS, blk->P(max_wz_sectors));
	vdev__put_le32(c + CFG_MAX_WZ_SEG, blk->P(max_wz_seg));
	c[CFG_WZ_MAY_UNMAP] = cfg->write_zeroes_may_unmap ? 1 : 0;
	vdev__put_le32(c + CFG_MAX_ERASE_SECTORS, blk->P(max_erase_sectors));
	vdev__put_le32(c + CFG_MAX_ERASE_SEG, blk->P(max_erase_seg));
	vdev__put_le32(c + CFG_ERASE_ALIGNMENT, or_default(cfg->secure_erase_sector_alignment, 1));
}

VDEV_API bool vdev_blk_writeback(const struct vdev_blk *blk)
{
	/* Spec, "stable writes": without FLUSH negotiated every write must be
	 * stable at completion; with CONFIG_WCE the guest's writeback field
	 * decides; with FLUSH alone the cache is write-back. */
	if (!negotiated(blk, VDEV_BLK_F_FLUSH))
		return false;
	if (negotiated(blk, VDEV_BLK_F_CONFIG_WCE))
		return blk->P(config)[CFG_WRITEBACK] != 0;
	return true;
}

VDEV_API void vdev_blk_set_capacity(struct vdev_blk *blk, uint64_t sectors)
{
	blk->P(capacity) = sectors;
	vdev__put_le64(blk->P(config) + CFG_CAPACITY, sectors);
	vdev_dev_config_changed(&blk->P(dev));
}

/* ---- the request pool ------------------------------------------------------------- */

static struct vdev_blk_req *req_alloc(struct vdev_blk *blk)
{
	struct vdev_blk_req *r;

	if (blk->P(free_reqs) == 0)
		return NULL;
	r = &blk->P(reqs)[blk->P(free_head)];
	blk->P(free_head) = r->P(next_free);
	blk->P(free_reqs)--;
	return r;
}

static void req_free(struct vdev_blk *blk, struct vdev_blk_req *r)
{
	r->P(state) = REQ_FREE;
	r->P(next_free) = blk->P(free_head);
	blk->P(free_head) = (uint32_t)(r - blk->P(reqs));
	blk->P(free_reqs)++;
}

/*
 * Batching in vdev_blk_process(): chains are popped BLK_BATCH at a time
 * into slots with consecutive indices (so that their segments land in
 * place in `iovs`), and the requests the backend completes at once are
 * pushed together at the end of the batch. The batch's elements are
 * popped into `el`; a completion is staged in el[] at an index whose
 * element was already copied into its request (completions never outrun
 * the requests handled).
 */
#define BLK_BATCH VDEV_BLK_BATCH

/* Push the staged completions, in the order they came. */
static void batch_push(struct vdev_blk *blk, struct vdev_blk_batch *b)
{
	if (b->P(n) == 0)
		return;
	(void)vdev_vq_push_batch(&blk->P(queues)[b->P(q)], b->P(el), b->P(written), b->P(n));
	b->P(n) = 0;
}

/*
 * The run at the head of the free list: up to `want` (>= 1, <= free_reqs)
 * of its first slots, for as long as each extends the run of indices at
 * either end. Nothing is taken. Returns its length k; *lo: its lowest
 * index (the run is [*lo, *lo + k)).
 */
static unsigned peek_run(const struct vdev_blk *blk, unsigned want, uint32_t *lo)
{
	uint32_t i = blk->P(free_head), hi = i;
	unsigned k = 1;

	*lo = i;
	while (k < want) {
		i = blk->P(reqs)[i].P(next_free);
		if (i == hi + 1u)
			hi = i;
		else if (i + 1u == *lo)
			*lo = i;
		else
			break;
		k++;
	}
	return k;
}

/* Take slots [lo, lo + m) off the free list, all among its first k. */
static void take_slots(struct vdev_blk *blk, unsigned k, uint32_t lo, unsigned m)
{
	uint32_t *link = &blk->P(free_head);
	unsigned left = m;

	for (unsigned j = 0; j < k && left > 0; j++) {
		uint32_t i = *link;

		if (i - lo < m) {
			*link = blk->P(reqs)[i].P(next_free); /* unlinked */
			left--;
		} else {
			link = &blk->P(reqs)[i].P(next_free);
		}
	}
	blk->P(free_reqs) -= m;
}

/* ---- completion -------------------------------------------------------------------- */

/*
 * Answer the guest: the status byte (if the chain has one) and a used
 * element covering only bytes actually written. Then free the slot.
 */
static void finish(struct vdev_blk *blk, struct vdev_blk_req *r, unsigned status)
{
	struct vdev_vq *vq = &blk->P(queues)[r->P(io).queue];
	uint32_t written = r->P(data_in);

	if (r->P(status) != NULL) {
		*(volatile uint8_t *)r->P(status) = (uint8_t)status;
		written++;
	} else {
		blk->P(stats).no_status++;
	}
	if (status == VIRTIO_BLK_S_IOERR)
		blk->P(stats).ioerr++;
	else if (status == VIRTIO_BLK_S_UNSUPP)
		blk->P(stats).unsupp++;
	if (blk->P(batch) != NULL && blk->P(batch)->P(q) == r->P(io).queue) {
		struct vdev_blk_batch *b = blk->P(batch);

		b->P(el)[b->P(n)] = r->P(elem);
		b->P(written)[b->P(n)++] = written;
	} else {
		(void)vdev_vq_push(vq, &r->P(elem), written);
	}
	req_free(blk, r);
}

/* Map a backend result to a status; account the data moved. */
static unsigned result_status(struct vdev_blk *blk, struct vdev_blk_req *r, int result)
{
	struct vdev_blk_io *io = &r->P(io);

	if (io->type == VDEV_BLK_IO_READ) {
		uint32_t got = result < 0 ? 0 : r->P(done);
		/* Only what the backend says it read is reported to the guest. */
		r->P(data_in) = got;
		blk->P(stats).bytes_read += got;
		return result < 0 || got < io->len ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	}
	if (io->type == VDEV_BLK_IO_WRITE && result == 0)
		blk->P(stats).bytes_written += io->len;
	return result < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

VDEV_API void vdev_blk_io_set_done(struct vdev_blk_io *io, uint32_t bytes)
{
	struct vdev_blk_req *r = (struct vdev_blk_req *)io; /* io is the slot's first member */

	r->P(done) = bytes <= io->len ? bytes : (uint32_t)io->len;
}

static unsigned queue_orphans(const struct vdev_blk *blk, uint16_t q);

VDEV_API void vdev_blk_complete(struct vdev_blk *blk, struct vdev_blk_io *io, int result,
				uint32_t bytes)
{
	struct vdev_blk_req *r = (struct vdev_blk_req *)io;

	/* A completion for something that is not an accepted request of this
	 * device is a host bug; ignore it rather than corrupt the pool. */
	if (r < blk->P(reqs) || r >= blk->P(reqs) + blk->P(num_reqs) ||
	    (r->P(state) != REQ_BUSY && r->P(state) != REQ_ORPHAN && r->P(state) != REQ_QORPHAN))
		return;
	if (r->P(state) != REQ_BUSY) {
		/* The device or the queue was reset while the backend held the
		 * buffers. The last of a queue's finishes its reset. */
		bool queue_orphan = r->P(state) == REQ_QORPHAN;
		uint16_t q = io->queue;
		req_free(blk, r);
		if (queue_orphan && queue_orphans(blk, q) == 0)
			vdev_dev_queue_reset_complete(&blk->P(dev), q);
		if (--blk->P(orphans) == 0 && blk->P(reset_pending)) {
			blk->P(reset_pending) = false;
			vdev_dev_reset_complete(&blk->P(dev));
		}
		return;
	}
	if (io->type == VDEV_BLK_IO_READ)
		vdev_blk_io_set_done(io, bytes);
	/* Completed from inside a backend op of vdev_blk_process(): after
	 * what that batch completed so far, and not staged (the slot that
	 * would take it may hold an element not handled yet). */
	struct vdev_blk_batch *b = blk->P(batch);
	if (b != NULL) {
		batch_push(blk, b);
		blk->P(batch) = NULL;
	}
	finish(blk, r, result_status(blk, r, result));
	blk->P(batch) = b;
	vdev_vq_flush(&blk->P(queues)[io->queue]);
}

/* Hand an io to the backend; complete it now unless it went asynchronous. */
static void submit(struct vdev_blk *blk, struct vdev_blk_req *r,
		   int (*op)(void *, struct vdev_blk_io *))
{
	int rc;

	if (op == NULL) {
		finish(blk, r, VIRTIO_BLK_S_UNSUPP);
		return;
	}
	if (r->P(io).type == VDEV_BLK_IO_READ)
		r->P(done) = (uint32_t)r->P(io).len; /* a full read unless told otherwise */
	r->P(state) = REQ_BUSY;
	rc = op(blk->P(opaque), &r->P(io));
	if (rc == VDEV_BLK_ASYNC) {
		blk->P(commit_pending) = true;
		return;
	}
	finish(blk, r, result_status(blk, r, rc < 0 ? rc : 0));
}

/* ---- parsing helpers --------------------------------------------------------------- */

/*
 * Drop `skip` bytes from the front of a segment list, in place. Returns the
 * number of segments left (the first one possibly shortened).
 */
static unsigned iov_skip_front(struct vdev_iov **iov, unsigned n, size_t skip)
{
	struct vdev_iov *v = *iov;

	while (n > 0 && skip >= v->len) {
		skip -= v->len;
		v++;
		n--;
	}
	if (n > 0 && skip > 0) {
		v->base = (uint8_t *)v->base + skip;
		v->len -= skip;
	}
	*iov = v;
	return n;
}

/* Drop `cut` bytes from the end of a segment list, in place. */
static unsigned iov_cut_back(struct vdev_iov *iov, unsigned n, size_t cut)
{
	while (n > 0 && cut >= iov[n - 1].len) {
		cut -= iov[n - 1].len;
		n--;
	}
	if (n > 0)
		iov[n - 1].len -= cut;
	return n;
}

/* [sector, sector + count) inside the disk, computed without overflow. */
static bool range_ok(const struct vdev_blk *blk, uint64_t sector, uint64_t count)
{
	return sector <= blk->P(capacity) && count <= blk->P(capacity) - sector;
}

/* ---- one handler per request type --------------------------------------------------- */

static void do_read_write(struct vdev_blk *blk, struct vdev_blk_req *r, uint32_t type,
			  uint64_t sector)
{
	struct vdev_vq_elem *e = &r->P(elem);
	struct vdev_blk_io *io = &r->P(io);
	struct vdev_iov *v;
	unsigned n;
	uint64_t len;

	if (type == VIRTIO_BLK_T_IN) {
		/* data: every writable byte but the status byte */
		v = e->iov + e->n_out;
		len = e->in_bytes - 1u;
		if (VDEV__LIKELY(v[e->n_in - 1u].len == 1)) /* the status in its own segment */
			n = e->n_in - 1u;
		else
			n = iov_cut_back(v, e->n_in, 1);
		io->type = VDEV_BLK_IO_READ;
		blk->P(stats).reads++;
	} else {
		if (blk->P(read_only)) {
			finish(blk, r, VIRTIO_BLK_S_IOERR); /* and no data written (spec) */
			return;
		}
		/* data: every readable byte after the header */
		v = e->iov;
		len = e->out_bytes - REQ_HEADER_BYTES;
		if (VDEV__LIKELY(v[0].len == REQ_HEADER_BYTES)) { /* the header in its own segment */
			v++;
			n = e->n_out - 1u;
		} else {
			n = iov_skip_front(&v, e->n_out, REQ_HEADER_BYTES);
		}
		io->type = VDEV_BLK_IO_WRITE;
		io->flags = vdev_blk_writeback(blk) ? 0 : VDEV_BLK_IO_FUA;
		blk->P(stats).writes++;
	}
	if (len % VDEV_BLK_SECTOR_SIZE != 0 ||
	    !range_ok(blk, sector, len / VDEV_BLK_SECTOR_SIZE)) {
		finish(blk, r, VIRTIO_BLK_S_IOERR);
		return;
	}
	io->offset = sector * VDEV_BLK_SECTOR_SIZE; /* < 2^64: sector <= capacity < 2^55 */
	io->len = len;
	io->iov = v;
	io->iovcnt = n;
	submit(blk, r, type == VIRTIO_BLK_T_IN ? blk->P(ops)->read : blk->P(ops)->write);
}

static void do_discard_family(struct vdev_blk *blk, struct vdev_blk_req *r, uint32_t type)
{
	struct vdev_vq_elem *e = &r->P(elem);
	struct vdev_blk_io *io = &r->P(io);
	struct vdev_blk_range *ranges =
		blk->P(ranges) + (size_t)(r - blk->P(reqs)) * blk->P(ranges_per_req);
	unsigned feature, max_seg;
	uint32_t max_sectors;
	int (*op)(void *, struct vdev_blk_io *);
	uint64_t data = e->out_bytes - REQ_HEADER_BYTES;
	bool all_unmap = true;

	if (type == VIRTIO_BLK_T_DISCARD) {
		feature = VDEV_BLK_F_DISCARD, op = blk->P(ops)->discard;
		max_seg = blk->P(max_discard_seg), max_sectors = blk->P(max_discard_sectors);
		io->type = VDEV_BLK_IO_DISCARD;
		blk->P(stats).discards++;
	} else if (type == VIRTIO_BLK_T_WRITE_ZEROES) {
		feature = VDEV_BLK_F_WRITE_ZEROES, op = blk->P(ops)->write_zeroes;
		max_seg = blk->P(max_wz_seg), max_sectors = blk->P(max_wz_sectors);
		io->type = VDEV_BLK_IO_WRITE_ZEROES;
		blk->P(stats).write_zeroes++;
	} else {
		feature = VDEV_BLK_F_SECURE_ERASE, op = blk->P(ops)->secure_erase;
		max_seg = blk->P(max_erase_seg), max_sectors = blk->P(max_erase_sectors);
		io->type = VDEV_BLK_IO_SECURE_ERASE;
		blk->P(stats).secure_erases++;
	}
	if (!negotiated(blk, feature) || op == NULL) {
		finish(blk, r, VIRTIO_BLK_S_UNSUPP);
		return;
	}
	if (blk->P(read_only) || data == 0 || data % DWZ_SEGMENT_BYTES != 0 ||
	    data / DWZ_SEGMENT_BYTES > max_seg) {
		finish(blk, r, VIRTIO_BLK_S_IOERR);
		return;
	}
	io->nranges = (unsigned)(data / DWZ_SEGMENT_BYTES);
	for (unsigned i = 0; i < io->nranges; i++) {
		uint8_t seg[DWZ_SEGMENT_BYTES];
		uint64_t sector;
		uint32_t count, flags;

		/* Each segment copied out once; it may straddle descriptors. */
		vdev_iov_to_buf(e->iov, e->n_out, REQ_HEADER_BYTES + (size_t)i * DWZ_SEGMENT_BYTES,
				seg, sizeof(seg));
		sector = vdev__get_le64(seg);
		count = vdev__get_le32(seg + 8);
		flags = vdev__get_le32(seg + 12);
		/* unknown flags, or unmap on a discard: UNSUPP (spec) */
		if ((flags & ~VIRTIO_BLK_WZ_FLAG_UNMAP) != 0 ||
		    (type != VIRTIO_BLK_T_WRITE_ZEROES && (flags & VIRTIO_BLK_WZ_FLAG_UNMAP))) {
			finish(blk, r, VIRTIO_BLK_S_UNSUPP);
			return;
		}
		if (count > max_sectors || !range_ok(blk, sector, count)) {
			finish(blk, r, VIRTIO_BLK_S_IOERR);
			return;
		}
		all_unmap = all_unmap && (flags & VIRTIO_BLK_WZ_FLAG_UNMAP);
		ranges[i].offset = sector * VDEV_BLK_SECTOR_SIZE;
		ranges[i].len = (uint64_t)count * VDEV_BLK_SECTOR_SIZE;
	}
	if (type == VIRTIO_BLK_T_WRITE_ZEROES && all_unmap &&
	    blk->P(config)[CFG_WZ_MAY_UNMAP] != 0)
		io->flags = VDEV_BLK_IO_UNMAP;
	io->ranges = ranges;
	submit(blk, r, op);
}

/* Copy a reply into the data area (writable bytes before the status). */
static void reply(struct vdev_blk_req *r, const void *buf, uint32_t len)
{
	struct vdev_vq_elem *e = &r->P(elem);
	uint32_t room = e->in_bytes - 1u;

	if (len > room)
		len = room;
	r->P(data_in) = (uint32_t)vdev_iov_from_buf(e->iov + e->n_out, e->n_in, 0, buf, len);
}

static void handle(struct vdev_blk *blk, struct vdev_blk_req *r, uint16_t q)
{
	struct vdev_vq_elem *e = &r->P(elem);
	struct vdev_iov *last;
	uint8_t hdr[REQ_HEADER_BYTES];
	uint32_t type;
	uint64_t sector;

	blk->P(stats).requests++;
	r->P(status) = NULL;
	r->P(data_in) = 0;
	r->P(done) = 0;
	memset(&r->P(io), 0, sizeof(r->P(io)));
	r->P(io).queue = q;
	/* The status byte is the last writable byte, wherever it is. A chain
	 * without one (rejected, or no writable part) is completed empty. */
	if (e->error != 0 || e->n_in == 0) {
		finish(blk, r, VIRTIO_BLK_S_IOERR);
		return;
	}
	last = &e->iov[e->n_out + e->n_in - 1];
	r->P(status) = (uint8_t *)last->base + last->len - 1;
	/* The header, copied out once (it may span descriptors). */
	if (e->out_bytes < REQ_HEADER_BYTES) {
		finish(blk, r, VIRTIO_BLK_S_IOERR);
		return;
	}
	if (VDEV__LIKELY(e->iov[0].len >= sizeof(hdr))) /* n_out >= 1: out_bytes >= 16 */
		memcpy(hdr, e->iov[0].base, sizeof(hdr));
	else
		vdev_iov_to_buf(e->iov, e->n_out, 0, hdr, sizeof(hdr));
	type = vdev__get_le32(hdr);
	sector = vdev__get_le64(hdr + 8);

	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		do_read_write(blk, r, type, sector);
		break;
	case VIRTIO_BLK_T_FLUSH:
		blk->P(stats).flushes++;
		r->P(io).type = VDEV_BLK_IO_FLUSH;
		submit(blk, r, negotiated(blk, VDEV_BLK_F_FLUSH) ? blk->P(ops)->flush : NULL);
		break;
	case VIRTIO_BLK_T_GET_ID:
		blk->P(stats).get_id++;
		reply(r, blk->P(serial), VDEV_BLK_ID_BYTES);
		finish(blk, r, VIRTIO_BLK_S_OK);
		break;
	case VIRTIO_BLK_T_GET_LIFETIME: {
		struct vdev_blk_lifetime lt = {0};
		uint8_t out[LIFETIME_BYTES];

		blk->P(stats).get_lifetime++;
		if (!negotiated(blk, VDEV_BLK_F_LIFETIME) || !HAS_OP(blk->P(ops), get_lifetime)) {
			finish(blk, r, VIRTIO_BLK_S_UNSUPP);
			break;
		}
		if (e->in_bytes - 1u < LIFETIME_BYTES ||
		    blk->P(ops)->get_lifetime(blk->P(opaque), &lt) < 0 || lt.pre_eol_info > 3 ||
		    lt.device_lifetime_est_typ_a > 11 || lt.device_lifetime_est_typ_b > 11) {
			/* short buffer, backend failure, or reserved values
			 * the spec forbids us to send */
			finish(blk, r, VIRTIO_BLK_S_IOERR);
			break;
		}
		vdev__put_le16(out, lt.pre_eol_info);
		vdev__put_le16(out + 2, lt.device_lifetime_est_typ_a);
		vdev__put_le16(out + 4, lt.device_lifetime_est_typ_b);
		reply(r, out, sizeof(out));
		finish(blk, r, VIRTIO_BLK_S_OK);
		break;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
	case VIRTIO_BLK_T_SECURE_ERASE:
		do_discard_family(blk, r, type);
		break;
	default:
		finish(blk, r, VIRTIO_BLK_S_UNSUPP);
		break;
	}
}

/* ---- the queue loop -------------------------------------------------------------------- */

/* The end of a process pass on queue q: publish what it completed, and
 * let a backend that batches submissions submit what it accepted. */
static void pass_end(struct vdev_blk *blk, struct vdev_vq *vq, uint16_t q)
{
	vdev_vq_flush(vq);
	if (blk->P(commit_pending)) {
		blk->P(commit_pending) = false;
		if (HAS_OP(blk->P(ops), commit))
			blk->P(ops)->commit(blk->P(opaque), q);
	}
}

/* One chain at a time, completions pushed as they come (no batch). */
static int process_one_by_one(struct vdev_blk *blk, uint16_t q)
{
	struct vdev_vq *vq = &blk->P(queues)[q];
	struct vdev_blk_batch *outer = blk->P(batch);
	int taken = 0;

	if (outer != NULL)
		batch_push(blk, outer); /* what it completed comes first */
	blk->P(batch) = NULL;
	for (;;) {
		struct vdev_blk_req *r = req_alloc(blk);
		int rc;

		if (r == NULL) {
			blk->P(stats).pool_full++;
			break;
		}
		rc = vdev_vq_pop(vq, &r->P(elem),
				 blk->P(iovs) + (size_t)(r - blk->P(reqs)) * blk->P(iov_per_req),
				 blk->P(iov_per_req));
		if (rc <= 0) {
			req_free(blk, r);
			if (rc < 0 && taken == 0)
				taken = rc;
			break;
		}
		handle(blk, r, q);
		taken++;
	}
	blk->P(batch) = outer;
	pass_end(blk, vq, q);
	return taken;
}

VDEV_API int vdev_blk_process(struct vdev_blk *blk, uint16_t q)
{
	struct vdev_blk_batch *b = &blk->P(batch_store);
	struct vdev_vq *vq;
	unsigned want = BLK_BATCH;
	int taken = 0;

	if (q >= blk->P(num_queues))
		return VDEV_ENOENT;
	/* A backend op that calls vdev_blk_process() again (for another
	 * queue) runs unbatched inside ours. */
	if (blk->P(processing))
		return process_one_by_one(blk, q);
	vq = &blk->P(queues)[q];
	b->P(n) = 0;
	b->P(q) = q;
	blk->P(processing) = true;
	blk->P(batch) = b;
	for (;;) {
		/* Pop only what can be completed: one free slot per chain. */
		uint32_t lo;
		unsigned k, i;
		int rc;

		if (blk->P(free_reqs) == 0) {
			blk->P(stats).pool_full++;
			break;
		}
		k = peek_run(blk, VDEV__MIN(blk->P(free_reqs), want), &lo);
		rc = vdev_vq_pop_batch(vq, b->P(el), k, blk->P(iovs) + (size_t)lo * blk->P(iov_per_req),
				       blk->P(iov_per_req));
		if (rc > 0)
			take_slots(blk, k, lo, (unsigned)rc);
		/* A pop short of what it was offered found the ring drained:
		 * the next one (which re-arms notifications if it is empty)
		 * most likely finds little; it looks at one slot, not a run. */
		want = rc >= 0 && (unsigned)rc < k ? 1u : BLK_BATCH;
		if (rc <= 0) {
			if (rc < 0 && taken == 0)
				taken = rc;
			break;
		}
		for (i = 0; i < (unsigned)rc; i++) {
			struct vdev_blk_req *r = &blk->P(reqs)[lo + i];

			r->P(elem) = b->P(el)[i];
			handle(blk, r, q);
		}
		batch_push(blk, b);
		taken += rc;
	}
	blk->P(batch) = NULL;
	blk->P(processing) = false;
	pass_end(blk, vq, q);
	return taken;
}

/* ---- device core ops ---------------------------------------------------------------------- */

static int blk_validate_features(void *opaque, uint64_t f)
{
	struct vdev_blk *blk = opaque;

	/* CONFIG_WCE without FLUSH: writeback starts at 0 (spec). */
	if ((f & BIT(CONFIG_WCE)) && !(f & BIT(FLUSH)))
		blk->P(config)[CFG_WRITEBACK] = 0;
	return 0;
}

static void blk_queue_notify(void *opaque, uint16_t q)
{
	(void)vdev_blk_process(opaque, q);
}

static void blk_config_write(void *opaque, uint32_t off, const void *data, uint32_t len)
{
	struct vdev_blk *blk = opaque;
	uint8_t v;

	/* Only `writeback` is writable, and only with CONFIG_WCE. */
	if (off > CFG_WRITEBACK || off + len <= CFG_WRITEBACK ||
	    !negotiated(blk, VDEV_BLK_F_CONFIG_WCE))
		return;
	v = ((const uint8_t *)data)[CFG_WRITEBACK - off];
	if (v <= 1)
		blk->P(config)[CFG_WRITEBACK] = v;
}

/*
 * Cancel (or forget) everything in flight on queue q (all queues: q < 0).
 * Every request is marked before any cancel op runs, so a backend that
 * completes from inside cancel finds the full set already orphaned. For a
 * queue reset the hold is taken before the cancels, for the same reason.
 */
static unsigned orphan_requests(struct vdev_blk *blk, int q)
{
	uint8_t mark = q >= 0 ? REQ_QORPHAN : REQ_ORPHAN;
	unsigned n = 0;

	for (unsigned i = 0; i < blk->P(num_reqs); i++) {
		struct vdev_blk_req *r = &blk->P(reqs)[i];
		if (r->P(state) != REQ_BUSY || (q >= 0 && r->P(io).queue != q))
			continue;
		r->P(state) = mark;
		blk->P(orphans)++;
		n++;
	}
	if (n == 0)
		return 0;
	if (q >= 0)
		vdev_dev_queue_reset_hold(&blk->P(dev), (uint32_t)q);
	if (HAS_OP(blk->P(ops), cancel)) {
		for (unsigned i = 0; i < blk->P(num_reqs); i++) {
			struct vdev_blk_req *r = &blk->P(reqs)[i];
			if (r->P(state) == mark && (q < 0 || r->P(io).queue == q))
				blk->P(ops)->cancel(blk->P(opaque), &r->P(io));
		}
	}
	return n;
}

/* Requests orphaned by a reset of queue q that the backend still holds. */
static unsigned queue_orphans(const struct vdev_blk *blk, uint16_t q)
{
	unsigned n = 0;

	for (unsigned i = 0; i < blk->P(num_reqs); i++)
		n += blk->P(reqs)[i].P(state) == REQ_QORPHAN && blk->P(reqs)[i].P(io).queue == q;
	return n;
}

static int blk_reset(void *opaque)
{
	struct vdev_blk *blk = opaque;

	blk->P(config)[CFG_WRITEBACK] = blk->P(writeback_default) ? 1 : 0;
	orphan_requests(blk, -1);
	if (blk->P(orphans) == 0)
		return 0;
	/* Guest buffers are still with the backend: the reset completes when
	 * the last of them is handed back (vdev_blk_complete). */
	blk->P(reset_pending) = true;
	return VDEV_EBUSY;
}

static void blk_queue_reset(void *opaque, uint16_t q)
{
	orphan_requests(opaque, q);
}

static const struct vdev_dev_ops blk_dev_ops = {
	.size = sizeof(struct vdev_dev_ops),
	.validate_features = blk_validate_features,
	.reset = blk_reset,
	.queue_notify = blk_queue_notify,
	.config_write = blk_config_write,
	.queue_reset = blk_queue_reset,
};

/* ---- init ---------------------------------------------------------------------------------- */

VDEV_API int vdev_blk_init(struct vdev_blk *blk, const struct vdev_blk_config *cfg)
{
	uint64_t supported, device_features, ring;
	unsigned ranges_per_req;
	int rc;

	if (blk == NULL || cfg == NULL || cfg->backend == NULL || cfg->backend->read == NULL ||
	    (cfg->backend->write == NULL && !cfg->read_only) || cfg->num_queues == 0 ||
	    cfg->num_queues > VDEV_MAX_QUEUES || cfg->queue_size == 0 ||
	    cfg->queue_size > VDEV_VQ_MAX_SIZE || cfg->seg_max == 0 || cfg->num_reqs == 0 ||
	    cfg->iov_per_req < cfg->seg_max + 2u || cfg->mem == NULL || cfg->queues == NULL ||
	    cfg->queue_held == NULL || cfg->reqs == NULL || cfg->iovs == NULL)
		return VDEV_EINVAL;
	supported = vdev_blk_supported_features(cfg);
	device_features = cfg->features != 0 ? cfg->features : supported;
	if ((device_features & ~supported) != 0)
		return VDEV_EINVAL; /* asks for something the backend cannot do */
	if ((device_features & BIT(CONFIG_WCE)) && !(device_features & BIT(FLUSH)))
		return VDEV_EINVAL; /* spec: CONFIG_WCE only with FLUSH */
	memset(blk, 0, sizeof(*blk));
	blk->P(max_discard_sectors) = or_default(cfg->max_discard_sectors, UINT32_MAX);
	blk->P(max_discard_seg) = or_default(cfg->max_discard_seg, 1);
	blk->P(max_wz_sectors) = or_default(cfg->max_write_zeroes_sectors, UINT32_MAX);
	blk->P(max_wz_seg) = or_default(cfg->max_write_zeroes_seg, 1);
	blk->P(max_erase_sectors) = or_default(cfg->max_secure_erase_sectors, UINT32_MAX);
	blk->P(max_erase_seg) = or_default(cfg->max_secure_erase_seg, 1);
	ranges_per_req = 0;
	if (device_features & BIT(DISCARD))
		ranges_per_req = blk->P(max_discard_seg);
	if ((device_features & BIT(WRITE_ZEROES)) && blk->P(max_wz_seg) > ranges_per_req)
		ranges_per_req = blk->P(max_wz_seg);
	if ((device_features & BIT(SECURE_ERASE)) && blk->P(max_erase_seg) > ranges_per_req)
		ranges_per_req = blk->P(max_erase_seg);
	if (ranges_per_req != 0 && cfg->ranges == NULL)
		return VDEV_EINVAL;
	if (cfg->capacity > UINT64_MAX / VDEV_BLK_SECTOR_SIZE ||
	    cfg->backend->size < offsetof(struct vdev_blk_backend_ops, get_lifetime))
		return VDEV_EINVAL; /* a table too old to hold the data ops */
	blk->P(ops) = cfg->backend;
	blk->P(opaque) = cfg->backend_opaque;
	blk->P(queues) = cfg->queues;
	blk->P(reqs) = cfg->reqs;
	blk->P(num_reqs) = cfg->num_reqs;
	blk->P(iovs) = cfg->iovs;
	blk->P(iov_per_req) = cfg->iov_per_req;
	blk->P(ranges) = cfg->ranges;
	blk->P(ranges_per_req) = ranges_per_req;
	blk->P(capacity) = cfg->capacity;
	blk->P(seg_max) = cfg->seg_max;
	blk->P(num_queues) = cfg->num_queues;
	blk->P(read_only) = cfg->read_only;
	blk->P(writeback_default) = cfg->writeback;
	memcpy(blk->P(serial), cfg->serial, VDEV_BLK_ID_BYTES);
	fill_config(blk, cfg);
	for (unsigned i = 0; i < cfg->num_reqs; i++) {
		cfg->reqs[i].P(state) = REQ_FREE;
		cfg->reqs[i].P(next_free) = i + 1;
	}
	blk->P(free_head) = 0;
	blk->P(free_reqs) = cfg->num_reqs;

	ring = cfg->ring_features != 0 ? cfg->ring_features : DEFAULT_RING_FEATURES;
	struct vdev_dev_config dc = {
		.device_id = VDEV_ID_BLOCK,
		.features = device_features | ring | VDEV_BIT(VDEV_F_VERSION_1),
		.queues = cfg->queues,
		.queue_held = cfg->queue_held,
		.num_queues = cfg->num_queues,
		.queue_max_size = cfg->queue_size,
		.config = blk->P(config),
		.config_len = VDEV_BLK_CONFIG_SIZE,
		.mem = cfg->mem,
		.ops = &blk_dev_ops,
		.opaque = blk,
	};
	rc = vdev_dev_init(&blk->P(dev), &dc);
	return rc;
}

VDEV_API struct vdev_dev *vdev_blk_dev(struct vdev_blk *blk)
{
	return &blk->P(dev);
}

VDEV_API unsigned vdev_blk_inflight(const struct vdev_blk *blk)
{
	unsigned n = 0;

	for (unsigned i = 0; i < blk->P(num_reqs); i++)
		n += blk->P(reqs)[i].P(state) != REQ_FREE;
	return n;
}

VDEV_API void vdev_blk_get_stats(const struct vdev_blk *blk, struct vdev_blk_stats *out)
{
	*out = blk->P(stats);
}
