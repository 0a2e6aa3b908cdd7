/* SPDX-License-Identifier: MIT */
/*
 * Packet ports for the virtio-net device model (POSIX, Linux): where a
 * device's frames go and come from.
 *
 *   TAP      a tap interface (IFF_VNET_HDR): the kernel takes and gives
 *            the virtio-net header, so checksum/segmentation offloads pass
 *            through both ways (the guest's receive offloads are set with
 *            TUNSETOFFLOAD)
 *   PACKET   AF_PACKET bound to a host interface, which is thereby given
 *            to one device (promiscuous membership; plain frames, no
 *            offloads; turn GRO off on that interface). By default through
 *            TPACKET_V2 receive and transmit rings mapped into the process
 *            (frames are read from the ring without a system call and
 *            transmitted with one kick per batch, bypassing the qdisc);
 *            one system call per frame where the rings cannot be set up.
 *            VLAN tags the kernel took off on receive are put back.
 *   SWITCH   a SOCK_SEQPACKET connection to vdev-switch, the inter-VM L2
 *            switch (one frame per message, no offloads)
 *
 * Every port is one non-blocking fd; TAP and SWITCH ports, and PACKET
 * ports without rings, carry one frame per read/write.
 */
#ifndef VDEV_EXAMPLES_NET_PORT_H
#define VDEV_EXAMPLES_NET_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vdev/net.h"

enum net_port_kind { NET_PORT_TAP, NET_PORT_PACKET, NET_PORT_SWITCH };

struct net_port {
	int fd;
	enum net_port_kind kind;
	uint64_t offloads; /* VDEV_NET_OFFLOAD_MASK bits this port handles */
	char name[64];
	uint64_t tx_frames, tx_dropped, rx_frames;
	/* PACKET with rings (ring != NULL): the mapping, rx then tx frames */
	uint8_t *ring;
	size_t ring_len;
	unsigned frame_size, rx_nr, tx_nr; /* slot size; slots per ring */
	unsigned rx_head, tx_head;         /* next slot to look at */
	unsigned tx_queued;                /* slots filled since the last kick */
	uint64_t tx_kicks, rx_truncated;
	void *tap_uring; /* TAP with batched writes (net_port_tap_batch) */
};

/* Open a port; on error returns -1 with a message in err. */
int net_port_open_tap(struct net_port *p, const char *ifname, char *err, size_t errlen);

/*
 * TAP: queue transmitted frames of up to 2 KiB (copied) and write each
 * batch with one io_uring submission at net_port_flush() (the kernel still
 * takes them one write each; larger frames are written at once, after the
 * queued ones). Returns 0, or -1 with the reason in err (no liburing in
 * this build, io_uring refused): the port keeps one writev per frame.
 */
int net_port_tap_batch(struct net_port *p, char *err, size_t errlen);
/*
 * A PACKET port on host interface ifname for frames of up to max_frame
 * bytes (Ethernet header included; the rings' slots are sized for it,
 * and for a VLAN tag). With rings, the port tries TPACKET_V2 rings first;
 * if they cannot be set up it returns 0 (a working port, one system call
 * per frame) with the reason in err, which is otherwise left empty on
 * success: print it as a warning.
 */
int net_port_open_packet(struct net_port *p, const char *ifname, size_t max_frame, bool rings,
			 char *err, size_t errlen);
int net_port_open_switch(struct net_port *p, const char *path, char *err, size_t errlen);
void net_port_close(struct net_port *p);

/* Send one frame (hdr: offload state, used by TAP only). Waits briefly for
 * room, then drops. Returns 0 sent (or queued: a PACKET port's ring sends
 * at net_port_flush(), or when it fills), -1 dropped. The frame is copied
 * or written before the call returns. */
int net_port_send(struct net_port *p, const struct vdev_net_hdr *hdr,
		  const struct vdev_iov *iov, unsigned n);

/* Send what net_port_send() queued (one system call for the batch; a
 * no-op for ports without a transmit ring). */
void net_port_flush(struct net_port *p);

/* Receive one frame into buf (cap bytes) and its header. Returns its
 * length, 0 if none is waiting, -1 on a port error. */
ssize_t net_port_recv(struct net_port *p, struct vdev_net_hdr *hdr, uint8_t *buf, size_t cap);

/*
 * Ports with a receive ring (p->ring != NULL): the i-th waiting frame,
 * counted from the oldest not yet released, without copying. Returns its
 * length and points *data at it (valid until it is released), or 0 if
 * fewer than i + 1 frames wait. *data NULL: the frame did not fit its
 * slot (counted in rx_truncated): drop it and release it in turn.
 * net_port_rx_release() gives the n oldest frames back to the kernel.
 */
size_t net_port_rx_peek(struct net_port *p, unsigned i, const uint8_t **data);
void net_port_rx_release(struct net_port *p, unsigned n);

/* The guest accepts these receive offloads now (VDEV_NET_F_GUEST_* bits). */
void net_port_set_guest_offloads(struct net_port *p, uint64_t offloads);

#endif
