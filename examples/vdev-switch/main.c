/* SPDX-License-Identifier: MIT */
/*
 * vdev-switch: the inter-VM L2 switch. It learns source MACs per port and
 * forwards known unicast to its port; broadcast, multicast and unknown
 * unicast go to every other port. A port that cannot keep up loses frames
 * (as on a real switch, counted per port); the others are not held up.
 *
 * Two kinds of port, in any mix:
 *
 *   --vhost-user=PATH[,OPTIONS]   the switch itself is the vhost-user-net
 *       back-end of a VM on PATH (libvdev's virtio-net device model, one
 *       queue pair, no offloads). A frame goes from the sending VM's
 *       transmit ring straight into the receiving VM's receive buffers: one
 *       copy, no syscall of its own. The sender's ring is taken up to 32
 *       chains at a time and completed with one used-ring update; each
 *       destination gets that batch's frames for it in one delivery (with
 *       the device's batch receive, where the library has it: one used-ring
 *       update and at most one interrupt per batch); the drivers' kicks are
 *       suppressed while a ring is being worked on (EVENT_IDX), or entirely
 *       with --poll. OPTIONS (comma-separated):
 *         mac=XX:XX:XX:XX:XX:XX  the MAC the VM is given (default: derived
 *                                from PATH)
 *         deny-mac-change        refuse the guest's MAC_ADDR_SET
 *         deny-promisc           refuse promiscuous / all-unicast receive
 *         lock-src               drop frames whose source is not the VM's
 *                                own MAC (anti-spoofing; counted)
 *   --socket-path=PATH  ports for vhost-user-net daemons in separate
 *       processes (--switch=PATH): one SOCK_SEQPACKET connection each, one
 *       Ethernet frame per message.
 *
 *   vdev-switch [--vhost-user=PATH[,...]]... [--socket-path=PATH]
 *               [--max-ports=N] [--queue-size=N] [--mtu=N] [--poll] [--stats]
 *
 * --poll busy-polls the VMs' transmit rings with their notifications off
 * (one CPU at 100 %, as a DPDK forwarder does) instead of sleeping until
 * a VM kicks. Ends on SIGTERM/SIGINT; --stats then prints the counters.
 * One thread runs everything. A VM that is not running (no driver, or
 * not yet DRIVER_OK) is left out of floods; frames for it by a learned
 * unicast entry are dropped and counted. PATH may not contain commas.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vdev/net.h"
#include "vdev/vhost_user.h"
#include "vdev/virtqueue.h"

#define PROG "vdev-switch"
#define MAX_FRAME 65550
#define MAC_TABLE 1024
#define AGE_SECONDS 300
#define IOV_PER_CHAIN 64
#define RX_BUFS 64
#define MAX_SEGS IOV_PER_CHAIN /* segments of a frame sent to a socket port */

enum { TAG_LISTEN = 1, TAG_SOCK, TAG_VU };

/* A VM served in this process. */
struct vu_port {
	const char *path;
	uint8_t mac[6];
	bool deny_mac, deny_promisc, lock_src;
	unsigned index; /* into ports[] */
	bool notify_off; /* --poll: its transmit notifications are off */
	struct vdev_mem mem;
	struct vdev_net net;
	struct vdev_vq queues[3];
	uint64_t *held;
	struct vdev_vq_elem *elems;
	struct vdev_iov *iovs, *tx_iovs;
	struct vdev_vhost_user *vu;
};

/* A frame on its way: segments borrowed from the sender until the flush. */
struct staged {
	const struct vdev_iov *iov;
	unsigned n;
	size_t len;
};

struct port {
	int fd;              /* socket port: its connection, -1: free */
	struct vu_port *vu;  /* vhost-user port, or NULL */
	/* frames for this port from the sender's current batch */
	struct staged stage[VDEV_NET_TX_BATCH_MAX];
	unsigned nstaged;
	bool pending; /* on the pending list */
	/* from the port / to the port / lost on the way to it */
	uint64_t in, out, dropped, no_room, filtered, spoofed, bad;
};

struct entry {
	uint64_t mac; /* the 6 bytes, little-endian in the low 48 bits */
	int port;     /* index into ports, -1: free */
	time_t seen;
};

