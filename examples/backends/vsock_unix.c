/* SPDX-License-Identifier: MIT */
/* virtio-vsock <-> Unix sockets: see vsock_unix.h. */
#include "vsock_unix.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

enum bc_state {
	BC_FREE = 0,
	BC_LINE,       /* host socket accepted, reading "CONNECT <port>\n" */
	BC_CONNECTING, /* vdev_vsock_connect() sent, waiting for the guest */
	BC_OPEN,       /* data both ways */
};

/* One bridged connection: a Unix socket and (while vlive) a vsock id. */
struct bc {
	enum bc_state state;
	uint32_t gen;      /* changes whenever the slot is released */
	int fd;
	bool seq;          /* SOCK_SEQPACKET / vsock seqpacket */
	bool vlive;        /* `id` names a live vsock connection */
	uint32_t id;
	uint32_t host_port, guest_port;
	/* Unix -> guest: in[in_off, in_len) still to send */
	uint8_t *in;
	size_t in_off, in_len;
	bool in_eof;       /* the Unix peer sends no more */
	bool shut_sent;    /* ... and the guest was told (SHUTDOWN send) */
	bool guest_rcv_shut; /* the guest receives no more */
	/* guest -> Unix: a ring of buf_size bytes (the device's budget for
	 * the connection), out_len bytes from out_head still to write; each
	 * byte written is reported with vdev_vsock_consumed() */
	uint8_t *out;
	size_t out_head, out_len;
	/* seqpacket: lengths of the complete messages at the front of the
	 * ring, and the bytes of the one still coming (no EOM yet) */
	size_t msg[VSOCK_UNIX_SEQ_MSGS];
	unsigned msg_head, msg_count;
	size_t msg_cur;
	/* "OK <port>\n" to the host program, before any guest data */
	char ok[24];
	size_t ok_off, ok_len;
	bool guest_snd_shut; /* the guest sends no more */
	bool wr_shut;      /* shutdown(SHUT_WR) done */
	bool closing;      /* vdev_vsock_close() called */
	bool broken;       /* the Unix socket failed */
	uint32_t watching; /* epoll events registered (0: not in the set) */
	char line[VSOCK_UNIX_LINE_MAX];
	size_t line_len;
};

struct vsock_unix {
	struct vsock_unix_config cfg;
	int epfd, lfd, lfd_seq;
	char path[108], path_seq[108];
	struct bc *conns;
	unsigned nconns;
	uint32_t next_port;
	struct vsock_unix_stats stats;
};

#define TAG_LISTEN 0xffffffffu
#define TAG_LISTEN_SEQ 0xfffffffeu

/* ---- connection slots and their epoll interest ------------------------------- */

static struct bc *bc_by_id(struct vsock_unix *b, uint32_t id)
{
	for (unsigned i = 0; i < b->cfg.max_conns; i++)
		if (b->conns[i].state != BC_FREE && b->conns[i].vlive && b->conns[i].id == id)
			return &b->conns[i];
	return NULL;
}

static struct bc *bc_new(struct vsock_unix *b, int fd, bool seq, enum bc_state st)
{
	for (unsigned i = 0; i < b->cfg.max_conns; i++) {
		struct bc *c = &b->conns[i];
		uint32_t gen = c->gen;

		if (c->state != BC_FREE)
			continue;
		memset(c, 0, sizeof(*c));
		c->gen = gen;
		c->in = malloc(b->cfg.buf_size);
		c->out = malloc(b->cfg.buf_size);
		if (c->in == NULL || c->out == NULL) {
			free(c->in);
			free(c->out);
			return NULL;
		}
		c->fd = fd;
		c->seq = seq;
		c->state = st;
		b->nconns++;
		return c;
	}
	return NULL;
}

