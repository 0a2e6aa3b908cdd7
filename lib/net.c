/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-net device model (spec "Network Device").
 *
 * Reads top-down: configuration layout and features, the receive filter,
 * transmit (pop -> header -> checks -> backend -> push), receive (filter
 * -> buffers -> copy -> header -> push), the control queue (one handler
 * per class), the device core ops, init.
 */
#include "vdev/net.h"

#include "compiler.h"

#define P(x) VDEV_PRIV(x)
#define BIT(b) VDEV_BIT(VDEV_NET_F_##b)

/* ---- spec constants ----------------------------------------------------------- */

#define VIRTIO_NET_OK 0u
#define VIRTIO_NET_ERR 1u

#define VIRTIO_NET_CTRL_RX 0u
#define VIRTIO_NET_CTRL_RX_PROMISC 0u
#define VIRTIO_NET_CTRL_RX_ALLMULTI 1u
#define VIRTIO_NET_CTRL_RX_ALLUNI 2u
#define VIRTIO_NET_CTRL_RX_NOMULTI 3u
#define VIRTIO_NET_CTRL_RX_NOUNI 4u
#define VIRTIO_NET_CTRL_RX_NOBCAST 5u
#define VIRTIO_NET_CTRL_MAC 1u
#define VIRTIO_NET_CTRL_MAC_TABLE_SET 0u
#define VIRTIO_NET_CTRL_MAC_ADDR_SET 1u
#define VIRTIO_NET_CTRL_VLAN 2u
#define VIRTIO_NET_CTRL_VLAN_ADD 0u
#define VIRTIO_NET_CTRL_VLAN_DEL 1u
#define VIRTIO_NET_CTRL_ANNOUNCE 3u
#define VIRTIO_NET_CTRL_ANNOUNCE_ACK 0u
#define VIRTIO_NET_CTRL_MQ 4u
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0u
#define VIRTIO_NET_CTRL_GUEST_OFFLOADS 5u
#define VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET 0u

#define ETH_HLEN 14u
#define RX_PUSH_CHUNK 32u /* receive buffers completed per batch push */
#define ETH_VLAN_HLEN 18u
#define ETH_P_8021Q 0x8100u

/* struct virtio_net_config field offsets */
enum {
	CFG_MAC = 0,
	CFG_STATUS = 6,
	CFG_MAX_PAIRS = 8,
	CFG_MTU = 10,
	CFG_SPEED = 12,
	CFG_DUPLEX = 16,
};

/*
 * IN_ORDER: the device completes every queue in the order it pops. Transmit
 * is synchronous and completes each batch in order (a pushed-back frame and
 * the rest of its batch are unpopped, not skipped); receive completes the
 * buffers of a frame in order, or unpops them all; the control queue serves
 * one command at a time.
 */
#define DEFAULT_RING_FEATURES                                                              \
	(VDEV_BIT(VDEV_F_INDIRECT_DESC) | VDEV_BIT(VDEV_F_EVENT_IDX) |                      \
	 VDEV_BIT(VDEV_F_RING_PACKED) | VDEV_BIT(VDEV_F_RING_RESET) | VDEV_BIT(VDEV_F_IN_ORDER))
#define GUEST_OFFLOADS                                                                     \
	(BIT(GUEST_CSUM) | BIT(GUEST_TSO4) | BIT(GUEST_TSO6) | BIT(GUEST_ECN) | BIT(GUEST_UFO))

#define HAS_OP(ops, op)                                                                   \
	((ops)->size >= offsetof(struct vdev_net_backend_ops, op) + sizeof((ops)->op) &&     \
	 (ops)->op != NULL)

/* The features that only mean something through the control queue. */
#define NEEDS_CTRL_VQ                                                                      \
	(BIT(CTRL_RX) | BIT(CTRL_RX_EXTRA) | BIT(CTRL_VLAN) | BIT(GUEST_ANNOUNCE) | BIT(MQ) |   \
	 BIT(CTRL_MAC_ADDR) | BIT(CTRL_GUEST_OFFLOADS))

/*
 * The negotiated features that take effect. A feature whose dependency was
 * not negotiated has no effect: without CTRL_VQ no control feature does
 * (a vhost-user front-end that runs the control queue itself sends them;
 * the device then filters nothing and leaves queue pairs to the front-end),
 * and CTRL_RX_EXTRA needs CTRL_RX.
 */
static uint64_t effective_features(const struct vdev_net *net)
{
	uint64_t f = vdev_dev_features(&net->P(dev));

	if (!(f & BIT(CTRL_VQ)))
		f &= ~NEEDS_CTRL_VQ;
	if (!(f & BIT(CTRL_RX)))
		f &= ~BIT(CTRL_RX_EXTRA);
	return f;
}

static bool negotiated(const struct vdev_net *net, unsigned bit)
{
	return (effective_features(net) >> bit) & 1u;
}

static uint16_t rxq(uint16_t pair) { return (uint16_t)(2u * pair); }
static uint16_t txq(uint16_t pair) { return (uint16_t)(2u * pair + 1u); }

static uint16_t ctrlq(const struct vdev_net *net)
{
	return negotiated(net, VDEV_NET_F_MQ) ? rxq(net->P(max_pairs)) : 2u;
}

/* ---- features and configuration ------------------------------------------------- */

VDEV_API uint64_t vdev_net_supported_features(const struct vdev_net_config *cfg)
{
	static const uint8_t zero[6];
	uint64_t f = BIT(STATUS) | BIT(MRG_RXBUF) | BIT(CTRL_VQ) | BIT(CTRL_RX) |
		     BIT(CTRL_RX_EXTRA) | BIT(CTRL_VLAN) | BIT(GUEST_ANNOUNCE);

	if (memcmp(cfg->mac, zero, 6) != 0)
		f |= BIT(MAC) | BIT(CTRL_MAC_ADDR);
	if (cfg->mtu != 0)
		f |= BIT(MTU);
	if (cfg->max_pairs > 1)
		f |= BIT(MQ);
	if (cfg->speed != 0)
		f |= BIT(SPEED_DUPLEX);
	f |= cfg->offloads & VDEV_NET_OFFLOAD_MASK;
	if (cfg->offloads & GUEST_OFFLOADS)
		f |= BIT(CTRL_GUEST_OFFLOADS);
	return f;
}

