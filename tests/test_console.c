/* SPDX-License-Identifier: MIT */
/*
 * virtio-console device model, driven through the virtio-mmio transport by
 * the driver simulator (split and packed rings) playing a guest's console
 * driver, with a recording host side. Single port; the multiport control
 * protocol (DEVICE_READY, PORT_ADD, PORT_READY, CONSOLE_PORT, PORT_NAME,
 * PORT_OPEN, RESIZE, PORT_REMOVE) with control buffers arriving late;
 * hot-plug; data both ways with host backpressure (held output, input
 * waiting for receive buffers); emergency write; resize; reset; and every
 * malformed case: short or unknown control messages, device-to-driver
 * events from the driver, bad values, unknown or unannounced port ids,
 * ids beyond max_nr_ports, wrong-direction chains, short control receive
 * buffers.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "drv_mmio.h"
#include "drvsim.h"
#include "sim_le.h"
#include "vdev/console.h"
#include "vdev/mmio.h"

#define F(b) VDEV_BIT(VDEV_F_##b)
#define C(b) VDEV_BIT(VDEV_CONSOLE_F_##b)

#define NPORTS 4u
#define NQ (2u + 2u * NPORTS)
#define IOVS 16
#define QSIZE 32
#define SLOT 4096u
#define NSLOT 32

enum { DEVICE_READY, PORT_ADD, PORT_REMOVE, PORT_READY, CONSOLE_PORT, RESIZE, PORT_OPEN,
       PORT_NAME };

/* ---- the host side: records everything, takes output by policy ---- */
struct evrec {
	uint32_t port;
	enum vdev_console_event ev;
	uint32_t arg;
};
struct host {
	uint8_t out[NPORTS][1 << 16];
	size_t out_len[NPORTS];
	int take[NPORTS];  /* bytes taken per output call; < 0: everything */
	int fail[NPORTS];  /* output returns this error */
	bool ready_inside; /* call output_ready() from inside the op once */
	bool remove_inside; /* remove the port from inside the op once */
	int outputs;
	int writable[NPORTS];
	struct evrec ev[64];
	int nev;
	uint8_t emerg[16];
	int nemerg;
	struct vdev_console *cs;
};

static struct {
	struct sim_mem m;
	struct host h;
	struct vdev_console cs;
	struct vdev_vq queues[NQ];
	uint64_t queue_held[NQ * VDEV_VQ_HELD_WORDS(QSIZE)];
	struct vdev_console_port ports[NPORTS];
	struct vdev_iov iovs[(NPORTS + 3) * IOVS];
	struct vdev_mmio mmio;
	struct drv_mmio dm;
	struct drv_transport tr;
	struct drv_vq q[NQ];
	uint64_t neg;
	uint64_t arena[NQ];
	unsigned next[NQ];
	bool packed, multiport;
	unsigned nq;
} T;
static int tok[NQ][NSLOT];

static int h_output(void *o, uint32_t port, const struct vdev_iov *iov, unsigned n, size_t len)
{
	struct host *h = o;
	cr_assert_lt(port, NPORTS);
	cr_assert_eq(vdev_iov_length(iov, n), len, "output segments must add up to len");
	cr_assert_gt(len, 0, "no empty output calls");
	h->outputs++;
	if (h->fail[port])
		return h->fail[port];
	size_t take = h->take[port] < 0 ? len : (size_t)h->take[port];
	if (take > len)
		take = len;
	cr_assert_leq(h->out_len[port] + take, sizeof(h->out[port]));
	cr_assert_eq(vdev_iov_to_buf(iov, n, 0, h->out[port] + h->out_len[port], take), take);
	h->out_len[port] += take;
	if (h->remove_inside) {
		h->remove_inside = false;
		cr_assert_eq(vdev_console_port_remove(h->cs, port), 0);
	}
	if (h->ready_inside) {
		h->ready_inside = false;
		h->take[port] = -1;
		cr_assert_eq(vdev_console_output_ready(h->cs, port), 0);
	}
	return (int)take;
}

static void h_event(void *o, uint32_t port, enum vdev_console_event ev, uint32_t arg)
{
	struct host *h = o;
	cr_assert_lt(h->nev, 64);
	h->ev[h->nev++] = (struct evrec){port, ev, arg};
}

static void h_writable(void *o, uint32_t port)
{
	struct host *h = o;
	cr_assert_lt(port, NPORTS);
	h->writable[port]++;
}

static void h_emerg(void *o, uint8_t c)
{
	struct host *h = o;
	cr_assert_lt(h->nemerg, 16);
	h->emerg[h->nemerg++] = c;
}

static const struct vdev_console_host_ops host_ops = {
	.size = sizeof(struct vdev_console_host_ops),
	.output = h_output,
	.event = h_event,
	.writable = h_writable,
	.emerg_write = h_emerg,
};

struct opts {
	bool packed;
	bool single;     /* the device offers no MULTIPORT */
	bool no_mp_drv;  /* the driver does not take MULTIPORT */
	bool no_bring_up;
};

static void bring_up(void)
{
	uint64_t want = ~(uint64_t)0;
	if (!T.packed)
		want &= ~F(RING_PACKED);
	if (!T.multiport)
		want &= ~C(MULTIPORT);
	cr_assert_eq(drv_virtio_negotiate(&T.tr, want, &T.neg), 0);
	T.nq = (T.neg & C(MULTIPORT)) ? NQ : 2u;
	for (unsigned i = 0; i < T.nq; i++)
		cr_assert_eq(drv_virtio_setup_queue(&T.tr, &T.q[i], &T.m, (uint16_t)i, QSIZE, T.neg),
			     0);
	cr_assert_eq(drv_virtio_driver_ok(&T.tr), 0x0f);
	memset(T.next, 0, sizeof(T.next));
}

