/* SPDX-License-Identifier: MIT */
/*
 * virtio-net device model, driven through the virtio-mmio transport by the
 * driver simulator, with a recording packet backend and a host policy.
 * Transmit, receive (mergeable and big buffers), backpressure both ways,
 * the receive filter, every control command, and the malformed cases.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "drv_mmio.h"
#include "drvsim.h"
#include "vdev/mmio.h"
#include "vdev/net.h"

#define F(b) VDEV_BIT(VDEV_F_##b)
#define N(b) VDEV_BIT(VDEV_NET_F_##b)

#define PAIRS 2
#define NQ (2 * PAIRS + 1)
#define RX_BUFS 16     /* rx_bufs unless a test asks for more */
#define RX_BUFS_MAX 40 /* storage */
#define IOVS 20
#define SLOT 4096u /* guest memory per token */
#define NTOK 256

/* ---- the backend: records frames, answers policy ---- */
struct rec {
	int transmitted, eagain_left, rx_ready[PAIRS];
	int block_at;   /* with block: push back once `transmitted` reaches it */
	bool block;
	uint8_t order[256]; /* first payload byte of each frame, in send order */
	uint16_t pair;
	struct vdev_net_hdr hdr;
	uint8_t frame[70000];
	size_t len;
	bool allow_mac, allow_promisc;
	uint64_t offloads;
	int offload_calls;
	int flushes, flushed_at[8]; /* transmit_flush calls; `transmitted` at each */
	uint16_t flush_pair;
};

static int rec_transmit(void *o, uint16_t pair, const struct vdev_net_hdr *h,
			const struct vdev_iov *iov, unsigned n, size_t len)
{
	struct rec *r = o;
	if (r->eagain_left > 0) {
		r->eagain_left--;
		return VDEV_EAGAIN;
	}
	if (r->block && r->transmitted == r->block_at)
		return VDEV_EAGAIN;
	r->pair = pair;
	r->hdr = *h;
	cr_assert_leq(len, sizeof(r->frame));
	cr_assert_eq(vdev_iov_to_buf(iov, n, 0, r->frame, len), len);
	cr_assert_eq(vdev_iov_length(iov, n), len);
	r->len = len;
	cr_assert_lt(r->transmitted, 256);
	r->order[r->transmitted++] = r->frame[14];
	return 0;
}
static void rec_rx_ready(void *o, uint16_t pair) { ((struct rec *)o)->rx_ready[pair]++; }
static bool rec_allow_mac(void *o, const uint8_t mac[6])
{
	(void)mac;
	return ((struct rec *)o)->allow_mac;
}
static bool rec_allow_promisc(void *o) { return ((struct rec *)o)->allow_promisc; }
static void rec_offloads(void *o, uint64_t f)
{
	((struct rec *)o)->offloads = f;
	((struct rec *)o)->offload_calls++;
}
static void rec_flush(void *o, uint16_t pair)
{
	struct rec *r = o;
	if (r->flushes < 8)
		r->flushed_at[r->flushes] = r->transmitted;
	r->flushes++;
	r->flush_pair = pair;
}
static const struct vdev_net_backend_ops rec_ops = {
	.size = sizeof(struct vdev_net_backend_ops),
	.transmit = rec_transmit,
	.rx_ready = rec_rx_ready,
	.allow_mac_change = rec_allow_mac,
	.allow_promisc = rec_allow_promisc,
	.set_guest_offloads = rec_offloads,
	.transmit_flush = rec_flush,
};

static const uint8_t HOST_MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t OTHER_MAC[6] = {0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc};
static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t MCAST[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
static const uint8_t MCAST2[6] = {0x33, 0x33, 0x00, 0x00, 0x00, 0x01};

static struct {
	struct sim_mem m;
	struct rec rec;
	struct vdev_net net;
	struct vdev_vq queues[NQ];
	uint64_t queue_held[NQ * VDEV_VQ_HELD_WORDS(64)];
	struct vdev_vq_elem elems[PAIRS * RX_BUFS_MAX];
	struct vdev_iov iovs[(PAIRS * (RX_BUFS_MAX + 1) + 1) * IOVS];
	struct vdev_iov tx_iovs[PAIRS * VDEV_NET_TX_BATCH_MAX * IOVS];
	struct vdev_vq_elem tx_elems[PAIRS * VDEV_NET_TX_BATCH_MAX];
	struct vdev_mmio mmio;
	struct drv_mmio dm;
	struct drv_transport tr;
	struct drv_vq q[NQ];
	uint64_t neg;
	uint64_t arena;
	uint16_t ctrl; /* control queue index */
	uint8_t frame[70000];
} F;
static int tok[NTOK];

struct opts {
	bool packed;
	uint64_t drop;      /* features the driver declines */
	uint64_t offloads;  /* backend offloads; default all */
	bool no_offloads;
	uint16_t mtu;       /* default 1500 */
	bool unbatched;     /* no tx_iovs: one transmit chain at a time */
	unsigned tx_batch;  /* with tx_iovs; 0: the default */
	bool tx_elems;      /* with tx_iovs: the batch in the caller's elements (else
			     * VDEV_NET_TX_STACK_BATCH at a time on the stack) */
	unsigned rx_bufs;   /* 0: RX_BUFS; at most RX_BUFS_MAX */
	bool frontend;      /* negotiated by a vhost-user-like front-end */
	const struct vdev_net_backend_ops *ops; /* NULL: rec_ops */
};

static void setup_with(struct opts o)
{
	memset(&F.rec, 0, sizeof(F.rec));
	F.rec.allow_mac = F.rec.allow_promisc = true;
	sim_mem_init(&F.m, 4u << 20, false);
	struct vdev_net_config c = {
		.mtu = o.mtu ? o.mtu : 1500,
		.max_pairs = PAIRS,
		.queue_size = 64,
		.link_up = true,
		.speed = 10000,
		.duplex = 1,
		.offloads = o.no_offloads ? 0 : (o.offloads ? o.offloads : VDEV_NET_OFFLOAD_MASK),
		.mem = &F.m.mem,
		.queues = F.queues,
		.queue_held = F.queue_held,
		.elems = F.elems,
		.iovs = F.iovs,
		.rx_bufs = o.rx_bufs ? o.rx_bufs : RX_BUFS,
		.iov_per_chain = IOVS,
		.backend = o.ops != NULL ? o.ops : &rec_ops,
		.backend_opaque = &F.rec,
		.tx_iovs = o.unbatched ? NULL : F.tx_iovs,
		.tx_batch = o.tx_batch,
		.tx_elems = o.tx_elems ? F.tx_elems : NULL,
	};
	memcpy(c.mac, HOST_MAC, 6);
	memset(F.tx_elems, 0, sizeof(F.tx_elems));
	cr_assert_eq(vdev_net_init(&F.net, &c), 0);
	vdev_dev_set_frontend_negotiates(vdev_net_dev(&F.net), o.frontend);
	cr_assert_eq(drv_mmio_attach(&F.dm, &F.mmio, vdev_net_dev(&F.net), &F.tr), 0);
	uint64_t want = ~(uint64_t)0 & ~o.drop;
	if (!o.packed)
		want &= ~F(RING_PACKED);
	cr_assert_eq(drv_virtio_negotiate(&F.tr, want, &F.neg), 0);
	bool mq = (F.neg & N(MQ)) != 0;
	F.ctrl = mq ? 2 * PAIRS : 2;
	unsigned nq = mq ? 2 * PAIRS : 2;
	for (unsigned i = 0; i < nq; i++)
		cr_assert_eq(drv_virtio_setup_queue(&F.tr, &F.q[i], &F.m, (uint16_t)i, 0, F.neg), 0);
	if (F.neg & N(CTRL_VQ))
		cr_assert_eq(drv_virtio_setup_queue(&F.tr, &F.q[F.ctrl], &F.m, F.ctrl, 0, F.neg), 0);
	cr_assert_eq(drv_virtio_driver_ok(&F.tr), 0x0f);
	F.arena = sim_alloc(&F.m, (size_t)NTOK * SLOT, 4096);
}

static void setup(void) { setup_with((struct opts){0}); }
static void teardown(void) { sim_mem_destroy(&F.m); }

TestSuite(net, .init = setup, .fini = teardown);

static uint64_t gpa(int t) { return F.arena + (uint64_t)t * SLOT; }
static uint8_t *ptr(int t) { return sim_ptr(&F.m, gpa(t)); }

static void kick(unsigned q)
{
	if (drv_kick_prepare(&F.q[q]))
		F.tr.ops->notify(F.tr.t, (uint16_t)q, false, 0);
}

static void *reap(unsigned q, uint32_t *len)
{
	uint32_t l;
	void *t = drv_get_used(&F.q[q], len ? len : &l);
	cr_assert_eq(F.q[q].errors, 0, "%s", F.q[q].last_error);
	return t;
}

/* An Ethernet frame to `dst` with a counting payload. */
static size_t make_frame(uint8_t *f, const uint8_t *dst, size_t len, uint8_t seed)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, OTHER_MAC, 6);
	f[12] = 0x08, f[13] = 0x00;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(i * 7u + seed);
	return len;
}

static void put_hdr(uint8_t *p, uint8_t flags, uint8_t gso, uint16_t gso_size, uint16_t cs,
		    uint16_t co)
{
	memset(p, 0, VDEV_NET_HDR_LEN);
	p[0] = flags;
	p[1] = gso;
	p[4] = (uint8_t)gso_size, p[5] = (uint8_t)(gso_size >> 8);
	p[6] = (uint8_t)cs, p[7] = (uint8_t)(cs >> 8);
	p[8] = (uint8_t)co, p[9] = (uint8_t)(co >> 8);
}

/* ---- configuration and features ---- */

Test(net, config_space_and_features)
{
	uint8_t c[VDEV_NET_CONFIG_SIZE];
	cr_assert_eq(drv_virtio_config_read(&F.tr, 0, c, sizeof(c)), 0);
	cr_expect_arr_eq(c, HOST_MAC, 6);
	cr_expect_eq(c[6] | c[7] << 8, VDEV_NET_S_LINK_UP);
	cr_expect_eq(c[8] | c[9] << 8, PAIRS);
	cr_expect_eq(c[10] | c[11] << 8, 1500);
	cr_expect_eq((uint32_t)c[12] | (uint32_t)c[13] << 8 | (uint32_t)c[14] << 16 |
			     (uint32_t)c[15] << 24, 10000u);
	cr_expect_eq(c[16], 1);
	uint64_t must = N(MAC) | N(MTU) | N(STATUS) | N(CTRL_VQ) | N(CTRL_RX) | N(CTRL_RX_EXTRA) |
			N(CTRL_MAC_ADDR) | N(CTRL_VLAN) | N(GUEST_ANNOUNCE) | N(MQ) | N(MRG_RXBUF) |
			N(SPEED_DUPLEX) | N(CSUM) | N(GUEST_CSUM) | N(HOST_TSO4) | N(GUEST_TSO4) |
			N(CTRL_GUEST_OFFLOADS);
	cr_expect_eq(F.neg & must, must);
	cr_expect_eq(vdev_dev_device_id(vdev_net_dev(&F.net)), VDEV_ID_NET);
	cr_expect_eq(vdev_dev_num_queues(vdev_net_dev(&F.net)), NQ);
	/* the offloads the guest accepted went to the backend at DRIVER_OK */
	cr_expect_eq(F.rec.offloads, F.neg & (N(GUEST_CSUM) | N(GUEST_TSO4) | N(GUEST_TSO6) |
					      N(GUEST_ECN) | N(GUEST_UFO)));
	/* config is read-only: a write changes nothing */
	uint8_t z[6] = {0};
	F.tr.ops->config_write(F.tr.t, 0, z, 6);
	cr_assert_eq(drv_virtio_config_read(&F.tr, 0, c, 6), 0);
	cr_expect_arr_eq(c, HOST_MAC, 6);
}

