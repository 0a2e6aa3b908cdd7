/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-vsock device model (spec "Socket Device").
 *
 * Host <-> guest sockets addressed by context id (CID), without an IP
 * stack. The device is the host end: the host is CID 2, the guest's CID is
 * in the configuration space. Features: STREAM, SEQPACKET (message and
 * record boundaries, VDEV_VSOCK_SEQ_EOM / _EOR) and NO_IMPLIED_STREAM, plus
 * the ring features of the core.
 *
 * Queues: 0 rx (device -> driver packets), 1 tx (driver -> device), 2 event.
 *
 * Connections live in a caller-sized table (cfg->conns, cfg->max_conns).
 * A guest REQUEST to a host port is offered to the host's accept op; a
 * refusal, a full table or an unknown connection is answered with RST. The
 * host opens connections to guest ports with vdev_vsock_connect(), sends
 * with vdev_vsock_send() and receives through its recv op.
 *
 * Flow control is the spec's credit scheme both ways:
 *   - device -> guest: vdev_vsock_send() never sends more than the guest's
 *     advertised buf_alloc minus the bytes in flight (tx_cnt - fwd_cnt);
 *     with no credit or no rx buffers it returns VDEV_EAGAIN and the host's
 *     writable op is called once sending can make progress again.
 *   - guest -> device: per connection the device advertises buf_alloc =
 *     cfg->buf_alloc, the host's receive budget for that connection, and
 *     fwd_cnt = the bytes the host has CONSUMED (reported with
 *     vdev_vsock_consumed()), not the bytes handed to it. So a guest that
 *     keeps to its credit never has more than buf_alloc bytes waiting in
 *     the host: the recv op always takes a packet into the host's own
 *     buffer (sized by that budget) and the tx queue never waits for a
 *     slow host peer; one connection whose host side does not read only
 *     stops that connection's guest socket. A guest that sends beyond the
 *     credit it was told about is reset (RST); the queue goes on.
 *
 * Clean close: vdev_vsock_close() sends SHUTDOWN both ways and waits for
 * the guest's RST. The core has no clock: the integrator calls
 * vdev_vsock_tick() now and then with a monotonic time in milliseconds,
 * and a connection whose RST has not come cfg->close_timeout_ms after the
 * close is reset by the device (spec "Stream Sockets": RST after an
 * implementation-specific time) and its slot freed.
 *
 * Hostile input: packets with a short or split header are read through a
 * local copy; len beyond the payload, a src_cid other than guest_cid, a
 * dst_cid other than the host, bad chains are dropped (counted); unknown
 * type or op gets RST; fwd_cnt going backwards or beyond what was sent is
 * ignored (counted). Every tx chain gets a used entry as soon as it is
 * handled, in order. Replies that cannot be sent for lack of rx
 * buffers wait in bounded per-connection flags and a small queue of RSTs;
 * when that queue is full the device stops taking tx chains until the
 * driver posts rx buffers (spec "Virtqueue Flow Control").
 *
 * Reset: a device reset (or vdev_vsock_set_guest_cid(), or
 * vdev_vsock_transport_reset()) ends every connection (the host gets
 * VDEV_VSOCK_EV_RESET for each) and, if any was open, queues a
 * VIRTIO_VSOCK_EVENT_TRANSPORT_RESET that is written into the next event
 * buffer the driver posts.
 *
 * Context: one thread for the device (tx/rx/event queue notifications and
 * every vdev_vsock_* call), the usual vhost-user set-up, or the integrator
 * serialises them. Host ops are called from inside vdev_vsock_* calls and
 * queue notifications; from an op the host may call vdev_vsock_send(),
 * _consumed(), _shutdown(), _close() and _abort(), but not _process() or
 * _tick().
 */
#ifndef VDEV_VSOCK_H
#define VDEV_VSOCK_H

/* Absent from a build with VDEV_CONFIG_DEV_VSOCK 0 (vdev/config.h): the
 * functions below are declared there but not defined (a call does not
 * link). */

#include "vdev/common.h"
#include "vdev/device.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Feature bits (spec "Socket Device / Feature bits"). */
#define VDEV_VSOCK_F_STREAM 0
#define VDEV_VSOCK_F_SEQPACKET 1
#define VDEV_VSOCK_F_NO_IMPLIED_STREAM 2

/* Socket types (hdr.type). */
#define VDEV_VSOCK_TYPE_STREAM 1u
#define VDEV_VSOCK_TYPE_SEQPACKET 2u

