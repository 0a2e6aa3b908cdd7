/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-console device model (spec "Console Device").
 *
 * Reads top-down: spec constants and the queue layout, ports, control
 * messages to the driver (pending flags -> control receiveq), control
 * messages from the driver (control transmitq -> one handler per event),
 * guest output (transmitq -> host output op, with the held chain), host
 * input (host -> receiveq), the host API, the device core ops, init.
 */
#include "vdev/console.h"

#include "compiler.h"

#define P(x) VDEV_PRIV(x)

/* ---- spec constants ----------------------------------------------------------- */

#define VIRTIO_CONSOLE_DEVICE_READY 0u
#define VIRTIO_CONSOLE_PORT_ADD 1u
#define VIRTIO_CONSOLE_PORT_REMOVE 2u
#define VIRTIO_CONSOLE_PORT_READY 3u
#define VIRTIO_CONSOLE_CONSOLE_PORT 4u
#define VIRTIO_CONSOLE_RESIZE 5u
#define VIRTIO_CONSOLE_PORT_OPEN 6u
#define VIRTIO_CONSOLE_PORT_NAME 7u

/* struct virtio_console_control: le32 id, le16 event, le16 value */
#define CTRL_LEN 8u
/* struct virtio_console_resize after it: le16 cols, le16 rows */
#define RESIZE_LEN 4u

enum { C_COLS = 0, C_ROWS = 2, C_MAX_NR_PORTS = 4, C_EMERG_WR = 8 };
enum { CTRL_RXQ = 2, CTRL_TXQ = 3 };

#define DEFAULT_RING_FEATURES                                                              \
	(VDEV_BIT(VDEV_F_INDIRECT_DESC) | VDEV_BIT(VDEV_F_EVENT_IDX) |                      \
	 VDEV_BIT(VDEV_F_RING_PACKED) | VDEV_BIT(VDEV_F_RING_RESET))

#define HAS_OP(ops, op)                                                                   \
	((ops)->size >= offsetof(struct vdev_console_host_ops, op) + sizeof((ops)->op) &&    \
	 (ops)->op != NULL)

/* Largest output offered per call (the op returns an int). */
#define OUTPUT_MAX 0x40000000u

/* Port state (flags). */
enum {
	P_ADDED = 0x01,      /* the host created it */
	P_CONSOLE = 0x02,    /* a console port */
	P_HOST_OPEN = 0x04,  /* the host end is connected */
	P_ANNOUNCED = 0x08,  /* PORT_ADD sent (or pending) to the driver */
	P_READY = 0x10,      /* the driver's PORT_READY 1 came */
	P_GUEST_OPEN = 0x20, /* the driver's last PORT_OPEN said 1 */
	P_HELD = 0x40,       /* an output chain waits for the host */
	P_WANT_WRITE = 0x80, /* a send was short: tell the host about rx buffers */
};

/* Control messages a port owes the driver, sent in this order. */
enum {
	M_ADD = 0x01,
	M_CONSOLE = 0x02,
	M_RESIZE = 0x04,
	M_NAME = 0x08,
	M_OPEN = 0x10,
	M_REMOVE = 0x20,
};

static bool multiport(const struct vdev_console *cs)
{
	return vdev_dev_has_feature(&cs->P(dev), VDEV_CONSOLE_F_MULTIPORT);
}

/* Ports the driver can use: port 0 only without MULTIPORT. */
static uint32_t nr_ports(const struct vdev_console *cs)
{
	return multiport(cs) ? cs->P(max_nr_ports) : 1u;
}

static uint16_t rx_queue(uint32_t port)
{
	return (uint16_t)(port == 0 ? 0u : 2u + 2u * port);
}

static struct vdev_iov *iov_slot(struct vdev_console *cs, unsigned slot)
{
	return cs->P(iovs) + (size_t)slot * cs->P(iov_per_chain);
}

/* iov slots: one per port for its (possibly held) output chain, then these */
static unsigned slot_rx(const struct vdev_console *cs) { return cs->P(max_nr_ports); }
static unsigned slot_ctrl_rx(const struct vdev_console *cs) { return cs->P(max_nr_ports) + 1u; }
static unsigned slot_ctrl_tx(const struct vdev_console *cs) { return cs->P(max_nr_ports) + 2u; }