static void bc_release(struct vsock_unix *b, struct bc *c)
{
	if (c->state == BC_FREE)
		return;
	if (c->vlive)
		(void)vdev_vsock_abort(b->cfg.vs, c->id);
	c->vlive = false;
	if (c->watching)
		epoll_ctl(b->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	c->state = BC_FREE;
	c->gen++;
	b->nconns--;
}

static bool out_pending(const struct bc *c)
{
	return c->ok_off < c->ok_len || (c->seq ? c->msg_count > 0 : c->out_len > 0);
}

static bool in_pending(const struct bc *c)
{
	return c->in_off < c->in_len;
}

/* Watch for exactly what the connection can use now (nothing: out of the
 * set, so a hung-up peer we do not read from does not spin the loop). */
static void bc_watch(struct vsock_unix *b, struct bc *c)
{
	uint32_t want = 0;
	struct epoll_event ev;

	if (c->state == BC_FREE)
		return;
	if (c->state == BC_LINE ||
	    (c->state == BC_OPEN && c->vlive && !c->in_eof && !c->guest_rcv_shut && !in_pending(c)))
		want |= EPOLLIN;
	if (out_pending(c) && !c->broken)
		want |= EPOLLOUT;
	if (want == c->watching)
		return;
	ev.events = want;
	ev.data.u64 = (uint64_t)(c - b->conns);
	if (want == 0)
		epoll_ctl(b->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	else
		epoll_ctl(b->epfd, c->watching ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev);
	c->watching = want;
}

/* ---- guest -> Unix ----------------------------------------------------------- */

/* The first `len` bytes of the ring as at most two segments. */
static unsigned ring_segs(const struct vsock_unix *b, const struct bc *c, size_t len,
			  struct iovec v[2])
{
	size_t cap = b->cfg.buf_size, first = cap - c->out_head;

	if (len == 0)
		return 0;
	v[0] = (struct iovec){c->out + c->out_head, len < first ? len : first};
	if (len <= first)
		return 1;
	v[1] = (struct iovec){c->out, len - first};
	return 2;
}

/* Append len bytes of the device's iov from offset off (room checked). */
static void ring_put(const struct vsock_unix *b, struct bc *c, const struct vdev_iov *iov,
		     unsigned n, size_t off, size_t len)
{
	size_t cap = b->cfg.buf_size, tail = (c->out_head + c->out_len) % cap;
	size_t first = cap - tail < len ? cap - tail : len;

	vdev_iov_to_buf(iov, n, off, c->out + tail, first);
	vdev_iov_to_buf(iov, n, off + first, c->out, len - first);
	c->out_len += len;
}

/* `len` bytes left the ring for the Unix peer: their budget goes back. */
static void ring_done(struct vsock_unix *b, struct bc *c, size_t len)
{
	c->out_head = (c->out_head + len) % b->cfg.buf_size;
	c->out_len -= len;
	if (c->vlive && len > 0)
		(void)vdev_vsock_consumed(b->cfg.vs, c->id, (uint32_t)len);
}

/* One send without blocking: 1 (sent, *sent bytes; a seqpacket message
 * goes whole, an empty one too), 0 (would block), -1 (the socket failed:
 * c->broken). */
static int send_nb(struct bc *c, struct iovec *v, unsigned nv, size_t *sent)
{
	struct msghdr mh = {.msg_iov = v, .msg_iovlen = nv};
	ssize_t w;

	do
		w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	if (w >= 0) {
		*sent = (size_t)w;
		return 1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	c->broken = true;
	return -1;
}

/* Write what waits for the Unix peer (the OK line, then guest data).
 * Returns 0 (all or some written, or would block), -1 if the socket
 * failed. */
static int out_write(struct vsock_unix *b, struct bc *c)
{
	struct iovec v[2];
	size_t w;
	int rc;

	while (c->ok_off < c->ok_len) {
		v[0] = (struct iovec){c->ok + c->ok_off, c->ok_len - c->ok_off};
		if ((rc = send_nb(c, v, 1, &w)) <= 0)
			return rc;
		c->ok_off = c->seq ? c->ok_len : c->ok_off + w;
	}
	if (c->seq) {
		while (c->msg_count > 0) {
			size_t len = c->msg[c->msg_head];
			unsigned nv = ring_segs(b, c, len, v);

			if ((rc = send_nb(c, v, nv, &w)) <= 0)
				return rc;
			c->msg_head = (c->msg_head + 1u) % VSOCK_UNIX_SEQ_MSGS;
			c->msg_count--;
			ring_done(b, c, len);
		}
		return 0;
	}
	while (c->out_len > 0) {
		unsigned nv = ring_segs(b, c, c->out_len, v);

		if ((rc = send_nb(c, v, nv, &w)) <= 0)
			return rc;
		ring_done(b, c, w);
	}
	c->out_head = 0; /* empty: the next packet goes in one piece */
	return 0;
}

/* What follows from the state both sides are in: SHUT_WR, vsock SHUTDOWN
 * or close, releasing a connection that is done. From ops and the loop. */
static void bc_settle(struct vsock_unix *b, struct bc *c)
{
	if (c->state == BC_FREE)
		return;
	if (c->broken) {
		bc_release(b, c); /* the Unix side failed: reset the vsock side */
		return;
	}
	if (!c->vlive && c->state != BC_LINE) {
		/* the vsock side is gone: deliver what we have, then close */
		if (!out_pending(c)) {
			bc_release(b, c);
			return;
		}
	}
	if (c->vlive && c->state == BC_OPEN) {
		if (c->guest_snd_shut && !out_pending(c) && !c->wr_shut) {
			shutdown(c->fd, SHUT_WR);
			c->wr_shut = true;
		}
		if (c->in_eof && !in_pending(c) && !c->shut_sent) {
			c->shut_sent = true;
			(void)vdev_vsock_shutdown(b->cfg.vs, c->id, VDEV_VSOCK_SHUTDOWN_SEND);
		}
		if (c->shut_sent && c->wr_shut && !c->closing) {
			c->closing = true;
			(void)vdev_vsock_close(b->cfg.vs, c->id);
		}
	}
	bc_watch(b, c);
}

/*
 * Guest data. The device keeps to the budget (what waits here unconsumed,
 * plus len, is at most its buf_alloc = our buf_size), so this always
 * takes the packet: straight to the Unix socket as far as it goes, the
 * rest into the ring. Beyond the budget (a device set up with a larger
 * buf_alloc than buf_size) resets the connection.
 */
static int op_recv(void *opaque, uint32_t id, const struct vdev_iov *iov, unsigned n, size_t len,
		   uint32_t flags)
{
	struct vsock_unix *b = opaque;
	struct bc *c = bc_by_id(b, id);
	size_t cap = b->cfg.buf_size, done = 0;

	if (c == NULL || c->broken)
		return VDEV_EIO;
	if (c->wr_shut) {
		/* nobody reads it any more: consumed */
		(void)vdev_vsock_consumed(b->cfg.vs, id, (uint32_t)len);
		return 0;
	}
	if (len > cap - c->out_len)
		return VDEV_ENOSPC;
	b->stats.from_guest += len;
	if (c->seq) {
		bool eom = (flags & VDEV_VSOCK_SEQ_EOM) != 0;

		if (!eom && c->msg_cur + len >= cap)
			return VDEV_EMSGSIZE; /* a message that cannot fit our buffer */
		if (eom && c->msg_count == VSOCK_UNIX_SEQ_MSGS)
			return VDEV_ENOSPC; /* too many messages wait for the peer */
		ring_put(b, c, iov, n, 0, len);
		c->msg_cur += len;
		if (eom) {
			c->msg[(c->msg_head + c->msg_count) % VSOCK_UNIX_SEQ_MSGS] = c->msg_cur;
			c->msg_count++;
			c->msg_cur = 0;
			if (out_write(b, c) < 0)
				return VDEV_EIO;
			if (c->msg_count > 0)
				b->stats.buffered++;
		}
		bc_watch(b, c);
		return 0;
	}
	if (!out_pending(c) && len > 0) {
		/* straight to the socket; what it does not take waits in the ring */
		struct iovec v[64];
		unsigned k = n < 64 ? n : 64;
		int rc;

		for (unsigned i = 0; i < k; i++)
			v[i] = (struct iovec){iov[i].base, iov[i].len};
		rc = send_nb(c, v, k, &done);
		if (rc < 0)
			return VDEV_EIO;
		if (rc == 0)
			done = 0;
		(void)vdev_vsock_consumed(b->cfg.vs, id, (uint32_t)done);
	}
	if (done < len) {
		ring_put(b, c, iov, n, done, len - done);
		b->stats.buffered++;
	}
	bc_watch(b, c);
	return 0;
}

/* ---- Unix -> guest ----------------------------------------------------------- */

/* Read from the Unix socket and send to the guest while both can. */
static void pump_in(struct vsock_unix *b, struct bc *c)
{
	for (int budget = 0; budget < 16; budget++) {
		if (c->state != BC_OPEN || !c->vlive || c->guest_rcv_shut)
			return;
		if (!in_pending(c)) {
			ssize_t r;

			if (c->in_eof)
				return;
			if (c->seq)
				r = recv(c->fd, c->in, b->cfg.buf_size, MSG_TRUNC | MSG_DONTWAIT);
			else
				r = recv(c->fd, c->in, b->cfg.buf_size, MSG_DONTWAIT);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return;
			if (r < 0 || (size_t)r > b->cfg.buf_size) {
				c->broken = true; /* error, or a message larger than ours */
				bc_release(b, c);
				return;
			}
			if (r == 0) {
				c->in_eof = true;
				return;
			}
			c->in_off = 0;
			c->in_len = (size_t)r;
		}
		struct vdev_iov v = {c->in + c->in_off, c->in_len - c->in_off};
		int rc = vdev_vsock_send(b->cfg.vs, c->id, &v, 1, v.len,
					 c->seq ? VDEV_VSOCK_SEQ_EOM : 0u);
		if (rc == VDEV_EAGAIN) {
			b->stats.paused++;
			return; /* the writable op brings us back */
		}
		if (rc < 0) {
			/* the guest takes no more: drop it and stop reading */
			c->in_off = c->in_len = 0;
			c->guest_rcv_shut = true;
			return;
		}
		c->in_off += (size_t)rc;
		b->stats.to_guest += (uint64_t)rc;
		if (in_pending(c)) {
			b->stats.paused++;
			return;
		}
	}
}

static void op_writable(void *opaque, uint32_t id)
{
	struct vsock_unix *b = opaque;
	struct bc *c = bc_by_id(b, id);

	if (c == NULL)
		return;
	pump_in(b, c);
	bc_settle(b, c);
}

/* ---- connections from the guest ----------------------------------------------- */

static int op_accept(void *opaque, uint32_t id, uint32_t host_port, uint32_t guest_port,
		     uint16_t type)
{
	struct vsock_unix *b = opaque;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	bool seq = type == VDEV_VSOCK_TYPE_SEQPACKET;
	int fd;
	struct bc *c;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", b->cfg.path, host_port) >=
	    (int)sizeof(sa.sun_path))
		return VDEV_EINVAL;
	fd = socket(AF_UNIX, (seq ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0)
		return VDEV_ENOMEM;
	/* A Unix connect completes at once or fails (EAGAIN: backlog full). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		b->stats.refused++;
		return VDEV_ENOENT;
	}
	c = bc_new(b, fd, seq, BC_OPEN);
	if (c == NULL) {
		close(fd);
		return VDEV_ENOMEM;
	}
	c->vlive = true;
	c->id = id;
	c->host_port = host_port;
	c->guest_port = guest_port;
	b->stats.guest_connects++;
	bc_watch(b, c);
	return 0;
}

/* ---- connections from the host ------------------------------------------------ */

/* "CONNECT <port>\n" -> port; -1 if malformed. */
static int64_t parse_connect(const char *s, size_t len)
{
	static const char verb[] = "CONNECT ";
	uint64_t port = 0;
	size_t i = sizeof(verb) - 1;

	if (len < i + 2 || memcmp(s, verb, i) != 0 || s[len - 1] != '\n')
		return -1;
	for (; i < len - 1; i++) {
		if (s[i] < '0' || s[i] > '9' || port > UINT32_MAX / 10u)
			return -1;
		port = port * 10u + (uint64_t)(s[i] - '0');
	}
	return port > UINT32_MAX ? -1 : (int64_t)port;
}

static void start_connect(struct vsock_unix *b, struct bc *c, uint32_t guest_port)
{
	uint16_t type = c->seq ? VDEV_VSOCK_TYPE_SEQPACKET : VDEV_VSOCK_TYPE_STREAM;

	for (unsigned tries = 0; tries < 64; tries++) {
		uint32_t port = b->next_port, id;
		int rc;

		b->next_port = port + 1u < VSOCK_UNIX_FIRST_PORT || port == UINT32_MAX - 1u
				       ? VSOCK_UNIX_FIRST_PORT : port + 1u;
		rc = vdev_vsock_connect(b->cfg.vs, port, guest_port, type, &id);
		if (rc == VDEV_EEXIST)
			continue;
		if (rc != 0)
			break;
		c->state = BC_CONNECTING;
		c->vlive = true;
		c->id = id;
		c->host_port = port;
		c->guest_port = guest_port;
		bc_watch(b, c);
		return;
	}
	b->stats.refused++;
	bc_release(b, c);
}

/* Read the CONNECT line (byte by byte: what follows it is the stream). */
static void read_line(struct vsock_unix *b, struct bc *c)
{
	int64_t port;

	if (c->seq) {
		ssize_t r = recv(c->fd, c->line, sizeof(c->line), MSG_TRUNC | MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (r <= 0 || (size_t)r > sizeof(c->line)) {
			if (r > 0)
				b->stats.bad_lines++;
			bc_release(b, c);
			return;
		}
		c->line_len = (size_t)r;
	} else {
		for (;;) {
			ssize_t r = recv(c->fd, c->line + c->line_len, 1, MSG_DONTWAIT);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				return;
			if (r <= 0) {
				bc_release(b, c); /* gone before a whole line */
				return;
			}
			c->line_len++;
			if (c->line[c->line_len - 1] == '\n')
				break;
			if (c->line_len == sizeof(c->line)) {
				b->stats.bad_lines++;
				bc_release(b, c);
				return;
			}
		}
	}
	port = parse_connect(c->line, c->line_len);
	if (port < 0) {
		b->stats.bad_lines++;
		bc_release(b, c);
		return;
	}
	start_connect(b, c, (uint32_t)port);
}

static void op_event(void *opaque, uint32_t id, enum vdev_vsock_event ev, uint32_t arg)
{
	struct vsock_unix *b = opaque;
	struct bc *c = bc_by_id(b, id);

	if (c == NULL)
		return;
	switch (ev) {
	case VDEV_VSOCK_EV_CONNECTED: {
		int n = snprintf(c->ok, sizeof(c->ok), "OK %u\n", c->host_port);
		c->state = BC_OPEN;
		c->ok_off = 0;
		c->ok_len = (size_t)n;
		b->stats.host_connects++;
		(void)out_write(b, c);
		pump_in(b, c); /* bytes after the CONNECT line */
		break;
	}
	case VDEV_VSOCK_EV_REFUSED:
		c->vlive = false;
		b->stats.refused++;
		bc_release(b, c);
		return;
	case VDEV_VSOCK_EV_SHUTDOWN:
		if (arg & VDEV_VSOCK_SHUTDOWN_SEND)
			c->guest_snd_shut = true;
		if (arg & VDEV_VSOCK_SHUTDOWN_RCV) {
			c->guest_rcv_shut = true;
			c->in_off = c->in_len = 0;
		}
		break;
	case VDEV_VSOCK_EV_RESET:
	case VDEV_VSOCK_EV_CLOSED:
		c->vlive = false; /* the id is dead; deliver what out holds */
		break;
	}
	bc_settle(b, c);
}

const struct vdev_vsock_host_ops vsock_unix_host_ops = {
	.size = sizeof(struct vdev_vsock_host_ops),
	.accept = op_accept,
	.recv = op_recv,
	.event = op_event,
	.writable = op_writable,
};

/* ---- the loop ------------------------------------------------------------------ */

static void do_accept(struct vsock_unix *b, int lfd, bool seq)
{
	for (int k = 0; k < 16; k++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct bc *c;

		if (fd < 0)
			return;
		c = bc_new(b, fd, seq, BC_LINE);
		if (c == NULL) {
			close(fd); /* table full */
			continue;
		}
		bc_watch(b, c);
	}
}

static void bc_io(struct vsock_unix *b, struct bc *c, uint32_t events)
{
	uint32_t gen = c->gen;

	if (c->state == BC_LINE) {
		read_line(b, c);
		return;
	}
	if (out_pending(c) && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		/* reports what it wrote as consumed (no host op runs) */
		if (out_write(b, c) < 0) {
			bc_release(b, c);
			return;
		}
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		pump_in(b, c);
	if (c->gen == gen)
		bc_settle(b, c);
}

void vsock_unix_poll(struct vsock_unix *b)
{
	struct epoll_event evs[32];
	int n = epoll_wait(b->epfd, evs, 32, 0);

	for (int i = 0; i < n; i++) {
		uint32_t t = (uint32_t)evs[i].data.u64;

		if (t == TAG_LISTEN)
			do_accept(b, b->lfd, false);
		else if (t == TAG_LISTEN_SEQ)
			do_accept(b, b->lfd_seq, true);
		else if (t < b->cfg.max_conns && b->conns[t].state != BC_FREE)
			bc_io(b, &b->conns[t], evs[i].events); /* a stale event does no harm */
	}
}

/* ---- set-up ------------------------------------------------------------------ */

static int listen_at(const char *path, int type, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket", path);
			return -1;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

struct vsock_unix *vsock_unix_create(const struct vsock_unix_config *cfg, char *err,
				     size_t errlen)
{
	struct vsock_unix *b;
	struct epoll_event ev = {.events = EPOLLIN};

	if (cfg->path == NULL || strlen(cfg->path) + 12 > sizeof(b->path) || cfg->max_conns == 0 ||
	    cfg->max_conns > 65535 || cfg->buf_size < VSOCK_UNIX_LINE_MAX ||
	    cfg->buf_size > UINT32_MAX || cfg->vs == NULL) {
		snprintf(err, errlen, "bad vsock bridge configuration");
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (b == NULL || (b->conns = calloc(cfg->max_conns, sizeof(*b->conns))) == NULL) {
		free(b);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b->cfg = *cfg;
	b->lfd = b->lfd_seq = -1;
	b->next_port = VSOCK_UNIX_FIRST_PORT;
	snprintf(b->path, sizeof(b->path), "%s", cfg->path);
	snprintf(b->path_seq, sizeof(b->path_seq), "%s.seqpacket", cfg->path);
	b->cfg.path = b->path;
	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (b->epfd < 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		goto fail;
	}
	if ((b->lfd = listen_at(b->path, SOCK_STREAM, err, errlen)) < 0)
		goto fail;
	ev.data.u64 = TAG_LISTEN;
	if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->lfd, &ev) != 0)
		goto fail;
	if (cfg->seqpacket) {
		if ((b->lfd_seq = listen_at(b->path_seq, SOCK_SEQPACKET, err, errlen)) < 0)
			goto fail;
		ev.data.u64 = TAG_LISTEN_SEQ;
		if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->lfd_seq, &ev) != 0)
			goto fail;
	}
	return b;
fail:
	vsock_unix_destroy(b);
	return NULL;
}

void vsock_unix_destroy(struct vsock_unix *b)
{
	if (b == NULL)
		return;
	for (unsigned i = 0; i < b->cfg.max_conns; i++) {
		struct bc *c = &b->conns[i];
		if (c->state != BC_FREE) {
			c->vlive = false; /* the device may be gone already */
			bc_release(b, c);
		}
	}
	if (b->lfd >= 0) {
		close(b->lfd);
		unlink(b->path);
	}
	if (b->lfd_seq >= 0) {
		close(b->lfd_seq);
		unlink(b->path_seq);
	}
	if (b->epfd >= 0)
		close(b->epfd);
	free(b->conns);
	free(b);
}

int vsock_unix_fd(const struct vsock_unix *b)
{
	return b->epfd;
}

unsigned vsock_unix_num_conns(const struct vsock_unix *b)
{
	return b->nconns;
}

void vsock_unix_get_stats(const struct vsock_unix *b, struct vsock_unix_stats *out)
{
	*out = b->stats;
}
