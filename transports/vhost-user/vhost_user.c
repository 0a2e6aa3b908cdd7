/* SPDX-License-Identifier: MIT */
/*
 * libvdev — vhost-user back-end adapter (see include/vdev/vhost_user.h).
 * Written from QEMU's docs/interop/vhost-user.rst protocol description.
 *
 * Reads top-down: protocol constants, message I/O, memory table, rings
 * (start / stop / kick), the message handlers, the session, the loops.
 */
#define _GNU_SOURCE
#include "vdev/vhost_user.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vdev/inflight.h"
#include "vdev/virtqueue.h"

/* ---- protocol ------------------------------------------------------------------ */

enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_SET_BACKEND_REQ_FD = 21,
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_GET_INFLIGHT_FD = 31,
	VU_SET_INFLIGHT_FD = 32,
	VU_RESET_DEVICE = 34,
};

#define VU_BACKEND_CONFIG_CHANGE_MSG 2

#define VU_F_PROTOCOL_FEATURES 30
#define VU_PF_MQ 0
#define VU_PF_REPLY_ACK 3
#define VU_PF_BACKEND_REQ 5
#define VU_PF_CONFIG 9
#define VU_PF_INFLIGHT_SHMFD 12
#define VU_PF_RESET_DEVICE 13
#define VU_OUR_PROTOCOL_FEATURES                                                           \
	(VDEV_BIT(VU_PF_MQ) | VDEV_BIT(VU_PF_REPLY_ACK) | VDEV_BIT(VU_PF_BACKEND_REQ) |      \
	 VDEV_BIT(VU_PF_CONFIG) | VDEV_BIT(VU_PF_RESET_DEVICE))
/* The inflight description: u64 mmap_size, u64 mmap_offset, u16 num_queues,
 * u16 queue_size (QEMU sends the struct's size, 24 with its padding). */
#define VU_INFLIGHT_MSG_MIN 20u
#define VU_INFLIGHT_MSG 24u
/* One queue's share of the inflight region (the back-end's choice; the
 * front-end only keeps the whole). */
#define VU_INFLIGHT_ALIGN 64u

#define VU_FLAG_VERSION 0x1u
#define VU_FLAG_VERSION_MASK 0x3u
#define VU_FLAG_REPLY 0x4u
#define VU_FLAG_NEED_REPLY 0x8u

#define VU_HDR_SIZE 12u
#define VU_MAX_PAYLOAD 4096u
#define VU_MAX_FDS 8u
#define VU_VRING_IDX_MASK 0xffu
#define VU_VRING_NOFD 0x100u
#define VU_MAX_CONFIG 256u
#define VU_REGION_SIZE 32u /* guest addr, size, user addr, mmap offset */

struct vu_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	uint8_t payload[VU_MAX_PAYLOAD];
	int fds[VU_MAX_FDS];
	unsigned nfds;
};

static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* ---- state ----------------------------------------------------------------------- */

/* Bytes [lo, hi) of the file (st_dev, st_ino) a mapping shows. */
struct vu_file_range {
	dev_t dev;
	ino_t ino;
	uint64_t lo, hi;
};

struct vu_region {
	uint64_t gpa, size, uva;
	void *map;
	size_t map_len;
	struct vu_file_range file;
};

/*
 * Two mappings of the same bytes of one file are two host addresses for
 * one memory, which the queues' checks of their rings against each other
 * (vdev_vq_start()) cannot see: a front-end could lay a used ring over an
 * avail ring through them, or the inflight log's used index over an avail
 * index. Memory regions and the inflight region must not share bytes.
 */
static bool file_ranges_meet(const struct vu_file_range *a, const struct vu_file_range *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->lo < b->hi && b->lo < a->hi;
}

struct vu_watch {
	int fd;
	uint16_t q;
	void (*cb)(void *opaque, int fd);
	void *opaque;
};

struct vu_ring {
	pthread_mutex_t lock;
	struct vdev_vhost_user *vu;
	uint16_t index;
	int kick_fd, call_fd, err_fd;
	uint32_t num;
	uint64_t desc_uva, avail_uva, used_uva;
	uint32_t base;
	bool num_set, addr_set, started, enabled;
	/* in-flight log (INFLIGHT_SHMFD), for this ring's share of the region */
	struct vdev_vq_inflight log;
	uint16_t *log_order;
	bool logging;
	/* thread_per_queue */
	int epfd, stop_fd;
	pthread_t thread;
	bool thread_started;
};

/* epoll tags: kind in the high half, an index in the low */
enum { TAG_LISTEN = 1, TAG_CONN, TAG_STOP, TAG_KICK, TAG_WATCH };
static uint64_t tag(uint32_t kind, uint32_t idx) { return (uint64_t)kind << 32 | idx; }

struct vdev_vhost_user {
	struct vdev_vhost_user_config cfg;
	struct vdev_dev *dev;
	int listen_fd, conn_fd, backend_fd, stop_fd, epfd;
	bool own_listen;
	char socket_path[108];
	uint64_t protocol_features;
	uint64_t acked_features;
	bool features_set;
	bool proto_acked; /* VHOST_USER_F_PROTOCOL_FEATURES in SET_FEATURES */
	struct vu_region regions[VDEV_VHOST_USER_MAX_REGIONS];
	struct vdev_mem_region memtab[VDEV_VHOST_USER_MAX_REGIONS];
	unsigned nregions;
	struct vu_ring *rings;
	uint16_t nrings;
	struct vu_watch *watches;
	unsigned nwatches;
	pthread_mutex_t backend_lock;
	struct vdev_vhost_user_stats stats;
	volatile int stopping;
	bool session_ended;
	struct vu_msg msg; /* one message at a time (control thread) */
	/* INFLIGHT_SHMFD: the region the front-end keeps for us */
	void *inflight_map;
	size_t inflight_map_len;
	uint8_t *inflight_base; /* map + mmap_offset */
	uint64_t inflight_qlen; /* bytes per queue */
	uint16_t inflight_nq, inflight_qsize;
	struct vu_file_range inflight_file; /* valid while inflight_map != NULL */
};

