/* SPDX-License-Identifier: MIT */
/*
 * vhost-user-net: libvdev's virtio-net device model as a vhost-user
 * back-end daemon. The whole device is ours (config space, control queue,
 * data queues), so attach it to QEMU as a generic vhost-user device:
 *
 *   vhost-user-net --socket-path=/tmp/net.sock --tap=vdevtap0 --mac=52:54:00:12:34:56
 *   qemu-system-x86_64 ... -object memory-backend-memfd,id=mem,size=1G,share=on \
 *     -machine memory-backend=mem -chardev socket,id=c0,path=/tmp/net.sock \
 *     -device vhost-user-device-pci,chardev=c0,virtio-id=1,num_vqs=3,config_size=24
 *
 * (num_vqs = 2 * queue pairs + 1.) QEMU 10 does not let the command line
 * create that device; Linux's user-mode kernel (package user-mode-linux)
 * takes the whole device the same way:
 *
 *   linux.uml mem=256M initrd=... virtio_uml.device=/tmp/net.sock:1
 *
 * (UML's rings have 256 entries: keep --queue-size at 256 or more.) Frames go to a TAP interface (--tap;
 * each transmit batch written with one io_uring submission, --tap-writev
 * for one writev per frame),
 * a dedicated host interface (--packet, AF_PACKET through mapped TPACKET
 * rings: a batch of transmitted frames costs one system call, received
 * ones none; --no-packet-rings for one call per frame), or the inter-VM switch
 * (--switch=PATH of a running vdev-switch). The MAC is --mac, or derived
 * from the socket path so it stays the same across restarts. The host's
 * policy: --deny-mac-change refuses the guest's MAC_ADDR_SET,
 * --deny-promisc its promiscuous / all-unicast modes.
 * SIGUSR1 toggles the link (a configuration change to the driver).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_port.h"
#include "pcidev.h"
#include "vdev/net.h"
#include "vdev/vhost_user.h"
#include "vu_daemon.h"

#define PROG "vhost-user-net"

#define MAX_PAIRS 16
#define IOV_PER_CHAIN 64 /* guest buffer segments per chain */

struct options {
	struct vu_daemon_opts com; /* --socket-path, --fd, --queue-size, ... */
	const char *tap, *packet, *sw;
	uint8_t mac[6];
	bool have_mac, deny_mac, deny_promisc, link_down, no_rings, tap_writev;
	unsigned pairs, mtu, rx_bufs;
};

static struct {
	struct options o;
	struct net_port port;
	struct vdev_mem mem;
	struct vdev_net net;
	struct vdev_vq *queues;
	uint64_t *queue_held;
	struct vdev_vq_elem *elems;
	struct vdev_iov *iovs;
	struct vdev_iov *tx_iovs; /* transmit batches (default batch size) */
	struct vdev_vq_elem *tx_elems; /* the batches' elements */
	struct pcidev bus; /* --pcidev */
	int link_fd;       /* SIGUSR1 */
	struct vdev_vhost_user *vu;
	/* a received frame the guest had no room for yet */
	uint8_t *frame;
	size_t pending;
	struct vdev_net_hdr pending_hdr;
	bool paused;
	uint64_t rx_dropped;
} D = {.o = {.pairs = 1, .mtu = 1500, .rx_bufs = 64}};

#define STR_(x) #x
#define STR(x) STR_(x)

static const struct vu_daemon_spec SPEC = {
	.prog = PROG,
	.synopsis =
		"usage: vhost-user-net (--socket-path=PATH | --fd=N)\n"
		"                      (--tap=IFNAME | --packet=IFNAME | --switch=PATH) [options]\n",
	.help =
		"  --tap=IFNAME           a TAP interface (created if missing), offloads on\n"
		"  --packet=IFNAME        give this host interface to the guest (AF_PACKET)\n"
		"  --no-packet-rings      --packet with one system call per frame instead of\n"
		"                         mapped TPACKET_V2 rings\n"
		"  --tap-writev           --tap with one writev per frame instead of one\n"
		"                         io_uring submission per transmit batch\n"
		"  --switch=PATH          a port on the vdev-switch listening at PATH\n"
		"  --mac=XX:XX:XX:XX:XX:XX the guest's MAC (default: derived from the socket path)\n"
		"  --mtu=N                68..65535 (default 1500)\n"
		"  --queue-pairs=N        1.." STR(MAX_PAIRS) " (default 1)\n"
		"  --rx-bufs=N            most receive buffers per frame, 1..4096 (default 64)\n"
		"  --deny-mac-change      refuse the guest's own MAC address changes\n"
		"  --deny-promisc         refuse promiscuous and all-unicast receive\n"
		"  --link-down            start with the link down\n",
	.type = "net",
	.flags = VU_DAEMON_NO_PACKED | VU_DAEMON_PCIDEV,
	.queue_size = 256,
};

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	if (mac[0] & 1)
		return -1; /* multicast */
	return (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) ? 0 : -1;
}

