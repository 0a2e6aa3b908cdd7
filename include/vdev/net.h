/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-net device model (spec "Network Device").
 *
 * Features: MAC, MTU, STATUS (link up/down, ANNOUNCE), SPEED_DUPLEX,
 * CTRL_VQ with CTRL_RX and CTRL_RX_EXTRA (promisc, allmulti, alluni,
 * nomulti, nouni, nobcast), CTRL_MAC_ADDR (MAC_ADDR_SET, MAC_TABLE_SET
 * with unicast and multicast filtering), CTRL_VLAN, GUEST_ANNOUNCE,
 * CTRL_GUEST_OFFLOADS, MQ with VQ_PAIRS_SET, MRG_RXBUF, and pass-through
 * of the virtio-net header's checksum and segmentation offloads (CSUM,
 * GUEST_CSUM, HOST_/GUEST_TSO4, TSO6, ECN, UFO) when the backend says it
 * handles them. Plus the ring features of the core.
 *
 * Queues: receiveq0, transmitq0, ..., receiveqN-1, transmitqN-1 for
 * N = max_pairs, then the control queue (when CTRL_VQ is offered). The
 * control queue's index is 2 * max_pairs if MQ was negotiated and 2
 * otherwise, as the spec says; the model follows the negotiation.
 *
 * Transmit: a queue notification (or vdev_net_process_tx) pops transmit
 * chains (transmit queues are device-reads-only, see
 * vdev_vq_set_device_reads_only(): descriptors a driver marks writable are
 * read as part of the frame and counted in the queue's write_as_read), copies the 12-byte virtio-net header out once, validates it
 * against the negotiated features, and hands the frame's segments to the
 * backend's transmit op. Malformed frames (no header, header split into a
 * chain that is too short, a frame above 65550 bytes or above the MTU
 * without GSO, NEEDS_CSUM without CSUM, csum_start/offset outside the
 * frame, GSO without the feature, without NEEDS_CSUM or with gso_size 0,
 * a rejected chain) are dropped and counted; every chain gets its used
 * entry.
 *
 * Receive: the host delivers a frame with vdev_net_receive(), or several
 * with vdev_net_receive_batch() (one publish and notification). The device
 * filters it (MAC, MAC table, rx mode, VLAN table), places it in the
 * guest's receive buffers (mergeable or one big buffer) behind a header
 * whose offload fields the guest negotiated, or answers VDEV_EAGAIN when
 * the guest has not posted enough buffer space: nothing is consumed, and
 * the backend's rx_ready op is called once the guest posts more.
 *
 * Control features without the control queue: CTRL_RX, CTRL_RX_EXTRA,
 * CTRL_VLAN, CTRL_MAC_ADDR, GUEST_ANNOUNCE, MQ and CTRL_GUEST_OFFLOADS
 * negotiated without CTRL_VQ (what a vhost-user front-end that runs the
 * control queue itself sends, e.g. QEMU's, DPDK's virtio-user with cq=1)
 * are accepted and have no effect: the device filters nothing by MAC, rx
 * mode or VLAN, vdev_net_announce() is refused, and with MQ every pair is
 * usable (the front-end steers them). CTRL_RX_EXTRA without CTRL_RX is
 * likewise inert.
 *
 * Host policy: the allow_mac_change and allow_promisc ops decide whether
 * a guest may change its MAC address (MAC_ADDR_SET) or enter promiscuous
 * or all-unicast mode; a denied command gets VIRTIO_NET_ERR and changes
 * nothing. The host sets the MAC and the link state at run time with
 * vdev_net_set_mac() / vdev_net_set_link() (configuration change
 * notification). Device reset restores the host's MAC.
 *
 * Context: transmit processing for a pair, vdev_net_receive() for that
 * pair and the rx_ready/transmit ops it triggers run in that pair's queue
 * context; control-queue commands run in the control queue's context.
 * The integrator serialises the transport-facing calls (see device.h).
 * One thread for everything (the usual vhost-user set-up) is always safe.
 */
#ifndef VDEV_NET_H
#define VDEV_NET_H

/* Absent from a build with VDEV_CONFIG_DEV_NET 0 (vdev/config.h): the
 * functions below are declared there but not defined (a call does not
 * link). */