static void host_event(struct vdev_console *cs, uint32_t port, enum vdev_console_event ev,
		       uint32_t arg)
{
	if (HAS_OP(cs->P(ops), event))
		cs->P(ops)->event(cs->P(opaque), port, ev, arg);
}

/* ---- ports --------------------------------------------------------------------- */

/*
 * Does the port exist for the driver, i.e. may it carry data? Without
 * MULTIPORT that is port 0; with it, a port announced and set up by the
 * driver.
 */
static bool port_live(const struct vdev_console *cs, uint32_t port)
{
	const struct vdev_console_port *p;

	if (port >= nr_ports(cs))
		return false;
	if (!multiport(cs))
		return true;
	p = &cs->P(ports)[port];
	return (p->P(flags) & (P_ANNOUNCED | P_READY)) == (P_ANNOUNCED | P_READY);
}

static bool guest_open(const struct vdev_console *cs, uint32_t port)
{
	if (!vdev_dev_is_running(&cs->P(dev)) || !port_live(cs, port))
		return false;
	return !multiport(cs) || (cs->P(ports)[port].P(flags) & P_GUEST_OPEN);
}

/* The held output chain goes back to the guest (port removed). */
static void release_held(struct vdev_console *cs, uint32_t port)
{
	struct vdev_console_port *p = &cs->P(ports)[port];
	struct vdev_vq *vq = &cs->P(queues)[rx_queue(port) + 1u];

	if (!(p->P(flags) & P_HELD))
		return;
	p->P(flags) = (uint8_t)(p->P(flags) & ~P_HELD);
	vdev_vq_push(vq, &p->P(held), 0);
	vdev_vq_flush(vq);
}

/* ---- control messages to the driver (control receiveq) ------------------------- */

static void owe(struct vdev_console *cs, struct vdev_console_port *p, uint8_t msgs)
{
	p->P(pending) |= msgs;
	cs->P(ctrl_waiting) = true;
}

/*
 * Write one control message into a fresh control receive buffer. Buffers
 * of the wrong direction, and buffers too small for the message (its
 * header, and a RESIZE's size after it), go back unused (counted) and the
 * next one is tried, so no message is lost to a bad buffer; a name that
 * does not fit is cut. Returns 0, or VDEV_EAGAIN (no buffer) or another
 * negative code (queue not live).
 */
static int ctrl_send(struct vdev_console *cs, uint32_t port, uint16_t event, uint16_t value,
		     const void *extra, uint32_t extra_len, uint32_t min_len)
{
	struct vdev_vq *vq = &cs->P(queues)[CTRL_RXQ];
	struct vdev_vq_elem e;
	uint8_t raw[CTRL_LEN];

	for (;;) {
		int rc = vdev_vq_pop(vq, &e, iov_slot(cs, slot_ctrl_rx(cs)), cs->P(iov_per_chain));

		if (rc < 0)
			return rc;
		if (rc == 0)
			return VDEV_EAGAIN;
		if (e.error != 0 || e.n_out != 0) {
			cs->P(stats).bad_chain++;
		} else if (e.in_bytes < min_len) {
			cs->P(stats).ctrl_short++;
		} else {
			break;
		}
		vdev_vq_push(vq, &e, 0);
	}
	vdev__put_le32(raw, port);
	vdev__put_le16(raw + 4, event);
	vdev__put_le16(raw + 6, value);
	vdev_iov_from_buf(e.iov, e.n_in, 0, raw, sizeof(raw));
	if (extra_len > e.in_bytes - CTRL_LEN) {
		cs->P(stats).ctrl_short++;
		extra_len = e.in_bytes - CTRL_LEN;
	}
	if (extra_len > 0)
		vdev_iov_from_buf(e.iov, e.n_in, CTRL_LEN, extra, extra_len);
	vdev_vq_push(vq, &e, CTRL_LEN + extra_len);
	cs->P(stats).ctrl_sent++;
	return 0;
}

