/* SPDX-License-Identifier: MIT */
/*
 * virtio-vsock device model, driven through the virtio-mmio transport by
 * the driver simulator (split and packed rings) playing a guest's vsock
 * driver, with a recording host side. Handshakes both ways, data both
 * ways, credit in both directions (the host's budget, consumption and
 * credit updates; a stalled host sink next to a connection that moves
 * megabytes; a guest beyond its credit), shutdown, RST, the clean-close
 * timeout, seqpacket boundaries, many connections, a full table, reset
 * with connections open, and the malformed cases.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "drv_mmio.h"
#include "drvsim.h"
#include "sim_le.h"
#include "vdev/mmio.h"
#include "vdev/vsock.h"

#define F(b) VDEV_BIT(VDEV_F_##b)
#define V(b) VDEV_BIT(VDEV_VSOCK_F_##b)

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define GUEST_CID 3u
#define HOST_BUF 16384u /* the host's per-connection receive buffer */
#define MAXC 8
#define IOVS 24
#define QSIZE 64
#define TX_SLOT 8192u
#define RX_SLOT 4096u
#define NSLOT 64

/* spec ops */
enum { OP_INVALID, OP_REQUEST, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW, OP_CREDIT_UPDATE,
       OP_CREDIT_REQUEST };
#define STREAM VDEV_VSOCK_TYPE_STREAM
#define SEQ VDEV_VSOCK_TYPE_SEQPACKET

struct pkt {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
	uint8_t data[RX_SLOT];
	uint32_t used_len;
};

/* ---- the host side: records everything, answers by policy ---- */
struct evrec {
	uint32_t conn;
	enum vdev_vsock_event ev;
	uint32_t arg;
};
struct host {
	uint32_t listen[4];
	int accepts, recvs, fail_recv, writable;
	bool send_on_accept, abort_in_recv;
	/* per slot: the host's side does not read (nothing is consumed); or
	 * it only checks the bytes against `pattern` instead of keeping them */
	bool stalled[MAXC], check_only[MAXC];
	uint32_t unconsumed[MAXC];
	uint64_t total[MAXC];
	struct vdev_vsock *vs;
	uint32_t last_conn, writable_conn;
	uint8_t data[MAXC][65536];
	size_t len[MAXC];
	uint32_t flags_log[64];
	size_t msg_len[64];
	int nflags;
	struct evrec ev[64];
	int nev;
};

static struct {
	struct sim_mem m;
	struct host h;
	struct vdev_vsock vs;
	struct vdev_vq queues[3];
	uint64_t queue_held[3 * VDEV_VQ_HELD_WORDS(QSIZE)];
	struct vdev_vsock_conn conns[MAXC];
	struct vdev_iov iovs[3 * IOVS];
	struct vdev_mmio mmio;
	struct drv_mmio dm;
	struct drv_transport tr;
	struct drv_vq q[3];
	uint64_t neg;
	uint64_t tx_arena, rx_arena, ev_arena;
	unsigned tx_next;
	bool packed;
	uint32_t max_pkt;
} F;
static int tx_tok[NSLOT], rx_tok[NSLOT], ev_tok[8];

static uint8_t pattern[65536];
static void init_pattern(void)
{
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 13u + (i >> 8));
}
static uint8_t pattern_at(uint64_t i) { return pattern[i % sizeof(pattern)]; }

static int h_accept(void *o, uint32_t conn, uint32_t host_port, uint32_t guest_port,
		    uint16_t type)
{
	struct host *h = o;
	(void)guest_port, (void)type;
	for (unsigned i = 0; i < 4; i++)
		if (h->listen[i] != 0 && h->listen[i] == host_port) {
			h->accepts++;
			h->last_conn = conn;
			if (h->send_on_accept) {
				/* the host may send at once: after the RESPONSE */
				struct vdev_iov v = {(void *)"hello", 5};
				cr_assert_eq(vdev_vsock_send(h->vs, conn, &v, 1, 5, 0), 5);
			}
			return 0;
		}
	return VDEV_ENOENT;
}

static int h_recv(void *o, uint32_t conn, const struct vdev_iov *iov, unsigned n, size_t len,
		  uint32_t flags)
{
	struct host *h = o;
	unsigned slot = conn & 0xffffu;
	cr_assert_lt(slot, MAXC);
	cr_assert_eq(vdev_iov_length(iov, n), len, "recv segments must add up to len");
	if (h->fail_recv)
		return VDEV_EIO;
	if (h->abort_in_recv) {
		cr_assert_eq(vdev_vsock_abort(h->vs, conn), 0);
		return VDEV_EIO; /* and then fails: must not be reset twice */
	}
	/* the device keeps to the budget it advertised for us */
	cr_assert_leq((uint64_t)h->unconsumed[slot] + len, HOST_BUF, "recv beyond the budget");
	if (h->check_only[slot]) {
		static uint8_t buf[TX_SLOT];
		cr_assert_leq(len, sizeof(buf));
		cr_assert_eq(vdev_iov_to_buf(iov, n, 0, buf, len), len);
		for (size_t i = 0; i < len; i++)
			cr_assert_eq(buf[i], pattern_at(h->total[slot] + i), "byte %llu",
				     (unsigned long long)(h->total[slot] + i));
	} else {
		cr_assert_leq(h->len[slot] + len, sizeof(h->data[slot]));
		cr_assert_eq(vdev_iov_to_buf(iov, n, 0, h->data[slot] + h->len[slot], len), len);
		h->len[slot] += len;
	}
	h->total[slot] += len;
	h->unconsumed[slot] += (uint32_t)len;
	if (!h->stalled[slot]) {
		/* a host side that reads at once: consumed from inside recv */
		cr_assert_eq(vdev_vsock_consumed(h->vs, conn, h->unconsumed[slot]), 0);
		h->unconsumed[slot] = 0;
	}
	if (h->nflags < 64) {
		h->msg_len[h->nflags] = len;
		h->flags_log[h->nflags++] = flags;
	}
	h->recvs++;
	return 0;
}

static void h_event(void *o, uint32_t conn, enum vdev_vsock_event ev, uint32_t arg)
{
	struct host *h = o;
	cr_assert_lt(h->nev, 64);
	h->ev[h->nev++] = (struct evrec){conn, ev, arg};
}

static void h_writable(void *o, uint32_t conn)
{
	struct host *h = o;
	h->writable++;
	h->writable_conn = conn;
}

static const struct vdev_vsock_host_ops host_ops = {
	.size = sizeof(struct vdev_vsock_host_ops),
	.accept = h_accept,
	.recv = h_recv,
	.event = h_event,
	.writable = h_writable,
};

struct opts {
	bool packed;
	bool no_seqpacket;
	uint32_t max_pkt;
	unsigned max_conns;
	uint32_t close_timeout_ms;
};

static void bring_up(void)
{
	uint64_t want = ~(uint64_t)0;
	if (!F.packed)
		want &= ~F(RING_PACKED);
	cr_assert_eq(drv_virtio_negotiate(&F.tr, want, &F.neg), 0);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(drv_virtio_setup_queue(&F.tr, &F.q[i], &F.m, (uint16_t)i, QSIZE, F.neg),
			     0);
	cr_assert_eq(drv_virtio_driver_ok(&F.tr), 0x0f);
}

static void setup_with(struct opts o)
{
	memset(&F.h, 0, sizeof(F.h));
	F.h.listen[0] = 1234;
	F.h.listen[1] = 5000;
	F.h.vs = &F.vs;
	F.packed = o.packed;
	sim_mem_init(&F.m, 4u << 20, false);
	struct vdev_vsock_config c = {
		.guest_cid = GUEST_CID,
		.queue_size = QSIZE,
		.seqpacket = !o.no_seqpacket,
		.buf_alloc = HOST_BUF,
		.max_pkt = o.max_pkt,
		.mem = &F.m.mem,
		.queues = F.queues,
		.queue_held = F.queue_held,
		.conns = F.conns,
		.max_conns = o.max_conns ? o.max_conns : MAXC,
		.iovs = F.iovs,
		.iov_per_chain = IOVS,
		.host = &host_ops,
		.host_opaque = &F.h,
		.close_timeout_ms = o.close_timeout_ms,
	};
	cr_assert_eq(vdev_vsock_init(&F.vs, &c), 0);
	cr_assert_eq(drv_mmio_attach(&F.dm, &F.mmio, vdev_vsock_dev(&F.vs), &F.tr), 0);
	bring_up();
	F.tx_arena = sim_alloc(&F.m, (size_t)NSLOT * TX_SLOT, 4096);
	F.rx_arena = sim_alloc(&F.m, (size_t)NSLOT * RX_SLOT, 4096);
	F.ev_arena = sim_alloc(&F.m, 8 * 64, 64);
	F.tx_next = 0;
}

static void setup(void) { setup_with((struct opts){0}); }
static void teardown(void) { sim_mem_destroy(&F.m); }

TestSuite(vsock, .init = setup, .fini = teardown);

static void redo(struct opts o)
{
	teardown();
	setup_with(o);
}

static void kick(unsigned q)
{
	if (drv_kick_prepare(&F.q[q]))
		F.tr.ops->notify(F.tr.t, (uint16_t)q, false, 0);
}

/* ---- the guest driver side ---- */

static void put_hdr(uint8_t *p, const struct pkt *k)
{
	memset(p, 0, VDEV_VSOCK_HDR_LEN);
	sim_put_le64(p + 0, k->src_cid);
	sim_put_le64(p + 8, k->dst_cid);
	sim_put_le32(p + 16, k->src_port);
	sim_put_le32(p + 20, k->dst_port);
	sim_put_le32(p + 24, k->len);
	sim_put_le16(p + 28, k->type);
	sim_put_le16(p + 30, k->op);
	sim_put_le32(p + 32, k->flags);
	sim_put_le32(p + 36, k->buf_alloc);
	sim_put_le32(p + 40, k->fwd_cnt);
}

static void get_hdr(const uint8_t *p, struct pkt *k)
{
	k->src_cid = sim_get_le64(p + 0);
	k->dst_cid = sim_get_le64(p + 8);
	k->src_port = sim_get_le32(p + 16);
	k->dst_port = sim_get_le32(p + 20);
	k->len = sim_get_le32(p + 24);
	k->type = sim_get_le16(p + 28);
	k->op = sim_get_le16(p + 30);
	k->flags = sim_get_le32(p + 32);
	k->buf_alloc = sim_get_le32(p + 36);
	k->fwd_cnt = sim_get_le32(p + 40);
}

/* A well-formed guest header for guest port gp -> host port hp. */
static struct pkt G(uint32_t gp, uint32_t hp, uint16_t op)
{
	struct pkt k = {.src_cid = GUEST_CID, .dst_cid = 2, .src_port = gp, .dst_port = hp,
			.type = STREAM, .op = op, .buf_alloc = 65536};
	return k;
}

