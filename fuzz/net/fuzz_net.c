/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-net device model behind virtio-mmio, with a
 * packet backend that sometimes pushes back and a host policy that allows
 * or denies. The input picks the negotiated features, ring layout and
 * transmit batch, then queues transmit chains (header bytes, pieces,
 * addresses good or bad, direction, indirect), posts receive buffers of any size and
 * direction, delivers host frames (destination, length, offload header),
 * sends control commands (class, command, payload, layout), reaps,
 * changes MAC/link, resets single queues (RING_RESET) and the device, and
 * now and then scribbles on the rings.
 *
 * Invariants: nothing outside guest memory is touched (ASan); receive
 * answers only the documented codes; and unless the rings were scribbled
 * on, the driver sees no protocol error and every transmit (on an active
 * pair) and control chain it queued comes back exactly once, receive
 * buffers and transmit chains of inactive pairs at most once; what was out
 * on a queue when it was reset never comes back at all.
 */
#include <string.h>

#include "drv_mmio.h"
#include "fuzz_common.h"
#include "fuzz_mem.h"
#include "vdev/mmio.h"
#include "vdev/net.h"

#define REGION (512u * 1024u)
#define PAIRS 2
#define NQ (2 * PAIRS + 1)
#define RX_BUFS 8
#define IOVS 12
#define SLOTS 64
#define SLOT 2048u

static struct sim_mem m;
static struct vdev_net net;
static struct vdev_vq queues[NQ];
static uint64_t queue_held[NQ * VDEV_VQ_HELD_WORDS(32)];
static struct vdev_vq_elem elems[PAIRS * RX_BUFS];
static struct vdev_iov iovs[(PAIRS * (RX_BUFS + 1) + 1) * IOVS];
static struct vdev_iov tx_iovs[PAIRS * VDEV_NET_TX_BATCH_MAX * IOVS];
static struct vdev_vq_elem tx_elems[PAIRS * VDEV_NET_TX_BATCH_MAX];
static struct vdev_mmio mmio;
static struct drv_mmio dm;
static struct drv_vq q[NQ];
static bool qup[NQ];
static int tok[NQ][256];
static unsigned queued[NQ], reaped[NQ];
static uint64_t arena;
static uint16_t ctrl_index;
static uint8_t frame[VDEV_NET_MAX_FRAME + 64];
static int eagain, policy;
static uint64_t neg; /* the features of the current bring-up */

static int fz_transmit(void *o, uint16_t pair, const struct vdev_net_hdr *h,
		       const struct vdev_iov *iov, unsigned n, size_t len)
{
	(void)o, (void)h;
	FUZZ_CHECK(pair < PAIRS);
	FUZZ_CHECK(len >= 14 && len <= VDEV_NET_MAX_FRAME);
	FUZZ_CHECK(vdev_iov_length(iov, n) == len);
	/* touch every byte the device lent us */
	FUZZ_CHECK(vdev_iov_to_buf(iov, n, 0, frame, len) == len);
	if (eagain > 0) {
		eagain--;
		return VDEV_EAGAIN;
	}
	return 0;
}
static bool fz_allow_mac(void *o, const uint8_t mac[6])
{
	(void)o;
	return (policy & 1) != 0 && mac[5] != 0x66;
}
static bool fz_allow_promisc(void *o)
{
	(void)o;
	return (policy & 2) != 0;
}
static const struct vdev_net_backend_ops fz_ops = {
	.size = sizeof(struct vdev_net_backend_ops),
	.transmit = fz_transmit,
	.allow_mac_change = fz_allow_mac,
	.allow_promisc = fz_allow_promisc,
};

static bool bring_up(struct drv_transport *tr, uint64_t want, uint16_t qsize)
{
	sim_mem_reset_alloc(&m);
	arena = sim_alloc(&m, (size_t)SLOTS * SLOT, 4096);
	memset(qup, 0, sizeof(qup));
	memset(queued, 0, sizeof(queued));
	memset(reaped, 0, sizeof(reaped));
	if (drv_virtio_negotiate(tr, want, &neg) != 0)
		return false;
	bool mq = (neg & VDEV_BIT(VDEV_NET_F_MQ)) != 0;
	ctrl_index = mq ? 2 * PAIRS : 2;
	for (uint16_t i = 0; i < (mq ? 2 * PAIRS : 2); i++)
		qup[i] = drv_virtio_setup_queue(tr, &q[i], &m, i, qsize, neg) == 0;
	if (neg & VDEV_BIT(VDEV_NET_F_CTRL_VQ))
		qup[ctrl_index] =
			drv_virtio_setup_queue(tr, &q[ctrl_index], &m, ctrl_index, qsize, neg) == 0;
	return drv_virtio_driver_ok(tr) == 0x0f;
}

