/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-vsock device model (spec "Socket Device").
 *
 * Reads top-down: spec constants and the packet header, the connection
 * table, credit, packets to the guest (rx: pop -> header -> payload ->
 * push) and the replies that wait for rx buffers, packets from the guest
 * (tx: pop -> header -> checks -> one handler per state/op -> push), the
 * host API, events and reset, the device core ops, init.
 */
#include "vdev/vsock.h"

#include "compiler.h"

#define P(x) VDEV_PRIV(x)

/* ---- spec constants ----------------------------------------------------------- */

#define VIRTIO_VSOCK_OP_INVALID 0u
#define VIRTIO_VSOCK_OP_REQUEST 1u
#define VIRTIO_VSOCK_OP_RESPONSE 2u
#define VIRTIO_VSOCK_OP_RST 3u
#define VIRTIO_VSOCK_OP_SHUTDOWN 4u
#define VIRTIO_VSOCK_OP_RW 5u
#define VIRTIO_VSOCK_OP_CREDIT_UPDATE 6u
#define VIRTIO_VSOCK_OP_CREDIT_REQUEST 7u

#define VIRTIO_VSOCK_EVENT_TRANSPORT_RESET 0u

enum { RXQ = 0, TXQ = 1, EVQ = 2 };

/* struct virtio_vsock_hdr field offsets (44 bytes, packed, little-endian) */
enum {
	H_SRC_CID = 0,
	H_DST_CID = 8,
	H_SRC_PORT = 16,
	H_DST_PORT = 20,
	H_LEN = 24,
	H_TYPE = 28,
	H_OP = 30,
	H_FLAGS = 32,
	H_BUF_ALLOC = 36,
	H_FWD_CNT = 40,
};

#define DEFAULT_RING_FEATURES                                                              \
	(VDEV_BIT(VDEV_F_INDIRECT_DESC) | VDEV_BIT(VDEV_F_EVENT_IDX) |                      \
	 VDEV_BIT(VDEV_F_RING_PACKED) | VDEV_BIT(VDEV_F_RING_RESET))

#define HAS_OP(ops, op)                                                                   \
	((ops)->size >= offsetof(struct vdev_vsock_host_ops, op) + sizeof((ops)->op) &&      \
	 (ops)->op != NULL)

/* Largest send per call (the return value is an int). */
#define SEND_MAX 0x40000000u

/* Connection states. */
enum {
	S_FREE = 0,
	S_CONNECTING,  /* host REQUEST sent (or pending), waiting for RESPONSE */
	S_ESTABLISHED,
	S_CLOSING,     /* host SHUTDOWN both ways, waiting for the guest's RST */
	S_RESETTING,   /* dead: our RST waits for an rx buffer, then the slot is free */
};

/* Control packets a connection still owes the guest. */
enum {
	PEND_REQUEST = 0x01,
	PEND_RESPONSE = 0x02,
	PEND_CREDIT = 0x04,
	PEND_SHUTDOWN = 0x08,
	PEND_RST = 0x10,
};

/* A header, decoded from (or to be encoded into) the 44 wire bytes. */
struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

static void hdr_decode(const uint8_t *raw, struct hdr *h)
{
	h->src_cid = vdev__get_le64(raw + H_SRC_CID);
	h->dst_cid = vdev__get_le64(raw + H_DST_CID);
	h->src_port = vdev__get_le32(raw + H_SRC_PORT);
	h->dst_port = vdev__get_le32(raw + H_DST_PORT);
	h->len = vdev__get_le32(raw + H_LEN);
	h->type = vdev__get_le16(raw + H_TYPE);
	h->op = vdev__get_le16(raw + H_OP);
	h->flags = vdev__get_le32(raw + H_FLAGS);
	h->buf_alloc = vdev__get_le32(raw + H_BUF_ALLOC);
	h->fwd_cnt = vdev__get_le32(raw + H_FWD_CNT);
}

static void hdr_encode(const struct hdr *h, uint8_t *raw)
{
	vdev__put_le64(raw + H_SRC_CID, h->src_cid);
	vdev__put_le64(raw + H_DST_CID, h->dst_cid);
	vdev__put_le32(raw + H_SRC_PORT, h->src_port);
	vdev__put_le32(raw + H_DST_PORT, h->dst_port);
	vdev__put_le32(raw + H_LEN, h->len);
	vdev__put_le16(raw + H_TYPE, h->type);
	vdev__put_le16(raw + H_OP, h->op);
	vdev__put_le32(raw + H_FLAGS, h->flags);
	vdev__put_le32(raw + H_BUF_ALLOC, h->buf_alloc);
	vdev__put_le32(raw + H_FWD_CNT, h->fwd_cnt);
}

static bool negotiated(const struct vdev_vsock *vs, unsigned bit)
{
	return vdev_dev_has_feature(&vs->P(dev), bit);
}

/* Which socket types the negotiation allows (spec "Feature bits"). */
static bool type_ok(const struct vdev_vsock *vs, uint16_t type)
{
	if (type == VDEV_VSOCK_TYPE_STREAM)
		return negotiated(vs, VDEV_VSOCK_F_STREAM) ||
		       !negotiated(vs, VDEV_VSOCK_F_SEQPACKET) ||
		       !negotiated(vs, VDEV_VSOCK_F_NO_IMPLIED_STREAM);
	if (type == VDEV_VSOCK_TYPE_SEQPACKET)
		return negotiated(vs, VDEV_VSOCK_F_SEQPACKET);
	return false;
}

static bool cid_ok(uint64_t cid)
{
	return cid > VDEV_VSOCK_HOST_CID && cid < UINT32_MAX;
}

static struct vdev_iov *iov_slot(struct vdev_vsock *vs, unsigned slot)
{
	return vs->P(iovs) + (size_t)slot * vs->P(iov_per_chain);
}

/* ---- the connection table ------------------------------------------------------- */

static unsigned conn_index(const struct vdev_vsock *vs, const struct vdev_vsock_conn *c)
{
	return (unsigned)(c - vs->P(conns));
}

static uint32_t conn_id(const struct vdev_vsock *vs, const struct vdev_vsock_conn *c)
{
	return (uint32_t)c->P(gen) << 16 | conn_index(vs, c);
}

static bool conn_live(const struct vdev_vsock_conn *c)
{
	return c->P(state) != S_FREE && c->P(state) != S_RESETTING;
}