/* The spec's feature dependencies ("Feature bit requirements"). */
static bool deps_ok(uint64_t f)
{
	static const struct {
		uint8_t bit;
		uint64_t needs; /* any one of these */
	} deps[] = {
		{VDEV_NET_F_GUEST_TSO4, BIT(GUEST_CSUM)},
		{VDEV_NET_F_GUEST_TSO6, BIT(GUEST_CSUM)},
		{VDEV_NET_F_GUEST_ECN, BIT(GUEST_TSO4) | BIT(GUEST_TSO6)},
		{VDEV_NET_F_GUEST_UFO, BIT(GUEST_CSUM)},
		{VDEV_NET_F_HOST_TSO4, BIT(CSUM)},
		{VDEV_NET_F_HOST_TSO6, BIT(CSUM)},
		{VDEV_NET_F_HOST_ECN, BIT(HOST_TSO4) | BIT(HOST_TSO6)},
		{VDEV_NET_F_HOST_UFO, BIT(CSUM)},
		{VDEV_NET_F_CTRL_RX, BIT(CTRL_VQ)},
		{VDEV_NET_F_CTRL_VLAN, BIT(CTRL_VQ)},
		{VDEV_NET_F_GUEST_ANNOUNCE, BIT(CTRL_VQ)},
		{VDEV_NET_F_MQ, BIT(CTRL_VQ)},
		{VDEV_NET_F_CTRL_MAC_ADDR, BIT(CTRL_VQ)},
		{VDEV_NET_F_CTRL_RX_EXTRA, BIT(CTRL_RX)},
		{VDEV_NET_F_CTRL_GUEST_OFFLOADS, BIT(CTRL_VQ)},
	};

	for (size_t i = 0; i < VDEV__ARRAY_SIZE(deps); i++)
		if ((f & VDEV_BIT(deps[i].bit)) && !(f & deps[i].needs))
			return false;
	return true;
}

static void put_status(struct vdev_net *net, uint16_t set, uint16_t clear)
{
	uint16_t s = vdev__get_le16(net->P(config) + CFG_STATUS);

	s = (uint16_t)((s | set) & ~clear);
	vdev__put_le16(net->P(config) + CFG_STATUS, s);
}

VDEV_API void vdev_net_set_link(struct vdev_net *net, bool up)
{
	if (up)
		put_status(net, VDEV_NET_S_LINK_UP, 0);
	else
		put_status(net, 0, VDEV_NET_S_LINK_UP);
	vdev_dev_config_changed(&net->P(dev));
}

VDEV_API int vdev_net_announce(struct vdev_net *net)
{
	if (!negotiated(net, VDEV_NET_F_GUEST_ANNOUNCE))
		return VDEV_ENOTSUP;
	put_status(net, VDEV_NET_S_ANNOUNCE, 0);
	vdev_dev_config_changed(&net->P(dev));
	return 0;
}

static void set_guest_mac(struct vdev_net *net, const uint8_t mac[6])
{
	memcpy(net->P(mac), mac, 6);
	memcpy(net->P(config) + CFG_MAC, mac, 6);
}

VDEV_API void vdev_net_set_mac(struct vdev_net *net, const uint8_t mac[6])
{
	memcpy(net->P(host_mac), mac, 6);
	set_guest_mac(net, mac);
	vdev_dev_config_changed(&net->P(dev));
}

VDEV_API void vdev_net_mac(const struct vdev_net *net, uint8_t mac[6])
{
	memcpy(mac, net->P(mac), 6);
}

VDEV_API uint16_t vdev_net_active_pairs(const struct vdev_net *net)
{
	return net->P(active_pairs);
}

VDEV_API uint64_t vdev_net_guest_offloads(const struct vdev_net *net)
{
	return net->P(guest_offloads);
}

static void offloads_changed(struct vdev_net *net, uint64_t offloads)
{
	net->P(guest_offloads) = offloads;
	if (HAS_OP(net->P(ops), set_guest_offloads))
		net->P(ops)->set_guest_offloads(net->P(opaque), offloads);
}

/* ---- the receive filter --------------------------------------------------------- */

static bool mac_in(const uint8_t (*table)[6], unsigned n, const uint8_t *mac)
{
	for (unsigned i = 0; i < n; i++)
		if (memcmp(table[i], mac, 6) == 0)
			return true;
	return false;
}

static bool vlan_allowed(const struct vdev_net *net, uint64_t f, const uint8_t *eth, size_t len)
{
	uint16_t vid;

	if (!(f & BIT(CTRL_VLAN)) || len < ETH_VLAN_HLEN ||
	    ((unsigned)eth[12] << 8 | eth[13]) != ETH_P_8021Q)
		return true; /* untagged frames are not filtered */
	vid = (uint16_t)(((unsigned)eth[14] << 8 | eth[15]) & 0xfffu);
	return ((unsigned)net->P(vlans)[vid >> 3] >> (vid & 7u)) & 1u;
}

/* Spec "Packet Receive Filtering" and "Setting MAC Address Filtering".
 * `f`: effective_features(), looked up once per delivery. */
static bool rx_accept(const struct vdev_net *net, uint64_t f, const uint8_t *eth, size_t len)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	const uint8_t *dst = eth;

	if (!vlan_allowed(net, f, eth, len))
		return false;
	/* Without CTRL_RX (or without CTRL_VQ, which makes CTRL_RX inert) the
	 * driver cannot program a filter, and a vhost-user front-end that
	 * runs the control queue filters itself: take all. */
	if (net->P(promisc) || !(f & BIT(CTRL_RX)))
		return true;
	if (memcmp(dst, bcast, 6) == 0)
		return !net->P(nobcast);
	if (dst[0] & 1u) { /* multicast */
		if (net->P(nomulti))
			return false;
		return net->P(allmulti) || net->P(multi_overflow) ||
		       mac_in((const uint8_t (*)[6])net->P(multi), net->P(n_multi), dst);
	}
	if (net->P(nouni))
		return false;
	return net->P(alluni) || net->P(uni_overflow) || memcmp(dst, net->P(mac), 6) == 0 ||
	       mac_in((const uint8_t (*)[6])net->P(uni), net->P(n_uni), dst);
}

/* ---- transmit ------------------------------------------------------------------- */

static void hdr_decode(const uint8_t *raw, struct vdev_net_hdr *h)
{
	h->flags = raw[0];
	h->gso_type = raw[1];
	h->hdr_len = vdev__get_le16(raw + 2);
	h->gso_size = vdev__get_le16(raw + 4);
	h->csum_start = vdev__get_le16(raw + 6);
	h->csum_offset = vdev__get_le16(raw + 8);
	h->num_buffers = vdev__get_le16(raw + 10);
}

static void hdr_encode(const struct vdev_net_hdr *h, uint8_t *raw)
{
	raw[0] = h->flags;
	raw[1] = h->gso_type;
	vdev__put_le16(raw + 2, h->hdr_len);
	vdev__put_le16(raw + 4, h->gso_size);
	vdev__put_le16(raw + 6, h->csum_start);
	vdev__put_le16(raw + 8, h->csum_offset);
	vdev__put_le16(raw + 10, h->num_buffers);
}

/*
 * Check a header against the offloads allowed in one direction: `csum`
 * (CSUM / GUEST_CSUM negotiated) and the GSO types. Unknown flag bits are
 * ignored (spec), so they are cleared here. Returns false if the frame
 * cannot be passed on.
 */