/* Send what one port owes, in protocol order. */
static int flush_port(struct vdev_console *cs, uint32_t id)
{
	struct vdev_console_port *p = &cs->P(ports)[id];

	while (p->P(pending) != 0) {
		uint8_t m = (uint8_t)(p->P(pending) & (uint8_t)-p->P(pending)); /* lowest bit */
		uint8_t sz[RESIZE_LEN];
		int rc = 0;

		switch (m) {
		case M_ADD:
			rc = ctrl_send(cs, id, VIRTIO_CONSOLE_PORT_ADD, 0, NULL, 0, CTRL_LEN);
			break;
		case M_CONSOLE:
			rc = ctrl_send(cs, id, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL, 0, CTRL_LEN);
			break;
		case M_NAME:
			rc = ctrl_send(cs, id, VIRTIO_CONSOLE_PORT_NAME, 1, p->P(name), p->P(name_len),
				       CTRL_LEN);
			break;
		case M_OPEN:
			rc = ctrl_send(cs, id, VIRTIO_CONSOLE_PORT_OPEN,
				       (p->P(flags) & P_HOST_OPEN) ? 1u : 0u, NULL, 0, CTRL_LEN);
			break;
		case M_RESIZE:
			vdev__put_le16(sz, p->P(cols));
			vdev__put_le16(sz + 2, p->P(rows));
			rc = ctrl_send(cs, id, VIRTIO_CONSOLE_RESIZE, 0, sz, sizeof(sz),
				       CTRL_LEN + RESIZE_LEN);
			break;
		default: /* M_REMOVE */
			rc = ctrl_send(cs, id, VIRTIO_CONSOLE_PORT_REMOVE, 0, NULL, 0, CTRL_LEN);
			break;
		}
		if (rc < 0)
			return rc;
		p->P(pending) = (uint8_t)(p->P(pending) & ~m);
	}
	return 0;
}

/* Send every control message that waits for a buffer. */
static void flush_ctrl(struct vdev_console *cs)
{
	int rc = 0;

	if (!cs->P(ctrl_waiting) || !vdev_dev_is_running(&cs->P(dev)) || !multiport(cs))
		return;
	cs->P(ctrl_waiting) = false;
	for (uint32_t i = 0; i < cs->P(max_nr_ports) && rc == 0; i++)
		rc = flush_port(cs, i);
	if (rc < 0)
		cs->P(ctrl_waiting) = true;
	vdev_vq_flush(&cs->P(queues)[CTRL_RXQ]);
}

/* ---- control messages from the driver (control transmitq) ---------------------- */

/* What the device tells a port once the driver has set it up. */
static void port_ready(struct vdev_console *cs, uint32_t id)
{
	struct vdev_console_port *p = &cs->P(ports)[id];
	uint8_t m = 0;

	if (p->P(flags) & P_CONSOLE) {
		m |= M_CONSOLE;
		if (p->P(cols) != 0 || p->P(rows) != 0)
			m |= M_RESIZE;
	}
	if (p->P(name_len) > 0)
		m |= M_NAME;
	if (p->P(flags) & P_HOST_OPEN)
		m |= M_OPEN;
	if (m != 0)
		owe(cs, p, m);
}

