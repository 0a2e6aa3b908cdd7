/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-console device model (spec "Console Device").
 *
 * Serial ports between the host and the guest: port 0 alone (hvc0 in a
 * Linux guest), or up to cfg->max_nr_ports ports with
 * VIRTIO_CONSOLE_F_MULTIPORT, each a console (hvcN) or a generic port
 * with a name (/dev/vportNpM, /dev/virtio-ports/<name> through udev).
 * Features: SIZE (cols/rows in the config space, RESIZE messages for
 * console ports), MULTIPORT (the control queues), EMERG_WRITE (a byte
 * written to emerg_wr reaches the host's emerg_write op, even before the
 * driver negotiated anything), plus the ring features of the core.
 *
 * Queues: 0 receiveq(port 0), 1 transmitq(port 0), then with MULTIPORT
 * 2 control receiveq, 3 control transmitq, and 2 + 2p / 3 + 2p for port
 * p >= 1: VDEV_CONSOLE_NUM_QUEUES(multiport, max_nr_ports) in all. A
 * driver that does not negotiate MULTIPORT uses queues 0 and 1 only.
 *
 * Ports: the host adds them (vdev_console_port_add(), before or after the
 * driver started: hot-plug), names them, makes one or more consoles, and
 * opens or closes its end (vdev_console_port_set_open()). The device
 * announces them after the driver's DEVICE_READY (PORT_ADD), and after the
 * driver's PORT_READY for a port tells it the port's console role
 * (CONSOLE_PORT), name (PORT_NAME), the host's open state (PORT_OPEN) and
 * its size (RESIZE). Control messages wait for control receive buffers in
 * small per-port flags, so none is lost and none is sent twice.
 * Without MULTIPORT, port 0 is the console and counts as open by the guest
 * once the driver is running.
 *
 * Data, with backpressure both ways:
 *   - guest -> host: a transmit chain's bytes go to the host's output op,
 *     which takes what it can. If it takes less than all, the device keeps
 *     the chain (the guest's buffer is not returned) and takes nothing
 *     more from that port until the host calls vdev_console_output_ready();
 *     then the rest is offered again, from where it stopped.
 *   - host -> guest: vdev_console_send() copies into the port's posted
 *     receive buffers what fits and returns how much; with none posted it
 *     returns VDEV_EAGAIN and the writable op is called once the guest
 *     posts some.
 *
 * Hostile input: control messages shorter than 8 bytes, device-to-driver
 * events sent by the driver, values other than 0/1, port ids that are not
 * announced or beyond max_nr_ports, a second DEVICE_READY or PORT_READY
 * are ignored and counted; chains of the wrong direction (writable
 * descriptors in a transmit queue, readable ones in a receive queue) and
 * control receive buffers too small for the message are returned unused
 * and counted (the message waits for the next buffer); data on a port that does not exist is
 * dropped (counted). Every chain is completed.
 *
 * Context: one thread for the device (all queue notifications and every
 * vdev_console_* call), the usual vhost-user set-up, or the integrator
 * serialises them. Host ops are called from inside vdev_console_* calls
 * and queue notifications; from an op the host may call
 * vdev_console_send(), _port_set_open(), _resize(), _port_add() and
 * _port_remove(); vdev_console_output_ready() called from inside the
 * output op is remembered and acted on when the op returns.
 */
#ifndef VDEV_CONSOLE_H
#define VDEV_CONSOLE_H

/* Absent from a build with VDEV_CONFIG_DEV_CONSOLE 0 (vdev/config.h): the
 * functions below are declared there but not defined (a call does not
 * link). */

#include "vdev/common.h"
#include "vdev/device.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Feature bits (spec "Console Device / Feature bits"). */
#define VDEV_CONSOLE_F_SIZE 0
#define VDEV_CONSOLE_F_MULTIPORT 1
#define VDEV_CONSOLE_F_EMERG_WRITE 2

/* struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr. */
#define VDEV_CONSOLE_CONFIG_SIZE 12u
/* Most ports a device may have (two queues each, plus two control queues,
 * within VDEV_MAX_QUEUES). */
#define VDEV_CONSOLE_MAX_PORTS 511u
/* Longest port name, in bytes (sent without a NUL). */
#define VDEV_CONSOLE_NAME_MAX 63u
/* Queues of a device configured with `multiport` and `nports` ports. */
#define VDEV_CONSOLE_NUM_QUEUES(multiport, nports) ((multiport) ? 2u + 2u * (nports) : 2u)

/* What the host's event op hears. */
enum vdev_console_event {
	VDEV_CONSOLE_EV_DEVICE_READY = 1, /* MULTIPORT driver is ready (arg 1) or failed
					   * (arg 0); port is 0 */
	VDEV_CONSOLE_EV_PORT_READY = 2,   /* the driver set the port up (arg 1) or could
					   * not (arg 0) */
	VDEV_CONSOLE_EV_OPEN = 3,         /* the guest opened (arg 1) or closed (arg 0)
					   * the port; without MULTIPORT port 0 opens
					   * when the driver starts */
	VDEV_CONSOLE_EV_RESET = 4,        /* device reset: every port is closed and not
					   * ready on the guest side; port is 0, arg 0 */
};

/* The host side. `size` first; ops get `opaque` (cfg->host_opaque) first. */
struct vdev_console_host_ops {
	uint32_t size; /* sizeof(struct vdev_console_host_ops) */
	/*
	 * Guest output on `port`: `len` bytes in iov[0..iovcnt) (guest memory,
	 * borrowed for the call only). Return how many bytes were taken
	 * (0..len); anything less than len keeps the chain with the device and
	 * stops the port's output until vdev_console_output_ready(); the rest
	 * is offered again then. VDEV_EAGAIN counts as 0; another negative
	 * VDEV_E* drops the rest of the chain (counted). Required.
	 */
	int (*output)(void *opaque, uint32_t port, const struct vdev_iov *iov, unsigned iovcnt,
		      size_t len);
	/* A port or device event (enum vdev_console_event). Optional. */
	void (*event)(void *opaque, uint32_t port, enum vdev_console_event ev, uint32_t arg);
	/* vdev_console_send() on `port` could not send everything before, and
	 * the guest posted receive buffers since. Optional (poll). */
	void (*writable)(void *opaque, uint32_t port);
	/* The driver wrote `c` to emerg_wr. NULL: EMERG_WRITE is not offered. */
	void (*emerg_write)(void *opaque, uint8_t c);
};

struct vdev_console_config {
	uint32_t queue_size;    /* max size of each queue, 1..32768 */
	bool multiport;         /* offer MULTIPORT (and the control queues) */
	uint32_t max_nr_ports;  /* 1..VDEV_CONSOLE_MAX_PORTS; 1 without multiport */
	bool size;              /* offer SIZE; cols/rows below are port 0's */
	uint16_t cols, rows;
	uint64_t ring_features; /* 0: INDIRECT_DESC, EVENT_IDX, RING_PACKED, RING_RESET */
	const struct vdev_mem *mem;
	/* Caller-owned storage, borrowed for the life of the device: */
	struct vdev_vq *queues;           /* VDEV_CONSOLE_NUM_QUEUES(multiport, max_nr_ports) */
	uint64_t *queue_held;             /* as many queues * VDEV_VQ_HELD_WORDS(queue_size):
					   * buffers each queue holds (virtqueue.h) */
	struct vdev_console_port *ports;  /* max_nr_ports entries */
	struct vdev_iov *iovs;            /* (max_nr_ports + 3) * iov_per_chain */
	unsigned iov_per_chain;           /* segments per chain, 1..65535 */
	const struct vdev_console_host_ops *host;
	void *host_opaque;
};

struct vdev_console_stats {
	uint64_t tx_chains, tx_bytes;  /* guest output taken by the host */
	uint64_t rx_chains, rx_bytes;  /* host input written to the guest */
	uint64_t held;                 /* times the host took less than offered */
	uint64_t output_errors;        /* chains dropped by an output error */
	uint64_t bad_chain;            /* wrong direction or rejected by the ring code */
	uint64_t bad_ctrl;             /* control message short, unknown or bad value */
	uint64_t bad_port;             /* message or data for a port that does not exist */
	uint64_t ctrl_sent;            /* control messages to the driver */
	uint64_t ctrl_short;           /* a control receive buffer too small (returned
					* unused; or a name cut) */
	uint64_t emerg_writes;
};

/* One port. Caller-allocated in the table; fields private. */
struct vdev_console_port {
	struct vdev_vq_elem VDEV_PRIV(held);  /* output chain the host has not taken */
	uint32_t VDEV_PRIV(held_off);         /* bytes of it already taken */
	uint16_t VDEV_PRIV(cols), VDEV_PRIV(rows);
	uint8_t VDEV_PRIV(flags);             /* P_* state bits */
	uint8_t VDEV_PRIV(pending);           /* control messages owed to the driver */
	uint8_t VDEV_PRIV(name_len);
	char VDEV_PRIV(name)[VDEV_CONSOLE_NAME_MAX];
};

/* Device state. Caller-allocated; fields private. */
struct vdev_console {
	struct vdev_dev VDEV_PRIV(dev);
	const struct vdev_console_host_ops *VDEV_PRIV(ops);
	void *VDEV_PRIV(opaque);
	struct vdev_vq *VDEV_PRIV(queues);
	struct vdev_console_port *VDEV_PRIV(ports);
	struct vdev_iov *VDEV_PRIV(iovs);
	struct vdev_console_stats VDEV_PRIV(stats);
	uint32_t VDEV_PRIV(max_nr_ports);
	unsigned VDEV_PRIV(iov_per_chain);
	bool VDEV_PRIV(device_ready);  /* the driver's DEVICE_READY came */
	bool VDEV_PRIV(ctrl_waiting);  /* messages wait for control receive buffers */
	bool VDEV_PRIV(in_tx);         /* output running (no recursion) */
	bool VDEV_PRIV(tx_again);      /* output_ready came from inside the output op */
	uint8_t VDEV_PRIV(config)[VDEV_CONSOLE_CONFIG_SIZE];
};

/*
 * vdev_console_init() - set up a console device.
 * Returns 0 or VDEV_EINVAL: no host ops or no output op, queue_size,
 * max_nr_ports (or more than 1 without multiport) or iov_per_chain out of
 * range, NULL mem/queues/queue_held/ports/iovs.
 * Ownership: cfg is copied; its arrays and the ops are borrowed.
 * Context: before the transport is set up.
 */
VDEV_API int vdev_console_init(struct vdev_console *cs, const struct vdev_console_config *cfg);

/* vdev_console_dev() - the device core object, for vdev_mmio_init() & co. */
VDEV_API struct vdev_dev *vdev_console_dev(struct vdev_console *cs);

/*
 * vdev_console_port_add() - create port `port` on the host side, with an
 * optional `name` (UTF-8, no NUL needed, up to VDEV_CONSOLE_NAME_MAX
 * bytes; NULL or "" for none, copied) and, if `console`, as a console
 * port. The driver hears of it after its DEVICE_READY (or at once, if that
 * came already: hot-plug). Returns 0, VDEV_EINVAL (port >= max_nr_ports,
 * name too long), VDEV_EEXIST (port already added).
 * Without MULTIPORT negotiated port 0 exists anyway; adding it sets its
 * name (unused) and role.
 */
VDEV_API int vdev_console_port_add(struct vdev_console *cs, uint32_t port, const char *name,
				   bool console);

/*
 * vdev_console_port_remove() - hot-unplug: the driver gets PORT_REMOVE;
 * an output chain the host has not taken is returned to the guest. The id
 * may be added again after. Returns 0 or VDEV_ENOENT (not added).
 */
VDEV_API int vdev_console_port_remove(struct vdev_console *cs, uint32_t port);

/*
 * vdev_console_port_set_open() - the host end of `port` is connected or
 * not (a PORT_OPEN message to the driver, once the port is ready; Linux
 * reports EOF to readers of a port whose host end is closed). Ports start
 * closed; the state is the host's and stays as set across a device reset
 * or a remove and add of the port. Returns 0, VDEV_ENOENT (not added;
 * without MULTIPORT port 0 always exists).
 */
VDEV_API int vdev_console_port_set_open(struct vdev_console *cs, uint32_t port, bool open);

/* vdev_console_port_guest_open() - the guest has the port open (its last
 * PORT_OPEN said 1; without MULTIPORT: port 0 while the driver runs). */
VDEV_API bool vdev_console_port_guest_open(const struct vdev_console *cs, uint32_t port);

/*
 * vdev_console_send() - host input for `port`: up to `len` bytes of
 * iov[0..iovcnt), copied into the port's receive buffers before the call
 * returns. Returns the bytes sent (> 0, or 0 for len 0), or:
 *   VDEV_EAGAIN   no receive buffer posted; the writable op is called
 *                 when the guest posts one
 *   VDEV_EPERM    the device is not running or the guest has not opened
 *                 the port (Linux drops data for a closed port)
 *   VDEV_ENOENT   no such port
 *   VDEV_EINVAL   bad arguments
 * A partial count also arms the writable op.
 */
VDEV_API int vdev_console_send(struct vdev_console *cs, uint32_t port, const struct vdev_iov *iov,
			       unsigned iovcnt, size_t len);

/*
 * vdev_console_output_ready() - the host can take output on `port` again
 * after its output op took less than offered: the held chain is offered
 * again, then new ones. Returns 0, VDEV_ENOENT (port out of range).
 */
VDEV_API int vdev_console_output_ready(struct vdev_console *cs, uint32_t port);

/* vdev_console_output_held() - `port` has output the host has not taken. */
VDEV_API bool vdev_console_output_held(const struct vdev_console *cs, uint32_t port);

/*
 * vdev_console_resize() - the console on `port` is now cols x rows. For
 * port 0 the config space changes (a configuration change notification if
 * SIZE was offered); with MULTIPORT a console port also gets a RESIZE
 * message. Returns 0, VDEV_ENOENT (port out of range).
 */
VDEV_API int vdev_console_resize(struct vdev_console *cs, uint32_t port, uint16_t cols,
				 uint16_t rows);

/*
 * vdev_console_process() - what the queue notifications do: take control
 * messages and output, send waiting control messages. For a polling
 * integrator. Returns 0 or VDEV_EPERM (not running).
 */
VDEV_API int vdev_console_process(struct vdev_console *cs);

VDEV_API void vdev_console_get_stats(const struct vdev_console *cs,
				     struct vdev_console_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* VDEV_CONSOLE_H */