/* Seqpacket boundaries: flags of vdev_vsock_send() and of the recv op. */
#define VDEV_VSOCK_SEQ_EOM 0x1u
#define VDEV_VSOCK_SEQ_EOR 0x2u

/* Shutdown directions (as the spec's SHUTDOWN flags, from the sender's side). */
#define VDEV_VSOCK_SHUTDOWN_RCV 0x1u  /* will receive no more */
#define VDEV_VSOCK_SHUTDOWN_SEND 0x2u /* will send no more */

#define VDEV_VSOCK_HOST_CID 2u
#define VDEV_VSOCK_HDR_LEN 44u
#define VDEV_VSOCK_CONFIG_SIZE 8u
#define VDEV_VSOCK_NUM_QUEUES 3u
/* RST replies to unknown connections waiting for an rx buffer. */
#define VDEV_VSOCK_RST_QUEUE 16u
/* Most connections a table may have (ids carry the slot in 16 bits). */
#define VDEV_VSOCK_MAX_CONNS 65535u
/* Default cfg->close_timeout_ms (Linux's af_vsock waits as long). */
#define VDEV_VSOCK_CLOSE_TIMEOUT_MS 8000u
/* arg of VDEV_VSOCK_EV_CLOSED when the guest never answered the close */
#define VDEV_VSOCK_CLOSED_TIMEOUT 1u

/* Connection events for the host's event op. */
enum vdev_vsock_event {
	VDEV_VSOCK_EV_CONNECTED = 1, /* a vdev_vsock_connect() got its RESPONSE */
	VDEV_VSOCK_EV_REFUSED = 2,   /* a vdev_vsock_connect() got RST; id dead */
	VDEV_VSOCK_EV_SHUTDOWN = 3,  /* the guest shut down; arg = its VDEV_VSOCK_SHUTDOWN_* */
	VDEV_VSOCK_EV_RESET = 4,     /* reset by the guest, the device or a protocol
				      * error; id dead */
	VDEV_VSOCK_EV_CLOSED = 5     /* clean close finished; id dead; arg 0, or
				      * VDEV_VSOCK_CLOSED_TIMEOUT: the guest's RST
				      * did not come in time, the device sent RST */
};

/*
 * The host side. `size` first; ops get `opaque` (cfg->host_opaque) first.
 * Connection ids are opaque 32-bit values; a dead id is never reused soon
 * (a generation count) and calls with it return VDEV_ENOENT.
 */
struct vdev_vsock_host_ops {
	uint32_t size; /* sizeof(struct vdev_vsock_host_ops) */
	/*
	 * The guest asks to connect from `guest_port` to `host_port` with
	 * socket `type`. Return 0 to accept (the device answers RESPONSE;
	 * `conn` is the new connection), or a negative VDEV_E* to refuse
	 * (RST). NULL: every request is refused. This is the listen policy.
	 */
	int (*accept)(void *opaque, uint32_t conn, uint32_t host_port, uint32_t guest_port,
		      uint16_t type);
	/*
	 * Guest data for `conn`: `len` bytes in iov[0..iovcnt) (guest memory,
	 * borrowed for the call only: copy what must outlive it); `flags` the
	 * VDEV_VSOCK_SEQ_* boundary bits (seqpacket; 0 for stream).
	 * The device calls this only within the budget: the bytes the host
	 * took and has not yet reported with vdev_vsock_consumed(), plus
	 * `len`, never exceed cfg->buf_alloc. So the host takes every packet,
	 * into a buffer of its own of buf_alloc bytes per connection, and
	 * calls vdev_vsock_consumed() as its side reads them (from inside this
	 * op too, e.g. for bytes it could pass on at once). Return 0 (taken),
	 * or a negative VDEV_E* to reset the connection (RST; there is no
	 * "try again": the device never holds a packet). Required.
	 */
	int (*recv)(void *opaque, uint32_t conn, const struct vdev_iov *iov, unsigned iovcnt,
		    size_t len, uint32_t flags);
	/* A connection event (enum vdev_vsock_event); arg as documented there.
	 * Optional. */
	void (*event)(void *opaque, uint32_t conn, enum vdev_vsock_event ev, uint32_t arg);
	/* vdev_vsock_send() on `conn` returned VDEV_EAGAIN before and can make
	 * progress now (credit or rx buffers arrived). Optional (poll). */
	void (*writable)(void *opaque, uint32_t conn);
};