#include "vdev/common.h"
#include "vdev/device.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Feature bits (spec "Network Device / Feature bits"). */
#define VDEV_NET_F_CSUM 0
#define VDEV_NET_F_GUEST_CSUM 1
#define VDEV_NET_F_CTRL_GUEST_OFFLOADS 2
#define VDEV_NET_F_MTU 3
#define VDEV_NET_F_MAC 5
#define VDEV_NET_F_GUEST_TSO4 7
#define VDEV_NET_F_GUEST_TSO6 8
#define VDEV_NET_F_GUEST_ECN 9
#define VDEV_NET_F_GUEST_UFO 10
#define VDEV_NET_F_HOST_TSO4 11
#define VDEV_NET_F_HOST_TSO6 12
#define VDEV_NET_F_HOST_ECN 13
#define VDEV_NET_F_HOST_UFO 14
#define VDEV_NET_F_MRG_RXBUF 15
#define VDEV_NET_F_STATUS 16
#define VDEV_NET_F_CTRL_VQ 17
#define VDEV_NET_F_CTRL_RX 18
#define VDEV_NET_F_CTRL_VLAN 19
#define VDEV_NET_F_CTRL_RX_EXTRA 20
#define VDEV_NET_F_GUEST_ANNOUNCE 21
#define VDEV_NET_F_MQ 22
#define VDEV_NET_F_CTRL_MAC_ADDR 23
#define VDEV_NET_F_SPEED_DUPLEX 63

/* The offload bits a backend can take on (vdev_net_config.offloads). */
#define VDEV_NET_OFFLOAD_MASK                                                             \
	(VDEV_BIT(VDEV_NET_F_CSUM) | VDEV_BIT(VDEV_NET_F_GUEST_CSUM) |                      \
	 VDEV_BIT(VDEV_NET_F_GUEST_TSO4) | VDEV_BIT(VDEV_NET_F_GUEST_TSO6) |                \
	 VDEV_BIT(VDEV_NET_F_GUEST_ECN) | VDEV_BIT(VDEV_NET_F_GUEST_UFO) |                  \
	 VDEV_BIT(VDEV_NET_F_HOST_TSO4) | VDEV_BIT(VDEV_NET_F_HOST_TSO6) |                  \
	 VDEV_BIT(VDEV_NET_F_HOST_ECN) | VDEV_BIT(VDEV_NET_F_HOST_UFO))

/* virtio_net_hdr.flags */
#define VDEV_NET_HDR_F_NEEDS_CSUM 1u
#define VDEV_NET_HDR_F_DATA_VALID 2u
/* virtio_net_hdr.gso_type */
#define VDEV_NET_HDR_GSO_NONE 0u
#define VDEV_NET_HDR_GSO_TCPV4 1u
#define VDEV_NET_HDR_GSO_UDP 3u
#define VDEV_NET_HDR_GSO_TCPV6 4u
#define VDEV_NET_HDR_GSO_ECN 0x80u

/* The virtio-net header on the rings (VERSION_1: always 12 bytes). */
#define VDEV_NET_HDR_LEN 12u
/* Largest frame (without the virtio-net header) either way. */
#define VDEV_NET_MAX_FRAME 65550u
#define VDEV_NET_MAX_PAIRS 256u
/* MAC filter table entries (unicast and multicast each); a longer table
 * from the guest makes the device accept all of that kind (spec footnote). */
#define VDEV_NET_MAC_TABLE 32u
#define VDEV_NET_CONFIG_SIZE 24u
/* Transmit batching (vdev_net_config.tx_batch): the largest batch, and the
 * batch taken when tx_iovs is given with tx_batch 0. */
#define VDEV_NET_TX_BATCH_MAX 32u
#define VDEV_NET_TX_BATCH_DEFAULT 16u
/* The most chains one pop takes without vdev_net_config.tx_elems. */
#define VDEV_NET_TX_STACK_BATCH 4u

/* config status bits */
#define VDEV_NET_S_LINK_UP 1u
#define VDEV_NET_S_ANNOUNCE 2u

/* The virtio-net header, decoded (host byte order). */
struct vdev_net_hdr {
	uint8_t flags;       /* VDEV_NET_HDR_F_* */
	uint8_t gso_type;    /* VDEV_NET_HDR_GSO_* */
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers; /* receive only; filled by the device */
};