static void ctrl_one(struct vdev_console *cs, const struct vdev_vq_elem *e)
{
	uint8_t raw[CTRL_LEN];
	struct vdev_console_port *p;
	uint32_t id;
	uint16_t event, value;

	if (e->error != 0 || e->n_in != 0) {
		cs->P(stats).bad_chain++;
		return;
	}
	if (e->out_bytes < CTRL_LEN) {
		cs->P(stats).bad_ctrl++;
		return;
	}
	/* Copied out once; it may span descriptors. */
	vdev_iov_to_buf(e->iov, e->n_out, 0, raw, sizeof(raw));
	id = vdev__get_le32(raw);
	event = vdev__get_le16(raw + 4);
	value = vdev__get_le16(raw + 6);
	if (value > 1u) {
		cs->P(stats).bad_ctrl++;
		return;
	}
	if (event == VIRTIO_CONSOLE_DEVICE_READY) {
		/* id is unused (Linux sends 0xffffffff) */
		if (cs->P(device_ready)) {
			cs->P(stats).bad_ctrl++;
			return;
		}
		if (value == 1) {
			cs->P(device_ready) = true;
			for (uint32_t i = 0; i < cs->P(max_nr_ports); i++) {
				p = &cs->P(ports)[i];
				if ((p->P(flags) & P_ADDED) && !(p->P(flags) & P_ANNOUNCED)) {
					p->P(flags) |= P_ANNOUNCED;
					owe(cs, p, M_ADD);
				}
			}
		}
		host_event(cs, 0, VDEV_CONSOLE_EV_DEVICE_READY, value);
		return;
	}
	if (event != VIRTIO_CONSOLE_PORT_READY && event != VIRTIO_CONSOLE_PORT_OPEN) {
		/* device-to-driver events, or unknown ones */
		cs->P(stats).bad_ctrl++;
		return;
	}
	if (id >= cs->P(max_nr_ports) || !(cs->P(ports)[id].P(flags) & P_ANNOUNCED) ||
	    (cs->P(ports)[id].P(pending) & (M_ADD | M_REMOVE))) {
		cs->P(stats).bad_port++;
		return;
	}
	p = &cs->P(ports)[id];
	if (event == VIRTIO_CONSOLE_PORT_READY) {
		if (p->P(flags) & P_READY) {
			cs->P(stats).bad_ctrl++;
			return;
		}
		if (value == 1) {
			p->P(flags) |= P_READY;
			port_ready(cs, id);
		}
		host_event(cs, id, VDEV_CONSOLE_EV_PORT_READY, value);
		return;
	}
	/* PORT_OPEN */
	if (!(p->P(flags) & P_READY)) {
		cs->P(stats).bad_port++;
		return;
	}
	if (value == 1)
		p->P(flags) |= P_GUEST_OPEN;
	else
		p->P(flags) = (uint8_t)(p->P(flags) & ~(P_GUEST_OPEN | P_WANT_WRITE));
	host_event(cs, id, VDEV_CONSOLE_EV_OPEN, value);
}

static void ctrl_process(struct vdev_console *cs)
{
	struct vdev_vq *vq = &cs->P(queues)[CTRL_TXQ];
	struct vdev_vq_elem e;

	if (!multiport(cs))
		return;
	while (vdev_vq_pop(vq, &e, iov_slot(cs, slot_ctrl_tx(cs)), cs->P(iov_per_chain)) > 0) {
		ctrl_one(cs, &e);
		vdev_vq_push(vq, &e, 0);
	}
	vdev_vq_flush(vq);
	flush_ctrl(cs);
}

/* ---- guest output (transmitq) -------------------------------------------------- */

/*
 * Offer the rest of the held chain (from held_off) to the host. The
 * segments are narrowed in place for the call and restored afterwards,
 * so the element can still be pushed. Returns true if the chain is done
 * (all taken, or dropped by an error), false if the host took less.
 */
static bool output_held(struct vdev_console *cs, uint32_t id)
{
	struct vdev_console_port *p = &cs->P(ports)[id];
	struct vdev_vq_elem *e = &p->P(held);
	uint32_t off = p->P(held_off);
	size_t len = e->out_bytes - off;
	unsigned k = 0;
	struct vdev_iov saved;
	int rc;

	while (k < e->n_out && off >= e->iov[k].len) {
		off -= (uint32_t)e->iov[k].len;
		k++;
	}
	if (k == e->n_out || len == 0)
		return true;
	if (len > OUTPUT_MAX)
		len = OUTPUT_MAX;
	saved = e->iov[k];
	e->iov[k].base = (uint8_t *)saved.base + off;
	e->iov[k].len = saved.len - off;
	rc = cs->P(ops)->output(cs->P(opaque), id, e->iov + k, e->n_out - k, len);
	e->iov[k] = saved;
	if (rc == VDEV_EAGAIN)
		rc = 0;
	if (rc < 0) {
		cs->P(stats).output_errors++;
		return true;
	}
	if ((size_t)rc > len)
		rc = (int)len; /* a host that claims more than it was offered */
	p->P(held_off) += (uint32_t)rc;
	cs->P(stats).tx_bytes += (uint32_t)rc;
	if (p->P(held_off) == e->out_bytes)
		return true;
	cs->P(stats).held++;
	return false;
}

