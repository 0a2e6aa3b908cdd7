/* SPDX-License-Identifier: MIT */
/*
 * libvdev — in-flight request log for a virtqueue, so that a device
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
 * Packed rings have a layout of their own (the same section, packed
 * layout; all fields in host byte order):
 *
 *   offset 0   u64 features (0)       offset 8  u16 version (1; 0 = new)
 *   offset 10  u16 desc_num           offset 12 u16 free_head
 *   offset 14  u16 old_free_head      offset 16 u16 used_idx
 *   offset 18  u16 old_used_idx       offset 20 u8 used_wrap_counter
 *   offset 21  u8 old_used_wrap_counter, pad to 32, then desc_num x 32-byte
 *   entries: u8 inflight, u8 pad, u16 next, u16 last, u16 num, u64 counter,
 *            u16 id, u16 flags, u32 len, u64 addr
 *
 * The descriptors of every buffer taken are copied into entries from a
 * free list (linked by `next`; a value >= desc_num ends it), the head
 * entry marked in flight with its descriptor count `num`, its last entry
 * `last` and a rising counter. The ring's slots may be overwritten by
 * used descriptors before the buffer is completed (out-of-order
 * completion), so a recovery walks these copies, never the ring. A
 * publish writes the new used position and free list (the batch's
 * entries in front of the old) to used_idx/used_wrap_counter/free_head,
 * stores the ring's first used flags, clears the batch's inflight flags
 * and then copies the three into their old_* fields: a recovery that
 * finds them different decides from the ring (the descriptor at
 * old_used_idx still available for old_used_wrap_counter: not published;
 * rolled back) or from the batch's flags (already cleared: published;
 * committed). In flight are then the entries marked and not on the free
 * list; the ring resumes at the committed used position, and its avail
 * position is that plus the in-flight buffers' descriptor counts. Used
 * descriptors a dead instance wrote there without publishing them (a
 * batch's later ones) get their lap's available flags back, so that the
 * driver never reads them as completions. The layout is QEMU's; the order
 * of the stores is this library's (a region is only ever read back by
 * the back-end that wrote it, or a later instance of it).
 *
 * Cost: split, 16 bytes of shared log and 2 bytes of scratch per queue
 * entry; packed, 32 bytes of shared log and 4 bytes of scratch.
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
#define VDEV_INFLIGHT_PACKED_HDR 32u
#define VDEV_INFLIGHT_PACKED_ENTRY 32u
#define VDEV_INFLIGHT_VERSION 1u

/* Bytes of log a split queue of `queue_size` entries needs. */
#define VDEV_INFLIGHT_SPLIT_SIZE(queue_size)                                              \
	(VDEV_INFLIGHT_SPLIT_HDR + (uint64_t)(queue_size) * VDEV_INFLIGHT_SPLIT_ENTRY)
/* Bytes of log a packed queue of `queue_size` entries needs. */
#define VDEV_INFLIGHT_PACKED_SIZE(queue_size)                                             \
	(VDEV_INFLIGHT_PACKED_HDR + (uint64_t)(queue_size) * VDEV_INFLIGHT_PACKED_ENTRY)
/* uint16_t of scratch vdev_vq_inflight_init_packed() needs. */
#define VDEV_INFLIGHT_PACKED_SCRATCH(queue_size) (2u * (uint32_t)(queue_size))

/*
 * One queue's log state. Caller-allocated; fields are private except the
 * counters. `region` and `order` are the caller's and borrowed while the
 * log is attached.
 */