/* The connection an id names, or NULL if it is dead or never existed. */
static struct vdev_vsock_conn *conn_by_id(const struct vdev_vsock *vs, uint32_t id)
{
	unsigned i = id & 0xffffu;
	struct vdev_vsock_conn *c;

	if (i >= vs->P(max_conns))
		return NULL;
	c = &vs->P(conns)[i];
	if (!conn_live(c) || c->P(gen) != (uint16_t)(id >> 16))
		return NULL;
	return c;
}

/* The slot for a port pair (any state but free), or NULL. */
static struct vdev_vsock_conn *conn_by_ports(const struct vdev_vsock *vs, uint32_t host_port,
					     uint32_t guest_port)
{
	for (unsigned i = 0; i < vs->P(max_conns); i++) {
		struct vdev_vsock_conn *c = &vs->P(conns)[i];

		if (c->P(state) != S_FREE && c->P(host_port) == host_port &&
		    c->P(guest_port) == guest_port)
			return c;
	}
	return NULL;
}

static struct vdev_vsock_conn *conn_alloc(struct vdev_vsock *vs, uint32_t host_port,
					  uint32_t guest_port, uint16_t type)
{
	for (unsigned i = 0; i < vs->P(max_conns); i++) {
		struct vdev_vsock_conn *c = &vs->P(conns)[i];
		uint16_t gen = c->P(gen);

		if (c->P(state) != S_FREE)
			continue;
		memset(c, 0, sizeof(*c));
		c->P(gen) = gen;
		c->P(host_port) = host_port;
		c->P(guest_port) = guest_port;
		c->P(type) = type;
		c->P(state) = S_CONNECTING;
		vs->P(nconns)++;
		return c;
	}
	return NULL;
}

static void conn_free(struct vdev_vsock *vs, struct vdev_vsock_conn *c)
{
	c->P(state) = S_FREE;
	c->P(pending) = 0;
	vs->P(nconns)--;
}

/*
 * End a connection: its id dies now (the generation moves on). With
 * `rst`, an RST is still owed to the guest and the slot stays taken until
 * it is sent; otherwise the slot is free at once.
 */
static void conn_kill(struct vdev_vsock *vs, struct vdev_vsock_conn *c, bool rst)
{
	c->P(gen) = (uint16_t)(c->P(gen) + 1u);
	c->P(want_write) = false;
	if (rst) {
		c->P(state) = S_RESETTING;
		c->P(pending) = PEND_RST;
		vs->P(rx_waiting) = true;
	} else {
		conn_free(vs, c);
	}
}

static void host_event(struct vdev_vsock *vs, uint32_t id, enum vdev_vsock_event ev,
		       uint32_t arg)
{
	if (HAS_OP(vs->P(ops), event))
		vs->P(ops)->event(vs->P(opaque), id, ev, arg);
}

/* Kill with an RST to the guest and tell the host. */
static void conn_reset(struct vdev_vsock *vs, struct vdev_vsock_conn *c, enum vdev_vsock_event ev)
{
	uint32_t id = conn_id(vs, c);

	conn_kill(vs, c, true);
	host_event(vs, id, ev, 0);
}

/* ---- credit --------------------------------------------------------------------- */

/* What the guest can take now: buf_alloc - (tx_cnt - fwd_cnt), never negative. */
static uint32_t peer_credit(const struct vdev_vsock_conn *c)
{
	uint32_t in_flight = c->P(tx_cnt) - c->P(peer_fwd_cnt); /* free-running, mod 2^32 */

	return in_flight >= c->P(peer_buf_alloc) ? 0u : c->P(peer_buf_alloc) - in_flight;
}

/*
 * The guest's buf_alloc and fwd_cnt from a packet of this connection.
 * fwd_cnt may only move forward and never past what was sent: otherwise it
 * is ignored (counted) and the old value stays, so credit is never
 * overstated. Any buf_alloc is taken. Returns true if credit grew.
 */
static bool peer_credit_update(struct vdev_vsock *vs, struct vdev_vsock_conn *c,
			       uint32_t buf_alloc, uint32_t fwd_cnt)
{
	uint32_t before = peer_credit(c);
	uint32_t moved = fwd_cnt - c->P(peer_fwd_cnt);
	uint32_t sent = c->P(tx_cnt) - c->P(peer_fwd_cnt);

	if (moved <= sent)
		c->P(peer_fwd_cnt) = fwd_cnt;
	else
		vs->P(stats).bad_credit++;
	c->P(peer_buf_alloc) = buf_alloc;
	return peer_credit(c) > before;
}

/*
 * Give credit back when it is useful: the guest may think more than half
 * of our budget in use (rx_cnt - fwd_sent, at most buf_alloc: tx_rw
 * checks), and a quarter of the budget was consumed since we last told
 * it, or everything it sent is consumed. (Every packet to the guest
 * carries fwd_cnt as well.)
 */
static void maybe_credit_update(struct vdev_vsock *vs, struct vdev_vsock_conn *c)
{
	uint32_t told_in_use = c->P(rx_cnt) - c->P(fwd_sent);
	uint32_t gain = c->P(fwd_cnt) - c->P(fwd_sent);

	if (gain == 0 || told_in_use <= vs->P(buf_alloc) / 2u)
		return;
	if (gain < vs->P(buf_alloc) / 4u && c->P(fwd_cnt) != c->P(rx_cnt))
		return;
	c->P(pending) |= PEND_CREDIT;
	vs->P(rx_waiting) = true;
}

/* ---- packets to the guest (rx) -------------------------------------------------- */

/*
 * Take a usable rx buffer: device-writable only, room for a header.
 * Unusable ones go back to the guest empty. Returns 1, VDEV_EAGAIN (none
 * posted; remembered so the rx notification resumes us) or another
 * negative code (queue not live or broken).
 */
static int rx_pop(struct vdev_vsock *vs, struct vdev_vq_elem *e)
{
	struct vdev_vq *vq = &vs->P(queues)[RXQ];

	for (;;) {
		int rc = vdev_vq_pop(vq, e, iov_slot(vs, 1), vs->P(iov_per_chain));

		if (rc < 0)
			return rc;
		if (rc == 0) {
			vs->P(rx_waiting) = true;
			return VDEV_EAGAIN;
		}
		if (e->error == 0 && e->n_out == 0 && e->in_bytes >= VDEV_VSOCK_HDR_LEN)
			return 1;
		vs->P(stats).rx_bad_buffer++;
		vdev_vq_push(vq, e, 0);
	}
}