/*
 * Packet I/O and host policy. `size` first; ops may be NULL where said.
 * Every op gets `backend_opaque` first.
 */
struct vdev_net_backend_ops {
	uint32_t size; /* sizeof(struct vdev_net_backend_ops) */
	/*
	 * Send a frame the guest transmitted on queue pair `pair`: `len` bytes
	 * in iov[0..iovcnt) (the virtio-net header already stripped and
	 * checked, decoded in *hdr; its offload fields are only set when the
	 * negotiated features allow them). Synchronous: the segments point
	 * into guest memory and are borrowed only for the call (copy what must
	 * outlive it). Returns 0 (sent or dropped by the backend) or
	 * VDEV_EAGAIN: the backend cannot take it now; the device keeps the
	 * frame on the ring, stops transmitting on that pair and resumes at
	 * vdev_net_tx_resume(). Required.
	 */
	int (*transmit)(void *opaque, uint16_t pair, const struct vdev_net_hdr *hdr,
			const struct vdev_iov *iov, unsigned iovcnt, size_t len);
	/* The guest posted receive buffers on `pair` after a delivery was
	 * refused with VDEV_EAGAIN: deliver again. Optional (poll instead). */
	void (*rx_ready)(void *opaque, uint16_t pair);
	/* May the guest use `mac` as its address (MAC_ADDR_SET)? NULL: yes. */
	bool (*allow_mac_change)(void *opaque, const uint8_t mac[6]);
	/* May the guest turn promiscuous / all-unicast receive on? NULL: yes. */
	bool (*allow_promisc)(void *opaque);
	/* The offloads the guest accepts on receive changed (DRIVER_OK,
	 * CTRL_GUEST_OFFLOADS_SET, reset): VDEV_BIT(VDEV_NET_F_GUEST_*) bits.
	 * A TAP backend passes them to TUNSETOFFLOAD. Optional. */
	void (*set_guest_offloads)(void *opaque, uint64_t offloads);
	/*
	 * The end of a transmit batch (optional): after the transmit op was
	 * called for the frames of one popped batch (see tx_batch; at most
	 * VDEV_NET_TX_STACK_BATCH without tx_elems) and before their chains
	 * are completed, the device calls this once, if the batch handed the
	 * backend at least one frame. Until it returns, the segments (iov
	 * arrays and the guest memory they point to) of every frame the batch
	 * passed to transmit stay valid, so a backend may keep the pointers
	 * and send the whole batch here (e.g. one vdev_net_receive_batch()
	 * per destination device of an in-process switch), or send with one
	 * kick what it copied into a queue (an AF_PACKET transmit ring, one
	 * io_uring submission to a TAP). The hdr pointers are not kept valid
	 * (copy what is needed). Context: as transmit (vdev_net_process_tx()
	 * or vdev_net_tx_resume()); must not call either for the same pair.
	 */
	void (*transmit_flush)(void *opaque, uint16_t pair);
};