enum layout { L_PLAIN, L_ONE, L_SPLIT_HDR, L_BYTES, L_INDIRECT };

/* Queue a packet on tx: header then `paylen` bytes of payload (hdr.len is
 * taken from k as given). Returns the token's slot. */
static unsigned tx_raw(const struct pkt *k, const void *payload, uint32_t paylen, enum layout L)
{
	unsigned s = F.tx_next++ % NSLOT;
	uint64_t g = F.tx_arena + (uint64_t)s * TX_SLOT;
	uint8_t *p = sim_ptr(&F.m, g);
	struct drv_buf b[IOVS];
	unsigned n = 0;

	cr_assert_leq(VDEV_VSOCK_HDR_LEN + paylen, TX_SLOT);
	put_hdr(p, k);
	if (paylen)
		memcpy(p + VDEV_VSOCK_HDR_LEN, payload, paylen);
	switch (L) {
	case L_ONE:
		b[n++] = (struct drv_buf){g, VDEV_VSOCK_HDR_LEN + paylen, false};
		break;
	case L_SPLIT_HDR:
		b[n++] = (struct drv_buf){g, 10, false};
		b[n++] = (struct drv_buf){g + 10, 20, false};
		b[n++] = (struct drv_buf){g + 30, 14 + paylen / 2, false};
		if (paylen - paylen / 2)
			b[n++] = (struct drv_buf){g + 44 + paylen / 2, paylen - paylen / 2, false};
		break;
	case L_BYTES:
		for (unsigned i = 0; i < 20; i++)
			b[n++] = (struct drv_buf){g + i, 1, false};
		b[n++] = (struct drv_buf){g + 20, 24 + paylen, false};
		break;
	default:
		b[n++] = (struct drv_buf){g, VDEV_VSOCK_HDR_LEN, false};
		if (paylen)
			b[n++] = (struct drv_buf){g + VDEV_VSOCK_HDR_LEN, paylen, false};
		break;
	}
	cr_assert_eq(drv_add(&F.q[1], b, n, L == L_INDIRECT, &tx_tok[s]), 0);
	return s;
}

static void tx(struct pkt k, const void *payload, uint32_t len, enum layout L)
{
	k.len = len;
	tx_raw(&k, payload, len, L);
	kick(1);
}

/* Reap tx used entries; returns how many. */
static int tx_reap(void)
{
	uint32_t l;
	int n = 0;
	while (drv_get_used(&F.q[1], &l) != NULL) {
		cr_assert_eq(l, 0, "tx buffers are not written");
		n++;
	}
	cr_assert_eq(F.q[1].errors, 0, "%s", F.q[1].last_error);
	return n;
}

static unsigned rx_next;
static void post_rx(unsigned n, uint32_t size)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned s = rx_next++ % NSLOT;
		struct drv_buf b = {F.rx_arena + (uint64_t)s * RX_SLOT, size, true};
		memset(sim_ptr(&F.m, b.gpa), 0xee, size);
		cr_assert_eq(drv_add(&F.q[0], &b, 1, false, &rx_tok[s]), 0);
	}
	kick(0);
}

/* Reap one rx packet; false if none. */
static bool rx_get(struct pkt *k)
{
	uint32_t l;
	int *t = drv_get_used(&F.q[0], &l);
	cr_assert_eq(F.q[0].errors, 0, "%s", F.q[0].last_error);
	if (t == NULL)
		return false;
	unsigned s = (unsigned)(t - rx_tok);
	const uint8_t *p = sim_ptr(&F.m, F.rx_arena + (uint64_t)s * RX_SLOT);
	memset(k, 0, sizeof(*k));
	k->used_len = l;
	if (l == 0)
		return true;
	cr_assert_geq(l, VDEV_VSOCK_HDR_LEN);
	get_hdr(p, k);
	cr_assert_eq(l, VDEV_VSOCK_HDR_LEN + k->len, "used length = header + len");
	memcpy(k->data, p + VDEV_VSOCK_HDR_LEN, k->len);
	cr_assert_eq(k->src_cid, 2);
	cr_assert_eq(k->dst_cid, GUEST_CID);
	return true;
}

static struct pkt rx_expect(uint16_t op, uint32_t gp, uint32_t hp)
{
	struct pkt k;
	cr_assert(rx_get(&k), "expected op %u on rx", op);
	cr_assert_eq(k.op, op, "op %u, expected %u", k.op, op);
	cr_assert_eq(k.dst_port, gp);
	cr_assert_eq(k.src_port, hp);
	return k;
}

static void rx_none(void)
{
	struct pkt k;
	cr_assert_not(rx_get(&k), "unexpected rx packet op %u", k.op);
}

static void post_events(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct drv_buf b = {F.ev_arena + i * 64u, 8, true};
		cr_assert_eq(drv_add(&F.q[2], &b, 1, false, &ev_tok[i]), 0);
	}
	kick(2);
}

static struct vdev_vsock_stats stats(void)
{
	struct vdev_vsock_stats s;
	vdev_vsock_get_stats(&F.vs, &s);
	return s;
}

static int last_ev(void) { return F.h.nev ? (int)F.h.ev[F.h.nev - 1].ev : 0; }

/* The guest connects gp -> hp (accepted); returns the host's conn id. */
static uint32_t guest_connect(uint32_t gp, uint32_t hp, uint16_t type)
{
	struct pkt k = G(gp, hp, OP_REQUEST);
	k.type = type;
	int before = F.h.accepts;
	tx(k, NULL, 0, L_PLAIN);
	cr_assert_eq(tx_reap(), 1);
	cr_assert_eq(F.h.accepts, before + 1);
	struct pkt r = rx_expect(OP_RESPONSE, gp, hp);
	cr_expect_eq(r.type, type);
	cr_expect_eq(r.buf_alloc, HOST_BUF, "the host's own buffer, not the guest's");
	cr_expect_eq(r.fwd_cnt, 0);
	return F.h.last_conn;
}


/* ---- configuration ---- */

Test(vsock, config_and_features)
{
	uint8_t c[8];
	uint64_t cid;
	cr_assert_eq(drv_virtio_config_read(&F.tr, 0, c, 8), 0);
	cid = sim_get_le64(c);
	cr_expect_eq(cid, GUEST_CID);
	cr_expect_eq(vdev_dev_device_id(vdev_vsock_dev(&F.vs)), VDEV_ID_VSOCK);
	cr_expect_eq(vdev_dev_num_queues(vdev_vsock_dev(&F.vs)), 3);
	cr_expect_eq(F.neg & (V(STREAM) | V(SEQPACKET) | V(NO_IMPLIED_STREAM)),
		     V(STREAM) | V(SEQPACKET) | V(NO_IMPLIED_STREAM));
	cr_expect_eq(F.neg & F(IN_ORDER), 0);
	uint8_t z[8] = {0};
	F.tr.ops->config_write(F.tr.t, 0, z, 8);
	cr_assert_eq(drv_virtio_config_read(&F.tr, 0, c, 8), 0);
	cid = sim_get_le64(c);
	cr_expect_eq(cid, GUEST_CID, "guest_cid is read-only");
}

Test(vsock, init_rejects_bad_config)
{
	struct vdev_vsock v;
	struct vdev_vsock_config c = {
		.guest_cid = 3, .queue_size = 64, .buf_alloc = 4096, .mem = &F.m.mem,
		.queues = F.queues, .queue_held = F.queue_held, .conns = F.conns, .max_conns = MAXC, .iovs = F.iovs,
		.iov_per_chain = IOVS, .host = &host_ops,
	};
	struct vdev_vsock_config b;
	static const uint64_t bad_cids[] = {0, 1, 2, 0xffffffffull, 0x100000003ull,
					    ~(uint64_t)0};
	for (unsigned i = 0; i < 6; i++) {
		b = c, b.guest_cid = bad_cids[i];
		cr_expect_eq(vdev_vsock_init(&v, &b), VDEV_EINVAL, "cid %llx",
			     (unsigned long long)bad_cids[i]);
	}
	b = c, b.buf_alloc = 0;
	cr_expect_eq(vdev_vsock_init(&v, &b), VDEV_EINVAL);
	b = c, b.max_conns = 0;
	cr_expect_eq(vdev_vsock_init(&v, &b), VDEV_EINVAL);
	b = c, b.iov_per_chain = 1;
	cr_expect_eq(vdev_vsock_init(&v, &b), VDEV_EINVAL);
	b = c, b.host = NULL;
	cr_expect_eq(vdev_vsock_init(&v, &b), VDEV_EINVAL);
	b = c, b.ring_features = F(IN_ORDER) | F(EVENT_IDX);
	cr_expect_eq(vdev_vsock_init(&v, &b), VDEV_EINVAL);
	cr_expect_eq(vdev_vsock_init(&v, &c), 0);
}

/* ---- handshakes ---- */

static void guest_handshake(bool packed)
{
	redo((struct opts){.packed = packed});
	post_rx(8, RX_SLOT);
	uint32_t id = guest_connect(40000, 1234, STREAM);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 1);
	cr_expect_eq(vdev_vsock_credit(&F.vs, id), 65536, "the guest's buf_alloc");
	/* a port nobody listens on is refused with RST */
	tx(G(40001, 999, OP_REQUEST), NULL, 0, L_PLAIN);
	cr_assert_eq(tx_reap(), 1);
	rx_expect(OP_RST, 40001, 999);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 1);
	cr_expect_eq(stats().refused, 1);
}
Test(vsock, guest_connects_to_listener_split) { guest_handshake(false); }
Test(vsock, guest_connects_to_listener_packed) { guest_handshake(true); }

