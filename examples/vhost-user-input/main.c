/* SPDX-License-Identifier: MIT */
/*
 * vhost-user-input: libvdev's virtio-input device model as a vhost-user
 * back-end daemon: a keyboard, a mouse or a multi-touch screen whose
 * events come from programs on the host through a Unix socket.
 *
 *   vhost-user-input --socket=/tmp/kbd.sock --profile=keyboard --events=/tmp/kbd.events
 *   qemu-system-x86_64 ... -object memory-backend-memfd,id=mem,size=1G,share=on \
 *     -machine memory-backend=mem -chardev socket,id=kbd,path=/tmp/kbd.sock \
 *     -device vhost-user-input-pci,chardev=kbd
 *
 * The events socket (--events=PATH, a stream socket; up to 8 clients at a
 * time) speaks lines of text:
 *
 *   TYPE CODE VALUE     one evdev event, three integers (decimal, or hex
 *                       with 0x; VALUE may be negative), e.g. "1 30 1" for
 *                       KEY_A down, "3 47 1" for ABS_MT_SLOT 1
 *   # anything          a comment; blank lines are ignored too
 *
 * Events are collected until EV_SYN/SYN_REPORT ("0 0 0"), which ends one
 * device update; the update (with its SYN) goes to the device whole and
 * the daemon answers that client "OK", or "DROP" if the device's backlog
 * (--backlog events; the guest has not taken the earlier ones) had no
 * room for it: the update is dropped whole, never in part. A line that is
 * not an event is answered "ERR <why>" and the update collected so far is
 * discarded; so is an update longer than 128 events. Status events the
 * guest sends (keyboard LEDs) go to every connected client as
 * "STATUS TYPE CODE VALUE" lines (and to stderr with --log-status).
 *
 * Profiles (--profile): keyboard (keys 1..248, autorepeat, NumLock/
 * CapsLock/ScrollLock LEDs), mouse (5 buttons, X/Y/wheel), touch (a
 * direct multi-touch screen: --width x --height, --slots contacts).
 * --name and --serial set the device's name and serial.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pcidev.h"
#include "vdev/input.h"
#include "vdev/vhost_user.h"
#include "vu_daemon.h"

#define PROG "vhost-user-input"
#define IOV_PER_CHAIN 8
#define MAX_CLIENTS 8
#define MAX_UPDATE 128
#define LINE_MAX_ 256

struct options {
	struct vu_daemon_opts com; /* --socket, --fd, --queue-size, ... */
	const char *events_path, *profile, *name, *serial;
	unsigned backlog, width, height, slots;
	bool log_status;
};

struct client {
	int fd;
	char buf[LINE_MAX_];
	size_t len;
	struct vdev_input_event upd[MAX_UPDATE];
	unsigned n;
	bool overlong; /* the update grew beyond MAX_UPDATE: discard it at its SYN */
};

static struct {
	struct options o;
	struct vdev_mem mem;
	struct vdev_input_profile profile;
	struct vdev_input in;
	struct vdev_vq queues[VDEV_INPUT_NUM_QUEUES];
	uint64_t *queue_held;
	struct vdev_iov iovs[2 * IOV_PER_CHAIN];
	struct vdev_input_event *backlog;
	struct client clients[MAX_CLIENTS];
	int listen_fd, ep;
	uint64_t updates, drops, bad_lines;
	struct pcidev bus;
	struct vdev_vhost_user *vu;
} D = {.o = {.backlog = 1024, .profile = "keyboard",
	     .width = 1280, .height = 800, .slots = 10},
       .listen_fd = -1, .ep = -1};