/* Take the output of one port until its queue is empty or the host is full. */
static void tx_port(struct vdev_console *cs, uint32_t id)
{
	struct vdev_console_port *p = &cs->P(ports)[id];
	struct vdev_vq *vq = &cs->P(queues)[rx_queue(id) + 1u];
	bool done;

	for (;;) {
		if (!(p->P(flags) & P_HELD)) {
			struct vdev_vq_elem *e = &p->P(held);
			int rc = vdev_vq_pop(vq, e, iov_slot(cs, id), cs->P(iov_per_chain));

			if (rc <= 0)
				break;
			if (e->error != 0 || e->n_in != 0) {
				cs->P(stats).bad_chain++;
				vdev_vq_push(vq, e, 0);
				continue;
			}
			if (!port_live(cs, id)) {
				cs->P(stats).bad_port++;
				vdev_vq_push(vq, e, 0);
				continue;
			}
			p->P(flags) |= P_HELD;
			p->P(held_off) = 0;
		}
		done = output_held(cs, id);
		if (!(p->P(flags) & P_HELD))
			continue; /* the op removed the port: the chain went back then */
		if (!done)
			break; /* until vdev_console_output_ready() */
		p->P(flags) = (uint8_t)(p->P(flags) & ~P_HELD);
		cs->P(stats).tx_chains++;
		vdev_vq_push(vq, &p->P(held), 0);
	}
	vdev_vq_flush(vq);
}

static void tx_process(struct vdev_console *cs, uint32_t id)
{
	if (cs->P(in_tx)) {
		cs->P(tx_again) = true;
		return;
	}
	cs->P(in_tx) = true;
	tx_port(cs, id);
	/* output_ready() calls from inside the output op, for any port */
	while (cs->P(tx_again)) {
		cs->P(tx_again) = false;
		for (uint32_t i = 0; i < nr_ports(cs); i++)
			tx_port(cs, i);
	}
	cs->P(in_tx) = false;
}

/* ---- the host API --------------------------------------------------------------- */

VDEV_API int vdev_console_send(struct vdev_console *cs, uint32_t port, const struct vdev_iov *iov,
			       unsigned iovcnt, size_t len)
{
	struct vdev_vq *vq;
	size_t done = 0;

	if (port >= cs->P(max_nr_ports))
		return VDEV_ENOENT;
	if ((iovcnt > 0 && iov == NULL) || vdev_iov_length(iov, iovcnt) < len)
		return VDEV_EINVAL;
	if (!guest_open(cs, port))
		return VDEV_EPERM;
	if (len > OUTPUT_MAX)
		len = OUTPUT_MAX;
	vq = &cs->P(queues)[rx_queue(port)];
	while (done < len) {
		struct vdev_vq_elem e;
		size_t n;
		int rc = vdev_vq_pop(vq, &e, iov_slot(cs, slot_rx(cs)), cs->P(iov_per_chain));

		if (rc <= 0)
			break;
		if (e.error != 0 || e.n_out != 0 || e.in_bytes == 0) {
			cs->P(stats).bad_chain++;
			vdev_vq_push(vq, &e, 0);
			continue;
		}
		n = VDEV__MIN((size_t)e.in_bytes, len - done);
		/* host bytes [done, done + n) into the chain's writable segments */
		for (size_t i = 0, off = 0; i < e.n_in && off < n; i++) {
			size_t take = VDEV__MIN(e.iov[i].len, n - off);

			vdev_iov_to_buf(iov, iovcnt, done + off, e.iov[i].base, take);
			off += take;
		}
		vdev_vq_push(vq, &e, (uint32_t)n);
		done += n;
		cs->P(stats).rx_chains++;
		cs->P(stats).rx_bytes += n;
	}
	vdev_vq_flush(vq);
	if (done < len)
		cs->P(ports)[port].P(flags) |= P_WANT_WRITE;
	if (done == 0 && len > 0)
		return VDEV_EAGAIN;
	return (int)done;
}

