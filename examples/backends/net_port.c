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
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#ifdef VDEV_HAVE_LIBURING
#include <liburing.h>
#include <stdlib.h>
#endif

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

/* A bound, promiscuous AF_PACKET socket on ifname (no rings yet). */
static int packet_socket(struct net_port *p, const char *ifname, char *err, size_t errlen)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	struct packet_mreq mr = {.mr_type = PACKET_MR_PROMISC};
	int one = 1;
	unsigned idx;

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
	/* Our own transmissions are not received back; VLAN tags the kernel
	 * takes off come with the frame (PACKET_AUXDATA) and are put back. */
	(void)setsockopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	(void)setsockopt(p->fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one));
	return 0;
}

#define RING_RX_BYTES (2u << 20)
#define RING_TX_BYTES (1u << 20)
#define RING_BLOCK (64u << 10)
/* TPACKET_ALIGN and TPACKET2_HDRLEN, in unsigned arithmetic */
#define ALIGN16(x) (((x) + 15u) & ~(size_t)15u)
#define T2_HDRLEN (ALIGN16(sizeof(struct tpacket2_hdr)) + sizeof(struct sockaddr_ll))
#define TX_DATA_OFF ALIGN16(sizeof(struct tpacket2_hdr)) /* without PACKET_TX_HAS_OFF */

/* TPACKET_V2 receive and transmit rings, mapped. Returns 0 or an errno
 * with what failed in *what. */
static int packet_rings(struct net_port *p, size_t max_frame, const char **what)
{
	int v = TPACKET_V2, one = 1;
	size_t need = ALIGN16(T2_HDRLEN + 16u) + max_frame + 4u; /* + a VLAN tag */
	unsigned fs = 2048;
	struct tpacket_req rx, tx;

	while (fs < need)
		fs <<= 1;
	if (fs > RING_BLOCK) {
		*what = "frames larger than a ring block";
		return EMSGSIZE;
	}
	/* at least 256 slots each way, whatever the frame size */
	size_t rxb = RING_RX_BYTES / fs >= 256 ? RING_RX_BYTES : (size_t)fs * 256u;
	size_t txb = RING_TX_BYTES / fs >= 256 ? RING_TX_BYTES : (size_t)fs * 256u;
	rx = (struct tpacket_req){RING_BLOCK, (unsigned)(rxb / RING_BLOCK), fs, (unsigned)(rxb / fs)};
	tx = (struct tpacket_req){RING_BLOCK, (unsigned)(txb / RING_BLOCK), fs, (unsigned)(txb / fs)};
	if (setsockopt(p->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) != 0) {
		*what = "PACKET_VERSION TPACKET_V2";
		return errno;
	}
	/* A frame the kernel refuses (larger than the interface's MTU) is
	 * skipped, not left to stop the transmit ring (before the rings). */
	if (setsockopt(p->fd, SOL_PACKET, PACKET_LOSS, &one, sizeof(one)) != 0) {
		*what = "PACKET_LOSS";
		return errno;
	}
	if (setsockopt(p->fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof(rx)) != 0) {
		*what = "PACKET_RX_RING";
		return errno;
	}
	if (setsockopt(p->fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof(tx)) != 0) {
		*what = "PACKET_TX_RING";
		return errno;
	}
	p->ring_len = rxb + txb;
	void *m = mmap(NULL, p->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, p->fd,
		       0);
	if (m == MAP_FAILED) {
		*what = "mmap of the rings";
		return errno;
	}
	p->ring = m;
	p->frame_size = fs;
	p->rx_nr = rx.tp_frame_nr;
	p->tx_nr = tx.tp_frame_nr;
	/* A dedicated interface: its frames skip the qdisc (a kernel without
	 * it just queues them). */
	(void)setsockopt(p->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));

	return 0;
}

