/* SPDX-License-Identifier: MIT */
/* Packet ports: TAP, AF_PACKET and the vdev-switch client. See net_port.h. */
#include "net_port.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#define VNET_HDR_LEN 12 /* struct virtio_net_hdr_v1 (with num_buffers) */
#define MAX_IOV 64

int net_port_open_tap(struct net_port *p, const char *ifname, char *err, size_t errlen)
{
	struct ifreq ifr;
	unsigned features = 0;
	int hdr = VNET_HDR_LEN, le = 1;

	memset(p, 0, sizeof(*p));
	p->kind = NET_PORT_TAP;
	if (strlen(ifname) >= IFNAMSIZ) {
		snprintf(err, errlen, "tap %s: interface name too long", ifname);
		return -1;
	}
	p->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (p->fd < 0) {
		snprintf(err, errlen, "/dev/net/tun: %s", strerror(errno));
		return -1;
	}
	if (ioctl(p->fd, TUNGETFEATURES, &features) != 0 || !(features & IFF_VNET_HDR)) {
		snprintf(err, errlen, "tap %s: the kernel has no IFF_VNET_HDR", ifname);
		goto fail;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(p->fd, TUNSETIFF, &ifr) != 0) {
		snprintf(err, errlen, "tap %s: TUNSETIFF: %s", ifname, strerror(errno));
		goto fail;
	}
	if (ioctl(p->fd, TUNSETVNETHDRSZ, &hdr) != 0) {
		snprintf(err, errlen, "tap %s: TUNSETVNETHDRSZ: %s", ifname, strerror(errno));
		goto fail;
	}
	/* virtio 1.x headers are little-endian whatever the host. */
	(void)ioctl(p->fd, TUNSETVNETLE, &le);
	snprintf(p->name, sizeof(p->name), "tap %s", ifr.ifr_name);
	p->offloads = VDEV_NET_OFFLOAD_MASK;
	net_port_set_guest_offloads(p, 0);
	return 0;
fail:
	close(p->fd);
	p->fd = -1;
	return -1;
}

int net_port_open_packet(struct net_port *p, const char *ifname, char *err, size_t errlen)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	struct packet_mreq mr = {.mr_type = PACKET_MR_PROMISC};
	int one = 1;
	unsigned idx;

	memset(p, 0, sizeof(*p));
	p->kind = NET_PORT_PACKET;
	idx = if_nametoindex(ifname);
	if (idx == 0) {
		snprintf(err, errlen, "interface %s: %s", ifname, strerror(errno));
		return -1;
	}
	p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (p->fd < 0) {
		snprintf(err, errlen, "AF_PACKET socket: %s", strerror(errno));
		return -1;
	}
	sll.sll_ifindex = (int)idx;
	mr.mr_ifindex = (int)idx;
	if (bind(p->fd, (struct sockaddr *)&sll, sizeof(sll)) != 0 ||
	    setsockopt(p->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) != 0) {
		snprintf(err, errlen, "AF_PACKET on %s: %s", ifname, strerror(errno));
		close(p->fd);
		p->fd = -1;
		return -1;
	}
	/* Our own transmissions are not received back. */
	(void)setsockopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	snprintf(p->name, sizeof(p->name), "host interface %s", ifname);
	return 0;
}

