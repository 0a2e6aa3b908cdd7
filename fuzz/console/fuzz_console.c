/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-console device model behind virtio-mmio,
 * with a host side that takes output in random amounts (sometimes none,
 * sometimes an error), calls vdev_console_output_ready() at random, sends
 * input, adds, removes, opens, closes and resizes ports (also from inside
 * the output op, with output_ready() there too). The input picks
 * the negotiated features, ring layout and port count, then drives a
 * guest that sends control messages (any id, event and value, short,
 * split across descriptors, of the wrong direction), writes data on any
 * port's transmitq, posts receive and control buffers of any size and
 * direction, reaps, writes the config space, resets single queues
 * (RING_RESET, also with output held for the host) and the device (up to
 * three times per input).
 *
 * Invariants after each step: the output op is called with a port below
 * max_nr_ports, a non-empty length that matches its segments, and never
 * more bytes for a port than the guest queued there; sends return no more
 * than asked; every control message the driver receives is well formed:
 * a device-to-driver event, a port below max_nr_ports, PORT_ADD only for a
 * port the driver does not have and PORT_REMOVE only for one it has,
 * RESIZE with its size; and the driver sees no protocol error (no used
 * entry for a buffer it does not have out, also after a queue reset: output
 * held on a reset transmitq never reaches the host nor the new ring).
 */
#include <string.h>

#include "drv_mmio.h"
#include "fuzz_common.h"
#include "fuzz_mem.h"
#include "sim_le.h"
#include "vdev/console.h"
#include "vdev/mmio.h"

#define REGION (160u * 1024u)
#define MAXP 4u
#define NQ (2u + 2u * MAXP)
#define IOVS 8
#define SLOT 512u
#define NSLOT 16u /* the largest queue: a full ring has every slot busy */

enum { DEVICE_READY, PORT_ADD, PORT_REMOVE, PORT_READY, CONSOLE_PORT, RESIZE, PORT_OPEN,
       PORT_NAME };

static struct sim_mem m;
static struct vdev_console cs;
static struct vdev_vq queues[NQ];
static uint64_t queue_held[NQ * VDEV_VQ_HELD_WORDS(16)];
static struct vdev_console_port ports[MAXP];
static struct vdev_iov iovs[(MAXP + 3) * IOVS];
static struct vdev_mmio mmio;
static struct drv_mmio dm;
static struct drv_vq q[NQ];
static bool qup[NQ];
static int tok[NQ][NSLOT];
static unsigned next_slot[NQ]; /* where the search for a free slot starts */
static bool busy[NQ][NSLOT];    /* the slot's buffer is on the ring, not reaped */
static uint64_t arena[NQ];
static unsigned nports;
static int take_policy;        /* bytes per output call; < 0 all; -2 error */
static uint64_t queued[MAXP];  /* bytes the guest queued per port */
static uint64_t taken[MAXP];   /* bytes the output op took per port */
static bool announced[MAXP];   /* the driver's view: PORT_ADD seen, no REMOVE */
static uint8_t host_in[255u * 3u]; /* what the host sends: a length byte times 3 */
static uint8_t in_op;          /* 1: the next output op removes its port; 2: it calls
				* output_ready() for another port */

static int fz_output(void *o, uint32_t port, const struct vdev_iov *iov, unsigned n, size_t len)
{
	(void)o;
	FUZZ_CHECK(port < nports);
	FUZZ_CHECK(len > 0);
	FUZZ_CHECK(vdev_iov_length(iov, n) == len);
	if (take_policy == -2)
		return VDEV_EIO;
	size_t t = take_policy < 0 ? len : (size_t)take_policy;
	if (t > len)
		t = len;
	taken[port] += t;
	FUZZ_CHECK(taken[port] <= queued[port]);
	if (in_op == 1)
		(void)vdev_console_port_remove(&cs, port);
	else if (in_op == 2)
		(void)vdev_console_output_ready(&cs, (port + 1u) % nports);
	in_op = 0;
	return (int)t;
}

static void fz_event(void *o, uint32_t port, enum vdev_console_event ev, uint32_t arg)
{
	(void)o;
	FUZZ_CHECK(port < nports);
	FUZZ_CHECK(ev >= VDEV_CONSOLE_EV_DEVICE_READY && ev <= VDEV_CONSOLE_EV_RESET);
	FUZZ_CHECK(arg <= 1);
}

static void fz_writable(void *o, uint32_t port)
{
	(void)o;
	FUZZ_CHECK(port < nports);
}

