/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-rng device model (spec "Entropy Device").
 *
 * Reads top-down: the request pool, completion, the request path (pop ->
 * check the chain -> host fill -> complete), the device core ops, init.
 */
#include "vdev/rng.h"

#include "compiler.h"

#define P(x) VDEV_PRIV(x)

/* Request slot states: ORPHAN in flight at a device reset, QORPHAN at a
 * reset of the queue; the host still holds the buffers, which are never
 * completed to the guest. */
enum { REQ_FREE = 0, REQ_BUSY = 1, REQ_ORPHAN = 2, REQ_QORPHAN = 3 };

#define DEFAULT_RING_FEATURES                                                              \
	(VDEV_BIT(VDEV_F_INDIRECT_DESC) | VDEV_BIT(VDEV_F_EVENT_IDX) |                      \
	 VDEV_BIT(VDEV_F_RING_PACKED) | VDEV_BIT(VDEV_F_RING_RESET))

#define HAS_OP(ops, op)                                                                   \
	((ops)->size >= offsetof(struct vdev_rng_backend_ops, op) + sizeof((ops)->op) &&     \
	 (ops)->op != NULL)

/* ---- the request pool ----------------------------------------------------------- */

static struct vdev_rng_req *req_alloc(struct vdev_rng *rng)
{
	struct vdev_rng_req *r;

	if (rng->P(free_reqs) == 0)
		return NULL;
	r = &rng->P(reqs)[rng->P(free_head)];
	rng->P(free_head) = r->P(next_free);
	rng->P(free_reqs)--;
	return r;
}

static void req_free(struct vdev_rng *rng, struct vdev_rng_req *r)
{
	r->P(state) = REQ_FREE;
	r->P(next_free) = rng->P(free_head);
	rng->P(free_head) = (uint32_t)(r - rng->P(reqs));
	rng->P(free_reqs)++;
}

/* ---- completion -------------------------------------------------------------------- */

/* Give the buffer back with `bytes` written (already <= io.len) and free the slot. */
static void finish(struct vdev_rng *rng, struct vdev_rng_req *r, uint32_t bytes)
{
	struct vdev_vq_elem *e = &r->P(elem);

	if (bytes == 0)
		rng->P(stats).empty++;
	else if (bytes < e->in_bytes)
		rng->P(stats).short_answers++;
	rng->P(stats).bytes += bytes;
	(void)vdev_vq_push(&rng->P(queues)[0], e, bytes);
	req_free(rng, r);
}

static unsigned count_state(const struct vdev_rng *rng, uint8_t state)
{
	unsigned n = 0;

	for (unsigned i = 0; i < rng->P(num_reqs); i++)
		n += rng->P(reqs)[i].P(state) == state;
	return n;
}

VDEV_API void vdev_rng_complete(struct vdev_rng *rng, struct vdev_rng_io *io, uint32_t bytes)
{
	struct vdev_rng_req *r = (struct vdev_rng_req *)io; /* io is the slot's first member */

	if (r < rng->P(reqs) || r >= rng->P(reqs) + rng->P(num_reqs) ||
	    (r->P(state) != REQ_BUSY && r->P(state) != REQ_ORPHAN && r->P(state) != REQ_QORPHAN))
		return;
	if (r->P(state) != REQ_BUSY) {
		bool queue_orphan = r->P(state) == REQ_QORPHAN;

		req_free(rng, r);
		if (queue_orphan && count_state(rng, REQ_QORPHAN) == 0)
			vdev_dev_queue_reset_complete(&rng->P(dev), 0);
		if (--rng->P(orphans) == 0 && rng->P(reset_pending)) {
			rng->P(reset_pending) = false;
			vdev_dev_reset_complete(&rng->P(dev));
		}
		return;
	}
	finish(rng, r, bytes < io->len ? bytes : io->len);
	vdev_vq_flush(&rng->P(queues)[0]);
}

/* ---- the request path -------------------------------------------------------------- */

/*
 * Limit the writable segments to `len` bytes, in place. Returns the number
 * of segments that hold them.
 */
static unsigned iov_limit(struct vdev_iov *iov, unsigned n, uint32_t len)
{
	size_t left = len;
	unsigned i;

	for (i = 0; i < n && left > 0; i++) {
		if (iov[i].len >= left) {
			iov[i].len = left;
			return i + 1;
		}
		left -= iov[i].len;
	}
	return i;
}

static void handle(struct vdev_rng *rng, struct vdev_rng_req *r)
{
	struct vdev_vq_elem *e = &r->P(elem);
	struct vdev_rng_io *io = &r->P(io);
	int rc;

	rng->P(stats).requests++;
	memset(io, 0, sizeof(*io));
	/* The driver MUST NOT place device-readable buffers (spec); a chain
	 * with nothing to fill is answered empty too. */
	if (e->error != 0 || e->n_out != 0 || e->in_bytes == 0) {
		rng->P(stats).bad_chains++;
		(void)vdev_vq_push(&rng->P(queues)[0], e, 0);
		req_free(rng, r);
		return;
	}
	io->len = e->in_bytes < rng->P(max_request) ? e->in_bytes : rng->P(max_request);
	io->iov = e->iov;
	io->iovcnt = iov_limit(e->iov, e->n_in, io->len);
	r->P(state) = REQ_BUSY;
	rc = rng->P(ops)->fill(rng->P(opaque), io);
	if (rc == VDEV_RNG_ASYNC)
		return;
	finish(rng, r, rc <= 0 ? 0 : ((uint32_t)rc < io->len ? (uint32_t)rc : io->len));
}