VDEV_API int vdev_console_output_ready(struct vdev_console *cs, uint32_t port)
{
	if (port >= cs->P(max_nr_ports))
		return VDEV_ENOENT;
	if (vdev_dev_is_running(&cs->P(dev)))
		tx_process(cs, port);
	return 0;
}

VDEV_API bool vdev_console_output_held(const struct vdev_console *cs, uint32_t port)
{
	return port < cs->P(max_nr_ports) && (cs->P(ports)[port].P(flags) & P_HELD);
}

VDEV_API int vdev_console_port_add(struct vdev_console *cs, uint32_t port, const char *name,
				   bool console)
{
	struct vdev_console_port *p;
	size_t n = 0;

	if (port >= cs->P(max_nr_ports))
		return VDEV_EINVAL;
	while (name != NULL && name[n] != '\0' && n <= VDEV_CONSOLE_NAME_MAX)
		n++;
	if (n > VDEV_CONSOLE_NAME_MAX)
		return VDEV_EINVAL;
	p = &cs->P(ports)[port];
	if (p->P(flags) & P_ADDED)
		return VDEV_EEXIST;
	if (p->P(pending) & M_REMOVE)
		return VDEV_EBUSY; /* the driver has not heard of the removal yet */
	p->P(flags) = (uint8_t)(p->P(flags) & P_HOST_OPEN);
	p->P(flags) |= P_ADDED | (console ? P_CONSOLE : 0);
	p->P(name_len) = (uint8_t)n;
	if (n > 0)
		memcpy(p->P(name), name, n);
	if (cs->P(device_ready)) {
		p->P(flags) |= P_ANNOUNCED;
		owe(cs, p, M_ADD);
		flush_ctrl(cs);
	}
	return 0;
}

VDEV_API int vdev_console_port_remove(struct vdev_console *cs, uint32_t port)
{
	struct vdev_console_port *p;
	bool announced;

	if (port >= cs->P(max_nr_ports) || !(cs->P(ports)[port].P(flags) & P_ADDED))
		return VDEV_ENOENT;
	p = &cs->P(ports)[port];
	/* a PORT_ADD still waiting for a buffer is simply not sent */
	announced = (p->P(flags) & P_ANNOUNCED) && !(p->P(pending) & M_ADD);
	release_held(cs, port);
	p->P(flags) = (uint8_t)(p->P(flags) & P_HOST_OPEN);
	p->P(pending) = 0;
	if (announced) {
		owe(cs, p, M_REMOVE);
		flush_ctrl(cs);
	}
	return 0;
}

VDEV_API int vdev_console_port_set_open(struct vdev_console *cs, uint32_t port, bool open)
{
	struct vdev_console_port *p;

	if (port >= cs->P(max_nr_ports))
		return VDEV_ENOENT;
	p = &cs->P(ports)[port];
	if (!(p->P(flags) & P_ADDED) && !(port == 0 && !multiport(cs)))
		return VDEV_ENOENT;
	if (open == !!(p->P(flags) & P_HOST_OPEN))
		return 0;
	if (open)
		p->P(flags) |= P_HOST_OPEN;
	else
		p->P(flags) = (uint8_t)(p->P(flags) & ~P_HOST_OPEN);
	if (p->P(flags) & P_READY) {
		owe(cs, p, M_OPEN);
		flush_ctrl(cs);
	}
	return 0;
}

VDEV_API bool vdev_console_port_guest_open(const struct vdev_console *cs, uint32_t port)
{
	return port < cs->P(max_nr_ports) && guest_open(cs, port);
}