static void fz_emerg(void *o, uint8_t c) { (void)o, (void)c; }

static const struct vdev_console_host_ops fz_ops = {
	.size = sizeof(struct vdev_console_host_ops),
	.output = fz_output,
	.event = fz_event,
	.writable = fz_writable,
	.emerg_write = fz_emerg,
};

static unsigned nq_live;
static uint64_t neg;            /* the features of the current bring-up */
static unsigned resets;         /* device resets in this input */

/*
 * Device resets an input may make. Bringing the device up again (ten
 * queues' worth of transport writes and driver rings) is most of an
 * input's cost, and long inputs made five or six of them on average; past
 * a few, a reset reaches nothing the first ones did not, so a further one
 * only reaps.
 */
#define MAX_RESETS 3u

static bool bring_up(struct drv_transport *tr, uint64_t want, uint16_t qsize)
{
	sim_mem_reset_alloc(&m);
	for (unsigned i = 0; i < NQ; i++)
		arena[i] = sim_alloc(&m, (size_t)NSLOT * SLOT, 64);
	memset(qup, 0, sizeof(qup));
	memset(next_slot, 0, sizeof(next_slot));
	memset(busy, 0, sizeof(busy));
	memset(announced, 0, sizeof(announced));
	if (drv_virtio_negotiate(tr, want, &neg) != 0)
		return false;
	nq_live = (neg & VDEV_BIT(VDEV_CONSOLE_F_MULTIPORT)) ? 2u + 2u * nports : 2u;
	for (uint16_t i = 0; i < nq_live; i++)
		qup[i] = drv_virtio_setup_queue(tr, &q[i], &m, i, qsize, neg) == 0;
	return drv_virtio_driver_ok(tr) == 0x0f;
}

/* A chain of up to 4 pieces in queue qi; readable pieces get `data`. */
static void add_chain(struct input *in, unsigned qi, const uint8_t *data, uint32_t len,
		      bool write, bool kick, struct drv_transport *tr)
{
	unsigned s, pieces;
	uint64_t g;
	struct drv_buf b[4];
	uint32_t off = 0;

	if (qi >= NQ || !qup[qi] || len > SLOT)
		return;
	/* a slot whose buffer the device does not hold: reusing one it holds
	 * would let a later message overwrite an earlier one before reaping */
	for (s = 0; s < NSLOT && busy[qi][(next_slot[qi] + s) % NSLOT]; s++)
		;
	if (s == NSLOT)
		return;
	s = (next_slot[qi] + s) % NSLOT;
	g = arena[qi] + (uint64_t)s * SLOT;
	pieces = 1u + take(in) % 4u;
	if (data != NULL && !write)
		memcpy(sim_ptr(&m, g), data, len);
	for (unsigned i = 0; i < pieces; i++) {
		uint32_t l = i + 1 == pieces ? len - off : (len - off) / (pieces - i);
		bool w = write;
		if (take(in) % 16 == 0)
			w = !w; /* a piece of the wrong direction */
		b[i] = (struct drv_buf){g + off, l, w};
		off += l;
	}
	/* the driver must put readable pieces first: sort them so */
	for (unsigned i = 1; i < pieces; i++)
		for (unsigned j = i; j > 0 && b[j - 1].write && !b[j].write; j--) {
			struct drv_buf t = b[j];
			b[j] = b[j - 1];
			b[j - 1] = t;
		}
	if (drv_add(&q[qi], b, pieces, false, &tok[qi][s]) != 0)
		return;
	busy[qi][s] = true;
	next_slot[qi] = s + 1u;
	if (qi == 1u || (qi > 3u && (qi & 1u))) {
		/* data on a port's transmitq: count what may reach the host (a
		 * zero-length piece is no segment, whatever its direction) */
		bool all_read = true;
		for (unsigned i = 0; i < pieces; i++)
			all_read = all_read && (!b[i].write || b[i].len == 0);
		if (all_read)
			queued[qi == 1u ? 0u : (qi - 2u) / 2u] += len;
	}
	if (kick && drv_kick_prepare(&q[qi]))
		tr->ops->notify(tr->t, (uint16_t)qi, false, 0);
}

