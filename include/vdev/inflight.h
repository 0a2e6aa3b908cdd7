/* SPDX-License-Identifier: MIT */
/*
 * libvdev — in-flight request log for a split virtqueue, so that a device
 * process that dies can be restarted without losing or repeating requests.
 *
 * The log lives in memory that outlives the process (vhost-user's
 * INFLIGHT_SHMFD: a shared file the back-end creates and the front-end
 * keeps across reconnects). Its layout is the "queue region" of QEMU's
 * docs/interop/vhost-user.rst, "Inflight I/O tracking", split layout:
 *
 *   offset 0   u64 features (0)       offset 8  u16 version (1; 0 = new)
 *   offset 10  u16 desc_num           offset 12 u16 last_batch_head
 *   offset 14  u16 used_idx           offset 16 desc_num x 16-byte entries:
 *     u8 inflight, u8 pad[5], u16 next, u64 counter
 *
 * in host byte order. A queue with a log attached (vdev_vq_set_inflight())
 * records every chain it pops (inflight = 1 with a rising counter), links
 * the chains it pushes into the "last batch" list, and after publishing the
 * used index clears their inflight flags and stores used_idx. A process
 * killed at any point leaves a log from which vdev_vq_inflight_recover()
 * finds exactly the chains taken and not completed; the queue then hands
 * those out again, in the order they were first taken, before any new one.
 *
 * The log is shared with another process and is not trusted: every index
 * read from it is checked against the queue size, walks are bounded, and
 * inconsistencies are counted (struct vdev_vq_inflight.errors) and
 * dropped, never followed out of bounds.
 *
 * Packed rings are not tracked (the log is left alone; see the README).
 *
 * Cost: 16 bytes of shared log and 2 bytes of `order` per queue entry.
 */
#ifndef VDEV_INFLIGHT_H
#define VDEV_INFLIGHT_H

#include "vdev/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev_vq;

#define VDEV_INFLIGHT_SPLIT_HDR 16u
#define VDEV_INFLIGHT_SPLIT_ENTRY 16u
#define VDEV_INFLIGHT_VERSION 1u

/* Bytes of log a split queue of `queue_size` entries needs. */
#define VDEV_INFLIGHT_SPLIT_SIZE(queue_size)                                              \
	(VDEV_INFLIGHT_SPLIT_HDR + (uint64_t)(queue_size) * VDEV_INFLIGHT_SPLIT_ENTRY)

/*
 * One queue's log state. Caller-allocated; fields are private except the
 * counters. `region` and `order` are the caller's and borrowed while the
 * log is attached.
 */
struct vdev_vq_inflight {
	void *VDEV_PRIV(region);     /* the queue region (shared memory) */
	uint16_t *VDEV_PRIV(order);  /* desc_num slots: heads to hand out again */
	uint64_t VDEV_PRIV(counter); /* next pop's counter */
	uint16_t VDEV_PRIV(desc_num);
	uint16_t VDEV_PRIV(resubmit_next); /* order[next..count) not yet handed out */
	uint16_t VDEV_PRIV(resubmit_count);
	uint16_t VDEV_PRIV(ring_pops); /* pops from the ring since the last resubmission
					* (saturating; UINT16_MAX: none recent) */
	bool VDEV_PRIV(fresh);       /* initialised by init: nothing to recover */
	/* Counters, for diagnostics. */
	uint64_t errors;     /* inconsistencies found in the log and ignored */
	uint64_t resubmitted; /* chains handed out again after a recovery */
};

/*
 * vdev_vq_inflight_init() - bind a log to its region.
 * @region: VDEV_INFLIGHT_SPLIT_SIZE(desc_num) bytes, 8-byte aligned. A
 *          region whose version is 0 (new, zero-filled) is initialised;
 *          one of version 1 with this desc_num is kept as it is (a
 *          restart); anything else is counted as an error and
 *          re-initialised empty (nothing can be recovered from it).
 * @order: desc_num uint16_t of scratch the recovery sorts into.
 * @desc_num: the queue size the log was made for, 1..32768.
 * Returns 0 or VDEV_EINVAL (NULL pointers, desc_num out of range).
 * Context: configuration; the log is not attached to a queue.
 */
VDEV_API int vdev_vq_inflight_init(struct vdev_vq_inflight *log, void *region, uint16_t *order,
				   uint32_t desc_num);

/*
 * vdev_vq_inflight_recover() - after a restart, before the queue starts:
 * repair the last batch (chains published as used whose flags were not
 * yet cleared, found from the region's used_idx and the ring's), collect
 * the chains still in flight and sort them by counter.
 * @ring_size: the split ring's size (<= desc_num); entries at or above it
 *          are never valid heads.
 * @used_idx: the used ring's idx as the ring holds it now.
 * @avail_idx: the avail ring's idx as the ring holds it now.
 * @last_avail: out: where the queue resumes popping from the avail ring
 *          (used_idx + chains in flight), for vdev_vq_set_state().
 * A region vdev_vq_inflight_init() had to initialise only takes the
 * ring's used index (a queue that ran before the log existed).
 * Returns the number of chains that will be handed out again. An
 * inconsistent log (more chains in flight than the driver made
 * available, batch longer than the ring) is counted in `errors` and
 * cleared: 0 chains, *last_avail = used_idx.
 * Context: configuration.
 */
VDEV_API unsigned vdev_vq_inflight_recover(struct vdev_vq_inflight *log, uint16_t ring_size,
					   uint16_t used_idx, uint16_t avail_idx,
					   uint16_t *last_avail);

/*
 * vdev_vq_set_inflight() - attach a log to a live split queue (NULL
 * detaches). From then on pops are logged, and the chains the last
 * vdev_vq_inflight_recover() found come out of vdev_vq_pop() first, in
 * counter order (the ring is not read for them). A resubmitted chain is
 * held like any pop (virtqueue.h: pushed exactly once; the driver offering
 * its head again meanwhile breaks the ring). A head the log names that the
 * queue holds already (a log attached after pops from the ring) is not
 * handed out again: counted in `errors` and dropped, the ring stays
 * usable (the chain's one completion is the one already coming; the
 * driver did nothing wrong). vdev_vq_unpop() of resubmitted chains puts
 * them back at the front of the log's list (they stay in flight), the
 * others back on the avail ring. Returns 0, VDEV_EPERM
 * (queue not live) or VDEV_ENOTSUP (packed ring: not tracked).
 * Context: configuration (after vdev_vq_start(); vdev_vq_stop() and
 * vdev_vq_reset() detach it).
 */
VDEV_API int vdev_vq_set_inflight(struct vdev_vq *vq, struct vdev_vq_inflight *log);

#ifdef __cplusplus
}
#endif

#endif /* VDEV_INFLIGHT_H */