static void setup_with(struct opts o)
{
	memset(&T.h, 0, sizeof(T.h));
	for (unsigned i = 0; i < NPORTS; i++)
		T.h.take[i] = -1;
	T.h.cs = &T.cs;
	T.packed = o.packed;
	T.multiport = !o.single && !o.no_mp_drv;
	sim_mem_init(&T.m, 4u << 20, false);
	struct vdev_console_config c = {
		.queue_size = QSIZE,
		.multiport = !o.single,
		.max_nr_ports = o.single ? 1 : NPORTS,
		.size = true,
		.cols = 80,
		.rows = 25,
		.mem = &T.m.mem,
		.queues = T.queues,
		.queue_held = T.queue_held,
		.ports = T.ports,
		.iovs = T.iovs,
		.iov_per_chain = IOVS,
		.host = &host_ops,
		.host_opaque = &T.h,
	};
	cr_assert_eq(vdev_console_init(&T.cs, &c), 0);
	cr_assert_eq(drv_mmio_attach(&T.dm, &T.mmio, vdev_console_dev(&T.cs), &T.tr), 0);
	for (unsigned i = 0; i < NQ; i++)
		T.arena[i] = sim_alloc(&T.m, (size_t)NSLOT * SLOT, 4096);
	if (!o.no_bring_up)
		bring_up();
}

static void setup(void) { setup_with((struct opts){0}); }
static void teardown(void) { sim_mem_destroy(&T.m); }

TestSuite(console, .init = setup, .fini = teardown);

static void redo(struct opts o)
{
	teardown();
	setup_with(o);
}

static void kick(unsigned q)
{
	if (drv_kick_prepare(&T.q[q]))
		T.tr.ops->notify(T.tr.t, (uint16_t)q, false, 0);
}

static unsigned rxq(unsigned port) { return port == 0 ? 0 : 2 + 2 * port; }
static unsigned txq(unsigned port) { return rxq(port) + 1; }

/* Add a chain of `nb` buffers of the given lengths/directions in queue q,
 * data copied in for readable ones. Returns the slot. */
static unsigned add_chain(unsigned q, const uint32_t *lens, const bool *write, unsigned nb,
			  const void *data, bool kick_it)
{
	unsigned s = T.next[q]++ % NSLOT;
	uint64_t g = T.arena[q] + (uint64_t)s * SLOT;
	struct drv_buf b[IOVS];
	uint32_t off = 0;

	for (unsigned i = 0; i < nb; i++) {
		cr_assert_leq(off + lens[i], SLOT);
		b[i] = (struct drv_buf){g + off, lens[i], write[i]};
		if (!write[i] && data)
			memcpy(sim_ptr(&T.m, g + off), (const uint8_t *)data + off, lens[i]);
		else
			memset(sim_ptr(&T.m, g + off), 0xee, lens[i]);
		off += lens[i];
	}
	cr_assert_eq(drv_add(&T.q[q], b, nb, false, &tok[q][s]), 0);
	if (kick_it)
		kick(q);
	return s;
}

static void ctrl_raw(const void *msg, uint32_t len)
{
	bool w = false;
	add_chain(3, &len, &w, 1, msg, true);
}

static void ctrl(uint32_t id, uint16_t event, uint16_t value)
{
	uint8_t m[8];
	sim_put_le32(m, id);
	sim_put_le16(m + 4, event);
	sim_put_le16(m + 6, value);
	ctrl_raw(m, 8);
}

static void post_ctrl(unsigned n, uint32_t size)
{
	bool w = true;
	for (unsigned i = 0; i < n; i++)
		add_chain(2, &size, &w, 1, NULL, false);
	kick(2);
}

struct msg {
	uint32_t id;
	uint16_t event, value;
	uint8_t extra[128];
	uint32_t extra_len;
	uint32_t used;
};

/* One message from the control receiveq; false if none. */
static bool ctrl_get(struct msg *m)
{
	uint32_t l;
	int *t = drv_get_used(&T.q[2], &l);
	cr_assert_eq(T.q[2].errors, 0, "%s", T.q[2].last_error);
	if (t == NULL)
		return false;
	unsigned s = (unsigned)(t - tok[2]);
	const uint8_t *p = sim_ptr(&T.m, T.arena[2] + (uint64_t)s * SLOT);
	memset(m, 0, sizeof(*m));
	m->used = l;
	if (l >= 8) {
		m->id = sim_get_le32(p);
		m->event = sim_get_le16(p + 4);
		m->value = sim_get_le16(p + 6);
		m->extra_len = l - 8;
		cr_assert_leq(m->extra_len, sizeof(m->extra));
		memcpy(m->extra, p + 8, m->extra_len);
	}
	return true;
}

static struct msg ctrl_expect(uint32_t id, uint16_t event, uint16_t value)
{
	struct msg m;
	cr_assert(ctrl_get(&m), "expected event %u for port %u", event, id);
	cr_assert_eq(m.event, event, "event %u, expected %u", m.event, event);
	cr_assert_eq(m.id, id, "port %u, expected %u", m.id, id);
	cr_assert_eq(m.value, value);
	return m;
}

static void ctrl_none(void)
{
	struct msg m;
	cr_assert_not(ctrl_get(&m), "unexpected control message %u for port %u", m.event, m.id);
}

/* Reap control transmitq used entries (all with 0 written). */
static int ctrl_tx_reap(void)
{
	uint32_t l;
	int n = 0;
	while (drv_get_used(&T.q[3], &l) != NULL) {
		cr_assert_eq(l, 0);
		n++;
	}
	return n;
}

static void port_write(unsigned port, const void *data, uint32_t len)
{
	bool w = false;
	add_chain(txq(port), &len, &w, 1, data, true);
}