/* An option's number, lo..hi (vu_daemon_u32 says what is wrong). */
static int num(const char *opt, const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	return vu_daemon_u32(PROG, opt, s, lo, hi, out);
}

static int parse(int argc, char **argv, struct options *o)
{
	enum { O_TAP = 1, O_PACKET, O_SWITCH, O_MAC, O_MTU, O_PAIRS, O_RXB, O_DENY_MAC,
	       O_DENY_PROMISC, O_LINK_DOWN, O_NO_RINGS, O_TAP_WRITEV };
	static const struct option own[] = {
		{"tap", required_argument, NULL, O_TAP},
		{"packet", required_argument, NULL, O_PACKET},
		{"no-packet-rings", no_argument, NULL, O_NO_RINGS},
		{"tap-writev", no_argument, NULL, O_TAP_WRITEV},
		{"switch", required_argument, NULL, O_SWITCH},
		{"mac", required_argument, NULL, O_MAC},
		{"mtu", required_argument, NULL, O_MTU},
		{"queue-pairs", required_argument, NULL, O_PAIRS},
		{"rx-bufs", required_argument, NULL, O_RXB},
		{"deny-mac-change", no_argument, NULL, O_DENY_MAC},
		{"deny-promisc", no_argument, NULL, O_DENY_PROMISC},
		{"link-down", no_argument, NULL, O_LINK_DOWN},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = vu_daemon_getopt(&SPEC, &o->com, argc, argv, own)) > 0) {
		switch (c) {
		case O_TAP: o->tap = optarg; break;
		case O_PACKET: o->packet = optarg; break;
		case O_NO_RINGS: o->no_rings = true; break;
		case O_TAP_WRITEV: o->tap_writev = true; break;
		case O_SWITCH: o->sw = optarg; break;
		case O_MAC:
			if (parse_mac(optarg, o->mac) != 0) {
				fprintf(stderr, "vhost-user-net: --mac=%s: expected a unicast "
						"XX:XX:XX:XX:XX:XX\n", optarg);
				return -1;
			}
			o->have_mac = true;
			break;
		case O_MTU:
			if (num("mtu", optarg, 68, 65535, &o->mtu) != 0)
				return -1;
			break;
		case O_PAIRS:
			if (num("queue-pairs", optarg, 1, MAX_PAIRS, &o->pairs) != 0)
				return -1;
			break;
		case O_RXB:
			if (num("rx-bufs", optarg, 1, 4096, &o->rx_bufs) != 0)
				return -1;
			break;
		case O_DENY_MAC: o->deny_mac = true; break;
		case O_DENY_PROMISC: o->deny_promisc = true; break;
		case O_LINK_DOWN: o->link_down = true; break;
		}
	}
	if (c < 0)
		return -1;
	if ((o->tap != NULL) + (o->packet != NULL) + (o->sw != NULL) != 1) {
		fprintf(stderr, "vhost-user-net: give exactly one of --tap, --packet and --switch\n");
		return -1;
	}
	if (!o->have_mac) {
		/* Stable across restarts: a locally administered MAC from the path. */
		const char *s = o->com.socket_path ? o->com.socket_path : "fd";
		uint32_t h = 2166136261u;
		for (; *s; s++)
			h = (h ^ (uint8_t)*s) * 16777619u;
		uint8_t m[6] = {0x52, 0x54, 0x00, (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h};
		memcpy(o->mac, m, 6);
	}
	return 0;
}

/* ---- the packet path ---- */

static int d_transmit(void *opaque, uint16_t pair, const struct vdev_net_hdr *hdr,
		      const struct vdev_iov *iov, unsigned n, size_t len)
{
	(void)opaque, (void)pair, (void)len;
	(void)net_port_send(&D.port, hdr, iov, n); /* a full port drops, like a NIC */
	return 0;
}