/* FEATURES_OK with a set that breaks the spec's dependencies reads back clear. */
static void try_features(uint64_t f, bool expect_ok)
{
	cr_assert_eq(drv_virtio_reset(&F.tr), 0);
	F.tr.ops->set_status(F.tr.t, VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER);
	F.tr.ops->set_features(F.tr.t, f | F(VERSION_1));
	F.tr.ops->set_status(F.tr.t, VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER |
					     VDEV_STATUS_FEATURES_OK);
	bool ok = (F.tr.ops->get_status(F.tr.t) & VDEV_STATUS_FEATURES_OK) != 0;
	cr_expect_eq(ok, expect_ok, "features %#llx", (unsigned long long)f);
}

Test(net, features_ok_refused_for_broken_dependencies)
{
	try_features(N(GUEST_TSO4), false);              /* needs GUEST_CSUM */
	try_features(N(HOST_TSO6), false);               /* needs CSUM */
	try_features(N(HOST_ECN) | N(CSUM), false);      /* needs HOST_TSO4/6 */
	try_features(N(GUEST_ECN) | N(GUEST_CSUM), false); /* needs GUEST_TSO4/6 */
	try_features(N(HOST_UFO), false);                /* needs CSUM */
	/* control features without the control queue: a driver on a
	 * transport must not send them */
	try_features(N(CTRL_RX), false);
	try_features(N(CTRL_VLAN), false);
	try_features(N(CTRL_MAC_ADDR), false);
	try_features(N(GUEST_ANNOUNCE), false);
	try_features(N(MQ), false);
	try_features(N(CTRL_GUEST_OFFLOADS), false);
	try_features(N(CTRL_RX_EXTRA) | N(CTRL_VQ), false); /* needs CTRL_RX */
	try_features(N(CTRL_RX) | N(CTRL_RX_EXTRA) | N(CTRL_VQ), true);
	try_features(N(GUEST_TSO4) | N(GUEST_CSUM), true);
	try_features(N(MQ) | N(CTRL_VQ) | N(MAC), true);
	/* a vhost-user front-end running the control queue itself sends
	 * them: accepted there, and inert (below); offload dependencies
	 * still hold */
	vdev_dev_set_frontend_negotiates(vdev_net_dev(&F.net), true);
	try_features(N(CTRL_RX) | N(GUEST_ANNOUNCE) | N(MQ), true);
	try_features(N(CTRL_RX_EXTRA) | N(CTRL_VQ), true);
	try_features(N(GUEST_TSO4), false);
}

Test(net, init_rejects_bad_host_config)
{
	struct vdev_net n;
	struct vdev_net_config c = {
		.max_pairs = 1, .queue_size = 64, .mem = &F.m.mem, .queues = F.queues,
		.queue_held = F.queue_held, .elems = F.elems, .iovs = F.iovs, .rx_bufs = 4, .iov_per_chain = 4,
		.backend = &rec_ops,
	};
	cr_assert_eq(vdev_net_init(&n, &c), 0);
	struct vdev_net_config b = c;
	b.max_pairs = 0;
	cr_expect_eq(vdev_net_init(&n, &b), VDEV_EINVAL);
	b = c, b.max_pairs = VDEV_NET_MAX_PAIRS + 1;
	cr_expect_eq(vdev_net_init(&n, &b), VDEV_EINVAL);
	b = c, b.mtu = 67;
	cr_expect_eq(vdev_net_init(&n, &b), VDEV_EINVAL);
	b = c, b.rx_bufs = 0;
	cr_expect_eq(vdev_net_init(&n, &b), VDEV_EINVAL);
	b = c, b.iov_per_chain = 1;
	cr_expect_eq(vdev_net_init(&n, &b), VDEV_EINVAL);
	b = c, b.backend = NULL;
	cr_expect_eq(vdev_net_init(&n, &b), VDEV_EINVAL);
	b = c, b.features = N(MAC); /* no MAC configured: not supported */
	cr_expect_eq(vdev_net_init(&n, &b), VDEV_EINVAL);
	b = c, b.features = N(CTRL_RX); /* breaks a dependency */
	cr_expect_eq(vdev_net_init(&n, &b), VDEV_EINVAL);
	b = c, b.offloads = N(MRG_RXBUF); /* not an offload */
	cr_expect_eq(vdev_net_init(&n, &b), VDEV_EINVAL);
	/* transmit batching: storage for more than one chain is needed */
	b = c, b.tx_batch = 2;
	cr_expect_eq(vdev_net_init(&n, &b), VDEV_EINVAL);
	b = c, b.tx_batch = 1;
	cr_expect_eq(vdev_net_init(&n, &b), 0);
	b = c, b.tx_iovs = F.tx_iovs, b.tx_batch = VDEV_NET_TX_BATCH_MAX + 1;
	cr_expect_eq(vdev_net_init(&n, &b), VDEV_EINVAL);
	b = c, b.tx_iovs = F.tx_iovs, b.tx_batch = VDEV_NET_TX_BATCH_MAX;
	cr_expect_eq(vdev_net_init(&n, &b), 0);
	b = c, b.tx_iovs = F.tx_iovs; /* tx_batch 0: the default */
	cr_expect_eq(vdev_net_init(&n, &b), 0);
	/* without a MAC, MAC and CTRL_MAC_ADDR are not offered */
	cr_expect_eq(vdev_net_supported_features(&c) & (N(MAC) | N(CTRL_MAC_ADDR)), 0);
}

/* ---- transmit ---- */

enum tx_layout { TX_PLAIN, TX_SPLIT_HDR, TX_MERGED, TX_INDIRECT, TX_TINY };

/* Queue a frame (header at token t, frame right after it) on pair's txq. */
static void queue_tx(unsigned pair, int t, const uint8_t *hdr, const uint8_t *frame, size_t len,
		     enum tx_layout L)
{
	uint8_t *p = ptr(t);
	uint64_t g = gpa(t);
	struct drv_buf b[16];
	unsigned n = 0;

	cr_assert_leq(VDEV_NET_HDR_LEN + len, SLOT * 20);
	memcpy(p, hdr, VDEV_NET_HDR_LEN);
	memcpy(p + VDEV_NET_HDR_LEN, frame, len);
	if (L == TX_MERGED) {
		b[n++] = (struct drv_buf){g, (uint32_t)(VDEV_NET_HDR_LEN + len), false};
	} else if (L == TX_SPLIT_HDR) {
		b[n++] = (struct drv_buf){g, 5, false};
		b[n++] = (struct drv_buf){g + 5, 7, false};
		b[n++] = (struct drv_buf){g + 12, (uint32_t)len / 2, false};
		b[n++] = (struct drv_buf){g + 12 + len / 2, (uint32_t)(len - len / 2), false};
	} else if (L == TX_TINY) {
		for (unsigned i = 0; i < VDEV_NET_HDR_LEN + 2; i++)
			b[n++] = (struct drv_buf){g + i, 1, false};
		b[n++] = (struct drv_buf){g + VDEV_NET_HDR_LEN + 2, (uint32_t)len - 2, false};
	} else {
		b[n++] = (struct drv_buf){g, VDEV_NET_HDR_LEN, false};
		b[n++] = (struct drv_buf){g + VDEV_NET_HDR_LEN, (uint32_t)len, false};
	}
	cr_assert_eq(drv_add(&F.q[2 * pair + 1], b, n, L == TX_INDIRECT, &tok[t]), 0);
}

static void tx_layouts(bool packed)
{
	setup_with((struct opts){.packed = packed});
	static const enum tx_layout Ls[] = {TX_PLAIN, TX_SPLIT_HDR, TX_MERGED, TX_INDIRECT,
					    TX_TINY};
	uint8_t h[VDEV_NET_HDR_LEN];
	put_hdr(h, 0, 0, 0, 0, 0);
	for (unsigned i = 0; i < 5; i++) {
		size_t len = make_frame(F.frame, OTHER_MAC, 60 + 331 * i, (uint8_t)i);
		queue_tx(0, (int)i, h, F.frame, len, Ls[i]);
		kick(1);
		uint32_t ul = 99;
		cr_assert_eq(reap(1, &ul), &tok[i]);
		cr_expect_eq(ul, 0, "transmit buffers are not written");
		cr_assert_eq(F.rec.transmitted, (int)i + 1, "layout %u", i);
		cr_assert_eq(F.rec.len, len);
		cr_assert_arr_eq(F.rec.frame, F.frame, len, "layout %u", i);
		cr_expect_eq(F.rec.hdr.flags, 0);
	}
	struct vdev_net_stats st;
	vdev_net_get_stats(&F.net, &st);
	cr_expect_eq(st.tx_frames, 5);
	cr_expect_eq(st.tx_bad, 0);
}
Test(net, tx_frame_reaches_backend_split) { tx_layouts(false); }
Test(net, tx_frame_reaches_backend_packed) { tx_layouts(true); }

Test(net, tx_offload_header_passes_through)
{
	uint8_t h[VDEV_NET_HDR_LEN];
	size_t len = make_frame(F.frame, OTHER_MAC, 3000, 1);
	/* TSO4 with a partial checksum: a GSO frame may exceed the MTU */
	put_hdr(h, VDEV_NET_HDR_F_NEEDS_CSUM, VDEV_NET_HDR_GSO_TCPV4, 1448, 34, 16);
	queue_tx(0, 0, h, F.frame, len, TX_PLAIN);
	kick(1);
	cr_assert_not_null(reap(1, NULL));
	cr_assert_eq(F.rec.transmitted, 1);
	cr_expect_eq(F.rec.hdr.flags, VDEV_NET_HDR_F_NEEDS_CSUM);
	cr_expect_eq(F.rec.hdr.gso_type, VDEV_NET_HDR_GSO_TCPV4);
	cr_expect_eq(F.rec.hdr.gso_size, 1448);
	cr_expect_eq(F.rec.hdr.csum_start, 34);
	cr_expect_eq(F.rec.hdr.csum_offset, 16);
	cr_expect_eq(F.rec.pair, 0);
}

/* Each malformed transmit is dropped with a used entry; nothing reaches the backend. */
/* DPDK's packed transmit path marks every indirect-table entry writable,
 * the header included (its data entries come out readable): the transmit
 * queue only reads, so the frame is sent and the queue counts it. */
static int rx(unsigned pair, const uint8_t *frame, size_t len, const struct vdev_net_hdr *h);

static void tx_writable_marked(bool packed, bool indirect)
{
	teardown();
	setup_with((struct opts){.packed = packed});
	size_t len = make_frame(F.frame, HOST_MAC, 1000, 9);
	uint8_t *p = ptr(0);
	memset(p, 0, VDEV_NET_HDR_LEN);
	memcpy(p + VDEV_NET_HDR_LEN, F.frame, len);
	struct drv_buf b[3] = {{gpa(0), VDEV_NET_HDR_LEN, true},
			       {gpa(0) + VDEV_NET_HDR_LEN, 400, false},
			       {gpa(0) + VDEV_NET_HDR_LEN + 400, (uint32_t)len - 400, true}};
	cr_assert_eq(drv_add(&F.q[1], b, 3, indirect, &tok[0]), 0);
	kick(1);
	uint32_t ul = 99;
	cr_assert_eq(reap(1, &ul), &tok[0]);
	cr_expect_eq(ul, 0, "nothing written into a transmit buffer");
	cr_assert_eq(F.rec.transmitted, 1);
	cr_expect_eq(F.rec.len, len);
	cr_expect_arr_eq(F.rec.frame, F.frame, len);
	struct vdev_vq_stats st;
	vdev_vq_get_stats(&F.queues[1], &st);
	cr_expect_eq(st.write_as_read, 1);
	cr_expect_eq(st.rejected, 0);
	/* a receive queue writes: such a chain there stays malformed */
	b[0] = (struct drv_buf){gpa(1), 100, true};
	b[1] = (struct drv_buf){gpa(1) + 100, 100, false};
	cr_assert_eq(drv_add(&F.q[0], b, 2, indirect, &tok[1]), 0);
	kick(0);
	cr_expect_eq(rx(0, F.frame, 100, NULL), VDEV_EPROTO);
	cr_assert_eq(reap(0, &ul), &tok[1]);
	cr_expect_eq(ul, 0);
	vdev_vq_get_stats(&F.queues[0], &st);
	cr_expect_eq(st.write_as_read, 0);
	cr_expect_eq(st.rejected, 1);
}
Test(net, tx_writable_marked_indirect_sent_packed) { tx_writable_marked(true, true); }
Test(net, tx_writable_marked_indirect_sent_split) { tx_writable_marked(false, true); }
Test(net, tx_writable_marked_direct_sent_packed) { tx_writable_marked(true, false); }

