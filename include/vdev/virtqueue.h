/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtqueues, device side.
 *
 * One API over both ring layouts of the VIRTIO spec: split (power-of-two
 * sizes up to 32768) and packed (any size up to 32768). A device model pops
 * descriptor chains as lists of host segments (driver-readable first, then
 * device-writable), completes them by pushing used elements, and publishes
 * a batch of completions with one index (split) or flag (packed) store;
 * publishing says whether the driver must be interrupted (EVENT_IDX or the
 * no-interrupt flags).
 *
 * Life cycle (normally driven by the device core, vdev_dev_*; a vhost-user
 * style integrator may drive it directly):
 *   vdev_vq_init() -> vdev_vq_set_size()/vdev_vq_set_addrs() -> vdev_vq_start()
 *   -> pop/push/publish ... -> vdev_vq_stop() or vdev_vq_reset()
 *
 * Guest input is hostile. Every ring field is read once into a local and
 * checked before use; loops are bounded by the queue size. Two kinds of
 * guest error are told apart:
 *   - a chain whose extent is known but whose contents are invalid (address
 *     outside guest memory or wrapping 2^64, writes into read-only memory,
 *     total length over 2^32, a readable descriptor after a writable one
 *     (unless the queue is device-reads-only, see below),
 *     indirect descriptors without the feature / nested (an entry of a
 *     table marked INDIRECT, either layout) / with NEXT / of a length that
 *     is 0 or not a multiple of 16 / a table not entirely inside guest
 *     memory (the whole table is checked before any entry of it is used,
 *     however few the chain reads), loops, chains longer than
 *     the queue size, `next` out of range in a split ring, more segments
 *     than the caller's iov array holds, a device-writable buffer on where
 *     the queue, or the queue it feeds (vdev_vq_set_feeds()), looks for new
 *     work: its avail ring (split) or descriptor ring (packed),
 *     VDEV_EEXIST) is REJECTED: it is still returned
 *     by vdev_vq_pop() with `error` set and no segments, and the device
 *     model completes it with vdev_vq_push(vq, elem, 0). Nothing is lost and
 *     the queue goes on.
 *   - a ring that cannot be trusted any more (the avail index more than the
 *     queue size ahead, a head index out of range, a packed chain whose end
 *     cannot be found or whose descriptors are not all available, a packed
 *     chain longer than the ring's slots the device does not hold (it can
 *     only be there by a rewrite of descriptors of buffers in flight), a
 *     packed buffer id out of range, a split head or packed buffer id made
 *     available again while the device still holds it) BREAKS the queue:
 *     pop returns VDEV_EPROTO from then on until reset, and the device is
 *     marked DEVICE_NEEDS_RESET (with a configuration change notification)
 *     if the queue belongs to one.
 *
 * One buffer, one completion. The queue keeps a bitmap of the buffers the
 * device holds (split: head indices; packed: buffer ids), one bit per
 * entry of the largest queue size, in storage the caller hands to
 * vdev_vq_init(): VDEV_VQ_HELD_WORDS(max_size) 64-bit words, i.e.
 * max_size / 8 bytes rounded up to 8 (32 bytes for a 256-entry queue,
 * 4 KiB for 32768). A pop sets the bit of each chain it returns (a chain
 * whose bit is already set breaks the ring, see above); a push or an unpop
 * clears it, and a push of a chain the queue does not hold (pushed
 * already, given back by unpop, or taken before a stop/start or reset) is
 * refused, so no used element is ever written for a buffer the device
 * does not hold, nor twice for one it took once.
 *
 * Context: a queue is used by one thread at a time. Different queues of one
 * device may be processed concurrently on different threads. Configuration
 * calls (set_*, start, stop, reset, remap) must not run concurrently with
 * pop/push/publish on the same queue.
 */
#ifndef VDEV_VIRTQUEUE_H
#define VDEV_VIRTQUEUE_H

#include "vdev/common.h"
#include "vdev/mem.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vdev_dev;
struct vdev_vq_inflight;

/* Largest queue size either layout allows. */
#define VDEV_VQ_MAX_SIZE 32768u

/* 64-bit words of held-buffer bitmap a queue of up to `max_size` entries
 * needs (vdev_vq_init(); the device configs' queue_held arrays). */