static void logf_(struct vdev_vhost_user *vu, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void logf_(struct vdev_vhost_user *vu, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (vu->cfg.log != NULL)
		vu->cfg.log(vu->cfg.opaque, buf);
	else
		fprintf(stderr, "vhost-user: %s\n", buf);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void signal_eventfd(int fd)
{
	uint64_t one = 1;
	if (fd >= 0)
		(void)!write(fd, &one, sizeof(one));
}

/* ---- message I/O ------------------------------------------------------------------- */

/*
 * Read one message. Returns 1 with *m filled, 0 if nothing is ready
 * (nonblock), or a negative VDEV_E* (peer gone, malformed framing). File
 * descriptors received are owned by *m until the handler takes them; the
 * caller closes those left over.
 */
static int read_msg(int fd, struct vu_msg *m, bool nonblock)
{
	union {
		char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	uint8_t hdr[VU_HDR_SIZE];
	struct iovec iov = {hdr, sizeof(hdr)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf)};
	ssize_t r;
	size_t got;

	m->nfds = 0;
	do {
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | (nonblock ? MSG_DONTWAIT : 0));
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : VDEV_EIO;
	if (r == 0)
		return VDEV_EIO; /* peer closed */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (m->nfds < VU_MAX_FDS)
				m->fds[m->nfds++] = f;
			else
				close(f);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		return VDEV_EPROTO; /* more fds than any message carries */
	got = (size_t)r;
	while (got < sizeof(hdr)) {
		r = recv(fd, hdr + got, sizeof(hdr) - got, 0);
		if (r <= 0 && !(r < 0 && errno == EINTR))
			return VDEV_EIO;
		if (r > 0)
			got += (size_t)r;
	}
	m->request = get32(hdr);
	m->flags = get32(hdr + 4);
	m->size = get32(hdr + 8);
	if ((m->flags & VU_FLAG_VERSION_MASK) != VU_FLAG_VERSION || m->size > VU_MAX_PAYLOAD)
		return VDEV_EPROTO;
	got = 0;
	while (got < m->size) {
		r = recv(fd, m->payload + got, m->size - got, 0);
		if (r <= 0 && !(r < 0 && errno == EINTR))
			return VDEV_EIO;
		if (r > 0)
			got += (size_t)r;
	}
	return 1;
}

static int send_msg_fd(int fd, uint32_t request, uint32_t flags, const void *payload,
		       uint32_t size, int pass_fd)
{
	uint8_t buf[VU_HDR_SIZE + VU_MAX_CONFIG + 16];
	size_t len = VU_HDR_SIZE + size;
	size_t off = 0;

	if (size > sizeof(buf) - VU_HDR_SIZE)
		return VDEV_EMSGSIZE;
	memcpy(buf, &request, 4);
	memcpy(buf + 4, &flags, 4);
	memcpy(buf + 8, &size, 4);
	if (size > 0)
		memcpy(buf + VU_HDR_SIZE, payload, size);
	if (pass_fd >= 0) {
		/* The fd travels with the first bytes of the message. */
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = {buf, len};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
				    .msg_controllen = sizeof(ctl.buf)};
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		ssize_t w;

		memset(&ctl, 0, sizeof(ctl));
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
		do {
			w = sendmsg(fd, &mh, MSG_NOSIGNAL);
		} while (w < 0 && errno == EINTR);
		if (w <= 0)
			return VDEV_EIO;
		off = (size_t)w;
	}
	while (off < len) {
		ssize_t w = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		/* Linux UML's back-end channel is a pipe, not a socket:
		 * write(), which raises SIGPIPE if the front-end is gone
		 * (see the header: integrators ignore SIGPIPE). */
		if (w < 0 && errno == ENOTSOCK)
			w = write(fd, buf + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return VDEV_EIO;
		off += (size_t)w;
	}
	return 0;
}

static int send_msg(int fd, uint32_t request, uint32_t flags, const void *payload, uint32_t size)
{
	return send_msg_fd(fd, request, flags, payload, size, -1);
}

static int reply(struct vdev_vhost_user *vu, const struct vu_msg *m, const void *p, uint32_t size)
{
	return send_msg(vu->conn_fd, m->request, VU_FLAG_VERSION | VU_FLAG_REPLY, p, size);
}

static int reply_u64(struct vdev_vhost_user *vu, const struct vu_msg *m, uint64_t v)
{
	uint8_t p[8];
	put64(p, v);
	return reply(vu, m, p, 8);
}

/* ---- device-core transport hooks: interrupts and config changes -------------------- */

static void t_notify_queue(void *opaque, uint16_t q)
{
	struct vdev_vhost_user *vu = opaque;

	if (q < vu->nrings) {
		signal_eventfd(__atomic_load_n(&vu->rings[q].call_fd, __ATOMIC_ACQUIRE));
		__atomic_fetch_add(&vu->stats.calls, 1, __ATOMIC_RELAXED);
	}
}

static void t_notify_config(void *opaque)
{
	struct vdev_vhost_user *vu = opaque;

	/* A broken ring: tell the front-end on every ring's error eventfd. */
	if (vdev_dev_status(vu->dev) & VDEV_STATUS_NEEDS_RESET)
		for (uint16_t i = 0; i < vu->nrings; i++)
			signal_eventfd(__atomic_load_n(&vu->rings[i].err_fd, __ATOMIC_ACQUIRE));
	pthread_mutex_lock(&vu->backend_lock);
	if (vu->backend_fd >= 0 && (vu->protocol_features & VDEV_BIT(VU_PF_CONFIG)))
		(void)send_msg(vu->backend_fd, VU_BACKEND_CONFIG_CHANGE_MSG, VU_FLAG_VERSION, NULL, 0);
	pthread_mutex_unlock(&vu->backend_lock);
}

static const struct vdev_transport_ops vu_transport_ops = {
	.size = sizeof(struct vdev_transport_ops),
	.notify_queue = t_notify_queue,
	.notify_config = t_notify_config,
};

/* ---- memory table ------------------------------------------------------------------------ */

static void unmap_regions(struct vdev_vhost_user *vu)
{
	for (unsigned i = 0; i < vu->nregions; i++)
		munmap(vu->regions[i].map, vu->regions[i].map_len);
	vu->nregions = 0;
	(void)vdev_mem_init(vu->cfg.mem, NULL, 0);
}

/* Front-end user address -> guest address (ring addresses come as UVAs). */
static bool uva_to_gpa(const struct vdev_vhost_user *vu, uint64_t uva, uint64_t *gpa)
{
	for (unsigned i = 0; i < vu->nregions; i++) {
		const struct vu_region *r = &vu->regions[i];
		if (uva >= r->uva && uva - r->uva < r->size) {
			*gpa = r->gpa + (uva - r->uva);
			return true;
		}
	}
	return false;
}

static int cmp_region(const void *a, const void *b)
{
	const struct vdev_mem_region *x = a, *y = b;
	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* ---- in-flight region (INFLIGHT_SHMFD) ------------------------------------------------------- */

/* Bytes of region per queue of `queue_size` entries (a multiple of 64),
 * for the split or the packed layout. */
static uint64_t inflight_queue_len(uint32_t queue_size, bool packed)
{
	uint64_t n = packed ? VDEV_INFLIGHT_PACKED_SIZE(queue_size)
			    : VDEV_INFLIGHT_SPLIT_SIZE(queue_size);
	return (n + VU_INFLIGHT_ALIGN - 1) / VU_INFLIGHT_ALIGN * VU_INFLIGHT_ALIGN;
}

/* The layout GET_INFLIGHT_FD makes a region for: QEMU sets the features
 * first (vhost_dev_prepare_inflight); a front-end that did not gets one
 * large enough for either. */
static bool inflight_want_packed(const struct vdev_vhost_user *vu)
{
	return !vu->features_set || (vdev_dev_features(vu->dev) & VDEV_BIT(VDEV_F_RING_PACKED));
}

static void inflight_unmap(struct vdev_vhost_user *vu)
{
	if (vu->inflight_map != NULL)
		munmap(vu->inflight_map, vu->inflight_map_len);
	vu->inflight_map = NULL;
	vu->inflight_map_len = 0;
	vu->inflight_base = NULL;
	vu->inflight_nq = vu->inflight_qsize = 0;
}

/*
 * Check an inflight description against what this device can have and the
 * file it came with: 1..nrings queues of 1..32768 entries, exactly the size
 * GET_INFLIGHT_FD would have made for them for one of the layouts (stored
 * in *qlen), inside the file. Returns 0 or VDEV_EINVAL with the reason
 * logged.
 */
static int inflight_check(struct vdev_vhost_user *vu, uint64_t mmap_size, uint64_t mmap_offset,
			  uint32_t num_queues, uint32_t queue_size, uint64_t file_size,
			  uint64_t *qlen)
{
	uint64_t end;

	if (num_queues == 0 || num_queues > vu->nrings) {
		logf_(vu, "inflight region for %u queues (device has %u)", num_queues, vu->nrings);
		return VDEV_EINVAL;
	}
	if (queue_size == 0 || queue_size > VDEV_VQ_MAX_SIZE) {
		logf_(vu, "inflight region for queues of %u entries", queue_size);
		return VDEV_EINVAL;
	}
	if (mmap_size == num_queues * inflight_queue_len(queue_size, false)) {
		*qlen = inflight_queue_len(queue_size, false);
	} else if (mmap_size == num_queues * inflight_queue_len(queue_size, true)) {
		*qlen = inflight_queue_len(queue_size, true);
	} else {
		logf_(vu, "inflight region of %llu bytes, expected %llu (split) or %llu (packed)",
		      (unsigned long long)mmap_size,
		      (unsigned long long)(num_queues * inflight_queue_len(queue_size, false)),
		      (unsigned long long)(num_queues * inflight_queue_len(queue_size, true)));
		return VDEV_EINVAL;
	}
	if (__builtin_add_overflow(mmap_offset, mmap_size, &end) || end > SIZE_MAX ||
	    end > file_size) {
		logf_(vu, "inflight region outside its file");
		return VDEV_EINVAL;
	}
	return 0;
}

/* Give every ring scratch for its log (enough for either layout). */
static int inflight_orders(struct vdev_vhost_user *vu, uint16_t queue_size)
{
	for (uint16_t i = 0; i < vu->nrings; i++) {
		uint16_t *o = realloc(vu->rings[i].log_order,
				      (size_t)VDEV_INFLIGHT_PACKED_SCRATCH(queue_size) * sizeof(*o));
		if (o == NULL)
			return VDEV_ENOMEM;
		vu->rings[i].log_order = o;
	}
	return 0;
}

static bool any_ring_started(const struct vdev_vhost_user *vu)
{
	for (uint16_t i = 0; i < vu->nrings; i++)
		if (vu->rings[i].started)
			return true;
	return false;
}

/* Map `fd` (not taken) as the region; 0 or a negative VDEV_E*. */
static int inflight_install(struct vdev_vhost_user *vu, int fd, uint64_t mmap_size,
			    uint64_t mmap_offset, uint16_t num_queues, uint16_t queue_size,
			    uint64_t qlen)
{
	size_t len = (size_t)(mmap_offset + mmap_size);
	struct vu_file_range file = {0, 0, mmap_offset, mmap_offset + mmap_size};
	struct stat st;
	void *map;
	int rc;

	if (fstat(fd, &st) != 0) {
		logf_(vu, "inflight region: %s", strerror(errno));
		return VDEV_EINVAL;
	}
	file.dev = st.st_dev;
	file.ino = st.st_ino;
	for (unsigned i = 0; i < vu->nregions; i++) {
		if (file_ranges_meet(&file, &vu->regions[i].file)) {
			logf_(vu, "the inflight region shares bytes with memory region %u", i);
			return VDEV_EINVAL;
		}
	}
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		logf_(vu, "mmap of the inflight region: %s", strerror(errno));
		return VDEV_EFAULT;
	}
	rc = inflight_orders(vu, queue_size);
	if (rc < 0) {
		munmap(map, len);
		return rc;
	}
	inflight_unmap(vu);
	vu->inflight_map = map;
	vu->inflight_map_len = len;
	vu->inflight_base = (uint8_t *)map + mmap_offset;
	vu->inflight_qlen = qlen;
	vu->inflight_nq = num_queues;
	vu->inflight_qsize = queue_size;
	vu->inflight_file = file;
	return 0;
}

static void put_inflight_desc(uint8_t *p, uint64_t mmap_size, uint64_t mmap_offset,
			      uint16_t num_queues, uint16_t queue_size)
{
	memset(p, 0, VU_INFLIGHT_MSG);
	put64(p, mmap_size);
	put64(p + 8, mmap_offset);
	memcpy(p + 16, &num_queues, 2);
	memcpy(p + 18, &queue_size, 2);
}

static int inflight_msg_ok(const struct vu_msg *m, unsigned nfds)
{
	return m->size >= VU_INFLIGHT_MSG_MIN && m->size <= VU_INFLIGHT_MSG && m->nfds == nfds
		       ? 0
		       : VDEV_EMSGSIZE;
}

/* GET_INFLIGHT_FD: make a zeroed region for the queues the front-end
 * names, keep it as ours and hand it over. */
static int do_get_inflight(struct vdev_vhost_user *vu, struct vu_msg *m)
{
	uint16_t nq, qsize;
	uint8_t out[VU_INFLIGHT_MSG];
	uint64_t size, qlen;
	int fd, rc;

	if (!(vu->protocol_features & VDEV_BIT(VU_PF_INFLIGHT_SHMFD)))
		return VDEV_EPROTO;
	if ((rc = inflight_msg_ok(m, 0)) < 0)
		return rc;
	memcpy(&nq, m->payload + 16, 2);
	memcpy(&qsize, m->payload + 18, 2);
	if (any_ring_started(vu))
		return VDEV_EBUSY;
	size = (uint64_t)nq * inflight_queue_len(qsize, inflight_want_packed(vu));
	if ((rc = inflight_check(vu, size, 0, nq, qsize, size, &qlen)) < 0)
		return rc;
	fd = memfd_create("vdev-inflight", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
		logf_(vu, "cannot create the inflight region: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return VDEV_EIO;
	}
	rc = inflight_install(vu, fd, size, 0, nq, qsize, qlen);
	if (rc == 0) {
		put_inflight_desc(out, size, 0, nq, qsize);
		rc = send_msg_fd(vu->conn_fd, m->request, VU_FLAG_VERSION | VU_FLAG_REPLY, out,
				 VU_INFLIGHT_MSG, fd);
		rc = rc < 0 ? rc : 1;
	}
	close(fd); /* the mapping and the front-end keep it */
	return rc;
}

/* SET_INFLIGHT_FD: the region the front-end kept (from us or a previous
 * instance of us), checked before it is mapped. */
static int do_set_inflight(struct vdev_vhost_user *vu, struct vu_msg *m)
{
	uint64_t mmap_size, mmap_offset, qlen;
	uint16_t nq, qsize;
	struct stat st;
	int rc;

	if (!(vu->protocol_features & VDEV_BIT(VU_PF_INFLIGHT_SHMFD)))
		return VDEV_EPROTO;
	if ((rc = inflight_msg_ok(m, 1)) < 0)
		return rc;
	mmap_size = get64(m->payload);
	mmap_offset = get64(m->payload + 8);
	memcpy(&nq, m->payload + 16, 2);
	memcpy(&qsize, m->payload + 18, 2);
	if (any_ring_started(vu))
		return VDEV_EBUSY;
	if (fstat(m->fds[0], &st) != 0) {
		logf_(vu, "inflight region: %s", strerror(errno));
		return VDEV_EINVAL;
	}
	rc = inflight_check(vu, mmap_size, mmap_offset, nq, qsize,
			    st.st_size < 0 ? 0 : (uint64_t)st.st_size, &qlen);
	if (rc < 0)
		return rc;
	return inflight_install(vu, m->fds[0], mmap_size, mmap_offset, nq, qsize, qlen);
}

/* After a ring's recovery from the region: say what it found, count the
 * region's inconsistencies, and log the ring's requests from now on. */
static void inflight_recovered(struct vdev_vhost_user *vu, struct vu_ring *r, unsigned n)
{
	if (r->log.errors > 0)
		logf_(vu, "ring %u: %llu inconsistencies in the inflight region, ignored", r->index,
		      (unsigned long long)r->log.errors);
	if (n > 0)
		logf_(vu, "ring %u: %u requests in flight before the restart, submitted again",
		      r->index, n);
	vu->stats.inflight_errors += r->log.errors;
	r->log.errors = 0;
	r->logging = true;
}

/*
 * A split ring starting with a region: recover what a previous instance
 * had in flight and where to resume the avail ring (*avail). The log is
 * attached once the queue is live. Ring locked.
 */
static void inflight_ring_recover(struct vdev_vhost_user *vu, struct vu_ring *r, uint16_t used,
				  uint16_t avail_ring_idx, uint16_t *avail)
{
	unsigned n;

	r->logging = false;
	if (vu->inflight_base == NULL || !(vu->protocol_features & VDEV_BIT(VU_PF_INFLIGHT_SHMFD)))
		return;
	if (r->index >= vu->inflight_nq || r->num > vu->inflight_qsize) {
		logf_(vu, "ring %u: not covered by the inflight region", r->index);
		vu->stats.inflight_errors++;
		return;
	}
	if (vdev_vq_inflight_init(&r->log, vu->inflight_base + r->index * vu->inflight_qlen,
				  r->log_order, vu->inflight_qsize) < 0)
		return;
	n = vdev_vq_inflight_recover(&r->log, (uint16_t)r->num, used, avail_ring_idx, avail);
	inflight_recovered(vu, r, n);
}

/*
 * A packed ring starting with a region: recover what a previous instance
 * had in flight; *st (the front-end's positions, which after a crash are
 * those of the last start) becomes where the ring resumes. Ring locked.
 */
static void inflight_ring_recover_packed(struct vdev_vhost_user *vu, struct vu_ring *r,
					 uint64_t desc, struct vdev_vq_state *st)
{
	unsigned n;

	r->logging = false;
	if (vu->inflight_base == NULL || !(vu->protocol_features & VDEV_BIT(VU_PF_INFLIGHT_SHMFD)))
		return;
	if (r->index >= vu->inflight_nq || r->num > vu->inflight_qsize ||
	    vu->inflight_qlen < VDEV_INFLIGHT_PACKED_SIZE(vu->inflight_qsize)) {
		logf_(vu, "ring %u: not covered by the inflight region (packed)", r->index);
		vu->stats.inflight_errors++;
		return;
	}
	if (vdev_vq_inflight_init_packed(&r->log, vu->inflight_base + r->index * vu->inflight_qlen,
					 r->log_order, vu->inflight_qsize) < 0)
		return;
	n = vdev_vq_inflight_recover_packed(&r->log, vu->cfg.mem, desc, (uint16_t)r->num, st);
	inflight_recovered(vu, r, n);
}

/* ---- rings ---------------------------------------------------------------------------------- */

static void lock_all(struct vdev_vhost_user *vu)
{
	for (uint16_t i = 0; i < vu->nrings; i++)
		pthread_mutex_lock(&vu->rings[i].lock);
}

static void unlock_all(struct vdev_vhost_user *vu)
{
	for (uint16_t i = vu->nrings; i-- > 0;)
		pthread_mutex_unlock(&vu->rings[i].lock);
}

static int ring_epfd(struct vdev_vhost_user *vu, struct vu_ring *r)
{
	return vu->cfg.thread_per_queue ? r->epfd : vu->epfd;
}

static void set_kick_fd(struct vdev_vhost_user *vu, struct vu_ring *r, int fd)
{
	if (r->kick_fd >= 0) {
		epoll_ctl(ring_epfd(vu, r), EPOLL_CTL_DEL, r->kick_fd, NULL);
		close(r->kick_fd);
	}
	r->kick_fd = fd;
	if (fd >= 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag(TAG_KICK, r->index)};
		epoll_ctl(ring_epfd(vu, r), EPOLL_CTL_ADD, fd, &ev);
	}
}

/* Let the device look at the ring (after a kick, an enable or a start). */
static void ring_poke(struct vdev_vhost_user *vu, struct vu_ring *r)
{
	if (r->started && r->enabled)
		(void)vdev_dev_queue_notify(vu->dev, r->index, false, 0);
}

/*
 * A packed ring's SET_VRING_BASE carries the wrap counters (bit 15 for
 * avail, bit 31 for used), and a new ring starts with both at 1, so a
 * front-end that starts a new ring sends 0x8000 or 0x80008000 (QEMU).
 * Linux's user-mode front-end (arch/um/drivers/virtio_uml.c, 6.1) sends 0
 * for every new ring, split or packed. With wrap counters 0 the device
 * would look for descriptors the driver never marks available and ask
 * for kicks at a position the driver never reaches: the ring is dead.
 * Base 0 is also a real state (both sides at position 0 after an odd
 * number of laps), but then the driver has written descriptor 0 at least
 * once (every lap writes every position's flags and buffer), so it is not
 * all zeros. Returns 1 if descriptor 0 is all zeros (a ring nobody has
 * used, which the driver allocated zeroed), 0 if not, VDEV_EFAULT if it
 * is not in guest memory. Ring locked.
 */
static int packed_ring_unused(struct vdev_vhost_user *vu, uint64_t desc)
{
	static const uint8_t zero[16];
	uint8_t d[16];

	if (vdev_mem_read(vu->cfg.mem, desc, d, sizeof(d)) < 0)
		return VDEV_EFAULT;
	return memcmp(d, zero, sizeof(d)) == 0 ? 1 : 0;
}

/* Start a ring once it has everything: size, addresses, memory, a kick fd
 * and negotiated features. Returns 0 or a negative VDEV_E*. Ring locked. */
static int ring_try_start(struct vdev_vhost_user *vu, struct vu_ring *r)
{
	struct vdev_vq *vq = vdev_dev_queue(vu->dev, r->index);
	uint64_t desc, avail, used;
	struct vdev_vq_state st = {0};
	uint64_t features = vdev_dev_features(vu->dev);
	int rc;

	if (r->started || !r->num_set || !r->addr_set || r->kick_fd < 0 || !vu->features_set ||
	    vu->nregions == 0)
		return 0;
	if (!uva_to_gpa(vu, r->desc_uva, &desc) || !uva_to_gpa(vu, r->avail_uva, &avail) ||
	    !uva_to_gpa(vu, r->used_uva, &used)) {
		logf_(vu, "ring %u: an address is not in the memory table", r->index);
		return VDEV_EFAULT;
	}
	rc = vdev_vq_set_size(vq, r->num);
	if (rc == 0)
		rc = vdev_vq_set_addrs(vq, desc, avail, used);
	if (rc < 0) {
		logf_(vu, "ring %u: size %u refused (max %u)", r->index, r->num, vdev_vq_max_size(vq));
		return rc;
	}
	if (features & VDEV_BIT(VDEV_F_RING_PACKED)) {
		uint32_t hi = r->base >> 16;
		st.avail_idx = (uint16_t)(r->base & 0x7fffu);
		st.avail_wrap = (r->base >> 15) & 1u;
		/* Front-ends that also send the used position put it in the
		 * upper half; older ones only send avail, where used == avail. */
		st.used_idx = hi ? (uint16_t)(hi & 0x7fffu) : st.avail_idx;
		st.used_wrap = hi ? (hi >> 15) & 1u : st.avail_wrap;
		if (r->base == 0) {
			rc = packed_ring_unused(vu, desc);
			if (rc < 0)
				return rc;
			if (rc == 1) {
				st.avail_wrap = st.used_wrap = true;
				logf_(vu, "ring %u: packed base 0 on an unused ring: wrap counters 1",
				      r->index);
			}
		}
		/* With a region, it decides where the ring resumes. */
		inflight_ring_recover_packed(vu, r, desc, &st);
	} else {
		uint8_t idx[2], aidx[2];
		st.avail_idx = (uint16_t)r->base;
		/* The used index is whatever the ring says now. */
		if (vdev_mem_read(vu->cfg.mem, used + 2, idx, 2) < 0 ||
		    vdev_mem_read(vu->cfg.mem, avail + 2, aidx, 2) < 0)
			return VDEV_EFAULT;
		st.used_idx = (uint16_t)(idx[0] | idx[1] << 8);
		/* With a region, it decides where the avail ring resumes: after
		 * everything completed or still in flight. */
		inflight_ring_recover(vu, r, st.used_idx, (uint16_t)(aidx[0] | aidx[1] << 8),
				      &st.avail_idx);
	}
	rc = vdev_vq_set_state(vq, &st);
	if (rc == 0)
		rc = vdev_vq_start(vq, vu->cfg.mem, features);
	if (rc == 0 && r->logging)
		rc = vdev_vq_set_inflight(vq, &r->log);
	if (rc < 0) {
		logf_(vu, "ring %u: cannot start: %s", r->index, vdev_strerror(rc));
		vdev_vq_stop(vq);
		r->logging = false;
		return rc;
	}
	r->started = true;
	if (!vu->proto_acked)
		r->enabled = true;
	ring_poke(vu, r);
	return 0;
}

/* Stop a ring: the device finishes what it has in flight first. */
static uint32_t ring_stop(struct vdev_vhost_user *vu, struct vu_ring *r)
{
	struct vdev_vq *vq = vdev_dev_queue(vu->dev, r->index);
	struct vdev_vq_state st;

	if (r->started && vu->cfg.drain != NULL)
		vu->cfg.drain(vu->cfg.opaque, r->index);
	vdev_vq_stop(vq);
	vdev_vq_get_state(vq, &st);
	if (r->logging) {
		vu->stats.inflight_errors += r->log.errors;
		vu->stats.inflight_resubmitted += r->log.resubmitted;
		r->log.errors = 0;
		r->log.resubmitted = 0;
		r->logging = false;
	}
	r->started = false;
	set_kick_fd(vu, r, -1);
	if (vdev_dev_features(vu->dev) & VDEV_BIT(VDEV_F_RING_PACKED))
		return (uint32_t)st.avail_idx | (uint32_t)st.avail_wrap << 15 |
		       (uint32_t)st.used_idx << 16 | (uint32_t)st.used_wrap << 31;
	return st.avail_idx;
}

static void ring_forget(struct vdev_vhost_user *vu, struct vu_ring *r)
{
	if (r->started)
		(void)ring_stop(vu, r);
	set_kick_fd(vu, r, -1);
	/* the call fd may be read without the lock (a completion from another
	 * thread): take it out first, then close what was there */
	int call = __atomic_exchange_n(&r->call_fd, -1, __ATOMIC_ACQ_REL);
	if (call >= 0)
		close(call);
	close_fd(&r->err_fd);
	r->num_set = r->addr_set = r->started = false;
	r->enabled = false;
	r->base = 0;
}

static void handle_kick(struct vdev_vhost_user *vu, struct vu_ring *r)
{
	uint64_t v;

	pthread_mutex_lock(&r->lock);
	if (r->kick_fd >= 0 && read(r->kick_fd, &v, sizeof(v)) == (ssize_t)sizeof(v)) {
		__atomic_fetch_add(&vu->stats.kicks, 1, __ATOMIC_RELAXED);
		ring_poke(vu, r);
	}
	pthread_mutex_unlock(&r->lock);
}

static void handle_watch(struct vdev_vhost_user *vu, struct vu_watch *w)
{
	struct vu_ring *r = &vu->rings[w->q];

	pthread_mutex_lock(&r->lock);
	w->cb(w->opaque, w->fd);
	pthread_mutex_unlock(&r->lock);
}

/* ---- device state across the session ------------------------------------------------------------ */

/* Reset the device core (all rings must be stopped). */
static void device_reset(struct vdev_vhost_user *vu)
{
	(void)vdev_dev_set_status(vu->dev, 0);
	vu->features_set = false;
	vu->acked_features = 0;
}

/* The front-end forwards the guest's accepted features: run the core's
 * negotiation to DRIVER_OK with them. */
static int set_features(struct vdev_vhost_user *vu, uint64_t f)
{
	uint8_t st;

	/* Without protocol features, rings start enabled (spec). */
	vu->proto_acked = (f & VDEV_BIT(VU_F_PROTOCOL_FEATURES)) != 0;
	f &= ~VDEV_BIT(VU_F_PROTOCOL_FEATURES);
	if (vu->features_set && f == vu->acked_features)
		return 0;
	for (uint16_t i = 0; i < vu->nrings; i++) {
		if (vu->rings[i].started) {
			logf_(vu, "SET_FEATURES while ring %u is running", i);
			return VDEV_EBUSY;
		}
	}
	device_reset(vu);
	vdev_dev_set_status(vu->dev, VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER);
	vdev_dev_set_driver_features(vu->dev, f);
	vdev_dev_set_status(vu->dev,
			    VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER | VDEV_STATUS_FEATURES_OK);
	st = vdev_dev_status(vu->dev);
	if (!(st & VDEV_STATUS_FEATURES_OK)) {
		logf_(vu, "features 0x%llx refused by the device", (unsigned long long)f);
		device_reset(vu);
		return VDEV_ENOTSUP;
	}
	vdev_dev_set_status(vu->dev, st | VDEV_STATUS_DRIVER_OK);
	vu->acked_features = f;
	vu->features_set = true;
	return 0;
}

static uint64_t offered_features(const struct vdev_vhost_user *vu)
{
	/* No IOTLB: ACCESS_PLATFORM cannot be honoured over vhost-user here. */
	return (vdev_dev_offered_features(vu->dev) & ~VDEV_BIT(VDEV_F_ACCESS_PLATFORM)) |
	       VDEV_BIT(VU_F_PROTOCOL_FEATURES);
}

static uint64_t our_protocol_features(const struct vdev_vhost_user *vu)
{
	return VU_OUR_PROTOCOL_FEATURES | (vu->cfg.inflight ? VDEV_BIT(VU_PF_INFLIGHT_SHMFD) : 0);
}

/* ---- message handlers ------------------------------------------------------------------------------- */

/* Send a reply; 1 (replied) or a negative error. */
static int replied(int rc)
{
	return rc < 0 ? rc : 1;
}

/* Take fd i of the message (the handler now owns it). */
static int take_fd(struct vu_msg *m, unsigned i)
{
	int fd = m->fds[i];
	m->fds[i] = -1;
	return fd;
}

static int expect(const struct vu_msg *m, uint32_t size, unsigned nfds)
{
	return m->size == size && m->nfds == nfds ? 0 : VDEV_EMSGSIZE;
}

static struct vu_ring *msg_ring(struct vdev_vhost_user *vu, uint32_t index)
{
	return index < vu->nrings ? &vu->rings[index] : NULL;
}

static int do_set_mem_table(struct vdev_vhost_user *vu, struct vu_msg *m)
{
	struct vu_region nr[VDEV_VHOST_USER_MAX_REGIONS];
	struct vdev_mem_region nt[VDEV_VHOST_USER_MAX_REGIONS];
	uint32_t n;
	int rc = 0;

	if (m->size < 8)
		return VDEV_EMSGSIZE;
	n = get32(m->payload);
	if (n == 0 || n > VDEV_VHOST_USER_MAX_REGIONS || m->size < 8 + n * VU_REGION_SIZE ||
	    m->nfds != n)
		return VDEV_EMSGSIZE;
	memset(nr, 0, sizeof(nr));
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *p = m->payload + 8 + i * VU_REGION_SIZE;
		uint64_t gpa = get64(p), size = get64(p + 8), uva = get64(p + 16), off = get64(p + 24);
		struct stat st;
		uint64_t end;

		if (size == 0 || __builtin_add_overflow(off, size, &end) || end > SIZE_MAX ||
		    __builtin_add_overflow(gpa, size - 1, &end) ||
		    __builtin_add_overflow(uva, size - 1, &end)) {
			rc = VDEV_EINVAL;
			break;
		}
		/* A mapping past the end of the file would fault (SIGBUS) on
		 * access: the file must really hold the region. */
		if (fstat(m->fds[i], &st) != 0 || (uint64_t)st.st_size < off + size) {
			logf_(vu, "memory region %u larger than its file", i);
			rc = VDEV_EINVAL;
			break;
		}
		void *map = mmap(NULL, (size_t)(off + size), PROT_READ | PROT_WRITE, MAP_SHARED,
				 m->fds[i], 0);
		if (map == MAP_FAILED) {
			logf_(vu, "mmap of memory region %u: %s", i, strerror(errno));
			rc = VDEV_EFAULT;
			break;
		}
		nr[i] = (struct vu_region){gpa, size, uva, map, (size_t)(off + size),
					   {st.st_dev, st.st_ino, off, off + size}};
		for (uint32_t j = 0; j < i && rc == 0; j++) {
			if (file_ranges_meet(&nr[i].file, &nr[j].file)) {
				logf_(vu, "memory regions %u and %u share bytes of one file", j, i);
				rc = VDEV_EINVAL;
			}
		}
		if (rc == 0 && vu->inflight_map != NULL &&
		    file_ranges_meet(&nr[i].file, &vu->inflight_file)) {
			logf_(vu, "memory region %u shares bytes with the inflight region", i);
			rc = VDEV_EINVAL;
		}
		if (rc < 0)
			break;
		nt[i] = (struct vdev_mem_region){.gpa = gpa, .size = size,
						 .hva = (uint8_t *)map + off, .flags = 0};
	}
	if (rc == 0) {
		qsort(nt, n, sizeof(nt[0]), cmp_region);
		struct vdev_mem probe;
		if (vdev_mem_init(&probe, nt, n) < 0) {
			logf_(vu, "memory regions overlap");
			rc = VDEV_EINVAL;
		}
	}
	if (rc < 0) {
		for (uint32_t i = 0; i < n; i++)
			if (nr[i].map != NULL)
				munmap(nr[i].map, nr[i].map_len);
		return rc;
	}
	/* Swap tables with every ring quiet, then move the rings over. */
	lock_all(vu);
	for (unsigned i = 0; i < vu->nregions; i++)
		munmap(vu->regions[i].map, vu->regions[i].map_len);
	memcpy(vu->regions, nr, sizeof(nr));
	memcpy(vu->memtab, nt, sizeof(nt));
	vu->nregions = n;
	(void)vdev_mem_init(vu->cfg.mem, vu->memtab, n);
	for (uint16_t i = 0; i < vu->nrings; i++) {
		if (vu->rings[i].started)
			(void)vdev_vq_remap(vdev_dev_queue(vu->dev, i));
		else
			(void)ring_try_start(vu, &vu->rings[i]);
	}
	unlock_all(vu);
	return 0;
}

static int do_vring_fd(struct vdev_vhost_user *vu, struct vu_msg *m)
{
	uint64_t v;
	struct vu_ring *r;
	int fd = -1, rc = 0;

	if (m->size != 8)
		return VDEV_EMSGSIZE;
	v = get64(m->payload);
	r = msg_ring(vu, (uint32_t)(v & VU_VRING_IDX_MASK));
	if (r == NULL || (v & ~(uint64_t)(VU_VRING_IDX_MASK | VU_VRING_NOFD)) != 0)
		return VDEV_EINVAL;
	if (v & VU_VRING_NOFD) {
		if (m->nfds != 0)
			return VDEV_EMSGSIZE;
		if (m->request == VU_SET_VRING_KICK)
			return VDEV_ENOTSUP; /* polling rings: not implemented */
	} else {
		if (m->nfds != 1)
			return VDEV_EMSGSIZE;
		fd = take_fd(m, 0);
	}
	pthread_mutex_lock(&r->lock);
	switch (m->request) {
	case VU_SET_VRING_KICK:
		set_kick_fd(vu, r, fd);
		rc = ring_try_start(vu, r);
		break;
	case VU_SET_VRING_CALL: {
		int old = __atomic_exchange_n(&r->call_fd, fd, __ATOMIC_ACQ_REL);
		if (old >= 0)
			close(old);
		break;
	}
	default: {
		int old = __atomic_exchange_n(&r->err_fd, fd, __ATOMIC_ACQ_REL);
		if (old >= 0)
			close(old);
		break;
	}
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

static int do_config(struct vdev_vhost_user *vu, struct vu_msg *m)
{
	uint32_t off, size;
	uint8_t out[12 + VU_MAX_CONFIG];

	if (m->size < 12 || m->nfds != 0)
		return VDEV_EMSGSIZE;
	off = get32(m->payload);
	size = get32(m->payload + 4);
	if (size > VU_MAX_CONFIG || m->size != 12 + size)
		return VDEV_EMSGSIZE;
	if (m->request == VU_SET_CONFIG) {
		uint32_t len = vdev_dev_config_len(vu->dev);
		/* Only the part that exists; the model decides what is writable. */
		if (off < len) {
			uint32_t n = size < len - off ? size : len - off;
			(void)vdev_dev_config_write(vu->dev, off, m->payload + 12, n);
		}
		return 0;
	}
	/* GET_CONFIG: the front-end may ask for more than this device has (a
	 * newer config struct); fields we do not have read as zero. */
	memcpy(out, m->payload, 12);
	memset(out + 12, 0, size);
	uint32_t len = vdev_dev_config_len(vu->dev);
	if (off < len) {
		uint32_t n = size < len - off ? size : len - off;
		(void)vdev_dev_config_read(vu->dev, off, out + 12, n);
	}
	return reply(vu, m, out, 12 + size) == 0 ? 1 : VDEV_EIO; /* 1: replied */
}

/*
 * Handle one message. Returns 1 if it sent its own reply, 0 on success,
 * or a negative VDEV_E*: the session is closed (a bad message).
 */
static int handle(struct vdev_vhost_user *vu, struct vu_msg *m)
{
	struct vu_ring *r;
	uint32_t index, num;
	int rc;

	switch (m->request) {
	case VU_GET_FEATURES:
		if ((rc = expect(m, 0, 0)) < 0)
			return rc;
		return replied(reply_u64(vu, m, offered_features(vu)));
	case VU_SET_FEATURES:
		if ((rc = expect(m, 8, 0)) < 0)
			return rc;
		if ((get64(m->payload) & ~offered_features(vu)) != 0)
			return VDEV_ENOTSUP;
		return set_features(vu, get64(m->payload));
	case VU_GET_PROTOCOL_FEATURES:
		if ((rc = expect(m, 0, 0)) < 0)
			return rc;
		return replied(reply_u64(vu, m, our_protocol_features(vu)));
	case VU_SET_PROTOCOL_FEATURES:
		if ((rc = expect(m, 8, 0)) < 0)
			return rc;
		if ((get64(m->payload) & ~our_protocol_features(vu)) != 0)
			return VDEV_ENOTSUP;
		vu->protocol_features = get64(m->payload);
		return 0;
	case VU_SET_OWNER:
		return expect(m, 0, 0);
	case VU_RESET_OWNER: /* deprecated: stop the rings */
		if ((rc = expect(m, 0, 0)) < 0)
			return rc;
		lock_all(vu);
		for (uint16_t i = 0; i < vu->nrings; i++)
			if (vu->rings[i].started)
				(void)ring_stop(vu, &vu->rings[i]);
		unlock_all(vu);
		return 0;
	case VU_RESET_DEVICE:
		if ((rc = expect(m, 0, 0)) < 0)
			return rc;
		lock_all(vu);
		for (uint16_t i = 0; i < vu->nrings; i++)
			ring_forget(vu, &vu->rings[i]);
		device_reset(vu);
		unlock_all(vu);
		return 0;
	case VU_SET_MEM_TABLE:
		return do_set_mem_table(vu, m);
	case VU_GET_QUEUE_NUM:
		if ((rc = expect(m, 0, 0)) < 0)
			return rc;
		return replied(reply_u64(vu, m, vu->nrings));
	case VU_SET_VRING_NUM:
	case VU_SET_VRING_BASE:
	case VU_SET_VRING_ENABLE:
	case VU_GET_VRING_BASE:
		if ((rc = expect(m, 8, 0)) < 0)
			return rc;
		index = get32(m->payload);
		num = get32(m->payload + 4);
		if ((r = msg_ring(vu, index)) == NULL)
			return VDEV_EINVAL;
		pthread_mutex_lock(&r->lock);
		rc = 0;
		if (m->request == VU_SET_VRING_NUM) {
			if (r->started || num == 0 ||
			    num > vdev_vq_max_size(vdev_dev_queue(vu->dev, r->index)))
				rc = VDEV_EINVAL;
			else
				r->num = num, r->num_set = true;
		} else if (m->request == VU_SET_VRING_BASE) {
			if (r->started)
				rc = VDEV_EBUSY;
			else
				r->base = num;
		} else if (m->request == VU_SET_VRING_ENABLE) {
			if (num > 1)
				rc = VDEV_EINVAL;
			else {
				r->enabled = num == 1;
				ring_poke(vu, r);
			}
		} else {
			uint8_t p[8];
			uint32_t base = ring_stop(vu, r);
			memcpy(p, &index, 4);
			memcpy(p + 4, &base, 4);
			rc = replied(reply(vu, m, p, 8));
		}
		pthread_mutex_unlock(&r->lock);
		return rc;
	case VU_SET_VRING_ADDR:
		if ((rc = expect(m, 40, 0)) < 0)
			return rc;
		if ((r = msg_ring(vu, get32(m->payload))) == NULL)
			return VDEV_EINVAL;
		if (get32(m->payload + 4) != 0)
			return VDEV_ENOTSUP; /* VHOST_VRING_F_LOG: no dirty logging */
		pthread_mutex_lock(&r->lock);
		if (r->started) {
			rc = VDEV_EBUSY;
		} else {
			r->desc_uva = get64(m->payload + 8);
			r->used_uva = get64(m->payload + 16);
			r->avail_uva = get64(m->payload + 24);
			r->addr_set = true;
			rc = ring_try_start(vu, r);
		}
		pthread_mutex_unlock(&r->lock);
		return rc;
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		return do_vring_fd(vu, m);
	case VU_SET_BACKEND_REQ_FD:
		if ((rc = expect(m, 0, 1)) < 0)
			return rc;
		pthread_mutex_lock(&vu->backend_lock);
		close_fd(&vu->backend_fd);
		vu->backend_fd = take_fd(m, 0);
		pthread_mutex_unlock(&vu->backend_lock);
		return 0;
	case VU_GET_INFLIGHT_FD:
		return do_get_inflight(vu, m);
	case VU_SET_INFLIGHT_FD:
		return do_set_inflight(vu, m);
	case VU_GET_CONFIG:
	case VU_SET_CONFIG:
		if (!(vu->protocol_features & VDEV_BIT(VU_PF_CONFIG)))
			return VDEV_EPROTO;
		return do_config(vu, m);
	default:
		if (vu->cfg.device_request != NULL) {
			rc = vu->cfg.device_request(vu->cfg.opaque, m->request, m->payload, m->size,
						    m->fds, m->nfds);
			if (rc > 0)
				rc = 0; /* no reply of its own: REPLY_ACK answers */
			if (rc < 0)
				logf_(vu, "request %u refused by the device: %s", m->request,
				      vdev_strerror(rc));
			return rc;
		}
		logf_(vu, "unsupported request %u", m->request);
		return VDEV_ENOTSUP;
	}
}

/* ---- the session --------------------------------------------------------------------------------------- */

static void session_end(struct vdev_vhost_user *vu)
{
	if (vu->conn_fd < 0)
		return;
	lock_all(vu);
	for (uint16_t i = 0; i < vu->nrings; i++)
		ring_forget(vu, &vu->rings[i]);
	device_reset(vu);
	unmap_regions(vu);
	inflight_unmap(vu);
	unlock_all(vu);
	pthread_mutex_lock(&vu->backend_lock);
	close_fd(&vu->backend_fd);
	pthread_mutex_unlock(&vu->backend_lock);
	epoll_ctl(vu->epfd, EPOLL_CTL_DEL, vu->conn_fd, NULL);
	close_fd(&vu->conn_fd);
	vu->protocol_features = 0;
	vu->session_ended = true;
	if (vu->cfg.disconnected != NULL)
		vu->cfg.disconnected(vu->cfg.opaque);
}

VDEV_API int vdev_vhost_user_attach(struct vdev_vhost_user *vu, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag(TAG_CONN, 0)};

	if (vu->conn_fd >= 0)
		session_end(vu);
	vu->conn_fd = fd;
	vu->session_ended = false;
	vu->stats.sessions++;
	if (epoll_ctl(vu->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		return VDEV_EIO;
	if (vu->cfg.connected != NULL)
		vu->cfg.connected(vu->cfg.opaque);
	return 0;
}

/* Handle one message from the connection; false once the session ended. */
static bool serve_message(struct vdev_vhost_user *vu, bool nonblock)
{
	struct vu_msg *m = &vu->msg;
	int rc = read_msg(vu->conn_fd, m, nonblock);

	if (rc == 0)
		return true; /* nothing ready */
	if (rc > 0) {
		vu->stats.messages++;
		rc = handle(vu, m);
		/* REPLY_ACK: answer messages that have no reply of their own. */
		if (rc <= 0 && (m->flags & VU_FLAG_NEED_REPLY) &&
		    (vu->protocol_features & VDEV_BIT(VU_PF_REPLY_ACK)))
			if (reply_u64(vu, m, rc < 0 ? 1u : 0u) < 0)
				rc = VDEV_EIO;
		if (rc < 0) {
			vu->stats.bad_messages++;
			logf_(vu, "request %u: %s; closing the connection", m->request,
			      vdev_strerror(rc));
		}
	} else if (rc != VDEV_EIO) {
		vu->stats.bad_messages++;
		logf_(vu, "malformed message; closing the connection");
	}
	for (unsigned i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]); /* fds the handler did not take */
	m->nfds = 0;
	if (rc < 0) {
		session_end(vu);
		return false;
	}
	return true;
}

/* ---- loops ------------------------------------------------------------------------------------------- */

static void dispatch(struct vdev_vhost_user *vu, uint64_t t, bool nonblock)
{
	uint32_t kind = (uint32_t)(t >> 32), idx = (uint32_t)t;

	switch (kind) {
	case TAG_LISTEN: {
		int fd = accept4(vu->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			break;
		if (vu->conn_fd >= 0) {
			close(fd); /* one front-end at a time */
			break;
		}
		(void)vdev_vhost_user_attach(vu, fd);
		break;
	}
	case TAG_CONN:
		if (vu->conn_fd >= 0)
			(void)serve_message(vu, nonblock);
		break;
	case TAG_STOP: {
		uint64_t v;
		(void)!read(vu->stop_fd, &v, sizeof(v));
		break;
	}
	case TAG_KICK:
		if (idx < vu->nrings)
			handle_kick(vu, &vu->rings[idx]);
		break;
	case TAG_WATCH:
		if (idx < vu->nwatches)
			handle_watch(vu, &vu->watches[idx]);
		break;
	}
}

static void *ring_thread(void *arg)
{
	struct vu_ring *r = arg;
	struct vdev_vhost_user *vu = r->vu;
	struct epoll_event evs[8];

	while (!vu->stopping) {
		int n = epoll_wait(r->epfd, evs, 8, -1);
		for (int i = 0; i < n; i++) {
			uint64_t t = evs[i].data.u64;
			if ((t >> 32) == TAG_STOP) {
				uint64_t v;
				(void)!read(r->stop_fd, &v, sizeof(v));
				continue;
			}
			dispatch(vu, t, false);
		}
	}
	return NULL;
}

/*
 * Rounds of ready events one vdev_vhost_user_process() call serves (a
 * round: one message, and the kicks that are pending). Enough for all a
 * front-end has ready at once, and a bound on one that is never done: it
 * can stream messages, or (before rings that overlap were refused, and
 * regions that share bytes of a file) make every completion new work: its
 * used ring over its avail ring with the used index ahead of the base,
 * and its call fd its kick fd, so that each publish made a buffer
 * available and kicked. Without the bound that kept the caller (a thread
 * serving several adapters) for ever; the poll fd stays readable for the
 * rest.
 */
#define PROCESS_ROUNDS 64

VDEV_API int vdev_vhost_user_process(struct vdev_vhost_user *vu)
{
	struct epoll_event evs[16];
	unsigned rounds = 0;
	int n;

	if (vu->cfg.thread_per_queue)
		return VDEV_EINVAL;
	do {
		n = epoll_wait(vu->epfd, evs, 16, 0);
		for (int i = 0; i < n; i++)
			dispatch(vu, evs[i].data.u64, true);
	} while (n > 0 && vu->conn_fd >= 0 && ++rounds < PROCESS_ROUNDS);
	return vu->conn_fd >= 0 ? 0 : VDEV_EPROTO;
}

VDEV_API int vdev_vhost_user_poll_fd(const struct vdev_vhost_user *vu)
{
	return vu->cfg.thread_per_queue ? -1 : vu->epfd;
}

VDEV_API int vdev_vhost_user_run(struct vdev_vhost_user *vu)
{
	struct epoll_event evs[16];

	if (vu->listen_fd < 0)
		return VDEV_EINVAL;
	if (vu->cfg.thread_per_queue) {
		for (uint16_t i = 0; i < vu->nrings; i++) {
			struct vu_ring *r = &vu->rings[i];
			if (!r->thread_started && pthread_create(&r->thread, NULL, ring_thread, r) == 0)
				r->thread_started = true;
		}
	}
	while (!vu->stopping) {
		int n = epoll_wait(vu->epfd, evs, 16, -1);
		if (n < 0 && errno != EINTR)
			return VDEV_EIO;
		for (int i = 0; i < n; i++)
			dispatch(vu, evs[i].data.u64, false);
		if (vu->cfg.single_session && vu->session_ended)
			break;
	}
	session_end(vu);
	return 0;
}

VDEV_API void vdev_vhost_user_stop(struct vdev_vhost_user *vu)
{
	vu->stopping = 1;
	signal_eventfd(vu->stop_fd);
	for (uint16_t i = 0; i < vu->nrings; i++)
		signal_eventfd(vu->rings[i].stop_fd);
}

VDEV_API int vdev_vhost_user_add_fd(struct vdev_vhost_user *vu, uint16_t qidx, int fd,
				    void (*cb)(void *opaque, int fd), void *opaque)
{
	struct vu_watch *w;
	struct epoll_event ev = {.events = EPOLLIN};

	if (qidx >= vu->nrings || fd < 0 || cb == NULL)
		return VDEV_EINVAL;
	w = realloc(vu->watches, (vu->nwatches + 1) * sizeof(*w));
	if (w == NULL)
		return VDEV_ENOMEM;
	vu->watches = w;
	w[vu->nwatches] = (struct vu_watch){fd, qidx, cb, opaque};
	ev.data.u64 = tag(TAG_WATCH, vu->nwatches);
	if (epoll_ctl(ring_epfd(vu, &vu->rings[qidx]), EPOLL_CTL_ADD, fd, &ev) != 0)
		return VDEV_EIO;
	vu->nwatches++;
	return 0;
}

VDEV_API int vdev_vhost_user_watch_fd(struct vdev_vhost_user *vu, int fd, bool on)
{
	for (unsigned i = 0; i < vu->nwatches; i++) {
		struct vu_watch *w = &vu->watches[i];
		struct epoll_event ev = {.events = on ? EPOLLIN : 0u, .data.u64 = tag(TAG_WATCH, i)};

		if (w->fd != fd)
			continue;
		if (epoll_ctl(ring_epfd(vu, &vu->rings[w->q]), EPOLL_CTL_MOD, fd, &ev) != 0)
			return VDEV_EIO;
		return 0;
	}
	return VDEV_ENOENT;
}

VDEV_API void vdev_vhost_user_get_stats(const struct vdev_vhost_user *vu,
					struct vdev_vhost_user_stats *out)
{
	*out = vu->stats;
	for (uint16_t i = 0; i < vu->nrings; i++)
		if (vu->rings[i].logging)
			out->inflight_resubmitted += vu->rings[i].log.resubmitted;
}

/* ---- set-up ------------------------------------------------------------------------------------------------ */

static int add_epoll(int epfd, int fd, uint64_t t)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = t};
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int open_listen(struct vdev_vhost_user *vu, const char *path, char *errbuf, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(errbuf, errlen, "socket path too long: %s", path);
		return VDEV_EINVAL;
	}
	strcpy(sa.sun_path, path);
	/* Replace a stale socket file, but never anything else. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(errbuf, errlen, "%s exists and is not a socket", path);
			return VDEV_EEXIST;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1) != 0) {
		int e = errno;
		snprintf(errbuf, errlen, "cannot listen on %s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	vu->listen_fd = fd;
	vu->own_listen = true;
	strcpy(vu->socket_path, path);
	return 0;
}

VDEV_API struct vdev_vhost_user *vdev_vhost_user_create(const struct vdev_vhost_user_config *cfg,
							int *err, char *errbuf, size_t errlen)
{
	struct vdev_vhost_user *vu;
	int rc;

	*err = VDEV_EINVAL;
	if (cfg == NULL || cfg->dev == NULL || cfg->mem == NULL) {
		snprintf(errbuf, errlen, "a device and its guest memory object are required");
		return NULL;
	}
	vu = calloc(1, sizeof(*vu));
	if (vu == NULL) {
		*err = VDEV_ENOMEM;
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	vu->cfg = *cfg;
	vu->dev = cfg->dev;
	/* the front-end negotiates for its driver and may keep device
	 * functions (virtio-net's control queue) for itself */
	vdev_dev_set_frontend_negotiates(cfg->dev, true);
	vu->listen_fd = vu->conn_fd = vu->backend_fd = vu->stop_fd = vu->epfd = -1;
	vu->nrings = vdev_dev_num_queues(cfg->dev);
	pthread_mutex_init(&vu->backend_lock, NULL);
	vu->rings = calloc(vu->nrings, sizeof(*vu->rings));
	vu->epfd = epoll_create1(EPOLL_CLOEXEC);
	vu->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vu->rings == NULL || vu->epfd < 0 || vu->stop_fd < 0 ||
	    add_epoll(vu->epfd, vu->stop_fd, tag(TAG_STOP, 0)) != 0) {
		snprintf(errbuf, errlen, "cannot set up the event loop: %s", strerror(errno));
		*err = VDEV_EIO;
		goto fail;
	}
	for (uint16_t i = 0; i < vu->nrings; i++) {
		struct vu_ring *r = &vu->rings[i];
		pthread_mutex_init(&r->lock, NULL);
		r->vu = vu;
		r->index = i;
		r->kick_fd = r->call_fd = r->err_fd = r->epfd = r->stop_fd = -1;
		if (cfg->thread_per_queue) {
			r->epfd = epoll_create1(EPOLL_CLOEXEC);
			r->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			if (r->epfd < 0 || r->stop_fd < 0 ||
			    add_epoll(r->epfd, r->stop_fd, tag(TAG_STOP, i)) != 0) {
				snprintf(errbuf, errlen, "cannot set up ring threads");
				*err = VDEV_EIO;
				goto fail;
			}
		}
	}
	if (cfg->listen_fd >= 0) {
		vu->listen_fd = cfg->listen_fd;
	} else if (cfg->socket_path != NULL) {
		rc = open_listen(vu, cfg->socket_path, errbuf, errlen);
		if (rc < 0) {
			*err = rc;
			goto fail;
		}
	}
	if (vu->listen_fd >= 0 && add_epoll(vu->epfd, vu->listen_fd, tag(TAG_LISTEN, 0)) != 0) {
		snprintf(errbuf, errlen, "cannot watch the listening socket: %s", strerror(errno));
		*err = VDEV_EIO;
		goto fail;
	}
	vdev_dev_set_transport(cfg->dev, &vu_transport_ops, vu);
	*err = 0;
	return vu;
fail:
	vdev_vhost_user_destroy(vu);
	return NULL;
}

VDEV_API void vdev_vhost_user_destroy(struct vdev_vhost_user *vu)
{
	if (vu == NULL)
		return;
	vdev_vhost_user_stop(vu);
	for (uint16_t i = 0; i < vu->nrings && vu->rings != NULL; i++)
		if (vu->rings[i].thread_started)
			pthread_join(vu->rings[i].thread, NULL);
	session_end(vu);
	for (uint16_t i = 0; i < vu->nrings && vu->rings != NULL; i++) {
		close_fd(&vu->rings[i].epfd);
		close_fd(&vu->rings[i].stop_fd);
		free(vu->rings[i].log_order);
		pthread_mutex_destroy(&vu->rings[i].lock);
	}
	if (vu->own_listen) {
		close_fd(&vu->listen_fd);
		unlink(vu->socket_path);
	}
	close_fd(&vu->stop_fd);
	close_fd(&vu->epfd);
	vdev_dev_set_transport(vu->dev, NULL, NULL);
	pthread_mutex_destroy(&vu->backend_lock);
	free(vu->watches);
	free(vu->rings);
	free(vu);
}