static void tx_bad(const uint8_t *h, size_t len, const char *what)
{
	int before = F.rec.transmitted;
	struct vdev_net_stats a, b;
	vdev_net_get_stats(&F.net, &a);
	queue_tx(0, 1, h, F.frame, len, TX_PLAIN);
	kick(1);
	uint32_t ul = 99;
	cr_assert_eq(reap(1, &ul), &tok[1], "%s: no used entry", what);
	cr_expect_eq(ul, 0);
	cr_expect_eq(F.rec.transmitted, before, "%s reached the backend", what);
	vdev_net_get_stats(&F.net, &b);
	cr_expect_eq(b.tx_bad, a.tx_bad + 1, "%s", what);
}

Test(net, tx_malformed_frames_dropped)
{
	uint8_t h[VDEV_NET_HDR_LEN];
	make_frame(F.frame, OTHER_MAC, 66000, 3);
	put_hdr(h, 0, 0, 0, 0, 0);
	tx_bad(h, 10, "runt frame");
	tx_bad(h, 1500 + 18 + 1, "frame above the MTU without GSO");
	put_hdr(h, VDEV_NET_HDR_F_NEEDS_CSUM, VDEV_NET_HDR_GSO_TCPV4, 1448, 34, 16);
	tx_bad(h, VDEV_NET_MAX_FRAME + 1, "frame above 64 KiB");
	put_hdr(h, VDEV_NET_HDR_F_NEEDS_CSUM, 0, 0, 90, 16);
	tx_bad(h, 100, "checksum field outside the frame");
	put_hdr(h, VDEV_NET_HDR_F_NEEDS_CSUM, 0, 0, 0xffff, 0xffff);
	tx_bad(h, 100, "csum_start + csum_offset wrapping 16 bits");
	put_hdr(h, VDEV_NET_HDR_F_NEEDS_CSUM, VDEV_NET_HDR_GSO_TCPV4, 0, 34, 16);
	tx_bad(h, 2000, "gso_size 0");
	put_hdr(h, 0, VDEV_NET_HDR_GSO_TCPV4, 1448, 0, 0);
	tx_bad(h, 2000, "GSO without NEEDS_CSUM");
	put_hdr(h, VDEV_NET_HDR_F_NEEDS_CSUM, 7, 1448, 34, 16);
	tx_bad(h, 2000, "unknown GSO type");
	put_hdr(h, 0, VDEV_NET_HDR_GSO_ECN, 0, 0, 0);
	tx_bad(h, 100, "ECN without GSO");

	/* a header alone, a header cut short, a writable descriptor */
	struct drv_buf b[2] = {{gpa(2), 8, false}};
	cr_assert_eq(drv_add(&F.q[1], b, 1, false, &tok[2]), 0);
	b[0] = (struct drv_buf){gpa(3), 100, false};
	b[1] = (struct drv_buf){gpa(3) + 100, 100, true};
	cr_assert_eq(drv_add(&F.q[1], b, 2, false, &tok[3]), 0);
	b[0] = (struct drv_buf){SIM_HOLE_GPA, 100, false}; /* rejected chain */
	cr_assert_eq(drv_add(&F.q[1], b, 1, false, &tok[4]), 0);
	kick(1);
	uint32_t ul;
	for (int t = 2; t <= 4; t++) {
		cr_assert_eq(reap(1, &ul), &tok[t]);
		cr_expect_eq(ul, 0);
	}
	cr_expect_eq(F.rec.transmitted, 0);
}

Test(net, tx_offloads_need_negotiation)
{
	teardown();
	setup_with((struct opts){.no_offloads = true});
	cr_assert_eq(F.neg & (N(CSUM) | N(HOST_TSO4)), 0);
	uint8_t h[VDEV_NET_HDR_LEN];
	make_frame(F.frame, OTHER_MAC, 3000, 3);
	put_hdr(h, VDEV_NET_HDR_F_NEEDS_CSUM, 0, 0, 34, 16);
	tx_bad(h, 100, "NEEDS_CSUM without CSUM");
	put_hdr(h, VDEV_NET_HDR_F_NEEDS_CSUM, VDEV_NET_HDR_GSO_TCPV4, 1448, 34, 16);
	tx_bad(h, 3000, "TSO4 without HOST_TSO4");
	/* unknown flag bits are ignored (spec), and DATA_VALID is not for TX */
	put_hdr(h, 0x80 | VDEV_NET_HDR_F_DATA_VALID, 0, 0, 0, 0);
	queue_tx(0, 5, h, F.frame, 100, TX_PLAIN);
	kick(1);
	cr_assert_not_null(reap(1, NULL));
	cr_expect_eq(F.rec.transmitted, 1);
	cr_expect_eq(F.rec.hdr.flags, 0);
}

static void tx_backpressure(bool packed)
{
	setup_with((struct opts){.packed = packed});
	uint8_t h[VDEV_NET_HDR_LEN];
	put_hdr(h, 0, 0, 0, 0, 0);
	size_t len = make_frame(F.frame, OTHER_MAC, 200, 9);
	F.rec.eagain_left = 1;
	queue_tx(0, 0, h, F.frame, len, TX_PLAIN);
	queue_tx(0, 1, h, F.frame, len, TX_PLAIN);
	kick(1);
	/* the backend pushed back: nothing completed, nothing lost */
	cr_expect_null(reap(1, NULL));
	cr_expect_eq(F.rec.transmitted, 0);
	/* another kick while blocked does not busy-loop or drop */
	F.tr.ops->notify(F.tr.t, 1, false, 0);
	cr_expect_null(reap(1, NULL));
	cr_assert_eq(vdev_net_tx_resume(&F.net, 0), 2);
	cr_expect_eq(reap(1, NULL), &tok[0]);
	cr_expect_eq(reap(1, NULL), &tok[1]);
	cr_expect_eq(F.rec.transmitted, 2);
}
/*
 * transmit_flush: a backend keeps the segments it got in transmit and uses
 * them at the end of the batch (an in-process switch delivering the batch
 * to other devices). Each flush sees exactly its batch's frames, each
 * still readable through its own segments, and none of them completed yet.
 */
static struct {
	const struct vdev_iov *iov[VDEV_NET_TX_BATCH_MAX];
	unsigned n[VDEV_NET_TX_BATCH_MAX];
	size_t len[VDEV_NET_TX_BATCH_MAX];
	unsigned kept, seen, flushes, sizes[8];
} K;

static int keep_transmit(void *o, uint16_t pair, const struct vdev_net_hdr *h,
			 const struct vdev_iov *iov, unsigned n, size_t len)
{
	cr_assert_eq(rec_transmit(o, pair, h, iov, n, len), 0);
	cr_assert_lt(K.kept, VDEV_NET_TX_BATCH_MAX);
	K.iov[K.kept] = iov, K.n[K.kept] = n, K.len[K.kept] = len;
	K.kept++;
	return 0;
}

static void keep_flush(void *o, uint16_t pair)
{
	uint8_t buf[400], want[400];
	(void)o;
	cr_assert_eq(pair, 0);
	cr_assert_lt(K.flushes, 8);
	cr_expect_null(reap(1, NULL), "a chain was completed before the flush");
	for (unsigned i = 0; i < K.kept; i++, K.seen++) {
		size_t len = make_frame(want, OTHER_MAC, 100 + K.seen, (uint8_t)K.seen);
		cr_assert_eq(K.len[i], len, "frame %u", K.seen);
		cr_assert_eq(vdev_iov_to_buf(K.iov[i], K.n[i], 0, buf, sizeof(buf)), len);
		cr_expect_arr_eq(buf, want, len, "frame %u's segments changed before the flush",
				 K.seen);
	}
	K.sizes[K.flushes++] = K.kept;
	K.kept = 0;
}

static const struct vdev_net_backend_ops keep_ops = {
	.size = sizeof(struct vdev_net_backend_ops),
	.transmit = keep_transmit,
	.transmit_flush = keep_flush,
};

static void tx_flush(bool packed)
{
	teardown();
	memset(&K, 0, sizeof(K));
	setup_with((struct opts){.packed = packed, .ops = &keep_ops, .tx_elems = true});
	uint8_t h[VDEV_NET_HDR_LEN];
	put_hdr(h, 0, 0, 0, 0, 0);
	/* the header in its own segment, split, sharing the frame's, indirect */
	static const enum tx_layout Ls[] = {TX_PLAIN, TX_SPLIT_HDR, TX_MERGED, TX_INDIRECT};
	for (unsigned i = 0; i < 20; i++) {
		size_t len = make_frame(F.frame, OTHER_MAC, 100 + i, (uint8_t)i);
		queue_tx(0, (int)i, h, F.frame, len, Ls[i % 4]);
	}
	kick(1);
	/* the default batch is 16: two batches, two flushes */
	cr_assert_eq(K.flushes, 2);
	cr_expect_eq(K.sizes[0], VDEV_NET_TX_BATCH_DEFAULT);
	cr_expect_eq(K.sizes[1], 20 - VDEV_NET_TX_BATCH_DEFAULT);
	cr_expect_eq(K.seen, 20);
	for (unsigned i = 0; i < 20; i++)
		cr_expect_eq(reap(1, NULL), &tok[i]);
	cr_expect_eq(F.rec.transmitted, 20);
}
Test(net, tx_flush_after_each_batch_split) { tx_flush(false); }
Test(net, tx_flush_after_each_batch_packed) { tx_flush(true); }

/* transmit_flush with the recording backend: once per popped batch that
 * handed frames over (after all of them), never for an empty pass, and
 * for a batch cut short by a push-back after the frames it sent. */
static void tx_flush_counts(bool packed)
{
	setup_with((struct opts){.packed = packed, .tx_batch = 4});
	uint8_t h[VDEV_NET_HDR_LEN];
	put_hdr(h, 0, 0, 0, 0, 0);
	size_t len = make_frame(F.frame, OTHER_MAC, 100, 3);
	for (int t = 0; t < 10; t++) /* three pops: 4, 4, 2 */
		queue_tx(0, t, h, F.frame, len, TX_PLAIN);
	kick(1);
	cr_assert_eq(F.rec.transmitted, 10);
	cr_assert_eq(F.rec.flushes, 3, "one flush per batch");
	cr_expect_eq(F.rec.flushed_at[0], 4);
	cr_expect_eq(F.rec.flushed_at[1], 8);
	cr_expect_eq(F.rec.flushed_at[2], 10);
	cr_expect_eq(F.rec.flush_pair, 0);
	cr_assert_eq(vdev_net_process_tx(&F.net, 0), 0);
	cr_expect_eq(F.rec.flushes, 3, "an empty pass does not flush");
	/* pushed back at the third frame of a batch: the two sent are
	 * flushed, then the resumed pass flushes the rest */
	F.rec.block = true;
	F.rec.block_at = 12;
	for (int t = 10; t < 15; t++)
		queue_tx(0, t, h, F.frame, len, TX_PLAIN);
	kick(1);
	cr_assert_eq(F.rec.transmitted, 12);
	cr_assert_eq(F.rec.flushes, 4);
	cr_expect_eq(F.rec.flushed_at[3], 12);
	F.rec.block = false;
	cr_assert_eq(vdev_net_tx_resume(&F.net, 0), 3);
	cr_assert_eq(F.rec.flushes, 5);
	cr_expect_eq(F.rec.flushed_at[4], 15);
	for (int t = 0; t < 15; t++)
		cr_expect_eq(reap(1, NULL), &tok[t]);
}
Test(net, tx_flush_counts_split) { tx_flush_counts(false); }
Test(net, tx_flush_counts_packed) { tx_flush_counts(true); }

Test(net, tx_backpressure_keeps_frames_split) { tx_backpressure(false); }
Test(net, tx_backpressure_keeps_frames_packed) { tx_backpressure(true); }

