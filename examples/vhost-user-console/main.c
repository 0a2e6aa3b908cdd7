/* SPDX-License-Identifier: MIT */
/*
 * vhost-user-console: libvdev's virtio-console device model as a
 * vhost-user back-end daemon. Every port is a listening Unix socket on the
 * host (or a PTY); port 0 is the console (hvc0 in a Linux guest), the
 * others are named generic ports (/dev/vportNpM, and
 * /dev/virtio-ports/<name> where udev makes the links):
 *
 *   vhost-user-console --socket=/tmp/con.sock --console=/tmp/hvc0.sock \
 *       --port=org.example.log=/tmp/log.sock --port=data=pty
 *   socat - UNIX-CONNECT:/tmp/hvc0.sock       # the guest's console
 *
 * One host client per port at a time (a second one is turned away). A
 * connected client opens the port's host end (PORT_OPEN 1 to the guest);
 * its disconnection closes it. Guest output with no client connected is
 * discarded, as a serial line with nothing attached would; with a client
 * it is written to its socket, and a client that does not read holds the
 * guest's buffers (the device's backpressure) until its socket drains.
 * Host input is read only while the guest has the port open and has
 * receive buffers: otherwise the client's socket is not read, so a host
 * that writes faster than the guest reads is slowed down, nothing lost.
 * A PTY port (PATH "pty") prints its slave's path at start and counts as
 * always connected.
 *
 * --pcidev=pci|pci-intx|mmio serves the device as a function on user-mode
 * Linux's PCI-over-virtio bus (examples/pcidev), as the other daemons.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "vdev/console.h"
#include "vdev/vhost_user.h"
#include "pcidev.h"
#include "vu_daemon.h"

#define PROG "vhost-user-console"
#define IOV_PER_CHAIN 64
#define MAX_PORTS 32
#define INBUF 4096

struct port {
	const char *name; /* NULL for the console */
	const char *path; /* socket path, or "pty" */
	bool pty;
	int listen_fd;    /* -1 for a PTY */
	int fd;           /* the client (or the PTY master), -1 if none */
	int pty_slave;    /* kept open so the master never hangs up */
	char pty_name[64];
	uint8_t in[INBUF];  /* read from the client, not yet sent to the guest */
	size_t in_off, in_len;
	bool want_out;      /* output is held: wait for the socket to drain */
	bool registered;    /* fd is in the epoll set */
	uint64_t in_bytes, out_bytes, dropped;
};

struct options {
	struct vu_daemon_opts com; /* --socket, --fd, --queue-size, ... */
	bool no_multiport;
	unsigned cols, rows;
};

static struct {
	struct options o;
	struct port ports[MAX_PORTS];
	unsigned nports;
	struct vdev_mem mem;
	struct vdev_console cs;
	struct vdev_vq queues[VDEV_CONSOLE_NUM_QUEUES(1, MAX_PORTS)];
	uint64_t *queue_held;
	struct vdev_console_port cports[MAX_PORTS];
	struct vdev_iov iovs[(MAX_PORTS + 3) * IOV_PER_CHAIN];
	struct pcidev bus;
	struct vdev_vhost_user *vu;
	int ep;
} D;

static const struct vu_daemon_spec SPEC = {
	.prog = PROG,
	.synopsis =
		"usage: vhost-user-console (--socket=PATH | --fd=N) --console=PATH|pty\n"
		"                          [--port=NAME=PATH|pty]... [options]\n",
	.help =
		"  --console=PATH|pty     port 0, the console: a Unix socket to listen on, or a PTY\n"
		"  --port=NAME=PATH|pty   the next port (1, 2, ...), named NAME in the guest\n"
		"  --size=COLSxROWS       offer the console's size (VIRTIO_CONSOLE_F_SIZE)\n"
		"  --no-multiport         port 0 only, no control queues (no --port)\n",
	.type = "console",
	.flags = VU_DAEMON_SOCKET | VU_DAEMON_NO_PACKED | VU_DAEMON_PCIDEV,
	.queue_size = 256,
};