int net_port_open_switch(struct net_port *p, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(p, 0, sizeof(*p));
	p->kind = NET_PORT_SWITCH;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "switch %s: path too long", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	p->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (p->fd < 0 || connect(p->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(err, errlen, "switch %s: %s", path, strerror(errno));
		if (p->fd >= 0)
			close(p->fd);
		p->fd = -1;
		return -1;
	}
	(void)fcntl(p->fd, F_SETFL, O_NONBLOCK);
	snprintf(p->name, sizeof(p->name), "switch %s", path);
	return 0;
}

void net_port_close(struct net_port *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static void hdr_put(uint8_t *raw, const struct vdev_net_hdr *h)
{
	memset(raw, 0, VNET_HDR_LEN);
	if (h == NULL)
		return;
	raw[0] = h->flags;
	raw[1] = h->gso_type;
	raw[2] = (uint8_t)h->hdr_len, raw[3] = (uint8_t)(h->hdr_len >> 8);
	raw[4] = (uint8_t)h->gso_size, raw[5] = (uint8_t)(h->gso_size >> 8);
	raw[6] = (uint8_t)h->csum_start, raw[7] = (uint8_t)(h->csum_start >> 8);
	raw[8] = (uint8_t)h->csum_offset, raw[9] = (uint8_t)(h->csum_offset >> 8);
}

static void hdr_get(const uint8_t *raw, struct vdev_net_hdr *h)
{
	h->flags = raw[0];
	h->gso_type = raw[1];
	h->hdr_len = (uint16_t)(raw[2] | raw[3] << 8);
	h->gso_size = (uint16_t)(raw[4] | raw[5] << 8);
	h->csum_start = (uint16_t)(raw[6] | raw[7] << 8);
	h->csum_offset = (uint16_t)(raw[8] | raw[9] << 8);
	h->num_buffers = 0;
}

int net_port_send(struct net_port *p, const struct vdev_net_hdr *hdr,
		  const struct vdev_iov *iov, unsigned n)
{
	struct iovec v[MAX_IOV + 1];
	uint8_t raw[VNET_HDR_LEN];
	unsigned k = 0;
	struct msghdr msg = {.msg_iov = v};

	if (n > MAX_IOV) {
		p->tx_dropped++;
		return -1;
	}
	if (p->kind == NET_PORT_TAP) {
		hdr_put(raw, hdr);
		v[k++] = (struct iovec){raw, VNET_HDR_LEN};
	}
	for (unsigned i = 0; i < n; i++)
		v[k++] = (struct iovec){iov[i].base, iov[i].len};
	msg.msg_iovlen = k;
	for (int attempt = 0; attempt < 2; attempt++) {
		ssize_t w = p->kind == NET_PORT_TAP ? writev(p->fd, v, (int)k)
						     : sendmsg(p->fd, &msg, MSG_NOSIGNAL);
		if (w >= 0) {
			p->tx_frames++;
			return 0;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
			break;
		/* full: wait a little for room, like a NIC's short queue */
		struct pollfd pf = {.fd = p->fd, .events = POLLOUT};
		(void)poll(&pf, 1, 20);
	}
	p->tx_dropped++;
	return -1;
}

ssize_t net_port_recv(struct net_port *p, struct vdev_net_hdr *hdr, uint8_t *buf, size_t cap)
{
	uint8_t raw[VNET_HDR_LEN];
	struct iovec v[2] = {{raw, VNET_HDR_LEN}, {buf, cap}};
	ssize_t r;

	memset(hdr, 0, sizeof(*hdr));
	if (p->kind == NET_PORT_TAP)
		r = readv(p->fd, v, 2);
	else
		r = recv(p->fd, buf, cap, MSG_TRUNC);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	if (p->kind == NET_PORT_TAP) {
		if (r < VNET_HDR_LEN)
			return 0; /* nothing usable */
		hdr_get(raw, hdr);
		r -= VNET_HDR_LEN;
	} else if (r == 0 && p->kind == NET_PORT_SWITCH) {
		return -1; /* the switch went away */
	}
	if ((size_t)r > cap)
		return 0; /* truncated: drop */
	p->rx_frames++;
	return r;
}

void net_port_set_guest_offloads(struct net_port *p, uint64_t f)
{
	unsigned t = 0;

	if (p->kind != NET_PORT_TAP)
		return;
	if (f & VDEV_BIT(VDEV_NET_F_GUEST_CSUM)) {
		t |= TUN_F_CSUM;
		if (f & VDEV_BIT(VDEV_NET_F_GUEST_TSO4))
			t |= TUN_F_TSO4;
		if (f & VDEV_BIT(VDEV_NET_F_GUEST_TSO6))
			t |= TUN_F_TSO6;
		if ((f & VDEV_BIT(VDEV_NET_F_GUEST_ECN)) && (t & (TUN_F_TSO4 | TUN_F_TSO6)))
			t |= TUN_F_TSO_ECN;
		if (f & VDEV_BIT(VDEV_NET_F_GUEST_UFO))
			t |= TUN_F_UFO;
	}
	if (ioctl(p->fd, TUNSETOFFLOAD, (unsigned long)t) != 0 && (t & TUN_F_UFO))
		(void)ioctl(p->fd, TUNSETOFFLOAD, (unsigned long)(t & ~(unsigned)TUN_F_UFO));
}