/*
 * The guest offers frame 0's buffer once more behind frames 1 and 2: one
 * pop takes frames 0..2 and meets the duplicate while it holds frame 0, so
 * the ring cannot be trusted (NEEDS_RESET) and the duplicate is not taken.
 * The backend then pushes frame 1 back: frames 1 and 2 go back to the
 * ring (unpop, on the broken queue) and stay the guest's. Frame 0 is sent
 * and completed once; nothing else is.
 */
static void tx_offered_twice_with_pushback(bool packed)
{
	setup_with((struct opts){.packed = packed});
	uint8_t h[VDEV_NET_HDR_LEN];
	put_hdr(h, 0, 0, 0, 0, 0);
	size_t len = make_frame(F.frame, OTHER_MAC, 200, 9);
	F.rec.block = true;
	F.rec.block_at = 1;
	for (int t = 0; t < 3; t++)
		queue_tx(0, t, h, F.frame, len, TX_PLAIN);
	uint16_t id = UINT16_MAX;
	for (uint16_t i = 0; i < F.q[1].size; i++)
		if (F.q[1].token[i] == &tok[0])
			id = i;
	cr_assert_neq(id, UINT16_MAX);
	drv_offer_again(&F.q[1], id, &(struct drv_buf){gpa(0), 64, false});
	(void)drv_kick_prepare(&F.q[1]);
	F.tr.ops->notify(F.tr.t, 1, false, 0);
	cr_expect_eq(F.rec.transmitted, 1);
	cr_expect(F.tr.ops->get_status(F.tr.t) & 0x40, "DEVICE_NEEDS_RESET");
	cr_expect_eq(reap(1, NULL), &tok[0]);
	cr_expect_null(reap(1, NULL), "frames 1 and 2 pushed back, the duplicate not taken");
	F.rec.block = false;
	cr_expect_lt(vdev_net_tx_resume(&F.net, 0), 0, "the queue stays broken");
	cr_expect_eq(F.rec.transmitted, 1);
	cr_expect_null(reap(1, NULL));
}
Test(net, tx_offered_twice_with_pushback_split) { tx_offered_twice_with_pushback(false); }
Test(net, tx_offered_twice_with_pushback_packed) { tx_offered_twice_with_pushback(true); }

/*
 * Many frames queued at once, every batch size: good frames (one and two
 * descriptors) with malformed ones among them, and a push-back in the
 * middle. Frames reach the backend in ring order, each exactly once;
 * used entries come back in order; the push-back gives back exactly the
 * refused frame and everything after it. Three rounds wrap the ring.
 */
#define TXB_FRAMES 24
static bool txb_bad(int i) { return i % 7 == 3; }

static void tx_batches(struct opts o)
{
	teardown();
	setup_with(o);
	uint8_t h[VDEV_NET_HDR_LEN];
	put_hdr(h, 0, 0, 0, 0, 0);
	int good_total = 0, bad_total = 0;

	for (int round = 0; round < 3; round++) {
		int good = 0;
		memset(F.rec.order, 0, sizeof(F.rec.order));
		F.rec.transmitted = 0;
		for (int i = 0; i < TXB_FRAMES; i++) {
			size_t len = make_frame(F.frame, OTHER_MAC, txb_bad(i) ? 10 : 60 + 10u * (unsigned)i,
						(uint8_t)(round * TXB_FRAMES + i));
			queue_tx(0, i, h, F.frame, len, i % 2 ? TX_MERGED : TX_PLAIN);
			good += !txb_bad(i);
		}
		/* Push back at the 12th good frame (round 0), the 1st (round 1),
		 * or never (round 2). */
		int block_at = round == 0 ? 11 : round == 1 ? 0 : -1;
		int refused = TXB_FRAMES; /* the chain pushed back */
		F.rec.block = block_at >= 0;
		F.rec.block_at = block_at;
		if (block_at >= 0)
			for (int i = 0, g = 0; i < TXB_FRAMES; i++)
				if (!txb_bad(i) && g++ == block_at) {
					refused = i;
					break;
				}
		cr_assert_eq(vdev_net_process_tx(&F.net, 0), refused, "round %d", round);
		for (int i = 0; i < refused; i++) {
			uint32_t ul = 99;
			cr_assert_eq(reap(1, &ul), &tok[i], "round %d chain %d", round, i);
			cr_expect_eq(ul, 0);
		}
		cr_assert_null(reap(1, NULL), "round %d: a refused frame completed", round);
		if (block_at >= 0) {
			cr_assert_eq(F.rec.transmitted, block_at);
			/* blocked: a kick does nothing; a resume while the backend
			 * still refuses takes nothing and blocks again */
			kick(1);
			cr_expect_null(reap(1, NULL));
			cr_expect_eq(vdev_net_tx_resume(&F.net, 0), 0);
			cr_expect_null(reap(1, NULL));
			F.rec.block = false;
			cr_assert_eq(vdev_net_tx_resume(&F.net, 0), TXB_FRAMES - refused);
			for (int i = refused; i < TXB_FRAMES; i++)
				cr_assert_eq(reap(1, NULL), &tok[i], "round %d chain %d", round, i);
			cr_assert_null(reap(1, NULL));
		}
		cr_assert_eq(F.rec.transmitted, good, "round %d", round);
		for (int i = 0, g = 0; i < TXB_FRAMES; i++) {
			if (txb_bad(i))
				continue;
			uint8_t want = (uint8_t)(14u * 7u + (unsigned)(round * TXB_FRAMES + i));
			cr_expect_eq(F.rec.order[g], want, "round %d frame %d out of order", round, i);
			g++;
		}
		good_total += good;
		bad_total += TXB_FRAMES - good;
	}
	struct vdev_net_stats st;
	vdev_net_get_stats(&F.net, &st);
	cr_expect_eq(st.tx_frames, (uint64_t)good_total);
	cr_expect_eq(st.tx_bad, (uint64_t)bad_total);
	cr_expect_eq(st.tx_dropped, 0);
	/* The batches went through the caller's elements, and only then. */
	bool used = false;
	for (size_t i = 0; i < sizeof(F.tx_elems) / sizeof(F.tx_elems[0]); i++)
		used |= F.tx_elems[i].out_bytes != 0;
	cr_expect_eq(used, o.tx_elems && !o.unbatched);
}
Test(net, tx_batches_unbatched_split) { tx_batches((struct opts){.unbatched = true}); }
Test(net, tx_batches_unbatched_packed)
{
	tx_batches((struct opts){.unbatched = true, .packed = true});
}
Test(net, tx_batches_of_1_split) { tx_batches((struct opts){.tx_batch = 1}); }
Test(net, tx_batches_of_5_split) { tx_batches((struct opts){.tx_batch = 5}); }
Test(net, tx_batches_of_5_packed) { tx_batches((struct opts){.tx_batch = 5, .packed = true}); }
Test(net, tx_batches_default_split) { tx_batches((struct opts){0}); }
Test(net, tx_batches_default_packed) { tx_batches((struct opts){.packed = true}); }
Test(net, tx_batches_of_max_split) { tx_batches((struct opts){.tx_batch = VDEV_NET_TX_BATCH_MAX}); }
Test(net, tx_batches_of_max_packed)
{
	tx_batches((struct opts){.tx_batch = VDEV_NET_TX_BATCH_MAX, .packed = true});
}
Test(net, tx_batches_of_5_elems_split)
{
	tx_batches((struct opts){.tx_batch = 5, .tx_elems = true});
}
Test(net, tx_batches_default_elems_packed)
{
	tx_batches((struct opts){.packed = true, .tx_elems = true});
}
Test(net, tx_batches_of_max_elems_split)
{
	tx_batches((struct opts){.tx_batch = VDEV_NET_TX_BATCH_MAX, .tx_elems = true});
}
Test(net, tx_batches_of_max_elems_packed)
{
	tx_batches((struct opts){.tx_batch = VDEV_NET_TX_BATCH_MAX, .packed = true, .tx_elems = true});
}
Test(net, tx_batches_unbatched_ignores_elems)
{
	/* tx_elems without tx_iovs: one chain at a time, the elements unused */
	tx_batches((struct opts){.unbatched = true, .tx_elems = true});
}

/* ---- receive ---- */

/* Post `n` receive buffers of `size` bytes (tokens t0..) on pair's rxq. */
static void post_rx(unsigned pair, int t0, unsigned n, uint32_t size)
{
	for (unsigned i = 0; i < n; i++) {
		int t = t0 + (int)i;
		memset(ptr(t), 0xee, size);
		struct drv_buf b = {gpa(t), size, true};
		cr_assert_eq(drv_add(&F.q[2 * pair], &b, 1, false, &tok[t]), 0);
	}
	kick(2 * pair);
}

static int rx(unsigned pair, const uint8_t *frame, size_t len, const struct vdev_net_hdr *h)
{
	struct vdev_iov v[3] = {{(void *)(uintptr_t)frame, 7}, {(void *)(uintptr_t)(frame + 7), 20},
				{(void *)(uintptr_t)(frame + 27), len - 27}};
	return vdev_net_receive(&F.net, (uint16_t)pair, h, v, 3, len);
}

static void rx_big_buffers(bool packed)
{
	setup_with((struct opts){.packed = packed, .drop = N(MRG_RXBUF)});
	post_rx(0, 0, 4, 1600);
	for (int k = 0; k < 3; k++) {
		size_t len = make_frame(F.frame, HOST_MAC, 100 + 500u * (unsigned)k, (uint8_t)k);
		cr_assert_eq(rx(0, F.frame, len, NULL), 0);
		uint32_t ul;
		cr_assert_eq(reap(0, &ul), &tok[k]);
		cr_expect_eq(ul, VDEV_NET_HDR_LEN + len);
		uint8_t *p = ptr(k);
		cr_expect_eq(p[0], 0);
		cr_expect_eq(p[1], 0);
		cr_expect_eq(p[10] | p[11] << 8, 1, "num_buffers is 1 without MRG_RXBUF");
		cr_assert_arr_eq(p + VDEV_NET_HDR_LEN, F.frame, len);
	}
	/* a frame bigger than the one buffer: the buffer goes back empty */
	size_t len = make_frame(F.frame, HOST_MAC, 1500 + 14, 1);
	post_rx(0, 10, 1, 200);
	cr_expect_eq(reap(0, NULL), NULL);
	cr_assert_eq(rx(0, F.frame, len, NULL), 0, "the 1600-byte buffer is first");
	cr_assert_eq(reap(0, NULL), &tok[3]);
	uint32_t ul = 99;
	cr_assert_eq(rx(0, F.frame, len, NULL), VDEV_EPROTO);
	cr_assert_eq(reap(0, &ul), &tok[10]);
	cr_expect_eq(ul, 0);
}
Test(net, rx_big_buffers_split) { rx_big_buffers(false); }
Test(net, rx_big_buffers_packed) { rx_big_buffers(true); }

/* A 1000-byte frame into `nbufs` posted buffers of `size` bytes each. */
static void rx_mergeable_into(bool packed, unsigned rx_bufs, unsigned nbufs, uint32_t size)
{
	teardown();
	setup_with((struct opts){.packed = packed, .rx_bufs = rx_bufs});
	cr_assert(F.neg & N(MRG_RXBUF));
	post_rx(0, 0, nbufs, size);
	size_t len = make_frame(F.frame, HOST_MAC, 1000, 5);
	cr_assert_eq(rx(0, F.frame, len, NULL), 0);
	unsigned want = (unsigned)((len + VDEV_NET_HDR_LEN + size - 1) / size);
	cr_expect_eq((unsigned)(ptr(0)[10] | ptr(0)[11] << 8), want);
	uint8_t got[1100];
	size_t off = 0;
	for (unsigned i = 0; i < want; i++) {
		uint32_t ul;
		cr_assert_eq(reap(0, &ul), &tok[i]);
		size_t skip = i == 0 ? VDEV_NET_HDR_LEN : 0;
		size_t total = len + VDEV_NET_HDR_LEN;
		cr_assert_eq(ul, (uint32_t)(total - size * i < size ? total - size * i : size));
		memcpy(got + off, ptr((int)i) + skip, ul - skip);
		off += ul - skip;
	}
	cr_assert_eq(off, len);
	cr_assert_arr_eq(got, F.frame, len);
	cr_expect_null(reap(0, NULL));
}
static void rx_mergeable(bool packed) { rx_mergeable_into(packed, 0, 16, 100); }
Test(net, rx_mergeable_spans_buffers_split) { rx_mergeable(false); }
Test(net, rx_mergeable_spans_buffers_packed) { rx_mergeable(true); }
/* 34 buffers: more than one batch push of completions */
Test(net, rx_mergeable_spans_34_buffers_split) { rx_mergeable_into(false, RX_BUFS_MAX, 40, 30); }
Test(net, rx_mergeable_spans_34_buffers_packed) { rx_mergeable_into(true, RX_BUFS_MAX, 40, 30); }