static int add_port(const char *name, const char *path)
{
	struct port *p;

	if (D.nports == MAX_PORTS) {
		fprintf(stderr, PROG ": at most %d ports\n", MAX_PORTS);
		return -1;
	}
	if (name != NULL && (strlen(name) == 0 || strlen(name) > VDEV_CONSOLE_NAME_MAX)) {
		fprintf(stderr, PROG ": a port name has 1..%u bytes\n", VDEV_CONSOLE_NAME_MAX);
		return -1;
	}
	p = &D.ports[D.nports++];
	p->name = name;
	p->path = path;
	p->pty = strcmp(path, "pty") == 0;
	p->listen_fd = p->fd = p->pty_slave = -1;
	return 0;
}

static int parse(int argc, char **argv, struct options *o)
{
	enum { O_CONSOLE = 1, O_PORT, O_SIZE, O_NOMP };
	static const struct option own[] = {
		{"console", required_argument, NULL, O_CONSOLE},
		{"port", required_argument, NULL, O_PORT},
		{"size", required_argument, NULL, O_SIZE},
		{"no-multiport", no_argument, NULL, O_NOMP},
		{NULL, 0, NULL, 0},
	};
	const char *console = NULL;
	int c;
	char *eq;

	D.nports = 1; /* port 0 is filled in after the options */
	while ((c = vu_daemon_getopt(&SPEC, &o->com, argc, argv, own)) > 0) {
		switch (c) {
		case O_CONSOLE: console = optarg; break;
		case O_PORT:
			eq = strrchr(optarg, '=');
			if (eq == NULL || eq[1] == '\0') {
				fprintf(stderr, PROG ": --port=%s: expected NAME=PATH or NAME=pty\n",
					optarg);
				return -1;
			}
			*eq = '\0';
			if (add_port(optarg, eq + 1) != 0)
				return -1;
			break;
		case O_SIZE:
			if (sscanf(optarg, "%ux%u", &o->cols, &o->rows) != 2 || o->cols == 0 ||
			    o->cols > 65535 || o->rows == 0 || o->rows > 65535) {
				fprintf(stderr, PROG ": --size=%s: expected COLSxROWS\n", optarg);
				return -1;
			}
			break;
		case O_NOMP: o->no_multiport = true; break;
		}
	}
	if (c < 0)
		return -1;
	if (console == NULL) {
		fprintf(stderr, PROG ": --console is required\n");
		return -1;
	}
	if (o->no_multiport && D.nports > 1) {
		fprintf(stderr, PROG ": --port needs multiport (drop --no-multiport)\n");
		return -1;
	}
	D.ports[0] = (struct port){.path = console, .pty = strcmp(console, "pty") == 0,
				   .listen_fd = -1, .fd = -1, .pty_slave = -1};
	return 0;
}

/* ---- the epoll set of the ports' sockets ---- */

/* epoll data: port index * 2, +1 for the listening socket */
static void ep_set(int fd, unsigned tag, uint32_t events, int op)
{
	struct epoll_event ev = {.events = events, .data.u64 = tag};

	if (epoll_ctl(D.ep, op, fd, &ev) != 0 && op != EPOLL_CTL_DEL)
		fprintf(stderr, PROG ": epoll_ctl: %s\n", strerror(errno));
}

/*
 * Watch the client for input (only while the guest can take it) and for
 * room for output (only while output is held). An fd with nothing to wait
 * for leaves the set: a peer that hung up would otherwise be reported
 * again and again while we do not read it.
 */
static void port_rearm(unsigned i)
{
	struct port *p = &D.ports[i];
	uint32_t ev = 0;

	if (p->fd < 0)
		return;
	if (p->in_len == 0 && vdev_console_port_guest_open(&D.cs, i))
		ev |= EPOLLIN;
	if (p->want_out)
		ev |= EPOLLOUT;
	if (ev == 0) {
		if (p->registered)
			epoll_ctl(D.ep, EPOLL_CTL_DEL, p->fd, NULL);
		p->registered = false;
		return;
	}
	ep_set(p->fd, i * 2u, ev, p->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD);
	p->registered = true;
}