static void host_handshake(bool packed)
{
	redo((struct opts){.packed = packed});
	uint32_t id;
	/* no rx buffers yet: the REQUEST waits for one */
	cr_assert_eq(vdev_vsock_connect(&F.vs, 70000, 22, STREAM, &id), 0);
	cr_expect_eq(vdev_vsock_connect(&F.vs, 70000, 22, STREAM, &id), VDEV_EEXIST);
	post_rx(4, RX_SLOT);
	struct pkt r = rx_expect(OP_REQUEST, 22, 70000);
	cr_expect_eq(r.buf_alloc, HOST_BUF);
	cr_expect_eq(vdev_vsock_send(&F.vs, id, NULL, 0, 0, 0), VDEV_EPERM, "not yet established");
	struct pkt k = G(22, 70000, OP_RESPONSE);
	k.buf_alloc = 4096;
	tx(k, NULL, 0, L_PLAIN);
	cr_assert_eq(tx_reap(), 1);
	cr_assert_eq(last_ev(), VDEV_VSOCK_EV_CONNECTED);
	cr_expect_eq(F.h.ev[0].conn, id);
	cr_expect_eq(vdev_vsock_credit(&F.vs, id), 4096);

	/* a refused one: the guest answers RST */
	uint32_t id2;
	cr_assert_eq(vdev_vsock_connect(&F.vs, 70001, 23, STREAM, &id2), 0);
	rx_expect(OP_REQUEST, 23, 70001);
	tx(G(23, 70001, OP_RST), NULL, 0, L_PLAIN);
	cr_assert_eq(tx_reap(), 1);
	cr_assert_eq(last_ev(), VDEV_VSOCK_EV_REFUSED);
	cr_expect_eq(F.h.ev[F.h.nev - 1].conn, id2);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 1);
	cr_expect_eq(vdev_vsock_send(&F.vs, id2, NULL, 0, 0, 0), VDEV_ENOENT, "dead id");
	rx_none();
}
Test(vsock, host_connects_to_guest_split) { host_handshake(false); }
Test(vsock, host_connects_to_guest_packed) { host_handshake(true); }

Test(vsock, connect_needs_running_device_and_type)
{
	uint32_t id;
	cr_expect_eq(vdev_vsock_connect(&F.vs, 1, 2, 7, &id), VDEV_ENOTSUP);
	F.tr.ops->set_status(F.tr.t, 0);
	cr_expect_eq(vdev_vsock_connect(&F.vs, 1, 2, STREAM, &id), VDEV_EPERM);
}

/* ---- data ---- */

static void data_guest_to_host(bool packed)
{
	redo((struct opts){.packed = packed});
	init_pattern();
	post_rx(16, RX_SLOT);
	uint32_t id = guest_connect(40000, 1234, STREAM);
	static const enum layout Ls[] = {L_PLAIN, L_ONE, L_SPLIT_HDR, L_BYTES, L_INDIRECT};
	size_t off = 0;
	for (unsigned i = 0; i < 5; i++) {
		uint32_t len = 100 + 777 * i;
		tx(G(40000, 1234, OP_RW), pattern + off, len, Ls[i]);
		cr_assert_eq(tx_reap(), 1, "layout %u", i);
		off += len;
		cr_assert_eq(F.h.len[id & 0xffff], off, "layout %u", i);
	}
	cr_assert_arr_eq(F.h.data[id & 0xffff], pattern, off);
	/* hdr.len shorter than the buffers: only len bytes count */
	struct pkt k = G(40000, 1234, OP_RW);
	k.len = 10;
	tx_raw(&k, pattern + off, 50, L_PLAIN);
	kick(1);
	cr_assert_eq(tx_reap(), 1);
	cr_assert_eq(F.h.len[id & 0xffff], off + 10);
	cr_expect_eq(stats().tx_bytes, off + 10);
}
Test(vsock, data_guest_to_host_split) { data_guest_to_host(false); }
Test(vsock, data_guest_to_host_packed) { data_guest_to_host(true); }

static void data_host_to_guest(bool packed)
{
	redo((struct opts){.packed = packed, .max_pkt = 3000});
	init_pattern();
	post_rx(4, RX_SLOT);
	uint32_t id = guest_connect(40000, 1234, STREAM);
	/* two pieces of host memory; 3000-byte packets (max_pkt) and 4052-byte room */
	struct vdev_iov v[2] = {{pattern, 5000}, {pattern + 5000, 5000}};
	post_rx(8, RX_SLOT);
	cr_assert_eq(vdev_vsock_send(&F.vs, id, v, 2, 10000, 0), 10000);
	uint8_t got[10000];
	size_t n = 0;
	struct pkt r;
	while (n < 10000) {
		r = rx_expect(OP_RW, 40000, 1234);
		cr_assert_leq(r.len, 3000);
		cr_expect_eq(r.buf_alloc, HOST_BUF);
		cr_expect_eq(r.flags, 0);
		memcpy(got + n, r.data, r.len);
		n += r.len;
	}
	cr_assert_eq(n, 10000);
	cr_assert_arr_eq(got, pattern, 10000);
	rx_none();
	/* the rx buffer bounds a packet too */
	redo((struct opts){.packed = packed});
	post_rx(1, RX_SLOT);
	id = guest_connect(40000, 1234, STREAM);
	post_rx(1, 1000);
	cr_assert_eq(vdev_vsock_send(&F.vs, id, v, 1, 5000, 0), 1000 - VDEV_VSOCK_HDR_LEN);
	r = rx_expect(OP_RW, 40000, 1234);
	cr_assert_arr_eq(r.data, pattern, 1000 - VDEV_VSOCK_HDR_LEN);
	/* no rx buffers left: EAGAIN, and writable once the guest posts some */
	cr_assert_eq(vdev_vsock_send(&F.vs, id, v, 1, 5000, 0), VDEV_EAGAIN);
	cr_expect_eq(F.h.writable, 0);
	post_rx(1, RX_SLOT);
	cr_expect_eq(F.h.writable, 1);
	cr_expect_eq(F.h.writable_conn, id);
	cr_expect_eq(vdev_vsock_send(&F.vs, id, v, 1, 100, 0), 100);
}
Test(vsock, data_host_to_guest_split) { data_host_to_guest(false); }
Test(vsock, data_host_to_guest_packed) { data_host_to_guest(true); }

/* ---- credit ---- */

static void credit_host_send(bool packed)
{
	redo((struct opts){.packed = packed});
	init_pattern();
	post_rx(16, RX_SLOT);
	struct pkt k = G(40000, 1234, OP_REQUEST);
	k.buf_alloc = 1000;
	tx(k, NULL, 0, L_PLAIN);
	tx_reap();
	rx_expect(OP_RESPONSE, 40000, 1234);
	uint32_t id = F.h.last_conn;
	struct vdev_iov v = {pattern, 5000};
	cr_assert_eq(vdev_vsock_send(&F.vs, id, &v, 1, 5000, 0), 1000, "bounded by buf_alloc");
	cr_assert_eq(rx_expect(OP_RW, 40000, 1234).len, 1000);
	cr_expect_eq(vdev_vsock_credit(&F.vs, id), 0);
	cr_assert_eq(vdev_vsock_send(&F.vs, id, &v, 1, 5000, 0), VDEV_EAGAIN);
	rx_none();
	/* the guest read 600 bytes: CREDIT_UPDATE; the host hears it may write */
	k = G(40000, 1234, OP_CREDIT_UPDATE);
	k.buf_alloc = 1000, k.fwd_cnt = 600;
	tx(k, NULL, 0, L_PLAIN);
	tx_reap();
	cr_expect_eq(F.h.writable, 1);
	cr_expect_eq(vdev_vsock_credit(&F.vs, id), 600);
	cr_assert_eq(vdev_vsock_send(&F.vs, id, &v, 1, 5000, 0), 600);
	/* the guest grows its buffer */
	k.buf_alloc = 3000, k.fwd_cnt = 1600;
	tx(k, NULL, 0, L_PLAIN);
	tx_reap();
	cr_expect_eq(vdev_vsock_credit(&F.vs, id), 3000);
	/* an RW from the guest updates credit as well */
	k = G(40000, 1234, OP_RW);
	k.buf_alloc = 0, k.fwd_cnt = 1600;
	tx(k, "x", 1, L_PLAIN);
	tx_reap();
	cr_expect_eq(vdev_vsock_credit(&F.vs, id), 0, "buf_alloc 0: no credit");
	cr_expect_eq(vdev_vsock_send(&F.vs, id, &v, 1, 10, 0), VDEV_EAGAIN);
	k.buf_alloc = 0xffffffffu, k.op = OP_CREDIT_UPDATE;
	tx(k, NULL, 0, L_PLAIN);
	tx_reap();
	cr_expect_eq(vdev_vsock_credit(&F.vs, id), 0xffffffffu - 0u);
	/* huge credit: packets are still bounded by the rx buffer */
	cr_expect_eq(vdev_vsock_send(&F.vs, id, &v, 1, 5000, 0), 5000);
	cr_expect_eq(rx_expect(OP_RW, 40000, 1234).len, 600, "the earlier one");
	cr_expect_eq(rx_expect(OP_RW, 40000, 1234).len, RX_SLOT - VDEV_VSOCK_HDR_LEN);
	cr_expect_eq(rx_expect(OP_RW, 40000, 1234).len, 5000 - (RX_SLOT - VDEV_VSOCK_HDR_LEN));
}
Test(vsock, credit_exhaustion_and_update_split) { credit_host_send(false); }
Test(vsock, credit_exhaustion_and_update_packed) { credit_host_send(true); }

Test(vsock, fwd_cnt_backwards_or_beyond_sent_is_ignored)
{
	init_pattern();
	post_rx(16, RX_SLOT);
	struct pkt k = G(40000, 1234, OP_REQUEST);
	k.buf_alloc = 1000;
	tx(k, NULL, 0, L_PLAIN);
	tx_reap();
	rx_expect(OP_RESPONSE, 40000, 1234);
	uint32_t id = F.h.last_conn;
	struct vdev_iov v = {pattern, 1000};
	cr_assert_eq(vdev_vsock_send(&F.vs, id, &v, 1, 1000, 0), 1000);
	k = G(40000, 1234, OP_CREDIT_UPDATE);
	k.buf_alloc = 1000, k.fwd_cnt = 5000; /* beyond the 1000 sent */
	tx(k, NULL, 0, L_PLAIN);
	tx_reap();
	cr_expect_eq(vdev_vsock_credit(&F.vs, id), 0);
	cr_expect_eq(stats().bad_credit, 1);
	k.fwd_cnt = 500;
	tx(k, NULL, 0, L_PLAIN);
	tx_reap();
	cr_expect_eq(vdev_vsock_credit(&F.vs, id), 500);
	k.fwd_cnt = 400; /* backwards */
	tx(k, NULL, 0, L_PLAIN);
	tx_reap();
	cr_expect_eq(vdev_vsock_credit(&F.vs, id), 500);
	k.fwd_cnt = 0xfffffff0u; /* far backwards (wraps) */
	tx(k, NULL, 0, L_PLAIN);
	tx_reap();
	cr_expect_eq(vdev_vsock_credit(&F.vs, id), 500);
	cr_expect_eq(stats().bad_credit, 3);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 1, "the connection lives on");
}

Test(vsock, credit_request_gets_credit_update)
{
	init_pattern();
	post_rx(8, RX_SLOT);
	uint32_t id = guest_connect(40000, 1234, STREAM);
	tx(G(40000, 1234, OP_RW), pattern, 300, L_PLAIN);
	tx_reap();
	tx(G(40000, 1234, OP_CREDIT_REQUEST), NULL, 0, L_PLAIN);
	tx_reap();
	struct pkt r = rx_expect(OP_CREDIT_UPDATE, 40000, 1234);
	cr_expect_eq(r.buf_alloc, HOST_BUF);
	cr_expect_eq(r.fwd_cnt, 300);
	cr_expect_eq(r.len, 0);
	(void)id;
}

