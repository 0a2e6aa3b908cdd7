/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-vsock device model behind virtio-mmio, with
 * a host side that listens on some ports, sometimes lets data pile up in
 * its buffer (consuming it later, in random amounts, with
 * vdev_vsock_consumed()), fails a recv now and then, and sends, connects,
 * shuts down, closes, aborts and ticks the clock at random. The
 * input picks the negotiated features, ring layout, table size and host
 * buffer, then drives a guest that sends packets (ports from a small set,
 * any op/type/flags/len/credit, the header split any way, spoofed CIDs,
 * bad chains), posts rx and event buffers of any size and direction,
 * reaps, resets single queues (RING_RESET) and the device, changes the
 * CID, and now and then scribbles on a ring.
 *
 * Invariants after each step: the recv op is never given more than the
 * budget (unconsumed bytes plus the packet <= buf_alloc), consumption is
 * accepted exactly up to what was taken; a close timeout is reported only
 * from a tick; the connection count never exceeds the table; a send never returns more than the credit the device had, and
 * that credit never exceeds the largest buf_alloc the guest advertised;
 * every rx packet is well formed (host CID to guest CID, used length =
 * header + len, known op and type); and unless the rings were scribbled
 * on, the driver sees no protocol error and every tx chain comes back
 * exactly once (chains on a reset ring never: the driver forgot them).
 */
#include <string.h>

#include "drv_mmio.h"
#include "fuzz_common.h"
#include "fuzz_mem.h"
#include "sim_le.h"
#include "vdev/mmio.h"
#include "vdev/vsock.h"

#define REGION (256u * 1024u)
#define MAXC 8
#define IOVS 12
#define SLOT 2048u
/* guest memory slots: rx buffers, event buffers, tx packets apart */
#define RX0 0u
#define NRX 40u
#define EV0 40u
#define NEV 8u
#define TX0 48u
#define NTX 48u
#define SLOTS (TX0 + NTX)

static struct sim_mem m;
static struct vdev_vsock vs;
static struct vdev_vq queues[3];
static uint64_t queue_held[3 * VDEV_VQ_HELD_WORDS(32)];
static struct vdev_vsock_conn conns[MAXC];
static struct vdev_iov iovs[3 * IOVS];
static struct vdev_mmio mmio;
static struct drv_mmio dm;
static struct drv_vq q[3];
static bool qup[3];
static int tok[3][256];
static unsigned queued[3], reaped[3];
/* receive buffers outstanding per slot: after NRX posts without a reap
 * two buffers share a slot's memory, and the later packet overwrites the
 * earlier one's before it is reaped */
static unsigned rx_out[SLOTS];
static uint64_t arena, guest_cid;
static unsigned max_conns;
static bool hoard;        /* recv keeps data unconsumed (a peer that does not read) */
static int fail;          /* recv fails now and then */
static uint32_t buf_alloc; /* the budget the device advertises */
static struct {
	uint32_t id;          /* the connection the slot's bytes belong to */
	uint32_t unconsumed;  /* taken by recv, not yet reported consumed */
} taken[MAXC];
static uint64_t now;      /* the clock given to vdev_vsock_tick() */
static bool in_tick;
static uint32_t ids[MAXC + 1]; /* latest id per table slot, and a stale one */
static unsigned nids;
static uint32_t max_buf_alloc[8][4]; /* per (guest port, host port) the guest used */
static uint8_t scratch[SLOT];
static bool scribbled; /* the guest wrote garbage into a ring: buffers may be anywhere */

static const uint32_t host_ports[4] = {1234, 5000, 999, 0xffffffffu};

static void remember(uint32_t id)
{
	unsigned i = id & 0xffffu;

	FUZZ_CHECK(i < max_conns);
	if (ids[i] != 0)
		ids[MAXC] = ids[i];
	ids[i] = id;
	nids = MAXC + 1;
}

static uint32_t pick(struct input *in)
{
	return ids[take(in) % (MAXC + 1u)];
}

