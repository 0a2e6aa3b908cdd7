/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the vhost-user adapter's message handling, with the
 * block device (RAM backend) behind it. Messages from the input go over a
 * real socketpair with real file descriptors attached (a memfd that is the
 * guest's RAM, eventfds for kicks and calls), so framing, fd passing and
 * every handler are exercised as a front-end would. Other operations kick
 * rings and scribble on guest memory (rings and buffers included). A
 * closed session (bad message) is followed by a new one.
 *
 * INFLIGHT_SHMFD is offered: GET/SET_INFLIGHT_FD messages, with a second
 * memfd as the region a front-end hands back (sized for the split or the
 * packed layout; the features the input sets pick the rings'), whose
 * contents the input writes too (a hostile front-end's log, read when a
 * ring starts; byte by byte, or a consistent packed log with block reads
 * in flight, which random bytes would not make). fuzz/inflight drives the
 * logs themselves.
 *
 * Invariants: no crash or out-of-bounds access (ASan), the adapter keeps
 * serving new sessions, the device's guest memory never maps beyond the
 * memfd, and once a session ends no file descriptor it handed over is
 * left open (the process has as many eventfds, memfds and sockets as
 * before).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blk_ram.h"
#include "fuzz_common.h"
#include "vdev/blk.h"
#include "vdev/vhost_user.h"

#define RAM (256u * 1024u)
#define UVA_BASE 0x7f0000000000ull /* the front-end's mapping, as it claims */
#define NREQ 8
/* The inflight region for 2 queues of 64 (64-byte aligned per queue), in
 * the split and the packed layout, and some file beyond it. */
#define INFLIGHT_QLEN ((16u + 16u * 64u + 63u) / 64u * 64u)
#define INFLIGHT_QLEN_PACKED ((32u + 32u * 64u + 63u) / 64u * 64u)
#define INFLIGHT_FILE (2u * INFLIGHT_QLEN_PACKED + 4096u)

static struct ram_blk ram;
static struct vdev_mem mem;
static struct vdev_blk blk;
static struct vdev_vq queues[2];
static uint64_t queue_held[2 * VDEV_VQ_HELD_WORDS(64)];
static struct vdev_blk_req reqs[NREQ];
static struct vdev_iov iovs[NREQ * 10];
static struct vdev_blk_range ranges[NREQ * 2];
static struct vdev_vhost_user *vu;
static int memfd = -1, infd = -1;
static uint8_t *guest, *inflight;
static int front = -1;
static int efds[4];
static int base_fds; /* the process's open fds between inputs */

/*
 * Open file descriptors of the kinds a session hands over or makes
 * (eventfds, memfds, sockets), as /proc lists them. Others are not
 * counted: libFuzzer starts a symbolizer (pipes, /dev/null) the first
 * time it prints a new function.
 */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	FUZZ_CHECK(d != NULL);
	while ((e = readdir(d)) != NULL) {
		char path[300], to[64];
		ssize_t k;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		k = readlink(path, to, sizeof(to) - 1);
		if (k <= 0)
			continue;
		to[k] = '\0';
		n += strncmp(to, "anon_inode:[eventfd]", 20) == 0 ||
		     strncmp(to, "/memfd:", 7) == 0 || strncmp(to, "socket:", 7) == 0;
	}
	closedir(d);
	return n;
}

static void quiet(void *o, const char *msg) { (void)o, (void)msg; }

static void init_once(void)
{
	if (vu != NULL)
		return;
	memfd = memfd_create("fuzz-guest", MFD_CLOEXEC);
	FUZZ_CHECK(memfd >= 0 && ftruncate(memfd, RAM) == 0);
	guest = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	FUZZ_CHECK(guest != MAP_FAILED);
	infd = memfd_create("fuzz-inflight", MFD_CLOEXEC);
	FUZZ_CHECK(infd >= 0 && ftruncate(infd, INFLIGHT_FILE) == 0);
	inflight = mmap(NULL, INFLIGHT_FILE, PROT_READ | PROT_WRITE, MAP_SHARED, infd, 0);
	FUZZ_CHECK(inflight != MAP_FAILED);
	FUZZ_CHECK(ram_blk_init(&ram, 64u * 1024u, NREQ) == 0);
	vdev_mem_init(&mem, NULL, 0);
	struct vdev_blk_config c = {
		.capacity = 128, .num_queues = 2, .queue_size = 64, .seg_max = 8,
		.max_discard_seg = 2, .max_write_zeroes_seg = 2, .mem = &mem, .queues = queues,
		.queue_held = queue_held,
		.reqs = reqs, .num_reqs = NREQ, .iovs = iovs, .iov_per_req = 10, .ranges = ranges,
		.backend = &ram_blk_ops, .backend_opaque = &ram,
	};
	FUZZ_CHECK(vdev_blk_init(&blk, &c) == 0);
	struct vdev_vhost_user_config vc = {.listen_fd = -1, .dev = vdev_blk_dev(&blk),
					    .mem = &mem, .log = quiet, .inflight = true};
	int err;
	char eb[128];
	vu = vdev_vhost_user_create(&vc, &err, eb, sizeof(eb));
	FUZZ_CHECK(vu != NULL);
	for (int i = 0; i < 4; i++)
		efds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	base_fds = open_fds();
}

static void connect_new(void)
{
	int sv[2];

	if (front >= 0)
		close(front);
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	front = sv[0];
	FUZZ_CHECK(vdev_vhost_user_attach(vu, sv[1]) == 0);
}

static void send_msg(uint32_t req, uint32_t flags, const uint8_t *payload, uint32_t size,
		     const int *fds, unsigned nfds)
{
	uint8_t hdr[12];
	struct iovec iov[2] = {{hdr, 12}, {(void *)(uintptr_t)payload, size}};
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = size ? 2 : 1};

	memcpy(hdr, &req, 4), memcpy(hdr + 4, &flags, 4), memcpy(hdr + 8, &size, 4);
	if (nfds) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET, c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	(void)sendmsg(front, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/*
 * A consistent packed-layout log for queue qi (QEMU's QueueRegionPacked,
 * 64 entries), as a back-end that died would have left it: the first
 * v % 4 buffers in flight, each a block read of three entries (header,
 * 512 bytes of data, status) with buffer id i, the other entries on the
 * free list; the used position and wrap counter from v's upper bits.
 * Random bytes almost never make one, so the packed recovery would not be
 * reached.
 */
static void packed_log(unsigned qi, uint8_t v)
{
	uint8_t *r = inflight + qi * INFLIGHT_QLEN_PACKED;
	uint16_t k = (uint16_t)(v % 4u), used = (uint16_t)((v >> 2) % 8u);
	uint16_t h16[6] = {1, 64, (uint16_t)(3u * k), (uint16_t)(3u * k), used, used};

	memset(r, 0, INFLIGHT_QLEN_PACKED);
	memcpy(r + 8, h16, sizeof(h16)); /* version, desc_num, free and used heads */
	r[20] = r[21] = (v >> 5) & 1u;   /* used wrap counters */
	for (uint16_t i = 0; i < 64; i++) {
		uint8_t *e = r + 32 + 32u * i;
		uint16_t b = i / 3u, next = i + 1u < 64u ? (uint16_t)(i + 1u) : 0xffffu;
		uint16_t last = (uint16_t)(3u * b + 2u), num = 3, id = b, flags = 0;
		uint32_t len = 16;
		uint64_t counter = b + 1u, addr = 0x14000u;

		if (i >= 3u * k) {
			memcpy(e + 2, &next, 2); /* free */
			continue;
		}
		if (i % 3u == 2u)
			next = 0xffffu, flags = 2, len = 1, addr = 0x17000u + b;
		else if (i % 3u == 1u)
			flags = 2, len = 512, addr = 0x18000u + 512u * b;
		else
			e[0] = 1; /* the head is the one marked in flight */
		memcpy(e + 2, &next, 2);
		memcpy(e + 4, &last, 2);
		memcpy(e + 6, &num, 2);
		memcpy(e + 8, &counter, 8);
		memcpy(e + 16, &id, 2);
		memcpy(e + 18, &flags, 2);
		memcpy(e + 20, &len, 4);
		memcpy(e + 24, &addr, 8);
	}
}

static void drain_replies(void)
{
	uint8_t junk[4096];
	while (recv(front, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};

	init_once();
	memset(guest, 0, RAM);
	memset(inflight, 0, INFLIGHT_FILE);
	connect_new();
	while (in.n > 0) {
		uint8_t op = take(&in);
		switch (op % 5) {
		case 0:
		case 1: { /* a message */
			static const uint32_t known[] = {1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14,
							 15, 16, 17, 18, 21, 24, 25, 34, 31, 32};
			uint8_t r = take(&in);
			uint32_t req = r < 240 ? known[r % (sizeof(known) / sizeof(known[0]))] : r;
			uint8_t fl = take(&in);
			uint32_t flags = (fl & 0xf0) ? fl : (1u | (fl & 8u));
			uint32_t len = take(&in);
			len |= (uint32_t)(take(&in) & 1) << 8; /* up to 511 bytes */
			uint8_t payload[512];
			for (uint32_t i = 0; i < len; i++)
				payload[i] = take(&in);
			/* memory tables: keep the regions inside the memfd most of
			 * the time, so ring set-up can succeed */
			if (req == 5 && len >= 40 && (take(&in) & 3)) {
				uint32_t n = 1;
				uint64_t region[4] = {0x10000, RAM, UVA_BASE, 0};
				memcpy(payload, &n, 4);
				memcpy(payload + 8, region, 32);
			}
			/* inflight descriptions: mostly one that fits the region */
			if (req == 32 && len >= 20 && (take(&in) & 3)) {
				uint64_t d[2] = {2u * ((payload[0] & 1) ? INFLIGHT_QLEN_PACKED
								       : INFLIGHT_QLEN), 0};
				uint16_t q[2] = {2, 64};
				memcpy(payload, d, 16);
				memcpy(payload + 16, q, 4);
			}
			uint8_t plan = take(&in);
			int fds[4];
			unsigned nfds = plan % 4;
			for (unsigned i = 0; i < nfds; i++)
				fds[i] = (plan >> (2 + i)) & 1 ? memfd : efds[i];
			if (req == 32 && nfds > 0 && (plan & 0x80))
				fds[0] = infd;
			send_msg(req, flags, payload, len, fds, nfds);
			break;
		}
		case 2: { /* a kick on one of the eventfds we hand out */
			uint64_t one = 1;
			(void)!write(efds[take(&in) % 4], &one, 8);
			break;
		}
		case 4: { /* the front-end writes the inflight region: a byte, or
			   * a whole packed log a back-end could have left */
			uint8_t lo = take(&in), hi = take(&in), v = take(&in);
			if (hi >> 5 == 7)
				packed_log(lo & 1u, v);
			else
				inflight[((uint32_t)lo | (uint32_t)(hi & 0x1f) << 8) % INFLIGHT_FILE] = v;
			break;
		}
		default: { /* the guest scribbles on its memory */
			uint32_t off = (uint32_t)take(&in) | (uint32_t)take(&in) << 8 |
				       (uint32_t)(take(&in) & 3) << 16;
			guest[off % RAM] = take(&in);
			break;
		}
		}
		if (vdev_vhost_user_process(vu) != 0)
			connect_new(); /* the adapter closed it: it must take the next */
		drain_replies();
	}
	/* end the session; nothing may stay mapped */
	close(front);
	front = -1;
	FUZZ_CHECK(vdev_vhost_user_process(vu) != 0);
	void *p;
	uint64_t got;
	FUZZ_CHECK(vdev_mem_map(&mem, 0x10000, 1, VDEV_MEM_READ, &p, &got) == VDEV_EFAULT);
	FUZZ_CHECK(open_fds() == base_fds);
	return 0;
}