#define VDEV_VQ_HELD_WORDS(max_size) ((((uint32_t)(max_size)) + 63u) / 64u)

enum vdev_vq_layout {
	VDEV_VQ_SPLIT = 0,
	VDEV_VQ_PACKED = 1
};

/*
 * A popped descriptor chain ("element"). Filled by vdev_vq_pop(); handed
 * back, unchanged, to vdev_vq_push(). Small enough to keep in a request
 * slot while a request is in flight.
 */
struct vdev_vq_elem {
	struct vdev_iov *iov; /* n_out readable then n_in writable segments */
	uint32_t out_bytes;   /* total driver-readable bytes */
	uint32_t in_bytes;    /* total device-writable bytes */
	uint16_t n_out;       /* driver-readable segments (iov[0..n_out)) */
	uint16_t n_in;        /* device-writable segments (after them) */
	uint16_t id;          /* head index (split) / buffer id (packed) */
	uint16_t ndescs;      /* ring descriptors the chain occupies */
	uint16_t seq;         /* pop order, used to check IN_ORDER pushes */
	int16_t error;        /* 0, or the VDEV_E* reason it was rejected */
};

/* Counters, for diagnostics. Read with vdev_vq_get_stats(). */
struct vdev_vq_stats {
	uint64_t popped;         /* chains returned by pop, rejected ones included */
	uint64_t rejected;       /* chains returned with elem.error != 0 */
	uint64_t pushed;         /* used elements written */
	uint64_t publishes;      /* publish calls that made something visible */
	uint64_t notifications;  /* publishes after which the driver must be notified */
	uint64_t bad_notify_data;/* NOTIFICATION_DATA values inconsistent with the ring */
	uint64_t write_as_read;  /* chains whose device-writable descriptors were taken as
				  * readable (vdev_vq_set_device_reads_only());
				  * a chain given back by unpop counts again */
};

/*
 * Indices that survive a stop/start (vhost-user GET/SET_VRING_BASE, live
 * migration). Split: free-running 16-bit avail and used indices, wrap bits
 * unused. Packed: ring positions (0..size-1) and the wrap counters.
 */
struct vdev_vq_state {
	uint16_t avail_idx;
	uint16_t used_idx;
	bool avail_wrap;
	bool used_wrap;
};

/*
 * The queue. Caller-allocated (usually in an array handed to the device
 * core); all fields are private.
 */
struct vdev_vq {
	/* configuration, programmed by the driver through a transport */
	uint64_t VDEV_PRIV(desc_addr);
	uint64_t VDEV_PRIV(driver_addr);
	uint64_t VDEV_PRIV(device_addr);
	uint64_t VDEV_PRIV(features);
	const struct vdev_mem *VDEV_PRIV(mem);
	struct vdev_dev *VDEV_PRIV(dev);
	uint64_t *VDEV_PRIV(held); /* caller's bitmap: buffers the device holds */
	/* host views of the three ring parts, valid while live */
	void *VDEV_PRIV(desc);
	void *VDEV_PRIV(driver);
	void *VDEV_PRIV(device);
	struct vdev_vq_stats VDEV_PRIV(stats);
	struct vdev_vq_inflight *VDEV_PRIV(inflight_log); /* vdev/inflight.h, or NULL */
	/* the guest memory region the last buffer hit (lookup hint) */
	uint64_t VDEV_PRIV(fast_gpa);
	uint64_t VDEV_PRIV(fast_size);
	uint8_t *VDEV_PRIV(fast_hva);
	uint32_t VDEV_PRIV(fast_ro);
	uint16_t VDEV_PRIV(index);
	uint16_t VDEV_PRIV(max_size);
	uint16_t VDEV_PRIV(size);
	uint16_t VDEV_PRIV(mask);         /* size - 1 for split */
	uint16_t VDEV_PRIV(last_avail);   /* split: free-running; packed: position */
	uint16_t VDEV_PRIV(avail_shadow); /* split: last avail->idx read */
	uint16_t VDEV_PRIV(used_idx);     /* split: free-running; packed: position */
	uint16_t VDEV_PRIV(signalled_used); /* split: used idx at last notify check */
	uint16_t VDEV_PRIV(unchecked_used); /* packed: descs published since last check */
	uint16_t VDEV_PRIV(staged);       /* pushed, not yet published */
	uint16_t VDEV_PRIV(batch_pos);    /* packed: position of first staged desc */
	uint16_t VDEV_PRIV(batch_flags);  /* packed: its flags, stored on publish */
	uint16_t VDEV_PRIV(inflight);     /* chains popped and not pushed */
	uint16_t VDEV_PRIV(inflight_descs); /* packed: ring slots they occupy */
	uint16_t VDEV_PRIV(pop_seq);
	uint16_t VDEV_PRIV(push_seq);
	uint16_t VDEV_PRIV(notify_hint); /* last NOTIFICATION_DATA position */
	uint16_t VDEV_PRIV(reset_holds); /* queue reset still ongoing (atomic; device core) */
	uint8_t VDEV_PRIV(layout);
	uint8_t VDEV_PRIV(state);        /* bit flags, see lib/vq_internal.h */
	uint8_t VDEV_PRIV(reads_only);   /* 1: device only reads (set_device_reads_only) */
	const struct vdev_vq *VDEV_PRIV(peer); /* vdev_vq_set_feeds(), or NULL */
};