static int tx_reap(unsigned port)
{
	uint32_t l;
	int n = 0;
	while (drv_get_used(&T.q[txq(port)], &l) != NULL) {
		cr_assert_eq(l, 0, "transmit buffers are not written");
		n++;
	}
	cr_assert_eq(T.q[txq(port)].errors, 0, "%s", T.q[txq(port)].last_error);
	return n;
}

static void post_rx(unsigned port, unsigned n, uint32_t size)
{
	bool w = true;
	for (unsigned i = 0; i < n; i++)
		add_chain(rxq(port), &size, &w, 1, NULL, false);
	kick(rxq(port));
}

/* One receive buffer's contents; returns its used length or -1. */
static int rx_get(unsigned port, uint8_t *buf)
{
	uint32_t l;
	unsigned q = rxq(port);
	int *t = drv_get_used(&T.q[q], &l);
	cr_assert_eq(T.q[q].errors, 0, "%s", T.q[q].last_error);
	if (t == NULL)
		return -1;
	unsigned s = (unsigned)(t - tok[q]);
	memcpy(buf, sim_ptr(&T.m, T.arena[q] + (uint64_t)s * SLOT), l);
	return (int)l;
}

static int send_str(unsigned port, const char *s)
{
	static char buf[SLOT];
	size_t n = strlen(s);
	memcpy(buf, s, n);
	struct vdev_iov v = {buf, n};
	return vdev_console_send(&T.cs, port, &v, 1, v.len);
}

static struct vdev_console_stats stats(void)
{
	struct vdev_console_stats st;
	vdev_console_get_stats(&T.cs, &st);
	return st;
}

static bool has_event(uint32_t port, enum vdev_console_event ev, uint32_t arg)
{
	for (int i = 0; i < T.h.nev; i++)
		if (T.h.ev[i].port == port && T.h.ev[i].ev == ev && T.h.ev[i].arg == arg)
			return true;
	return false;
}

/* The Linux driver's start: DEVICE_READY, PORT_READY for each PORT_ADD,
 * PORT_OPEN 1 for a console port. Ports 0 (console) and 1 ("data"). */
static void handshake(void)
{
	cr_assert_eq(vdev_console_port_add(&T.cs, 0, NULL, true), 0);
	cr_assert_eq(vdev_console_port_add(&T.cs, 1, "data", false), 0);
	cr_assert_eq(vdev_console_port_set_open(&T.cs, 0, true), 0);
	post_ctrl(16, 128);
	ctrl(0xffffffffu, DEVICE_READY, 1);
	ctrl_expect(0, PORT_ADD, 0);
	ctrl_expect(1, PORT_ADD, 0);
	ctrl_none();
	ctrl(0, PORT_READY, 1);
	ctrl_expect(0, CONSOLE_PORT, 1);
	struct msg m = ctrl_expect(0, RESIZE, 0);
	cr_assert_eq(m.extra_len, 4);
	cr_assert_eq(m.extra[0] | m.extra[1] << 8, 80);
	cr_assert_eq(m.extra[2] | m.extra[3] << 8, 25);
	ctrl_expect(0, PORT_OPEN, 1);
	ctrl(0, PORT_OPEN, 1);
	ctrl(1, PORT_READY, 1);
	m = ctrl_expect(1, PORT_NAME, 1);
	cr_assert_eq(m.extra_len, 4);
	cr_assert_arr_eq(m.extra, "data", 4);
	ctrl_none();
	cr_assert_eq(ctrl_tx_reap(), 4);
	cr_assert(vdev_console_port_guest_open(&T.cs, 0));
	cr_assert_not(vdev_console_port_guest_open(&T.cs, 1));
}

/* ---- single port ---- */

static void single_port(bool packed)
{
	redo((struct opts){.single = true, .packed = packed});
	cr_assert(has_event(0, VDEV_CONSOLE_EV_OPEN, 1), "port 0 opens with the driver");
	port_write(0, "hello, host", 11);
	cr_assert_eq(tx_reap(0), 1);
	cr_assert_eq(T.h.out_len[0], 11);
	cr_assert_arr_eq(T.h.out[0], "hello, host", 11);
	post_rx(0, 2, 64);
	cr_assert_eq(send_str(0, "ls\n"), 3);
	uint8_t b[SLOT];
	cr_assert_eq(rx_get(0, b), 3);
	cr_assert_arr_eq(b, "ls\n", 3);
	cr_assert_eq(stats().tx_bytes, 11);
	cr_assert_eq(stats().rx_bytes, 3);
}
Test(console, single_port_both_ways_split) { single_port(false); }
Test(console, single_port_both_ways_packed) { single_port(true); }

Test(console, single_port_config_space)
{
	redo((struct opts){.single = true});
	uint8_t c[12];
	cr_assert_eq(drv_virtio_config_read(&T.tr, 0, c, 12), 0);
	cr_expect_eq(c[0] | c[1] << 8, 80);
	cr_expect_eq(c[2] | c[3] << 8, 25);
	cr_expect_eq(c[4], 1);
	cr_expect(T.neg & C(SIZE));
	cr_expect(T.neg & C(EMERG_WRITE));
	cr_expect_not(T.neg & C(MULTIPORT));
	(void)T.tr.ops->take_interrupts(T.tr.t);
	cr_assert_eq(vdev_console_resize(&T.cs, 0, 132, 43), 0);
	cr_expect(T.tr.ops->take_interrupts(T.tr.t) & DRV_INT_CONFIG);
	cr_assert_eq(drv_virtio_config_read(&T.tr, 0, c, 4), 0);
	cr_expect_eq(c[0] | c[1] << 8, 132);
	cr_expect_eq(c[2] | c[3] << 8, 43);
}

Test(console, driver_without_multiport_uses_port_0_only)
{
	redo((struct opts){.no_mp_drv = true});
	cr_assert_not(T.neg & C(MULTIPORT));
	cr_assert(vdev_console_port_guest_open(&T.cs, 0));
	cr_assert_not(vdev_console_port_guest_open(&T.cs, 1));
	port_write(0, "x", 1);
	cr_assert_eq(tx_reap(0), 1);
	cr_assert_eq(send_str(1, "y"), VDEV_EPERM);
}