int net_port_open_packet(struct net_port *p, const char *ifname, size_t max_frame, bool rings,
			 char *err, size_t errlen)
{
	const char *what = "";
	int e;

	memset(p, 0, sizeof(*p));
	p->kind = NET_PORT_PACKET;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (packet_socket(p, ifname, err, errlen) != 0)
		return -1;
	snprintf(p->name, sizeof(p->name), "host interface %s", ifname);
	if (!rings)
		goto no_rings;
	e = packet_rings(p, max_frame, &what);
	if (e == 0) {
		snprintf(p->name, sizeof(p->name), "host interface %s (rings)", ifname);
		return 0;
	}
	/* A socket with half its rings set up cannot go back: a fresh one. */
	snprintf(err, errlen,
		 "AF_PACKET rings on %s: %s: %s; using one system call per frame instead",
		 ifname, what, strerror(e));
	close(p->fd);
	p->fd = -1;
	char e2[128];
	if (packet_socket(p, ifname, e2, sizeof(e2)) != 0) {
		snprintf(err, errlen, "%s", e2);
		return -1;
	}
no_rings:;
	/* Frames wait in the socket while the guest has no buffers: room
	 * for a few hundred (the limit, without CAP_NET_ADMIN). */
	int rcv = 4 << 20;
	if (setsockopt(p->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) != 0)
		(void)setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
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

/* ---- TAP writes batched through io_uring ---- */

#define TAP_SLOTS 256u
#define TAP_SLOT 2048u

#ifdef VDEV_HAVE_LIBURING
struct tap_uring {
	struct io_uring ring;
	uint8_t *buf; /* TAP_SLOTS slots of TAP_SLOT bytes */
	unsigned queued;
};

int net_port_tap_batch(struct net_port *p, char *err, size_t errlen)
{
	struct tap_uring *u = calloc(1, sizeof(*u));
	int rc;

	if (p->kind != NET_PORT_TAP || u == NULL) {
		snprintf(err, errlen, "batched writes: %s",
			 u == NULL ? "out of memory" : "not a TAP port");
		free(u);
		return -1;
	}
	u->buf = malloc((size_t)TAP_SLOTS * TAP_SLOT);
	rc = u->buf == NULL ? -ENOMEM : io_uring_queue_init(TAP_SLOTS, &u->ring, 0);
	if (rc < 0) {
		snprintf(err, errlen, "%s: io_uring: %s; one write per frame", p->name,
			 strerror(-rc));
		free(u->buf);
		free(u);
		return -1;
	}
	p->tap_uring = u;
	return 0;
}

/* Write the queued frames: one submission, and wait for them all (a TAP
 * takes a write at once), so every slot is free again. */
static void tap_flush(struct net_port *p)
{
	struct tap_uring *u = p->tap_uring;
	struct io_uring_cqe *cqe;
	unsigned left = u->queued;

	if (left == 0)
		return;
	(void)io_uring_submit_and_wait(&u->ring, left);
	p->tx_kicks++;
	while (left > 0) {
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&u->ring, head, cqe) {
			if (cqe->res < 0) {
				p->tx_frames--;
				p->tx_dropped++;
			}
			seen++;
		}
		io_uring_cq_advance(&u->ring, seen);
		left -= seen < left ? seen : left;
		if (left > 0 && io_uring_wait_cqe(&u->ring, &cqe) != 0)
			break; /* not expected */
	}
	u->queued = 0;
}

/* Queue a frame; -1 if it does not fit a slot (write it directly). */
static int tap_queue(struct net_port *p, const uint8_t *raw, const struct vdev_iov *iov,
		     unsigned n)
{
	struct tap_uring *u = p->tap_uring;
	size_t len = VNET_HDR_LEN;
	struct io_uring_sqe *sqe;

	for (unsigned i = 0; i < n; i++)
		len += iov[i].len;
	if (len > TAP_SLOT) {
		tap_flush(p); /* keep the order */
		return -1;
	}
	if (u->queued == TAP_SLOTS)
		tap_flush(p);
	sqe = io_uring_get_sqe(&u->ring);
	if (sqe == NULL) {
		tap_flush(p);
		sqe = io_uring_get_sqe(&u->ring);
		if (sqe == NULL)
			return -1;
	}
	uint8_t *slot = u->buf + (size_t)u->queued * TAP_SLOT, *d = slot + VNET_HDR_LEN;
	memcpy(slot, raw, VNET_HDR_LEN);
	for (unsigned i = 0; i < n; i++) {
		memcpy(d, iov[i].base, iov[i].len);
		d += iov[i].len;
	}
	io_uring_prep_write(sqe, p->fd, slot, (unsigned)len, (uint64_t)-1);
	u->queued++;
	p->tx_frames++;
	return 0;
}

static void tap_batch_close(struct net_port *p)
{
	struct tap_uring *u = p->tap_uring;

	tap_flush(p);
	io_uring_queue_exit(&u->ring);
	free(u->buf);
	free(u);
	p->tap_uring = NULL;
}
#else
int net_port_tap_batch(struct net_port *p, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: batched writes need liburing (not in this build); one write "
		 "per frame", p->name);
	return -1;
}
static void tap_flush(struct net_port *p) { (void)p; }
static int tap_queue(struct net_port *p, const uint8_t *raw, const struct vdev_iov *iov,
		     unsigned n)
{
	(void)p, (void)raw, (void)iov, (void)n;
	return -1;
}
static void tap_batch_close(struct net_port *p) { (void)p; }
#endif