struct vdev_net_config {
	uint8_t mac[6];        /* the host's MAC for the guest; all-zero: MAC not offered */
	uint16_t mtu;          /* 68..65535 offers MTU; 0: not offered */
	uint16_t max_pairs;    /* queue pairs, 1..VDEV_NET_MAX_PAIRS; > 1 offers MQ */
	uint32_t queue_size;   /* max size of each queue, 1..32768 */
	bool link_up;          /* initial link state (STATUS is always offered) */
	uint32_t speed;        /* Mbit/s for SPEED_DUPLEX; 0: not offered */
	uint8_t duplex;        /* 0 half, 1 full, 0xff unknown */
	uint64_t offloads;     /* VDEV_NET_OFFLOAD_MASK bits the backend handles */
	uint64_t features;     /* 0: offer everything supported; else exactly these
				* (a subset of vdev_net_supported_features()) */
	uint64_t ring_features; /* 0: INDIRECT_DESC, EVENT_IDX, RING_PACKED, RING_RESET,
				 * IN_ORDER (the device completes in order) */
	const struct vdev_mem *mem;
	/* Caller-owned storage (borrowed for the life of the device): */
	struct vdev_vq *queues;     /* 2 * max_pairs + 1 queues */
	uint64_t *queue_held;       /* (2 * max_pairs + 1) *
				     * VDEV_VQ_HELD_WORDS(queue_size): buffers
				     * each queue holds (virtqueue.h) */
	struct vdev_vq_elem *elems; /* max_pairs * rx_bufs: receive scratch */
	struct vdev_iov *iovs;      /* (max_pairs * (rx_bufs + 1) + 1) * iov_per_chain */
	unsigned rx_bufs;           /* most buffers one received frame may take
				     * (mergeable); 1..4096 */
	unsigned iov_per_chain;     /* segments per chain, 2..65535 */
	const struct vdev_net_backend_ops *backend;
	void *backend_opaque;
	/*
	 * Transmit batching (optional; leave both 0/NULL for one chain at a
	 * time in the transmit slot of `iovs`). With tx_iovs, each transmit
	 * pass pops up to tx_batch chains at once, sends them in order and
	 * completes them with one batch push, which costs less per frame.
	 * tx_iovs: caller-owned, borrowed for the life of the device,
	 * max_pairs * tx_batch * iov_per_chain segments (pair p uses the
	 * p-th run of tx_batch * iov_per_chain). tx_batch: 1..
	 * VDEV_NET_TX_BATCH_MAX, or 0 for VDEV_NET_TX_BATCH_DEFAULT; without
	 * tx_iovs it must be 0 or 1.
	 * tx_elems (optional, with tx_iovs): caller-owned, borrowed for the
	 * life of the device, max_pairs * tx_batch elements (pair p uses the
	 * p-th run of tx_batch) that hold the popped batch. Without it a
	 * pass pops at most VDEV_NET_TX_STACK_BATCH chains at a time, into
	 * elements on the stack of vdev_net_process_tx() (a small stack
	 * frame whatever tx_batch is: the library's stack budget).
	 */
	struct vdev_iov *tx_iovs;
	unsigned tx_batch;
	struct vdev_vq_elem *tx_elems;
};

struct vdev_net_stats {
	uint64_t tx_frames, tx_bytes, tx_dropped, tx_bad; /* bad: malformed by the guest */
	uint64_t rx_frames, rx_bytes, rx_filtered, rx_no_room, rx_too_big, rx_bad_buffer,
		rx_bad_offload;
	uint64_t ctrl_ok, ctrl_err, ctrl_denied;
};

/* Per-pair state. Part of struct vdev_net; fields private. */
struct vdev_net_pair {
	bool VDEV_PRIV(rx_waiting); /* a delivery was refused for lack of room */
	bool VDEV_PRIV(tx_blocked); /* the backend returned VDEV_EAGAIN */
};

/* Device state. Caller-allocated; fields private. */
struct vdev_net {
	struct vdev_dev VDEV_PRIV(dev);
	const struct vdev_net_backend_ops *VDEV_PRIV(ops);
	void *VDEV_PRIV(opaque);
	struct vdev_vq *VDEV_PRIV(queues);
	struct vdev_vq_elem *VDEV_PRIV(elems);
	struct vdev_iov *VDEV_PRIV(iovs);
	struct vdev_iov *VDEV_PRIV(tx_iovs);
	struct vdev_vq_elem *VDEV_PRIV(tx_elems);
	struct vdev_net_stats VDEV_PRIV(stats);
	struct vdev_net_pair VDEV_PRIV(pairs)[VDEV_NET_MAX_PAIRS];
	uint64_t VDEV_PRIV(guest_offloads);
	unsigned VDEV_PRIV(rx_bufs);
	unsigned VDEV_PRIV(iov_per_chain);
	unsigned VDEV_PRIV(tx_batch);
	uint16_t VDEV_PRIV(max_pairs);
	uint16_t VDEV_PRIV(active_pairs);
	uint16_t VDEV_PRIV(mtu);
	uint8_t VDEV_PRIV(host_mac)[6];
	uint8_t VDEV_PRIV(mac)[6];
	bool VDEV_PRIV(promisc), VDEV_PRIV(allmulti), VDEV_PRIV(alluni);
	bool VDEV_PRIV(nomulti), VDEV_PRIV(nouni), VDEV_PRIV(nobcast);
	bool VDEV_PRIV(uni_overflow), VDEV_PRIV(multi_overflow);
	uint8_t VDEV_PRIV(n_uni), VDEV_PRIV(n_multi);
	uint8_t VDEV_PRIV(uni)[VDEV_NET_MAC_TABLE][6];
	uint8_t VDEV_PRIV(multi)[VDEV_NET_MAC_TABLE][6];
	uint8_t VDEV_PRIV(vlans)[4096 / 8];
	uint8_t VDEV_PRIV(config)[VDEV_NET_CONFIG_SIZE];
};