/* ---- multiport control protocol ---- */

Test(console, multiport_handshake_and_data)
{
	handshake();
	cr_assert(has_event(0, VDEV_CONSOLE_EV_DEVICE_READY, 1));
	cr_assert(has_event(0, VDEV_CONSOLE_EV_PORT_READY, 1));
	cr_assert(has_event(1, VDEV_CONSOLE_EV_PORT_READY, 1));
	cr_assert(has_event(0, VDEV_CONSOLE_EV_OPEN, 1));
	/* the generic port: closed until the guest opens it */
	post_rx(1, 4, 256);
	cr_assert_eq(send_str(1, "early"), VDEV_EPERM);
	ctrl(1, PORT_OPEN, 1);
	cr_assert(has_event(1, VDEV_CONSOLE_EV_OPEN, 1));
	cr_assert_eq(send_str(1, "to guest"), 8);
	uint8_t b[SLOT];
	cr_assert_eq(rx_get(1, b), 8);
	cr_assert_arr_eq(b, "to guest", 8);
	port_write(1, "from guest", 10);
	port_write(0, "console", 7);
	cr_assert_eq(tx_reap(1), 1);
	cr_assert_eq(tx_reap(0), 1);
	cr_assert_arr_eq(T.h.out[1], "from guest", 10);
	cr_assert_arr_eq(T.h.out[0], "console", 7);
	/* the guest closes it: input refused again */
	ctrl(1, PORT_OPEN, 0);
	cr_assert(has_event(1, VDEV_CONSOLE_EV_OPEN, 0));
	cr_assert_eq(send_str(1, "late"), VDEV_EPERM);
	/* the host closes its end: PORT_OPEN 0 to the driver */
	cr_assert_eq(vdev_console_port_set_open(&T.cs, 0, false), 0);
	ctrl_expect(0, PORT_OPEN, 0);
	cr_assert_eq(vdev_console_port_set_open(&T.cs, 0, false), 0);
	ctrl_none();
	cr_assert_eq(stats().bad_ctrl + stats().bad_port + stats().bad_chain, 0);
}

Test(console, control_messages_wait_for_buffers)
{
	cr_assert_eq(vdev_console_port_add(&T.cs, 2, "late", false), 0);
	cr_assert_eq(vdev_console_port_add(&T.cs, 3, NULL, true), 0);
	ctrl(0xffffffffu, DEVICE_READY, 1);
	ctrl_none();
	post_ctrl(1, 128);
	ctrl_expect(2, PORT_ADD, 0);
	ctrl_none();
	post_ctrl(3, 128);
	ctrl_expect(3, PORT_ADD, 0);
	ctrl(2, PORT_READY, 1);
	ctrl(3, PORT_READY, 1);
	ctrl_expect(2, PORT_NAME, 1);
	ctrl_expect(3, CONSOLE_PORT, 1);
	ctrl_none();
	post_ctrl(8, 128);
	ctrl_none(); /* nothing sent twice */
}

Test(console, hotplug_add_and_remove)
{
	handshake();
	cr_assert_eq(vdev_console_port_add(&T.cs, 1, "dup", false), VDEV_EEXIST);
	cr_assert_eq(vdev_console_port_add(&T.cs, 3, "hot", false), 0);
	ctrl_expect(3, PORT_ADD, 0);
	ctrl(3, PORT_READY, 1);
	ctrl_expect(3, PORT_NAME, 1);
	ctrl(3, PORT_OPEN, 1);
	/* output the host does not take, then the port goes away */
	T.h.take[3] = 0;
	port_write(3, "pending", 7);
	cr_assert_eq(tx_reap(3), 0, "held while the host takes nothing");
	cr_assert(vdev_console_output_held(&T.cs, 3));
	cr_assert_eq(vdev_console_port_remove(&T.cs, 3), 0);
	ctrl_expect(3, PORT_REMOVE, 0);
	cr_assert_eq(tx_reap(3), 1, "the held buffer is returned on removal");
	cr_assert_not(vdev_console_output_held(&T.cs, 3));
	cr_assert_eq(vdev_console_port_remove(&T.cs, 3), VDEV_ENOENT);
	/* messages for the removed port are ignored now */
	uint64_t bad = stats().bad_port;
	ctrl(3, PORT_OPEN, 1);
	cr_assert_eq(stats().bad_port, bad + 1);
	cr_assert_eq(send_str(3, "x"), VDEV_EPERM);
	/* and it can come back */
	cr_assert_eq(vdev_console_port_add(&T.cs, 3, "again", false), 0);
	ctrl_expect(3, PORT_ADD, 0);
}

Test(console, port_add_rejects_bad_arguments)
{
	char longname[VDEV_CONSOLE_NAME_MAX + 2];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	cr_expect_eq(vdev_console_port_add(&T.cs, NPORTS, "x", false), VDEV_EINVAL);
	cr_expect_eq(vdev_console_port_add(&T.cs, 0xffffffffu, "x", false), VDEV_EINVAL);
	cr_expect_eq(vdev_console_port_add(&T.cs, 1, longname, false), VDEV_EINVAL);
	longname[VDEV_CONSOLE_NAME_MAX] = 0;
	cr_expect_eq(vdev_console_port_add(&T.cs, 1, longname, false), 0);
	cr_expect_eq(vdev_console_port_set_open(&T.cs, 2, true), VDEV_ENOENT);
	cr_expect_eq(vdev_console_port_set_open(&T.cs, NPORTS, true), VDEV_ENOENT);
	cr_expect_eq(vdev_console_send(&T.cs, NPORTS, NULL, 0, 0), VDEV_ENOENT);
	cr_expect_eq(vdev_console_output_ready(&T.cs, NPORTS), VDEV_ENOENT);
	cr_expect_eq(vdev_console_resize(&T.cs, NPORTS, 1, 1), VDEV_ENOENT);
}

