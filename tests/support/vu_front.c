/* SPDX-License-Identifier: MIT */
/* In-process vhost-user front-end: see vu_front.h. */
#include "vu_front.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vdev/device.h"

enum {
	GET_FEATURES = 1, SET_FEATURES = 2, SET_OWNER = 3, SET_MEM_TABLE = 5,
	SET_VRING_NUM = 8, SET_VRING_ADDR = 9, SET_VRING_BASE = 10, GET_VRING_BASE = 11,
	SET_VRING_KICK = 12, SET_VRING_CALL = 13, GET_PROTOCOL_FEATURES = 15,
	SET_PROTOCOL_FEATURES = 16, SET_VRING_ENABLE = 18, SET_BACKEND_REQ_FD = 21,
	GET_CONFIG = 24, SET_CONFIG = 25, GET_INFLIGHT_FD = 31, SET_INFLIGHT_FD = 32,
};
#define PF_INFLIGHT_SHMFD (1ull << 12)
#define F_PROTOCOL_FEATURES (1ull << 30)
#define VERSION 0x1u
#define PF_WANTED ((1ull << 0) | (1ull << 3) | (1ull << 5) | (1ull << 9) | (1ull << 13))

static int fail(struct vu_front *f, const char *what)
{
	snprintf(f->last_error, sizeof(f->last_error), "%s: %s", what, strerror(errno));
	return -1;
}

void vu_front_attach(struct vu_front *f, int sock)
{
	memset(f, 0, sizeof(*f));
	f->sock = sock;
	f->backend_chan = -1;
	f->inflight_fd = f->reply_fd = -1;
	for (unsigned i = 0; i < VU_FRONT_MAX_QUEUES; i++)
		f->kick[i] = f->call[i] = -1;
}

static void close_session(struct vu_front *f)
{
	if (f->sock >= 0)
		close(f->sock);
	if (f->backend_chan >= 0)
		close(f->backend_chan);
	if (f->reply_fd >= 0)
		close(f->reply_fd);
	f->sock = f->backend_chan = f->reply_fd = -1;
	for (unsigned i = 0; i < VU_FRONT_MAX_QUEUES; i++) {
		if (f->kick[i] >= 0)
			close(f->kick[i]);
		if (f->call[i] >= 0)
			close(f->call[i]);
		f->kick[i] = f->call[i] = -1;
	}
}

void vu_front_reattach(struct vu_front *f, int sock)
{
	close_session(f);
	f->sock = sock;
}

int vu_front_connect(struct vu_front *f, const char *path, int timeout_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = -1;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (int waited = 0; waited <= timeout_ms; waited += 20) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
		usleep(20000);
	}
	vu_front_attach(f, fd);
	return fd >= 0 ? 0 : fail(f, "connect");
}

void vu_front_close(struct vu_front *f)
{
	close_session(f);
	for (unsigned i = 0; i < VU_FRONT_MAX_QUEUES; i++)
		if (f->q[i].token != NULL)
			drv_vq_destroy(&f->q[i]);
	if (f->inflight_fd >= 0)
		close(f->inflight_fd);
	f->inflight_fd = -1;
}

int vu_front_send(struct vu_front *f, uint32_t request, uint32_t flags, const void *payload,
		  uint32_t size, const int *fds, unsigned nfds, bool want_reply, void *reply,
		  uint32_t *reply_len)
{
	uint8_t hdr[12];
	struct iovec iov[2] = {{hdr, 12}, {(void *)(uintptr_t)payload, size}};
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = size ? 2 : 1};

	memcpy(hdr, &request, 4);
	memcpy(hdr + 4, &flags, 4);
	memcpy(hdr + 8, &size, 4);
	if (nfds > 0) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	if (sendmsg(f->sock, &mh, MSG_NOSIGNAL) != (ssize_t)(12 + size))
		return fail(f, "sendmsg");
	if (f->pump != NULL)
		f->pump(f->pump_ctx);
	if (!want_reply)
		return 0;
	struct pollfd p = {f->sock, POLLIN, 0};
	if (poll(&p, 1, 5000) != 1)
		return fail(f, "no reply");
	uint8_t rh[12];
	struct iovec riov = {rh, 12};
	struct msghdr rm = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf)};
	ssize_t got = recvmsg(f->sock, &rm, MSG_WAITALL | MSG_CMSG_CLOEXEC);
	if (got > 0 && got < 12 && recv(f->sock, rh + got, (size_t)(12 - got), MSG_WAITALL) ==
					    12 - got)
		got = 12;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&rm); got > 0 && c != NULL; c = CMSG_NXTHDR(&rm, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			if (f->reply_fd >= 0)
				close(f->reply_fd);
			memcpy(&f->reply_fd, CMSG_DATA(c), sizeof(int));
		}
	}
	if (got != 12) {
		snprintf(f->last_error, sizeof(f->last_error), "connection closed, no reply");
		return -1;
	}
	uint32_t rsize;
	memcpy(&rsize, rh + 8, 4);
	uint8_t body[512];
	if (rsize > sizeof(body) || (rsize && recv(f->sock, body, rsize, MSG_WAITALL) != (ssize_t)rsize))
		return fail(f, "reply body");
	if (reply_len != NULL) {
		uint32_t n = rsize < *reply_len ? rsize : *reply_len;
		memcpy(reply, body, n);
		*reply_len = rsize;
	}
	return 0;
}