static const struct vu_daemon_spec SPEC = {
	.prog = PROG,
	.synopsis =
		"usage: vhost-user-input (--socket=PATH | --fd=N) --events=PATH [options]\n",
	.help =
		"  --events=PATH          the Unix socket host programs send events to\n"
		"                         (lines \"TYPE CODE VALUE\"; see the source's header)\n"
		"  --profile=keyboard|mouse|touch   what the device is (default keyboard)\n"
		"  --name=STR             the device's name (default: \"vdev <profile>\")\n"
		"  --serial=STR           its serial (default: none)\n"
		"  --width=N --height=N   touch: the screen's size (default 1280x800)\n"
		"  --slots=N              touch: contacts at a time, 1..64 (default 10)\n"
		"  --backlog=N            events kept while the guest has no buffers,\n"
		"                         128..1048576 (default 1024)\n"
		"  --log-status           print the guest's status events (LEDs)\n",
	.type = "input",
	.flags = VU_DAEMON_SOCKET | VU_DAEMON_PCIDEV,
	.queue_size = 64,
};

static int parse(int argc, char **argv, struct options *o)
{
	enum { O_EVENTS = 1, O_PROFILE, O_NAME, O_SERIAL, O_WIDTH, O_HEIGHT, O_SLOTS,
	       O_BACKLOG, O_LOG };
	static const struct option own[] = {
		{"events", required_argument, NULL, O_EVENTS},
		{"profile", required_argument, NULL, O_PROFILE},
		{"name", required_argument, NULL, O_NAME},
		{"serial", required_argument, NULL, O_SERIAL},
		{"width", required_argument, NULL, O_WIDTH},
		{"height", required_argument, NULL, O_HEIGHT},
		{"slots", required_argument, NULL, O_SLOTS},
		{"backlog", required_argument, NULL, O_BACKLOG},
		{"log-status", no_argument, NULL, O_LOG},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = vu_daemon_getopt(&SPEC, &o->com, argc, argv, own)) > 0) {
		switch (c) {
		case O_EVENTS: o->events_path = optarg; break;
		case O_PROFILE: o->profile = optarg; break;
		case O_NAME: o->name = optarg; break;
		case O_SERIAL: o->serial = optarg; break;
		case O_WIDTH:
			if (vu_daemon_u32(PROG, "width", optarg, 1, 1u << 20, &o->width) != 0)
				return -1;
			break;
		case O_HEIGHT:
			if (vu_daemon_u32(PROG, "height", optarg, 1, 1u << 20, &o->height) != 0)
				return -1;
			break;
		case O_SLOTS:
			if (vu_daemon_u32(PROG, "slots", optarg, 1, 64, &o->slots) != 0)
				return -1;
			break;
		case O_BACKLOG:
			if (vu_daemon_u32(PROG, "backlog", optarg, MAX_UPDATE, 1u << 20, &o->backlog) != 0)
				return -1;
			break;
		case O_LOG: o->log_status = true; break;
		}
	}
	if (c < 0)
		return -1;
	if (o->events_path == NULL) {
		fprintf(stderr, PROG ": --events is required\n");
		return -1;
	}
	if (strcmp(o->profile, "keyboard") != 0 && strcmp(o->profile, "mouse") != 0 &&
	    strcmp(o->profile, "touch") != 0) {
		fprintf(stderr, PROG ": --profile=%s: expected keyboard, mouse or touch\n",
			o->profile);
		return -1;
	}
	return 0;
}

/* ---- clients ------------------------------------------------------------------ */