Test(console, resize_reaches_console_ports)
{
	handshake();
	cr_assert_eq(vdev_console_resize(&T.cs, 0, 100, 30), 0);
	struct msg m = ctrl_expect(0, RESIZE, 0);
	cr_assert_eq(m.extra[0] | m.extra[1] << 8, 100);
	cr_assert_eq(m.extra[2] | m.extra[3] << 8, 30);
	/* not a console: no message */
	cr_assert_eq(vdev_console_resize(&T.cs, 1, 100, 30), 0);
	ctrl_none();
}

Test(console, long_name_is_cut_to_a_short_buffer)
{
	cr_assert_eq(vdev_console_port_add(&T.cs, 1, "a-rather-long-port-name", false), 0);
	post_ctrl(1, 128);
	ctrl(0xffffffffu, DEVICE_READY, 1);
	ctrl_expect(1, PORT_ADD, 0);
	post_ctrl(1, 12);
	ctrl(1, PORT_READY, 1);
	struct msg m = ctrl_expect(1, PORT_NAME, 1);
	cr_assert_eq(m.extra_len, 4);
	cr_assert_arr_eq(m.extra, "a-ra", 4);
	cr_assert_eq(stats().ctrl_short, 1);
}

/* ---- backpressure ---- */

static void output_held(bool packed)
{
	if (packed)
		redo((struct opts){.packed = true});
	handshake();
	T.h.take[0] = 3;
	port_write(0, "0123456789", 10);
	/* 3 bytes taken, then the chain waits for the host */
	cr_assert_eq(T.h.out_len[0], 3);
	cr_assert_eq(tx_reap(0), 0);
	cr_assert(vdev_console_output_held(&T.cs, 0));
	/* more output queues up behind it, untouched */
	port_write(0, "abc", 3);
	cr_assert_eq(T.h.out_len[0], 3);
	cr_assert_eq(tx_reap(0), 0);
	T.h.take[0] = 4;
	cr_assert_eq(vdev_console_output_ready(&T.cs, 0), 0);
	cr_assert_eq(T.h.out_len[0], 7);
	cr_assert_eq(tx_reap(0), 0);
	T.h.take[0] = -1;
	cr_assert_eq(vdev_console_output_ready(&T.cs, 0), 0);
	cr_assert_eq(T.h.out_len[0], 13);
	cr_assert_arr_eq(T.h.out[0], "0123456789abc", 13);
	cr_assert_eq(tx_reap(0), 2);
	cr_assert_not(vdev_console_output_held(&T.cs, 0));
	cr_assert_geq(stats().held, 2);
	cr_assert_eq(stats().tx_chains, 2);
}
Test(console, output_held_until_host_ready_split) { output_held(false); }
Test(console, output_held_until_host_ready_packed) { output_held(true); }

Test(console, output_split_across_descriptors_resumes_mid_segment)
{
	handshake();
	T.h.take[0] = 5;
	uint32_t lens[3] = {4, 3, 6};
	bool w[3] = {false, false, false};
	add_chain(txq(0), lens, w, 3, "abcdefghijklm", true);
	cr_assert_eq(T.h.out_len[0], 5);
	cr_assert_eq(vdev_console_output_ready(&T.cs, 0), 0);
	cr_assert_eq(T.h.out_len[0], 10);
	cr_assert_eq(vdev_console_output_ready(&T.cs, 0), 0);
	cr_assert_eq(T.h.out_len[0], 13);
	cr_assert_arr_eq(T.h.out[0], "abcdefghijklm", 13);
	cr_assert_eq(tx_reap(0), 1);
}

Test(console, output_ready_from_inside_the_op)
{
	handshake();
	T.h.take[0] = 2;
	T.h.ready_inside = true;
	port_write(0, "abcdef", 6);
	cr_assert_eq(T.h.out_len[0], 6);
	cr_assert_eq(tx_reap(0), 1);
}

Test(console, output_error_drops_the_chain)
{
	handshake();
	T.h.fail[0] = VDEV_EIO;
	port_write(0, "lost", 4);
	cr_assert_eq(tx_reap(0), 1);
	cr_assert_eq(stats().output_errors, 1);
	T.h.fail[0] = VDEV_EAGAIN; /* EAGAIN holds like 0 */
	port_write(0, "kept", 4);
	cr_assert_eq(tx_reap(0), 0);
	T.h.fail[0] = 0;
	cr_assert_eq(vdev_console_output_ready(&T.cs, 0), 0);
	cr_assert_eq(tx_reap(0), 1);
	cr_assert_arr_eq(T.h.out[0], "kept", 4);
}

Test(console, input_waits_for_receive_buffers)
{
	handshake();
	cr_assert_eq(send_str(0, "abc"), VDEV_EAGAIN);
	cr_assert_eq(T.h.writable[0], 0);
	post_rx(0, 1, 4);
	cr_assert_eq(T.h.writable[0], 1, "told once buffers come");
	/* a send larger than the buffers: partial, then writable again */
	cr_assert_eq(send_str(0, "0123456789"), 4);
	uint8_t b[SLOT];
	cr_assert_eq(rx_get(0, b), 4);
	cr_assert_arr_eq(b, "0123", 4);
	post_rx(0, 2, 4);
	cr_assert_eq(T.h.writable[0], 2);
	cr_assert_eq(send_str(0, "456789"), 6);
	cr_assert_eq(rx_get(0, b), 4);
	cr_assert_eq(rx_get(0, b), 2);
	cr_assert_arr_eq(b, "89", 2);
	post_rx(0, 1, 4);
	cr_assert_eq(T.h.writable[0], 2, "no call without a short send");
}

