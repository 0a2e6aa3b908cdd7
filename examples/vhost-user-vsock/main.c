/* SPDX-License-Identifier: MIT */
/*
 * vhost-user-vsock: libvdev's virtio-vsock device model as a vhost-user
 * back-end daemon, bridged to Unix sockets on the host (vsock_unix.h):
 *
 *   vhost-user-vsock --socket=/tmp/vsock.sock --guest-cid=3 --uds-path=/tmp/vm3.vsock
 *   qemu-system-x86_64 ... -object memory-backend-memfd,id=mem,size=1G,share=on \
 *     -machine memory-backend=mem -chardev socket,id=vs,path=/tmp/vsock.sock \
 *     -device vhost-user-vsock-pci,chardev=vs
 *
 * QEMU reads the config space (guest_cid) from us with GET_CONFIG and runs
 * the event queue itself; we serve the rx and tx queues (a front-end that
 * also hands us the event queue gets TRANSPORT_RESET events there).
 *
 * Host side: connect to /tmp/vm3.vsock, write "CONNECT <port>\n", read
 * "OK <host port>\n", then talk to the guest's listener on <port>; the
 * guest's connections to host port P reach the Unix socket /tmp/vm3.vsock_P.
 * Seqpacket: /tmp/vm3.vsock.seqpacket and SOCK_SEQPACKET sockets.
 *
 * A timerfd on the adapter's loop gives the device its clock
 * (vdev_vsock_tick()): a clean close the guest does not answer within
 * --close-timeout is ended with RST.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "vdev/vhost_user.h"
#include "vu_daemon.h"

#define PROG "vhost-user-vsock"
#include "vdev/vsock.h"
#include "pcidev.h"
#include "vsock_unix.h"

#define IOV_PER_CHAIN 64 /* guest buffer segments per chain */
#define LINE_CONNS 16    /* host sockets still sending their CONNECT line */

struct options {
	struct vu_daemon_opts com; /* --socket, --fd, --queue-size, ... */
	const char *uds_path;
	unsigned long long cid;
	bool no_seqpacket;
	unsigned max_conns, buf_kib, close_ms;
};

static struct {
	struct options o;
	struct vdev_mem mem;
	struct vdev_vsock vs;
	struct vdev_vq queues[VDEV_VSOCK_NUM_QUEUES];
	uint64_t *queue_held;
	struct vdev_vsock_conn *conns;
	struct vdev_iov *iovs;
	struct vsock_unix *bridge;
	struct pcidev bus; /* --pcidev */
	struct vdev_vhost_user *vu;
	int timer_fd;
} D = {.o = {.max_conns = 64, .buf_kib = 256,
	     .close_ms = VDEV_VSOCK_CLOSE_TIMEOUT_MS}};

static const struct vu_daemon_spec SPEC = {
	.prog = PROG,
	.synopsis =
		"usage: vhost-user-vsock (--socket=PATH | --fd=N) --guest-cid=N --uds-path=PATH\n"
		"                        [options]\n",
	.help =
		"  --guest-cid=N          the guest's context id, 3..4294967294\n"
		"  --uds-path=PATH        host side: CONNECT socket at PATH, guest connections\n"
		"                         to port P go to PATH_P (seqpacket: PATH.seqpacket)\n"
		"  --no-seqpacket         offer stream sockets only\n"
		"  --max-conns=N          connections at a time, 1..4096 (default 64)\n"
		"  --buf-size=KIB         receive buffer per connection and direction,\n"
		"                         4..65536 KiB (default 256)\n"
		"  --close-timeout=MS     a clean close the guest does not answer within\n"
		"                         this is reset, 10..600000 ms (default 8000)\n",
	.type = "vsock",
	.flags = VU_DAEMON_SOCKET | VU_DAEMON_NO_PACKED | VU_DAEMON_PCIDEV,
	.queue_size = 256,
};