/* The end of a transmit pass: a ring port sends its batch. */
static void d_transmit_flush(void *opaque, uint16_t pair)
{
	(void)opaque, (void)pair;
	net_port_flush(&D.port);
}

/* The receive ring: frames go to the guest straight from their slots, up
 * to RX_BATCH per vdev_net_receive_batch() (one publish and notification). */
#define RX_BATCH 32
static void drain_ring(void)
{
	struct vdev_net_frame fr[RX_BATCH];
	struct vdev_iov seg[RX_BATCH];
	int res[RX_BATCH];

	for (int budget = 0; budget < 8; budget++) {
		unsigned n = 0;
		const uint8_t *f;
		size_t len;

		/* frames that did not fit a slot lead the batch: drop them */
		while ((len = net_port_rx_peek(&D.port, 0, &f)) > 0 && f == NULL) {
			D.rx_dropped++;
			net_port_rx_release(&D.port, 1);
		}
		/* then whole frames, up to the next one that did not fit */
		while (n < RX_BATCH && (len = net_port_rx_peek(&D.port, n, &f)) > 0 && f != NULL) {
			seg[n] = (struct vdev_iov){(void *)(uintptr_t)f, len};
			fr[n] = (struct vdev_net_frame){NULL, &seg[n], 1, len};
			n++;
		}
		if (n == 0)
			break;
		int rc = vdev_net_receive_batch(&D.net, 0, fr, n, res);
		if (rc == VDEV_EAGAIN) {
			/* the frames stay in their slots; rx_ready resumes us */
			if (!D.paused && vdev_vhost_user_watch_fd(D.vu, D.port.fd, false) == 0)
				D.paused = true;
			return;
		}
		unsigned done = rc > 0 ? (unsigned)rc : n; /* not running: all dropped */
		for (unsigned i = 0; i < done; i++)
			if (rc <= 0 || res[i] != 0)
				D.rx_dropped++; /* filtered, too big, or no guest running */
		/* a batch cut short (no room left) goes on with the next call,
		 * which answers VDEV_EAGAIN (pause) or drops (queue gone) */
		net_port_rx_release(&D.port, done);
	}
	if (D.paused && vdev_vhost_user_watch_fd(D.vu, D.port.fd, true) == 0)
		D.paused = false;
}

/* Deliver what the port has; stop reading while the guest has no room. */
static void drain_port(void)
{
	if (D.port.ring != NULL) {
		drain_ring();
		return;
	}
	for (int budget = 0; budget < 256; budget++) {
		if (D.pending == 0) {
			ssize_t r = net_port_recv(&D.port, &D.pending_hdr, D.frame, VDEV_NET_MAX_FRAME);
			if (r <= 0) {
				if (r < 0 && D.port.kind == NET_PORT_SWITCH) {
					fprintf(stderr, "vhost-user-net: the switch closed the port\n");
					vdev_vhost_user_stop(D.vu);
				}
				break;
			}
			D.pending = (size_t)r;
		}
		struct vdev_iov v = {D.frame, D.pending};
		int rc = vdev_net_receive(&D.net, 0, &D.pending_hdr, &v, 1, D.pending);
		if (rc == VDEV_EAGAIN) {
			/* keep it; rx_ready resumes us when buffers arrive */
			if (!D.paused && vdev_vhost_user_watch_fd(D.vu, D.port.fd, false) == 0)
				D.paused = true;
			return;
		}
		if (rc != 0)
			D.rx_dropped++; /* filtered, too big, or no guest running */
		D.pending = 0;
	}
	if (D.paused && vdev_vhost_user_watch_fd(D.vu, D.port.fd, true) == 0)
		D.paused = false;
}

static void on_port(void *opaque, int fd)
{
	(void)opaque, (void)fd;
	drain_port();
}

static void d_rx_ready(void *opaque, uint16_t pair)
{
	(void)opaque, (void)pair;
	drain_port();
}

static bool d_allow_mac(void *opaque, const uint8_t mac[6])
{
	(void)opaque;
	if (!D.o.com.quiet || D.o.com.stats)
		fprintf(stderr, "vhost-user-net: guest asks for MAC %02x:%02x:%02x:%02x:%02x:%02x: %s\n",
			mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
			D.o.deny_mac ? "denied" : "allowed");
	return !D.o.deny_mac;
}

static bool d_allow_promisc(void *opaque)
{
	(void)opaque;
	return !D.o.deny_promisc;
}