static void port_hangup(unsigned i)
{
	struct port *p = &D.ports[i];

	if (p->fd < 0 || p->pty)
		return;
	if (p->registered)
		epoll_ctl(D.ep, EPOLL_CTL_DEL, p->fd, NULL);
	p->registered = false;
	close(p->fd);
	p->fd = -1;
	p->in_len = p->in_off = 0;
	p->want_out = false;
	(void)vdev_console_port_set_open(&D.cs, i, false);
	/* held output now goes nowhere: let it drain */
	(void)vdev_console_output_ready(&D.cs, i);
}

/* Pass what was read from the client on to the guest. */
static void port_push_input(unsigned i)
{
	struct port *p = &D.ports[i];

	while (p->in_len > 0) {
		struct vdev_iov v = {p->in + p->in_off, p->in_len};
		int rc = vdev_console_send(&D.cs, i, &v, 1, p->in_len);

		if (rc == VDEV_EPERM) {
			/* the guest closed the port: what it did not take is lost,
			 * as Linux drops input for a closed port */
			p->dropped += p->in_len;
			p->in_len = p->in_off = 0;
			break;
		}
		if (rc <= 0)
			break; /* no receive buffers: the writable op resumes us */
		p->in_off += (size_t)rc;
		p->in_len -= (size_t)rc;
		p->in_bytes += (uint64_t)rc;
	}
	if (p->in_len == 0)
		p->in_off = 0;
}

static void port_read(unsigned i)
{
	struct port *p = &D.ports[i];
	ssize_t n;

	if (p->in_len > 0 || !vdev_console_port_guest_open(&D.cs, i))
		return;
	n = read(p->fd, p->in, sizeof(p->in));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		port_hangup(i);
		return;
	}
	if (n < 0)
		return;
	p->in_len = (size_t)n;
	port_push_input(i);
}

static void port_accept(unsigned i)
{
	struct port *p = &D.ports[i];
	int fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (p->fd >= 0) {
		close(fd); /* one client per port */
		return;
	}
	p->fd = fd;
	(void)vdev_console_port_set_open(&D.cs, i, true);
	port_rearm(i);
}