/* --- Configuration ------------------------------------------------------ */

/*
 * vdev_vq_init() - put a queue in its reset state: not live, size =
 * max_size, addresses 0, all indices 0, no buffer held.
 * @index: the queue's number within its device (for diagnostics and the
 *         device's notifications).
 * @max_size: the largest size the driver may choose, 1..32768. For a split
 *         ring the driver can only pick powers of two up to it.
 * @held: VDEV_VQ_HELD_WORDS(max_size) words for the bitmap of buffers the
 *         device holds (see the file comment); any contents, cleared here.
 * Returns 0 or VDEV_EINVAL (max_size out of range, held NULL).
 * Ownership: `held` is borrowed for the life of the queue; the queue is
 * the only writer.
 * Context: before any other use of the queue.
 */
VDEV_API int vdev_vq_init(struct vdev_vq *vq, uint16_t index, uint32_t max_size,
			  uint64_t *held);

/*
 * vdev_vq_set_size() / vdev_vq_set_addrs() - record what the driver
 * programmed. The size is checked against max_size here and against the
 * layout at vdev_vq_start(). Addresses: descriptor area, driver area (split
 * avail ring / packed driver event suppression) and device area (split used
 * ring / packed device event suppression).
 * Returns 0, VDEV_EBUSY if the queue is live (the write has no effect), or
 * VDEV_EINVAL for a size of 0 or above max_size (no effect either).
 * Context: configuration (not concurrently with processing).
 */
VDEV_API int vdev_vq_set_size(struct vdev_vq *vq, uint32_t size);
VDEV_API int vdev_vq_set_addrs(struct vdev_vq *vq, uint64_t desc, uint64_t driver,
			       uint64_t device);

/* Accessors for what was programmed (transports read registers back). */
VDEV_API uint16_t vdev_vq_size(const struct vdev_vq *vq);
VDEV_API uint16_t vdev_vq_max_size(const struct vdev_vq *vq);
VDEV_API uint16_t vdev_vq_index(const struct vdev_vq *vq);
VDEV_API void vdev_vq_addrs(const struct vdev_vq *vq, uint64_t *desc, uint64_t *driver,
			    uint64_t *device);
VDEV_API bool vdev_vq_is_live(const struct vdev_vq *vq);
VDEV_API bool vdev_vq_is_broken(const struct vdev_vq *vq);
VDEV_API enum vdev_vq_layout vdev_vq_layout(const struct vdev_vq *vq);