/* ---- batch receive ---- */

/* Frames k = 0.. of the batch tests: to `dst`, `len` bytes, payload seeded k. */
static uint8_t bframe[8][1600];

static struct vdev_net_frame bfr(int k, const uint8_t *dst, size_t len, struct vdev_iov *v)
{
	make_frame(bframe[k], dst, len, (uint8_t)k);
	v->base = bframe[k];
	v->len = len;
	return (struct vdev_net_frame){.iov = v, .iovcnt = 1, .len = len};
}

/* Reap one used buffer of pair 0's receive queue: token t, holding `len`
 * bytes of frame k behind a header with num_buffers 1. */
static void expect_delivered(int t, int k, size_t len)
{
	uint32_t ul;
	cr_assert_eq(reap(0, &ul), &tok[t]);
	cr_assert_eq(ul, VDEV_NET_HDR_LEN + len);
	cr_expect_eq(ptr(t)[10] | ptr(t)[11] << 8, 1);
	cr_assert_arr_eq(ptr(t) + VDEV_NET_HDR_LEN, bframe[k], len);
}

/* Eight frames, one buffer each, in one call: one publish, one interrupt. */
static void rx_batch_one_publish(bool packed, bool merge)
{
	teardown();
	setup_with((struct opts){.packed = packed, .drop = merge ? 0 : N(MRG_RXBUF)});
	struct vdev_iov v[8];
	struct vdev_net_frame fr[8];
	int res[8];
	post_rx(0, 0, 10, 1600);
	for (int k = 0; k < 8; k++)
		fr[k] = bfr(k, HOST_MAC, 60 + 100u * (unsigned)k, v + k);
	struct vdev_vq_stats before, after;
	vdev_vq_get_stats(&F.queues[0], &before);
	memset(res, 0x55, sizeof(res));
	cr_assert_eq(vdev_net_receive_batch(&F.net, 0, fr, 8, res), 8);
	vdev_vq_get_stats(&F.queues[0], &after);
	for (int k = 0; k < 8; k++)
		cr_expect_eq(res[k], 0, "frame %d: %d", k, res[k]);
	cr_expect_eq(after.publishes - before.publishes, 1, "one publish for the batch");
	cr_expect_eq(after.pushed - before.pushed, 8);
	cr_expect_eq(after.popped - before.popped, 8, "no buffer popped beyond the batch's");
	for (int k = 0; k < 8; k++)
		expect_delivered(k, k, fr[k].len);
	cr_expect_null(reap(0, NULL));
	cr_expect_eq(drv_outstanding(&F.q[0]), 2, "the two spare buffers stay posted");
	struct vdev_net_stats st;
	vdev_net_get_stats(&F.net, &st);
	cr_expect_eq(st.rx_frames, 8);
}
Test(net, rx_batch_one_publish_split) { rx_batch_one_publish(false, true); }
Test(net, rx_batch_one_publish_packed) { rx_batch_one_publish(true, true); }
Test(net, rx_batch_big_buffers_split) { rx_batch_one_publish(false, false); }
Test(net, rx_batch_big_buffers_packed) { rx_batch_one_publish(true, false); }

/* Dropped frames are consumed without a buffer, the others delivered in
 * order; a malformed buffer returns empty and costs only its frame. */
static void rx_batch_drops(bool packed)
{
	teardown();
	setup_with((struct opts){.packed = packed});
	/* a filter that takes only our MAC (and broadcast): nouni off, no alluni */
	struct vdev_iov v[8];
	struct vdev_net_frame fr[7];
	int res[7];
	fr[0] = bfr(0, HOST_MAC, 100, v + 0);
	fr[1] = bfr(1, HOST_MAC, 10, v + 1); /* too short: bad argument */
	fr[1].len = 10;
	fr[2] = bfr(2, HOST_MAC, 1500 + 18 + 1, v + 2); /* above the MTU */
	fr[3] = bfr(3, HOST_MAC, 200, v + 3);           /* into the readable buffer */
	fr[4] = bfr(4, HOST_MAC, 300, v + 4);
	struct vdev_net_hdr gso = {.flags = 0, .gso_type = 0x33}; /* unknown GSO type */
	fr[5] = bfr(5, HOST_MAC, 120, v + 5);
	fr[5].hdr = &gso;
	fr[6] = bfr(6, BCAST, 80, v + 6);
	/* buffers: good, readable (malformed), good, good */
	struct drv_buf b = {gpa(0), 1600, true};
	cr_assert_eq(drv_add(&F.q[0], &b, 1, false, &tok[0]), 0);
	b = (struct drv_buf){gpa(1), 1600, false};
	cr_assert_eq(drv_add(&F.q[0], &b, 1, false, &tok[1]), 0);
	for (int t = 2; t < 4; t++) {
		b = (struct drv_buf){gpa(t), 1600, true};
		cr_assert_eq(drv_add(&F.q[0], &b, 1, false, &tok[t]), 0);
	}
	kick(0);
	memset(res, 0x55, sizeof(res));
	cr_assert_eq(vdev_net_receive_batch(&F.net, 0, fr, 7, res), 7);
	cr_expect_eq(res[0], 0);
	cr_expect_eq(res[1], VDEV_EINVAL);
	cr_expect_eq(res[2], VDEV_EMSGSIZE);
	cr_expect_eq(res[3], VDEV_EPROTO);
	cr_expect_eq(res[4], 0);
	cr_expect_eq(res[5], VDEV_ENOTSUP);
	cr_expect_eq(res[6], 0);
	expect_delivered(0, 0, 100);
	uint32_t ul = 99;
	cr_assert_eq(reap(0, &ul), &tok[1]);
	cr_expect_eq(ul, 0, "the malformed buffer goes back empty");
	expect_delivered(2, 4, 300);
	expect_delivered(3, 6, 80);
	cr_expect_null(reap(0, NULL));
	struct vdev_net_stats st;
	vdev_net_get_stats(&F.net, &st);
	cr_expect_eq(st.rx_frames, 3);
	cr_expect_eq(st.rx_bad_buffer, 1);
	cr_expect_eq(st.rx_too_big, 1);
	cr_expect_eq(st.rx_bad_offload, 1);
}
Test(net, rx_batch_drops_split) { rx_batch_drops(false); }
Test(net, rx_batch_drops_packed) { rx_batch_drops(true); }

/* The filter drops in a batch too (CTRL_RX: unicast to another MAC). */
Test(net, rx_batch_filtered)
{
	cr_assert(F.neg & N(CTRL_RX));
	struct vdev_iov v[3];
	struct vdev_net_frame fr[3] = {bfr(0, OTHER_MAC, 90, v), bfr(1, HOST_MAC, 91, v + 1),
				       bfr(2, OTHER_MAC, 92, v + 2)};
	int res[3];
	post_rx(0, 0, 3, 1600);
	cr_assert_eq(vdev_net_receive_batch(&F.net, 0, fr, 3, res), 3);
	cr_expect_eq(res[0], VDEV_ENOENT);
	cr_expect_eq(res[1], 0);
	cr_expect_eq(res[2], VDEV_ENOENT);
	expect_delivered(0, 1, 91);
	cr_expect_null(reap(0, NULL));
	cr_expect_eq(drv_outstanding(&F.q[0]), 2);
	struct vdev_net_stats st;
	vdev_net_get_stats(&F.net, &st);
	cr_expect_eq(st.rx_filtered, 2);
}

/* Fewer buffers than frames: the frames that fit go, the rest are not
 * consumed (the count says where it stopped), rx_ready when more come. */
static void rx_batch_no_room(bool packed)
{
	teardown();
	setup_with((struct opts){.packed = packed});
	struct vdev_iov v[6];
	struct vdev_net_frame fr[6];
	int res[6];
	for (int k = 0; k < 6; k++)
		fr[k] = bfr(k, HOST_MAC, 64, v + k);
	cr_expect_eq(vdev_net_receive_batch(&F.net, 0, fr, 6, res), VDEV_EAGAIN, "nothing posted");
	post_rx(0, 0, 4, 1600);
	cr_assert_eq(vdev_net_receive_batch(&F.net, 0, fr, 6, res), 4);
	for (int k = 0; k < 4; k++)
		expect_delivered(k, k, 64);
	cr_expect_null(reap(0, NULL));
	post_rx(0, 4, 2, 1600);
	cr_expect_eq(F.rec.rx_ready[0], 2, "rx_ready after each refusal");
	cr_assert_eq(vdev_net_receive_batch(&F.net, 0, fr + 4, 2, res), 2);
	expect_delivered(4, 4, 64);
	expect_delivered(5, 5, 64);
	struct vdev_net_stats st;
	vdev_net_get_stats(&F.net, &st);
	cr_expect_eq(st.rx_no_room, 2);
	cr_expect_eq(st.rx_frames, 6);
}
Test(net, rx_batch_no_room_split) { rx_batch_no_room(false); }
Test(net, rx_batch_no_room_packed) { rx_batch_no_room(true); }

/* Mergeable frames of 3 buffers each through a window of rx_bufs 4: the
 * window is completed and refilled between frames, the buffers used in
 * posting order; one that needs more than rx_bufs is refused whole. */
static void rx_batch_mergeable_window(bool packed)
{
	teardown();
	setup_with((struct opts){.packed = packed, .rx_bufs = 4});
	struct vdev_iov v[5];
	struct vdev_net_frame fr[5];
	int res[5];
	/* 3 buffers of 100 for 12 + 250 bytes */
	for (int k = 0; k < 5; k++)
		fr[k] = bfr(k, HOST_MAC, 250, v + k);
	fr[2] = bfr(2, HOST_MAC, 600, v + 2); /* 7 buffers: more than rx_bufs */
	post_rx(0, 0, 20, 100);
	cr_assert_eq(vdev_net_receive_batch(&F.net, 0, fr, 5, res), 5);
	cr_expect_eq(res[0], 0);
	cr_expect_eq(res[1], 0);
	cr_expect_eq(res[2], VDEV_EMSGSIZE);
	cr_expect_eq(res[3], 0);
	cr_expect_eq(res[4], 0);
	int t = 0;
	for (int k = 0; k < 5; k++) {
		if (k == 2)
			continue;
		uint8_t got[300];
		size_t off = 0;
		cr_expect_eq(ptr(t)[10] | ptr(t)[11] << 8, 3, "frame %d: num_buffers", k);
		for (int i = 0; i < 3; i++, t++) {
			uint32_t ul;
			size_t skip = i == 0 ? VDEV_NET_HDR_LEN : 0;
			cr_assert_eq(reap(0, &ul), &tok[t], "frame %d buffer %d", k, i);
			cr_assert_eq(ul, i < 2 ? 100u : 62u);
			memcpy(got + off, ptr(t) + skip, ul - skip);
			off += ul - skip;
		}
		cr_assert_eq(off, 250);
		cr_assert_arr_eq(got, bframe[k], 250);
	}
	cr_expect_null(reap(0, NULL));
	cr_expect_eq(drv_outstanding(&F.q[0]), 8, "the unused buffers stay posted");
}
Test(net, rx_batch_mergeable_window_split) { rx_batch_mergeable_window(false); }
Test(net, rx_batch_mergeable_window_packed) { rx_batch_mergeable_window(true); }

