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
 *            offloads; turn GRO off on that interface)
 *   SWITCH   a SOCK_SEQPACKET connection to vdev-switch, the inter-VM L2
 *            switch (one frame per message, no offloads)
 *
 * Every port is one non-blocking fd carrying one frame per read/write.
 */
#ifndef VDEV_EXAMPLES_NET_PORT_H
#define VDEV_EXAMPLES_NET_PORT_H

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
};

/* Open a port; on error returns -1 with a message in err. */
int net_port_open_tap(struct net_port *p, const char *ifname, char *err, size_t errlen);
int net_port_open_packet(struct net_port *p, const char *ifname, char *err, size_t errlen);
int net_port_open_switch(struct net_port *p, const char *path, char *err, size_t errlen);
void net_port_close(struct net_port *p);

/* Send one frame (hdr: offload state, used by TAP only). Waits briefly for
 * room, then drops. Returns 0 sent, -1 dropped. */
int net_port_send(struct net_port *p, const struct vdev_net_hdr *hdr,
		  const struct vdev_iov *iov, unsigned n);

/* Receive one frame into buf (cap bytes) and its header. Returns its
 * length, 0 if none is waiting, -1 on a port error. */
ssize_t net_port_recv(struct net_port *p, struct vdev_net_hdr *hdr, uint8_t *buf, size_t cap);

/* The guest accepts these receive offloads now (VDEV_NET_F_GUEST_* bits). */
void net_port_set_guest_offloads(struct net_port *p, uint64_t offloads);

#endif