Test(console, input_across_segments)
{
	handshake();
	uint32_t lens[3] = {2, 1, 5};
	bool w[3] = {true, true, true};
	add_chain(rxq(0), lens, w, 3, NULL, true);
	cr_assert_eq(send_str(0, "abcdef"), 6);
	uint8_t b[SLOT];
	cr_assert_eq(rx_get(0, b), 6);
	cr_assert_arr_eq(b, "abcdef", 6);
}

/* ---- malformed input ---- */

Test(console, bad_control_messages_are_ignored)
{
	handshake();
	uint64_t bad = stats().bad_ctrl, badp = stats().bad_port;
	/* shorter than a message */
	ctrl_raw("\0\0\0\0\3\0", 6);
	cr_assert_eq(stats().bad_ctrl, ++bad);
	ctrl_raw("", 0);
	cr_assert_eq(stats().bad_ctrl, ++bad);
	/* events only the device sends */
	ctrl(1, PORT_ADD, 0);
	ctrl(1, PORT_REMOVE, 0);
	ctrl(1, CONSOLE_PORT, 1);
	ctrl(1, RESIZE, 0);
	ctrl(1, PORT_NAME, 1);
	bad += 5;
	cr_assert_eq(stats().bad_ctrl, bad);
	/* unknown events, values other than 0/1 */
	ctrl(1, 8, 0);
	ctrl(1, 0xffff, 1);
	ctrl(1, PORT_OPEN, 2);
	ctrl(0, DEVICE_READY, 0xffff);
	bad += 4;
	cr_assert_eq(stats().bad_ctrl, bad);
	/* a second DEVICE_READY, a second PORT_READY */
	ctrl(0, DEVICE_READY, 1);
	ctrl(0, PORT_READY, 1);
	bad += 2;
	cr_assert_eq(stats().bad_ctrl, bad);
	/* ports that do not exist: not added, beyond max_nr_ports */
	ctrl(2, PORT_READY, 1);
	ctrl(2, PORT_OPEN, 1);
	ctrl(NPORTS, PORT_READY, 1);
	ctrl(0xffffffffu, PORT_OPEN, 1);
	ctrl(0x10000, PORT_READY, 1);
	badp += 5;
	cr_assert_eq(stats().bad_port, badp);
	/* nothing was answered, nothing changed */
	ctrl_none();
	cr_assert_not(vdev_console_port_guest_open(&T.cs, 2));
	cr_assert_eq(ctrl_tx_reap(), 2 + 5 + 4 + 2 + 5);
	/* the device still works */
	ctrl(1, PORT_OPEN, 1);
	cr_assert(vdev_console_port_guest_open(&T.cs, 1));
}

Test(console, control_message_split_across_descriptors)
{
	cr_assert_eq(vdev_console_port_add(&T.cs, 1, NULL, false), 0);
	post_ctrl(4, 64);
	uint8_t m[8] = {0xff, 0xff, 0xff, 0xff, DEVICE_READY, 0, 1, 0};
	uint32_t lens[3] = {3, 4, 1};
	bool w[3] = {false, false, false};
	add_chain(3, lens, w, 3, m, true);
	ctrl_expect(1, PORT_ADD, 0);
}

Test(console, port_messages_before_device_ready)
{
	cr_assert_eq(vdev_console_port_add(&T.cs, 1, NULL, false), 0);
	post_ctrl(4, 64);
	ctrl(1, PORT_READY, 1);
	ctrl(1, PORT_OPEN, 1);
	cr_assert_eq(stats().bad_port, 2, "not announced yet");
	ctrl_none();
	cr_assert_not(vdev_console_port_guest_open(&T.cs, 1));
}

Test(console, port_open_before_port_ready)
{
	cr_assert_eq(vdev_console_port_add(&T.cs, 1, NULL, false), 0);
	post_ctrl(4, 64);
	ctrl(0, DEVICE_READY, 1);
	ctrl_expect(1, PORT_ADD, 0);
	ctrl(1, PORT_OPEN, 1);
	cr_assert_eq(stats().bad_port, 1);
	cr_assert_not(vdev_console_port_guest_open(&T.cs, 1));
}

Test(console, failed_port_ready_and_device_ready)
{
	cr_assert_eq(vdev_console_port_add(&T.cs, 1, "x", false), 0);
	post_ctrl(4, 64);
	ctrl(0, DEVICE_READY, 0);
	cr_assert(has_event(0, VDEV_CONSOLE_EV_DEVICE_READY, 0));
	ctrl_none();
	ctrl(0, DEVICE_READY, 1);
	ctrl_expect(1, PORT_ADD, 0);
	ctrl(1, PORT_READY, 0);
	cr_assert(has_event(1, VDEV_CONSOLE_EV_PORT_READY, 0));
	ctrl_none();
	cr_assert_eq(send_str(1, "x"), VDEV_EPERM);
}

Test(console, control_buffers_of_the_wrong_direction)
{
	cr_assert_eq(vdev_console_port_add(&T.cs, 1, NULL, false), 0);
	/* a readable buffer in the control receiveq: returned unused */
	uint32_t len = 64;
	bool w = false;
	add_chain(2, &len, &w, 1, NULL, true);
	/* a writable buffer in the control transmitq: ignored */
	w = true;
	add_chain(3, &len, &w, 1, NULL, true);
	cr_assert_eq(stats().bad_chain, 1);
	ctrl(0, DEVICE_READY, 1);
	struct msg m;
	cr_assert(ctrl_get(&m));
	cr_assert_eq(m.used, 0, "the readable buffer comes back empty");
	cr_assert_eq(stats().bad_chain, 2);
	post_ctrl(1, 64);
	ctrl_expect(1, PORT_ADD, 0);
}