static void check_ctrl(const uint8_t *p, uint32_t used)
{
	uint32_t id;
	uint16_t event, value;

	if (used == 0)
		return; /* an unusable buffer comes back empty */
	FUZZ_CHECK(used >= 8);
	id = sim_get_le32(p);
	event = sim_get_le16(p + 4);
	value = sim_get_le16(p + 6);
	FUZZ_CHECK(id < nports);
	FUZZ_CHECK(value <= 1);
	switch (event) {
	case PORT_ADD:
		FUZZ_CHECK(!announced[id]);
		announced[id] = true;
		break;
	case PORT_REMOVE:
		FUZZ_CHECK(announced[id]);
		announced[id] = false;
		break;
	case RESIZE:
		FUZZ_CHECK(used <= 12);
		FUZZ_CHECK(announced[id]);
		break;
	case CONSOLE_PORT:
	case PORT_OPEN:
	case PORT_NAME:
		FUZZ_CHECK(announced[id]);
		FUZZ_CHECK(used <= 8 + VDEV_CONSOLE_NAME_MAX);
		break;
	default:
		FUZZ_CHECK(0 && "a driver-to-device event from the device");
	}
}

static void reap(unsigned qi)
{
	uint32_t l;
	int *t;

	if (!qup[qi])
		return;
	while ((t = drv_get_used(&q[qi], &l)) != NULL) {
		unsigned s = (unsigned)(t - tok[qi]);
		FUZZ_CHECK(s < NSLOT && busy[qi][s]);
		busy[qi][s] = false;
		FUZZ_CHECK(l <= SLOT);
		if (qi == 2)
			check_ctrl(sim_ptr(&m, arena[qi] + (uint64_t)s * SLOT), l);
		else if (qi == 3 || (qi & 1u))
			FUZZ_CHECK(l == 0); /* transmit buffers are not written */
	}
	FUZZ_CHECK(q[qi].errors == 0);
}

static void reap_all(void)
{
	for (unsigned qi = 0; qi < nq_live; qi++)
		reap(qi);
}

/*
 * RING_RESET of queue qi, then new rings for it while the simulated memory
 * has room (else it stays reset); the driver forgets what it had out
 * there. What the device wrote before the reset is reaped first, so the
 * driver's view of the ports stays whole.
 * Output the host had not taken from a transmitq is gone: from now on the
 * host may get no more bytes of that port than it already took.
 */
static void ring_reset(struct drv_transport *tr, unsigned qi, uint16_t qsize)
{
	reap(qi);
	FUZZ_CHECK(tr->ops->reset_queue(tr->t, (uint16_t)qi));
	memset(busy[qi], 0, sizeof(busy[qi]));
	if (qi == 1u || (qi > 3u && (qi & 1u))) {
		unsigned port = qi == 1u ? 0u : (qi - 2u) / 2u;
		queued[port] = taken[port];
	}
	qup[qi] = drv_virtio_setup_queue_if_room(tr, &q[qi], &m, (uint16_t)qi, qsize, neg) == 0;
}