static int parse(int argc, char **argv, struct options *o)
{
	enum { O_CID = 1, O_UDS, O_NOSEQ, O_CONNS, O_BUF, O_CLOSE };
	static const struct option own[] = {
		{"guest-cid", required_argument, NULL, O_CID},
		{"uds-path", required_argument, NULL, O_UDS},
		{"no-seqpacket", no_argument, NULL, O_NOSEQ},
		{"max-conns", required_argument, NULL, O_CONNS},
		{"buf-size", required_argument, NULL, O_BUF},
		{"close-timeout", required_argument, NULL, O_CLOSE},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = vu_daemon_getopt(&SPEC, &o->com, argc, argv, own)) > 0) {
		switch (c) {
		case O_CID:
			if (vu_daemon_uint(PROG, "guest-cid", optarg, 3, 0xfffffffeull, &o->cid) != 0)
				return -1;
			break;
		case O_UDS: o->uds_path = optarg; break;
		case O_NOSEQ: o->no_seqpacket = true; break;
		case O_CONNS:
			if (vu_daemon_u32(PROG, "max-conns", optarg, 1, 4096, &o->max_conns) != 0)
				return -1;
			break;
		case O_BUF:
			if (vu_daemon_u32(PROG, "buf-size", optarg, 4, 65536, &o->buf_kib) != 0)
				return -1;
			break;
		case O_CLOSE:
			if (vu_daemon_u32(PROG, "close-timeout", optarg, 10, 600000, &o->close_ms) != 0)
				return -1;
			break;
		}
	}
	if (c < 0)
		return -1;
	if (o->cid == 0 || o->uds_path == NULL) {
		fprintf(stderr, "vhost-user-vsock: --guest-cid and --uds-path are required\n");
		return -1;
	}
	return 0;
}

static void on_bridge(void *opaque, int fd)
{
	(void)opaque, (void)fd;
	vsock_unix_poll(D.bridge);
}