/* Copy `len` host bytes from src offset `src_off` into the chain's
 * writable segments from `dst_off`. */
static void copy_into(const struct vdev_vq_elem *e, size_t dst_off, const struct vdev_iov *src,
		      unsigned nsrc, size_t src_off, size_t len)
{
	const struct vdev_iov *d = e->iov + e->n_out;
	size_t done = 0;

	for (unsigned i = 0; i < e->n_in && done < len; i++) {
		size_t seg = d[i].len, take;

		if (dst_off >= seg) {
			dst_off -= seg;
			continue;
		}
		take = VDEV__MIN(seg - dst_off, len - done);
		done += vdev_iov_to_buf(src, nsrc, src_off + done, (uint8_t *)d[i].base + dst_off,
					take);
		dst_off = 0;
	}
}

/* A header from the host to the guest for connection c (or a bare RST). */
static void hdr_for(const struct vdev_vsock *vs, struct hdr *h, uint32_t host_port,
		    uint32_t guest_port, uint16_t type, uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VDEV_VSOCK_HOST_CID;
	h->dst_cid = vs->P(guest_cid);
	h->src_port = host_port;
	h->dst_port = guest_port;
	h->type = type;
	h->op = op;
}

/*
 * Write a header-only packet into a fresh rx buffer: an RST for a port
 * pair without a connection (c NULL), or a control packet of connection
 * c carrying our credit. The header is encoded straight into the device's
 * scratch once the buffer is there (no struct hdr on this deep path: the
 * stack budget, scripts/stack-budget.py).
 */
static int rx_send_hdr(struct vdev_vsock *vs, struct vdev_vsock_conn *c, uint32_t host_port,
		       uint32_t guest_port, uint16_t type, uint16_t op, uint32_t flags)
{
	uint8_t *raw = vs->P(hdr_raw);
	struct vdev_vq_elem e;
	int rc = rx_pop(vs, &e);

	if (rc < 0)
		return rc;
	memset(raw, 0, VDEV_VSOCK_HDR_LEN);
	vdev__put_le64(raw + H_SRC_CID, VDEV_VSOCK_HOST_CID);
	vdev__put_le64(raw + H_DST_CID, vs->P(guest_cid));
	vdev__put_le32(raw + H_SRC_PORT, host_port);
	vdev__put_le32(raw + H_DST_PORT, guest_port);
	vdev__put_le16(raw + H_TYPE, type);
	vdev__put_le16(raw + H_OP, op);
	if (c != NULL) {
		vdev__put_le32(raw + H_FLAGS, flags);
		vdev__put_le32(raw + H_BUF_ALLOC, vs->P(buf_alloc));
		vdev__put_le32(raw + H_FWD_CNT, c->P(fwd_cnt));
		c->P(fwd_sent) = c->P(fwd_cnt);
	}
	vdev_iov_from_buf(e.iov + e.n_out, e.n_in, 0, raw, VDEV_VSOCK_HDR_LEN);
	vdev_vq_push(&vs->P(queues)[RXQ], &e, VDEV_VSOCK_HDR_LEN);
	vs->P(stats).rx_packets++;
	return 0;
}

/* A control packet of connection c, carrying our credit. */
static int rx_send_ctrl(struct vdev_vsock *vs, struct vdev_vsock_conn *c, uint16_t op,
			uint32_t flags)
{
	return rx_send_hdr(vs, c, c->P(host_port), c->P(guest_port), c->P(type), op, flags);
}

/* Send what one connection owes, in protocol order. */
static int flush_conn(struct vdev_vsock *vs, struct vdev_vsock_conn *c)
{
	static const struct {
		uint8_t bit;
		uint16_t op;
	} order[] = {
		{PEND_REQUEST, VIRTIO_VSOCK_OP_REQUEST},
		{PEND_RESPONSE, VIRTIO_VSOCK_OP_RESPONSE},
		{PEND_CREDIT, VIRTIO_VSOCK_OP_CREDIT_UPDATE},
		{PEND_SHUTDOWN, VIRTIO_VSOCK_OP_SHUTDOWN},
		{PEND_RST, VIRTIO_VSOCK_OP_RST},
	};

	for (size_t k = 0; k < VDEV__ARRAY_SIZE(order); k++) {
		int rc;

		if (!(c->P(pending) & order[k].bit))
			continue;
		rc = rx_send_ctrl(vs, c, order[k].op,
				  order[k].bit == PEND_SHUTDOWN ? c->P(shut_flags) : 0u);
		if (rc < 0)
			return rc;
		c->P(pending) = (uint8_t)(c->P(pending) & ~order[k].bit);
		if (order[k].bit == PEND_CREDIT)
			vs->P(stats).credit_updates++;
		if (order[k].bit == PEND_RST) {
			vs->P(stats).rst_sent++;
			conn_free(vs, c);
		}
	}
	return 0;
}

/*
 * Send every reply that waits for an rx buffer: the RSTs to unknown
 * connections first, then what connections owe. Returns 0 when nothing is
 * left, VDEV_EAGAIN (out of rx buffers) or another negative code.
 */
static int flush_pending(struct vdev_vsock *vs)
{
	int rc = 0;

	if (!vs->P(rx_waiting) || !vdev_dev_is_running(&vs->P(dev)))
		return vs->P(rx_waiting) ? VDEV_EAGAIN : 0;
	vs->P(rx_waiting) = false;
	while (vs->P(rst_count) > 0) {
		const struct vdev_vsock_rst *r = &vs->P(rstq)[vs->P(rst_head)];
		rc = rx_send_hdr(vs, NULL, r->P(src_port), r->P(dst_port), r->P(type),
				 VIRTIO_VSOCK_OP_RST, 0);
		if (rc < 0)
			goto out;
		vs->P(stats).rst_sent++;
		vs->P(rst_head) = (vs->P(rst_head) + 1u) & (VDEV_VSOCK_RST_QUEUE - 1u);
		vs->P(rst_count)--;
	}
	for (unsigned i = 0; i < vs->P(max_conns); i++) {
		struct vdev_vsock_conn *c = &vs->P(conns)[i];

		if (c->P(state) == S_FREE || c->P(pending) == 0)
			continue;
		rc = flush_conn(vs, c);
		if (rc < 0)
			goto out;
	}
out:
	if (rc < 0)
		vs->P(rx_waiting) = true;
	vdev_vq_flush(&vs->P(queues)[RXQ]);
	return rc;
}