static bool hdr_check(struct vdev_net_hdr *h, size_t frame_len, bool csum, bool tso4, bool tso6,
		      bool ecn, bool ufo, bool rx)
{
	uint8_t gso = (uint8_t)(h->gso_type & (uint8_t)~VDEV_NET_HDR_GSO_ECN);

	h->flags &= (uint8_t)(VDEV_NET_HDR_F_NEEDS_CSUM | (rx ? VDEV_NET_HDR_F_DATA_VALID : 0u));
	if (h->flags != 0 && !csum)
		return false;
	if ((h->flags & VDEV_NET_HDR_F_NEEDS_CSUM) &&
	    (uint32_t)h->csum_start + h->csum_offset + 2u > frame_len)
		return false; /* the checksum field must lie inside the frame */
	if (!(h->flags & VDEV_NET_HDR_F_NEEDS_CSUM))
		h->csum_start = h->csum_offset = 0;
	if (gso == VDEV_NET_HDR_GSO_NONE) {
		if (h->gso_type & VDEV_NET_HDR_GSO_ECN)
			return false;
		h->gso_size = 0;
		return true;
	}
	if ((gso == VDEV_NET_HDR_GSO_TCPV4 && !tso4) || (gso == VDEV_NET_HDR_GSO_TCPV6 && !tso6) ||
	    (gso == VDEV_NET_HDR_GSO_UDP && !ufo) ||
	    (gso != VDEV_NET_HDR_GSO_TCPV4 && gso != VDEV_NET_HDR_GSO_TCPV6 &&
	     gso != VDEV_NET_HDR_GSO_UDP))
		return false;
	if ((h->gso_type & VDEV_NET_HDR_GSO_ECN) && !ecn)
		return false;
	/* GSO needs the partial checksum and a segment size (spec). */
	return (h->flags & VDEV_NET_HDR_F_NEEDS_CSUM) && h->gso_size != 0;
}

/* Drop the first `skip` bytes of a segment list in place. */
static unsigned iov_skip_front(struct vdev_iov **iov, unsigned n, size_t skip)
{
	while (n > 0 && skip >= (*iov)->len) {
		skip -= (*iov)->len;
		(*iov)++;
		n--;
	}
	if (n > 0 && skip > 0) {
		(*iov)->base = (uint8_t *)(*iov)->base + skip;
		(*iov)->len -= skip;
	}
	return n;
}

static size_t max_frame(const struct vdev_net *net, bool gso)
{
	if (!gso && net->P(mtu) != 0)
		return (size_t)net->P(mtu) + ETH_VLAN_HLEN;
	return VDEV_NET_MAX_FRAME;
}

/* The negotiated transmit offloads, looked up once per transmit pass. */
struct tx_feat {
	bool csum, tso4, tso6, ecn, ufo;
};

static struct tx_feat tx_features(const struct vdev_net *net)
{
	return (struct tx_feat){
		.csum = negotiated(net, VDEV_NET_F_CSUM),
		.tso4 = negotiated(net, VDEV_NET_F_HOST_TSO4),
		.tso6 = negotiated(net, VDEV_NET_F_HOST_TSO6),
		.ecn = negotiated(net, VDEV_NET_F_HOST_ECN),
		.ufo = negotiated(net, VDEV_NET_F_HOST_UFO),
	};
}

/* One transmit chain. Returns VDEV_EAGAIN if the backend pushed back. */
static int tx_one(struct vdev_net *net, uint16_t pair, const struct tx_feat *f,
		  const struct vdev_vq_elem *e)
{
	uint8_t raw[VDEV_NET_HDR_LEN];
	struct vdev_net_hdr h;
	struct vdev_iov *iov = e->iov;
	unsigned n;
	size_t len;
	int rc;

	/* Transmit buffers are driver-readable only (the queue is
	 * device-reads-only: descriptors marked writable arrive readable); a
	 * chain that is rejected or has no room for a header is dropped. */
	if (e->error != 0 || e->n_in != 0 || e->out_bytes < VDEV_NET_HDR_LEN) {
		net->P(stats).tx_bad++;
		return 0;
	}
	/* The header, copied out once (it may span descriptors; usually it
	 * is the start of the first segment). */
	if (VDEV__LIKELY(iov[0].len >= VDEV_NET_HDR_LEN))
		memcpy(raw, iov[0].base, VDEV_NET_HDR_LEN);
	else
		vdev_iov_to_buf(iov, e->n_out, 0, raw, sizeof(raw));
	hdr_decode(raw, &h);
	h.num_buffers = 0;
	len = e->out_bytes - VDEV_NET_HDR_LEN;
	if (len < ETH_HLEN || len > max_frame(net, (h.gso_type & 0x7fu) != 0) ||
	    !hdr_check(&h, len, f->csum, f->tso4, f->tso6, f->ecn, f->ufo, false)) {
		net->P(stats).tx_bad++;
		return 0;
	}
	if (VDEV__LIKELY(iov[0].len == VDEV_NET_HDR_LEN)) { /* the header in its own segment */
		iov++;
		n = e->n_out - 1u;
	} else {
		n = iov_skip_front(&iov, e->n_out, VDEV_NET_HDR_LEN);
	}
	rc = net->P(ops)->transmit(net->P(opaque), pair, &h, iov, n, len);
	if (rc == VDEV_EAGAIN)
		return rc;
	if (rc < 0) {
		net->P(stats).tx_dropped++;
		return 0;
	}
	net->P(stats).tx_frames++;
	net->P(stats).tx_bytes += len;
	return 0;
}