Test(vsock, guest_gets_credit_back_as_the_host_consumes)
{
	init_pattern();
	post_rx(8, RX_SLOT);
	guest_connect(40000, 1234, STREAM);
	uint32_t sent = 0;
	/* the guest may send HOST_BUF bytes; more than half triggers an update */
	while (sent <= HOST_BUF / 2) {
		tx(G(40000, 1234, OP_RW), pattern, 4000, L_PLAIN);
		tx_reap();
		sent += 4000;
	}
	struct pkt r = rx_expect(OP_CREDIT_UPDATE, 40000, 1234);
	cr_expect_eq(r.fwd_cnt, sent);
	cr_expect_eq(r.buf_alloc, HOST_BUF);
	rx_none();
}

Test(vsock, guest_beyond_credit_is_reset)
{
	init_pattern();
	post_rx(8, RX_SLOT);
	uint32_t id = guest_connect(40000, 1234, STREAM);
	/* no credit update is posted while rx has no buffers... */
	redo((struct opts){0});
	post_rx(1, RX_SLOT);
	id = guest_connect(40000, 1234, STREAM);
	uint32_t sent = 0;
	while (sent + 4000 <= HOST_BUF) {
		tx(G(40000, 1234, OP_RW), pattern, 4000, L_PLAIN);
		tx_reap();
		sent += 4000;
	}
	cr_assert_eq(F.h.len[id & 0xffff], sent);
	/* ... so the guest still has HOST_BUF - sent bytes: one byte more is too many */
	tx(G(40000, 1234, OP_RW), pattern, HOST_BUF - sent + 1, L_PLAIN);
	tx_reap();
	cr_expect_eq(F.h.len[id & 0xffff], sent, "not delivered");
	cr_expect_eq(stats().over_credit, 1);
	cr_expect_eq(last_ev(), VDEV_VSOCK_EV_RESET);
	post_rx(4, RX_SLOT);
	struct pkt r;
	bool rst = false;
	while (rx_get(&r))
		rst |= r.op == OP_RST;
	cr_expect(rst);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 0);
}

/* ---- the host's budget: consumption, stalled sinks, overruns ---- */

/* What a well-behaved guest knows of the device's buffer for one connection. */
struct gview {
	uint32_t gp, hp;
	uint32_t buf_alloc, fwd_cnt, tx_cnt;
	unsigned rsts, updates;
};

static uint32_t gview_credit(const struct gview *g)
{
	uint32_t in_flight = g->tx_cnt - g->fwd_cnt;
	return in_flight >= g->buf_alloc ? 0 : g->buf_alloc - in_flight;
}

/* Read every rx packet, learn credit from it, post a fresh buffer for it. */
static void gview_drain(struct gview *g, unsigned n)
{
	struct pkt r;
	while (rx_get(&r)) {
		post_rx(1, RX_SLOT);
		for (unsigned i = 0; i < n; i++) {
			if (r.dst_port != g[i].gp || r.src_port != g[i].hp)
				continue;
			if (r.op == OP_RST) {
				g[i].rsts++;
				continue;
			}
			cr_assert_eq(r.buf_alloc, HOST_BUF, "the host's budget");
			cr_assert_leq(r.fwd_cnt - g[i].fwd_cnt, g[i].tx_cnt - g[i].fwd_cnt,
				      "fwd_cnt beyond what the guest sent");
			g[i].buf_alloc = r.buf_alloc;
			g[i].fwd_cnt = r.fwd_cnt;
			g[i].updates += r.op == OP_CREDIT_UPDATE;
		}
	}
}

/* Queue RW packets of up to `chunk` bytes while the guest's view allows,
 * at most `most` bytes; returns the bytes queued. */
static uint32_t gview_send(struct gview *g, uint32_t chunk, uint32_t most, unsigned *queued)
{
	uint32_t done = 0;
	while (done < most && *queued < NSLOT) {
		uint32_t n = MIN(MIN(chunk, gview_credit(g)), most - done);
		if (n == 0)
			break;
		struct pkt k = G(g->gp, g->hp, OP_RW);
		k.len = n;
		uint8_t buf[TX_SLOT];
		for (uint32_t i = 0; i < n; i++)
			buf[i] = pattern_at((uint64_t)g->tx_cnt + i);
		tx_raw(&k, buf, n, L_PLAIN);
		g->tx_cnt += n;
		done += n;
		(*queued)++;
	}
	return done;
}

static void stalled_sink(bool packed)
{
	redo((struct opts){.packed = packed});
	init_pattern();
	post_rx(16, RX_SLOT);
	uint32_t a = guest_connect(40000, 1234, STREAM);
	uint32_t b = guest_connect(40001, 1234, STREAM);
	unsigned sa = a & 0xffff, sb = b & 0xffff;
	F.h.stalled[sa] = true;   /* A's host peer never reads */
	F.h.check_only[sa] = F.h.check_only[sb] = true;
	struct gview g[2] = {{40000, 1234, HOST_BUF, 0, 0, 0, 0},
			     {40001, 1234, HOST_BUF, 0, 0, 0, 0}};
	const uint64_t want = 4u << 20;
	uint64_t moved = 0;
	unsigned rounds = 0;
	while (moved < want) {
		unsigned queued = 0;
		cr_assert_lt(++rounds, 100000, "no progress");
		/* A first in the ring every round (as far as its credit goes), then B */
		(void)gview_send(&g[0], 3000, HOST_BUF, &queued);
		moved += gview_send(&g[1], 4096, (uint32_t)MIN(want - moved, (uint64_t)1 << 20),
				    &queued);
		kick(1);
		cr_assert_eq(tx_reap(), (int)queued, "every chain comes back at once");
		gview_drain(g, 2);
	}
	cr_expect_eq(F.h.total[sb], want, "B moved %llu bytes", (unsigned long long)F.h.total[sb]);
	/* A took exactly the budget, none of it consumed; the guest sees no credit */
	cr_expect_eq(F.h.total[sa], HOST_BUF);
	cr_expect_eq(F.h.unconsumed[sa], HOST_BUF);
	cr_expect_eq(gview_credit(&g[0]), 0);
	cr_expect_eq(g[0].fwd_cnt, 0, "fwd_cnt counts consumed bytes, not handed-over ones");
	cr_expect_gt(g[1].updates, 0);
	cr_expect_eq(stats().over_credit, 0);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 2);
	/* A's peer reads: credit comes back and A moves again */
	cr_assert_eq(vdev_vsock_consumed(&F.vs, a, HOST_BUF), 0);
	F.h.unconsumed[sa] = 0;
	F.h.stalled[sa] = false;
	gview_drain(g, 2);
	cr_expect_eq(g[0].fwd_cnt, HOST_BUF, "CREDIT_UPDATE after the stalled sink drained");
	unsigned queued = 0;
	cr_assert_eq(gview_send(&g[0], 4096, 8192, &queued), 8192);
	kick(1);
	cr_assert_eq(tx_reap(), (int)queued);
	cr_expect_eq(F.h.total[sa], HOST_BUF + 8192);
}
Test(vsock, stalled_host_sink_does_not_block_other_connections_split) { stalled_sink(false); }
Test(vsock, stalled_host_sink_does_not_block_other_connections_packed) { stalled_sink(true); }

Test(vsock, guest_beyond_credit_of_stalled_sink_is_reset_and_queue_goes_on)
{
	init_pattern();
	post_rx(16, RX_SLOT);
	uint32_t a = guest_connect(40000, 1234, STREAM);
	uint32_t b = guest_connect(40001, 1234, STREAM);
	unsigned sa = a & 0xffff, sb = b & 0xffff;
	F.h.stalled[sa] = true;
	/* A fills the budget exactly: taken, nothing consumed, no credit update */
	for (uint32_t off = 0; off < HOST_BUF; off += 4096)
		tx(G(40000, 1234, OP_RW), pattern + off, 4096, L_PLAIN);
	cr_assert_eq(tx_reap(), HOST_BUF / 4096);
	cr_assert_eq(F.h.len[sa], HOST_BUF);
	rx_none();
	/* a hostile guest sends one byte more on A, B's data right behind it */
	struct pkt k = G(40000, 1234, OP_RW);
	k.len = 1;
	tx_raw(&k, "x", 1, L_PLAIN);
	k = G(40001, 1234, OP_RW);
	k.len = 100;
	tx_raw(&k, pattern, 100, L_PLAIN);
	kick(1);
	cr_expect_eq(tx_reap(), 2, "both chains completed");
	cr_expect_eq(stats().over_credit, 1);
	cr_expect_eq(F.h.len[sa], HOST_BUF, "the overrun is not delivered");
	cr_expect_eq(F.h.len[sb], 100, "the other connection goes on");
	rx_expect(OP_RST, 40000, 1234);
	cr_expect_eq(F.h.ev[F.h.nev - 1].ev, VDEV_VSOCK_EV_RESET);
	cr_expect_eq(F.h.ev[F.h.nev - 1].conn, a);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 1);
	cr_expect_eq(vdev_vsock_consumed(&F.vs, a, 1), VDEV_ENOENT, "A's id is dead");
	/* the queue keeps working: B again, and A's port pair can connect anew */
	tx(G(40001, 1234, OP_RW), pattern + 100, 50, L_PLAIN);
	cr_assert_eq(tx_reap(), 1);
	cr_expect_eq(F.h.len[sb], 150);
	F.h.stalled[sa] = false;
	F.h.unconsumed[sa] = 0;
	guest_connect(40000, 1234, STREAM);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 2);
}