static int get_u64(struct vu_front *f, uint32_t req, uint64_t *v)
{
	uint32_t len = 8;
	if (vu_front_send(f, req, VERSION, NULL, 0, NULL, 0, true, v, &len) != 0 || len != 8)
		return -1;
	return 0;
}

static int set_u64(struct vu_front *f, uint32_t req, uint64_t v, const int *fds, unsigned nfds)
{
	return vu_front_send(f, req, VERSION, &v, 8, fds, nfds, false, NULL, NULL);
}

static int set_state(struct vu_front *f, uint32_t req, uint32_t index, uint32_t num)
{
	uint32_t st[2] = {index, num};
	return vu_front_send(f, req, VERSION, st, 8, NULL, 0, false, NULL, NULL);
}

/* GET_INFLIGHT_FD once, SET_INFLIGHT_FD on every start (as QEMU's vhost-user-blk). */
static int inflight_handover(struct vu_front *f, unsigned nq, uint16_t qsize)
{
	uint8_t d[24] = {0};
	uint16_t n16 = (uint16_t)nq;

	if (f->inflight_fd < 0) {
		uint32_t len = sizeof(d);
		memcpy(d + 16, &n16, 2);
		memcpy(d + 18, &qsize, 2);
		if (vu_front_send(f, GET_INFLIGHT_FD, VERSION, d, 24, NULL, 0, true, d, &len) != 0 ||
		    len != 24 || f->reply_fd < 0)
			return fail(f, "GET_INFLIGHT_FD");
		f->inflight_fd = f->reply_fd;
		f->reply_fd = -1;
		memcpy(&f->inflight_size, d, 8);
		f->inflight_nq = n16;
		f->inflight_qsize = qsize;
	}
	memset(d, 0, sizeof(d));
	memcpy(d, &f->inflight_size, 8);
	memcpy(d + 16, &f->inflight_nq, 2);
	memcpy(d + 18, &f->inflight_qsize, 2);
	return vu_front_send(f, SET_INFLIGHT_FD, VERSION, d, 24, &f->inflight_fd, 1, false, NULL,
			     NULL);
}

static int start_common(struct vu_front *f, struct sim_mem *m, uint64_t want, unsigned nq,
			uint16_t qsize, bool resume);

int vu_front_start(struct vu_front *f, struct sim_mem *m, uint64_t want, unsigned nq,
		   uint16_t qsize)
{
	return start_common(f, m, want, nq, qsize, false);
}

int vu_front_resume(struct vu_front *f)
{
	return start_common(f, f->m, f->features, f->nq, f->q[0].size, true);
}