static void say(int fd, const char *s)
{
	size_t n = strlen(s);
	/* a client that does not read its answers loses them, not us our loop */
	(void)!send(fd, s, n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void client_close(struct client *c)
{
	epoll_ctl(D.ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
}

/* One integer field: decimal or 0x hex, optionally negative; advances *p. */
static bool field(const char **p, long long lo, long long hi, long long *out)
{
	const char *s = *p;
	bool neg = false;
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '-') {
		neg = true;
		s++;
	}
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 16 : 10);
	if (errno != 0 || end == s || (*end != '\0' && *end != ' ' && *end != '\t') ||
	    v > (unsigned long long)(hi > -lo ? hi : -lo))
		return false;
	long long x = neg ? -(long long)v : (long long)v;
	if (x < lo || x > hi)
		return false;
	*out = x;
	*p = end;
	return true;
}

static void client_line(struct client *c, const char *line)
{
	const char *p = line;
	long long type, code, value;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return;
	if (!field(&p, 0, 0xffff, &type) || !field(&p, 0, 0xffff, &code) ||
	    !field(&p, INT32_MIN, UINT32_MAX, &value)) {
		D.bad_lines++;
		c->n = 0;
		c->overlong = false;
		say(c->fd, "ERR expected TYPE CODE VALUE\n");
		return;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0') {
		D.bad_lines++;
		c->n = 0;
		c->overlong = false;
		say(c->fd, "ERR trailing characters\n");
		return;
	}
	if (c->n == MAX_UPDATE)
		c->overlong = true;
	else
		c->upd[c->n++] = (struct vdev_input_event){(uint16_t)type, (uint16_t)code,
							    (uint32_t)value};
	if (type != VDEV_INPUT_EV_SYN || code != VDEV_INPUT_SYN_REPORT)
		return;
	if (c->overlong) {
		D.bad_lines++;
		say(c->fd, "ERR update longer than 128 events\n");
	} else if (vdev_input_send(&D.in, c->upd, c->n) == 0) {
		D.updates++;
		say(c->fd, "OK\n");
	} else {
		D.drops++;
		say(c->fd, "DROP\n");
	}
	c->n = 0;
	c->overlong = false;
}

static void client_read(struct client *c)
{
	ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		client_close(c);
		return;
	}
	c->len += (size_t)r;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl == NULL)
			break;
		*nl = '\0';
		if (nl > c->buf && nl[-1] == '\r')
			nl[-1] = '\0';
		client_line(c, c->buf);
		size_t used = (size_t)(nl - c->buf) + 1;
		memmove(c->buf, nl + 1, c->len - used);
		c->len -= used;
	}
	if (c->len == sizeof(c->buf)) { /* a line that does not fit: drop it */
		D.bad_lines++;
		c->len = 0;
		c->n = 0;
		say(c->fd, "ERR line too long\n");
	}
}

static void on_events(void *opaque, int fd)
{
	struct epoll_event evs[MAX_CLIENTS + 1];
	int n;

	(void)opaque, (void)fd;
	n = epoll_wait(D.ep, evs, MAX_CLIENTS + 1, 0);
	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr == NULL) { /* the listening socket */
			int cfd = accept4(D.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (cfd < 0)
				continue;
			struct client *c = NULL;
			for (unsigned k = 0; k < MAX_CLIENTS && c == NULL; k++)
				if (D.clients[k].fd < 0)
					c = &D.clients[k];
			if (c == NULL) {
				say(cfd, "ERR too many clients\n");
				close(cfd);
				continue;
			}
			memset(c, 0, sizeof(*c));
			c->fd = cfd;
			struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
			if (epoll_ctl(D.ep, EPOLL_CTL_ADD, cfd, &ev) != 0) {
				close(cfd);
				c->fd = -1;
			}
			continue;
		}
		client_read(evs[i].data.ptr);
	}
}

/* ---- the device's host side --------------------------------------------------------- */

static void h_status(void *opaque, const struct vdev_input_event *ev)
{
	char line[64];

	(void)opaque;
	snprintf(line, sizeof(line), "STATUS %u %u %d\n", ev->type, ev->code, (int32_t)ev->value);
	if (D.o.log_status)
		fprintf(stderr, PROG ": %s", line);
	for (unsigned k = 0; k < MAX_CLIENTS; k++)
		if (D.clients[k].fd >= 0)
			say(D.clients[k].fd, line);
}

static const struct vdev_input_host_ops host_ops = {
	.size = sizeof(struct vdev_input_host_ops),
	.status = h_status,
};