static int fz_accept(void *o, uint32_t conn, uint32_t hp, uint32_t gp, uint16_t type)
{
	(void)o, (void)gp;
	FUZZ_CHECK(type == VDEV_VSOCK_TYPE_STREAM || type == VDEV_VSOCK_TYPE_SEQPACKET);
	if (hp != 1234 && hp != 5000)
		return VDEV_ENOENT;
	remember(conn);
	return 0;
}

static uint32_t unconsumed(uint32_t id)
{
	unsigned i = id & 0xffffu;

	return i < MAXC && taken[i].id == id ? taken[i].unconsumed : 0;
}

/* Report n bytes of `id` consumed; the device must agree with our count. */
static void consume(uint32_t id, uint32_t n)
{
	uint32_t have = unconsumed(id);
	int rc = vdev_vsock_consumed(&vs, id, n);

	if (n <= have)
		FUZZ_CHECK(rc == 0 || rc == VDEV_ENOENT);
	else
		FUZZ_CHECK(rc == VDEV_EINVAL || rc == VDEV_ENOENT);
	if (rc == 0)
		taken[id & 0xffffu].unconsumed -= n;
}

static int fz_recv(void *o, uint32_t conn, const struct vdev_iov *iov, unsigned n, size_t len,
		   uint32_t flags)
{
	unsigned slot = conn & 0xffffu;

	(void)o;
	FUZZ_CHECK(slot < max_conns);
	FUZZ_CHECK(vdev_iov_length(iov, n) == len);
	FUZZ_CHECK((flags & ~3u) == 0);
	/* touch every byte the device lent us */
	for (size_t off = 0; off < len; off += SLOT)
		vdev_iov_to_buf(iov, n, off, scratch, len - off < SLOT ? len - off : SLOT);
	if (taken[slot].id != conn) {
		taken[slot].id = conn; /* a new connection in the slot */
		taken[slot].unconsumed = 0;
	}
	/* never more than the budget the device advertised for us */
	FUZZ_CHECK((uint64_t)taken[slot].unconsumed + len <= buf_alloc);
	taken[slot].unconsumed += (uint32_t)len;
	if (fail > 0) {
		fail--;
		return VDEV_EIO;
	}
	if (!hoard)
		consume(conn, taken[slot].unconsumed); /* from inside recv */
	return 0;
}

static void fz_event(void *o, uint32_t conn, enum vdev_vsock_event ev, uint32_t arg)
{
	(void)o;
	FUZZ_CHECK(ev >= VDEV_VSOCK_EV_CONNECTED && ev <= VDEV_VSOCK_EV_CLOSED);
	FUZZ_CHECK(ev != VDEV_VSOCK_EV_SHUTDOWN || (arg != 0 && arg <= 3));
	FUZZ_CHECK(ev == VDEV_VSOCK_EV_SHUTDOWN || ev == VDEV_VSOCK_EV_CLOSED || arg == 0);
	if (ev == VDEV_VSOCK_EV_CLOSED)
		FUZZ_CHECK(arg == 0 || (arg == VDEV_VSOCK_CLOSED_TIMEOUT && in_tick));
	(void)conn;
}

static const struct vdev_vsock_host_ops fz_ops = {
	.size = sizeof(struct vdev_vsock_host_ops),
	.accept = fz_accept,
	.recv = fz_recv,
	.event = fz_event,
};

static uint64_t neg; /* the features of the current bring-up */

static bool bring_up(struct drv_transport *tr, uint64_t want, uint16_t qsize)
{
	sim_mem_reset_alloc(&m);
	arena = sim_alloc(&m, (size_t)SLOTS * SLOT, 4096);
	memset(qup, 0, sizeof(qup));
	memset(queued, 0, sizeof(queued));
	memset(reaped, 0, sizeof(reaped));
	memset(rx_out, 0, sizeof(rx_out));
	if (drv_virtio_negotiate(tr, want, &neg) != 0)
		return false;
	for (uint16_t i = 0; i < 3; i++)
		qup[i] = drv_virtio_setup_queue(tr, &q[i], &m, i, qsize, neg) == 0;
	return drv_virtio_driver_ok(tr) == 0x0f;
}