/*
 * vdev_vq_start() - make the queue live with the negotiated features.
 * @features: the device's negotiated feature bits; the queue looks at
 *            RING_PACKED (layout), INDIRECT_DESC, EVENT_IDX, IN_ORDER and
 *            NOTIFICATION_DATA.
 * @mem: guest memory; borrowed until the queue is stopped or reset.
 * Checks the size against the layout (split: power of two) and the ring
 * areas (alignment, each area inside guest memory, contiguous on the host,
 * used/device area writable, no two areas overlapping), then maps them.
 * Overlap is judged on the host, so two guest addresses of one page count
 * as the same memory, and against the areas of every live queue of the
 * device the queue is attached to (vdev_vq_attach), translated through
 * `mem`: rings that overlap would let the device's own writes (a used
 * index over an avail index, vsock's rx used ring over its tx avail ring)
 * make new buffers available, so that one request kept the device busy
 * for ever. No driver lays rings out so; areas that only touch are fine.
 * The check costs O(live queues of the device) translations.
 * Indices come from the last vdev_vq_set_state() or are 0 after
 * init/reset.
 * Returns 0, or VDEV_EINVAL (bad size or alignment), VDEV_EFAULT (an area
 * not in guest memory or not host-contiguous), VDEV_EROFS (used area
 * read-only), VDEV_EEXIST (areas overlap), VDEV_EBUSY (already live),
 * VDEV_ENOTSUP (RING_PACKED in a build without the packed layout,
 * VDEV_CONFIG_PACKED 0). On error the queue is not live.
 * Context: configuration.
 */
VDEV_API int vdev_vq_start(struct vdev_vq *vq, const struct vdev_mem *mem,
			   uint64_t features);

/*
 * vdev_vq_stop() - stop processing; the queue keeps its configuration and
 * indices (vdev_vq_get_state()) and can be started again. Staged but
 * unpublished used elements are published first. Chains still in flight
 * must not be pushed after stop; vdev_vq_start() forgets them (they are no
 * longer held, and a push of one is refused).
 * Context: configuration.
 */
VDEV_API void vdev_vq_stop(struct vdev_vq *vq);

/*
 * vdev_vq_reset() - back to the state of vdev_vq_init() (RING_RESET or
 * device reset). Chains in flight are forgotten: the caller must have
 * cancelled them and must not push them (a push is refused: the queue is
 * not live, and once started again it no longer holds them, though a chain
 * popped since with the same head / buffer id is held: a model must drop
 * completions that belong to before the reset itself).
 * Context: configuration.
 */
VDEV_API void vdev_vq_reset(struct vdev_vq *vq);

/*
 * vdev_vq_remap() - re-translate the ring areas of a live queue after the
 * guest memory table changed (vdev_mem_init() again, IOTLB update).
 * Returns 0 or an error as vdev_vq_start(); on error the queue is broken
 * (the device, if any, marked DEVICE_NEEDS_RESET) and no longer live: its
 * old ring addresses may be unmapped, so pop, push and publish refuse
 * (VDEV_EPERM / false) until it is started again or reset; chains in
 * flight are not completed.
 * Context: configuration.
 */
VDEV_API int vdev_vq_remap(struct vdev_vq *vq);

/*
 * vdev_vq_get_state() / vdev_vq_set_state() - indices for stop/start
 * (vhost-user GET_VRING_BASE / SET_VRING_BASE, migration). Get works at any
 * time; set only while not live: VDEV_EBUSY otherwise, VDEV_EINVAL for a
 * packed position >= size.
 * Context: configuration.
 */
VDEV_API void vdev_vq_get_state(const struct vdev_vq *vq, struct vdev_vq_state *st);
VDEV_API int vdev_vq_set_state(struct vdev_vq *vq, const struct vdev_vq_state *st);

/*
 * vdev_vq_set_device_reads_only() - declare that the device only ever
 * reads this queue's buffers (a network transmit queue, say). On such a
 * queue a descriptor the driver marked device-writable is taken as
 * driver-readable instead of rejecting its chain as "writable then
 * readable", and the chain is counted in stats.write_as_read. Some drivers
 * do this: DPDK's virtio PMD (since 20.11) marks every entry of a packed
 * ring's indirect table writable, the transmit header included. It is
 * safe because the device never writes such a buffer: it is mapped for
 * reading only (read-only guest memory is fine), and every other check
 * (bounds, loops, lengths, indirect rules) still applies. Off by default:
 * on a queue the device writes, such chains stay rejected.
 * The setting survives vdev_vq_reset(); vdev_vq_init() clears it.
 * Context: configuration (a device model sets it at init, after the
 * device core initialised its queues).
 */
VDEV_API void vdev_vq_set_device_reads_only(struct vdev_vq *vq, bool on);