static int start_common(struct vu_front *f, struct sim_mem *m, uint64_t want, unsigned nq,
			uint16_t qsize, bool resume)
{
	uint64_t offered, pf = 0;

	f->m = m;
	if (nq > VU_FRONT_MAX_QUEUES || get_u64(f, GET_FEATURES, &offered) != 0)
		return fail(f, "GET_FEATURES");
	if (offered & F_PROTOCOL_FEATURES) {
		if (get_u64(f, GET_PROTOCOL_FEATURES, &pf) != 0)
			return fail(f, "GET_PROTOCOL_FEATURES");
		f->protocol_features = pf & (PF_WANTED | (f->want_inflight ? PF_INFLIGHT_SHMFD : 0));
		if (set_u64(f, SET_PROTOCOL_FEATURES, f->protocol_features, NULL, 0) != 0)
			return -1;
	}
	if (vu_front_send(f, SET_OWNER, VERSION, NULL, 0, NULL, 0, false, NULL, NULL) != 0)
		return -1;
	if (f->protocol_features & (1ull << 5)) { /* back-end request channel */
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
			return fail(f, "socketpair");
		f->backend_chan = sv[0];
		vu_front_send(f, SET_BACKEND_REQ_FD, VERSION, NULL, 0, &sv[1], 1, false, NULL, NULL);
		close(sv[1]);
	}
	/* The features before the inflight region, as QEMU
	 * (vhost_dev_prepare_inflight): its layout follows them. */
	f->features = offered & want & ~F_PROTOCOL_FEATURES;
	if (set_u64(f, SET_FEATURES, f->features | (offered & F_PROTOCOL_FEATURES), NULL, 0) != 0)
		return -1;
	if ((f->protocol_features & PF_INFLIGHT_SHMFD) && inflight_handover(f, nq, qsize) != 0)
		return -1;
	/* memory table: both regions of the memfd, user addresses = our mapping */
	uint8_t mt[8 + 2 * 32] = {0};
	int fds[2] = {m->memfd, m->memfd};
	uint32_t n = 2;
	memcpy(mt, &n, 4);
	for (unsigned i = 0; i < 2; i++) {
		uint64_t r[4] = {m->regions[i].gpa, m->regions[i].size,
				 (uint64_t)(uintptr_t)m->host[i], (uint64_t)(m->host[i] - m->host[0])};
		memcpy(mt + 8 + 32 * i, r, 32);
	}
	if (vu_front_send(f, SET_MEM_TABLE, VERSION, mt, sizeof(mt), fds, 2, false, NULL, NULL) != 0)
		return -1;
	bool packed = (f->features & VDEV_BIT(VDEV_F_RING_PACKED)) != 0;
	for (unsigned q = 0; q < nq; q++) {
		if (!resume)
			drv_vq_init(&f->q[q], m, qsize, packed,
				    (f->features & VDEV_BIT(VDEV_F_EVENT_IDX)) != 0,
				    (f->features & VDEV_BIT(VDEV_F_INDIRECT_DESC)) != 0, 16);
		f->kick[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		f->call[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		set_state(f, SET_VRING_NUM, q, qsize);
		/* A resumed split ring restarts at the used index (QEMU, when
		 * GET_VRING_BASE found the back-end gone). */
		set_state(f, SET_VRING_BASE, q,
			  packed ? 0x80008000u : resume ? drv_split_used_idx(&f->q[q]) : 0);
		uint8_t a[40] = {0};
		uint64_t desc = (uint64_t)(uintptr_t)f->q[q].desc;
		uint64_t used = (uint64_t)(uintptr_t)f->q[q].device;
		uint64_t avail = (uint64_t)(uintptr_t)f->q[q].driver;
		memcpy(a, &q, 4);
		memcpy(a + 8, &desc, 8);
		memcpy(a + 16, &used, 8);
		memcpy(a + 24, &avail, 8);
		vu_front_send(f, SET_VRING_ADDR, VERSION, a, 40, NULL, 0, false, NULL, NULL);
		set_u64(f, SET_VRING_KICK, q, &f->kick[q], 1);
		set_u64(f, SET_VRING_CALL, q, &f->call[q], 1);
		if (offered & F_PROTOCOL_FEATURES)
			set_state(f, SET_VRING_ENABLE, q, 1);
	}
	f->nq = nq;
	return 0;
}

int64_t vu_front_stop_ring(struct vu_front *f, unsigned q)
{
	uint32_t st[2] = {q, 0}, len = 8;
	if (vu_front_send(f, GET_VRING_BASE, VERSION, st, 8, NULL, 0, true, st, &len) != 0)
		return -1;
	return st[1];
}

int vu_front_get_config(struct vu_front *f, uint32_t off, void *buf, uint32_t len)
{
	uint8_t req[12 + 256] = {0}, rep[12 + 256];
	uint32_t rlen = sizeof(rep);
	memcpy(req, &off, 4);
	memcpy(req + 4, &len, 4);
	if (len > 256 ||
	    vu_front_send(f, GET_CONFIG, VERSION, req, 12 + len, NULL, 0, true, rep, &rlen) != 0 ||
	    rlen != 12 + len)
		return -1;
	memcpy(buf, rep + 12, len);
	return 0;
}

int vu_front_set_config(struct vu_front *f, uint32_t off, const void *buf, uint32_t len)
{
	uint8_t req[12 + 256] = {0};
	memcpy(req, &off, 4);
	memcpy(req + 4, &len, 4);
	memcpy(req + 12, buf, len);
	return vu_front_send(f, SET_CONFIG, VERSION, req, 12 + len, NULL, 0, false, NULL, NULL);
}

void vu_front_kick(struct vu_front *f, unsigned q)
{
	uint64_t one = 1;
	(void)!write(f->kick[q], &one, 8);
	if (f->pump != NULL)
		f->pump(f->pump_ctx);
}

bool vu_front_wait_call(struct vu_front *f, unsigned q, int timeout_ms)
{
	struct pollfd p = {f->call[q], POLLIN, 0};
	uint64_t v;

	if (f->pump != NULL)
		f->pump(f->pump_ctx);
	if (poll(&p, 1, timeout_ms) != 1)
		return false;
	return read(f->call[q], &v, 8) == 8;
}