static void check_rx_packet(const uint8_t *p, uint32_t used)
{
	uint64_t src, dst;
	uint32_t len;
	uint16_t type, op;

	if (used == 0 || scribbled)
		return; /* an unusable buffer returned empty; or not where we put it */
	FUZZ_CHECK(used >= VDEV_VSOCK_HDR_LEN);
	src = sim_get_le64(p);
	dst = sim_get_le64(p + 8);
	len = sim_get_le32(p + 24);
	type = sim_get_le16(p + 28);
	op = sim_get_le16(p + 30);
	FUZZ_CHECK(src == VDEV_VSOCK_HOST_CID);
	FUZZ_CHECK(dst == guest_cid);
	FUZZ_CHECK(used == VDEV_VSOCK_HDR_LEN + len);
	FUZZ_CHECK(op >= 1 && op <= 7);
	FUZZ_CHECK(op == 5 || len == 0);
	(void)type; /* an RST echoes whatever type the guest used */
}

static void reap(unsigned i)
{
	uint32_t len;
	int *t;

	if (!qup[i])
		return;
	while ((t = drv_get_used(&q[i], &len)) != NULL) {
		unsigned slot = (unsigned)(t - tok[i]);
		reaped[i]++;
		if (i == 0 && rx_out[slot] > 0 && --rx_out[slot] == 0)
			check_rx_packet(sim_ptr(&m, arena + slot * SLOT), len);
	}
}

static void reap_all(void)
{
	for (unsigned i = 0; i < 3; i++)
		reap(i);
}

/*
 * RING_RESET of queue qi, then new rings for it while the simulated memory
 * has room (else it stays reset). The driver reaps what the device wrote
 * first, then forgets what it had out there: from now on a used entry for
 * one of those buffers would be a protocol error on the new ring.
 */
static void ring_reset(struct drv_transport *tr, unsigned qi)
{
	uint16_t size = q[qi].size;

	reap(qi);
	FUZZ_CHECK(tr->ops->reset_queue(tr->t, (uint16_t)qi));
	queued[qi] = reaped[qi] = 0;
	if (qi == 0)
		memset(rx_out, 0, sizeof(rx_out));
	qup[qi] = drv_virtio_setup_queue_if_room(tr, &q[qi], &m, (uint16_t)qi, size, neg) == 0;
}

/* A guest packet on tx. */
static void guest_tx(struct input *in, unsigned *next)
{
	unsigned s = TX0 + *next % NTX;
	uint64_t base = arena + s * SLOT;
	uint8_t *p = sim_ptr(&m, base);
	uint8_t sel = take(in), k = take(in);
	unsigned gpi = sel % 8u, hpi = (sel >> 3) % 4u;
	uint64_t src = guest_cid, dst = VDEV_VSOCK_HOST_CID;
	uint32_t gp = 40000 + gpi, hp = host_ports[hpi], len, ba, fwd, flags;
	uint16_t op = (uint16_t)(take(in) % 9u), type = (uint16_t)(1 + take(in) % 3u);
	uint32_t paylen = take(in) % 4 ? take(in) % 600u : take16(in) % (SLOT - 64u);
	struct drv_buf b[10];
	unsigned n = 0;

	if (!qup[1])
		return;
	if (k % 32 == 0)
		src = take(in);
	if (k % 32 == 1)
		dst = take(in), dst |= (uint64_t)take(in) << 32;
	len = k % 16 == 2 ? take32(in) : paylen - (k % 16 == 3 ? take(in) % (paylen + 1) : 0);
	ba = (k & 0x30) == 0 ? take32(in) : (k & 0x30) == 0x10 ? 0xffffffffu : 65536u;
	fwd = take(in) & 1 ? take32(in) : 0;
	flags = take(in);
	if (type != 3 && ba > max_buf_alloc[gpi][hpi])
		max_buf_alloc[gpi][hpi] = ba;
	sim_put_le64(p + 0, src);
	sim_put_le64(p + 8, dst);
	sim_put_le32(p + 16, gp);
	sim_put_le32(p + 20, hp);
	sim_put_le32(p + 24, len);
	sim_put_le16(p + 28, type);
	sim_put_le16(p + 30, op);
	sim_put_le32(p + 32, flags);
	sim_put_le32(p + 36, ba);
	sim_put_le32(p + 40, fwd);
	for (uint32_t i = 44; i < 44 + paylen && i < SLOT; i++)
		p[i] = (uint8_t)i;
	/* cut header + payload into pieces */
	uint32_t total = 44 + paylen, off = 0;
	unsigned pieces = 1 + take(in) % 6u;
	for (unsigned i = 0; i < pieces && off < total; i++) {
		uint32_t l = i + 1 == pieces ? total - off : 1 + take(in) % (total - off);
		b[n++] = (struct drv_buf){base + off, l, false};
		off += l;
	}
	uint8_t bad = take(in);
	if (bad % 16 == 0)
		b[0].gpa = SIM_HOLE_GPA;
	else if (bad % 16 == 1)
		b[n - 1].write = true;
	else if (bad % 16 == 2)
		b[0].len = bad % 44u, n = 1; /* shorter than a header */
	(*next)++;
	if (drv_add(&q[1], b, n, (bad & 0x40) != 0, &tok[1][s]) == 0)
		queued[1]++;
}