VDEV_API int vdev_rng_process(struct vdev_rng *rng)
{
	struct vdev_vq *vq = &rng->P(queues)[0];
	int taken = 0;

	for (;;) {
		/* Pop only what can be completed: one free slot per buffer. */
		struct vdev_rng_req *r = req_alloc(rng);
		int rc;

		if (r == NULL) {
			rng->P(stats).pool_full++;
			break;
		}
		rc = vdev_vq_pop(vq, &r->P(elem),
				 rng->P(iovs) + (size_t)(r - rng->P(reqs)) * rng->P(iov_per_req),
				 rng->P(iov_per_req));
		if (rc <= 0) {
			req_free(rng, r);
			if (rc < 0 && taken == 0)
				taken = rc;
			break;
		}
		handle(rng, r);
		taken++;
	}
	vdev_vq_flush(vq);
	return taken;
}

VDEV_API unsigned vdev_rng_inflight(const struct vdev_rng *rng)
{
	return rng->P(num_reqs) - rng->P(free_reqs);
}

VDEV_API void vdev_rng_get_stats(const struct vdev_rng *rng, struct vdev_rng_stats *out)
{
	*out = rng->P(stats);
}

/* ---- device core ops ------------------------------------------------------------------ */

static void rng_queue_notify(void *opaque, uint16_t q)
{
	(void)q; /* the core delivers only live queues: there is one */
	(void)vdev_rng_process(opaque);
}

/*
 * Forget every request in flight (mark), then let the host cancel them.
 * Marking first means a host that completes from inside cancel finds the
 * whole set orphaned already. Returns how many there were.
 */
static unsigned orphan_requests(struct vdev_rng *rng, uint8_t mark)
{
	unsigned n = 0;

	for (unsigned i = 0; i < rng->P(num_reqs); i++) {
		struct vdev_rng_req *r = &rng->P(reqs)[i];
		if (r->P(state) != REQ_BUSY)
			continue;
		r->P(state) = mark;
		rng->P(orphans)++;
		n++;
	}
	if (n == 0)
		return 0;
	if (mark == REQ_QORPHAN)
		vdev_dev_queue_reset_hold(&rng->P(dev), 0);
	if (HAS_OP(rng->P(ops), cancel)) {
		for (unsigned i = 0; i < rng->P(num_reqs); i++) {
			struct vdev_rng_req *r = &rng->P(reqs)[i];
			if (r->P(state) == mark)
				rng->P(ops)->cancel(rng->P(opaque), &r->P(io));
		}
	}
	return n;
}

static int rng_reset(void *opaque)
{
	struct vdev_rng *rng = opaque;

	orphan_requests(rng, REQ_ORPHAN);
	if (rng->P(orphans) == 0)
		return 0;
	/* The reset completes when the host hands the last buffer back. */
	rng->P(reset_pending) = true;
	return VDEV_EBUSY;
}

static void rng_queue_reset(void *opaque, uint16_t q)
{
	(void)q;
	orphan_requests(opaque, REQ_QORPHAN);
}

static const struct vdev_dev_ops rng_dev_ops = {
	.size = sizeof(struct vdev_dev_ops),
	.reset = rng_reset,
	.queue_notify = rng_queue_notify,
	.queue_reset = rng_queue_reset,
};

/* ---- init ---------------------------------------------------------------------------- */

VDEV_API int vdev_rng_init(struct vdev_rng *rng, const struct vdev_rng_config *cfg)
{
	uint64_t ring;

	if (rng == NULL || cfg == NULL || cfg->backend == NULL ||
	    cfg->backend->size < offsetof(struct vdev_rng_backend_ops, cancel) ||
	    cfg->backend->fill == NULL || cfg->queue_size == 0 ||
	    cfg->queue_size > VDEV_VQ_MAX_SIZE || cfg->max_request > (1u << 20) ||
	    cfg->num_reqs == 0 || cfg->iov_per_req == 0 || cfg->iov_per_req > UINT16_MAX ||
	    cfg->mem == NULL || cfg->queues == NULL || cfg->queue_held == NULL || cfg->reqs == NULL ||
	    cfg->iovs == NULL ||
	    (cfg->ring_features & ~VDEV_F_CORE_MASK) != 0)
		return VDEV_EINVAL;
	memset(rng, 0, sizeof(*rng));
	rng->P(ops) = cfg->backend;
	rng->P(opaque) = cfg->backend_opaque;
	rng->P(queues) = cfg->queues;
	rng->P(reqs) = cfg->reqs;
	rng->P(num_reqs) = cfg->num_reqs;
	rng->P(iovs) = cfg->iovs;
	rng->P(iov_per_req) = cfg->iov_per_req;
	rng->P(max_request) =
		cfg->max_request != 0 ? cfg->max_request : VDEV_RNG_DEFAULT_MAX_REQUEST;
	for (unsigned i = 0; i < cfg->num_reqs; i++) {
		cfg->reqs[i].P(state) = REQ_FREE;
		cfg->reqs[i].P(next_free) = i + 1;
	}
	rng->P(free_head) = 0;
	rng->P(free_reqs) = cfg->num_reqs;

	ring = cfg->ring_features != 0 ? cfg->ring_features : DEFAULT_RING_FEATURES;
	struct vdev_dev_config dc = {
		.device_id = VDEV_ID_ENTROPY,
		.features = ring | VDEV_BIT(VDEV_F_VERSION_1),
		.queues = cfg->queues,
		.queue_held = cfg->queue_held,
		.num_queues = VDEV_RNG_NUM_QUEUES,
		.queue_max_size = cfg->queue_size,
		.config = NULL,
		.config_len = 0,
		.mem = cfg->mem,
		.ops = &rng_dev_ops,
		.opaque = rng,
	};
	return vdev_dev_init(&rng->P(dev), &dc);
}

VDEV_API struct vdev_dev *vdev_rng_dev(struct vdev_rng *rng)
{
	return &rng->P(dev);
}