Test(vsock, consumed_gives_credit_back_when_useful)
{
	init_pattern();
	post_rx(16, RX_SLOT);
	uint32_t id = guest_connect(40000, 1234, STREAM);
	unsigned s = id & 0xffff;
	F.h.stalled[s] = true;
	for (uint32_t off = 0; off < HOST_BUF; off += 4096)
		tx(G(40000, 1234, OP_RW), pattern + off, 4096, L_PLAIN);
	cr_assert_eq(tx_reap(), HOST_BUF / 4096);
	rx_none();
	cr_expect_eq(vdev_vsock_consumed(&F.vs, id, 0), 0);
	cr_expect_eq(vdev_vsock_consumed(&F.vs, id, HOST_BUF + 1), VDEV_EINVAL);
	cr_expect_eq(vdev_vsock_consumed(&F.vs, 0x7777, 1), VDEV_ENOENT);
	/* a little consumed: not yet worth a packet */
	cr_assert_eq(vdev_vsock_consumed(&F.vs, id, 1000), 0);
	rx_none();
	/* a CREDIT_REQUEST always gets the exact count */
	tx(G(40000, 1234, OP_CREDIT_REQUEST), NULL, 0, L_PLAIN);
	tx_reap();
	struct pkt r = rx_expect(OP_CREDIT_UPDATE, 40000, 1234);
	cr_expect_eq(r.fwd_cnt, 1000);
	cr_expect_eq(r.buf_alloc, HOST_BUF);
	/* a quarter of the budget freed since the guest was told: update */
	cr_assert_eq(vdev_vsock_consumed(&F.vs, id, HOST_BUF / 4 - 1), 0);
	rx_none();
	cr_assert_eq(vdev_vsock_consumed(&F.vs, id, 1), 0);
	r = rx_expect(OP_CREDIT_UPDATE, 40000, 1234);
	cr_expect_eq(r.fwd_cnt, 1000 + HOST_BUF / 4);
	/* more than what is left: refused, nothing changes */
	uint32_t left = HOST_BUF - 1000 - HOST_BUF / 4;
	cr_expect_eq(vdev_vsock_consumed(&F.vs, id, left + 1), VDEV_EINVAL);
	/* nearly all of it: update */
	cr_assert_eq(vdev_vsock_consumed(&F.vs, id, left - 100), 0);
	r = rx_expect(OP_CREDIT_UPDATE, 40000, 1234);
	cr_expect_eq(r.fwd_cnt, HOST_BUF - 100);
	/* the guest already knows nearly all is free: no packet for 100 bytes */
	cr_assert_eq(vdev_vsock_consumed(&F.vs, id, 100), 0);
	rx_none();
	/* host data to the guest carries the newest fwd_cnt anyway */
	struct vdev_iov v = {pattern, 10};
	cr_assert_eq(vdev_vsock_send(&F.vs, id, &v, 1, 10, 0), 10);
	cr_expect_eq(rx_expect(OP_RW, 40000, 1234).fwd_cnt, HOST_BUF);
	cr_expect_eq(stats().credit_updates, 3);
	/* all the budget is back: the guest may send HOST_BUF more */
	F.h.unconsumed[s] = 0;
	for (uint32_t off = 0; off < HOST_BUF; off += 4096)
		tx(G(40000, 1234, OP_RW), pattern + off, 4096, L_PLAIN);
	cr_assert_eq(tx_reap(), HOST_BUF / 4096);
	cr_expect_eq(stats().over_credit, 0);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 1);
}

Test(vsock, recv_failure_and_abort_with_buffered_data)
{
	init_pattern();
	post_rx(8, RX_SLOT);
	uint32_t id = guest_connect(40000, 1234, STREAM);
	F.h.stalled[id & 0xffff] = true;
	tx(G(40000, 1234, OP_RW), pattern, 100, L_PLAIN);
	cr_expect_eq(tx_reap(), 1, "taken into the host's buffer: the chain comes back");
	/* the host gives up with data unconsumed: RST, the id dies */
	cr_assert_eq(vdev_vsock_abort(&F.vs, id), 0);
	rx_expect(OP_RST, 40000, 1234);
	cr_expect_eq(vdev_vsock_consumed(&F.vs, id, 100), VDEV_ENOENT);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 0);
	/* the host's recv fails: the connection is reset */
	id = guest_connect(40001, 1234, STREAM);
	F.h.fail_recv = 1;
	tx(G(40001, 1234, OP_RW), pattern, 100, L_PLAIN);
	cr_expect_eq(tx_reap(), 1);
	rx_expect(OP_RST, 40001, 1234);
	cr_expect_eq(last_ev(), VDEV_VSOCK_EV_RESET);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 0);
	(void)id;
}

/* ---- shutdown and RST ---- */

static void shutdown_paths(bool packed)
{
	redo((struct opts){.packed = packed});
	init_pattern();
	post_rx(16, RX_SLOT);
	uint32_t id = guest_connect(40000, 1234, STREAM);
	/* the guest stops sending: the host hears it; host sends still work */
	struct pkt k = G(40000, 1234, OP_SHUTDOWN);
	k.flags = VDEV_VSOCK_SHUTDOWN_SEND;
	tx(k, NULL, 0, L_PLAIN);
	tx_reap();
	cr_assert_eq(last_ev(), VDEV_VSOCK_EV_SHUTDOWN);
	cr_expect_eq(F.h.ev[F.h.nev - 1].arg, VDEV_VSOCK_SHUTDOWN_SEND);
	struct vdev_iov v = {pattern, 10};
	cr_expect_eq(vdev_vsock_send(&F.vs, id, &v, 1, 10, 0), 10);
	rx_expect(OP_RW, 40000, 1234);
	/* then it stops receiving: clean disconnect, the device answers RST */
	k.flags = VDEV_VSOCK_SHUTDOWN_RCV;
	tx(k, NULL, 0, L_PLAIN);
	tx_reap();
	cr_expect_eq(last_ev(), VDEV_VSOCK_EV_CLOSED);
	rx_expect(OP_RST, 40000, 1234);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 0);
	cr_expect_eq(vdev_vsock_send(&F.vs, id, &v, 1, 10, 0), VDEV_ENOENT);

	/* the host closes: SHUTDOWN both ways, the guest's RST finishes it */
	id = guest_connect(40001, 1234, STREAM);
	cr_assert_eq(vdev_vsock_shutdown(&F.vs, id, VDEV_VSOCK_SHUTDOWN_SEND), 0);
	k = rx_expect(OP_SHUTDOWN, 40001, 1234);
	cr_expect_eq(k.flags, VDEV_VSOCK_SHUTDOWN_SEND);
	cr_expect_eq(vdev_vsock_send(&F.vs, id, &v, 1, 10, 0), VDEV_EPERM);
	cr_assert_eq(vdev_vsock_close(&F.vs, id), 0);
	k = rx_expect(OP_SHUTDOWN, 40001, 1234);
	cr_expect_eq(k.flags, VDEV_VSOCK_SHUTDOWN_SEND | VDEV_VSOCK_SHUTDOWN_RCV);
	/* data after the host stopped receiving is dropped but consumed */
	int recvs = F.h.recvs;
	tx(G(40001, 1234, OP_RW), pattern, 10, L_PLAIN);
	tx_reap();
	cr_expect_eq(F.h.recvs, recvs);
	tx(G(40001, 1234, OP_RST), NULL, 0, L_PLAIN);
	tx_reap();
	cr_expect_eq(last_ev(), VDEV_VSOCK_EV_CLOSED);
	cr_expect_eq(F.h.ev[F.h.nev - 1].conn, id);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 0);
	rx_none();
	cr_expect_eq(vdev_vsock_shutdown(&F.vs, id, 1), VDEV_ENOENT);
}
Test(vsock, shutdown_both_ways_split) { shutdown_paths(false); }
Test(vsock, shutdown_both_ways_packed) { shutdown_paths(true); }

static void close_timeout(bool packed)
{
	/* one slot only: the test shows it is reusable after the forced RST */
	redo((struct opts){.packed = packed, .max_conns = 1, .close_timeout_ms = 100});
	post_rx(8, RX_SLOT);
	uint32_t id = guest_connect(40000, 1234, STREAM);
	vdev_vsock_tick(&F.vs, 1000); /* not closing: nothing to time */
	cr_assert_eq(vdev_vsock_close(&F.vs, id), 0);
	cr_expect_eq(rx_expect(OP_SHUTDOWN, 40000, 1234).flags, 3);
	/* the guest never answers; the clock starts at the first tick after the close */
	int nev = F.h.nev;
	vdev_vsock_tick(&F.vs, 5000);
	vdev_vsock_tick(&F.vs, 5099);
	rx_none();
	cr_expect_eq(F.h.nev, nev);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 1);
	tx(G(40001, 1234, OP_REQUEST), NULL, 0, L_PLAIN); /* the table is still full */
	tx_reap();
	rx_expect(OP_RST, 40001, 1234);
	vdev_vsock_tick(&F.vs, 5100);
	rx_expect(OP_RST, 40000, 1234);
	cr_assert_eq(F.h.nev, nev + 1);
	cr_expect_eq(F.h.ev[nev].ev, VDEV_VSOCK_EV_CLOSED);
	cr_expect_eq(F.h.ev[nev].arg, VDEV_VSOCK_CLOSED_TIMEOUT);
	cr_expect_eq(F.h.ev[nev].conn, id);
	cr_expect_eq(stats().close_timeouts, 1);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 0, "the slot is free");
	cr_expect_eq(vdev_vsock_close(&F.vs, id), VDEV_ENOENT);
	vdev_vsock_tick(&F.vs, 99999);
	rx_none();
	/* the guest's late RST finds no connection and gets no answer */
	tx(G(40000, 1234, OP_RST), NULL, 0, L_PLAIN);
	tx_reap();
	rx_none();
	/* the slot is reusable, by the same port pair too */
	uint32_t id2 = guest_connect(40000, 1234, STREAM);
	cr_expect_neq(id2, id, "a new id");
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 1);

	/* a guest that answers in time: CLOSED with arg 0, no forced RST */
	cr_assert_eq(vdev_vsock_close(&F.vs, id2), 0);
	rx_expect(OP_SHUTDOWN, 40000, 1234);
	vdev_vsock_tick(&F.vs, 100000);
	tx(G(40000, 1234, OP_RST), NULL, 0, L_PLAIN);
	tx_reap();
	cr_expect_eq(last_ev(), VDEV_VSOCK_EV_CLOSED);
	cr_expect_eq(F.h.ev[F.h.nev - 1].arg, 0);
	vdev_vsock_tick(&F.vs, 200000);
	rx_none();
	cr_expect_eq(stats().close_timeouts, 1);

	/* timed out with no rx buffer for the RST: the slot waits for one */
	uint32_t id3;
	cr_assert_eq(vdev_vsock_connect(&F.vs, 70000, 22, STREAM, &id3), 0);
	rx_expect(OP_REQUEST, 22, 70000);
	tx(G(22, 70000, OP_RESPONSE), NULL, 0, L_PLAIN);
	tx_reap();
	cr_assert_eq(last_ev(), VDEV_VSOCK_EV_CONNECTED);
	cr_assert_eq(vdev_vsock_close(&F.vs, id3), 0);
	rx_expect(OP_SHUTDOWN, 22, 70000);
	/* the guest stops posting rx buffers */
	unsigned left = drv_outstanding(&F.q[0]);
	for (unsigned i = 0; i < left; i++) {
		/* use up the posted rx buffers with CREDIT_REQUEST answers */
		tx(G(22, 70000, OP_CREDIT_REQUEST), NULL, 0, L_PLAIN);
		tx_reap();
		rx_expect(OP_CREDIT_UPDATE, 22, 70000);
	}
	cr_assert_eq(drv_outstanding(&F.q[0]), 0);
	vdev_vsock_tick(&F.vs, 300000);
	vdev_vsock_tick(&F.vs, 300100);
	cr_expect_eq(last_ev(), VDEV_VSOCK_EV_CLOSED);
	cr_expect_eq(F.h.ev[F.h.nev - 1].arg, VDEV_VSOCK_CLOSED_TIMEOUT);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 1, "the RST is still owed");
	post_rx(1, RX_SLOT);
	rx_expect(OP_RST, 22, 70000);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 0);
	cr_expect_eq(stats().close_timeouts, 2);
}
Test(vsock, close_timeout_forces_rst_and_frees_slot_split) { close_timeout(false); }
Test(vsock, close_timeout_forces_rst_and_frees_slot_packed) { close_timeout(true); }