void net_port_close(struct net_port *p)
{
	if (p->tap_uring != NULL)
		tap_batch_close(p);
	if (p->ring != NULL)
		munmap(p->ring, p->ring_len);
	p->ring = NULL;
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

/* ---- AF_PACKET rings ---- */

static struct tpacket2_hdr *rx_slot(const struct net_port *p, unsigned i)
{
	return (struct tpacket2_hdr *)(void *)(p->ring + (size_t)i * p->frame_size);
}

static struct tpacket2_hdr *tx_slot(const struct net_port *p, unsigned i)
{
	return (struct tpacket2_hdr *)(void *)(p->ring + (size_t)(p->rx_nr + i) * p->frame_size);
}

/* The slot's status, read before anything else in it (pairs with the
 * kernel's barrier before it hands the slot over). */
static uint32_t slot_status(const struct tpacket2_hdr *h)
{
	return __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
}

/* Hand a slot over, after everything written into it. */
static void slot_give(struct tpacket2_hdr *h, uint32_t status)
{
	__atomic_store_n(&h->tp_status, status, __ATOMIC_RELEASE);
}

void net_port_flush(struct net_port *p)
{
	if (p->tap_uring != NULL)
		tap_flush(p);
	if (p->ring == NULL || p->tx_queued == 0)
		return;
	/* One call sends every slot marked SEND_REQUEST. */
	(void)sendto(p->fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
	p->tx_queued = 0;
	p->tx_kicks++;
}

static int ring_send(struct net_port *p, const struct vdev_iov *iov, unsigned n)
{
	struct tpacket2_hdr *h = tx_slot(p, p->tx_head);
	size_t len = 0, cap = p->frame_size - TX_DATA_OFF;

	for (unsigned i = 0; i < n; i++)
		len += iov[i].len;
	if (len > cap) {
		p->tx_dropped++;
		return -1;
	}
	if (slot_status(h) & TP_STATUS_WRONG_FORMAT) {
		/* refused by the kernel (PACKET_LOSS unsupported): reclaim it */
		p->tx_dropped++;
		slot_give(h, TP_STATUS_AVAILABLE);
	}
	for (int attempt = 0; slot_status(h) != TP_STATUS_AVAILABLE; attempt++) {
		/* full: send what is queued, wait a little for the kernel,
		 * like a NIC's short queue, then drop */
		if (attempt == 2) {
			p->tx_dropped++;
			return -1;
		}
		net_port_flush(p);
		if (slot_status(h) == TP_STATUS_AVAILABLE)
			break;
		struct pollfd pf = {.fd = p->fd, .events = POLLOUT};
		(void)poll(&pf, 1, 20);
	}
	uint8_t *d = (uint8_t *)h + TX_DATA_OFF;
	for (unsigned i = 0; i < n; i++) {
		memcpy(d, iov[i].base, iov[i].len);
		d += iov[i].len;
	}
	h->tp_len = (uint32_t)len;
	slot_give(h, TP_STATUS_SEND_REQUEST);
	p->tx_head = p->tx_head + 1 == p->tx_nr ? 0 : p->tx_head + 1;
	p->tx_frames++;
	/* a long batch goes out in parts, so the ring never waits for it */
	if (++p->tx_queued >= p->tx_nr / 2)
		net_port_flush(p);
	return 0;
}

/* Put back the 802.1Q/802.1ad tag the kernel took off into the slot's
 * header: the MAC addresses move 4 bytes into the headroom in front of
 * the frame. Done once (the VLAN flag is cleared). */
static void vlan_restore(struct tpacket2_hdr *h, uint32_t st)
{
	uint16_t tpid = (st & TP_STATUS_VLAN_TPID_VALID) && h->tp_vlan_tpid ? h->tp_vlan_tpid
									     : ETH_P_8021Q;
	uint8_t *f = (uint8_t *)h + h->tp_mac;

	memmove(f - 4, f, 12);
	f[8] = (uint8_t)(tpid >> 8), f[9] = (uint8_t)tpid;
	f[10] = (uint8_t)(h->tp_vlan_tci >> 8), f[11] = (uint8_t)h->tp_vlan_tci;
	h->tp_mac = (uint16_t)(h->tp_mac - 4);
	h->tp_len += 4;
	h->tp_snaplen += 4;
	h->tp_status = st & ~(uint32_t)TP_STATUS_VLAN_VALID;
}

#define SLOT_BAD (1u << 31) /* ours, in a slot we hold: it did not fit; counted */

/* Do the kernel's offsets describe a whole frame inside the slot, with
 * room in front for a VLAN tag? */
static bool slot_fits(const struct net_port *p, const struct tpacket2_hdr *h)
{
	return h->tp_mac >= T2_HDRLEN + 4u && h->tp_snaplen >= 14 &&
	       h->tp_snaplen == h->tp_len &&
	       (size_t)h->tp_mac + h->tp_snaplen + 4u <= p->frame_size;
}

size_t net_port_rx_peek(struct net_port *p, unsigned i, const uint8_t **data)
{
	struct tpacket2_hdr *h;
	uint32_t st;

	*data = NULL;
	if (i >= p->rx_nr)
		return 0;
	h = rx_slot(p, (p->rx_head + i) % p->rx_nr);
	st = slot_status(h);
	if (!(st & TP_STATUS_USER))
		return 0;
	if (!(st & SLOT_BAD) && !slot_fits(p, h)) {
		p->rx_truncated++;
		st |= SLOT_BAD;
		h->tp_status = st;
	}
	if (st & SLOT_BAD)
		return h->tp_len > 0 ? h->tp_len : 1;
	if (st & TP_STATUS_VLAN_VALID)
		vlan_restore(h, st);
	*data = (const uint8_t *)h + h->tp_mac;
	return h->tp_snaplen;
}

void net_port_rx_release(struct net_port *p, unsigned n)
{
	for (; n > 0; n--) {
		struct tpacket2_hdr *h = rx_slot(p, p->rx_head);
		if (!(h->tp_status & SLOT_BAD))
			p->rx_frames++;
		slot_give(h, TP_STATUS_KERNEL);
		p->rx_head = p->rx_head + 1 == p->rx_nr ? 0 : p->rx_head + 1;
	}
}

int net_port_send(struct net_port *p, const struct vdev_net_hdr *hdr,
		  const struct vdev_iov *iov, unsigned n)
{
	struct iovec v[MAX_IOV + 1];
	uint8_t raw[VNET_HDR_LEN];
	unsigned k = 0;
	struct msghdr msg = {.msg_iov = v};

	if (p->ring != NULL)
		return ring_send(p, iov, n);
	if (n > MAX_IOV) {
		p->tx_dropped++;
		return -1;
	}
	if (p->kind == NET_PORT_TAP) {
		hdr_put(raw, hdr);
		if (p->tap_uring != NULL && tap_queue(p, raw, iov, n) == 0)
			return 0;
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

/* One frame from a PACKET socket without rings, its VLAN tag put back
 * from the auxiliary data. */
static ssize_t packet_recv(struct net_port *p, uint8_t *buf, size_t cap)
{
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	} ctl;
	struct iovec v = {buf + 4, cap > 4 ? cap - 4 : 0};
	struct msghdr msg = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b)};
	ssize_t r;

	if (cap < 18)
		return 0;
	/* read 4 bytes in, so a tag can go in front of the type in place */
	r = recvmsg(p->fd, &msg, MSG_TRUNC);
	if (r < 0)
		return r;
	if (r > (ssize_t)v.iov_len || r < 14) {
		errno = EMSGSIZE;
		return (ssize_t)cap + 1; /* truncated: the caller drops it */
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		struct tpacket_auxdata aux;
		if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA ||
		    c->cmsg_len < CMSG_LEN(sizeof(aux)))
			continue;
		memcpy(&aux, CMSG_DATA(c), sizeof(aux));
		if (!(aux.tp_status & TP_STATUS_VLAN_VALID))
			continue;
		uint16_t tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) && aux.tp_vlan_tpid
					? aux.tp_vlan_tpid : ETH_P_8021Q;
		memmove(buf, buf + 4, 12);
		buf[12] = (uint8_t)(tpid >> 8), buf[13] = (uint8_t)tpid;
		buf[14] = (uint8_t)(aux.tp_vlan_tci >> 8), buf[15] = (uint8_t)aux.tp_vlan_tci;
		return r + 4;
	}
	memmove(buf, buf + 4, (size_t)r);
	return r;
}

ssize_t net_port_recv(struct net_port *p, struct vdev_net_hdr *hdr, uint8_t *buf, size_t cap)
{
	uint8_t raw[VNET_HDR_LEN];
	struct iovec v[2] = {{raw, VNET_HDR_LEN}, {buf, cap}};
	ssize_t r;

	memset(hdr, 0, sizeof(*hdr));
	if (p->ring != NULL) {
		const uint8_t *d;
		size_t len;
		while ((len = net_port_rx_peek(p, 0, &d)) > 0 && (d == NULL || len > cap))
			net_port_rx_release(p, 1); /* did not fit: dropped */
		if (len == 0)
			return 0;
		memcpy(buf, d, len);
		net_port_rx_release(p, 1);
		return (ssize_t)len;
	}
	if (p->kind == NET_PORT_TAP)
		r = readv(p->fd, v, 2);
	else if (p->kind == NET_PORT_PACKET)
		r = packet_recv(p, buf, cap);
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