Test(console, control_receive_buffer_too_short)
{
	cr_assert_eq(vdev_console_port_add(&T.cs, 1, NULL, false), 0);
	post_ctrl(1, 4);
	ctrl(0, DEVICE_READY, 1);
	struct msg m;
	cr_assert(ctrl_get(&m));
	cr_assert_eq(m.used, 0, "returned unused");
	cr_assert_eq(stats().ctrl_short, 1);
	/* the message was not lost: it takes the next buffer */
	post_ctrl(1, 8);
	ctrl_expect(1, PORT_ADD, 0);
}

Test(console, resize_needs_room_for_the_size)
{
	cr_assert_eq(vdev_console_port_add(&T.cs, 0, NULL, true), 0);
	post_ctrl(1, 64);
	ctrl(0xffffffffu, DEVICE_READY, 1);
	ctrl_expect(0, PORT_ADD, 0);
	post_ctrl(2, 64);
	ctrl(0, PORT_READY, 1);
	ctrl_expect(0, CONSOLE_PORT, 1);
	ctrl_expect(0, RESIZE, 0);
	/* a buffer with room for the header but not the size: returned */
	post_ctrl(1, 10);
	cr_assert_eq(vdev_console_resize(&T.cs, 0, 91, 21), 0);
	struct msg m;
	cr_assert(ctrl_get(&m));
	cr_assert_eq(m.used, 0);
	cr_assert_eq(stats().ctrl_short, 1);
	/* the RESIZE waited for this one */
	post_ctrl(1, 12);
	m = ctrl_expect(0, RESIZE, 0);
	cr_assert_eq(m.extra_len, 4);
	cr_assert_eq(m.extra[0], 91);
	cr_assert_eq(m.extra[2], 21);
}

Test(console, data_chains_of_the_wrong_direction)
{
	handshake();
	/* writable buffer in a transmitq */
	uint32_t len = 16;
	bool w = true;
	add_chain(txq(0), &len, &w, 1, NULL, true);
	cr_assert_eq(tx_reap(0), 1);
	cr_assert_eq(T.h.outputs, 0);
	/* readable + writable in a transmitq */
	uint32_t lens[2] = {4, 4};
	bool ws[2] = {false, true};
	add_chain(txq(0), lens, ws, 2, "abcd", true);
	cr_assert_eq(tx_reap(0), 1);
	cr_assert_eq(T.h.outputs, 0);
	/* readable buffer in a receiveq: skipped, returned empty */
	w = false;
	add_chain(rxq(0), &len, &w, 1, "xxxxxxxxxxxxxxxx", true);
	post_rx(0, 1, 16);
	cr_assert_eq(send_str(0, "ok"), 2);
	uint8_t b[SLOT];
	cr_assert_eq(rx_get(0, b), 0);
	cr_assert_eq(rx_get(0, b), 2);
	cr_assert_eq(stats().bad_chain, 3);
	/* an empty transmit chain is completed without an output call */
	len = 0;
	add_chain(txq(0), &len, &w, 1, NULL, true);
	cr_assert_eq(tx_reap(0), 1);
	cr_assert_eq(T.h.outputs, 0);
}

Test(console, data_on_ports_that_do_not_exist)
{
	handshake();
	/* port 2 was never added; port 1 is not open (output still flows) */
	port_write(2, "nobody", 6);
	cr_assert_eq(tx_reap(2), 1);
	cr_assert_eq(stats().bad_port, 1);
	cr_assert_eq(T.h.outputs, 0);
	post_rx(2, 1, 16);
	cr_assert_eq(send_str(2, "x"), VDEV_EPERM);
}

Test(console, emergency_write_before_negotiation)
{
	redo((struct opts){.no_bring_up = true});
	uint32_t v = sim_le32('A');
	T.tr.ops->config_write(T.tr.t, 8, &v, 4);
	uint8_t c = 'B';
	T.tr.ops->config_write(T.tr.t, 8, &c, 1);
	/* other fields are read-only */
	uint16_t cols = 1;
	T.tr.ops->config_write(T.tr.t, 0, &cols, 2);
	cr_assert_eq(T.h.nemerg, 2);
	cr_assert_eq(T.h.emerg[0], 'A');
	cr_assert_eq(T.h.emerg[1], 'B');
	uint8_t cfg[4];
	vdev_dev_config_read(vdev_console_dev(&T.cs), 0, cfg, 4);
	cr_assert_eq(cfg[0], 80);
	bring_up();
	T.tr.ops->config_write(T.tr.t, 8, &v, 4);
	cr_assert_eq(T.h.nemerg, 3);
	cr_assert_eq(stats().emerg_writes, 3);
}

Test(console, reset_forgets_the_driver_side)
{
	handshake();
	T.h.take[0] = 0;
	port_write(0, "held", 4);
	cr_assert(vdev_console_output_held(&T.cs, 0));
	T.tr.ops->set_status(T.tr.t, 0);
	cr_assert(has_event(0, VDEV_CONSOLE_EV_RESET, 0));
	cr_assert_not(vdev_console_output_held(&T.cs, 0));
	cr_assert_not(vdev_console_port_guest_open(&T.cs, 0));
	/* the host's ports stay and are announced to the new driver */
	T.h.take[0] = -1;
	bring_up();
	post_ctrl(8, 128);
	ctrl(0xffffffffu, DEVICE_READY, 1);
	ctrl_expect(0, PORT_ADD, 0);
	ctrl_expect(1, PORT_ADD, 0);
	ctrl(0, PORT_READY, 1);
	ctrl_expect(0, CONSOLE_PORT, 1);
	ctrl_expect(0, RESIZE, 0);
	ctrl_expect(0, PORT_OPEN, 1);
}