Test(vsock, close_timeout_default_and_half_close)
{
	post_rx(8, RX_SLOT);
	uint32_t id = guest_connect(40000, 1234, STREAM);
	/* only one direction shut down: not a close, never timed out */
	cr_assert_eq(vdev_vsock_shutdown(&F.vs, id, VDEV_VSOCK_SHUTDOWN_SEND), 0);
	rx_expect(OP_SHUTDOWN, 40000, 1234);
	vdev_vsock_tick(&F.vs, 0);
	vdev_vsock_tick(&F.vs, UINT64_MAX);
	rx_none();
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 1);
	/* the default timeout, and a clock near its end does not wrap */
	cr_assert_eq(vdev_vsock_close(&F.vs, id), 0);
	rx_expect(OP_SHUTDOWN, 40000, 1234);
	vdev_vsock_tick(&F.vs, 1000);
	vdev_vsock_tick(&F.vs, 1000 + VDEV_VSOCK_CLOSE_TIMEOUT_MS - 1);
	rx_none();
	vdev_vsock_tick(&F.vs, 1000 + VDEV_VSOCK_CLOSE_TIMEOUT_MS);
	rx_expect(OP_RST, 40000, 1234);
	id = guest_connect(40001, 1234, STREAM);
	cr_assert_eq(vdev_vsock_close(&F.vs, id), 0);
	rx_expect(OP_SHUTDOWN, 40001, 1234);
	vdev_vsock_tick(&F.vs, UINT64_MAX - 10);
	vdev_vsock_tick(&F.vs, UINT64_MAX - 1);
	rx_none();
	vdev_vsock_tick(&F.vs, UINT64_MAX);
	rx_expect(OP_RST, 40001, 1234);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 0);
}

Test(vsock, guest_data_after_its_send_shutdown_resets)
{
	init_pattern();
	post_rx(8, RX_SLOT);
	guest_connect(40000, 1234, STREAM);
	struct pkt k = G(40000, 1234, OP_SHUTDOWN);
	k.flags = VDEV_VSOCK_SHUTDOWN_SEND;
	tx(k, NULL, 0, L_PLAIN);
	tx(G(40000, 1234, OP_RW), pattern, 10, L_PLAIN);
	tx_reap();
	rx_expect(OP_RST, 40000, 1234);
	cr_expect_eq(last_ev(), VDEV_VSOCK_EV_RESET);
}

Test(vsock, rst_both_ways)
{
	post_rx(8, RX_SLOT);
	uint32_t id = guest_connect(40000, 1234, STREAM);
	tx(G(40000, 1234, OP_RST), NULL, 0, L_PLAIN);
	tx_reap();
	cr_expect_eq(last_ev(), VDEV_VSOCK_EV_RESET);
	cr_expect_eq(F.h.ev[F.h.nev - 1].conn, id);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 0);
	rx_none(); /* never answer RST with RST */
	/* RST for a connection that does not exist: ignored */
	tx(G(40009, 1234, OP_RST), NULL, 0, L_PLAIN);
	tx_reap();
	rx_none();
	/* the host aborts */
	id = guest_connect(40001, 1234, STREAM);
	int nev = F.h.nev;
	cr_assert_eq(vdev_vsock_abort(&F.vs, id), 0);
	rx_expect(OP_RST, 40001, 1234);
	cr_expect_eq(F.h.nev, nev, "no event for the host's own abort");
	cr_expect_eq(vdev_vsock_abort(&F.vs, id), VDEV_ENOENT);
	/* packets for unknown connections get RST */
	tx(G(40002, 1234, OP_RW), "abc", 3, L_PLAIN);
	tx(G(40003, 1234, OP_SHUTDOWN), NULL, 0, L_PLAIN);
	tx(G(40004, 1234, OP_CREDIT_REQUEST), NULL, 0, L_PLAIN);
	tx_reap();
	rx_expect(OP_RST, 40002, 1234);
	rx_expect(OP_RST, 40003, 1234);
	rx_expect(OP_RST, 40004, 1234);
	cr_expect_eq(F.h.recvs, 0);
}

/* ---- seqpacket ---- */

static void seqpacket(bool packed)
{
	redo((struct opts){.packed = packed});
	init_pattern();
	post_rx(1, RX_SLOT);
	uint32_t id = guest_connect(40000, 1234, SEQ);
	/* a message in two packets, then an empty message with EOR */
	struct pkt k = G(40000, 1234, OP_RW);
	k.type = SEQ;
	tx(k, pattern, 100, L_PLAIN);
	k.flags = VDEV_VSOCK_SEQ_EOM;
	tx(k, pattern + 100, 50, L_SPLIT_HDR);
	k.flags = VDEV_VSOCK_SEQ_EOM | VDEV_VSOCK_SEQ_EOR | 0x80; /* unknown bit dropped */
	tx(k, NULL, 0, L_PLAIN);
	tx_reap();
	cr_assert_eq(F.h.nflags, 3);
	cr_expect_eq(F.h.flags_log[0], 0);
	cr_expect_eq(F.h.flags_log[1], VDEV_VSOCK_SEQ_EOM);
	cr_expect_eq(F.h.flags_log[2], VDEV_VSOCK_SEQ_EOM | VDEV_VSOCK_SEQ_EOR);
	cr_expect_eq(F.h.msg_len[2], 0);
	cr_assert_arr_eq(F.h.data[id & 0xffff], pattern, 150);

	/* host -> guest: a message larger than one rx buffer; EOM on the last */
	struct vdev_iov v = {pattern, 6000};
	post_rx(2, RX_SLOT);
	cr_assert_eq(vdev_vsock_send(&F.vs, id, &v, 1, 6000, VDEV_VSOCK_SEQ_EOM | VDEV_VSOCK_SEQ_EOR),
		     6000);
	struct pkt a = rx_expect(OP_RW, 40000, 1234), b = rx_expect(OP_RW, 40000, 1234);
	cr_expect_eq(a.type, SEQ);
	cr_expect_eq(a.flags, 0);
	cr_expect_eq(b.flags, VDEV_VSOCK_SEQ_EOM | VDEV_VSOCK_SEQ_EOR);
	cr_expect_eq(a.len + b.len, 6000);
	/* partial send: the boundary waits for the rest */
	post_rx(1, 1044);
	cr_assert_eq(vdev_vsock_send(&F.vs, id, &v, 1, 3000, VDEV_VSOCK_SEQ_EOM), 1000);
	k = rx_expect(OP_RW, 40000, 1234);
	cr_expect_eq(k.flags, 0);
	post_rx(2, RX_SLOT);
	cr_assert_eq(vdev_vsock_send(&F.vs, id, &v, 1, 2000, VDEV_VSOCK_SEQ_EOM), 2000);
	cr_assert_eq(drv_outstanding(&F.q[0]), 2); /* one used, one left */
	k = rx_expect(OP_RW, 40000, 1234);
	cr_expect_eq(k.flags, VDEV_VSOCK_SEQ_EOM);
	/* an empty message */
	cr_assert_eq(vdev_vsock_send(&F.vs, id, NULL, 0, 0, VDEV_VSOCK_SEQ_EOM), 0);
	k = rx_expect(OP_RW, 40000, 1234);
	cr_expect_eq(k.len, 0);
	cr_expect_eq(k.flags, VDEV_VSOCK_SEQ_EOM);
	/* a stream connection ignores boundaries */
	post_rx(2, RX_SLOT);
	uint32_t s = guest_connect(40001, 1234, STREAM);
	cr_assert_eq(vdev_vsock_send(&F.vs, s, &v, 1, 10, VDEV_VSOCK_SEQ_EOM), 10);
	cr_expect_eq(rx_expect(OP_RW, 40001, 1234).flags, 0);
	cr_expect_eq(vdev_vsock_send(&F.vs, s, &v, 1, 10, 0x4), VDEV_EINVAL);
}
Test(vsock, seqpacket_boundaries_split) { seqpacket(false); }
Test(vsock, seqpacket_boundaries_packed) { seqpacket(true); }

Test(vsock, seqpacket_not_negotiated_is_rst)
{
	redo((struct opts){.no_seqpacket = true});
	post_rx(4, RX_SLOT);
	struct pkt k = G(40000, 1234, OP_REQUEST);
	k.type = SEQ;
	tx(k, NULL, 0, L_PLAIN);
	tx_reap();
	cr_expect_eq(rx_expect(OP_RST, 40000, 1234).type, SEQ);
	cr_expect_eq(F.h.accepts, 0);
	uint32_t id;
	cr_expect_eq(vdev_vsock_connect(&F.vs, 1, 2, SEQ, &id), VDEV_ENOTSUP);
}

/* ---- many connections, a full table ---- */

static void many(bool packed)
{
	redo((struct opts){.packed = packed});
	init_pattern();
	post_rx(32, RX_SLOT);
	uint32_t ids[MAXC];
	for (unsigned i = 0; i < MAXC; i++)
		ids[i] = guest_connect(41000 + i, i & 1 ? 1234 : 5000, STREAM);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), MAXC);
	/* the table is full: one more is refused with RST */
	tx(G(42000, 1234, OP_REQUEST), NULL, 0, L_PLAIN);
	tx_reap();
	rx_expect(OP_RST, 42000, 1234);
	uint32_t hid;
	cr_expect_eq(vdev_vsock_connect(&F.vs, 9, 9, STREAM, &hid), VDEV_ENOMEM);
	/* interleaved data on all of them, each lands on its own connection */
	for (unsigned round = 0; round < 3; round++)
		for (unsigned i = 0; i < MAXC; i++)
			tx(G(41000 + i, i & 1 ? 1234 : 5000, OP_RW), pattern + i * 1000 + round * 100,
			   100, (enum layout)(round % 5));
	cr_expect_eq(tx_reap(), 3 * MAXC);
	for (unsigned i = 0; i < MAXC; i++) {
		unsigned slot = ids[i] & 0xffff;
		cr_assert_eq(F.h.len[slot], 300);
		cr_assert_arr_eq(F.h.data[slot], pattern + i * 1000, 300);
	}
	/* host sends on all, reverse order */
	for (unsigned i = MAXC; i-- > 0;) {
		struct vdev_iov v = {pattern + i, 10};
		cr_assert_eq(vdev_vsock_send(&F.vs, ids[i], &v, 1, 10, 0), 10);
	}
	for (unsigned i = MAXC; i-- > 0;) {
		struct pkt r = rx_expect(OP_RW, 41000 + i, i & 1 ? 1234 : 5000);
		cr_assert_arr_eq(r.data, pattern + i, 10);
	}
	/* one closes; a new one fits */
	tx(G(41003, 1234, OP_RST), NULL, 0, L_PLAIN);
	tx_reap();
	guest_connect(42000, 1234, STREAM);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), MAXC);
}
Test(vsock, many_connections_and_full_table_split) { many(false); }
Test(vsock, many_connections_and_full_table_packed) { many(true); }