static const char *const names[4] = {NULL, "", "org.libvdev.data", "x"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	uint8_t flags = take(&in);
	struct drv_transport tr;
	uint64_t want = ~(uint64_t)0;
	uint8_t buf[SLOT];
	bool up, multi = !(flags & 4);

	if (!(flags & 1))
		want &= ~VDEV_BIT(VDEV_F_RING_PACKED);
	if (flags & 2)
		want &= ~VDEV_BIT(VDEV_F_EVENT_IDX);
	if (flags & 8)
		want &= ~VDEV_BIT(VDEV_CONSOLE_F_MULTIPORT);
	nports = multi ? 1u + take(&in) % MAXP : 1u;
	take_policy = -1;
	in_op = 0;
	resets = 0;
	memset(queued, 0, sizeof(queued));
	memset(taken, 0, sizeof(taken));
	fuzz_mem_reset(&m, REGION, false);
	struct vdev_console_config c = {
		.queue_size = 16,
		.multiport = multi,
		.max_nr_ports = nports,
		.size = (flags & 16) != 0,
		.cols = 80,
		.rows = 24,
		.mem = &m.mem,
		.queues = queues,
		.queue_held = queue_held,
		.ports = ports,
		.iovs = iovs,
		.iov_per_chain = IOVS,
		.host = &fz_ops,
	};
	FUZZ_CHECK(vdev_console_init(&cs, &c) == 0);
	FUZZ_CHECK(drv_mmio_attach(&dm, &mmio, vdev_console_dev(&cs), &tr) == 0);
	tr.reset_polls = FUZZ_RESET_POLLS;
	memset(q, 0, sizeof(q));
	uint16_t qsize = (uint16_t)(1u << (1 + take(&in) % 4));
	up = bring_up(&tr, want, qsize);

	while (in.n > 0 && up) {
		uint8_t op = take(&in);
		switch (op % 10) {
		case 0: { /* a control message from the driver */
			uint8_t msg[12];
			uint32_t id = take(&in) % 8u;
			uint16_t event = (uint16_t)(take(&in) % 10u), value = (uint16_t)(take(&in) % 3u);
			uint32_t len = take(&in) % 13u;
			if (id == 7)
				id = 0xffffffffu;
			memcpy(msg, &id, 4);
			memcpy(msg + 4, &event, 2);
			memcpy(msg + 6, &value, 2);
			memset(msg + 8, 0, 4);
			add_chain(&in, 3, msg, len, false, true, &tr);
			break;
		}
		case 1: { /* data from the guest on a port */
			unsigned port = take(&in) % MAXP;
			uint32_t len = take(&in) * 2u;
			memset(buf, 'a' + (int)port, sizeof(buf));
			add_chain(&in, port == 0 ? 1u : 3u + 2u * port, buf, len, false, true, &tr);
			break;
		}
		case 2: { /* receive buffers: a port's or the control receiveq */
			unsigned qi = take(&in) % (MAXP + 1u);
			unsigned qq = qi == MAXP ? 2u : qi == 0 ? 0u : 2u + 2u * qi;
			unsigned n = 1u + take(&in) % 4u;
			for (unsigned i = 0; i < n; i++)
				add_chain(&in, qq, NULL, take(&in) % 64u, true, i + 1 == n, &tr);
			break;
		}
		case 3: { /* kick any queue, or reset it (RING_RESET) */
			uint8_t k = take(&in);
			unsigned qi = k % NQ;
			if (qi < nq_live && qup[qi] && (k / NQ) % 8u == 7u &&
			    (neg & VDEV_BIT(VDEV_F_RING_RESET)))
				ring_reset(&tr, qi, qsize);
			else if (qi < nq_live && qup[qi])
				tr.ops->notify(tr.t, (uint16_t)qi, false, 0);
			break;
		}
		case 4: { /* host input (its own buffer: up to 765 bytes) */
			uint32_t port = take(&in) % (MAXP + 1u);
			size_t len = take(&in) * 3u;
			struct vdev_iov v = {host_in, len};
			int rc = vdev_console_send(&cs, port, &v, 1, len);
			FUZZ_CHECK(rc <= (int)len);
			FUZZ_CHECK(rc >= 0 || rc == VDEV_EAGAIN || rc == VDEV_EPERM ||
				   rc == VDEV_ENOENT);
			break;
		}
		case 5: { /* host port management */
			uint32_t port = take(&in) % (MAXP + 1u);
			uint8_t k = take(&in);
			switch (k % 5) {
			case 0: (void)vdev_console_port_add(&cs, port, names[k / 5 % 4], k & 32); break;
			case 1: (void)vdev_console_port_remove(&cs, port); break;
			case 2: (void)vdev_console_port_set_open(&cs, port, k & 8); break;
			case 3: (void)vdev_console_resize(&cs, port, take16(&in), take16(&in)); break;
			default: (void)vdev_console_process(&cs); break;
			}
			break;
		}
		case 6: { /* the host's appetite for output */
			uint8_t k = take(&in);
			take_policy = k < 32 ? -2 : k < 128 ? k % 8 : -1;
			in_op = (uint8_t)(k >= 240 ? k % 3 : 0);
			(void)vdev_console_output_ready(&cs, take(&in) % (MAXP + 1u));
			break;
		}
		case 7:
			reap_all();
			break;
		case 8: { /* config space writes (emerg_wr, read-only fields) */
			uint32_t off = take(&in) % 16u, v = sim_le32(take32(&in));
			tr.ops->config_write(tr.t, off, &v, 1u + take(&in) % 4u);
			break;
		}
		case 9: /* device reset and a new driver */
			if (++resets > MAX_RESETS) {
				reap_all();
				break;
			}
			tr.ops->set_status(tr.t, 0);
			memset(queued, 0, sizeof(queued));
			memset(taken, 0, sizeof(taken));
			up = bring_up(&tr, want, qsize);
			break;
		}
	}
	reap_all();
	for (unsigned i = 0; i < NQ; i++)
		drv_vq_destroy(&q[i]);
	return 0;
}