/*
 * vdev_vq_set_feeds() - declare that what the device writes into this
 * queue's buffers is written while `peer`'s buffers are being processed,
 * in the same call on the same thread (vsock: replies on rx to packets on
 * tx; console: control messages in to control messages out). Pop then
 * rejects (VDEV_EEXIST) a chain whose device-writable buffer lies on
 * where `peer` looks for new work (its avail ring, packed: its descriptor
 * ring), as it always does for the queue's own: otherwise a guest could
 * lay its rx buffers over the tx ring so that every reply makes one more
 * tx buffer available, and one packet would keep the device in its call
 * for ever. Costs two compares per writable segment on the fast paths
 * (one window for both areas), four on the full walk, while `peer` is
 * live.
 * `peer` (NULL: none) must be a queue of the same device, processed by
 * the same thread as this one: pop reads its ring addresses and state.
 * The setting survives vdev_vq_reset(); vdev_vq_init() clears it.
 * Context: configuration (a device model sets it at init).
 */
VDEV_API void vdev_vq_set_feeds(struct vdev_vq *vq, const struct vdev_vq *peer);

/*
 * vdev_vq_attach() - tell the queue which device it belongs to, so that a
 * broken ring marks that device DEVICE_NEEDS_RESET and vdev_vq_flush() can
 * send notifications. Done by vdev_dev_init(); NULL detaches.
 */
VDEV_API void vdev_vq_attach(struct vdev_vq *vq, struct vdev_dev *dev);

/* --- Processing ---------------------------------------------------------- */

/*
 * vdev_vq_pop() - take the next available chain.
 * Fills *elem, pointing elem->iov at `iov`, which holds up to `iov_cap`
 * segments (cap at most 65535). Segments are translated and checked: each
 * lies inside guest memory and is contiguous on the host; a descriptor that
 * crosses a region boundary yields several segments; zero-length
 * descriptors yield none.
 * Returns 1 if a chain was taken (possibly rejected: check elem->error), 0
 * if the ring is empty, VDEV_EPROTO if the ring is broken (now or before),
 * VDEV_EPERM if the queue is not live.
 * Every chain taken must be completed exactly once with vdev_vq_push().
 * A chain whose head (split) or buffer id (packed) the queue already holds
 * is not taken: the ring is broken (the chains before it are returned).
 * When notifications are enabled (the default) an empty pop re-arms them
 * (EVENT_IDX: avail_event / the packed event offset) and checks the ring
 * once more, so "pop until 0, then wait for a kick" never misses one.
 * Ownership: the segments point into guest memory, borrowed until the push.
 * Context: the thread processing this queue.
 */
VDEV_API int vdev_vq_pop(struct vdev_vq *vq, struct vdev_vq_elem *elem, struct vdev_iov *iov,
			 unsigned iov_cap);

/*
 * vdev_vq_pop_batch() - take up to `max` chains; the avail index (split) is
 * read at most once. Chain i uses iov[i * iov_per_elem ...] and holds up to
 * iov_per_elem segments. Returns the number taken (0..max) or, if none was
 * taken, an error as vdev_vq_pop().
 * Context: as vdev_vq_pop().
 */
VDEV_API int vdev_vq_pop_batch(struct vdev_vq *vq, struct vdev_vq_elem *elems, unsigned max,
			       struct vdev_iov *iov, unsigned iov_per_elem);

/*
 * vdev_vq_unpop() - give back the last `n` chains taken, so that the next
 * pop returns them again (a receive path that found too little buffer
 * space for a packet). `elems` are those chains in the order they were
 * popped, unchanged and none of them pushed; they must be the most recent
 * pops of the queue. They are no longer held (a push of one is refused)
 * until popped again. Returns 0, VDEV_EPERM (queue not live) or
 * VDEV_EINVAL (they are not the latest pops; nothing changes).
 * Context: the thread processing this queue.
 */
VDEV_API int vdev_vq_unpop(struct vdev_vq *vq, const struct vdev_vq_elem *elems, unsigned n);

/*
 * vdev_vq_push() - complete a chain: stage a used element with the number
 * of bytes written into its device-writable segments (clamped to
 * elem->in_bytes). Not visible to the driver until vdev_vq_publish().
 * With IN_ORDER negotiated, chains must be pushed in the order popped.
 * Returns 0, VDEV_EPERM (queue not live), VDEV_EINVAL (nothing in flight to
 * complete, elem not from this queue, a buffer the queue does not hold
 * (already pushed, given back by unpop, from before a stop/start), or out
 * of order under IN_ORDER; the push is ignored).
 * Context: the thread processing this queue.
 */