static uint64_t piece_addr(struct input *in, unsigned slot)
{
	uint8_t k = take(in);
	switch (k % 16) {
	case 0: return sim_straddle_gpa(&m, 1 + take(in) % 32u);
	case 1: return SIM_HOLE_GPA;
	case 2: return SIM_RO_GPA + take(in);
	case 3: return take64(in);
	default: return arena + slot * SLOT + (take(in) % 64u) * 8u;
	}
}

static void reap_all(void)
{
	for (unsigned i = 0; i < NQ; i++) {
		uint32_t len;
		if (!qup[i])
			continue;
		while (drv_get_used(&q[i], &len) != NULL)
			reaped[i]++;
	}
}

/*
 * RING_RESET of queue qi, then new rings for it while the simulated memory
 * has room (else it stays reset). What the device had used is reaped
 * first; the rest the driver forgets, and the device must never complete
 * it (the new ring has no such buffer: drv_get_used() would count an
 * error).
 */
static void ring_reset(struct drv_transport *tr, unsigned qi, uint16_t qsize, bool scribbled)
{
	uint32_t len;

	while (drv_get_used(&q[qi], &len) != NULL)
		reaped[qi]++;
	FUZZ_CHECK(scribbled || q[qi].errors == 0);
	FUZZ_CHECK(tr->ops->reset_queue(tr->t, (uint16_t)qi));
	queued[qi] = reaped[qi];
	qup[qi] = drv_virtio_setup_queue_if_room(tr, &q[qi], &m, (uint16_t)qi, qsize, neg) == 0;
}