static int listen_events(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	if (strlen(path) >= sizeof(a.sun_path)) {
		fprintf(stderr, PROG ": --events=%s: path too long\n", path);
		return -1;
	}
	strcpy(a.sun_path, path);
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 8) != 0) {
		fprintf(stderr, PROG ": --events=%s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	char eb[256], name[64];
	int err;

	if (parse(argc, argv, &D.o) != 0)
		return 2;
	snprintf(name, sizeof(name), "vdev %s", D.o.profile);
	const char *nm = D.o.name ? D.o.name : name;
	if (strcmp(D.o.profile, "keyboard") == 0) {
		vdev_input_profile_keyboard(&D.profile, nm);
	} else if (strcmp(D.o.profile, "mouse") == 0) {
		vdev_input_profile_mouse(&D.profile, nm);
	} else if (vdev_input_profile_touchscreen(&D.profile, nm, D.o.width, D.o.height,
						  D.o.slots) != 0) {
		fprintf(stderr, PROG ": bad touch screen size\n");
		return 2;
	}
	if (D.o.serial)
		vdev_input_profile_set_serial(&D.profile, D.o.serial);
	for (unsigned k = 0; k < MAX_CLIENTS; k++)
		D.clients[k].fd = -1;
	D.backlog = calloc(D.o.backlog, sizeof(*D.backlog));
	D.queue_held = calloc((size_t)VDEV_INPUT_NUM_QUEUES *
				      VDEV_VQ_HELD_WORDS(D.o.com.queue_size),
			      sizeof(*D.queue_held));
	if (D.backlog == NULL || D.queue_held == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	vdev_mem_init(&D.mem, NULL, 0);
	struct vdev_input_config c = {
		.profile = &D.profile,
		.queue_size = D.o.com.queue_size,
		.mem = &D.mem,
		.queues = D.queues,
		.queue_held = D.queue_held,
		.iovs = D.iovs,
		.iov_per_chain = IOV_PER_CHAIN,
		.backlog = D.backlog,
		.backlog_len = D.o.backlog,
		.host = &host_ops,
	};
	if ((err = vdev_input_init(&D.in, &c)) != 0) {
		fprintf(stderr, PROG ": cannot set up the device: %s\n", vdev_strerror(err));
		return 1;
	}
	struct vdev_dev *front =
		pcidev_daemon_front(PROG, &D.o.com.pcidev, &D.bus, vdev_input_dev(&D.in), &D.mem);
	if (front == NULL)
		return 1;
	D.listen_fd = listen_events(D.o.events_path);
	D.ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
	if (D.listen_fd < 0 || D.ep < 0 || epoll_ctl(D.ep, EPOLL_CTL_ADD, D.listen_fd, &lev) != 0)
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
	/* Clients come and go: they live in an epoll set of our own, which
	 * the adapter's loop watches on the thread of every ring. */
	if (vdev_vhost_user_add_fd(D.vu, 0, D.ep, on_events, NULL) != 0) {
		fprintf(stderr, PROG ": cannot watch the events socket\n");
		return 1;
	}
	vu_daemon_catch_signals(D.vu);
	if (!D.o.com.quiet)
		fprintf(stderr, PROG ": %s \"%s\", events from %s, serving %s\n", D.o.profile, nm,
			D.o.events_path, vu_daemon_where(&D.o.com));
	err = vdev_vhost_user_run(D.vu);
	if (D.o.com.stats) {
		struct vdev_input_stats st;
		vdev_input_get_stats(&D.in, &st);
		fprintf(stderr,
			PROG ": %llu updates accepted, %llu dropped, %llu bad lines; %llu events "
			"delivered, %llu dropped, at most %llu waiting; %llu status events; bad "
			"buffers: %llu event, %llu status; %llu config queries answered size 0\n",
			(unsigned long long)D.updates, (unsigned long long)D.drops,
			(unsigned long long)D.bad_lines, (unsigned long long)st.events,
			(unsigned long long)st.dropped_events, (unsigned long long)st.backlog_max,
			(unsigned long long)st.status, (unsigned long long)st.bad_event_bufs,
			(unsigned long long)st.bad_status_bufs, (unsigned long long)st.unknown_selects);
	}
	vu_daemon_release_signals();
	struct vdev_vhost_user *vu = D.vu;
	D.vu = NULL;
	vdev_vhost_user_destroy(vu);
	for (unsigned k = 0; k < MAX_CLIENTS; k++)
		if (D.clients[k].fd >= 0)
			close(D.clients[k].fd);
	close(D.listen_fd);
	close(D.ep);
	unlink(D.o.events_path);
	free(D.backlog);
	free(D.queue_held);
	return err == 0 ? 0 : 1;
}