/* Queue an RST for a port pair that has no connection. False if full. */
static bool rst_reply(struct vdev_vsock *vs, const struct hdr *h)
{
	struct vdev_vsock_rst *r;

	if (vs->P(rst_count) == VDEV_VSOCK_RST_QUEUE)
		return false;
	r = &vs->P(rstq)[(vs->P(rst_head) + vs->P(rst_count)) & (VDEV_VSOCK_RST_QUEUE - 1u)];
	r->P(src_port) = h->dst_port; /* we answer: our port is their destination */
	r->P(dst_port) = h->src_port;
	r->P(type) = h->type;
	vs->P(rst_count)++;
	vs->P(rx_waiting) = true;
	return true;
}

/* Tell hosts that wanted to write and now can. */
static void wake_writers(struct vdev_vsock *vs)
{
	for (unsigned i = 0; i < vs->P(max_conns); i++) {
		struct vdev_vsock_conn *c = &vs->P(conns)[i];

		if (c->P(state) != S_ESTABLISHED || !c->P(want_write) || peer_credit(c) == 0)
			continue;
		c->P(want_write) = false;
		if (HAS_OP(vs->P(ops), writable))
			vs->P(ops)->writable(vs->P(opaque), conn_id(vs, c));
	}
}

/* ---- packets from the guest (tx) ------------------------------------------------ */

enum tx_result {
	TX_DONE,  /* complete the chain */
	TX_STALL, /* give it back and stop until rx buffers appear */
};

/*
 * Hand the payload of a tx chain (after the header, `len` bytes) to the
 * host's recv op: the segments are narrowed in place for the call and
 * restored afterwards, so the element can still be pushed.
 */
static int deliver(struct vdev_vsock *vs, uint32_t id, const struct vdev_vq_elem *e, uint32_t len,
		   uint32_t flags)
{
	struct vdev_iov *iov = e->iov;
	unsigned first = 0, last, n = e->n_out;
	size_t skip = VDEV_VSOCK_HDR_LEN, left = len;
	struct vdev_iov save_first, save_last;
	int rc;

	while (first < n && skip >= iov[first].len) {
		skip -= iov[first].len;
		first++;
	}
	if (len == 0 || first == n)
		return vs->P(ops)->recv(vs->P(opaque), id, iov + first, 0, 0, flags);
	/* find the segment holding the last payload byte */
	last = first;
	for (;;) {
		size_t avail = iov[last].len - (last == first ? skip : 0u);
		if (left <= avail || last + 1 == n)
			break;
		left -= avail;
		last++;
	}
	save_first = iov[first];
	save_last = iov[last];
	iov[first].base = (uint8_t *)iov[first].base + skip;
	iov[first].len -= skip;
	iov[last].len = VDEV__MIN(iov[last].len, left);
	rc = vs->P(ops)->recv(vs->P(opaque), id, iov + first, last - first + 1u, len, flags);
	iov[last] = save_last;
	iov[first] = save_first;
	return rc;
}

/*
 * RW on an established (or closing) connection. The guest may have in
 * flight what we told it: buf_alloc - (rx_cnt - fwd_sent). Since fwd_sent
 * <= fwd_cnt, what the host holds unconsumed (rx_cnt - fwd_cnt) then stays
 * within buf_alloc too, so the recv op can always take the packet.
 */
static enum tx_result tx_rw(struct vdev_vsock *vs, struct vdev_vsock_conn *c,
			    struct vdev_vq_elem *e, const struct hdr *h)
{
	uint32_t id = conn_id(vs, c);
	uint32_t flags = c->P(type) == VDEV_VSOCK_TYPE_SEQPACKET
				 ? h->flags & (VDEV_VSOCK_SEQ_EOM | VDEV_VSOCK_SEQ_EOR)
				 : 0u;
	uint64_t told_in_use = (uint32_t)(c->P(rx_cnt) - c->P(fwd_sent));
	int rc;

	/* Only within the credit we told the guest about. */
	if (told_in_use + h->len > vs->P(buf_alloc)) {
		vs->P(stats).over_credit++;
		conn_reset(vs, c, VDEV_VSOCK_EV_RESET);
		return TX_DONE;
	}
	if (c->P(peer_shut) & VDEV_VSOCK_SHUTDOWN_SEND) {
		/* data after the guest said it sends no more */
		conn_reset(vs, c, VDEV_VSOCK_EV_RESET);
		return TX_DONE;
	}
	c->P(rx_cnt) += h->len;
	vs->P(stats).tx_bytes += h->len;
	if ((c->P(local_shut) & VDEV_VSOCK_SHUTDOWN_RCV) || c->P(state) != S_ESTABLISHED ||
	    (h->len == 0 && c->P(type) == VDEV_VSOCK_TYPE_STREAM)) {
		/* the host receives no more (or nothing to give): consumed here */
		c->P(fwd_cnt) += h->len;
		maybe_credit_update(vs, c);
		return TX_DONE;
	}
	rc = deliver(vs, id, e, h->len, flags);
	if (conn_by_id(vs, id) != c)
		return TX_DONE; /* the host closed it from inside recv */
	if (rc < 0)
		conn_reset(vs, c, VDEV_VSOCK_EV_RESET);
	return TX_DONE;
}

static void tx_shutdown(struct vdev_vsock *vs, struct vdev_vsock_conn *c, uint32_t flags)
{
	uint32_t id = conn_id(vs, c);
	uint8_t f = (uint8_t)(flags & (VDEV_VSOCK_SHUTDOWN_RCV | VDEV_VSOCK_SHUTDOWN_SEND));
	uint8_t fresh = (uint8_t)(f & ~c->P(peer_shut));

	c->P(peer_shut) |= f; /* permanent (spec) */
	if (c->P(peer_shut) == (VDEV_VSOCK_SHUTDOWN_RCV | VDEV_VSOCK_SHUTDOWN_SEND)) {
		/* Clean disconnect: the guest is done both ways; we answer RST. */
		bool closing = c->P(state) == S_CLOSING;

		conn_kill(vs, c, true);
		if (!closing && fresh != 0)
			host_event(vs, id, VDEV_VSOCK_EV_SHUTDOWN, c->P(peer_shut));
		host_event(vs, id, VDEV_VSOCK_EV_CLOSED, 0);
		return;
	}
	if (fresh != 0)
		host_event(vs, id, VDEV_VSOCK_EV_SHUTDOWN, c->P(peer_shut));
}