static struct port *ports;
static unsigned *pending, npending; /* ports with staged frames */
static unsigned max_ports = 64, nvu;
static struct vu_port *vus;
static struct entry table[MAC_TABLE];
static volatile sig_atomic_t stopping;
static uint64_t forwarded, flooded, local;
static time_t now;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* ---- the L2 table ---- */

static uint64_t mac_key(const uint8_t *mac)
{
	uint64_t k = 0;
	for (unsigned i = 0; i < 6; i++)
		k |= (uint64_t)mac[i] << (8 * i);
	return k;
}

/* The top 10 bits of a Fibonacci hash. */
_Static_assert(MAC_TABLE == 1024, "slot() takes 10 bits");
static struct entry *slot(uint64_t key)
{
	return &table[(key * 0x9e3779b97f4a7c15ull) >> 54];
}

static void learn(uint64_t key, int port)
{
	struct entry *e = slot(key);
	if (key & 1)
		return; /* a multicast source is bogus */
	if (e->port != port || e->mac != key) {
		e->mac = key;
		e->port = port;
	}
	if (e->seen != now)
		e->seen = now;
}

static int lookup(uint64_t key)
{
	const struct entry *e = slot(key);
	if (e->port >= 0 && e->mac == key && now - e->seen < AGE_SECONDS)
		return e->port;
	return -1;
}

static void forget_port(int port)
{
	for (unsigned i = 0; i < MAC_TABLE; i++)
		if (table[i].port == port)
			table[i].port = -1;
}

/* ---- delivery ----
 *
 * forward() only stages a frame (its segments stay the sender's: guest
 * memory of the sending VM, or the switch's receive buffer of a socket
 * port); flush() then hands each destination its frames in one go: a VM
 * gets them copied into its receive buffers (the only copy on the way)
 * with one used-ring update and at most one interrupt per batch where the
 * device has a batch receive, a socket port gets them with one sendmmsg().
 */

#ifdef VDEV_SWITCH_RX_BATCH
/* Give frames to a VM. Returns how many it consumed (delivered or dropped
 * by its filter; counted); the rest found no room. */
static unsigned vu_deliver(struct port *p, const struct staged *st, unsigned n)
{
	struct vdev_net_frame f[VDEV_NET_TX_BATCH_MAX];
	int res[VDEV_NET_TX_BATCH_MAX];

	for (unsigned i = 0; i < n; i++)
		f[i] = (struct vdev_net_frame){NULL, st[i].iov, st[i].n, st[i].len};
	int rc = vdev_net_receive_batch(&p->vu->net, 0, f, n, res);
	if (rc == VDEV_EAGAIN)
		return 0; /* no room for the first */
	if (rc < 0) {
		p->dropped += n; /* the VM is not running */
		return n;
	}
	for (int i = 0; i < rc; i++) {
		if (res[i] == 0)
			p->out++;
		else if (res[i] == VDEV_ENOENT)
			p->filtered++; /* the guest's own receive filter */
		else
			p->dropped++;
	}
	return (unsigned)rc;
}
#else
/* The same with the device's one-frame receive (a publish per frame). */
static unsigned vu_deliver(struct port *p, const struct staged *st, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int rc = vdev_net_receive(&p->vu->net, 0, NULL, st[i].iov, st[i].n, st[i].len);
		if (rc == VDEV_EAGAIN)
			return i; /* no room: this and the rest */
		if (rc == 0)
			p->out++;
		else if (rc == VDEV_ENOENT)
			p->filtered++;
		else
			p->dropped++;
	}
	return n;
}
#endif

static unsigned sock_deliver(struct port *p, const struct staged *st, unsigned n)
{
	struct iovec v[VDEV_NET_TX_BATCH_MAX][MAX_SEGS];
	struct mmsghdr m[VDEV_NET_TX_BATCH_MAX];
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		if (st[i].n > MAX_SEGS) {
			p->dropped++;
			continue;
		}
		for (unsigned j = 0; j < st[i].n; j++)
			v[k][j] = (struct iovec){st[i].iov[j].base, st[i].iov[j].len};
		m[k] = (struct mmsghdr){.msg_hdr = {.msg_iov = v[k], .msg_iovlen = st[i].n}};
		k++;
	}
	int sent = k > 0 ? sendmmsg(p->fd, m, k, MSG_DONTWAIT | MSG_NOSIGNAL) : 0;
	if (sent < 0)
		sent = 0;
	p->out += (unsigned)sent;
	return n - (k - (unsigned)sent); /* the rest found no room */
}