static void on_ports(void *opaque, int fd)
{
	struct epoll_event evs[16];
	int n;

	(void)opaque;
	n = epoll_wait(fd, evs, 16, 0);
	for (int k = 0; k < n; k++) {
		unsigned i = (unsigned)(evs[k].data.u64 / 2u);
		struct port *p = &D.ports[i];

		if (evs[k].data.u64 & 1u) {
			port_accept(i);
			continue;
		}
		if (p->fd < 0)
			continue;
		if ((evs[k].events & EPOLLOUT) && p->want_out) {
			p->want_out = false;
			(void)vdev_console_output_ready(&D.cs, i);
		}
		if (p->fd >= 0 && (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
			port_read(i);
		port_rearm(i);
	}
}

/* ---- the device's host ops ---- */

static int h_output(void *opaque, uint32_t port, const struct vdev_iov *iov, unsigned iovcnt,
		    size_t len)
{
	struct port *p = &D.ports[port];
	ssize_t n;

	(void)opaque;
	if (port >= D.nports || p->fd < 0) {
		if (port < D.nports)
			p->dropped += len;
		return (int)len; /* nothing attached: the bytes go nowhere */
	}
	n = writev(p->fd, (const struct iovec *)iov, (int)(iovcnt > 1024 ? 1024 : iovcnt));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		n = 0;
	if (n < 0) {
		port_hangup(port);
		return (int)len;
	}
	p->out_bytes += (uint64_t)n;
	if ((size_t)n < len && !p->want_out) {
		p->want_out = true;
		port_rearm(port);
	}
	return (int)n;
}

static void h_event(void *opaque, uint32_t port, enum vdev_console_event ev, uint32_t arg)
{
	(void)opaque, (void)arg;
	if (ev == VDEV_CONSOLE_EV_RESET) {
		for (unsigned i = 0; i < D.nports; i++) {
			D.ports[i].in_len = D.ports[i].in_off = 0;
			D.ports[i].want_out = false;
			port_rearm(i);
		}
		return;
	}
	if (ev == VDEV_CONSOLE_EV_OPEN && port < D.nports)
		port_rearm(port); /* start or stop reading the client */
}

static void h_writable(void *opaque, uint32_t port)
{
	(void)opaque;
	if (port >= D.nports)
		return;
	port_push_input(port);
	port_rearm(port);
}

static void h_emerg(void *opaque, uint8_t c)
{
	(void)opaque;
	if (D.ports[0].fd >= 0 && write(D.ports[0].fd, &c, 1) == 1)
		return;
	fputc(c, stderr);
}

static const struct vdev_console_host_ops host_ops = {
	.size = sizeof(struct vdev_console_host_ops),
	.output = h_output,
	.event = h_event,
	.writable = h_writable,
	.emerg_write = h_emerg,
};

/* ---- set-up ---- */

static int open_port(unsigned i)
{
	struct port *p = &D.ports[i];
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	if (p->pty) {
		int m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

		if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0 ||
		    ptsname_r(m, p->pty_name, sizeof(p->pty_name)) != 0) {
			fprintf(stderr, PROG ": cannot open a PTY: %s\n", strerror(errno));
			return -1;
		}
		p->pty_slave = open(p->pty_name, O_RDWR | O_NOCTTY | O_CLOEXEC);
		p->fd = m;
		return 0;
	}
	if (strlen(p->path) >= sizeof(a.sun_path)) {
		fprintf(stderr, PROG ": socket path too long: %s\n", p->path);
		return -1;
	}
	strcpy(a.sun_path, p->path);
	unlink(p->path);
	p->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(p->listen_fd, 4) != 0) {
		fprintf(stderr, PROG ": %s: %s\n", p->path, strerror(errno));
		return -1;
	}
	ep_set(p->listen_fd, i * 2u + 1u, EPOLLIN, EPOLL_CTL_ADD);
	return 0;
}