VDEV_API int vdev_vq_push(struct vdev_vq *vq, const struct vdev_vq_elem *elem, uint32_t written);

/*
 * vdev_vq_push_batch() - vdev_vq_push() for `n` chains at once: chain i
 * with written[i] bytes (each clamped to its in_bytes). All or nothing:
 * every element is checked first (in flight, from this queue, held and
 * not twice in the batch, in order under IN_ORDER), and on any failure
 * nothing is staged. The queue state is
 * loaded and stored once for the whole batch, which is what makes it
 * cheaper than n single pushes.
 * Returns 0 (also for n == 0), VDEV_EPERM (queue not live) or VDEV_EINVAL
 * (as vdev_vq_push(), for any element; nothing staged).
 * Context: the thread processing this queue.
 */
VDEV_API int vdev_vq_push_batch(struct vdev_vq *vq, const struct vdev_vq_elem *elems,
				const uint32_t *written, unsigned n);

/*
 * vdev_vq_publish() - make every staged used element visible to the driver
 * with one store of the used index (split) or of the first descriptor's
 * flags (packed), and decide whether the driver must be notified (EVENT_IDX
 * used_event / packed driver event suppression, or the NO_INTERRUPT flag).
 * Returns true if a used-buffer notification must be sent. The caller sends
 * it (vdev_dev_notify_queue()), or uses vdev_vq_flush() instead.
 * Context: the thread processing this queue.
 */
VDEV_API bool vdev_vq_publish(struct vdev_vq *vq);

/*
 * vdev_vq_flush() - vdev_vq_publish() and, if needed, the notification
 * through the attached device's transport. Returns whether one was sent.
 */
VDEV_API bool vdev_vq_flush(struct vdev_vq *vq);

/*
 * vdev_vq_disable_notify() - ask the driver not to send available-buffer
 * notifications (the device is polling). vdev_vq_enable_notify() asks for
 * them again and returns true if chains are already waiting, in which case
 * the caller should process them (a notification may not come for them).
 * Context: the thread processing this queue.
 */
VDEV_API void vdev_vq_disable_notify(struct vdev_vq *vq);
VDEV_API bool vdev_vq_enable_notify(struct vdev_vq *vq);

/*
 * vdev_vq_notify_on_next() - ask the driver to notify the next buffer it
 * makes available, however many wait on the ring already: for a device
 * that leaves chains on a queue for now (a net transmit queue of a pair
 * beyond VQ_PAIRS_SET) and takes them at the driver's next notification.
 * Without it, EVENT_IDX lets a driver skip that notification (it only
 * notifies the buffer the device last asked about). Split ring with
 * EVENT_IDX: avail_event is set to the driver's newest avail index;
 * packed: notifications on for every buffer until the device next finds
 * the ring empty; otherwise as vdev_vq_enable_notify(). Does nothing on
 * a queue that is not live, is broken or has notifications disabled
 * (vdev_vq_disable_notify()). Context: the thread processing this queue.
 */
VDEV_API void vdev_vq_notify_on_next(struct vdev_vq *vq);

/*
 * vdev_vq_has_work() - true if a chain is available (a cheap peek; no
 * chain is taken). False for a queue that is not live or broken.
 */
VDEV_API bool vdev_vq_has_work(struct vdev_vq *vq);

/*
 * vdev_vq_note_notification() - record a VIRTIO_F_NOTIFICATION_DATA value
 * for this queue: bits 0..15 of the driver's data after the queue index,
 * i.e. the split avail index, or the packed next_off | next_wrap << 15.
 * Only bookkeeping: the ring itself stays the authority. A value that
 * contradicts the ring (more than size ahead, position >= size) counts in
 * stats.bad_notify_data.
 */
VDEV_API void vdev_vq_note_notification(struct vdev_vq *vq, uint16_t data);

/* vdev_vq_get_stats() - copy the queue's counters. */
VDEV_API void vdev_vq_get_stats(const struct vdev_vq *vq, struct vdev_vq_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* VDEV_VIRTQUEUE_H */