VDEV_API int vdev_console_resize(struct vdev_console *cs, uint32_t port, uint16_t cols,
				 uint16_t rows)
{
	struct vdev_console_port *p;

	if (port >= cs->P(max_nr_ports))
		return VDEV_ENOENT;
	p = &cs->P(ports)[port];
	p->P(cols) = cols;
	p->P(rows) = rows;
	if (port == 0) {
		vdev__put_le16(cs->P(config) + C_COLS, cols);
		vdev__put_le16(cs->P(config) + C_ROWS, rows);
		if (vdev_dev_offered_features(&cs->P(dev)) & VDEV_BIT(VDEV_CONSOLE_F_SIZE))
			vdev_dev_config_changed(&cs->P(dev));
	}
	if ((p->P(flags) & (P_READY | P_CONSOLE)) == (P_READY | P_CONSOLE)) {
		owe(cs, p, M_RESIZE);
		flush_ctrl(cs);
	}
	return 0;
}

VDEV_API int vdev_console_process(struct vdev_console *cs)
{
	if (!vdev_dev_is_running(&cs->P(dev)))
		return VDEV_EPERM;
	ctrl_process(cs);
	flush_ctrl(cs);
	for (uint32_t i = 0; i < nr_ports(cs); i++)
		tx_process(cs, i);
	return 0;
}

VDEV_API void vdev_console_get_stats(const struct vdev_console *cs, struct vdev_console_stats *out)
{
	*out = cs->P(stats);
}

/* ---- device core ops ------------------------------------------------------------ */

static int console_activate(void *opaque)
{
	struct vdev_console *cs = opaque;

	if (!multiport(cs))
		host_event(cs, 0, VDEV_CONSOLE_EV_OPEN, 1);
	return 0;
}

static void console_queue_notify(void *opaque, uint16_t q)
{
	struct vdev_console *cs = opaque;
	uint32_t port;

	if (q == CTRL_RXQ || q == CTRL_TXQ) {
		if (q == CTRL_TXQ)
			ctrl_process(cs);
		else
			flush_ctrl(cs);
		return;
	}
	port = q < 2 ? 0u : (q - 2u) / 2u;
	if (port >= nr_ports(cs))
		return;
	if (q & 1u) {
		tx_process(cs, port);
	} else if (cs->P(ports)[port].P(flags) & P_WANT_WRITE) {
		cs->P(ports)[port].P(flags) = (uint8_t)(cs->P(ports)[port].P(flags) & ~P_WANT_WRITE);
		if (HAS_OP(cs->P(ops), writable))
			cs->P(ops)->writable(cs->P(opaque), port);
	}
}

static uint32_t queue_port(uint16_t q)
{
	return q < 2 ? 0u : (q - 2u) / 2u;
}

static void console_queue_reset(void *opaque, uint16_t q)
{
	struct vdev_console *cs = opaque;
	uint32_t port = queue_port(q);

	/* A held output chain belongs to the queue that is going away. */
	if ((q < 2 || q > 3) && (q & 1u) && port < cs->P(max_nr_ports))
		cs->P(ports)[port].P(flags) =
			(uint8_t)(cs->P(ports)[port].P(flags) & ~P_HELD);
}

static void console_queue_enable(void *opaque, uint16_t q)
{
	struct vdev_console *cs = opaque;

	if (q == CTRL_RXQ)
		flush_ctrl(cs);
}

static int console_reset(void *opaque)
{
	struct vdev_console *cs = opaque;

	/* The host's ports stay; what the driver knew of them goes. */
	for (uint32_t i = 0; i < cs->P(max_nr_ports); i++) {
		struct vdev_console_port *p = &cs->P(ports)[i];

		p->P(flags) = (uint8_t)(p->P(flags) & (P_ADDED | P_CONSOLE | P_HOST_OPEN));
		p->P(pending) = 0;
	}
	cs->P(device_ready) = false;
	cs->P(ctrl_waiting) = false;
	cs->P(in_tx) = false;
	cs->P(tx_again) = false;
	host_event(cs, 0, VDEV_CONSOLE_EV_RESET, 0);
	return 0;
}

static void console_config_write(void *opaque, uint32_t off, const void *data, uint32_t len)
{
	struct vdev_console *cs = opaque;

	/* Only emerg_wr is writable: its low byte goes to the host, whatever
	 * the device status (spec: even on an unconfigured device). */
	if (off > C_EMERG_WR || off + len <= C_EMERG_WR)
		return;
	if (!HAS_OP(cs->P(ops), emerg_write))
		return;
	cs->P(stats).emerg_writes++;
	cs->P(ops)->emerg_write(cs->P(opaque), ((const uint8_t *)data)[C_EMERG_WR - off]);
}