Test(vsock, request_flood_without_rx_buffers_stalls_then_drains)
{
	/* No rx buffers: refusals queue up to VDEV_VSOCK_RST_QUEUE, then tx
	 * stops (no busy loop) until the guest posts rx buffers. */
	unsigned n = VDEV_VSOCK_RST_QUEUE + 10;
	for (unsigned i = 0; i < n; i++)
		tx(G(50000 + i, 999, OP_REQUEST), NULL, 0, L_PLAIN);
	cr_expect_eq(tx_reap(), VDEV_VSOCK_RST_QUEUE);
	cr_expect_eq(F.h.accepts, 0);
	/* a kick while stalled does no work */
	F.tr.ops->notify(F.tr.t, 1, false, 0);
	cr_expect_eq(tx_reap(), 0);
	post_rx(QSIZE, 256);
	cr_expect_eq(tx_reap(), 10);
	for (unsigned i = 0; i < n; i++)
		rx_expect(OP_RST, 50000 + i, 999);
	rx_none();
	/* a flood of accepted requests fills the table, the rest get RST */
	for (unsigned i = 0; i < MAXC + 4; i++)
		tx(G(51000 + i, 1234, OP_REQUEST), NULL, 0, L_PLAIN);
	cr_expect_eq(tx_reap(), MAXC + 4);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), MAXC);
	for (unsigned i = 0; i < MAXC + 4; i++)
		rx_expect(i < MAXC ? OP_RESPONSE : OP_RST, 51000 + i, 1234);
}

/*
 * A tx chain the device gave back when it stalled (no rx buffer for the
 * replies) is the guest's again, not the device's: a reset meanwhile
 * leaves it without a used element, and a device brought up again never
 * completes it either.
 */
static void stalled_chain_across_reset(bool packed)
{
	redo((struct opts){.packed = packed});
	unsigned n = VDEV_VSOCK_RST_QUEUE + 1;
	for (unsigned i = 0; i < n; i++)
		tx(G(50000 + i, 999, OP_REQUEST), NULL, 0, L_PLAIN);
	cr_expect_eq(tx_reap(), VDEV_VSOCK_RST_QUEUE, "the last one stalled");
	struct vdev_vsock_stats before = stats();
	F.tr.ops->set_status(F.tr.t, 0);
	cr_expect_eq(F.tr.ops->get_status(F.tr.t), 0);
	cr_expect_eq(tx_reap(), 0, "no used element for the chain given back");
	/* nothing of the old ring is served after the reset */
	F.tr.ops->notify(F.tr.t, 1, false, 0);
	cr_expect_eq(tx_reap(), 0);
	cr_expect_eq(stats().rst_sent, before.rst_sent);
	bring_up();
	post_rx(4, RX_SLOT);
	F.tr.ops->notify(F.tr.t, 1, false, 0);
	rx_none();
	tx(G(50000, 999, OP_REQUEST), NULL, 0, L_PLAIN);
	cr_expect_eq(tx_reap(), 1);
	rx_expect(OP_RST, 50000, 999);
	rx_none();
}
Test(vsock, stalled_tx_chain_is_not_completed_across_reset_split) { stalled_chain_across_reset(false); }
Test(vsock, stalled_tx_chain_is_not_completed_across_reset_packed) { stalled_chain_across_reset(true); }

/* ---- reset, TRANSPORT_RESET, guest_cid change ---- */

static void reset_with_open(bool packed)
{
	redo((struct opts){.packed = packed});
	init_pattern();
	post_rx(8, RX_SLOT);
	uint32_t a = guest_connect(40000, 1234, STREAM);
	uint32_t b;
	cr_assert_eq(vdev_vsock_connect(&F.vs, 70000, 22, STREAM, &b), 0);
	rx_expect(OP_REQUEST, 22, 70000);
	/* the driver resets the device with both open */
	F.tr.ops->set_status(F.tr.t, 0);
	cr_assert_eq(F.h.nev, 2);
	cr_expect_eq(F.h.ev[0].ev, VDEV_VSOCK_EV_RESET);
	cr_expect_eq(F.h.ev[1].ev, VDEV_VSOCK_EV_RESET);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 0);
	cr_expect_eq(vdev_vsock_send(&F.vs, a, NULL, 0, 0, 0), VDEV_ENOENT);
	/* it comes back and posts an event buffer: TRANSPORT_RESET */
	sim_mem_reset_alloc(&F.m);
	bring_up();
	F.tx_arena = sim_alloc(&F.m, (size_t)NSLOT * TX_SLOT, 4096);
	F.rx_arena = sim_alloc(&F.m, (size_t)NSLOT * RX_SLOT, 4096);
	F.ev_arena = sim_alloc(&F.m, 8 * 64, 64);
	uint8_t *e = sim_ptr(&F.m, F.ev_arena);
	memset(e, 0xaa, 8);
	post_events(2);
	uint32_t l;
	cr_assert_eq(drv_get_used(&F.q[2], &l), &ev_tok[0]);
	cr_expect_eq(l, 4);
	cr_expect_eq((uint32_t)e[0] | (uint32_t)e[1] << 8 | (uint32_t)e[2] << 16 | (uint32_t)e[3] << 24, 0u,
		     "VIRTIO_VSOCK_EVENT_TRANSPORT_RESET");
	cr_expect_null(drv_get_used(&F.q[2], &l), "one event only");
	cr_expect_eq(stats().events, 1);
	/* and the device works again */
	post_rx(4, RX_SLOT);
	guest_connect(40000, 1234, STREAM);
}
Test(vsock, reset_with_connections_open_split) { reset_with_open(false); }
Test(vsock, reset_with_connections_open_packed) { reset_with_open(true); }

Test(vsock, reset_without_connections_sends_no_event)
{
	F.tr.ops->set_status(F.tr.t, 0);
	bring_up();
	post_events(1);
	uint32_t l;
	cr_expect_null(drv_get_used(&F.q[2], &l));
}

Test(vsock, guest_cid_change_resets_connections)
{
	post_events(2);
	post_rx(4, RX_SLOT);
	guest_connect(40000, 1234, STREAM);
	(void)F.tr.ops->take_interrupts(F.tr.t);
	cr_expect_eq(vdev_vsock_set_guest_cid(&F.vs, 2), VDEV_EINVAL);
	cr_assert_eq(vdev_vsock_set_guest_cid(&F.vs, 77), 0);
	cr_expect(F.tr.ops->take_interrupts(F.tr.t) & DRV_INT_CONFIG);
	uint8_t c[8];
	uint64_t cid;
	cr_assert_eq(drv_virtio_config_read(&F.tr, 0, c, 8), 0);
	cid = sim_get_le64(c);
	cr_expect_eq(cid, 77);
	cr_expect_eq(last_ev(), VDEV_VSOCK_EV_RESET);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 0);
	uint32_t l;
	cr_expect_eq(drv_get_used(&F.q[2], &l), &ev_tok[0]);
	cr_expect_eq(l, 4);
	/* the old CID is now a spoofed source */
	tx(G(40000, 1234, OP_REQUEST), NULL, 0, L_PLAIN);
	tx_reap();
	rx_none();
	struct pkt k = G(40000, 1234, OP_REQUEST);
	k.src_cid = 77;
	tx(k, NULL, 0, L_PLAIN);
	tx_reap();
	struct pkt r;
	cr_assert(drv_get_used(&F.q[0], &l) != NULL);
	(void)r;
}

Test(vsock, bad_event_buffers_are_returned_empty)
{
	post_rx(4, RX_SLOT);
	guest_connect(40000, 1234, STREAM);
	struct drv_buf b = {F.ev_arena, 2, true}; /* too small */
	cr_assert_eq(drv_add(&F.q[2], &b, 1, false, &ev_tok[0]), 0);
	b = (struct drv_buf){F.ev_arena + 64, 8, false}; /* readable */
	cr_assert_eq(drv_add(&F.q[2], &b, 1, false, &ev_tok[1]), 0);
	kick(2);
	vdev_vsock_transport_reset(&F.vs);
	uint32_t l;
	cr_expect_eq(drv_get_used(&F.q[2], &l), &ev_tok[0]);
	cr_expect_eq(l, 0);
	cr_expect_eq(drv_get_used(&F.q[2], &l), &ev_tok[1]);
	cr_expect_eq(l, 0);
	post_events(1);
	cr_expect_eq(drv_get_used(&F.q[2], &l), &ev_tok[0]);
	cr_expect_eq(l, 4);
	cr_expect_eq(F.q[2].errors, 0);
}

/* ---- malformed guest packets ---- */

static void send_bad(struct pkt k, uint32_t paylen, const char *what)
{
	int recvs = F.h.recvs;
	tx_raw(&k, pattern, paylen, L_PLAIN);
	kick(1);
	cr_expect_eq(tx_reap(), 1, "%s: used entry", what);
	cr_expect_eq(F.h.recvs, recvs, "%s reached the host", what);
}
#define expect_dropped(k, paylen, before, counter, what)                                  \
	do {                                                                              \
		send_bad(k, paylen, what);                                                \
		cr_expect_eq(stats().counter, *(before) + 1, "%s not counted", what);     \
		*(before) = stats().counter;                                              \
	} while (0)