static void post_buffers(struct input *in, unsigned qi, unsigned *next)
{
	uint8_t k = take(in);
	unsigned count = 1 + k % 8u;

	if (!qup[qi])
		return;
	for (unsigned i = 0; i < count; i++) {
		uint8_t f = take(in);
		struct drv_buf b[2];
		unsigned n = 1;
		uint32_t size = f % 4 ? SLOT : (uint32_t)(f % 128u);
		unsigned s = qi == 0 ? RX0 + *next % NRX : EV0 + *next % NEV;
		b[0] = (struct drv_buf){arena + s * SLOT, size, true};
		if (f % 23 == 0)
			b[0].write = false;
		if (f % 19 == 0 && size > 8) { /* split into two pieces */
			b[0].len = 8;
			b[1] = (struct drv_buf){arena + s * SLOT + 8, size - 8, true};
			n = 2;
		}
		(*next)++;
		if (drv_add(&q[qi], b, n, false, &tok[qi][s]) != 0)
			break;
		queued[qi]++;
		if (qi == 0)
			rx_out[s]++;
	}
}

static void host_send(struct input *in)
{
	static uint8_t data[8192];
	uint32_t id;
	uint32_t credit;
	size_t len = take(in) % 2 ? take(in) : take16(in) % sizeof(data);
	uint32_t flags = take(in) % 4u;
	struct vdev_iov v[2];
	int rc;

	if (nids == 0)
		return;
	id = pick(in);
	credit = vdev_vsock_credit(&vs, id);
	v[0] = (struct vdev_iov){data, len / 2};
	v[1] = (struct vdev_iov){data + len / 2, len - len / 2};
	rc = vdev_vsock_send(&vs, id, v, 2, len, flags);
	FUZZ_CHECK(rc == VDEV_EAGAIN || rc == VDEV_ENOENT || rc == VDEV_EPERM || rc >= 0);
	if (rc > 0) {
		FUZZ_CHECK((size_t)rc <= len);
		FUZZ_CHECK((uint32_t)rc <= credit); /* never beyond the guest's credit */
	}
}