VDEV_API int vdev_net_process_tx(struct vdev_net *net, uint16_t pair)
{
	static const uint32_t unwritten[VDEV_NET_TX_BATCH_MAX]; /* transmit writes nothing */
	/* Without the caller's tx_elems, a few at a time: the frame stays
	 * small (the stack budget, scripts/stack-budget.py). */
	struct vdev_vq_elem stack_el[VDEV_NET_TX_STACK_BATCH];
	struct vdev_vq_elem *el = stack_el;
	struct vdev_net_pair *pp;
	struct vdev_vq *vq;
	struct vdev_iov *iov;
	struct tx_feat f;
	unsigned batch, cap;
	int taken = 0;

	if (pair >= net->P(max_pairs))
		return VDEV_ENOENT;
	/* A pair beyond VQ_PAIRS_SET is inert: its chains stay on the ring
	 * until the pairs grow again, and the driver's next buffer there is
	 * to be notified (EVENT_IDX would let it skip that notification,
	 * and the chains would wait for ever). */
	if (pair >= net->P(active_pairs)) {
		vdev_vq_notify_on_next(&net->P(queues)[txq(pair)]);
		return 0;
	}
	pp = &net->P(pairs)[pair];
	vq = &net->P(queues)[txq(pair)];
	batch = net->P(tx_batch);
	cap = net->P(iov_per_chain);
	/* The batch's segments: the pair's run of tx_iovs, or without it the
	 * pair's transmit slot after its receive ones in iovs (batch 1). */
	if (net->P(tx_iovs) != NULL)
		iov = net->P(tx_iovs) + (size_t)pair * batch * cap;
	else
		iov = net->P(iovs) + ((size_t)pair * (net->P(rx_bufs) + 1u) + net->P(rx_bufs)) * cap;
	if (net->P(tx_elems) != NULL)
		el = net->P(tx_elems) + (size_t)pair * batch;
	else if (batch > VDEV_NET_TX_STACK_BATCH)
		batch = VDEV_NET_TX_STACK_BATCH;
	f = tx_features(net);
	while (!pp->P(tx_blocked)) {
		int rc = vdev_vq_pop_batch(vq, el, batch, iov, cap);
		unsigned n, done;

		if (rc <= 0) {
			if (rc < 0 && taken == 0)
				taken = rc;
			break;
		}
		n = (unsigned)rc;
		for (done = 0; done < n; done++) {
			/* tx_one leaves el[] as it is (the push and the unpop
			 * use it); it may trim the chain's segments in place. */
			if (tx_one(net, pair, &f, &el[done]) == VDEV_EAGAIN) {
				/* Keep this frame and the rest of the batch on the
				 * ring, in order, for vdev_net_tx_resume(). */
				vdev_vq_unpop(vq, &el[done], n - done);
				pp->P(tx_blocked) = true;
				break;
			}
		}
		/* The backend may have kept the batch's segments until now. */
		if (done > 0 && HAS_OP(net->P(ops), transmit_flush))
			net->P(ops)->transmit_flush(net->P(opaque), pair);
		/* Every chain before the push-back is complete (sent, dropped
		 * by the backend or malformed): one used entry each. */
		(void)vdev_vq_push_batch(vq, el, unwritten, done);
		taken += (int)done;
	}
	vdev_vq_flush(vq);
	return taken;
}

VDEV_API int vdev_net_tx_resume(struct vdev_net *net, uint16_t pair)
{
	if (pair >= net->P(max_pairs))
		return VDEV_ENOENT;
	net->P(pairs)[pair].P(tx_blocked) = false;
	return vdev_net_process_tx(net, pair);
}

/* ---- receive -------------------------------------------------------------------- */

/* Copy `len` bytes of the frame from offset `src_off` into a chain's
 * writable segments from `dst_off`. Returns the bytes copied. */
static size_t copy_into(const struct vdev_vq_elem *e, size_t dst_off, const struct vdev_iov *src,
			unsigned nsrc, size_t src_off, size_t len)
{
	const struct vdev_iov *d = e->iov + e->n_out;
	size_t done = 0;

	for (unsigned i = 0; i < e->n_in && done < len; i++) {
		size_t seg = d[i].len;
		size_t take;

		if (dst_off >= seg) {
			dst_off -= seg;
			continue;
		}
		take = VDEV__MIN(seg - dst_off, len - done);
		if (VDEV__LIKELY(nsrc == 1)) /* the frame in one piece (len checked) */
			memcpy((uint8_t *)d[i].base + dst_off,
			       (const uint8_t *)src[0].base + src_off + done, take);
		else
			take = vdev_iov_to_buf(src, nsrc, src_off + done,
					       (uint8_t *)d[i].base + dst_off, take);
		done += take;
		dst_off = 0;
	}
	return done;
}

/*
 * The receive window of one delivery: buffers popped from the pair's
 * receive queue into its scratch (el[0..have), at most rx_bufs), of which
 * el[0..done) are complete (a frame placed in them, or a malformed one
 * returned empty), their bytes written in out_bytes. Completed buffers are
 * pushed in pop order, the rest unpopped, so the guest sees its buffers
 * used in the order it posted them (IN_ORDER holds) and nothing it posted
 * is lost.
 */
struct rx_win {
	struct vdev_vq *vq;
	struct vdev_vq_elem *el;
	struct vdev_iov *iovs;
	unsigned ipc;  /* iov_per_chain */
	unsigned cap;  /* rx_bufs */
	unsigned have; /* popped */
	unsigned done; /* complete */
};

/* Push the complete buffers, unpop the others: the window is empty. */
static void rx_settle(struct rx_win *w)
{
	uint32_t written[RX_PUSH_CHUNK];

	for (unsigned i = 0; i < w->done; i += RX_PUSH_CHUNK) {
		unsigned k = VDEV__MIN(w->done - i, RX_PUSH_CHUNK);

		for (unsigned j = 0; j < k; j++)
			written[j] = w->el[i + j].out_bytes;
		(void)vdev_vq_push_batch(w->vq, &w->el[i], written, k);
	}
	if (w->have > w->done)
		(void)vdev_vq_unpop(w->vq, &w->el[w->done], w->have - w->done);
	w->have = w->done = 0;
}

/*
 * Take the buffers for one frame of `total` bytes (header included) from
 * el[done] on, popping more (about `more` of them) as needed. Returns how
 * many it takes (> 0), or why the frame cannot go:
 *   VDEV_EAGAIN   the ring has too little (the window holds only this
 *                 frame's buffers, which the caller unpops)
 *   VDEV_EMSGSIZE more than rx_bufs buffers (likewise)
 *   VDEV_EPROTO   a malformed buffer: the frame's buffers are complete,
 *                 empty
 *   VDEV_EPERM    the queue refused a pop (broken, or not live)
 * Receive buffers are device-writable only; the first must hold the whole
 * header, and without MRG_RXBUF (`merge`) the whole frame.
 */
static int rx_take(struct vdev_net *net, struct rx_win *w, size_t total, bool merge,
		   unsigned more)
{
retry:;
	unsigned k = w->done;
	size_t placed = 0;

	while (placed < total) {
		struct vdev_vq_elem *e;

		if (k == w->have) {
			if (w->have < w->cap) {
				int rc = vdev_vq_pop_batch(w->vq, w->el + w->have,
							   VDEV__MIN(w->cap - w->have, more),
							   w->iovs + (size_t)w->have * w->ipc, w->ipc);
				if (rc < 0)
					return VDEV_EPERM;
				if (rc > 0) {
					w->have += (unsigned)rc;
					continue;
				}
			}
			/* The window is full or the ring dry: start the frame
			 * at the front of a fresh window, or give up. */
			if (w->done > 0) {
				rx_settle(w);
				goto retry;
			}
			return w->have < w->cap ? VDEV_EAGAIN : VDEV_EMSGSIZE;
		}
		e = &w->el[k++];
		if (e->error != 0 || e->n_out != 0 || e->in_bytes == 0 ||
		    (k == w->done + 1 && e->in_bytes < VDEV_NET_HDR_LEN) ||
		    (!merge && e->in_bytes < total)) {
			if (!merge && e->error == 0 && e->n_out == 0 && e->in_bytes >= VDEV_NET_HDR_LEN)
				net->P(stats).rx_too_big++;
			net->P(stats).rx_bad_buffer++;
			for (unsigned i = w->done; i < k; i++)
				w->el[i].out_bytes = 0; /* back to the guest empty */
			w->done = k;
			return VDEV_EPROTO;
		}
		placed += VDEV__MIN((size_t)e->in_bytes, total - placed);
		/* If the frame needs more: about what it still needs in
		 * buffers like this one, besides one for each frame after it
		 * (`more` counted this frame's first). */
		if (placed < total)
			more = (unsigned)VDEV__MIN((total - placed) / e->in_bytes + more,
						   (size_t)UINT16_MAX);
	}
	return (int)(k - w->done);
}