int main(int argc, char **argv)
{
	char eb[256];
	int err;

	if (parse(argc, argv, &D.o) != 0)
		return 2;
	D.ep = epoll_create1(EPOLL_CLOEXEC);
	if (D.ep < 0) {
		perror(PROG ": epoll_create1");
		return 1;
	}
	D.queue_held = calloc((size_t)VDEV_CONSOLE_NUM_QUEUES(1, MAX_PORTS) *
				      VDEV_VQ_HELD_WORDS(D.o.com.queue_size),
			      sizeof(*D.queue_held));
	if (D.queue_held == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	vdev_mem_init(&D.mem, NULL, 0);
	bool multi = !D.o.no_multiport;
	struct vdev_console_config c = {
		.queue_size = D.o.com.queue_size,
		.multiport = multi,
		.max_nr_ports = multi ? D.nports : 1,
		.size = D.o.cols != 0,
		.cols = (uint16_t)D.o.cols,
		.rows = (uint16_t)D.o.rows,
		.mem = &D.mem,
		.queues = D.queues,
		.queue_held = D.queue_held,
		.ports = D.cports,
		.iovs = D.iovs,
		.iov_per_chain = IOV_PER_CHAIN,
		.host = &host_ops,
		.ring_features = D.o.com.no_packed ? VDEV_BIT(VDEV_F_INDIRECT_DESC) |
							 VDEV_BIT(VDEV_F_EVENT_IDX) |
							 VDEV_BIT(VDEV_F_RING_RESET)
					       : 0,
	};
	if ((err = vdev_console_init(&D.cs, &c)) != 0) {
		fprintf(stderr, PROG ": cannot set up the device: %s\n", vdev_strerror(err));
		return 1;
	}
	for (unsigned i = 0; i < D.nports; i++) {
		if (open_port(i) != 0)
			return 1;
		err = vdev_console_port_add(&D.cs, i, D.ports[i].name, i == 0);
		if (err == 0 && D.ports[i].pty)
			err = vdev_console_port_set_open(&D.cs, i, true);
		if (err != 0) {
			fprintf(stderr, PROG ": port %u: %s\n", i, vdev_strerror(err));
			return 1;
		}
		if (D.ports[i].pty)
			printf("port %u%s%s: %s\n", i, D.ports[i].name ? " " : "",
			       D.ports[i].name ? D.ports[i].name : "", D.ports[i].pty_name);
	}
	fflush(stdout);
	struct vdev_dev *front =
		pcidev_daemon_front(PROG, &D.o.com.pcidev, &D.bus, vdev_console_dev(&D.cs), &D.mem);
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
		fprintf(stderr, PROG ": %s\n", eb);
		return 1;
	}
	/* The ports' sockets come and go: they live in an epoll set of our
	 * own, whose fd the adapter's loop watches on the rings' thread. */
	if (vdev_vhost_user_add_fd(D.vu, 0, D.ep, on_ports, NULL) != 0) {
		fprintf(stderr, PROG ": cannot watch the ports\n");
		return 1;
	}
	vu_daemon_catch_signals(D.vu);
	if (!D.o.com.quiet)
		fprintf(stderr, PROG ": %u port%s (console at %s)%s, serving %s\n", D.nports,
			D.nports == 1 ? "" : "s", D.ports[0].pty ? D.ports[0].pty_name : D.ports[0].path,
			multi ? "" : ", single port", vu_daemon_where(&D.o.com));
	err = vdev_vhost_user_run(D.vu);
	if (D.o.com.stats) {
		struct vdev_console_stats st;
		struct vdev_vhost_user_stats vs;
		vdev_console_get_stats(&D.cs, &st);
		vdev_vhost_user_get_stats(D.vu, &vs);
		fprintf(stderr,
			PROG ": guest output %llu chains (%llu KiB, held %llu times), input %llu "
			"chains (%llu KiB); %llu control messages sent; bad: %llu chains, %llu "
			"control messages, %llu port ids; %llu emergency writes; %llu sessions, "
			"%llu kicks, %llu interrupts\n",
			(unsigned long long)st.tx_chains, (unsigned long long)(st.tx_bytes >> 10),
			(unsigned long long)st.held, (unsigned long long)st.rx_chains,
			(unsigned long long)(st.rx_bytes >> 10), (unsigned long long)st.ctrl_sent,
			(unsigned long long)st.bad_chain, (unsigned long long)st.bad_ctrl,
			(unsigned long long)st.bad_port, (unsigned long long)st.emerg_writes,
			(unsigned long long)vs.sessions, (unsigned long long)vs.kicks,
			(unsigned long long)vs.calls);
		for (unsigned i = 0; i < D.nports; i++)
			fprintf(stderr, PROG ": port %u%s%s: %llu bytes to the host, %llu to the "
					"guest, %llu dropped\n",
				i, D.ports[i].name ? " " : "", D.ports[i].name ? D.ports[i].name : "",
				(unsigned long long)D.ports[i].out_bytes,
				(unsigned long long)D.ports[i].in_bytes,
				(unsigned long long)D.ports[i].dropped);
	}
	vu_daemon_release_signals();
	struct vdev_vhost_user *vu = D.vu;
	D.vu = NULL;
	vdev_vhost_user_destroy(vu);
	for (unsigned i = 0; i < D.nports; i++) {
		struct port *p = &D.ports[i];
		if (p->fd >= 0)
			close(p->fd);
		if (p->pty_slave >= 0)
			close(p->pty_slave);
		if (p->listen_fd >= 0) {
			close(p->listen_fd);
			unlink(p->path);
		}
	}
	close(D.ep);
	free(D.queue_held);
	return err == 0 ? 0 : 1;
}