Test(net, rx_batch_arguments_and_state)
{
	struct vdev_iov v;
	struct vdev_net_frame fr = bfr(0, HOST_MAC, 64, &v);
	cr_expect_eq(vdev_net_receive_batch(&F.net, 0, &fr, 0, NULL), 0);
	cr_expect_eq(vdev_net_receive_batch(&F.net, 0, NULL, 1, NULL), VDEV_EINVAL);
	post_rx(0, 0, 1, 1600);
	cr_expect_eq(vdev_net_receive_batch(&F.net, 0, &fr, 1, NULL), 1, "results may be NULL");
	expect_delivered(0, 0, 64);
	/* after a device reset: not running */
	cr_assert_eq(drv_virtio_reset(&F.tr), 0);
	cr_expect_eq(vdev_net_receive_batch(&F.net, 0, &fr, 1, NULL), VDEV_EPERM);
}

static void rx_no_room(bool packed)
{
	setup_with((struct opts){.packed = packed});
	size_t len = make_frame(F.frame, HOST_MAC, 1000, 5);
	/* nothing posted: refused, and told when buffers come */
	cr_assert_eq(rx(0, F.frame, len, NULL), VDEV_EAGAIN);
	cr_expect_eq(F.rec.rx_ready[0], 0);
	/* too little posted: refused again and nothing consumed */
	post_rx(0, 0, 3, 100);
	cr_expect_eq(F.rec.rx_ready[0], 1, "rx_ready when the guest posted buffers");
	cr_assert_eq(rx(0, F.frame, len, NULL), VDEV_EAGAIN);
	cr_expect_null(reap(0, NULL));
	cr_expect_eq(drv_outstanding(&F.q[0]), 3);
	/* enough now: the same first buffers carry the frame */
	post_rx(0, 3, 10, 100);
	cr_expect_eq(F.rec.rx_ready[0], 2);
	cr_assert_eq(rx(0, F.frame, len, NULL), 0);
	cr_expect_eq(reap(0, NULL), &tok[0]);
	/* rx_ready is not called again without a refusal */
	post_rx(0, 20, 1, 100);
	cr_expect_eq(F.rec.rx_ready[0], 2);
	struct vdev_net_stats st;
	vdev_net_get_stats(&F.net, &st);
	cr_expect_eq(st.rx_no_room, 2);
}
Test(net, rx_no_room_backpressure_split) { rx_no_room(false); }
Test(net, rx_no_room_backpressure_packed) { rx_no_room(true); }

Test(net, rx_too_big_or_bad_buffers)
{
	size_t len = make_frame(F.frame, HOST_MAC, 1500 + 18 + 1, 5);
	post_rx(0, 0, 20, 90);
	cr_expect_eq(rx(0, F.frame, len, NULL), VDEV_EMSGSIZE, "above the MTU");
	/* more buffers than rx_bufs: nothing consumed */
	len = make_frame(F.frame, HOST_MAC, 1500, 5);
	cr_expect_eq(rx(0, F.frame, len, NULL), VDEV_EMSGSIZE, "needs 17 buffers of 90");
	cr_expect_null(reap(0, NULL));
	/* a short frame and bad arguments */
	cr_expect_eq(rx(0, F.frame, 28, NULL), 0);
	cr_expect_not_null(reap(0, NULL));
	struct vdev_iov v = {F.frame, 10};
	cr_expect_eq(vdev_net_receive(&F.net, 0, NULL, &v, 1, 10), VDEV_EINVAL);
	cr_expect_eq(vdev_net_receive(&F.net, 0, NULL, &v, 1, 100), VDEV_EINVAL);
	teardown();

	/* a read-only (driver-readable) receive buffer, one smaller than the header */
	setup();
	struct drv_buf b = {gpa(0), 100, false};
	cr_assert_eq(drv_add(&F.q[0], &b, 1, false, &tok[0]), 0);
	b = (struct drv_buf){gpa(1), 8, true};
	cr_assert_eq(drv_add(&F.q[0], &b, 1, false, &tok[1]), 0);
	b = (struct drv_buf){SIM_RO_GPA, 100, true}; /* writable into read-only memory */
	cr_assert_eq(drv_add(&F.q[0], &b, 1, false, &tok[2]), 0);
	kick(0);
	len = make_frame(F.frame, HOST_MAC, 60, 5);
	uint32_t ul = 99;
	for (int t = 0; t < 3; t++) {
		cr_assert_eq(rx(0, F.frame, len, NULL), VDEV_EPROTO);
		cr_assert_eq(reap(0, &ul), &tok[t]);
		cr_expect_eq(ul, 0);
	}
	struct vdev_net_stats st;
	vdev_net_get_stats(&F.net, &st);
	cr_expect_eq(st.rx_bad_buffer, 3);
}

Test(net, rx_offloads_follow_the_guest)
{
	post_rx(0, 0, 16, 2048);
	size_t len = make_frame(F.frame, HOST_MAC, 200, 5);
	struct vdev_net_hdr h = {.flags = VDEV_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
				 .csum_offset = 16};
	cr_assert(F.neg & N(GUEST_CSUM));
	cr_assert_eq(rx(0, F.frame, len, &h), 0);
	cr_expect_eq(ptr(0)[0], VDEV_NET_HDR_F_NEEDS_CSUM);
	cr_expect_eq(ptr(0)[6], 34);
	h.num_buffers = 77; /* ignored */
	h.flags = VDEV_NET_HDR_F_DATA_VALID;
	cr_assert_eq(rx(0, F.frame, len, &h), 0);
	cr_expect_eq(ptr(1)[0], VDEV_NET_HDR_F_DATA_VALID);
	cr_expect_eq(ptr(1)[10], 1);
	/* the guest turns receive offloads off (CTRL_GUEST_OFFLOADS) */
	uint8_t cmd[2 + 8] = {5, 0};
	struct drv_buf b[2] = {{gpa(100), 10, false}, {gpa(100) + 64, 1, true}};
	memcpy(ptr(100), cmd, sizeof(cmd));
	cr_assert_eq(drv_add(&F.q[F.ctrl], b, 2, false, &tok[100]), 0);
	kick(F.ctrl);
	cr_assert_eq(reap(F.ctrl, NULL), &tok[100]);
	cr_expect_eq(ptr(100)[64], 0);
	cr_expect_eq(vdev_net_guest_offloads(&F.net), 0);
	cr_expect_eq(F.rec.offloads, 0);
	h.flags = VDEV_NET_HDR_F_NEEDS_CSUM;
	cr_expect_eq(rx(0, F.frame, len, &h), VDEV_ENOTSUP);
	h = (struct vdev_net_hdr){.flags = VDEV_NET_HDR_F_NEEDS_CSUM,
				  .gso_type = VDEV_NET_HDR_GSO_TCPV4, .gso_size = 1448,
				  .csum_start = 34, .csum_offset = 16};
	cr_expect_eq(rx(0, F.frame, len, &h), VDEV_ENOTSUP);
	/* a GSO frame may be larger than the MTU when the guest takes TSO */
	memset(ptr(100), 0, 10);
	ptr(100)[0] = 5;
	ptr(100)[2] = (uint8_t)(N(GUEST_CSUM) | N(GUEST_TSO4));
	ptr(100)[64] = 0xee;
	cr_assert_eq(drv_add(&F.q[F.ctrl], b, 2, false, &tok[100]), 0);
	kick(F.ctrl);
	cr_assert_eq(reap(F.ctrl, NULL), &tok[100]);
	cr_expect_eq(ptr(100)[64], 0);
	len = make_frame(F.frame, HOST_MAC, 9000, 5);
	post_rx(0, 20, 16, 4096);
	cr_expect_eq(rx(0, F.frame, len, &h), 0);
}

/*
 * IN_ORDER is offered: every queue completes in the order it popped, through
 * transmit push-back (unpop) and resume, malformed transmit chains,
 * mergeable receive over several buffers, a refused delivery (unpop) and a
 * malformed receive buffer. A push out of order would be refused by the
 * core and the chain would never come back.
 */
static int ctrl_flag(uint8_t cmd, uint8_t on);

static void in_order(bool packed)
{
	teardown();
	setup_with((struct opts){.packed = packed, .tx_batch = 4});
	cr_assert(F.neg & F(IN_ORDER));
	uint8_t h[VDEV_NET_HDR_LEN] = {0};
	size_t len = make_frame(F.frame, HOST_MAC, 200, 9);
	F.rec.block = true;
	F.rec.block_at = 3;
	for (int t = 0; t < 10; t++) {
		if (t == 5) /* malformed: no room for a header */
			cr_assert_eq(drv_add(&F.q[1], &(struct drv_buf){gpa(t), 4, false}, 1, false,
					     &tok[t]), 0);
		else
			queue_tx(0, t, h, F.frame, len, t % 3 == 0 ? TX_INDIRECT : TX_SPLIT_HDR);
	}
	kick(1);
	for (int t = 0; t < 3; t++)
		cr_assert_eq(reap(1, NULL), &tok[t]);
	cr_expect_null(reap(1, NULL));
	F.rec.block = false;
	cr_assert_eq(vdev_net_tx_resume(&F.net, 0), 7);
	for (int t = 3; t < 10; t++)
		cr_assert_eq(reap(1, NULL), &tok[t]);
	cr_expect_eq(F.rec.transmitted, 9);

	/* receive: too little room (nothing consumed), then mergeable */
	post_rx(0, 20, 4, 100);
	size_t big = make_frame(F.frame, HOST_MAC, 1000, 4);
	cr_assert_eq(rx(0, F.frame, big, NULL), VDEV_EAGAIN);
	post_rx(0, 24, 12, 100);
	cr_assert_eq(rx(0, F.frame, big, NULL), 0);
	for (int t = 20; t < 31; t++)
		cr_assert_eq(reap(0, NULL), &tok[t]);
	/* a malformed buffer (readable) after a good one: both back in order */
	cr_assert_eq(drv_add(&F.q[0], &(struct drv_buf){gpa(40), 100, false}, 1, false, &tok[40]),
		     0);
	kick(0);
	cr_assert_eq(rx(0, F.frame, big, NULL), VDEV_EPROTO);
	for (int t = 31; t < 36; t++)
		cr_assert_eq(reap(0, NULL), &tok[t]);
	cr_assert_eq(reap(0, NULL), &tok[40]);
	cr_expect_null(reap(0, NULL));
	/* the control queue */
	cr_expect_eq(ctrl_flag(1, 1), 0);
	struct vdev_vq_stats st;
	for (unsigned q = 0; q < 2; q++) {
		vdev_vq_get_stats(&F.queues[q], &st);
		cr_expect_eq(st.pushed, st.popped, "queue %u", q);
	}
}
Test(net, in_order_completions_follow_pops_split) { in_order(false); }
Test(net, in_order_completions_follow_pops_packed) { in_order(true); }

/* ---- control queue ---- */

/* Send one control command; returns the ack byte (0xee if not written). */
static int ctrl(uint8_t cls, uint8_t cmd, const void *data, size_t len)
{
	static int n;
	int t = 200 + (n++ % 50);
	uint8_t *p = ptr(t);
	p[0] = cls, p[1] = cmd;
	if (len)
		memcpy(p + 2, data, len);
	p[SLOT - 1] = 0xee;
	struct drv_buf b[3];
	unsigned k = 0;
	b[k++] = (struct drv_buf){gpa(t), 2, false};
	if (len)
		b[k++] = (struct drv_buf){gpa(t) + 2, (uint32_t)len, false};
	b[k++] = (struct drv_buf){gpa(t) + SLOT - 1, 1, true};
	cr_assert_eq(drv_add(&F.q[F.ctrl], b, k, false, &tok[t]), 0);
	kick(F.ctrl);
	uint32_t ul;
	cr_assert_eq(reap(F.ctrl, &ul), &tok[t]);
	return p[SLOT - 1];
}

static int ctrl_flag(uint8_t cmd, uint8_t on) { return ctrl(0, cmd, &on, 1); }