/* Whether a frame may be delivered at all (before any buffer is taken):
 * 0, or the reason it is dropped, counted. *h: its header, checked. */
static inline __attribute__((always_inline)) int rx_check(struct vdev_net *net, uint64_t f,
							   uint64_t go,
							   const struct vdev_net_frame *fr,
							   struct vdev_net_hdr *h)
{
	uint8_t eth[ETH_VLAN_HLEN];
	const struct vdev_iov *iov = fr->iov;
	size_t len = fr->len;

	if (len < ETH_HLEN || (fr->iovcnt > 0 && iov == NULL))
		return VDEV_EINVAL;
	if (VDEV__LIKELY(fr->iovcnt == 1) ? iov[0].len < len : vdev_iov_length(iov, fr->iovcnt) < len)
		return VDEV_EINVAL;
	if (VDEV__LIKELY(fr->iovcnt > 0 && iov[0].len >= sizeof(eth)))
		memcpy(eth, iov[0].base, sizeof(eth));
	else
		vdev_iov_to_buf(iov, fr->iovcnt, 0, eth, sizeof(eth));
	if (!rx_accept(net, f, eth, len)) {
		net->P(stats).rx_filtered++;
		return VDEV_ENOENT;
	}
	if (fr->hdr != NULL)
		*h = *fr->hdr;
	else
		*h = (struct vdev_net_hdr){0};
	if (len > max_frame(net, (h->gso_type & 0x7fu) != 0) || len > VDEV_NET_MAX_FRAME) {
		net->P(stats).rx_too_big++;
		return VDEV_EMSGSIZE;
	}
	if (!hdr_check(h, len, (go & BIT(GUEST_CSUM)) != 0, (go & BIT(GUEST_TSO4)) != 0,
		       (go & BIT(GUEST_TSO6)) != 0, (go & BIT(GUEST_ECN)) != 0,
		       (go & BIT(GUEST_UFO)) != 0, true)) {
		net->P(stats).rx_bad_offload++;
		return VDEV_ENOTSUP;
	}
	return 0;
}

/* Copy a frame into the `cnt` buffers from el[done], header last
 * (num_buffers is known then); each buffer's bytes go to out_bytes. */
static inline __attribute__((always_inline)) void rx_place(struct rx_win *w, unsigned cnt,
							     const struct vdev_net_frame *fr,
							     struct vdev_net_hdr *h)
{
	struct vdev_vq_elem *el = w->el + w->done;
	uint8_t raw[VDEV_NET_HDR_LEN];
	size_t placed = 0;

	if (VDEV__LIKELY(cnt == 1 && el[0].n_in == 1 && fr->iovcnt == 1)) {
		/* one buffer, one segment, the frame in one piece: rx_take
		 * checked that header and frame fit */
		memcpy((uint8_t *)el[0].iov[0].base + VDEV_NET_HDR_LEN, fr->iov[0].base, fr->len);
		el[0].out_bytes = (uint32_t)(VDEV_NET_HDR_LEN + fr->len);
		placed = fr->len;
		cnt = 0; /* nothing more to copy */
	}
	for (unsigned i = 0; i < cnt; i++) {
		size_t room = el[i].in_bytes, skip = i == 0 ? VDEV_NET_HDR_LEN : 0;
		size_t take = VDEV__MIN(room - skip, fr->len - placed);

		copy_into(&el[i], skip, fr->iov, fr->iovcnt, placed, take);
		placed += take;
		el[i].out_bytes = (uint32_t)(take + skip); /* reused: bytes written */
	}
	h->num_buffers = (uint16_t)(cnt ? cnt : 1u);
	hdr_encode(h, raw);
	if (VDEV__LIKELY(el[0].iov[el[0].n_out].len >= sizeof(raw)))
		memcpy(el[0].iov[el[0].n_out].base, raw, sizeof(raw));
	else
		vdev_iov_from_buf(el[0].iov + el[0].n_out, el[0].n_in, 0, raw, sizeof(raw));
	w->done += h->num_buffers;
}

VDEV_API int vdev_net_receive_batch(struct vdev_net *net, uint16_t pair,
				    const struct vdev_net_frame *frames, unsigned n, int *results)
{
	struct rx_win w;
	uint64_t f, go;
	bool merge;
	unsigned i;
	int stop = 0;

	if (n == 0)
		return 0;
	if (frames == NULL)
		return VDEV_EINVAL;
	if (!vdev_dev_is_running(&net->P(dev)))
		return VDEV_EPERM;
	pair = (uint16_t)(pair % net->P(active_pairs));
	w.vq = &net->P(queues)[rxq(pair)];
	if (!vdev_vq_is_live(w.vq))
		return VDEV_EPERM;
	/* Looked up once: nothing here changes them. */
	f = effective_features(net);
	go = net->P(guest_offloads);
	merge = (f & BIT(MRG_RXBUF)) != 0;
	w.el = net->P(elems) + (size_t)pair * net->P(rx_bufs);
	w.ipc = net->P(iov_per_chain);
	w.iovs = net->P(iovs) + (size_t)pair * (net->P(rx_bufs) + 1u) * w.ipc;
	w.cap = net->P(rx_bufs);
	w.have = w.done = 0;

	for (i = 0; i < n; i++) {
		const struct vdev_net_frame *fr = &frames[i];
		struct vdev_net_hdr h;
		int rc = rx_check(net, f, go, fr, &h);

		if (rc == 0) {
			rc = rx_take(net, &w, fr->len + VDEV_NET_HDR_LEN, merge, n - i);
			if (rc > 0) {
				rx_place(&w, (unsigned)rc, fr, &h);
				net->P(stats).rx_frames++;
				net->P(stats).rx_bytes += fr->len;
				rc = 0;
			} else if (rc == VDEV_EMSGSIZE) {
				net->P(stats).rx_too_big++;
				rx_settle(&w); /* the frame's buffers, unpopped */
			} else if (rc == VDEV_EAGAIN || rc == VDEV_EPERM) {
				if (rc == VDEV_EAGAIN) {
					/* No room: this frame and the rest are not
					 * consumed; rx_ready when the guest posts
					 * buffers (its notification, see
					 * net_queue_notify). */
					net->P(pairs)[pair].P(rx_waiting) = true;
					net->P(stats).rx_no_room++;
				}
				stop = rc;
				break;
			}
		}
		if (results != NULL)
			results[i] = rc;
	}
	rx_settle(&w);
	vdev_vq_flush(w.vq);
	return i > 0 ? (int)i : stop;
}