/* Queue a chain of pieces on queue qi; `dir` forces direction (0 read, 1 write, 2 any). */
static void queue_chain(struct input *in, unsigned qi, unsigned *slot, int dir)
{
	struct drv_buf b[10];
	unsigned n = 1 + take(in) % 9u;
	uint64_t base = arena + *slot * SLOT;
	uint8_t *p = sim_ptr(&m, base);

	if (!qup[qi])
		return;
	for (unsigned k = 0; k < 64; k++)
		p[k] = take(in);
	for (unsigned i = 0; i < n; i++) {
		uint8_t f = take(in);
		uint32_t len = f % 4 ? (uint32_t)(1 + take(in) % 200u) : take16(in) % SLOT;
		bool w = dir == 2 ? (f & 16) != 0 : dir == 1;
		if (dir != 2 && f % 29 == 0)
			w = !w; /* the wrong direction, now and then */
		uint64_t a = f % 5 ? base + (i * 200u) % (SLOT - 200u) : piece_addr(in, *slot);
		b[i] = (struct drv_buf){a, len, w};
	}
	*slot = (*slot + 1) % SLOTS;
	if (drv_add(&q[qi], b, n, take(in) & 1, &tok[qi][queued[qi] % 256]) == 0)
		queued[qi]++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	uint8_t flags = take(&in);
	bool scribbled = false, up;
	unsigned slot = 0;
	struct drv_transport tr;
	uint64_t want = ~(uint64_t)0;
	static const uint8_t host_mac[6] = {0x52, 0x54, 0, 1, 2, 3};

	if (!(flags & 1))
		want &= ~VDEV_BIT(VDEV_F_RING_PACKED);
	if (flags & 2)
		want &= ~VDEV_BIT(VDEV_NET_F_MRG_RXBUF);
	if (flags & 4)
		want &= ~VDEV_BIT(VDEV_NET_F_MQ);
	if (flags & 8)
		want &= ~VDEV_BIT(VDEV_F_EVENT_IDX);
	if (flags & 16)
		want &= ~(VDEV_BIT(VDEV_NET_F_CSUM) | VDEV_BIT(VDEV_NET_F_GUEST_CSUM));
	policy = flags >> 5;
	eagain = 0;
	fuzz_mem_reset(&m, REGION, false);
	/* One byte: rx_bufs (low bits) and the transmit batch (above them):
	 * the default, none (one chain at a time in iovs), 3, the largest;
	 * the top bit: the batch in tx_elems (else a few at a time). */
	uint8_t sizes = take(&in);
	static const unsigned tx_batches[4] = {0, 0, 3, VDEV_NET_TX_BATCH_MAX};
	unsigned tx_sel = (unsigned)(sizes / RX_BUFS) % 4u;
	struct vdev_net_config c = {
		.mtu = (flags & 64) ? 1500 : 0,
		.max_pairs = PAIRS,
		.queue_size = 32,
		.link_up = true,
		.offloads = VDEV_NET_OFFLOAD_MASK,
		.mem = &m.mem,
		.queues = queues,
		.queue_held = queue_held,
		.elems = elems,
		.iovs = iovs,
		.rx_bufs = 1 + sizes % RX_BUFS,
		.iov_per_chain = IOVS,
		.backend = &fz_ops,
		.tx_iovs = tx_sel == 1 ? NULL : tx_iovs,
		.tx_batch = tx_batches[tx_sel],
		.tx_elems = (sizes & 0x80u) ? tx_elems : NULL,
	};
	memcpy(c.mac, host_mac, 6);
	FUZZ_CHECK(vdev_net_init(&net, &c) == 0);
	FUZZ_CHECK(drv_mmio_attach(&dm, &mmio, vdev_net_dev(&net), &tr) == 0);
	tr.reset_polls = FUZZ_RESET_POLLS;
	memset(q, 0, sizeof(q));
	uint16_t qsize = (uint16_t)(1u << (1 + take(&in) % 5));
	up = bring_up(&tr, want, qsize);

	while (in.n > 0 && up) {
		uint8_t op = take(&in);
		unsigned pair = take(&in) % PAIRS;
		switch (op % 12) {
		case 0: /* transmit chain */
			queue_chain(&in, 2 * pair + 1, &slot, 0);
			break;
		case 1: /* receive buffers */
			queue_chain(&in, 2 * pair, &slot, 1);
			break;
		case 2: { /* kick, or reset the queue (RING_RESET) */
			unsigned qi = take(&in) % NQ;
			/* both bytes always taken, so inputs stay in step */
			uint8_t k = take(&in);
			bool spurious = (k & 1) != 0;
			if (qup[qi] && k >= 0xf0 && (neg & VDEV_BIT(VDEV_F_RING_RESET)))
				ring_reset(&tr, qi, qsize, scribbled);
			else if (qup[qi] && (drv_kick_prepare(&q[qi]) || spurious))
				tr.ops->notify(tr.t, (uint16_t)qi, false, 0);
			break;
		}
		case 3: { /* the host delivers a frame */
			static const uint8_t dsts[4][6] = {{0x52, 0x54, 0, 1, 2, 3},
							   {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
							   {0x01, 0x00, 0x5e, 0, 0, 1},
							   {0x52, 0x54, 0, 9, 9, 9}};
			size_t len = take(&in) % 4 ? 14u + take16(&in) % 3000u : take16(&in) + 100u;
			uint8_t d = take(&in);
			memcpy(frame, dsts[d % 4], 6);
			frame[12] = d & 4 ? 0x81 : 0x08;
			frame[13] = 0;
			frame[15] = take(&in);
			struct vdev_net_hdr h = {.flags = take(&in) % 4, .gso_type = take(&in),
						 .gso_size = take16(&in), .csum_start = take16(&in),
						 .csum_offset = take16(&in)};
			unsigned cut = 1 + take(&in) % 7u;
			struct vdev_iov v[2] = {{frame, len < cut ? len : cut}, {frame + cut, 0}};
			if (len > cut)
				v[1].len = len - cut;
			uint8_t how = take(&in);
			if (how & 0x80) {
				/* a batch: the frame cut to several lengths */
				struct vdev_net_frame fr[4];
				struct vdev_iov bv[4];
				int res[4];
				unsigned k = 1u + (how & 3u);
				for (unsigned i = 0; i < k; i++) {
					size_t l = len - (len * i) / (k + 1u);
					bv[i] = (struct vdev_iov){frame, l};
					fr[i] = (struct vdev_net_frame){how & 4 ? &h : NULL, &bv[i], 1, l};
				}
				int rc = vdev_net_receive_batch(&net, (uint16_t)take(&in), fr, k, res);
				FUZZ_CHECK(rc == VDEV_EAGAIN || rc == VDEV_EPERM ||
					   (rc >= 1 && rc <= (int)k));
				for (int i = 0; i < rc; i++)
					FUZZ_CHECK(res[i] == 0 || res[i] == VDEV_ENOENT ||
						   res[i] == VDEV_EMSGSIZE || res[i] == VDEV_ENOTSUP ||
						   res[i] == VDEV_EPROTO || res[i] == VDEV_EINVAL);
				break;
			}
			int rc = vdev_net_receive(&net, (uint16_t)take(&in), how & 1 ? &h : NULL,
						  v, 2, len);
			FUZZ_CHECK(rc == 0 || rc == VDEV_EAGAIN || rc == VDEV_ENOENT ||
				   rc == VDEV_EMSGSIZE || rc == VDEV_ENOTSUP || rc == VDEV_EPROTO ||
				   rc == VDEV_EPERM || rc == VDEV_EINVAL);
			break;
		}
		case 4: /* control command */
			if (qup[ctrl_index]) {
				uint8_t *p = sim_ptr(&m, arena + slot * SLOT);
				queue_chain(&in, ctrl_index, &slot, 2);
				p[0] = take(&in) % 7; /* a likely class */
			}
			break;
		case 5:
			reap_all();
			break;
		case 6: /* host side changes */
			switch (take(&in) % 4) {
			case 0: vdev_net_set_link(&net, take(&in) & 1); break;
			case 1: {
				uint8_t mac[6] = {0x52, 0x54, 0, 4, 5, take(&in)};
				vdev_net_set_mac(&net, mac);
				break;
			}
			case 2: (void)vdev_net_announce(&net); break;
			default: policy = take(&in); break;
			}
			break;
		case 7: /* backend pushback and resume */
			if (take(&in) & 1)
				eagain = take(&in) % 4;
			else
				(void)vdev_net_tx_resume(&net, (uint16_t)pair);
			break;
		case 8: { /* config space access */
			uint8_t buf[8];
			unsigned off = take(&in) % 32u;
			tr.ops->config_read(tr.t, off, buf, 1 + take(&in) % 4u);
			tr.ops->config_write(tr.t, off, buf, 1);
			break;
		}
		case 9: /* a hostile guest scribbles on a ring */
			if (take(&in) % 4 == 0) {
				unsigned qi = take(&in) % NQ;
				if (qup[qi]) {
					unsigned at = take(&in) % (16u * q[qi].size);
					((uint8_t *)q[qi].desc)[at] = take(&in);
					scribbled = true;
				}
			}
			break;
		case 10: /* RX path of a queue pair not up */
			(void)vdev_net_process_tx(&net, (uint16_t)take(&in));
			break;
		default: /* reset and bring the device up again */
			if (take(&in) % 8 != 0)
				break;
			tr.ops->set_status(tr.t, 0);
			FUZZ_CHECK(tr.ops->get_status(tr.t) == 0);
			eagain = 0;
			up = bring_up(&tr, want, qsize);
			scribbled = false;
			break;
		}
	}
	if (up && !scribbled) {
		/* transmit and control: exactly one completion per chain */
		eagain = 0;
		for (uint16_t p = 0; p < PAIRS; p++)
			(void)vdev_net_tx_resume(&net, p);
		/* the control queue first: a transmit queue beyond the pairs
		 * it sets waits for a notification after they grow */
		if (qup[ctrl_index])
			tr.ops->notify(tr.t, (uint16_t)ctrl_index, false, 0);
		for (unsigned i = 0; i < NQ; i++)
			if (qup[i])
				tr.ops->notify(tr.t, (uint16_t)i, false, 0);
		reap_all();
		for (unsigned i = 0; i < NQ; i++) {
			if (!qup[i])
				continue;
			FUZZ_CHECK(q[i].errors == 0);
			FUZZ_CHECK(reaped[i] <= queued[i]);
			/* a transmit queue beyond the active pairs is inert */
			if ((i & 1 && i / 2 < vdev_net_active_pairs(&net)) || i == ctrl_index)
				FUZZ_CHECK(reaped[i] == queued[i]);
		}
	}
	for (unsigned i = 0; i < NQ; i++)
		drv_vq_destroy(&q[i]);
	return 0;
}