/*
 * vdev_net_supported_features() - the device feature bits the config can
 * offer (without the ring features): what vdev_net_init() offers when
 * cfg->features is 0.
 */
VDEV_API uint64_t vdev_net_supported_features(const struct vdev_net_config *cfg);

/*
 * vdev_net_init() - set up a network device.
 * Returns 0 or VDEV_EINVAL: no backend or no transmit op; max_pairs 0 or
 * above VDEV_NET_MAX_PAIRS; queue_size out of range; mtu 1..67; rx_bufs
 * 0 or above 4096; iov_per_chain below 2; tx_batch above
 * VDEV_NET_TX_BATCH_MAX, or above 1 without tx_iovs; offloads outside
 * VDEV_NET_OFFLOAD_MASK; features not a subset of what is supported or
 * breaking the spec's feature dependencies; NULL mem/queues/queue_held/elems/iovs.
 * Ownership: cfg is copied; its arrays and the backend are borrowed.
 * Context: before the transport is set up.
 */
VDEV_API int vdev_net_init(struct vdev_net *net, const struct vdev_net_config *cfg);

/* vdev_net_dev() - the device core object, for vdev_mmio_init() & co. */
VDEV_API struct vdev_dev *vdev_net_dev(struct vdev_net *net);

/*
 * vdev_net_receive() - deliver a frame from the host to the guest on
 * queue pair `pair` (taken modulo the active pairs). The frame is `len`
 * bytes (an Ethernet frame, at least 14 bytes) in host segments
 * iov[0..iovcnt), copied into guest buffers before the call returns (the
 * caller keeps ownership). `hdr` (may be NULL: no offloads) describes
 * checksum/segmentation offload state; its num_buffers is ignored.
 * Returns 0 delivered, or:
 *   VDEV_EAGAIN  not enough receive buffer space posted; nothing was
 *                consumed; rx_ready is called when the guest adds buffers
 *   VDEV_ENOENT  dropped by the receive filter (MAC, rx mode, VLAN)
 *   VDEV_EMSGSIZE dropped: larger than VDEV_NET_MAX_FRAME, than the MTU
 *                without GSO, or than rx_bufs buffers can hold
 *   VDEV_ENOTSUP dropped: offloads in *hdr the guest did not accept
 *   VDEV_EPROTO  dropped: the guest's buffers were malformed (returned to
 *                it empty)
 *   VDEV_EPERM   the device is not running or the receive queue not live
 *   VDEV_EINVAL  bad arguments (frame shorter than 14 bytes)
 * Context: the pair's queue context.
 */
VDEV_API int vdev_net_receive(struct vdev_net *net, uint16_t pair, const struct vdev_net_hdr *hdr,
			      const struct vdev_iov *iov, unsigned iovcnt, size_t len);

/* One frame for vdev_net_receive_batch(): what vdev_net_receive() takes. */
struct vdev_net_frame {
	const struct vdev_net_hdr *hdr; /* may be NULL: no offloads */
	const struct vdev_iov *iov;     /* the frame's host segments */
	unsigned iovcnt;
	size_t len; /* bytes of Ethernet frame, >= 14 */
};