struct vdev_vsock_config {
	uint64_t guest_cid;    /* 3..0xfffffffe */
	uint32_t queue_size;   /* max size of each queue, 1..32768 */
	bool seqpacket;        /* offer SEQPACKET (STREAM is always offered) */
	uint32_t buf_alloc;    /* the host's receive budget per connection
				* (bytes taken by recv and not yet consumed),
				* advertised as buf_alloc; > 0 */
	uint32_t max_pkt;      /* largest payload of one packet the device sends;
				* 0: 65536 */
	uint64_t ring_features; /* 0: INDIRECT_DESC, EVENT_IDX, RING_PACKED, RING_RESET
				 * (IN_ORDER is not supported) */
	const struct vdev_mem *mem;
	/* Caller-owned storage, borrowed for the life of the device: */
	struct vdev_vq *queues;        /* VDEV_VSOCK_NUM_QUEUES queues */
	uint64_t *queue_held;          /* VDEV_VSOCK_NUM_QUEUES *
					* VDEV_VQ_HELD_WORDS(queue_size): buffers
					* each queue holds (virtqueue.h) */
	struct vdev_vsock_conn *conns; /* the connection table, max_conns entries */
	unsigned max_conns;            /* 1..VDEV_VSOCK_MAX_CONNS */
	struct vdev_iov *iovs;         /* 3 * iov_per_chain (one per queue) */
	unsigned iov_per_chain;        /* segments per chain, 2..65535 */
	const struct vdev_vsock_host_ops *host;
	void *host_opaque;
	uint32_t close_timeout_ms; /* clean close: the guest's RST must come this
				    * long after vdev_vsock_close(), counted in
				    * vdev_vsock_tick() calls; 0:
				    * VDEV_VSOCK_CLOSE_TIMEOUT_MS */
};

struct vdev_vsock_stats {
	uint64_t tx_packets, tx_bytes;    /* from the guest */
	uint64_t rx_packets, rx_bytes;    /* to the guest */
	uint64_t bad_chain;      /* rejected, writable, or shorter than a header */
	uint64_t bad_len;        /* hdr.len beyond the payload or too large */
	uint64_t bad_addr;       /* spoofed src_cid / dst_cid not the host */
	uint64_t bad_credit;     /* fwd_cnt backwards or beyond what was sent */
	uint64_t over_credit;    /* RW beyond the credit given (reset) */
	uint64_t rst_sent, rst_dropped; /* RST replies; dropped: queue full at reset */
	uint64_t refused;        /* REQUESTs answered with RST */
	uint64_t rx_bad_buffer;  /* driver rx/event buffers unusable (returned empty) */
	uint64_t events;         /* TRANSPORT_RESET events written */
	uint64_t credit_updates; /* CREDIT_UPDATE packets sent */
	uint64_t close_timeouts; /* clean closes ended by our RST (no answer) */
};

/* One connection. Caller-allocated in the table; fields private. */
struct vdev_vsock_conn {
	uint64_t VDEV_PRIV(close_deadline); /* vdev_vsock_tick() time of the forced RST */
	uint32_t VDEV_PRIV(host_port), VDEV_PRIV(guest_port);
	uint32_t VDEV_PRIV(peer_buf_alloc), VDEV_PRIV(peer_fwd_cnt); /* the guest's credit */
	uint32_t VDEV_PRIV(tx_cnt);      /* payload bytes sent to the guest */
	uint32_t VDEV_PRIV(rx_cnt);      /* payload bytes received from the guest */
	uint32_t VDEV_PRIV(fwd_cnt);     /* of those, consumed by the host */
	uint32_t VDEV_PRIV(fwd_sent);    /* fwd_cnt last told to the guest */
	uint16_t VDEV_PRIV(gen);
	uint16_t VDEV_PRIV(type);
	uint8_t VDEV_PRIV(state);
	uint8_t VDEV_PRIV(pending);      /* control packets waiting for rx buffers */
	uint8_t VDEV_PRIV(peer_shut);    /* SHUTDOWN flags the guest sent */
	uint8_t VDEV_PRIV(local_shut);   /* SHUTDOWN flags the host sent */
	uint8_t VDEV_PRIV(shut_flags);   /* flags of the pending SHUTDOWN */
	bool VDEV_PRIV(close_armed);     /* close_deadline is set */
	bool VDEV_PRIV(want_write);      /* send returned VDEV_EAGAIN */
};

struct vdev_vsock_rst {
	uint32_t VDEV_PRIV(src_port), VDEV_PRIV(dst_port); /* as sent (host, guest) */
	uint16_t VDEV_PRIV(type);
};