VDEV_API int vdev_net_receive(struct vdev_net *net, uint16_t pair, const struct vdev_net_hdr *hdr,
			      const struct vdev_iov *iov, unsigned iovcnt, size_t len)
{
	const struct vdev_net_frame fr = {.hdr = hdr, .iov = iov, .iovcnt = iovcnt, .len = len};
	int result = 0, rc;

	/* Bad arguments first, as always, whatever the device's state. */
	if (len < ETH_HLEN || (iovcnt > 0 && iov == NULL) || vdev_iov_length(iov, iovcnt) < len)
		return VDEV_EINVAL;
	rc = vdev_net_receive_batch(net, pair, &fr, 1, &result);
	return rc == 1 ? result : rc;
}

/* ---- the control queue ------------------------------------------------------------ */

/* A command's data, read on demand from the chain's readable part. */
struct cmd {
	const struct vdev_vq_elem *e;
	size_t len; /* bytes of command-specific data */
};

static bool cmd_read(const struct cmd *c, size_t off, void *buf, size_t len)
{
	if (off > c->len || len > c->len - off)
		return false;
	return vdev_iov_to_buf(c->e->iov, c->e->n_out, 2u + off, buf, len) == len;
}

static bool cmd_flag(const struct cmd *c, bool *out)
{
	uint8_t v;

	if (c->len != 1 || !cmd_read(c, 0, &v, 1) || v > 1)
		return false;
	*out = v != 0;
	return true;
}

static unsigned ctrl_rx(struct vdev_net *net, uint8_t cmd, const struct cmd *c)
{
	bool on;

	if (!negotiated(net, VDEV_NET_F_CTRL_RX) || !cmd_flag(c, &on))
		return VIRTIO_NET_ERR;
	if (cmd > VIRTIO_NET_CTRL_RX_ALLMULTI && !negotiated(net, VDEV_NET_F_CTRL_RX_EXTRA))
		return VIRTIO_NET_ERR;
	switch (cmd) {
	case VIRTIO_NET_CTRL_RX_PROMISC:
	case VIRTIO_NET_CTRL_RX_ALLUNI:
		if (on && HAS_OP(net->P(ops), allow_promisc) &&
		    !net->P(ops)->allow_promisc(net->P(opaque))) {
			net->P(stats).ctrl_denied++;
			return VIRTIO_NET_ERR;
		}
		if (cmd == VIRTIO_NET_CTRL_RX_PROMISC)
			net->P(promisc) = on;
		else
			net->P(alluni) = on;
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_RX_ALLMULTI: net->P(allmulti) = on; return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_RX_NOMULTI: net->P(nomulti) = on; return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_RX_NOUNI: net->P(nouni) = on; return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_RX_NOBCAST: net->P(nobcast) = on; return VIRTIO_NET_OK;
	default: return VIRTIO_NET_ERR;
	}
}

/*
 * One table of MAC_TABLE_SET at `*off`: le32 entries, entries * 6 bytes.
 * Validates against the payload before anything is stored; `store` false
 * only measures. Returns false if the table does not fit the payload.
 */
static bool mac_table(struct vdev_net *net, const struct cmd *c, size_t *off, bool multi,
		      bool store)
{
	uint8_t le[4];
	uint32_t entries;
	uint64_t bytes;

	if (!cmd_read(c, *off, le, 4))
		return false;
	entries = vdev__get_le32(le);
	bytes = (uint64_t)entries * 6u; /* cannot overflow 64 bits */
	if (bytes > c->len - *off - 4u)
		return false;
	if (store) {
		uint8_t (*tbl)[6] = multi ? net->P(multi) : net->P(uni);
		bool overflow = entries > VDEV_NET_MAC_TABLE;
		unsigned keep = overflow ? 0u : entries;

		for (unsigned i = 0; i < keep; i++)
			cmd_read(c, *off + 4u + 6u * i, tbl[i], 6);
		if (multi) {
			net->P(n_multi) = (uint8_t)keep;
			net->P(multi_overflow) = overflow;
		} else {
			net->P(n_uni) = (uint8_t)keep;
			net->P(uni_overflow) = overflow;
		}
	}
	*off += 4u + (size_t)bytes;
	return true;
}

static unsigned ctrl_mac(struct vdev_net *net, uint8_t cmd, const struct cmd *c)
{
	uint8_t mac[6];
	size_t off = 0;

	switch (cmd) {
	case VIRTIO_NET_CTRL_MAC_TABLE_SET:
		if (!negotiated(net, VDEV_NET_F_CTRL_RX))
			return VIRTIO_NET_ERR;
		/* Both tables must fit the payload exactly before either is
		 * stored: a bad count leaves the filter as it was. */
		if (!mac_table(net, c, &off, false, false) || !mac_table(net, c, &off, true, false) ||
		    off != c->len)
			return VIRTIO_NET_ERR;
		off = 0;
		mac_table(net, c, &off, false, true);
		mac_table(net, c, &off, true, true);
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_MAC_ADDR_SET:
		if (!negotiated(net, VDEV_NET_F_CTRL_MAC_ADDR) || c->len != 6 ||
		    !cmd_read(c, 0, mac, 6) || (mac[0] & 1u))
			return VIRTIO_NET_ERR; /* a multicast address is no station address */
		if (memcmp(mac, net->P(mac), 6) != 0 && HAS_OP(net->P(ops), allow_mac_change) &&
		    !net->P(ops)->allow_mac_change(net->P(opaque), mac)) {
			net->P(stats).ctrl_denied++;
			return VIRTIO_NET_ERR;
		}
		set_guest_mac(net, mac); /* config space first, then the ack (spec) */
		return VIRTIO_NET_OK;
	default:
		return VIRTIO_NET_ERR;
	}
}

static unsigned ctrl_vlan(struct vdev_net *net, uint8_t cmd, const struct cmd *c)
{
	uint8_t le[2];
	uint16_t vid;

	if (!negotiated(net, VDEV_NET_F_CTRL_VLAN) || c->len != 2 || !cmd_read(c, 0, le, 2))
		return VIRTIO_NET_ERR;
	vid = vdev__get_le16(le);
	if (vid >= 4096u)
		return VIRTIO_NET_ERR;
	if (cmd == VIRTIO_NET_CTRL_VLAN_ADD)
		net->P(vlans)[vid >> 3] = (uint8_t)(net->P(vlans)[vid >> 3] | (1u << (vid & 7u)));
	else if (cmd == VIRTIO_NET_CTRL_VLAN_DEL)
		net->P(vlans)[vid >> 3] = (uint8_t)(net->P(vlans)[vid >> 3] & ~(1u << (vid & 7u)));
	else
		return VIRTIO_NET_ERR;
	return VIRTIO_NET_OK;
}