/* The device's clock: clean closes the guest does not answer time out. */
static void on_timer(void *opaque, int fd)
{
	uint64_t expirations;
	struct timespec t;

	(void)opaque;
	if (read(fd, &expirations, sizeof(expirations)) < 0)
		return; /* spurious: nothing expired */
	clock_gettime(CLOCK_MONOTONIC, &t);
	vdev_vsock_tick(&D.vs, (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u);
}

int main(int argc, char **argv)
{
	char eb[256];
	int err;

	if (parse(argc, argv, &D.o) != 0)
		return 2;
	size_t buf = (size_t)D.o.buf_kib << 10;
	D.conns = calloc(D.o.max_conns, sizeof(*D.conns));
	D.iovs = calloc((size_t)VDEV_VSOCK_NUM_QUEUES * IOV_PER_CHAIN, sizeof(*D.iovs));
	D.queue_held = calloc((size_t)VDEV_VSOCK_NUM_QUEUES *
				      VDEV_VQ_HELD_WORDS(D.o.com.queue_size),
			      sizeof(*D.queue_held));
	if (D.conns == NULL || D.iovs == NULL || D.queue_held == NULL) {
		fprintf(stderr, "vhost-user-vsock: out of memory\n");
		return 1;
	}
	struct vsock_unix_config bc = {
		.path = D.o.uds_path,
		.seqpacket = !D.o.no_seqpacket,
		.max_conns = D.o.max_conns + LINE_CONNS,
		.buf_size = buf,
		.vs = &D.vs,
	};
	D.bridge = vsock_unix_create(&bc, eb, sizeof(eb));
	if (D.bridge == NULL) {
		fprintf(stderr, "vhost-user-vsock: %s\n", eb);
		return 1;
	}
	vdev_mem_init(&D.mem, NULL, 0);
	struct vdev_vsock_config c = {
		.guest_cid = D.o.cid,
		.queue_size = D.o.com.queue_size,
		.seqpacket = !D.o.no_seqpacket,
		.buf_alloc = (uint32_t)buf,
		.mem = &D.mem,
		.queues = D.queues,
		.queue_held = D.queue_held,
		.conns = D.conns,
		.max_conns = D.o.max_conns,
		.iovs = D.iovs,
		.iov_per_chain = IOV_PER_CHAIN,
		.host = &vsock_unix_host_ops,
		.host_opaque = D.bridge,
		.close_timeout_ms = D.o.close_ms,
		.ring_features = D.o.com.no_packed ? VDEV_BIT(VDEV_F_INDIRECT_DESC) |
							 VDEV_BIT(VDEV_F_EVENT_IDX) |
							 VDEV_BIT(VDEV_F_RING_RESET)
					       : 0,
	};
	if ((err = vdev_vsock_init(&D.vs, &c)) != 0) {
		fprintf(stderr, "vhost-user-vsock: cannot set up the device: %s\n", vdev_strerror(err));
		return 1;
	}
	struct vdev_dev *front =
		pcidev_daemon_front(PROG, &D.o.com.pcidev, &D.bus, vdev_vsock_dev(&D.vs), &D.mem);
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
		fprintf(stderr, "vhost-user-vsock: %s\n", eb);
		return 1;
	}
	/*
	 * The bridge keeps its connection sockets in an epoll set of its own
	 * (they come and go; the adapter's watch list is fixed at set-up) and
	 * does its backpressure there; the adapter's loop watches that one fd
	 * on the same thread as every ring.
	 */
	if (vdev_vhost_user_add_fd(D.vu, 0, vsock_unix_fd(D.bridge), on_bridge, NULL) != 0) {
		fprintf(stderr, "vhost-user-vsock: cannot watch the bridge\n");
		return 1;
	}
	/* tick four times per timeout (at most once a second): the forced RST
	 * comes between 1 and 1.5 timeouts after the close */
	unsigned period = D.o.close_ms / 4u < 1000u ? D.o.close_ms / 4u : 1000u;
	struct itimerspec its = {
		.it_interval = {(time_t)(period / 1000u), (long)(period % 1000u) * 1000000L},
		.it_value = {(time_t)(period / 1000u), (long)(period % 1000u) * 1000000L},
	};
	D.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (D.timer_fd < 0 || timerfd_settime(D.timer_fd, 0, &its, NULL) != 0 ||
	    vdev_vhost_user_add_fd(D.vu, 0, D.timer_fd, on_timer, NULL) != 0) {
		fprintf(stderr, "vhost-user-vsock: cannot set up the close timer\n");
		return 1;
	}
	vu_daemon_catch_signals(D.vu);
	if (!D.o.com.quiet)
		fprintf(stderr, "vhost-user-vsock: guest CID %llu, host sockets at %s%s, serving %s\n",
			D.o.cid, D.o.uds_path, D.o.no_seqpacket ? "" : " (and .seqpacket)",
			vu_daemon_where(&D.o.com));
	err = vdev_vhost_user_run(D.vu);
	if (D.o.com.stats) {
		struct vdev_vsock_stats st;
		struct vsock_unix_stats bs;
		struct vdev_vhost_user_stats vs;
		vdev_vsock_get_stats(&D.vs, &st);
		vsock_unix_get_stats(D.bridge, &bs);
		vdev_vhost_user_get_stats(D.vu, &vs);
		fprintf(stderr,
			"vhost-user-vsock: tx %llu packets (%llu KiB), rx %llu packets (%llu KiB); "
			"connections: %llu from the host, %llu from the guest, %llu refused; "
			"%llu bad CONNECT lines; %llu buffered for a slow host socket, %llu sends "
			"waited for the guest; bad: %llu chains, %llu lengths, %llu addresses, "
			"%llu over credit; %llu RST sent, %llu closes timed out; %llu credit "
			"updates; %llu sessions, %llu kicks, %llu interrupts\n",
			(unsigned long long)st.tx_packets, (unsigned long long)(st.tx_bytes >> 10),
			(unsigned long long)st.rx_packets, (unsigned long long)(st.rx_bytes >> 10),
			(unsigned long long)bs.host_connects, (unsigned long long)bs.guest_connects,
			(unsigned long long)bs.refused, (unsigned long long)bs.bad_lines,
			(unsigned long long)bs.buffered, (unsigned long long)bs.paused,
			(unsigned long long)st.bad_chain, (unsigned long long)st.bad_len,
			(unsigned long long)st.bad_addr, (unsigned long long)st.over_credit,
			(unsigned long long)st.rst_sent, (unsigned long long)st.close_timeouts,
			(unsigned long long)st.credit_updates, (unsigned long long)vs.sessions,
			(unsigned long long)vs.kicks, (unsigned long long)vs.calls);
	}
	/* A late SIGTERM must not reach the adapter once it is gone. */
	vu_daemon_release_signals();
	struct vdev_vhost_user *vu = D.vu;
	D.vu = NULL;
	vdev_vhost_user_destroy(vu);
	vsock_unix_destroy(D.bridge);
	close(D.timer_fd);
	return err == 0 ? 0 : 1;
}