/*
 * vdev_net_receive_batch() - deliver frames[0..n) from the host to the
 * guest on queue pair `pair` (taken modulo the active pairs), in order:
 * what n calls of vdev_net_receive() do, with one notification at most.
 * Receive buffers are popped up to rx_bufs at a time (vdev_net_config:
 * the pair's receive scratch, so rx_bufs >= 32 batches best), the frames
 * copied into them, the used buffers completed with batch pushes and the
 * used ring published once at the end (then the guest is notified if it
 * asked). Buffers popped but not used are put back (unpopped) in order.
 *
 * Each frame is handled as vdev_net_receive() handles it, with the same
 * checks and counters, and is either consumed (delivered, or dropped:
 * results[i] = 0 or that function's VDEV_ENOENT, VDEV_EMSGSIZE,
 * VDEV_ENOTSUP, VDEV_EPROTO, or VDEV_EINVAL for a frame shorter than 14
 * bytes or with fewer bytes in iov than len) or, when the guest has not
 * posted enough buffer space (or the queue broke), not consumed, and then
 * neither is any frame after it (rx_ready is called when the guest posts
 * more, as for vdev_net_receive()).
 *
 * frames, their headers and segments stay the caller's; everything is
 * copied before the call returns. results: n ints, or NULL.
 * Returns the number of frames consumed (1..n; results[0..return) say
 * how each went), 0 if n is 0, or, if not even the first frame was
 * consumed, why: VDEV_EAGAIN (no room; nothing consumed), VDEV_EPERM
 * (device not running, receive queue not live or broken), VDEV_EINVAL
 * (frames NULL).
 * Context: the pair's queue context, like vdev_net_receive().
 */
VDEV_API int vdev_net_receive_batch(struct vdev_net *net, uint16_t pair,
				    const struct vdev_net_frame *frames, unsigned n, int *results);

/*
 * vdev_net_process_tx() - transmit what the guest queued on `pair`, until
 * the ring is empty or the backend pushes back; publish and notify. What a
 * transmit-queue notification does. Chains are popped tx_batch at a time
 * (at most VDEV_NET_TX_STACK_BATCH without tx_elems; see vdev_net_config),
 * handed to the transmit op in ring order and completed together; the used
 * ring is published once at the end. When
 * the op returns VDEV_EAGAIN, that frame and the rest of its batch go back
 * on the ring in order (nothing is completed or lost) until
 * vdev_net_tx_resume(). A pair at or beyond the active ones
 * (VQ_PAIRS_SET) is inert: nothing is taken and 0 returned; its chains
 * wait for a notification or call after the pairs grow again. Returns the
 * frames taken or a negative VDEV_E* (queue not live or broken, bad pair).
 * Context: the pair's queue context. The transmit op must not call
 * vdev_net_process_tx() or vdev_net_tx_resume() for the same pair (the
 * batch's segments are still in use).
 */
VDEV_API int vdev_net_process_tx(struct vdev_net *net, uint16_t pair);

/* vdev_net_tx_resume() - the backend can take frames again after it
 * returned VDEV_EAGAIN: transmit what is queued. Context: the pair's. */
VDEV_API int vdev_net_tx_resume(struct vdev_net *net, uint16_t pair);

/* vdev_net_process_ctrl() - serve the control queue (what its
 * notification does). Returns commands served or a negative VDEV_E*. */
VDEV_API int vdev_net_process_ctrl(struct vdev_net *net);

/*
 * vdev_net_set_mac() - the host gives the guest a new MAC: config space
 * and receive filter change now, a configuration change is signalled, and
 * a later reset keeps it. Context: the transport-facing path.
 */
VDEV_API void vdev_net_set_mac(struct vdev_net *net, const uint8_t mac[6]);

/* vdev_net_set_link() - link up/down (config status, change notification). */
VDEV_API void vdev_net_set_link(struct vdev_net *net, bool up);

/*
 * vdev_net_announce() - ask the guest to announce itself (gratuitous ARP,
 * after migration): sets ANNOUNCE in the status if GUEST_ANNOUNCE was
 * negotiated. Returns 0 or VDEV_ENOTSUP.
 */
VDEV_API int vdev_net_announce(struct vdev_net *net);

/* vdev_net_mac() - the guest's current MAC (the one the filter accepts). */
VDEV_API void vdev_net_mac(const struct vdev_net *net, uint8_t mac[6]);

/* vdev_net_active_pairs() - queue pairs the guest uses: 1 after reset, then
 * what VQ_PAIRS_SET says; all of them with MQ but without CTRL_VQ (the
 * front-end steers the pairs). Receive folds onto these; transmit on the
 * others is inert. */
VDEV_API uint16_t vdev_net_active_pairs(const struct vdev_net *net);

/* vdev_net_guest_offloads() - the receive offloads the guest accepts now. */
VDEV_API uint64_t vdev_net_guest_offloads(const struct vdev_net *net);

VDEV_API void vdev_net_get_stats(const struct vdev_net *net, struct vdev_net_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* VDEV_NET_H */