/* Device state. Caller-allocated; fields private. */
struct vdev_vsock {
	struct vdev_dev VDEV_PRIV(dev);
	const struct vdev_vsock_host_ops *VDEV_PRIV(ops);
	void *VDEV_PRIV(opaque);
	struct vdev_vq *VDEV_PRIV(queues);
	struct vdev_vsock_conn *VDEV_PRIV(conns);
	struct vdev_iov *VDEV_PRIV(iovs);
	struct vdev_vsock_stats VDEV_PRIV(stats);
	struct vdev_vsock_rst VDEV_PRIV(rstq)[VDEV_VSOCK_RST_QUEUE];
	uint64_t VDEV_PRIV(guest_cid);
	uint32_t VDEV_PRIV(buf_alloc);
	uint32_t VDEV_PRIV(max_pkt);
	uint32_t VDEV_PRIV(close_timeout_ms);
	unsigned VDEV_PRIV(max_conns);
	unsigned VDEV_PRIV(iov_per_chain);
	unsigned VDEV_PRIV(nconns);
	unsigned VDEV_PRIV(rst_head), VDEV_PRIV(rst_count);
	bool VDEV_PRIV(event_pending);  /* TRANSPORT_RESET to deliver */
	bool VDEV_PRIV(tx_stalled);     /* waiting for rx buffers before more tx */
	bool VDEV_PRIV(rx_waiting);     /* something waits for rx buffers */
	bool VDEV_PRIV(in_tx);          /* tx processing running (no recursion) */
	uint8_t VDEV_PRIV(config)[VDEV_VSOCK_CONFIG_SIZE];
	/* A packet header being encoded or decoded: scratch, filled and used
	 * with no call out in between, so not on the stack of the deep rx
	 * and tx paths (the library's stack budget). */
	uint8_t VDEV_PRIV(hdr_raw)[VDEV_VSOCK_HDR_LEN];
};

/*
 * vdev_vsock_init() - set up a vsock device.
 * Returns 0 or VDEV_EINVAL: reserved guest_cid (0, 1, 2, 0xffffffff or
 * above 32 bits), no host ops or no recv op, queue_size, max_conns or
 * iov_per_chain out of range, buf_alloc 0, IN_ORDER in ring_features,
 * NULL mem/queues/queue_held/conns/iovs.
 * Ownership: cfg is copied; its arrays and the ops are borrowed.
 * Context: before the transport is set up.
 */
VDEV_API int vdev_vsock_init(struct vdev_vsock *vs, const struct vdev_vsock_config *cfg);

/* vdev_vsock_dev() - the device core object, for vdev_mmio_init() & co. */
VDEV_API struct vdev_dev *vdev_vsock_dev(struct vdev_vsock *vs);

/*
 * vdev_vsock_connect() - open a connection from host port `host_port` to
 * guest port `guest_port` (REQUEST). The id is stored in *conn at once; the
 * event op reports VDEV_VSOCK_EV_CONNECTED or _REFUSED later. Returns 0, or
 * VDEV_EPERM (device not running), VDEV_ENOTSUP (type not negotiated),
 * VDEV_EEXIST (that port pair is in use), VDEV_ENOMEM (table full).
 */
VDEV_API int vdev_vsock_connect(struct vdev_vsock *vs, uint32_t host_port, uint32_t guest_port,
				uint16_t type, uint32_t *conn);

/*
 * vdev_vsock_send() - send up to `len` bytes of iov[0..iovcnt) on an
 * established connection, copied into guest rx buffers before the call
 * returns. Sends what the guest's credit and the posted rx buffers allow.
 * `flags` (seqpacket): VDEV_VSOCK_SEQ_EOM / _EOR mark the end of a message
 * / record; they go on the packet with the last byte, so a partial send
 * leaves the boundary to the call that sends the rest (with the same
 * flags). Returns the bytes accepted (> 0, or 0 for an empty message), or:
 *   VDEV_EAGAIN   nothing could be sent (no credit or no rx buffers);
 *                 the writable op is called when it can
 *   VDEV_ENOENT   no such connection
 *   VDEV_EPERM    not established, the host shut down sending, or the guest
 *                 shut down receiving
 *   VDEV_EINVAL   bad arguments
 */
VDEV_API int vdev_vsock_send(struct vdev_vsock *vs, uint32_t conn, const struct vdev_iov *iov,
			     unsigned iovcnt, size_t len, uint32_t flags);