static void flush(void)
{
	for (unsigned i = 0; i < npending; i++) {
		struct port *p = &ports[pending[i]];
		unsigned n = p->nstaged;
		unsigned took = p->vu != NULL ? vu_deliver(p, p->stage, n)
					      : sock_deliver(p, p->stage, n);
		p->dropped += n - took;
		p->no_room += n - took;
		p->nstaged = 0;
		p->pending = false;
	}
	npending = 0;
}

static void stage(unsigned to, const struct vdev_iov *iov, unsigned n, size_t len)
{
	struct port *p = &ports[to];

	if (p->nstaged == VDEV_NET_TX_BATCH_MAX)
		flush(); /* not from a VM's batch: one frame at a time anyway */
	if (!p->pending) {
		p->pending = true;
		pending[npending++] = to;
	}
	p->stage[p->nstaged++] = (struct staged){iov, n, len};
}

static bool port_used(unsigned i)
{
	return ports[i].vu != NULL || ports[i].fd >= 0;
}

/* A port that floods reach: a connected socket, a VM whose driver runs. */
static bool port_up(unsigned i)
{
	if (ports[i].vu != NULL)
		return vdev_dev_is_running(vdev_net_dev(&ports[i].vu->net));
	return ports[i].fd >= 0;
}

/* A frame from port `src`: learn, look up, forward or flood. */
static void forward(unsigned src, const struct vdev_iov *iov, unsigned n, size_t len)
{
	struct port *sp = &ports[src];
	uint8_t eth[12];

	if (len < 14 || len > MAX_FRAME) {
		sp->bad++;
		return;
	}
	if (iov[0].len >= sizeof(eth))
		memcpy(eth, iov[0].base, sizeof(eth));
	else
		(void)vdev_iov_to_buf(iov, n, 0, eth, sizeof(eth));
	sp->in++;
	uint64_t dst = mac_key(eth), from = mac_key(eth + 6);
	if (sp->vu != NULL && sp->vu->lock_src) {
		uint8_t own[6];
		vdev_net_mac(&sp->vu->net, own);
		if (from != mac_key(own)) {
			sp->spoofed++;
			return;
		}
	}
	learn(from, (int)src);
	int to = (dst & 1) ? -1 : lookup(dst);
	if (to >= 0) {
		if ((unsigned)to == src) {
			local++; /* for a station on the port it came from */
			return;
		}
		stage((unsigned)to, iov, n, len);
		forwarded++;
		return;
	}
	for (unsigned p = 0; p < max_ports; p++)
		if (p != src && port_up(p))
			stage(p, iov, n, len);
	flooded++;
}

/* ---- vhost-user ports ---- */

static int vu_transmit(void *opaque, uint16_t pair, const struct vdev_net_hdr *hdr,
		       const struct vdev_iov *iov, unsigned n, size_t len)
{
	struct vu_port *v = opaque;
	(void)pair, (void)hdr; /* no offloads are offered: hdr is plain */
	forward(v->index, iov, n, len);
	return 0;
}

static void vu_transmit_flush(void *opaque, uint16_t pair)
{
	(void)opaque, (void)pair;
	flush();
}

static bool vu_allow_mac(void *opaque, const uint8_t mac[6])
{
	struct vu_port *v = opaque;
	(void)mac;
	return !v->deny_mac;
}

static bool vu_allow_promisc(void *opaque)
{
	struct vu_port *v = opaque;
	return !v->deny_promisc;
}

static const struct vdev_net_backend_ops vu_ops = {
	.size = sizeof(struct vdev_net_backend_ops),
	.transmit = vu_transmit,
	.allow_mac_change = vu_allow_mac,
	.allow_promisc = vu_allow_promisc,
	.transmit_flush = vu_transmit_flush,
};

static void vu_connected(void *opaque)
{
	struct vu_port *v = opaque;
	v->notify_off = false;
}

static void vu_disconnected(void *opaque)
{
	struct vu_port *v = opaque;
	v->notify_off = false;
	forget_port((int)v->index);
}

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
		return -1;
	return (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) ? 0 : -1;
}