Test(vsock, malformed_packets)
{
	init_pattern();
	post_rx(16, RX_SLOT);
	uint32_t id = guest_connect(40000, 1234, STREAM);
	uint64_t addr = 0, len = 0;
	struct pkt k = G(40000, 1234, OP_RW);
	k.len = 10;
	k.src_cid = 4;
	expect_dropped(k, 10, &addr, bad_addr, "spoofed src_cid");
	k.src_cid = GUEST_CID | 1ull << 32;
	expect_dropped(k, 10, &addr, bad_addr, "src_cid upper bits");
	k.src_cid = GUEST_CID, k.dst_cid = 5;
	expect_dropped(k, 10, &addr, bad_addr, "dst_cid not the host");
	k.dst_cid = 2 | 1ull << 40;
	expect_dropped(k, 10, &addr, bad_addr, "dst_cid upper bits");
	rx_none();
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 1);
	/* hdr.len beyond the payload: dropped, the connection reset */
	k = G(40000, 1234, OP_RW);
	k.len = 11;
	expect_dropped(k, 10, &len, bad_len, "len beyond payload");
	rx_expect(OP_RST, 40000, 1234);
	cr_expect_eq(last_ev(), VDEV_VSOCK_EV_RESET);
	k.len = 0xffffffffu;
	expect_dropped(k, 10, &len, bad_len, "len 2^32-1");
	(void)id;

	/* short, split and writable chains */
	struct drv_buf b[3] = {{F.tx_arena, 43, false}};
	cr_assert_eq(drv_add(&F.q[1], b, 1, false, &tx_tok[0]), 0);
	b[0] = (struct drv_buf){F.tx_arena, 20, false};
	b[1] = (struct drv_buf){F.tx_arena + 20, 20, false};
	cr_assert_eq(drv_add(&F.q[1], b, 2, false, &tx_tok[1]), 0);
	b[0] = (struct drv_buf){F.tx_arena, 44, false};
	b[1] = (struct drv_buf){F.tx_arena + 100, 44, true};
	cr_assert_eq(drv_add(&F.q[1], b, 2, false, &tx_tok[2]), 0);
	b[0] = (struct drv_buf){SIM_HOLE_GPA, 100, false};
	cr_assert_eq(drv_add(&F.q[1], b, 1, false, &tx_tok[3]), 0);
	kick(1);
	cr_expect_eq(tx_reap(), 4);
	cr_expect_eq(stats().bad_chain, 4);
	rx_none();
}

Test(vsock, unknown_type_and_op_get_rst)
{
	post_rx(16, RX_SLOT);
	/* unknown type, no connection */
	struct pkt k = G(40000, 1234, OP_REQUEST);
	k.type = 9;
	tx(k, NULL, 0, L_PLAIN);
	tx_reap();
	cr_expect_eq(rx_expect(OP_RST, 40000, 1234).type, 9);
	cr_expect_eq(F.h.accepts, 0);
	/* unknown op, no connection */
	tx(G(40000, 1234, 99), NULL, 0, L_PLAIN);
	tx(G(40000, 1234, OP_INVALID), NULL, 0, L_PLAIN);
	tx_reap();
	rx_expect(OP_RST, 40000, 1234);
	rx_expect(OP_RST, 40000, 1234);
	/* on a connection: unknown op, unknown type, stray RESPONSE / REQUEST */
	static const uint16_t ops[] = {99, OP_INVALID, OP_RESPONSE, OP_REQUEST};
	for (unsigned i = 0; i < 5; i++) {
		guest_connect(40001, 1234, STREAM);
		k = G(40001, 1234, i < 4 ? ops[i] : OP_RW);
		if (i == 4)
			k.type = 9;
		tx(k, NULL, 0, L_PLAIN);
		tx_reap();
		rx_expect(OP_RST, 40001, 1234);
		cr_expect_eq(last_ev(), VDEV_VSOCK_EV_RESET, "case %u", i);
		cr_expect_eq(vdev_vsock_num_conns(&F.vs), 0);
	}
	/* a connecting host connection that gets something other than RESPONSE */
	uint32_t id;
	cr_assert_eq(vdev_vsock_connect(&F.vs, 70000, 22, STREAM, &id), 0);
	rx_expect(OP_REQUEST, 22, 70000);
	tx(G(22, 70000, OP_RW), NULL, 0, L_PLAIN);
	tx_reap();
	rx_expect(OP_RST, 22, 70000);
	cr_expect_eq(last_ev(), VDEV_VSOCK_EV_REFUSED);
}

Test(vsock, unusable_rx_buffers_are_returned_empty)
{
	struct drv_buf b = {F.rx_arena, 20, true}; /* shorter than a header */
	cr_assert_eq(drv_add(&F.q[0], &b, 1, false, &rx_tok[0]), 0);
	b = (struct drv_buf){F.rx_arena + RX_SLOT, 100, false}; /* readable */
	cr_assert_eq(drv_add(&F.q[0], &b, 1, false, &rx_tok[1]), 0);
	rx_next = 2;
	post_rx(1, RX_SLOT);
	tx(G(40000, 1234, OP_REQUEST), NULL, 0, L_PLAIN);
	tx_reap();
	struct pkt r;
	cr_assert(rx_get(&r));
	cr_expect_eq(r.used_len, 0);
	cr_assert(rx_get(&r));
	cr_expect_eq(r.used_len, 0);
	rx_expect(OP_RESPONSE, 40000, 1234);
	cr_expect_eq(stats().rx_bad_buffer, 2);
}

Test(vsock, queue_reset_keeps_connections)
{
	if (!(F.neg & F(RING_RESET)))
		return;
	init_pattern();
	post_rx(8, RX_SLOT);
	guest_connect(40000, 1234, STREAM);
	F.h.stalled[F.h.last_conn & 0xffff] = true;
	tx(G(40000, 1234, OP_RW), pattern, 100, L_PLAIN);
	cr_expect_eq(tx_reap(), 1);
	int nev = F.h.nev;
	cr_assert(F.tr.ops->reset_queue(F.tr.t, 1));
	cr_expect_eq(F.h.nev, nev, "no chain was in flight: nothing to reset");
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 1);
	rx_none();
}

/* ---- the host calls back into the device from its ops ---- */

Test(vsock, host_sends_from_accept_and_aborts_from_recv)
{
	init_pattern();
	post_rx(8, RX_SLOT);
	F.h.send_on_accept = true;
	tx(G(40000, 1234, OP_REQUEST), NULL, 0, L_PLAIN);
	cr_assert_eq(tx_reap(), 1);
	rx_expect(OP_RESPONSE, 40000, 1234);
	struct pkt r = rx_expect(OP_RW, 40000, 1234);
	cr_assert_eq(r.len, 5);
	cr_assert_arr_eq(r.data, "hello", 5);
	F.h.abort_in_recv = true;
	tx(G(40000, 1234, OP_RW), pattern, 10, L_PLAIN);
	cr_expect_eq(tx_reap(), 1);
	rx_expect(OP_RST, 40000, 1234);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 0);
}

Test(vsock, process_polls_without_notifications)
{
	post_rx(4, RX_SLOT);
	struct pkt k = G(40000, 1234, OP_REQUEST);
	k.len = 0;
	tx_raw(&k, NULL, 0, L_PLAIN); /* no kick */
	cr_expect_eq(tx_reap(), 0);
	cr_assert_eq(vdev_vsock_process(&F.vs), 0);
	cr_expect_eq(tx_reap(), 1);
	rx_expect(OP_RESPONSE, 40000, 1234);
	F.tr.ops->set_status(F.tr.t, 0);
	cr_expect_eq(vdev_vsock_process(&F.vs), VDEV_EPERM);
}

Test(vsock, wrong_type_on_connection_resets_it)
{
	post_rx(8, RX_SLOT);
	guest_connect(40000, 1234, STREAM);
	struct pkt k = G(40000, 1234, OP_RW);
	k.type = SEQ;
	tx(k, "ab", 2, L_PLAIN);
	tx_reap();
	rx_expect(OP_RST, 40000, 1234);
	cr_expect_eq(last_ev(), VDEV_VSOCK_EV_RESET);
	cr_expect_eq(F.h.recvs, 0);
}

Test(vsock, shutdown_arguments_and_connecting_state)
{
	post_rx(8, RX_SLOT);
	uint32_t id = guest_connect(40000, 1234, STREAM);
	cr_expect_eq(vdev_vsock_shutdown(&F.vs, id, 0), VDEV_EINVAL);
	cr_expect_eq(vdev_vsock_shutdown(&F.vs, id, 4), VDEV_EINVAL);
	cr_expect_eq(vdev_vsock_shutdown(&F.vs, id, VDEV_VSOCK_SHUTDOWN_RCV), 0);
	cr_expect_eq(rx_expect(OP_SHUTDOWN, 40000, 1234).flags, VDEV_VSOCK_SHUTDOWN_RCV);
	cr_expect_eq(vdev_vsock_shutdown(&F.vs, id, VDEV_VSOCK_SHUTDOWN_RCV), 0);
	rx_none(); /* nothing new to say */
	/* shutting down a connection still being set up aborts it */
	uint32_t h;
	cr_assert_eq(vdev_vsock_connect(&F.vs, 70000, 22, STREAM, &h), 0);
	rx_expect(OP_REQUEST, 22, 70000);
	cr_expect_eq(vdev_vsock_close(&F.vs, h), 0);
	rx_expect(OP_RST, 22, 70000);
	cr_expect_eq(vdev_vsock_num_conns(&F.vs), 1);
}

/*
 * An rx buffer that lies on where the tx queue looks for new work (its
 * avail ring; packed: its descriptor ring). Every reply written there
 * could make one more tx packet available, each answered again, and one
 * packet would keep vdev_vsock_process() going for ever. The rx chain is
 * rejected (completed with 0 bytes, nothing written on tx's ring); the
 * reply waits for a good buffer.
 */
static void rx_buffer_on_the_tx_ring(bool packed)
{
	struct vdev_vq_stats qs;
	struct pkt k;

	redo((struct opts){.packed = packed});
	const uint64_t at = packed ? F.q[1].desc_gpa + 16 : F.q[1].driver_gpa;
	struct drv_buf b = {at, RX_SLOT, true};
	cr_assert_eq(drv_add(&F.q[0], &b, 1, false, &rx_tok[0]), 0);
	kick(0);
	tx(G(40001, 999, OP_REQUEST), NULL, 0, L_PLAIN);
	cr_assert_eq(tx_reap(), 1);
	cr_assert(rx_get(&k));
	cr_expect_eq(k.used_len, 0, "the buffer on tx's ring was not written");
	vdev_vq_get_stats(&F.queues[0], &qs);
	cr_expect_eq(qs.rejected, 1);
	rx_next = 1;
	post_rx(1, RX_SLOT);
	rx_expect(OP_RST, 40001, 999);
	cr_expect_eq(stats().refused, 1);
}
Test(vsock, rx_buffer_on_the_tx_ring_is_rejected_split) { rx_buffer_on_the_tx_ring(false); }
Test(vsock, rx_buffer_on_the_tx_ring_is_rejected_packed) { rx_buffer_on_the_tx_ring(true); }