/* Deliver a frame to `dst`; true if the guest got it. */
static bool delivered(const uint8_t *dst)
{
	static int t;
	size_t len = make_frame(F.frame, dst, 64, 1);
	if (drv_outstanding(&F.q[0]) == 0) /* one receive buffer posted at a time */
		post_rx(0, 150 + (t++ % 40), 1, 2048);
	int rc = rx(0, F.frame, len, NULL);
	if (rc == 0) {
		cr_assert_not_null(reap(0, NULL));
		return true;
	}
	cr_assert_eq(rc, VDEV_ENOENT);
	return false;
}

Test(net, rx_filter_modes)
{
	/* defaults: own MAC, broadcast, all multicast; not other unicast */
	cr_expect(delivered(HOST_MAC));
	cr_expect(delivered(BCAST));
	cr_expect(delivered(MCAST));
	cr_expect(!delivered(OTHER_MAC));
	/* the driver programs a multicast list and turns allmulti off */
	uint8_t tbl[4 + 4 + 6] = {0, 0, 0, 0, 1, 0, 0, 0};
	memcpy(tbl + 8, MCAST2, 6);
	cr_expect_eq(ctrl(1, 0, tbl, sizeof(tbl)), 0);
	cr_expect_eq(ctrl_flag(1, 0), 0);
	cr_expect(!delivered(MCAST));
	cr_expect(delivered(MCAST2));
	/* a unicast table entry */
	uint8_t tbl2[4 + 6 + 4] = {1, 0, 0, 0};
	memcpy(tbl2 + 4, OTHER_MAC, 6);
	cr_expect_eq(ctrl(1, 0, tbl2, sizeof(tbl2)), 0);
	cr_expect(delivered(OTHER_MAC));
	cr_expect(!delivered(MCAST2), "the new table replaced the multicast list");
	cr_expect_eq(ctrl(1, 0, (uint8_t[8]){0}, 8), 0);
	cr_expect(!delivered(OTHER_MAC));
	/* promisc, then the suppressions */
	cr_expect_eq(ctrl_flag(0, 1), 0);
	cr_expect(delivered(OTHER_MAC));
	cr_expect(delivered(MCAST));
	cr_expect_eq(ctrl_flag(0, 0), 0);
	cr_expect_eq(ctrl_flag(2, 1), 0); /* alluni */
	cr_expect(delivered(OTHER_MAC));
	cr_expect_eq(ctrl_flag(4, 1), 0); /* nouni wins over alluni */
	cr_expect(!delivered(OTHER_MAC));
	cr_expect(!delivered(HOST_MAC));
	cr_expect_eq(ctrl_flag(4, 0), 0);
	cr_expect_eq(ctrl_flag(1, 1), 0); /* allmulti */
	cr_expect_eq(ctrl_flag(3, 1), 0); /* nomulti wins over allmulti */
	cr_expect(!delivered(MCAST));
	cr_expect(delivered(BCAST), "nomulti does not apply to broadcast");
	cr_expect_eq(ctrl_flag(5, 1), 0);
	cr_expect(!delivered(BCAST));
	/* bad flag values and lengths */
	cr_expect_eq(ctrl_flag(0, 2), 1);
	cr_expect_eq(ctrl(0, 0, (uint8_t[2]){1, 1}, 2), 1);
	cr_expect_eq(ctrl(0, 0, NULL, 0), 1);
	cr_expect_eq(ctrl_flag(6, 1), 1, "unknown rx command");
}

Test(net, rx_filter_vlan)
{
	uint8_t f[64];
	make_frame(f, HOST_MAC, 64, 1);
	f[12] = 0x81, f[13] = 0x00, f[14] = 0x00, f[15] = 42;
	post_rx(0, 0, 4, 2048);
	cr_expect_eq(rx(0, f, 64, NULL), VDEV_ENOENT, "VLAN 42 not in the table");
	uint8_t vid[2] = {42, 0};
	cr_expect_eq(ctrl(2, 0, vid, 2), 0);
	cr_expect_eq(rx(0, f, 64, NULL), 0);
	cr_expect_eq(ctrl(2, 1, vid, 2), 0);
	cr_expect_eq(rx(0, f, 64, NULL), VDEV_ENOENT);
	uint8_t bad[2] = {0x00, 0x10}; /* 4096 */
	cr_expect_eq(ctrl(2, 0, bad, 2), 1);
	cr_expect_eq(ctrl(2, 7, vid, 2), 1);
	cr_expect_eq(ctrl(2, 0, vid, 1), 1);
	make_frame(f, HOST_MAC, 64, 1);
	cr_expect_eq(rx(0, f, 64, NULL), 0, "untagged frames pass");
}

Test(net, mac_table_set_bad_counts_change_nothing)
{
	uint8_t tbl[4 + 6 + 4] = {1, 0, 0, 0};
	memcpy(tbl + 4, OTHER_MAC, 6);
	cr_expect_eq(ctrl(1, 0, tbl, sizeof(tbl)), 0);
	cr_expect(delivered(OTHER_MAC));
	uint8_t bad[4 + 6 + 4];
	memcpy(bad, tbl, sizeof(bad));
	bad[0] = 2; /* two unicast entries, one in the payload */
	cr_expect_eq(ctrl(1, 0, bad, sizeof(bad)), 1);
	bad[0] = 0xff, bad[1] = 0xff, bad[2] = 0xff, bad[3] = 0xff;
	cr_expect_eq(ctrl(1, 0, bad, sizeof(bad)), 1);
	memcpy(bad, tbl, sizeof(bad));
	bad[10] = 9; /* multicast count beyond the payload */
	cr_expect_eq(ctrl(1, 0, bad, sizeof(bad)), 1);
	cr_expect_eq(ctrl(1, 0, tbl, 6), 1, "second count missing");
	uint8_t trailing[4 + 6 + 4 + 1];
	memcpy(trailing, tbl, sizeof(tbl));
	trailing[14] = 0;
	cr_expect_eq(ctrl(1, 0, trailing, sizeof(trailing)), 1, "trailing bytes");
	cr_expect(delivered(OTHER_MAC), "the table is unchanged");
	/* more entries than the device holds: it accepts all unicast */
	static uint8_t big[4 + 6 * (VDEV_NET_MAC_TABLE + 1) + 4];
	memset(big, 0, sizeof(big));
	big[0] = VDEV_NET_MAC_TABLE + 1;
	cr_expect_eq(ctrl(1, 0, big, sizeof(big)), 0);
	cr_expect(delivered((const uint8_t[6]){0x02, 9, 9, 9, 9, 9}));
}

Test(net, mac_addr_set_policy)
{
	uint8_t c[6];
	cr_expect_eq(ctrl(1, 1, OTHER_MAC, 6), 0);
	cr_assert_eq(drv_virtio_config_read(&F.tr, 0, c, 6), 0);
	cr_expect_arr_eq(c, OTHER_MAC, 6, "config mac follows MAC_ADDR_SET");
	cr_expect(delivered(OTHER_MAC));
	cr_expect(!delivered(HOST_MAC));
	/* a denying host policy: VIRTIO_NET_ERR and the MAC stays */
	F.rec.allow_mac = false;
	cr_expect_eq(ctrl(1, 1, HOST_MAC, 6), 1);
	uint8_t m[6];
	vdev_net_mac(&F.net, m);
	cr_expect_arr_eq(m, OTHER_MAC, 6);
	cr_expect_eq(ctrl(1, 1, OTHER_MAC, 6), 0, "setting the current MAC is no change");
	/* malformed */
	F.rec.allow_mac = true;
	cr_expect_eq(ctrl(1, 1, MCAST, 6), 1, "multicast station address");
	cr_expect_eq(ctrl(1, 1, HOST_MAC, 5), 1);
	cr_expect_eq(ctrl(1, 9, HOST_MAC, 6), 1);
	struct vdev_net_stats st;
	vdev_net_get_stats(&F.net, &st);
	cr_expect_eq(st.ctrl_denied, 1);
	/* reset gives the host's MAC back (stable across guest reboots) */
	cr_assert_eq(drv_virtio_reset(&F.tr), 0);
	vdev_net_mac(&F.net, m);
	cr_expect_arr_eq(m, HOST_MAC, 6);
}

Test(net, promisc_policy)
{
	F.rec.allow_promisc = false;
	cr_expect_eq(ctrl_flag(0, 1), 1);
	cr_expect_eq(ctrl_flag(2, 1), 1, "all-unicast is promiscuous too");
	cr_expect(!delivered(OTHER_MAC));
	cr_expect_eq(ctrl_flag(0, 0), 0, "turning it off is always allowed");
}

Test(net, mq_pairs_and_ctrl_queue_index)
{
	cr_assert_eq(F.ctrl, 2 * PAIRS);
	cr_expect_eq(vdev_net_active_pairs(&F.net), 1);
	uint8_t v[2] = {0, 0};
	cr_expect_eq(ctrl(4, 0, v, 2), 1, "0 pairs");
	v[0] = PAIRS + 1;
	cr_expect_eq(ctrl(4, 0, v, 2), 1, "more than max");
	v[0] = 2;
	cr_expect_eq(ctrl(4, 0, v, 1), 1, "short");
	cr_expect_eq(ctrl(4, 1, v, 2), 1, "RSS not offered");
	cr_expect_eq(ctrl(4, 0, v, 2), 0);
	cr_expect_eq(vdev_net_active_pairs(&F.net), 2);
	/* pair 1 carries traffic both ways */
	post_rx(1, 0, 2, 2048);
	size_t len = make_frame(F.frame, HOST_MAC, 300, 2);
	cr_assert_eq(rx(1, F.frame, len, NULL), 0);
	cr_assert_eq(reap(2, NULL), &tok[0]);
	/* pairs beyond the active ones are folded onto them */
	cr_assert_eq(rx(3, F.frame, len, NULL), 0);
	cr_assert_eq(reap(2, NULL), &tok[1]);
	uint8_t h[VDEV_NET_HDR_LEN] = {0};
	queue_tx(1, 5, h, F.frame, len, TX_PLAIN);
	kick(3);
	cr_assert_eq(reap(3, NULL), &tok[5]);
	cr_expect_eq(F.rec.pair, 1);
}

Test(net, no_filter_without_ctrl_rx)
{
	teardown();
	setup_with((struct opts){.drop = N(CTRL_VQ) | N(CTRL_RX) | N(CTRL_RX_EXTRA) | N(MQ) |
					   N(CTRL_MAC_ADDR) | N(CTRL_VLAN) | N(GUEST_ANNOUNCE) |
					   N(CTRL_GUEST_OFFLOADS)});
	cr_assert_eq(F.neg & N(CTRL_VQ), 0);
	cr_expect(delivered(OTHER_MAC), "no way to program a filter: everything is taken");
	cr_expect(delivered(HOST_MAC));
	cr_expect_eq(vdev_net_process_ctrl(&F.net), VDEV_ENOTSUP);
}

/* What DPDK's virtio-user and QEMU's vhost-user front-end send the back-end
 * when they run the control queue themselves: the control features without
 * CTRL_VQ. Accepted, and inert: no filter, every pair usable. */