Test(console, init_rejects_bad_config)
{
	struct vdev_console cs;
	struct vdev_console_config c = {
		.queue_size = QSIZE, .multiport = true, .max_nr_ports = NPORTS, .mem = &T.m.mem,
		.queues = T.queues, .queue_held = T.queue_held, .ports = T.ports, .iovs = T.iovs, .iov_per_chain = IOVS,
		.host = &host_ops,
	};
	struct vdev_console_config b;
	b = c; b.max_nr_ports = 0;
	cr_expect_eq(vdev_console_init(&cs, &b), VDEV_EINVAL);
	b = c; b.max_nr_ports = VDEV_CONSOLE_MAX_PORTS + 1;
	cr_expect_eq(vdev_console_init(&cs, &b), VDEV_EINVAL);
	b = c; b.multiport = false;
	cr_expect_eq(vdev_console_init(&cs, &b), VDEV_EINVAL);
	b = c; b.queue_size = 0;
	cr_expect_eq(vdev_console_init(&cs, &b), VDEV_EINVAL);
	b = c; b.iov_per_chain = 0;
	cr_expect_eq(vdev_console_init(&cs, &b), VDEV_EINVAL);
	b = c; b.host = NULL;
	cr_expect_eq(vdev_console_init(&cs, &b), VDEV_EINVAL);
	b = c; b.ports = NULL;
	cr_expect_eq(vdev_console_init(&cs, &b), VDEV_EINVAL);
	b = c; b.queue_held = NULL;
	cr_expect_eq(vdev_console_init(&cs, &b), VDEV_EINVAL);
	static const struct vdev_console_host_ops no_output = {
		.size = sizeof(struct vdev_console_host_ops)};
	b = c; b.host = &no_output;
	cr_expect_eq(vdev_console_init(&cs, &b), VDEV_EINVAL);
	/* the most ports a device can have */
	static struct vdev_vq qs[VDEV_CONSOLE_NUM_QUEUES(1, VDEV_CONSOLE_MAX_PORTS)];
	static struct vdev_console_port ps[VDEV_CONSOLE_MAX_PORTS];
	static struct vdev_iov iv[(VDEV_CONSOLE_MAX_PORTS + 3) * 2];
	static uint64_t held[VDEV_CONSOLE_NUM_QUEUES(1, VDEV_CONSOLE_MAX_PORTS) *
			     VDEV_VQ_HELD_WORDS(QSIZE)];
	b = c; b.max_nr_ports = VDEV_CONSOLE_MAX_PORTS; b.queues = qs; b.ports = ps; b.iovs = iv;
	b.queue_held = held;
	b.iov_per_chain = 2;
	cr_expect_eq(vdev_console_init(&cs, &b), 0);
	/* no emerg_write op: EMERG_WRITE is not offered */
	static const struct vdev_console_host_ops min_ops = {
		.size = sizeof(struct vdev_console_host_ops), .output = h_output};
	b = c; b.host = &min_ops;
	cr_assert_eq(vdev_console_init(&cs, &b), 0);
	cr_expect_not(vdev_dev_offered_features(vdev_console_dev(&cs)) & C(EMERG_WRITE));
	cr_expect(vdev_dev_offered_features(vdev_console_dev(&cs)) & C(MULTIPORT));
}

Test(console, queue_reset_drops_the_held_chain)
{
	redo((struct opts){0});
	cr_assert(T.neg & F(RING_RESET));
	handshake();
	T.h.take[0] = 0;
	port_write(0, "held", 4);
	cr_assert(vdev_console_output_held(&T.cs, 0));
	cr_assert(T.tr.ops->reset_queue(T.tr.t, (uint16_t)txq(0)));
	cr_assert_not(vdev_console_output_held(&T.cs, 0));
}

Test(console, remove_before_its_port_add_went_out)
{
	cr_assert_eq(vdev_console_port_add(&T.cs, 1, NULL, false), 0);
	ctrl(0xffffffffu, DEVICE_READY, 1);
	/* PORT_ADD waits for a control buffer; the host removes the port */
	cr_assert_eq(vdev_console_port_remove(&T.cs, 1), 0);
	post_ctrl(1, 64);
	ctrl_none(); /* neither the PORT_ADD nor a PORT_REMOVE for a port never added */
	ctrl(1, PORT_READY, 1);
	cr_assert_eq(stats().bad_port, 1);
	/* the buffer left goes to the next port's PORT_ADD ... */
	cr_assert_eq(vdev_console_port_add(&T.cs, 2, NULL, false), 0);
	ctrl_expect(2, PORT_ADD, 0);
	/* ... and a guess at a port whose PORT_ADD is still pending is refused */
	cr_assert_eq(vdev_console_port_add(&T.cs, 3, NULL, false), 0);
	ctrl(3, PORT_READY, 1);
	cr_assert_eq(stats().bad_port, 2);
	ctrl(2, PORT_READY, 1);
	cr_assert_eq(stats().bad_port, 2);
}

Test(console, port_removed_from_inside_the_output_op)
{
	handshake();
	/* the host takes it all, then removes the port: one completion only */
	T.h.remove_inside = true;
	port_write(1, "bye", 3);
	cr_assert_eq(tx_reap(1), 1);
	ctrl_expect(1, PORT_REMOVE, 0);
	/* and taking part of it before the removal */
	cr_assert_eq(vdev_console_port_add(&T.cs, 1, "data", false), 0);
	ctrl_expect(1, PORT_ADD, 0);
	ctrl(1, PORT_READY, 1);
	ctrl_expect(1, PORT_NAME, 1);
	T.h.take[1] = 1;
	T.h.remove_inside = true;
	port_write(1, "abc", 3);
	cr_assert_eq(T.h.out_len[1], 4);
	cr_assert_eq(tx_reap(1), 1);
	port_write(1, "zzz", 3); /* the port is gone: dropped */
	cr_assert_eq(tx_reap(1), 1);
	cr_assert_eq(T.h.out_len[1], 4);
	cr_assert_eq(T.q[txq(1)].errors, 0);
}
