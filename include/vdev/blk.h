/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-blk device model (spec "Block Device").
 *
 * Features: FLUSH, CONFIG_WCE (write-back / write-through switched by the
 * guest at run time; in write-through every write is durable before it
 * completes), DISCARD, WRITE_ZEROES (with UNMAP), SECURE_ERASE, SEG_MAX,
 * SIZE_MAX, BLK_SIZE, TOPOLOGY, GEOMETRY, RO, MQ, GET_ID, LIFETIME, plus
 * the ring features of the core. The integrator chooses what to offer;
 * by default everything the backend can do is offered.
 *
 * Requests are parsed without assuming any descriptor layout: the 16-byte
 * header, the data and the status byte may be split or merged across
 * descriptors in any way. Sector ranges are checked against the capacity
 * with overflow-safe arithmetic, lengths against the advertised limits;
 * malformed requests are answered VIRTIO_BLK_S_IOERR or _UNSUPP as the
 * spec says, and a chain with no room for a status byte is still
 * completed (with nothing written).
 *
 * The backend is an ops table. Each op either completes at once (returns
 * 0 or a negative VDEV_E*) or accepts the request (returns
 * VDEV_BLK_ASYNC) and later calls vdev_blk_complete(). In-flight
 * requests live in a caller-sized pool; when it is full the device stops
 * taking chains off the ring until a request completes.
 *
 * Context: all vdev_blk_* calls for one request queue, and the backend's
 * vdev_blk_complete() for requests of that queue, must come from one
 * thread at a time (the queue's processing thread, or under the
 * integrator's lock). Different queues may run on different threads.
 */
#ifndef VDEV_BLK_H
#define VDEV_BLK_H

/* Absent from a build with VDEV_CONFIG_DEV_BLK 0 (vdev/config.h): the
 * functions below are declared there but not defined (a call does not
 * link). */

#include "vdev/common.h"
#include "vdev/device.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Feature bits (spec "Block Device / Feature bits"). */
#define VDEV_BLK_F_SIZE_MAX 1
#define VDEV_BLK_F_SEG_MAX 2
#define VDEV_BLK_F_GEOMETRY 4
#define VDEV_BLK_F_RO 5
#define VDEV_BLK_F_BLK_SIZE 6
#define VDEV_BLK_F_FLUSH 9
#define VDEV_BLK_F_TOPOLOGY 10
#define VDEV_BLK_F_CONFIG_WCE 11
#define VDEV_BLK_F_MQ 12
#define VDEV_BLK_F_DISCARD 13
#define VDEV_BLK_F_WRITE_ZEROES 14
#define VDEV_BLK_F_LIFETIME 15
#define VDEV_BLK_F_SECURE_ERASE 16

#define VDEV_BLK_SECTOR_SIZE 512u
#define VDEV_BLK_ID_BYTES 20u
/* Size of the configuration space libvdev exposes (through
 * secure_erase_sector_alignment; the zoned fields are not offered). */
#define VDEV_BLK_CONFIG_SIZE 72u

/* What a backend op is asked to do. */
enum vdev_blk_io_type {
	VDEV_BLK_IO_READ = 0,
	VDEV_BLK_IO_WRITE = 1,
	VDEV_BLK_IO_FLUSH = 2,
	VDEV_BLK_IO_DISCARD = 3,
	VDEV_BLK_IO_WRITE_ZEROES = 4,
	VDEV_BLK_IO_SECURE_ERASE = 5
};

/* vdev_blk_io.flags */
#define VDEV_BLK_IO_FUA 0x1u   /* write: durable before completion (write-through) */
#define VDEV_BLK_IO_UNMAP 0x2u /* write-zeroes: the range may be deallocated */

/* An op returns this when it will call vdev_blk_complete() later. */
#define VDEV_BLK_ASYNC 1

/* One range of a discard / write-zeroes / secure-erase request, in bytes. */
struct vdev_blk_range {
	uint64_t offset;
	uint64_t len;
};

/*
 * One backend operation. Filled by the device model and valid, with
 * everything it points to, until the request completes.
 */
struct vdev_blk_io {
	uint32_t type;                       /* enum vdev_blk_io_type */
	uint32_t flags;                      /* VDEV_BLK_IO_* */
	uint64_t offset;                     /* READ/WRITE: byte offset on the disk */
	uint64_t len;                        /* READ/WRITE: bytes; else 0 */
	const struct vdev_iov *iov;          /* READ/WRITE: guest buffers */
	unsigned iovcnt;
	const struct vdev_blk_range *ranges; /* DISCARD/WRITE_ZEROES/SECURE_ERASE */
	unsigned nranges;
	uint16_t queue;                      /* request queue it came from */
	uint64_t backend_data[2];            /* scratch for the backend */
};

/* Storage wear estimates (VIRTIO_BLK_T_GET_LIFETIME). */
struct vdev_blk_lifetime {
	uint16_t pre_eol_info;              /* 0 undefined, 1 normal, 2 warning, 3 urgent */
	uint16_t device_lifetime_est_typ_a; /* 0 undefined, 1..11 in 10% steps */
	uint16_t device_lifetime_est_typ_b;
};

/*
 * The storage behind the device. `size` first; ops may be NULL, and the
 * device then does not offer the feature that needs them (flush: FLUSH
 * and CONFIG_WCE; discard: DISCARD; write_zeroes: WRITE_ZEROES;
 * secure_erase: SECURE_ERASE; get_lifetime: LIFETIME). read is required;
 * write may be NULL only for a read-only device.
 *
 * Each op returns 0 (done, success), a negative VDEV_E* (done, failed:
 * the guest gets VIRTIO_BLK_S_IOERR) or VDEV_BLK_ASYNC (accepted; the
 * backend calls vdev_blk_complete(io, result, bytes) later, from the
 * queue's context). For READ, a synchronous op reports how much it read
 * through vdev_blk_io_set_done(); by default a successful read is a full
 * one. Ownership: the io and the guest buffers it names are borrowed
 * until completion, always.
 */
struct vdev_blk_backend_ops {
	uint32_t size; /* sizeof(struct vdev_blk_backend_ops) */
	int (*read)(void *opaque, struct vdev_blk_io *io);
	int (*write)(void *opaque, struct vdev_blk_io *io);
	int (*flush)(void *opaque, struct vdev_blk_io *io);
	int (*discard)(void *opaque, struct vdev_blk_io *io);
	int (*write_zeroes)(void *opaque, struct vdev_blk_io *io);
	int (*secure_erase)(void *opaque, struct vdev_blk_io *io);
	/* Synchronous: fill the wear estimates. */
	int (*get_lifetime)(void *opaque, struct vdev_blk_lifetime *out);
	/* Optional: try to cancel an accepted request (device reset). It must
	 * still be completed, with any result; until then the device reset
	 * is pending (the status reads non-zero). */
	void (*cancel)(void *opaque, struct vdev_blk_io *io);
	/* Optional: a vdev_blk_process() pass for `queue` is over and handed
	 * the backend at least one request it accepted asynchronously; a
	 * backend that batches submissions (io_uring) submits them now. */
	void (*commit)(void *opaque, uint16_t queue);
};

/* vdev_blk_process()'s batch of popped chains and staged completions.
 * Private; it lives in struct vdev_blk rather than on the stack (the
 * stack budget of scripts/stack-budget.py). */
#define VDEV_BLK_BATCH 8u
struct vdev_blk_batch {
	struct vdev_vq_elem VDEV_PRIV(el)[VDEV_BLK_BATCH];
	uint32_t VDEV_PRIV(written)[VDEV_BLK_BATCH];
	unsigned VDEV_PRIV(n); /* completions staged */
	uint16_t VDEV_PRIV(q);
};

/* A request slot. Caller-allocated (an array handed to vdev_blk_init). */

struct vdev_blk_req {
	struct vdev_blk_io VDEV_PRIV(io);
	struct vdev_vq_elem VDEV_PRIV(elem);
	uint8_t *VDEV_PRIV(status);  /* host address of the status byte or NULL */
	uint32_t VDEV_PRIV(data_in); /* bytes written into the guest's data area */
	uint32_t VDEV_PRIV(done);    /* READ: bytes actually read */
	uint32_t VDEV_PRIV(next_free);
	uint8_t VDEV_PRIV(state);
};

struct vdev_blk_config {
	uint64_t capacity;          /* in 512-byte sectors */
	uint64_t features;          /* 0: offer everything the backend supports
				     * (plus VERSION_1 and the core's ring features
				     * in ring_features); else exactly these, which
				     * must be a subset of what is supported */
	uint64_t ring_features;     /* VDEV_BIT(VDEV_F_*) to offer; 0: INDIRECT_DESC,
				     * EVENT_IDX, RING_PACKED, RING_RESET. Offer
				     * IN_ORDER only with a backend that completes
				     * in submission order. */
	bool read_only;             /* offer RO and refuse every write */
	bool writeback;             /* cache mode after reset (CONFIG_WCE) */
	uint16_t num_queues;        /* request queues, 1..; >1 offers MQ */
	uint32_t queue_size;        /* max size of each queue, 1..32768 */
	uint32_t seg_max;           /* data segments per request (SEG_MAX) */
	uint32_t size_max;          /* bytes per segment, 0: not offered (SIZE_MAX) */
	uint32_t blk_size;          /* logical block size, 0: not offered (BLK_SIZE) */
	uint8_t physical_block_exp; /* TOPOLOGY (offered if any of these is set) */
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint16_t cylinders;         /* GEOMETRY, offered if cylinders != 0 */
	uint8_t heads, sectors;
	uint32_t max_discard_sectors;      /* 0: UINT32_MAX */
	uint32_t max_discard_seg;          /* 0: 1 */
	uint32_t discard_sector_alignment; /* in sectors; 0: 1 */
	uint32_t max_write_zeroes_sectors; /* 0: UINT32_MAX */
	uint32_t max_write_zeroes_seg;     /* 0: 1 */
	bool write_zeroes_may_unmap;
	uint32_t max_secure_erase_sectors;      /* 0: UINT32_MAX */
	uint32_t max_secure_erase_seg;          /* 0: 1 */
	uint32_t secure_erase_sector_alignment; /* 0: 1 */
	char serial[VDEV_BLK_ID_BYTES];    /* GET_ID; NUL-padded */
	const struct vdev_mem *mem;
	/* Caller-owned storage (borrowed for the life of the device): */
	struct vdev_vq *queues;            /* num_queues queues */
	uint64_t *queue_held;              /* num_queues * VDEV_VQ_HELD_WORDS(queue_size):
					    * buffers each queue holds (virtqueue.h) */
	struct vdev_blk_req *reqs;         /* in-flight request pool */
	unsigned num_reqs;
	struct vdev_iov *iovs;             /* num_reqs * iov_per_req */
	unsigned iov_per_req;              /* >= seg_max + 2 */
	struct vdev_blk_range *ranges;     /* num_reqs * max of the *_seg limits */
	const struct vdev_blk_backend_ops *backend;
	void *backend_opaque;
};

/* Counters, for diagnostics (vdev_blk_get_stats). */
struct vdev_blk_stats {
	uint64_t requests, reads, writes, flushes, discards, write_zeroes, secure_erases;
	uint64_t get_id, get_lifetime;
	uint64_t ioerr, unsupp, no_status; /* answers to bad requests */
	uint64_t bytes_read, bytes_written;
	uint64_t pool_full;                /* times the pool stopped popping */
};

/* Device state. Caller-allocated; fields private. */
struct vdev_blk {
	struct vdev_dev VDEV_PRIV(dev);
	const struct vdev_blk_backend_ops *VDEV_PRIV(ops);
	void *VDEV_PRIV(opaque);
	struct vdev_vq *VDEV_PRIV(queues);
	struct vdev_blk_req *VDEV_PRIV(reqs);
	struct vdev_iov *VDEV_PRIV(iovs);
	struct vdev_blk_range *VDEV_PRIV(ranges);
	struct vdev_blk_stats VDEV_PRIV(stats);
	uint64_t VDEV_PRIV(capacity);
	unsigned VDEV_PRIV(num_reqs);
	unsigned VDEV_PRIV(free_reqs);
	uint32_t VDEV_PRIV(free_head);
	unsigned VDEV_PRIV(iov_per_req);
	unsigned VDEV_PRIV(ranges_per_req);
	unsigned VDEV_PRIV(orphans);      /* requests cancelled by reset, not yet completed */
	uint32_t VDEV_PRIV(seg_max);
	uint32_t VDEV_PRIV(max_discard_sectors);
	uint32_t VDEV_PRIV(max_discard_seg);
	uint32_t VDEV_PRIV(max_wz_sectors);
	uint32_t VDEV_PRIV(max_wz_seg);
	uint32_t VDEV_PRIV(max_erase_sectors);
	uint32_t VDEV_PRIV(max_erase_seg);
	uint16_t VDEV_PRIV(num_queues);
	bool VDEV_PRIV(read_only);
	bool VDEV_PRIV(writeback_default);
	bool VDEV_PRIV(reset_pending);
	bool VDEV_PRIV(commit_pending);
	bool VDEV_PRIV(processing);               /* inside vdev_blk_process() */
	struct vdev_blk_batch *VDEV_PRIV(batch); /* batch_store while it stages */
	struct vdev_blk_batch VDEV_PRIV(batch_store);
	char VDEV_PRIV(serial)[VDEV_BLK_ID_BYTES];
	uint8_t VDEV_PRIV(config)[VDEV_BLK_CONFIG_SIZE];
};

/*
 * vdev_blk_supported_features() - the device feature bits a backend
 * supports given the config (without the ring features): what
 * vdev_blk_init() offers when cfg->features is 0.
 */
VDEV_API uint64_t vdev_blk_supported_features(const struct vdev_blk_config *cfg);

/*
 * vdev_blk_init() - set up a block device.
 * Returns 0 or VDEV_EINVAL with the problem being one of: no backend or
 * no read op; no write op and not read_only; num_queues 0 or above
 * VDEV_MAX_QUEUES; queue_size out of range; seg_max 0; num_reqs 0;
 * iov_per_req < seg_max + 2; ranges NULL while discard/write-zeroes/
 * secure-erase is offered; features asking for something the backend
 * cannot do; NULL mem/queues/queue_held/reqs/iovs.
 * Ownership: cfg is copied; its arrays and the backend are borrowed.
 * Context: before the transport is set up.
 */
VDEV_API int vdev_blk_init(struct vdev_blk *blk, const struct vdev_blk_config *cfg);

/* vdev_blk_dev() - the device core object, for vdev_mmio_init() & co. */
VDEV_API struct vdev_dev *vdev_blk_dev(struct vdev_blk *blk);

/*
 * vdev_blk_process() - take and serve chains of request queue `q` until
 * the ring is empty or the request pool is full; publish and notify. Also
 * what a queue notification does. Returns the number of chains taken, or
 * a negative VDEV_E* (queue not live or broken).
 * Context: the queue's processing context.
 */
VDEV_API int vdev_blk_process(struct vdev_blk *blk, uint16_t q);

/*
 * vdev_blk_complete() - the backend finished an op it had accepted with
 * VDEV_BLK_ASYNC. `result` is 0 or a negative VDEV_E*; for READ, `bytes`
 * is how many bytes were read into the guest buffers (less than io->len
 * is a short read: the guest gets IOERR and a used length covering only
 * what was read), otherwise ignored. Completes the guest request (status
 * byte, used element, notification) or, if the device was reset
 * meanwhile, just frees the slot. Pool space freed by a completion is
 * used by the next vdev_blk_process() call, which the integrator makes
 * (an async backend typically calls it after completing a batch).
 * Context: the context of io->queue.
 */
VDEV_API void vdev_blk_complete(struct vdev_blk *blk, struct vdev_blk_io *io, int result,
				uint32_t bytes);

/* vdev_blk_io_set_done() - for a synchronous READ, how many bytes it read. */
VDEV_API void vdev_blk_io_set_done(struct vdev_blk_io *io, uint32_t bytes);

/*
 * vdev_blk_set_capacity() - the disk was resized: update capacity and
 * notify the driver of the configuration change.
 * Context: the transport-facing context.
 */
VDEV_API void vdev_blk_set_capacity(struct vdev_blk *blk, uint64_t sectors);

/* vdev_blk_writeback() - true if the device currently runs a write-back
 * cache (FLUSH negotiated and, with CONFIG_WCE, writeback set). */
VDEV_API bool vdev_blk_writeback(const struct vdev_blk *blk);

/* vdev_blk_inflight() - requests accepted by the backend, not completed. */
VDEV_API unsigned vdev_blk_inflight(const struct vdev_blk *blk);

VDEV_API void vdev_blk_get_stats(const struct vdev_blk *blk, struct vdev_blk_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* VDEV_BLK_H */
