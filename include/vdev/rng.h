/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-rng device model (spec "Entropy Device", device id 4).
 *
 * One request queue. The driver posts device-writable buffers; the device
 * fills one or more bytes of each with entropy from the host and completes
 * it with the number of bytes written. There are no feature bits and no
 * configuration space.
 *
 * The entropy comes from the host's ops table. Its fill op either answers
 * at once (returns the number of bytes it wrote, 1..io->len: a short
 * answer is allowed, the spec says "one or more bytes") or accepts the
 * request (returns VDEV_RNG_ASYNC) and later calls vdev_rng_complete(),
 * e.g. after a rate limiter lets it through. In-flight requests live in a
 * caller-sized pool; when it is full the device stops taking buffers until
 * one completes.
 *
 * Hostile input: a chain with a driver-readable part (the spec forbids
 * it), without any writable byte, or rejected by the queue is completed
 * at once with nothing written (counted in stats.bad_chains). The host is
 * never asked for more than cfg->max_request bytes per buffer.
 *
 * Context: every vdev_rng_* call and the host's vdev_rng_complete() must
 * come from one thread at a time (the queue's processing thread, or under
 * the integrator's lock).
 */
#ifndef VDEV_RNG_H
#define VDEV_RNG_H

/* Absent from a build with VDEV_CONFIG_DEV_RNG 0 (vdev/config.h): the
 * functions below are declared there but not defined (a call does not
 * link). */

#include "vdev/common.h"
#include "vdev/device.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VDEV_RNG_NUM_QUEUES 1u
/* A fill op returns this when it will call vdev_rng_complete() later. */
#define VDEV_RNG_ASYNC 0x7fffffff
/* Default cfg->max_request. */
#define VDEV_RNG_DEFAULT_MAX_REQUEST 4096u

/*
 * One request for entropy, filled by the device model; valid, with the
 * guest buffers it names, until it is completed.
 */
struct vdev_rng_io {
	const struct vdev_iov *iov; /* device-writable guest segments */
	unsigned iovcnt;
	uint32_t len;               /* bytes wanted: 1..max_request, <= the segments */
	uint64_t backend_data[2];   /* scratch for the host */
};

/*
 * The entropy source. `size` first; ops get `opaque` first.
 *
 * fill: write up to io->len bytes into io->iov (vdev_iov_from_buf helps)
 *   and return how many (at least 1 per the spec; 0 is accepted and
 *   completes the buffer empty, counted in stats.empty), or a negative
 *   VDEV_E* (the buffer is completed empty, counted), or VDEV_RNG_ASYNC
 *   to complete later with vdev_rng_complete(). Required.
 * cancel: optional; a device or queue reset asks the host to give up an
 *   accepted request. It must still be completed (any byte count); until
 *   then the reset is pending.
 * Ownership: the io and its guest buffers are borrowed until completion.
 */
struct vdev_rng_backend_ops {
	uint32_t size; /* sizeof(struct vdev_rng_backend_ops) */
	int (*fill)(void *opaque, struct vdev_rng_io *io);
	void (*cancel)(void *opaque, struct vdev_rng_io *io);
};

/* A request slot. Caller-allocated (an array handed to vdev_rng_init). */
struct vdev_rng_req {
	struct vdev_rng_io VDEV_PRIV(io);
	struct vdev_vq_elem VDEV_PRIV(elem);
	uint32_t VDEV_PRIV(next_free);
	uint8_t VDEV_PRIV(state);
};

struct vdev_rng_config {
	uint32_t queue_size;       /* largest ring, 1..32768 */
	uint32_t max_request;      /* bytes asked of the host per buffer, <= 1 MiB;
				    * 0: 4096 */
	uint64_t ring_features;    /* VDEV_BIT(VDEV_F_*); 0: INDIRECT_DESC, EVENT_IDX,
				    * RING_PACKED, RING_RESET */
	const struct vdev_mem *mem;
	/* Caller-owned storage, borrowed for the life of the device: */
	struct vdev_vq *queues;    /* VDEV_RNG_NUM_QUEUES queues */
	uint64_t *queue_held;      /* VDEV_RNG_NUM_QUEUES * VDEV_VQ_HELD_WORDS(queue_size):
				    * buffers each queue holds (virtqueue.h) */
	struct vdev_rng_req *reqs; /* in-flight pool */
	unsigned num_reqs;         /* >= 1 */
	struct vdev_iov *iovs;     /* num_reqs * iov_per_req */
	unsigned iov_per_req;      /* 1..65535 */
	const struct vdev_rng_backend_ops *backend;
	void *backend_opaque;
};

struct vdev_rng_stats {
	uint64_t requests;   /* buffers taken */
	uint64_t bytes;      /* entropy bytes written to the guest */
	uint64_t short_answers; /* completed with fewer bytes than the buffer holds */
	uint64_t bad_chains; /* readable part, no writable byte, or rejected */
	uint64_t empty;      /* host answered 0 bytes or an error */
	uint64_t pool_full;  /* times the pool stopped popping */
};

/* Device state. Caller-allocated; fields private. */
struct vdev_rng {
	struct vdev_dev VDEV_PRIV(dev);
	const struct vdev_rng_backend_ops *VDEV_PRIV(ops);
	void *VDEV_PRIV(opaque);
	struct vdev_vq *VDEV_PRIV(queues);
	struct vdev_rng_req *VDEV_PRIV(reqs);
	struct vdev_iov *VDEV_PRIV(iovs);
	struct vdev_rng_stats VDEV_PRIV(stats);
	unsigned VDEV_PRIV(num_reqs);
	unsigned VDEV_PRIV(free_reqs);
	uint32_t VDEV_PRIV(free_head);
	unsigned VDEV_PRIV(iov_per_req);
	unsigned VDEV_PRIV(orphans);
	uint32_t VDEV_PRIV(max_request);
	bool VDEV_PRIV(reset_pending);
};

/*
 * vdev_rng_init() - set up an entropy device.
 * Returns 0 or VDEV_EINVAL: no backend or fill op, queue_size out of
 * range, max_request above 1 MiB, num_reqs 0, iov_per_req 0 or above 65535, NULL mem/queues/queue_held/reqs/
 * iovs, ring features the core does not implement.
 * Ownership: cfg is copied; its arrays and the backend are borrowed.
 * Context: before the transport is set up.
 */
VDEV_API int vdev_rng_init(struct vdev_rng *rng, const struct vdev_rng_config *cfg);

/* vdev_rng_dev() - the device core object, for vdev_mmio_init() & co. */
VDEV_API struct vdev_dev *vdev_rng_dev(struct vdev_rng *rng);

/*
 * vdev_rng_process() - take and serve buffers until the ring is empty or
 * the pool is full; publish and notify. Also what a queue notification
 * does; an asynchronous host calls it after completions freed slots.
 * Returns the number of buffers taken, or a negative VDEV_E* (queue not
 * live or broken) if none was.
 * Context: the queue's processing context.
 */
VDEV_API int vdev_rng_process(struct vdev_rng *rng);

/*
 * vdev_rng_complete() - the host finished a request it accepted with
 * VDEV_RNG_ASYNC, having written `bytes` (clamped to io->len) into it.
 * Completes the guest's buffer (used length `bytes`) and notifies, or, if
 * the device or queue was reset meanwhile, just frees the slot. A call for
 * something that is not an accepted request of this device is ignored.
 * Context: as vdev_rng_process().
 */
VDEV_API void vdev_rng_complete(struct vdev_rng *rng, struct vdev_rng_io *io, uint32_t bytes);

/* vdev_rng_inflight() - requests accepted by the host, not completed. */
VDEV_API unsigned vdev_rng_inflight(const struct vdev_rng *rng);

VDEV_API void vdev_rng_get_stats(const struct vdev_rng *rng, struct vdev_rng_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* VDEV_RNG_H */