static const struct vdev_dev_ops console_dev_ops = {
	.size = sizeof(struct vdev_dev_ops),
	.activate = console_activate,
	.reset = console_reset,
	.queue_notify = console_queue_notify,
	.config_write = console_config_write,
	.queue_reset = console_queue_reset,
	.queue_enable = console_queue_enable,
};

/* ---- init ----------------------------------------------------------------------- */

VDEV_API int vdev_console_init(struct vdev_console *cs, const struct vdev_console_config *cfg)
{
	uint64_t features = 0, ring;
	int rc;

	if (cs == NULL || cfg == NULL || cfg->host == NULL ||
	    cfg->host->size < offsetof(struct vdev_console_host_ops, event) ||
	    cfg->host->output == NULL || cfg->queue_size == 0 ||
	    cfg->queue_size > VDEV_VQ_MAX_SIZE || cfg->max_nr_ports == 0 ||
	    cfg->max_nr_ports > VDEV_CONSOLE_MAX_PORTS ||
	    (!cfg->multiport && cfg->max_nr_ports != 1) || cfg->iov_per_chain == 0 ||
	    cfg->iov_per_chain > UINT16_MAX || cfg->mem == NULL || cfg->queues == NULL ||
	    cfg->queue_held == NULL || cfg->ports == NULL || cfg->iovs == NULL)
		return VDEV_EINVAL;
	memset(cs, 0, sizeof(*cs));
	cs->P(ops) = cfg->host;
	cs->P(opaque) = cfg->host_opaque;
	cs->P(queues) = cfg->queues;
	cs->P(ports) = cfg->ports;
	cs->P(iovs) = cfg->iovs;
	cs->P(max_nr_ports) = cfg->max_nr_ports;
	cs->P(iov_per_chain) = cfg->iov_per_chain;
	memset(cfg->ports, 0, (size_t)cfg->max_nr_ports * sizeof(*cfg->ports));
	cfg->ports[0].P(cols) = cfg->cols;
	cfg->ports[0].P(rows) = cfg->rows;
	vdev__put_le16(cs->P(config) + C_COLS, cfg->cols);
	vdev__put_le16(cs->P(config) + C_ROWS, cfg->rows);
	vdev__put_le32(cs->P(config) + C_MAX_NR_PORTS, cfg->max_nr_ports);

	if (cfg->size)
		features |= VDEV_BIT(VDEV_CONSOLE_F_SIZE);
	if (cfg->multiport)
		features |= VDEV_BIT(VDEV_CONSOLE_F_MULTIPORT);
	if (HAS_OP(cfg->host, emerg_write))
		features |= VDEV_BIT(VDEV_CONSOLE_F_EMERG_WRITE);
	ring = cfg->ring_features != 0 ? cfg->ring_features : DEFAULT_RING_FEATURES;
	struct vdev_dev_config dc = {
		.device_id = VDEV_ID_CONSOLE,
		.features = features | ring | VDEV_BIT(VDEV_F_VERSION_1),
		.queues = cfg->queues,
		.queue_held = cfg->queue_held,
		.num_queues = (uint16_t)VDEV_CONSOLE_NUM_QUEUES(cfg->multiport, cfg->max_nr_ports),
		.queue_max_size = cfg->queue_size,
		.config = cs->P(config),
		.config_len = VDEV_CONSOLE_CONFIG_SIZE,
		.mem = cfg->mem,
		.ops = &console_dev_ops,
		.opaque = cs,
	};
	rc = vdev_dev_init(&cs->P(dev), &dc);
	if (rc < 0)
		return rc;
	/* Control messages in answer those out, in the same call: they may
	 * not be written on the control out queue's ring. */
	if (cfg->multiport)
		vdev_vq_set_feeds(&cfg->queues[CTRL_RXQ], &cfg->queues[CTRL_TXQ]);
	return 0;
}

VDEV_API struct vdev_dev *vdev_console_dev(struct vdev_console *cs)
{
	return &cs->P(dev);
}