Test(net, ctrl_features_inert_without_ctrl_vq)
{
	teardown();
	setup_with((struct opts){.drop = N(CTRL_VQ), .frontend = true});
	cr_assert_eq(F.neg & N(CTRL_VQ), 0);
	cr_assert_eq(F.neg & (N(CTRL_RX) | N(CTRL_VLAN) | N(CTRL_MAC_ADDR) | N(MQ)),
		     N(CTRL_RX) | N(CTRL_VLAN) | N(CTRL_MAC_ADDR) | N(MQ));
	cr_expect(delivered(HOST_MAC));
	cr_expect(delivered(OTHER_MAC), "no MAC filter without the control queue");
	cr_expect(delivered(BCAST));
	cr_expect(delivered(MCAST));
	uint8_t f[64];
	make_frame(f, OTHER_MAC, 64, 1);
	f[12] = 0x81, f[13] = 0x00, f[14] = 0x00, f[15] = 42;
	post_rx(0, 0, 1, 2048);
	cr_expect_eq(rx(0, f, 64, NULL), 0, "no VLAN filter without the control queue");
	cr_assert_eq(reap(0, NULL), &tok[0]);
	cr_expect_eq(vdev_net_announce(&F.net), VDEV_ENOTSUP, "nobody could ack it");
	cr_expect_eq(vdev_net_process_ctrl(&F.net), VDEV_ENOTSUP);
	/* MQ: the front-end steers the pairs; both carry traffic */
	cr_expect_eq(vdev_net_active_pairs(&F.net), PAIRS);
	post_rx(1, 1, 1, 2048);
	size_t len = make_frame(F.frame, HOST_MAC, 300, 2);
	cr_assert_eq(rx(1, F.frame, len, NULL), 0);
	cr_assert_eq(reap(2, NULL), &tok[1]);
	uint8_t h[VDEV_NET_HDR_LEN] = {0};
	queue_tx(1, 5, h, F.frame, len, TX_PLAIN);
	kick(3);
	cr_assert_eq(reap(3, NULL), &tok[5]);
	cr_expect_eq(F.rec.pair, 1);
	/* and after a reset and a renegotiation with the control queue, the
	 * same features filter again */
	teardown();
	setup();
	cr_expect(!delivered(OTHER_MAC));
	cr_expect_eq(vdev_net_active_pairs(&F.net), 1);
}

/* CTRL_RX_EXTRA without CTRL_RX is accepted from a front-end (as above)
 * and inert. */
Test(net, ctrl_rx_extra_inert_without_ctrl_rx)
{
	teardown();
	setup_with((struct opts){.drop = N(CTRL_RX), .frontend = true});
	cr_assert(F.neg & N(CTRL_RX_EXTRA));
	cr_expect_eq(ctrl_flag(4, 1), 1, "NOUNI needs CTRL_RX too");
	cr_expect(delivered(HOST_MAC));
	cr_expect(delivered(OTHER_MAC));
}

Test(net, ctrl_queue_without_mq_is_queue_2)
{
	teardown();
	setup_with((struct opts){.drop = N(MQ)});
	cr_assert_eq(F.ctrl, 2);
	uint8_t v[2] = {1, 0};
	cr_expect_eq(ctrl(4, 0, v, 2), 1, "MQ not negotiated");
	cr_expect_eq(ctrl_flag(0, 0), 0);
}

Test(net, ctrl_malformed_chains)
{
	/* no writable byte for the ack: completed empty */
	struct drv_buf b[2] = {{gpa(0), 4, false}};
	ptr(0)[0] = 0, ptr(0)[1] = 0;
	cr_assert_eq(drv_add(&F.q[F.ctrl], b, 1, false, &tok[0]), 0);
	/* only an ack byte, no header: ERR */
	b[0] = (struct drv_buf){gpa(1), 1, true};
	ptr(1)[0] = 0xee;
	cr_assert_eq(drv_add(&F.q[F.ctrl], b, 1, false, &tok[1]), 0);
	/* header split over descriptors one byte each */
	uint8_t on = 0;
	ptr(2)[0] = 0, ptr(2)[1] = 1, ptr(2)[2] = on, ptr(2)[100] = 0xee;
	struct drv_buf s[4] = {{gpa(2), 1, false}, {gpa(2) + 1, 1, false}, {gpa(2) + 2, 1, false},
			       {gpa(2) + 100, 1, true}};
	cr_assert_eq(drv_add(&F.q[F.ctrl], s, 4, false, &tok[2]), 0);
	kick(F.ctrl);
	uint32_t ul;
	cr_assert_eq(reap(F.ctrl, &ul), &tok[0]);
	cr_expect_eq(ul, 0);
	cr_assert_eq(reap(F.ctrl, &ul), &tok[1]);
	cr_expect_eq(ptr(1)[0], 1);
	cr_assert_eq(reap(F.ctrl, &ul), &tok[2]);
	cr_expect_eq(ptr(2)[100], 0, "ALLMULTI 0 split over descriptors");
	cr_expect_eq(ctrl(99, 0, NULL, 0), 1, "unknown class");
	cr_expect_eq(ctrl(3, 0, NULL, 0), 0, "ANNOUNCE_ACK");
	cr_expect_eq(ctrl(3, 0, &on, 1), 1, "ANNOUNCE_ACK with data");
}

/* After VQ_PAIRS_SET shrinks the pairs, a kick on an inactive pair's
 * transmit queue reaches nothing until the pairs grow again; then the
 * driver's next buffer there is notified even with EVENT_IDX (the inert
 * kick asked for it), and that notification takes the waiting frame too. */
static void tx_inactive_pair(bool packed)
{
	if (packed) {
		teardown();
		setup_with((struct opts){.packed = true});
	}
	cr_assert(F.neg & F(EVENT_IDX));
	uint8_t v[2] = {2, 0}, h[VDEV_NET_HDR_LEN] = {0};
	size_t len = make_frame(F.frame, HOST_MAC, 100, 3);
	cr_assert_eq(ctrl(4, 0, v, 2), 0);
	v[0] = 1;
	cr_assert_eq(ctrl(4, 0, v, 2), 0);
	queue_tx(1, 5, h, F.frame, len, TX_PLAIN);
	kick(3);
	cr_expect_null(reap(3, NULL));
	cr_expect_eq(F.rec.transmitted, 0);
	cr_expect_eq(vdev_net_process_tx(&F.net, 1), 0);
	cr_expect_eq(vdev_net_tx_resume(&F.net, 1), 0);
	cr_expect_eq(F.rec.transmitted, 0);
	/* pair 0 still works */
	queue_tx(0, 6, h, F.frame, len, TX_PLAIN);
	kick(1);
	cr_assert_eq(reap(1, NULL), &tok[6]);
	cr_expect_eq(F.rec.transmitted, 1);
	/* the pairs grow: the driver's next frame on pair 1 is notified */
	v[0] = 2;
	cr_assert_eq(ctrl(4, 0, v, 2), 0);
	queue_tx(1, 7, h, F.frame, len, TX_PLAIN);
	cr_expect(drv_kick_prepare(&F.q[3]), "the next buffer after an inert kick is notified");
	F.tr.ops->notify(F.tr.t, 3, false, 0);
	cr_assert_eq(reap(3, NULL), &tok[5]);
	cr_assert_eq(reap(3, NULL), &tok[7]);
	cr_expect_eq(F.rec.transmitted, 3);
	cr_expect_eq(F.rec.pair, 1);
	/* and EVENT_IDX is back to one notification per batch */
	queue_tx(1, 8, h, F.frame, len, TX_PLAIN);
	kick(3);
	cr_assert_eq(reap(3, NULL), &tok[8]);
	queue_tx(1, 9, h, F.frame, len, TX_PLAIN);
	queue_tx(1, 10, h, F.frame, len, TX_PLAIN);
	cr_expect(drv_kick_prepare(&F.q[3]));
	F.tr.ops->notify(F.tr.t, 3, false, 0);
	cr_assert_eq(reap(3, NULL), &tok[9]);
	cr_assert_eq(reap(3, NULL), &tok[10]);
	queue_tx(1, 11, h, F.frame, len, TX_PLAIN);
	queue_tx(1, 12, h, F.frame, len, TX_PLAIN);
	cr_expect(drv_kick_prepare(&F.q[3]), "ring found empty: the first of a batch is notified");
	/* a third buffer before the device ran: no new notification */
	queue_tx(1, 13, h, F.frame, len, TX_PLAIN);
	cr_expect_not(drv_kick_prepare(&F.q[3]));
	F.tr.ops->notify(F.tr.t, 3, false, 0);
	cr_assert_eq(reap(3, NULL), &tok[11]);
	/* reset: one pair again, pair 1 inert */
	cr_assert_eq(drv_virtio_reset(&F.tr), 0);
	cr_expect_eq(vdev_net_active_pairs(&F.net), 1);
}

Test(net, tx_on_inactive_pair_is_inert) { tx_inactive_pair(false); }
Test(net, tx_on_inactive_pair_is_inert_packed) { tx_inactive_pair(true); }

/* struct virtio_net_ctrl: the ack is the first writable byte, any
 * command-specific-result follows it; the device writes only the ack. */
Test(net, ctrl_ack_is_first_writable_byte)
{
	uint8_t *p = ptr(0);
	p[0] = 0, p[1] = 1, p[2] = 1; /* RX ALLMULTI on */
	memset(p + 64, 0xee, 8);
	struct drv_buf b[4] = {{gpa(0), 3, false}, {gpa(0) + 64, 4, true}, {gpa(0) + 68, 4, true}};
	cr_assert_eq(drv_add(&F.q[F.ctrl], b, 3, false, &tok[0]), 0);
	/* a bad command with a one-byte first writable descriptor */
	p = ptr(1);
	p[0] = 0, p[1] = 1, p[2] = 7;
	memset(p + 64, 0xee, 8);
	b[0] = (struct drv_buf){gpa(1), 3, false};
	b[1] = (struct drv_buf){gpa(1) + 64, 1, true};
	b[2] = (struct drv_buf){gpa(1) + 65, 7, true};
	cr_assert_eq(drv_add(&F.q[F.ctrl], b, 3, false, &tok[1]), 0);
	kick(F.ctrl);
	uint32_t ul;
	cr_assert_eq(reap(F.ctrl, &ul), &tok[0]);
	cr_expect_eq(ul, 1);
	cr_expect_eq(ptr(0)[64], 0, "VIRTIO_NET_OK in the first writable byte");
	for (int i = 65; i < 72; i++)
		cr_expect_eq(ptr(0)[i], 0xee, "byte %d untouched", i);
	cr_assert_eq(reap(F.ctrl, &ul), &tok[1]);
	cr_expect_eq(ul, 1);
	cr_expect_eq(ptr(1)[64], 1, "VIRTIO_NET_ERR in the first writable byte");
	for (int i = 65; i < 72; i++)
		cr_expect_eq(ptr(1)[i], 0xee, "byte %d untouched", i);
}

Test(net, link_and_announce)
{
	(void)F.tr.ops->take_interrupts(F.tr.t);
	uint8_t c[8];
	vdev_net_set_link(&F.net, false);
	cr_expect(F.tr.ops->take_interrupts(F.tr.t) & DRV_INT_CONFIG);
	cr_assert_eq(drv_virtio_config_read(&F.tr, 0, c, 8), 0);
	cr_expect_eq(c[6] & VDEV_NET_S_LINK_UP, 0);
	vdev_net_set_link(&F.net, true);
	cr_assert_eq(vdev_net_announce(&F.net), 0);
	cr_expect(F.tr.ops->take_interrupts(F.tr.t) & DRV_INT_CONFIG);
	cr_assert_eq(drv_virtio_config_read(&F.tr, 0, c, 8), 0);
	cr_expect_eq(c[6], VDEV_NET_S_LINK_UP | VDEV_NET_S_ANNOUNCE);
	cr_expect_eq(ctrl(3, 0, NULL, 0), 0);
	cr_assert_eq(drv_virtio_config_read(&F.tr, 0, c, 8), 0);
	cr_expect_eq(c[6], VDEV_NET_S_LINK_UP, "ANNOUNCE_ACK clears the bit");
	/* the host changes the MAC at run time */
	vdev_net_set_mac(&F.net, OTHER_MAC);
	cr_expect(F.tr.ops->take_interrupts(F.tr.t) & DRV_INT_CONFIG);
	cr_assert_eq(drv_virtio_config_read(&F.tr, 0, c, 6), 0);
	cr_expect_arr_eq(c, OTHER_MAC, 6);
	cr_expect(delivered(OTHER_MAC));
	cr_assert_eq(drv_virtio_reset(&F.tr), 0);
	uint8_t m[6];
	vdev_net_mac(&F.net, m);
	cr_expect_arr_eq(m, OTHER_MAC, 6, "a host-set MAC survives reset");
}

Test(net, not_running_refuses_delivery)
{
	size_t len = make_frame(F.frame, HOST_MAC, 100, 1);
	cr_assert_eq(drv_virtio_reset(&F.tr), 0);
	cr_expect_eq(rx(0, F.frame, len, NULL), VDEV_EPERM);
	cr_expect_eq(vdev_net_process_tx(&F.net, PAIRS), VDEV_ENOENT);
}