static void check_step(void)
{
	uint32_t most = 0;

	for (unsigned i = 0; i < 8; i++)
		for (unsigned j = 0; j < 4; j++)
			if (max_buf_alloc[i][j] > most)
				most = max_buf_alloc[i][j];
	/* (a scribbled ring lets the device read headers we never wrote) */
	for (unsigned i = 0; i < nids && !scribbled; i++)
		FUZZ_CHECK(vdev_vsock_credit(&vs, ids[i]) <= most);
	FUZZ_CHECK(vdev_vsock_num_conns(&vs) <= max_conns);
	for (unsigned i = 0; i < 3 && !scribbled; i++)
		FUZZ_CHECK(!qup[i] || q[i].errors == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	uint8_t flags = take(&in);
	bool up;
	unsigned rx_next = 0, ev_next = 0, tx_next = 0;
	struct drv_transport tr;
	uint64_t want = ~(uint64_t)0;

	if (!(flags & 1))
		want &= ~VDEV_BIT(VDEV_F_RING_PACKED);
	if (flags & 2)
		want &= ~VDEV_BIT(VDEV_F_EVENT_IDX);
	if (flags & 4)
		want &= ~VDEV_BIT(VDEV_VSOCK_F_SEQPACKET);
	if (flags & 8)
		want &= ~VDEV_BIT(VDEV_VSOCK_F_STREAM);
	hoard = false;
	fail = 0;
	scribbled = false;
	nids = 0;
	now = 0;
	memset(taken, 0, sizeof(taken));
	memset(ids, 0, sizeof(ids));
	memset(max_buf_alloc, 0, sizeof(max_buf_alloc));
	guest_cid = 3;
	max_conns = 1 + take(&in) % MAXC;
	fuzz_mem_reset(&m, REGION, false);
	buf_alloc = (flags & 32) ? 1u + take(&in) * 64u : 65536u;
	uint32_t max_pkt = (flags & 64) ? 1u + take(&in) : 0;
	uint32_t close_ms = (flags & 128) ? 1u + take(&in) : 0;
	struct vdev_vsock_config c = {
		.guest_cid = guest_cid,
		.queue_size = 32,
		.seqpacket = (flags & 16) == 0,
		.buf_alloc = buf_alloc,
		.max_pkt = max_pkt,
		.mem = &m.mem,
		.queues = queues,
		.queue_held = queue_held,
		.conns = conns,
		.max_conns = max_conns,
		.iovs = iovs,
		.iov_per_chain = IOVS,
		.host = &fz_ops,
		.close_timeout_ms = close_ms,
	};
	FUZZ_CHECK(vdev_vsock_init(&vs, &c) == 0);
	FUZZ_CHECK(drv_mmio_attach(&dm, &mmio, vdev_vsock_dev(&vs), &tr) == 0);
	tr.reset_polls = FUZZ_RESET_POLLS;
	memset(q, 0, sizeof(q));
	uint16_t qsize = (uint16_t)(1u << (1 + take(&in) % 5));
	up = bring_up(&tr, want, qsize);

	while (in.n > 0 && up) {
		uint8_t op = take(&in);
		switch (op % 14) {
		case 0:
		case 1:
			guest_tx(&in, &tx_next);
			break;
		case 2:
			post_buffers(&in, 0, &rx_next);
			break;
		case 3: { /* kick, or reset the queue (RING_RESET) */
			uint8_t k = take(&in);
			unsigned qi = k % 3u;
			bool force = take(&in) & 1;
			if (qup[qi] && (k / 3u) % 8u == 7u && (neg & VDEV_BIT(VDEV_F_RING_RESET)) &&
			    !scribbled)
				ring_reset(&tr, qi);
			else if (qup[qi] && (drv_kick_prepare(&q[qi]) || force))
				tr.ops->notify(tr.t, (uint16_t)qi, false, 0);
			break;
		}
		case 4:
			host_send(&in);
			break;
		case 5: { /* host connects */
			uint32_t id;
			uint16_t type = (uint16_t)(1 + take(&in) % 2u);
			uint32_t hp = host_ports[take(&in) % 4u];
			uint32_t gp = 40000u + take(&in) % 8u;
			int rc = vdev_vsock_connect(&vs, hp, gp, type, &id);
			FUZZ_CHECK(rc == 0 || rc == VDEV_EEXIST || rc == VDEV_ENOMEM ||
				   rc == VDEV_ENOTSUP || rc == VDEV_EPERM);
			if (rc == 0)
				remember(id);
			break;
		}
		case 6: /* host shutdown / close / abort */
			if (nids > 0) {
				uint32_t id = pick(&in);
				uint8_t k = take(&in);
				if (k % 3 == 0)
					(void)vdev_vsock_shutdown(&vs, id, 1u + k / 3u % 3u);
				else if (k % 3 == 1)
					(void)vdev_vsock_close(&vs, id);
				else
					(void)vdev_vsock_abort(&vs, id);
			}
			break;
		case 7: /* the host's peers read (or stop reading) */
			if (take(&in) & 1) {
				hoard = take(&in) & 1;
			} else if (nids > 0) {
				uint32_t id = pick(&in);
				uint8_t k = take(&in);
				uint32_t have = unconsumed(id);
				consume(id, k % 4 == 0 ? take32(&in)
					  : k % 4 == 1 ? have + 1u
					  : k % 4 == 2 ? have : have / 2u);
			}
			fail = take(&in) % 16 == 0;
			break;
		case 8:
			reap_all();
			break;
		case 9:
			post_buffers(&in, 2, &ev_next);
			break;
		case 10: /* host-side changes */
			switch (take(&in) % 4) {
			case 0:
				reap_all(); /* what was written for the old CID */
				guest_cid = 3 + take(&in);
				FUZZ_CHECK(vdev_vsock_set_guest_cid(&vs, guest_cid) == 0);
				break;
			case 1: vdev_vsock_transport_reset(&vs); break;
			case 2: (void)vdev_vsock_process(&vs); break;
			default: /* time passes */
				now += take(&in) & 1 ? take16(&in) : take(&in);
				in_tick = true;
				vdev_vsock_tick(&vs, now);
				in_tick = false;
				break;
			}
			break;
		case 11: /* a hostile guest scribbles on a ring */
			if (take(&in) % 4 == 0) {
				unsigned qi = take(&in) % 3u;
				if (qup[qi]) {
					unsigned at = take(&in) % (16u * q[qi].size);
					((uint8_t *)q[qi].desc)[at] = take(&in);
					scribbled = true;
				}
			}
			break;
		case 12: { /* config read */
			uint8_t buf[8];
			uint32_t off = take(&in) % 8u;
			tr.ops->config_read(tr.t, off, buf, 1 + take(&in) % 4u);
			break;
		}
		default: /* reset and bring the device up again */
			if (take(&in) % 8 != 0)
				break;
			tr.ops->set_status(tr.t, 0);
			FUZZ_CHECK(tr.ops->get_status(tr.t) == 0);
			FUZZ_CHECK(vdev_vsock_num_conns(&vs) == 0);
			hoard = false;
			fail = 0;
			up = bring_up(&tr, want, qsize);
			scribbled = false;
			break;
		}
		check_step();
	}
	if (up && !scribbled) {
		/* The host's peers read everything; rx gets room; every tx chain returns. */
		hoard = false;
		fail = 0;
		/* (a small rxq drains a round at a time: replies and the host's
		 * data share its few buffers, so go on while tx chains are out) */
		for (unsigned round = 0; round < 64; round++) {
			for (unsigned i = 0; i < MAXC; i++)
				if (taken[i].unconsumed > 0)
					consume(taken[i].id, taken[i].unconsumed);
			reap_all();
			if (round >= 4 && reaped[1] >= queued[1])
				break;
			if (qup[0]) {
				for (unsigned i = 0; i < 64; i++) {
					unsigned s = RX0 + rx_next++ % NRX;
					struct drv_buf b = {arena + s * SLOT, SLOT, true};
					if (drv_add(&q[0], &b, 1, false, &tok[0][s]) != 0)
						break;
					queued[0]++;
					rx_out[s]++;
				}
			}
			for (unsigned i = 0; i < 3; i++)
				if (qup[i])
					tr.ops->notify(tr.t, (uint16_t)i, false, 0);
		}
		reap_all();
		for (unsigned i = 0; i < 3; i++) {
			if (!qup[i])
				continue;
			FUZZ_CHECK(q[i].errors == 0);
			FUZZ_CHECK(reaped[i] <= queued[i]);
		}
		/* (with the rxq reset and not set up again, a packet that
		 * needs an answer waits for rx room for ever) */
		if (qup[0] && qup[1] && vdev_dev_is_running(vdev_vsock_dev(&vs)))
			FUZZ_CHECK(reaped[1] == queued[1]);
	}
	for (unsigned i = 0; i < 3; i++)
		drv_vq_destroy(&q[i]);
	return 0;
}