/* A packet of an existing connection (its address already checked). */
static enum tx_result tx_conn(struct vdev_vsock *vs, struct vdev_vsock_conn *c,
			      struct vdev_vq_elem *e, const struct hdr *h)
{
	uint32_t id = conn_id(vs, c);
	bool more_credit = false;

	if (h->type != c->P(type)) {
		conn_reset(vs, c, c->P(state) == S_CONNECTING ? VDEV_VSOCK_EV_REFUSED
							     : VDEV_VSOCK_EV_RESET);
		return TX_DONE;
	}
	if (h->op == VIRTIO_VSOCK_OP_RST) {
		bool closing = c->P(state) == S_CLOSING, connecting = c->P(state) == S_CONNECTING;

		conn_kill(vs, c, false);
		host_event(vs, id,
			   closing ? VDEV_VSOCK_EV_CLOSED
				   : connecting ? VDEV_VSOCK_EV_REFUSED : VDEV_VSOCK_EV_RESET,
			   0);
		return TX_DONE;
	}
	more_credit = peer_credit_update(vs, c, h->buf_alloc, h->fwd_cnt);

	if (c->P(state) == S_CONNECTING) {
		if (h->op != VIRTIO_VSOCK_OP_RESPONSE) {
			conn_reset(vs, c, VDEV_VSOCK_EV_REFUSED);
			return TX_DONE;
		}
		c->P(state) = S_ESTABLISHED;
		host_event(vs, id, VDEV_VSOCK_EV_CONNECTED, 0);
		return TX_DONE;
	}
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RW: {
		enum tx_result r = tx_rw(vs, c, e, h);
		if (r == TX_DONE && more_credit && conn_by_id(vs, id) == c)
			wake_writers(vs);
		return r;
	}
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->P(pending) |= PEND_CREDIT;
		vs->P(rx_waiting) = true;
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		tx_shutdown(vs, c, h->flags);
		return TX_DONE;
	default: /* REQUEST or RESPONSE on a connection, INVALID, unknown ops */
		conn_reset(vs, c, VDEV_VSOCK_EV_RESET);
		return TX_DONE;
	}
	if (more_credit)
		wake_writers(vs);
	return TX_DONE;
}

/* A REQUEST for a port pair without a connection: the listen policy. */
static void tx_request(struct vdev_vsock *vs, const struct hdr *h)
{
	struct vdev_vsock_conn *c = NULL;
	uint32_t id;
	int rc = VDEV_ENOENT;

	if (vs->P(nconns) < vs->P(max_conns))
		c = conn_alloc(vs, h->dst_port, h->src_port, h->type);
	if (c != NULL) {
		c->P(state) = S_ESTABLISHED;
		c->P(pending) = PEND_RESPONSE; /* before anything the host sends */
		(void)peer_credit_update(vs, c, h->buf_alloc, h->fwd_cnt);
		id = conn_id(vs, c);
		vs->P(rx_waiting) = true; /* the RESPONSE, should the host send at once */
		if (HAS_OP(vs->P(ops), accept))
			rc = vs->P(ops)->accept(vs->P(opaque), id, h->dst_port, h->src_port, h->type);
		if (conn_by_id(vs, id) != c)
			return; /* accepted and aborted from inside the op */
		if (rc == 0)
			return;
		conn_kill(vs, c, false);
	}
	vs->P(stats).refused++;
	(void)rst_reply(vs, h); /* space was checked by the caller */
}

static enum tx_result tx_one(struct vdev_vsock *vs, struct vdev_vq_elem *e)
{
	struct vdev_vsock_conn *c;
	struct hdr h;

	/* tx buffers are driver-readable only and start with a header. */
	if (e->error != 0 || e->n_in != 0 || e->out_bytes < VDEV_VSOCK_HDR_LEN) {
		vs->P(stats).bad_chain++;
		return TX_DONE;
	}
	/* The header, copied out once (it may span descriptors). */
	vdev_iov_to_buf(e->iov, e->n_out, 0, vs->P(hdr_raw), VDEV_VSOCK_HDR_LEN);
	hdr_decode(vs->P(hdr_raw), &h);
	/* Only the guest's own address to the host (upper 32 bits included). */
	if (h.src_cid != vs->P(guest_cid) || h.dst_cid != VDEV_VSOCK_HOST_CID) {
		vs->P(stats).bad_addr++;
		return TX_DONE;
	}
	c = conn_by_ports(vs, h.dst_port, h.src_port);
	if (c != NULL && c->P(state) == S_RESETTING)
		return TX_DONE; /* our RST is on its way */
	if (h.len > e->out_bytes - VDEV_VSOCK_HDR_LEN) {
		vs->P(stats).bad_len++;
		if (c != NULL)
			conn_reset(vs, c, c->P(state) == S_CONNECTING ? VDEV_VSOCK_EV_REFUSED
								     : VDEV_VSOCK_EV_RESET);
		return TX_DONE;
	}
	vs->P(stats).tx_packets++;
	if (c != NULL && type_ok(vs, h.type))
		return tx_conn(vs, c, e, &h);
	if (c != NULL) {
		/* a type this device does not speak, on a known port pair */
		conn_reset(vs, c, c->P(state) == S_CONNECTING ? VDEV_VSOCK_EV_REFUSED
							     : VDEV_VSOCK_EV_RESET);
		return TX_DONE;
	}
	/* No connection: RST answers everything but RST. */
	if (h.op == VIRTIO_VSOCK_OP_RST)
		return TX_DONE;
	if (vs->P(rst_count) == VDEV_VSOCK_RST_QUEUE && (flush_pending(vs) < 0 ||
						       vs->P(rst_count) == VDEV_VSOCK_RST_QUEUE))
		return TX_STALL; /* no room to answer: wait for rx buffers */
	if (h.op == VIRTIO_VSOCK_OP_REQUEST && type_ok(vs, h.type))
		tx_request(vs, &h);
	else
		(void)rst_reply(vs, &h);
	return TX_DONE;
}