/*
 * vdev_vsock_consumed() - the host's side has read `nbytes` more of the
 * bytes its recv op took on `conn` (they left the host's buffer), so that
 * much of the budget is free again. fwd_cnt grows by nbytes; the guest
 * hears of it with the next packet of the connection, or at once with a
 * CREDIT_UPDATE when its view of our free space is low (under half of
 * buf_alloc) and the news is worth a packet (a quarter of buf_alloc freed
 * since last told, or nothing left unconsumed). Calls no host op.
 * Returns 0, VDEV_ENOENT (no such connection) or VDEV_EINVAL (more than
 * was taken and not yet consumed; nothing changes).
 * Context: the device's thread, from inside a host op (recv included) or
 * not.
 */
VDEV_API int vdev_vsock_consumed(struct vdev_vsock *vs, uint32_t conn, uint32_t nbytes);

/*
 * vdev_vsock_shutdown() - the host will send and/or receive no more
 * (VDEV_VSOCK_SHUTDOWN_* flags; permanent). Returns 0, VDEV_ENOENT or
 * VDEV_EINVAL. Shutting down both ways starts a clean close.
 */
VDEV_API int vdev_vsock_shutdown(struct vdev_vsock *vs, uint32_t conn, uint32_t flags);

/*
 * vdev_vsock_close() - clean close: SHUTDOWN both ways, then the guest's
 * RST ends the connection (VDEV_VSOCK_EV_CLOSED, arg 0). If it does not
 * come within cfg->close_timeout_ms as vdev_vsock_tick() counts, the
 * device sends RST itself and reports VDEV_VSOCK_EV_CLOSED with arg
 * VDEV_VSOCK_CLOSED_TIMEOUT (or call vdev_vsock_abort() earlier). Guest
 * data after the close is dropped and its credit given back.
 */
VDEV_API int vdev_vsock_close(struct vdev_vsock *vs, uint32_t conn);

/* vdev_vsock_abort() - reset the connection now (RST to the guest); the
 * id is dead on return and no event is reported for it. */
VDEV_API int vdev_vsock_abort(struct vdev_vsock *vs, uint32_t conn);

/*
 * vdev_vsock_tick() - the time is `now_ms` (milliseconds of any monotonic
 * clock; only differences matter). A connection closed with
 * vdev_vsock_close() gets its deadline at the first tick after the close
 * (now_ms + close_timeout_ms); at the first tick at or after that
 * deadline the device sends RST, frees the slot (once the RST is out) and
 * reports VDEV_VSOCK_EV_CLOSED with arg VDEV_VSOCK_CLOSED_TIMEOUT. So the
 * forced RST comes between the timeout and the timeout plus two tick
 * periods after the close: tick at least every close_timeout_ms / 4 or so.
 * Without ticks no close ever times out. Host ops may be called.
 * Context: the device's thread, not from inside a host op.
 */
VDEV_API void vdev_vsock_tick(struct vdev_vsock *vs, uint64_t now_ms);

/*
 * vdev_vsock_process() - do what the queue notifications do: take tx
 * packets, send waiting replies, deliver a pending event. For a polling
 * integrator. Returns 0 or VDEV_EPERM (not running).
 */
VDEV_API int vdev_vsock_process(struct vdev_vsock *vs);

/*
 * vdev_vsock_set_guest_cid() - give the guest a new CID (after migration):
 * every connection ends (VDEV_VSOCK_EV_RESET), the configuration changes
 * and a TRANSPORT_RESET event is queued. Returns 0 or VDEV_EINVAL
 * (reserved CID).
 */
VDEV_API int vdev_vsock_set_guest_cid(struct vdev_vsock *vs, uint64_t cid);

/* vdev_vsock_transport_reset() - end every connection and tell the guest
 * (TRANSPORT_RESET), e.g. after the host side restarted. */
VDEV_API void vdev_vsock_transport_reset(struct vdev_vsock *vs);

/* vdev_vsock_num_conns() - connections in use in the table. */
VDEV_API unsigned vdev_vsock_num_conns(const struct vdev_vsock *vs);

/*
 * vdev_vsock_credit() - the guest's free receive space for `conn` as the
 * device sees it (what vdev_vsock_send() may send now, rx buffers
 * permitting). Returns it, or 0 for an unknown id.
 */
VDEV_API uint32_t vdev_vsock_credit(const struct vdev_vsock *vs, uint32_t conn);

VDEV_API void vdev_vsock_get_stats(const struct vdev_vsock *vs, struct vdev_vsock_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* VDEV_VSOCK_H */