static unsigned ctrl_mq(struct vdev_net *net, uint8_t cmd, const struct cmd *c)
{
	uint8_t le[2];
	uint16_t pairs;

	if (!negotiated(net, VDEV_NET_F_MQ) || cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET ||
	    c->len != 2 || !cmd_read(c, 0, le, 2))
		return VIRTIO_NET_ERR;
	pairs = vdev__get_le16(le);
	if (pairs < 1 || pairs > net->P(max_pairs))
		return VIRTIO_NET_ERR;
	net->P(active_pairs) = pairs;
	return VIRTIO_NET_OK;
}

static unsigned ctrl_offloads(struct vdev_net *net, uint8_t cmd, const struct cmd *c)
{
	uint8_t le[8];
	uint64_t want;

	if (!negotiated(net, VDEV_NET_F_CTRL_GUEST_OFFLOADS) ||
	    cmd != VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET || c->len != 8 || !cmd_read(c, 0, le, 8))
		return VIRTIO_NET_ERR;
	want = vdev__get_le64(le);
	/* Only receive offloads that were negotiated, with their dependencies. */
	if ((want & ~(vdev_dev_features(&net->P(dev)) & GUEST_OFFLOADS)) != 0 || !deps_ok(want))
		return VIRTIO_NET_ERR;
	offloads_changed(net, want);
	return VIRTIO_NET_OK;
}

static void ctrl_one(struct vdev_net *net, struct vdev_vq *vq, struct vdev_vq_elem *e)
{
	uint8_t head[2];
	unsigned ack = VIRTIO_NET_ERR;
	struct cmd c = {.e = e};

	/* struct virtio_net_ctrl: class, command, data (readable), then ack,
	 * command-specific-result (writable). The ack is the first writable
	 * byte; a chain without one (rejected, or all readable) is completed
	 * empty. No command here has a result. */
	if (e->error != 0 || e->n_in == 0) {
		net->P(stats).ctrl_err++;
		vdev_vq_push(vq, e, 0);
		return;
	}
	if (e->out_bytes >= 2) {
		vdev_iov_to_buf(e->iov, e->n_out, 0, head, 2);
		c.len = e->out_bytes - 2u;
		switch (head[0]) {
		case VIRTIO_NET_CTRL_RX: ack = ctrl_rx(net, head[1], &c); break;
		case VIRTIO_NET_CTRL_MAC: ack = ctrl_mac(net, head[1], &c); break;
		case VIRTIO_NET_CTRL_VLAN: ack = ctrl_vlan(net, head[1], &c); break;
		case VIRTIO_NET_CTRL_ANNOUNCE:
			if (negotiated(net, VDEV_NET_F_GUEST_ANNOUNCE) &&
			    head[1] == VIRTIO_NET_CTRL_ANNOUNCE_ACK && c.len == 0) {
				put_status(net, 0, VDEV_NET_S_ANNOUNCE);
				ack = VIRTIO_NET_OK;
			}
			break;
		case VIRTIO_NET_CTRL_MQ: ack = ctrl_mq(net, head[1], &c); break;
		case VIRTIO_NET_CTRL_GUEST_OFFLOADS: ack = ctrl_offloads(net, head[1], &c); break;
		default: break;
		}
	}
	if (ack == VIRTIO_NET_OK)
		net->P(stats).ctrl_ok++;
	else
		net->P(stats).ctrl_err++;
	head[0] = (uint8_t)ack;
	vdev_iov_from_buf(e->iov + e->n_out, e->n_in, 0, head, 1);
	vdev_vq_push(vq, e, 1);
}

VDEV_API int vdev_net_process_ctrl(struct vdev_net *net)
{
	struct vdev_vq *vq;
	struct vdev_vq_elem e;
	int taken = 0;

	if (!negotiated(net, VDEV_NET_F_CTRL_VQ))
		return VDEV_ENOTSUP;
	vq = &net->P(queues)[ctrlq(net)];
	for (;;) {
		/* The control queue's segment slot comes after every pair's. */
		struct vdev_iov *iov = net->P(iovs) + (size_t)net->P(max_pairs) *
							    (net->P(rx_bufs) + 1u) *
							    net->P(iov_per_chain);
		int rc = vdev_vq_pop(vq, &e, iov, net->P(iov_per_chain));

		if (rc <= 0) {
			if (rc < 0 && taken == 0)
				taken = rc;
			break;
		}
		ctrl_one(net, vq, &e);
		taken++;
	}
	vdev_vq_flush(vq);
	return taken;
}

/* ---- device core ops ---------------------------------------------------------------- */

/*
 * The driver's set must keep the offload dependencies (they decide how we
 * read headers). Control features without CTRL_VQ: a vhost-user front-end
 * that runs the control queue itself (QEMU's -netdev vhost-user, DPDK's
 * virtio-user with cq=1) hands the back-end such a set; there
 * (vdev_dev_frontend_negotiates) they are accepted and inert. A driver on
 * a transport must not send it (spec: no feature without the features it
 * requires): FEATURES_OK is refused.
 */
static int net_validate_features(void *opaque, uint64_t f)
{
	struct vdev_net *net = opaque;

	if (vdev_dev_frontend_negotiates(&net->P(dev))) {
		if (!(f & BIT(CTRL_VQ)))
			f &= ~NEEDS_CTRL_VQ;
		if (!(f & BIT(CTRL_RX)))
			f &= ~BIT(CTRL_RX_EXTRA);
	}
	return deps_ok(f) ? 0 : VDEV_EINVAL;
}

static int net_activate(void *opaque)
{
	struct vdev_net *net = opaque;
	uint64_t f = vdev_dev_features(&net->P(dev));

	/* MQ without the control queue: the front-end steers the pairs (it
	 * serves VQ_PAIRS_SET itself and enables rings), so all may be used. */
	if ((f & BIT(MQ)) && !(f & BIT(CTRL_VQ)))
		net->P(active_pairs) = net->P(max_pairs);
	offloads_changed(net, f & GUEST_OFFLOADS);
	return 0;
}

static void net_queue_notify(void *opaque, uint16_t q)
{
	struct vdev_net *net = opaque;
	uint16_t pair = (uint16_t)(q / 2u);

	if (negotiated(net, VDEV_NET_F_CTRL_VQ) && q == ctrlq(net)) {
		(void)vdev_net_process_ctrl(net);
	} else if (pair < net->P(max_pairs) && (q & 1u)) {
		(void)vdev_net_process_tx(net, pair);
	} else if (pair < net->P(max_pairs) && net->P(pairs)[pair].P(rx_waiting)) {
		/* Buffers arrived after a refused delivery: tell the host. */
		net->P(pairs)[pair].P(rx_waiting) = false;
		if (HAS_OP(net->P(ops), rx_ready))
			net->P(ops)->rx_ready(net->P(opaque), pair);
	}
}