static void tx_process(struct vdev_vsock *vs)
{
	struct vdev_vq *vq = &vs->P(queues)[TXQ];
	struct vdev_vq_elem e;

	if (vs->P(in_tx))
		return;
	vs->P(in_tx) = true;
	while (!vs->P(tx_stalled)) {
		int rc = vdev_vq_pop(vq, &e, iov_slot(vs, 0), vs->P(iov_per_chain));
		enum tx_result r;

		if (rc <= 0)
			break;
		r = tx_one(vs, &e);
		if (r == TX_STALL) {
			vdev_vq_unpop(vq, &e, 1);
			vs->P(tx_stalled) = true;
			break;
		}
		vdev_vq_push(vq, &e, 0);
		/* a batch of replies may be waiting; send them as we go */
		(void)flush_pending(vs);
	}
	vdev_vq_flush(vq);
	vs->P(in_tx) = false;
}

/* Resume tx stopped for lack of room for replies that are gone now. */
static void tx_unstall(struct vdev_vsock *vs)
{
	if (vs->P(tx_stalled) && !vs->P(in_tx)) {
		vs->P(tx_stalled) = false;
		tx_process(vs);
	}
}

/* ---- events and reset ----------------------------------------------------------- */

static void deliver_event(struct vdev_vsock *vs)
{
	struct vdev_vq *vq = &vs->P(queues)[EVQ];
	struct vdev_vq_elem e;
	uint8_t raw[4];

	while (vs->P(event_pending) && vdev_dev_is_running(&vs->P(dev))) {
		int rc = vdev_vq_pop(vq, &e, iov_slot(vs, 2), vs->P(iov_per_chain));

		if (rc <= 0)
			break;
		if (e.error != 0 || e.n_out != 0 || e.in_bytes < sizeof(raw)) {
			vs->P(stats).rx_bad_buffer++;
			vdev_vq_push(vq, &e, 0);
			continue;
		}
		vdev__put_le32(raw, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
		vdev_iov_from_buf(e.iov, e.n_in, 0, raw, sizeof(raw));
		vdev_vq_push(vq, &e, sizeof(raw));
		vs->P(event_pending) = false;
		vs->P(stats).events++;
	}
	vdev_vq_flush(vq);
}

/*
 * End every connection without RSTs (the guest learns from the event or
 * the reset). Returns whether any connection was open.
 */
static bool drop_all(struct vdev_vsock *vs)
{
	bool any = false;

	for (unsigned i = 0; i < vs->P(max_conns); i++) {
		struct vdev_vsock_conn *c = &vs->P(conns)[i];
		bool live = conn_live(c);
		uint32_t id = conn_id(vs, c);

		if (c->P(state) == S_FREE)
			continue;
		conn_kill(vs, c, false);
		if (live) {
			any = true;
			host_event(vs, id, VDEV_VSOCK_EV_RESET, 0);
		}
	}
	vs->P(rst_head) = vs->P(rst_count) = 0;
	return any;
}

VDEV_API void vdev_vsock_transport_reset(struct vdev_vsock *vs)
{
	drop_all(vs);
	vs->P(event_pending) = true;
	deliver_event(vs);
	tx_unstall(vs);
}

VDEV_API int vdev_vsock_set_guest_cid(struct vdev_vsock *vs, uint64_t cid)
{
	if (!cid_ok(cid))
		return VDEV_EINVAL;
	vs->P(guest_cid) = cid;
	vdev__put_le64(vs->P(config), cid);
	vdev_dev_config_changed(&vs->P(dev));
	vdev_vsock_transport_reset(vs);
	return 0;
}

/* ---- the host API --------------------------------------------------------------- */

VDEV_API int vdev_vsock_connect(struct vdev_vsock *vs, uint32_t host_port, uint32_t guest_port,
				uint16_t type, uint32_t *conn)
{
	struct vdev_vsock_conn *c;

	if (!vdev_dev_is_running(&vs->P(dev)))
		return VDEV_EPERM;
	if (!type_ok(vs, type))
		return VDEV_ENOTSUP;
	if (conn_by_ports(vs, host_port, guest_port) != NULL)
		return VDEV_EEXIST;
	c = conn_alloc(vs, host_port, guest_port, type);
	if (c == NULL)
		return VDEV_ENOMEM;
	c->P(pending) = PEND_REQUEST;
	vs->P(rx_waiting) = true;
	if (conn != NULL)
		*conn = conn_id(vs, c);
	(void)flush_pending(vs);
	return 0;
}

VDEV_API int vdev_vsock_send(struct vdev_vsock *vs, uint32_t conn, const struct vdev_iov *iov,
			     unsigned iovcnt, size_t len, uint32_t flags)
{
	struct vdev_vsock_conn *c = conn_by_id(vs, conn);
	struct vdev_vq *vq = &vs->P(queues)[RXQ];
	size_t want, done = 0;
	bool seq, whole, sent = false;

	if (c == NULL)
		return VDEV_ENOENT;
	if ((iovcnt > 0 && iov == NULL) || vdev_iov_length(iov, iovcnt) < len ||
	    (flags & ~(uint32_t)(VDEV_VSOCK_SEQ_EOM | VDEV_VSOCK_SEQ_EOR)) != 0)
		return VDEV_EINVAL;
	if (c->P(state) != S_ESTABLISHED || (c->P(local_shut) & VDEV_VSOCK_SHUTDOWN_SEND) ||
	    (c->P(peer_shut) & VDEV_VSOCK_SHUTDOWN_RCV) || !vdev_dev_is_running(&vs->P(dev)))
		return VDEV_EPERM;
	seq = c->P(type) == VDEV_VSOCK_TYPE_SEQPACKET;
	if (!seq)
		flags = 0;
	if (len == 0 && !seq)
		return 0;
	want = len > SEND_MAX ? SEND_MAX : len;
	whole = want == len;
	/* The RESPONSE (and credit replies) go first. */
	if (flush_pending(vs) < 0 && (c->P(pending) & PEND_RESPONSE)) {
		c->P(want_write) = true;
		return VDEV_EAGAIN;
	}
	do {
		struct vdev_vq_elem e;
		uint32_t credit = peer_credit(c), chunk;
		struct hdr h;
		size_t room;

		if (credit == 0 && want > 0)
			break;
		if (rx_pop(vs, &e) < 0)
			break;
		room = e.in_bytes - VDEV_VSOCK_HDR_LEN;
		if (room == 0 && want > 0) {
			/* a buffer that holds a header only carries no data */
			vs->P(stats).rx_bad_buffer++;
			vdev_vq_push(vq, &e, 0);
			continue;
		}
		chunk = (uint32_t)VDEV__MIN(want - done, (size_t)credit);
		chunk = (uint32_t)VDEV__MIN((size_t)chunk, room);
		chunk = VDEV__MIN(chunk, vs->P(max_pkt));
		hdr_for(vs, &h, c->P(host_port), c->P(guest_port), c->P(type), VIRTIO_VSOCK_OP_RW);
		h.len = chunk;
		h.flags = (whole && done + chunk == want) ? flags : 0u;
		h.buf_alloc = vs->P(buf_alloc);
		h.fwd_cnt = c->P(fwd_cnt);
		copy_into(&e, VDEV_VSOCK_HDR_LEN, iov, iovcnt, done, chunk);
		hdr_encode(&h, vs->P(hdr_raw));
		vdev_iov_from_buf(e.iov + e.n_out, e.n_in, 0, vs->P(hdr_raw), VDEV_VSOCK_HDR_LEN);
		vdev_vq_push(vq, &e, VDEV_VSOCK_HDR_LEN + chunk);
		c->P(fwd_sent) = h.fwd_cnt;
		c->P(tx_cnt) += chunk;
		done += chunk;
		vs->P(stats).rx_packets++;
		vs->P(stats).rx_bytes += chunk;
		sent = true;
		if (want == 0)
			break; /* the empty seqpacket message is out */
	} while (done < want);
	vdev_vq_flush(vq);
	if (done < len || !sent)
		c->P(want_write) = true;
	if (!sent)
		return VDEV_EAGAIN;
	return (int)done;
}

VDEV_API int vdev_vsock_consumed(struct vdev_vsock *vs, uint32_t conn, uint32_t nbytes)
{
	struct vdev_vsock_conn *c = conn_by_id(vs, conn);

	if (c == NULL)
		return VDEV_ENOENT;
	if (nbytes > c->P(rx_cnt) - c->P(fwd_cnt))
		return VDEV_EINVAL; /* more than the host was given */
	if (nbytes == 0)
		return 0;
	c->P(fwd_cnt) += nbytes;
	if (c->P(local_shut) & VDEV_VSOCK_SHUTDOWN_RCV)
		return 0; /* the guest sends nothing more we would take */
	maybe_credit_update(vs, c);
	if (c->P(pending) & PEND_CREDIT)
		(void)flush_pending(vs);
	return 0;
}

VDEV_API int vdev_vsock_shutdown(struct vdev_vsock *vs, uint32_t conn, uint32_t flags)
{
	struct vdev_vsock_conn *c = conn_by_id(vs, conn);
	uint8_t f = (uint8_t)(flags & (VDEV_VSOCK_SHUTDOWN_RCV | VDEV_VSOCK_SHUTDOWN_SEND));

	if (c == NULL)
		return VDEV_ENOENT;
	if (f == 0 || f != flags)
		return VDEV_EINVAL;
	if (c->P(state) == S_CONNECTING) {
		vdev_vsock_abort(vs, conn);
		return 0;
	}
	if ((f & ~c->P(local_shut)) == 0)
		return 0;
	c->P(local_shut) |= f;
	c->P(shut_flags) = c->P(local_shut);
	c->P(pending) |= PEND_SHUTDOWN;
	if (c->P(local_shut) == (VDEV_VSOCK_SHUTDOWN_RCV | VDEV_VSOCK_SHUTDOWN_SEND))
		c->P(state) = S_CLOSING;
	vs->P(rx_waiting) = true;
	(void)flush_pending(vs);
	return 0;
}

VDEV_API int vdev_vsock_close(struct vdev_vsock *vs, uint32_t conn)
{
	return vdev_vsock_shutdown(vs, conn, VDEV_VSOCK_SHUTDOWN_RCV | VDEV_VSOCK_SHUTDOWN_SEND);
}

VDEV_API int vdev_vsock_abort(struct vdev_vsock *vs, uint32_t conn)
{
	struct vdev_vsock_conn *c = conn_by_id(vs, conn);

	if (c == NULL)
		return VDEV_ENOENT;
	conn_kill(vs, c, true);
	(void)flush_pending(vs);
	return 0;
}

VDEV_API void vdev_vsock_tick(struct vdev_vsock *vs, uint64_t now_ms)
{
	bool fired = false;

	for (unsigned i = 0; i < vs->P(max_conns); i++) {
		struct vdev_vsock_conn *c = &vs->P(conns)[i];
		uint32_t id;

		if (c->P(state) != S_CLOSING)
			continue;
		if (!c->P(close_armed)) {
			/* the clock starts at the first tick after the close */
			uint64_t d = now_ms + vs->P(close_timeout_ms);
			c->P(close_deadline) = d < now_ms ? UINT64_MAX : d;
			c->P(close_armed) = true;
			continue;
		}
		if (now_ms < c->P(close_deadline))
			continue;
		/* no RST from the guest in time: force the disconnect (spec) */
		id = conn_id(vs, c);
		conn_kill(vs, c, true);
		vs->P(stats).close_timeouts++;
		fired = true;
		host_event(vs, id, VDEV_VSOCK_EV_CLOSED, VDEV_VSOCK_CLOSED_TIMEOUT);
	}
	if (fired)
		(void)flush_pending(vs);
}

VDEV_API int vdev_vsock_process(struct vdev_vsock *vs)
{
	if (!vdev_dev_is_running(&vs->P(dev)))
		return VDEV_EPERM;
	deliver_event(vs);
	if (flush_pending(vs) == 0)
		vs->P(tx_stalled) = false;
	tx_process(vs);
	wake_writers(vs);
	return 0;
}

VDEV_API unsigned vdev_vsock_num_conns(const struct vdev_vsock *vs)
{
	return vs->P(nconns);
}

VDEV_API uint32_t vdev_vsock_credit(const struct vdev_vsock *vs, uint32_t conn)
{
	const struct vdev_vsock_conn *c = conn_by_id(vs, conn);

	return c != NULL ? peer_credit(c) : 0u;
}

VDEV_API void vdev_vsock_get_stats(const struct vdev_vsock *vs, struct vdev_vsock_stats *out)
{
	*out = vs->P(stats);
}

/* ---- device core ops ------------------------------------------------------------ */

static int vsock_validate_features(void *opaque, uint64_t f)
{
	(void)opaque;
	/* not offered: this device was never tested with it */
	return (f & VDEV_BIT(VDEV_F_IN_ORDER)) ? VDEV_EINVAL : 0;
}

static int vsock_activate(void *opaque)
{
	struct vdev_vsock *vs = opaque;

	deliver_event(vs);
	return 0;
}

static void vsock_queue_notify(void *opaque, uint16_t q)
{
	struct vdev_vsock *vs = opaque;

	switch (q) {
	case TXQ:
		tx_process(vs);
		break;
	case RXQ:
		/* Buffers arrived: waiting replies, then stalled tx, then writers. */
		if (flush_pending(vs) == 0 && vs->P(tx_stalled)) {
			vs->P(tx_stalled) = false;
			tx_process(vs);
		}
		wake_writers(vs);
		break;
	case EVQ:
		deliver_event(vs);
		break;
	default:
		break;
	}
}

static void vsock_queue_reset(void *opaque, uint16_t q)
{
	struct vdev_vsock *vs = opaque;

	/* No chain stays in flight on any queue; tx may wait for rx room. */
	if (q == TXQ)
		vs->P(tx_stalled) = false;
	(void)flush_pending(vs);
}

static void vsock_queue_enable(void *opaque, uint16_t q)
{
	if (q == EVQ)
		deliver_event(opaque);
}

static int vsock_reset(void *opaque)
{
	struct vdev_vsock *vs = opaque;

	/* Connections do not survive; the driver hears of it from a
	 * TRANSPORT_RESET in its first event buffer if any was open. */
	if (drop_all(vs))
		vs->P(event_pending) = true;
	vs->P(rx_waiting) = false;
	vs->P(tx_stalled) = false;
	vs->P(in_tx) = false;
	return 0;
}

static void vsock_config_write(void *opaque, uint32_t off, const void *data, uint32_t len)
{
	(void)opaque, (void)off, (void)data, (void)len; /* guest_cid is read-only */
}

static const struct vdev_dev_ops vsock_dev_ops = {
	.size = sizeof(struct vdev_dev_ops),
	.validate_features = vsock_validate_features,
	.activate = vsock_activate,
	.reset = vsock_reset,
	.queue_notify = vsock_queue_notify,
	.config_write = vsock_config_write,
	.queue_reset = vsock_queue_reset,
	.queue_enable = vsock_queue_enable,
};

/* ---- init ----------------------------------------------------------------------- */

VDEV_API int vdev_vsock_init(struct vdev_vsock *vs, const struct vdev_vsock_config *cfg)
{
	uint64_t features, ring;
	int rc;

	if (vs == NULL || cfg == NULL || cfg->host == NULL ||
	    cfg->host->size < offsetof(struct vdev_vsock_host_ops, event) ||
	    cfg->host->recv == NULL || !cid_ok(cfg->guest_cid) || cfg->queue_size == 0 ||
	    cfg->queue_size > VDEV_VQ_MAX_SIZE || cfg->buf_alloc == 0 || cfg->max_conns == 0 ||
	    cfg->max_conns > VDEV_VSOCK_MAX_CONNS || cfg->iov_per_chain < 2 ||
	    cfg->iov_per_chain > UINT16_MAX || cfg->mem == NULL || cfg->queues == NULL ||
	    cfg->queue_held == NULL || cfg->conns == NULL || cfg->iovs == NULL ||
	    (cfg->ring_features & VDEV_BIT(VDEV_F_IN_ORDER)) != 0)
		return VDEV_EINVAL;
	memset(vs, 0, sizeof(*vs));
	vs->P(ops) = cfg->host;
	vs->P(opaque) = cfg->host_opaque;
	vs->P(queues) = cfg->queues;
	vs->P(conns) = cfg->conns;
	vs->P(iovs) = cfg->iovs;
	vs->P(max_conns) = cfg->max_conns;
	vs->P(iov_per_chain) = cfg->iov_per_chain;
	vs->P(buf_alloc) = cfg->buf_alloc;
	vs->P(max_pkt) = cfg->max_pkt != 0 ? cfg->max_pkt : 65536u;
	vs->P(close_timeout_ms) =
		cfg->close_timeout_ms != 0 ? cfg->close_timeout_ms : VDEV_VSOCK_CLOSE_TIMEOUT_MS;
	vs->P(guest_cid) = cfg->guest_cid;
	memset(cfg->conns, 0, (size_t)cfg->max_conns * sizeof(*cfg->conns));
	for (unsigned i = 0; i < cfg->max_conns; i++)
		cfg->conns[i].P(gen) = 1;
	vdev__put_le64(vs->P(config), cfg->guest_cid);

	features = VDEV_BIT(VDEV_VSOCK_F_STREAM) | VDEV_BIT(VDEV_VSOCK_F_NO_IMPLIED_STREAM);
	if (cfg->seqpacket)
		features |= VDEV_BIT(VDEV_VSOCK_F_SEQPACKET);
	ring = cfg->ring_features != 0 ? cfg->ring_features : DEFAULT_RING_FEATURES;
	struct vdev_dev_config dc = {
		.device_id = VDEV_ID_VSOCK,
		.features = features | ring | VDEV_BIT(VDEV_F_VERSION_1),
		.queues = cfg->queues,
		.queue_held = cfg->queue_held,
		.num_queues = VDEV_VSOCK_NUM_QUEUES,
		.queue_max_size = cfg->queue_size,
		.config = vs->P(config),
		.config_len = VDEV_VSOCK_CONFIG_SIZE,
		.mem = cfg->mem,
		.ops = &vsock_dev_ops,
		.opaque = vs,
	};
	rc = vdev_dev_init(&vs->P(dev), &dc);
	if (rc < 0)
		return rc;
	/* Replies and credit updates go out on rx (events on the event
	 * queue) while tx is processed: neither may write on tx's ring. */
	vdev_vq_set_feeds(&cfg->queues[RXQ], &cfg->queues[TXQ]);
	vdev_vq_set_feeds(&cfg->queues[EVQ], &cfg->queues[TXQ]);
	return 0;
}

VDEV_API struct vdev_dev *vdev_vsock_dev(struct vdev_vsock *vs)
{
	return &vs->P(dev);
}