struct vdev_vq_inflight {
	void *VDEV_PRIV(region);     /* the queue region (shared memory) */
	uint16_t *VDEV_PRIV(order);  /* desc_num slots: heads to hand out again */
	uint16_t *VDEV_PRIV(head_of); /* packed: desc_num slots, buffer id -> head entry */
	uint64_t VDEV_PRIV(counter); /* next pop's counter */
	uint16_t VDEV_PRIV(desc_num);
	uint16_t VDEV_PRIV(resubmit_next); /* order[next..count) not yet handed out */
	uint16_t VDEV_PRIV(resubmit_count);
	uint16_t VDEV_PRIV(ring_pops); /* pops from the ring since the last resubmission
					* (saturating; UINT16_MAX: none recent) */
	bool VDEV_PRIV(fresh);       /* initialised by init: nothing to recover */
	bool VDEV_PRIV(packed);      /* the packed layout */
	bool VDEV_PRIV(lost);        /* packed: the log could not be kept (a region
				      * changed under us); invalidated, no more logging */
	uint16_t VDEV_PRIV(free);    /* packed: committed free list head */
	uint16_t VDEV_PRIV(pend_head); /* packed: pushed, not published: the */
	uint16_t VDEV_PRIV(pend_tail); /* list's first head, last entry, */
	uint16_t VDEV_PRIV(pend_count); /* and number of buffers */
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
 * vdev_vq_inflight_init_packed() - bind a packed-layout log to its region.
 * @region: VDEV_INFLIGHT_PACKED_SIZE(desc_num) bytes, 8-byte aligned;
 *          version 0 (new) is initialised, version 1 with this desc_num is
 *          kept (a restart), anything else is counted and re-initialised.
 * @scratch: VDEV_INFLIGHT_PACKED_SCRATCH(desc_num) uint16_t, the caller's
 *          while the log is bound (recovery order and buffer id -> entry).
 * @desc_num: 1..32768, the queue size the log was made for.
 * Returns 0 or VDEV_EINVAL; VDEV_ENOTSUP in a build without the packed
 * layout (VDEV_CONFIG_PACKED 0). Context: configuration.
 */
VDEV_API int vdev_vq_inflight_init_packed(struct vdev_vq_inflight *log, void *region,
					  uint16_t *scratch, uint32_t desc_num);

struct vdev_mem;
struct vdev_vq_state;

/*
 * vdev_vq_inflight_recover_packed() - after a restart, before the packed
 * queue starts: settle a publish that was interrupted (reading the
 * descriptor at the logged used position from @mem at @desc_addr),
 * collect the buffers still in flight and sort them by counter.
 * @ring_size: the ring's size (<= desc_num).
 * @st: in: the positions the front-end gave (a packed front-end cannot
 *      know where a dead back-end stopped; QEMU sends those of the last
 *      start); used only by a log init had to create. out: where the
 *      queue resumes (committed used position; avail = used + the
 *      descriptors of the buffers in flight), for vdev_vq_set_state().
 * Returns the number of buffers that will be handed out again. A log that
 * does not add up (positions out of the ring, free list and buffers not
 * a partition of the entries, counts above the ring size, a buffer id out
 * of the ring, the used descriptor unreadable) is counted in `errors` and
 * re-initialised empty at its committed used position when that is in
 * the ring, else at @st's: 0 buffers. In a build without the packed
 * layout: 0, touching nothing.
 * Context: configuration.
 */
VDEV_API unsigned vdev_vq_inflight_recover_packed(struct vdev_vq_inflight *log,
						  const struct vdev_mem *mem, uint64_t desc_addr,
						  uint16_t ring_size, struct vdev_vq_state *st);

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
 * (queue not live) or VDEV_ENOTSUP (a log of the other layout).
 * Packed: the buffers (ids) of the recovery come out first, built from
 * the log's copies of their descriptors (checked as the ring's would be);
 * a log attaches only to a queue that holds nothing (else VDEV_EBUSY); a
 * log that cannot be kept any more (entries or links a front-end changed
 * under us) is invalidated (version 0 for the next instance to re-create,
 * counted in `errors`) and the queue runs on without one.
 * Context: configuration (after vdev_vq_start(); vdev_vq_stop() and
 * vdev_vq_reset() detach it).
 */
VDEV_API int vdev_vq_set_inflight(struct vdev_vq *vq, struct vdev_vq_inflight *log);

#ifdef __cplusplus
}
#endif

#endif /* VDEV_INFLIGHT_H */