static void reset_filter(struct vdev_net *net)
{
	net->P(promisc) = false;
	/* Multicast flows until the driver programs a filter, so a driver
	 * without CTRL_RX still gets IPv6 neighbour discovery. */
	net->P(allmulti) = true;
	net->P(alluni) = net->P(nomulti) = net->P(nouni) = net->P(nobcast) = false;
	net->P(uni_overflow) = net->P(multi_overflow) = false;
	net->P(n_uni) = net->P(n_multi) = 0; /* empty MAC table on reset (spec) */
	memset(net->P(vlans), 0, sizeof(net->P(vlans)));
}

static int net_reset(void *opaque)
{
	struct vdev_net *net = opaque;

	reset_filter(net);
	set_guest_mac(net, net->P(host_mac));
	put_status(net, 0, VDEV_NET_S_ANNOUNCE);
	net->P(active_pairs) = 1;
	for (unsigned i = 0; i < net->P(max_pairs); i++) {
		net->P(pairs)[i].P(rx_waiting) = false;
		net->P(pairs)[i].P(tx_blocked) = false;
	}
	offloads_changed(net, 0);
	return 0; /* nothing is ever in flight: transmit is synchronous */
}

static void net_config_write(void *opaque, uint32_t off, const void *data, uint32_t len)
{
	/* Every field is read-only for a VERSION_1 driver. */
	(void)opaque, (void)off, (void)data, (void)len;
}

static const struct vdev_dev_ops net_dev_ops = {
	.size = sizeof(struct vdev_dev_ops),
	.validate_features = net_validate_features,
	.activate = net_activate,
	.reset = net_reset,
	.queue_notify = net_queue_notify,
	.config_write = net_config_write,
};

/* ---- init ------------------------------------------------------------------------------ */

VDEV_API int vdev_net_init(struct vdev_net *net, const struct vdev_net_config *cfg)
{
	uint64_t supported, device_features, ring;
	uint8_t *c;

	if (net == NULL || cfg == NULL || cfg->backend == NULL ||
	    cfg->backend->size < offsetof(struct vdev_net_backend_ops, rx_ready) ||
	    cfg->backend->transmit == NULL || cfg->max_pairs == 0 ||
	    cfg->max_pairs > VDEV_NET_MAX_PAIRS || cfg->queue_size == 0 ||
	    cfg->queue_size > VDEV_VQ_MAX_SIZE || (cfg->mtu != 0 && cfg->mtu < 68) ||
	    cfg->rx_bufs == 0 || cfg->rx_bufs > 4096 || cfg->iov_per_chain < 2 ||
	    cfg->iov_per_chain > UINT16_MAX || (cfg->offloads & ~VDEV_NET_OFFLOAD_MASK) != 0 ||
	    cfg->mem == NULL || cfg->queues == NULL ||
	    cfg->queue_held == NULL || cfg->elems == NULL || cfg->iovs == NULL ||
	    cfg->tx_batch > VDEV_NET_TX_BATCH_MAX || (cfg->tx_iovs == NULL && cfg->tx_batch > 1))
		return VDEV_EINVAL;
	supported = vdev_net_supported_features(cfg);
	device_features = cfg->features != 0 ? cfg->features : supported;
	if ((device_features & ~supported) != 0 || !deps_ok(device_features))
		return VDEV_EINVAL;
	memset(net, 0, sizeof(*net));
	net->P(ops) = cfg->backend;
	net->P(opaque) = cfg->backend_opaque;
	net->P(queues) = cfg->queues;
	net->P(elems) = cfg->elems;
	net->P(iovs) = cfg->iovs;
	net->P(tx_iovs) = cfg->tx_iovs;
	net->P(tx_elems) = cfg->tx_iovs != NULL ? cfg->tx_elems : NULL;
	net->P(tx_batch) = cfg->tx_iovs == NULL ? 1u
			   : cfg->tx_batch != 0 ? cfg->tx_batch
						: VDEV_NET_TX_BATCH_DEFAULT;
	net->P(rx_bufs) = cfg->rx_bufs;
	net->P(iov_per_chain) = cfg->iov_per_chain;
	net->P(max_pairs) = cfg->max_pairs;
	net->P(active_pairs) = 1;
	net->P(mtu) = (device_features & BIT(MTU)) ? cfg->mtu : 0;
	memcpy(net->P(host_mac), cfg->mac, 6);
	reset_filter(net);

	c = net->P(config);
	memset(c, 0, VDEV_NET_CONFIG_SIZE); /* RSS fields and padding stay 0 */
	set_guest_mac(net, cfg->mac);
	put_status(net, cfg->link_up ? VDEV_NET_S_LINK_UP : 0, 0);
	vdev__put_le16(c + CFG_MAX_PAIRS, cfg->max_pairs);
	vdev__put_le16(c + CFG_MTU, cfg->mtu);
	vdev__put_le32(c + CFG_SPEED, cfg->speed != 0 ? cfg->speed : UINT32_MAX);
	c[CFG_DUPLEX] = cfg->speed != 0 ? cfg->duplex : 0xffu;

	ring = cfg->ring_features != 0 ? cfg->ring_features : DEFAULT_RING_FEATURES;
	struct vdev_dev_config dc = {
		.device_id = VDEV_ID_NET,
		.features = device_features | ring | VDEV_BIT(VDEV_F_VERSION_1),
		.queues = cfg->queues,
		.queue_held = cfg->queue_held,
		.num_queues = (uint16_t)(2u * cfg->max_pairs +
					 ((device_features & BIT(CTRL_VQ)) ? 1u : 0u)),
		.queue_max_size = cfg->queue_size,
		.config = net->P(config),
		.config_len = VDEV_NET_CONFIG_SIZE,
		.mem = cfg->mem,
		.ops = &net_dev_ops,
		.opaque = net,
	};
	int rc = vdev_dev_init(&net->P(dev), &dc);

	if (rc < 0)
		return rc;
	/* The device only reads transmit buffers: a driver that marks them
	 * writable (DPDK's packed indirect tables) is served, not dropped. */
	for (uint16_t p = 0; p < cfg->max_pairs; p++)
		vdev_vq_set_device_reads_only(&cfg->queues[txq(p)], true);
	return 0;
}

VDEV_API struct vdev_dev *vdev_net_dev(struct vdev_net *net)
{
	return &net->P(dev);
}

VDEV_API void vdev_net_get_stats(const struct vdev_net *net, struct vdev_net_stats *out)
{
	*out = net->P(stats);
}