/* PATH[,mac=..][,deny-mac-change][,deny-promisc][,lock-src] */
static int parse_vu(char *spec, struct vu_port *v)
{
	char *save = NULL, *tok = strtok_r(spec, ",", &save);
	bool have_mac = false;

	if (tok == NULL || *tok == '\0')
		return -1;
	v->path = tok;
	while ((tok = strtok_r(NULL, ",", &save)) != NULL) {
		if (strncmp(tok, "mac=", 4) == 0) {
			if (parse_mac(tok + 4, v->mac) != 0) {
				fprintf(stderr, PROG ": %s: expected a unicast XX:XX:XX:XX:XX:XX\n", tok);
				return -1;
			}
			have_mac = true;
		} else if (strcmp(tok, "deny-mac-change") == 0) {
			v->deny_mac = true;
		} else if (strcmp(tok, "deny-promisc") == 0) {
			v->deny_promisc = true;
		} else if (strcmp(tok, "lock-src") == 0) {
			v->lock_src = true;
		} else {
			fprintf(stderr, PROG ": --vhost-user: unknown option %s\n", tok);
			return -1;
		}
	}
	if (!have_mac) {
		uint32_t h = 2166136261u;
		for (const char *s = v->path; *s; s++)
			h = (h ^ (uint8_t)*s) * 16777619u;
		uint8_t m[6] = {0x52, 0x54, 0x00, (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h};
		memcpy(v->mac, m, 6);
	}
	return 0;
}

static int vu_open(struct vu_port *v, unsigned queue_size, unsigned mtu)
{
	char eb[256];
	int err;

	v->held = calloc(3 * VDEV_VQ_HELD_WORDS(queue_size), sizeof(*v->held));
	v->elems = calloc(RX_BUFS, sizeof(*v->elems));
	v->iovs = calloc((RX_BUFS + 2) * IOV_PER_CHAIN, sizeof(*v->iovs));
	v->tx_iovs = calloc(VDEV_NET_TX_BATCH_MAX * IOV_PER_CHAIN, sizeof(*v->tx_iovs));
	if (v->held == NULL || v->elems == NULL || v->iovs == NULL || v->tx_iovs == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	vdev_mem_init(&v->mem, NULL, 0);
	struct vdev_net_config c = {
		.mtu = (uint16_t)mtu,
		.max_pairs = 1,
		.queue_size = queue_size,
		.link_up = true,
		.speed = 10000,
		.duplex = 1,
		.mem = &v->mem,
		.queues = v->queues,
		.queue_held = v->held,
		.elems = v->elems,
		.iovs = v->iovs,
		.rx_bufs = RX_BUFS,
		.iov_per_chain = IOV_PER_CHAIN,
		.backend = &vu_ops,
		.backend_opaque = v,
		.tx_iovs = v->tx_iovs,
		.tx_batch = VDEV_NET_TX_BATCH_MAX,
	};
	memcpy(c.mac, v->mac, 6);
	if ((err = vdev_net_init(&v->net, &c)) != 0) {
		fprintf(stderr, PROG ": %s: cannot set up the device: %s\n", v->path,
			vdev_strerror(err));
		return -1;
	}
	struct vdev_vhost_user_config vc = {
		.socket_path = v->path,
		.listen_fd = -1,
		.dev = vdev_net_dev(&v->net),
		.mem = &v->mem,
		.connected = vu_connected,
		.disconnected = vu_disconnected,
		.opaque = v,
	};
	v->vu = vdev_vhost_user_create(&vc, &err, eb, sizeof(eb));
	if (v->vu == NULL) {
		fprintf(stderr, PROG ": %s: %s\n", v->path, eb);
		return -1;
	}
	return 0;
}

/* --poll: move what the VM queued, with its transmit notifications off. */
static void vu_poll(struct vu_port *v)
{
	struct vdev_vq *txq = &v->queues[1];

	if (!vdev_vq_is_live(txq))
		return;
	if (!v->notify_off) {
		vdev_vq_disable_notify(txq);
		v->notify_off = true;
	}
	if (vdev_vq_has_work(txq)) /* a peek at the ring: an empty one costs little */
		(void)vdev_net_process_tx(&v->net, 0);
}

static void vu_close(struct vu_port *v)
{
	if (v->vu != NULL)
		vdev_vhost_user_destroy(v->vu);
	free(v->held);
	free(v->elems);
	free(v->iovs);
	free(v->tx_iovs);
}

static void print_stats(void)
{
	fprintf(stderr, PROG ": %llu forwarded, %llu flooded, %llu local\n",
		(unsigned long long)forwarded, (unsigned long long)flooded,
		(unsigned long long)local);
	for (unsigned i = 0; i < max_ports; i++) {
		const struct port *p = &ports[i];
		if (!port_used(i) && p->in == 0 && p->out == 0 && p->dropped == 0)
			continue;
		fprintf(stderr,
			PROG ": port %u (%s): in %llu, out %llu, dropped %llu (%llu no room), "
			"filtered %llu, spoofed %llu, bad %llu", i,
			p->vu != NULL ? p->vu->path : "socket", (unsigned long long)p->in,
			(unsigned long long)p->out, (unsigned long long)p->dropped,
			(unsigned long long)p->no_room, (unsigned long long)p->filtered,
			(unsigned long long)p->spoofed, (unsigned long long)p->bad);
		if (p->vu != NULL) {
			struct vdev_vhost_user_stats vs;
			vdev_vhost_user_get_stats(p->vu->vu, &vs);
			fprintf(stderr, "; %llu kicks, %llu interrupts",
				(unsigned long long)vs.kicks, (unsigned long long)vs.calls);
		}
		fputc('\n', stderr);
	}
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vdev-switch [--vhost-user=PATH[,OPTIONS]]... [--socket-path=PATH] [options]\n"
		"  --vhost-user=PATH[,mac=MAC][,deny-mac-change][,deny-promisc][,lock-src]\n"
		"                     serve a VM's vhost-user-net socket at PATH in this process\n"
		"  --socket-path=PATH listen for vhost-user-net daemons' --switch ports\n"
		"  --max-ports=N      2..1024 (default 64, vhost-user ports included)\n"
		"  --queue-size=N     largest ring of a vhost-user port (default 1024)\n"
		"  --mtu=N            MTU offered to the VMs, 68..65535 (default 1500)\n"
		"  --poll             busy-poll the VMs' rings (one CPU at 100 %%)\n"
		"  --stats            print the counters when ending\n");
}

static int uopt(const char *opt, const char *s, unsigned long lo, unsigned long hi, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*s == '\0' || *end || v < lo || v > hi) {
		fprintf(stderr, PROG ": --%s=%s: expected %lu..%lu\n", opt, s, lo, hi);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	bool stats = false, poll_mode = false;
	unsigned queue_size = 1024, mtu = 1500;
	static const struct option longopts[] = {
		{"socket-path", required_argument, NULL, 's'},
		{"vhost-user", required_argument, NULL, 'v'},
		{"max-ports", required_argument, NULL, 'm'},
		{"queue-size", required_argument, NULL, 'q'},
		{"mtu", required_argument, NULL, 'M'},
		{"poll", no_argument, NULL, 'p'},
		{"stats", no_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	vus = calloc((size_t)argc, sizeof(*vus));
	if (vus == NULL)
		return 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'v':
			if (parse_vu(optarg, &vus[nvu]) != 0)
				return 2;
			nvu++;
			break;
		case 'm':
			if (uopt("max-ports", optarg, 2, 1024, &max_ports) != 0)
				return 2;
			break;
		case 'q':
			if (uopt("queue-size", optarg, 1, 32768, &queue_size) != 0)
				return 2;
			break;
		case 'M':
			if (uopt("mtu", optarg, 68, 65535, &mtu) != 0)
				return 2;
			break;
		case 'p': poll_mode = true; break;
		case 'S': stats = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if ((path == NULL && nvu == 0) || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (nvu > max_ports) {
		fprintf(stderr, PROG ": %u vhost-user ports but --max-ports=%u\n", nvu, max_ports);
		return 2;
	}
	ports = calloc(max_ports, sizeof(*ports));
	pending = calloc(max_ports, sizeof(*pending));
	uint8_t *frame = malloc(MAX_FRAME);
	if (ports == NULL || pending == NULL || frame == NULL)
		return 1;
	for (unsigned i = 0; i < max_ports; i++)
		ports[i].fd = -1;
	for (unsigned i = 0; i < MAC_TABLE; i++)
		table[i].port = -1;
	now = time(NULL);
	struct sigaction sig = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sig, NULL);
	sigaction(SIGINT, &sig, NULL);
	signal(SIGPIPE, SIG_IGN);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return 1;
	int rc = 1, lfd = -1;
	for (unsigned i = 0; i < nvu; i++) {
		struct vu_port *v = &vus[i];
		v->index = i;
		if (vu_open(v, queue_size, mtu) != 0)
			goto out;
		ports[i].vu = v;
		struct epoll_event ev = {.events = EPOLLIN,
					 .data.u64 = (uint64_t)TAG_VU << 32 | i};
		int fd = vdev_vhost_user_poll_fd(v->vu);
		if (fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			fprintf(stderr, PROG ": %s: cannot watch the adapter\n", v->path);
			goto out;
		}
		fprintf(stderr, PROG ": port %u: vhost-user-net on %s, %02x:%02x:%02x:%02x:%02x:%02x\n",
			i, v->path, v->mac[0], v->mac[1], v->mac[2], v->mac[3], v->mac[4], v->mac[5]);
	}
	if (path != NULL) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		if (strlen(path) >= sizeof(sa.sun_path)) {
			fprintf(stderr, PROG ": %s: path too long\n", path);
			goto out;
		}
		memcpy(sa.sun_path, path, strlen(path) + 1);
		lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		unlink(path);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		    listen(lfd, 16) != 0) {
			fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
			goto out;
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)TAG_LISTEN << 32};
		epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
		fprintf(stderr, PROG ": listening on %s\n", path);
	}
	unsigned spins = 0;
	while (!stopping) {
		struct epoll_event evs[16];
		int n = 0;
		/* --poll: the rings every round, the sockets every 256th */
		if (!poll_mode || ++spins % 256 == 0) {
			n = epoll_wait(ep, evs, 16, poll_mode ? 0 : 500);
			now = time(NULL);
		}
		for (int i = 0; i < n; i++) {
			uint32_t kind = (uint32_t)(evs[i].data.u64 >> 32), id = (uint32_t)evs[i].data.u64;
			if (kind == TAG_VU) {
				/* messages and kicks: transmit runs from here (its
				 * frames go out through vu_transmit) */
				(void)vdev_vhost_user_process(vus[id].vu);
				vus[id].notify_off = false; /* a ring may have restarted */
				continue;
			}
			if (kind == TAG_LISTEN) {
				int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
				unsigned p;
				if (fd < 0)
					continue;
				for (p = 0; p < max_ports && port_used(p); p++)
					;
				if (p == max_ports) {
					fprintf(stderr, PROG ": all %u ports in use\n", max_ports);
					close(fd);
					continue;
				}
				ports[p] = (struct port){.fd = fd};
				struct epoll_event ev = {.events = EPOLLIN,
							 .data.u64 = (uint64_t)TAG_SOCK << 32 | p};
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				continue;
			}
			struct port *p = &ports[id];
			ssize_t len = recv(p->fd, frame, MAX_FRAME, MSG_DONTWAIT | MSG_TRUNC);
			if (len <= 0) {
				if (len < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				epoll_ctl(ep, EPOLL_CTL_DEL, p->fd, NULL);
				close(p->fd);
				p->fd = -1;
				forget_port((int)id);
				continue;
			}
			struct vdev_iov v = {frame, (size_t)len};
			forward(id, &v, 1, (size_t)len);
			flush(); /* before the buffer is reused */
		}
		if (poll_mode)
			for (unsigned i = 0; i < nvu; i++)
				vu_poll(&vus[i]);
	}
	rc = 0;
	if (stats)
		print_stats();
out:
	if (path != NULL && lfd >= 0)
		unlink(path);
	if (lfd >= 0)
		close(lfd);
	for (unsigned i = 0; i < max_ports; i++)
		if (ports[i].fd >= 0)
			close(ports[i].fd);
	for (unsigned i = 0; i < nvu; i++)
		vu_close(&vus[i]);
	close(ep);
	free(ports);
	free(pending);
	free(vus);
	free(frame);
	return rc;
}