static void d_offloads(void *opaque, uint64_t f)
{
	(void)opaque;
	net_port_set_guest_offloads(&D.port, f);
}

static const struct vdev_net_backend_ops d_ops = {
	.size = sizeof(struct vdev_net_backend_ops),
	.transmit = d_transmit,
	.rx_ready = d_rx_ready,
	.allow_mac_change = d_allow_mac,
	.allow_promisc = d_allow_promisc,
	.set_guest_offloads = d_offloads,
	.transmit_flush = d_transmit_flush,
};

/* SIGUSR1: the operator pulls the cable, or plugs it back in. */
static void on_link(void *opaque, int fd)
{
	(void)opaque;
	for (unsigned n = vu_daemon_signal_take(fd); n > 0; n--)
		D.o.link_down = !D.o.link_down;
	vdev_net_set_link(&D.net, !D.o.link_down);
	fprintf(stderr, "vhost-user-net: link %s\n", D.o.link_down ? "down" : "up");
}

int main(int argc, char **argv)
{
	char eb[256];
	int err;

	if (parse(argc, argv, &D.o) != 0)
		return 2;
	eb[0] = '\0';
	if ((D.o.tap ? net_port_open_tap(&D.port, D.o.tap, eb, sizeof(eb))
	     : D.o.packet ? net_port_open_packet(&D.port, D.o.packet, (size_t)D.o.mtu + 18u,
						 !D.o.no_rings, eb, sizeof(eb))
			  : net_port_open_switch(&D.port, D.o.sw, eb, sizeof(eb))) != 0) {
		fprintf(stderr, "vhost-user-net: %s\n", eb);
		return 1;
	}
	if (eb[0] != '\0')
		fprintf(stderr, "vhost-user-net: warning: %s\n", eb);
	if (D.o.tap && !D.o.tap_writev && net_port_tap_batch(&D.port, eb, sizeof(eb)) != 0)
		fprintf(stderr, "vhost-user-net: warning: %s\n", eb);
	D.link_fd = vu_daemon_signal_fd(SIGUSR1); /* before any thread */
	unsigned nq = 2 * D.o.pairs + 1;
	D.queues = calloc(nq, sizeof(*D.queues));
	D.queue_held =
		calloc((size_t)nq * VDEV_VQ_HELD_WORDS(D.o.com.queue_size), sizeof(*D.queue_held));
	D.elems = calloc((size_t)D.o.pairs * D.o.rx_bufs, sizeof(*D.elems));
	D.iovs = calloc(((size_t)D.o.pairs * (D.o.rx_bufs + 1) + 1) * IOV_PER_CHAIN,
			 sizeof(*D.iovs));
	D.tx_iovs = calloc((size_t)D.o.pairs * VDEV_NET_TX_BATCH_DEFAULT * IOV_PER_CHAIN,
			   sizeof(*D.tx_iovs));
	D.tx_elems = calloc((size_t)D.o.pairs * VDEV_NET_TX_BATCH_DEFAULT, sizeof(*D.tx_elems));
	D.frame = malloc(VDEV_NET_MAX_FRAME);
	if (D.queues == NULL || D.queue_held == NULL || D.elems == NULL || D.iovs == NULL ||
	    D.tx_iovs == NULL || D.tx_elems == NULL || D.frame == NULL) {
		fprintf(stderr, "vhost-user-net: out of memory\n");
		return 1;
	}
	vdev_mem_init(&D.mem, NULL, 0);
	struct vdev_net_config c = {
		.mtu = (uint16_t)D.o.mtu,
		.max_pairs = (uint16_t)D.o.pairs,
		.queue_size = D.o.com.queue_size,
		.link_up = !D.o.link_down,
		.ring_features = D.o.com.no_packed ? VDEV_BIT(VDEV_F_INDIRECT_DESC) |
							 VDEV_BIT(VDEV_F_EVENT_IDX) |
							 VDEV_BIT(VDEV_F_RING_RESET)
					       : 0,
		.speed = 10000,
		.duplex = 1,
		.offloads = D.port.offloads,
		.mem = &D.mem,
		.queues = D.queues,
		.queue_held = D.queue_held,
		.elems = D.elems,
		.iovs = D.iovs,
		.rx_bufs = D.o.rx_bufs,
		.iov_per_chain = IOV_PER_CHAIN,
		.backend = &d_ops,
		.tx_iovs = D.tx_iovs, /* tx_batch 0: VDEV_NET_TX_BATCH_DEFAULT */
		.tx_elems = D.tx_elems,
	};
	memcpy(c.mac, D.o.mac, 6);
	if ((err = vdev_net_init(&D.net, &c)) != 0) {
		fprintf(stderr, "vhost-user-net: cannot set up the device: %s\n", vdev_strerror(err));
		return 1;
	}
	struct vdev_dev *front =
		pcidev_daemon_front(PROG, &D.o.com.pcidev, &D.bus, vdev_net_dev(&D.net), &D.mem);
	if (front == NULL)
		return 1;
	struct vdev_vhost_user_config vc = {
		.socket_path = D.o.com.socket_path,
		.listen_fd = D.o.com.fd,
		.dev = front,
		.mem = &D.mem,
	};
	D.vu = vdev_vhost_user_create(&vc, &err, eb, sizeof(eb));
	if (D.vu == NULL) {
		fprintf(stderr, "vhost-user-net: %s\n", eb);
		return 1;
	}
	/* Received frames are delivered from the loop of receive queue 0. */
	if (vdev_vhost_user_add_fd(D.vu, 0, D.port.fd, on_port, NULL) != 0) {
		fprintf(stderr, "vhost-user-net: cannot watch the %s\n", D.port.name);
		return 1;
	}
	if (D.link_fd < 0 || vdev_vhost_user_add_fd(D.vu, 0, D.link_fd, on_link, NULL) != 0) {
		fprintf(stderr, "vhost-user-net: cannot watch for SIGUSR1\n");
		return 1;
	}
	vu_daemon_catch_signals(D.vu);
	const uint8_t *m = D.o.mac;
	if (!D.o.com.quiet)
		fprintf(stderr,
			"vhost-user-net: %02x:%02x:%02x:%02x:%02x:%02x, MTU %u, %u queue pair%s, on %s, "
			"serving %s\n", m[0], m[1], m[2], m[3], m[4], m[5], D.o.mtu, D.o.pairs,
			D.o.pairs > 1 ? "s" : "", D.port.name,
			vu_daemon_where(&D.o.com));
	err = vdev_vhost_user_run(D.vu);
	if (D.o.com.stats) {
		struct vdev_net_stats st;
		struct vdev_vhost_user_stats vs;
		uint64_t write_as_read = 0;
		vdev_net_get_stats(&D.net, &st);
		vdev_vhost_user_get_stats(D.vu, &vs);
		/* transmit chains whose writable-marked descriptors were read */
		for (unsigned p = 0; p < D.o.pairs; p++) {
			struct vdev_vq_stats qs;
			vdev_vq_get_stats(&D.queues[2 * p + 1], &qs);
			write_as_read += qs.write_as_read;
		}
		fprintf(stderr,
			"vhost-user-net: %s: tx %llu frames (%llu KiB), %llu bad; rx %llu frames "
			"(%llu KiB), %llu filtered, %llu waits for buffers, %llu dropped; control "
			"%llu ok, %llu err (%llu denied by policy); %llu sessions, %llu kicks, "
			"%llu interrupts; %llu transmit chains marked writable; port: %llu sent, "
			"%llu dropped, %llu received, %llu transmit kicks, %llu too big\n", D.port.name,
			(unsigned long long)st.tx_frames, (unsigned long long)(st.tx_bytes >> 10),
			(unsigned long long)st.tx_bad, (unsigned long long)st.rx_frames,
			(unsigned long long)(st.rx_bytes >> 10), (unsigned long long)st.rx_filtered,
			(unsigned long long)st.rx_no_room, (unsigned long long)D.rx_dropped,
			(unsigned long long)st.ctrl_ok, (unsigned long long)st.ctrl_err,
			(unsigned long long)st.ctrl_denied, (unsigned long long)vs.sessions,
			(unsigned long long)vs.kicks, (unsigned long long)vs.calls,
			(unsigned long long)write_as_read, (unsigned long long)D.port.tx_frames,
			(unsigned long long)D.port.tx_dropped, (unsigned long long)D.port.rx_frames,
			(unsigned long long)D.port.tx_kicks, (unsigned long long)D.port.rx_truncated);
	}
	/* A late SIGTERM must not reach the adapter once it is gone. */
	vu_daemon_release_signals();
	struct vdev_vhost_user *vu = D.vu;
	D.vu = NULL;
	vdev_vhost_user_destroy(vu);
	net_port_close(&D.port);
	return err == 0 ? 0 : 1;
}
