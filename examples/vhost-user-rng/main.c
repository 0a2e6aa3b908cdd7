/* SPDX-License-Identifier: MIT */
/*
 * vhost-user-rng: libvdev's virtio-rng device model as a vhost-user
 * back-end daemon. Entropy comes from getrandom(), or from a file read in
 * order (--source, a known stream for tests; it starts over at its end):
 *
 *   vhost-user-rng --socket=/tmp/rng.sock [--rate=BYTES_PER_SEC]
 *   qemu-system-x86_64 ... -object memory-backend-memfd,id=mem,size=1G,share=on \
 *     -machine memory-backend=mem -chardev socket,id=rng,path=/tmp/rng.sock \
 *     -device vhost-user-rng-pci,chardev=rng
 *
 * --rate limits the bytes per second (a token bucket refilled every 10 ms):
 * a buffer that comes when the bucket holds less than it asks for waits
 * (the device's asynchronous completion) until it does. With
 * --short-answers it gets what the bucket holds instead (at least a byte),
 * as the spec allows, and the bucket holds a tenth of a second's worth.
 * That is not the default because Debian's 6.1 virtio-rng driver can stop
 * asking after a short answer: it keeps the unread rest of an answer with
 * no buffer posted, and a reader that finds too little of it waits for a
 * completion that never comes (seen in guest_rng_rate with short answers;
 * drivers/char/hw_random/virtio-rng.c, copy_data() and virtio_read()). --log-requests prints "rng: served OFFSET LEN at SECONDS" for
 * each answer (OFFSET in the --source stream; SECONDS on CLOCK_MONOTONIC), which the guest test uses to tell the
 * bytes its reader got from those the kernel's own hwrng thread took.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "pcidev.h"
#include "vdev/rng.h"
#include "vdev/vhost_user.h"
#include "vu_daemon.h"

#define PROG "vhost-user-rng"
#define IOV_PER_REQ 16
#define TICK_MS 10u

struct options {
	struct vu_daemon_opts com; /* --socket, --fd, --queue-size, ... */
	const char *source;
	unsigned max_request;
	unsigned long long rate;
	bool log_requests, short_answers;
};

static struct {
	struct options o;
	struct vdev_mem mem;
	struct vdev_rng rng;
	struct vdev_vq queues[VDEV_RNG_NUM_QUEUES];
	uint64_t *queue_held;
	struct vdev_rng_req *reqs;
	struct vdev_iov *iovs;
	struct vdev_rng_io **waiting; /* FIFO of requests the rate limit holds */
	unsigned nwaiting;
	int src_fd;
	uint64_t src_off, src_size;
	uint64_t tokens, burst, credit; /* rate limit (credit: 1/1000 bytes); unused without --rate */
	uint64_t waited, served;
	struct pcidev bus;
	struct vdev_vhost_user *vu;
	int timer_fd;
} D = {.o = {.max_request = 4096}, .src_fd = -1, .timer_fd = -1};

static const struct vu_daemon_spec SPEC = {
	.prog = PROG,
	.synopsis =
		"usage: vhost-user-rng (--socket=PATH | --fd=N) [options]\n",
	.help =
		"  --source=FILE          entropy from FILE, in order, from its start again at\n"
		"                         its end (default: getrandom())\n"
		"  --rate=BYTES           at most BYTES per second, 1..1073741824 (default: no limit)\n"
		"  --short-answers        with --rate: answer what the bucket holds at once\n"
		"  --max-request=N        bytes per guest buffer, 1..65536 (default 4096)\n"
		"  --log-requests         print \"rng: served OFFSET LEN at SECONDS\" for every answer\n",
	.type = "rng",
	.flags = VU_DAEMON_SOCKET | VU_DAEMON_PCIDEV,
	.queue_size = 256,
};

static int parse(int argc, char **argv, struct options *o)
{
	enum { O_SOURCE = 1, O_RATE, O_SHORT, O_MAXREQ, O_LOG };
	static const struct option own[] = {
		{"source", required_argument, NULL, O_SOURCE},
		{"rate", required_argument, NULL, O_RATE},
		{"short-answers", no_argument, NULL, O_SHORT},
		{"max-request", required_argument, NULL, O_MAXREQ},
		{"log-requests", no_argument, NULL, O_LOG},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = vu_daemon_getopt(&SPEC, &o->com, argc, argv, own)) > 0) {
		switch (c) {
		case O_SOURCE: o->source = optarg; break;
		case O_RATE:
			if (vu_daemon_uint(PROG, "rate", optarg, 1, 1ull << 30, &o->rate) != 0)
				return -1;
			break;
		case O_SHORT: o->short_answers = true; break;
		case O_MAXREQ:
			if (vu_daemon_u32(PROG, "max-request", optarg, 1, 65536, &o->max_request) != 0)
				return -1;
			break;
		case O_LOG: o->log_requests = true; break;
		}
	}
	return c;
}

/* ---- the entropy source --------------------------------------------------------- */

/* Fill `n` bytes of buf from the source; false if it failed. */
static bool source_read(uint8_t *buf, size_t n)
{
	size_t done = 0;

	if (D.src_fd < 0) {
		while (done < n) {
			ssize_t r = getrandom(buf + done, n - done, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return false;
			done += (size_t)r;
		}
		return true;
	}
	while (done < n) {
		size_t want = n - done;
		if (want > D.src_size - D.src_off)
			want = (size_t)(D.src_size - D.src_off);
		ssize_t r = pread(D.src_fd, buf + done, want, (off_t)D.src_off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		done += (size_t)r;
		D.src_off = (D.src_off + (uint64_t)r) % D.src_size; /* the stream starts over */
	}
	return true;
}

/* Write up to `n` bytes into the request; returns how many (0 on a source error). */
static uint32_t produce(struct vdev_rng_io *io, uint32_t n)
{
	static uint8_t buf[65536];
	uint64_t off = D.src_off;

	if (n > io->len)
		n = io->len;
	if (!source_read(buf, n))
		return 0;
	if (D.o.log_requests) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		fprintf(stderr, "rng: served %llu %u at %lld.%03ld\n", (unsigned long long)off, n,
			(long long)t.tv_sec, t.tv_nsec / 1000000L);
	}
	D.served += n;
	return (uint32_t)vdev_iov_from_buf(io->iov, io->iovcnt, 0, buf, n);
}

/* How much the rate limit lets through now, for a request of len bytes. */
static uint32_t allowance(uint32_t len)
{
	if (D.o.rate == 0 || D.tokens >= len)
		return len;
	return D.o.short_answers ? (uint32_t)D.tokens : 0;
}

static int h_fill(void *opaque, struct vdev_rng_io *io)
{
	uint32_t n;

	(void)opaque;
	n = D.nwaiting > 0 ? 0 : allowance(io->len); /* keep the order of requests */
	if (n == 0) {
		D.waiting[D.nwaiting++] = io; /* nwaiting <= num_reqs: the pool bounds it */
		D.waited++;
		return VDEV_RNG_ASYNC;
	}
	n = produce(io, n);
	D.tokens -= D.o.rate != 0 ? n : 0;
	return (int)n;
}

/* A reset gives up the waiting requests: they go back empty. */
static void h_cancel(void *opaque, struct vdev_rng_io *io)
{
	(void)opaque;
	for (unsigned i = 0; i < D.nwaiting; i++) {
		if (D.waiting[i] != io)
			continue;
		memmove(&D.waiting[i], &D.waiting[i + 1], (D.nwaiting - i - 1) * sizeof(*D.waiting));
		D.nwaiting--;
		vdev_rng_complete(&D.rng, io, 0);
		return;
	}
}

static const struct vdev_rng_backend_ops rng_ops = {
	.size = sizeof(struct vdev_rng_backend_ops),
	.fill = h_fill,
	.cancel = h_cancel,
};

/* The ring is about to stop (GET_VRING_BASE): nothing may stay in flight,
 * so the waiting requests are answered now, past the rate limit. */
static void on_drain(void *opaque, uint16_t q)
{
	(void)opaque, (void)q;
	for (unsigned i = 0; i < D.nwaiting; i++)
		vdev_rng_complete(&D.rng, D.waiting[i], produce(D.waiting[i], D.waiting[i]->len));
	D.nwaiting = 0;
}

/* The rate limit's clock: refill the bucket, answer the waiting requests. */
static void on_timer(void *opaque, int fd)
{
	uint64_t expirations;
	unsigned done = 0;

	(void)opaque;
	if (read(fd, &expirations, sizeof(expirations)) < 0)
		return; /* spurious */
	D.credit += D.o.rate * TICK_MS * expirations;
	D.tokens += D.credit / 1000u;
	D.credit %= 1000u;
	if (D.tokens > D.burst)
		D.tokens = D.burst;
	while (D.nwaiting > done) {
		struct vdev_rng_io *io = D.waiting[done];
		uint32_t n = allowance(io->len);
		if (n == 0)
			break; /* in order: the first waits for its turn */
		done++;
		n = produce(io, n);
		D.tokens -= n;
		vdev_rng_complete(&D.rng, io, n);
	}
	memmove(D.waiting, D.waiting + done, (D.nwaiting - done) * sizeof(*D.waiting));
	D.nwaiting -= done;
	if (done > 0)
		(void)vdev_rng_process(&D.rng); /* slots are free again */
}

int main(int argc, char **argv)
{
	char eb[256];
	int err;

	if (parse(argc, argv, &D.o) != 0)
		return 2;
	if (D.o.source != NULL) {
		struct stat st;
		D.src_fd = open(D.o.source, O_RDONLY | O_CLOEXEC);
		if (D.src_fd < 0 || fstat(D.src_fd, &st) != 0 || st.st_size <= 0) {
			fprintf(stderr, PROG ": --source=%s: %s\n", D.o.source,
				D.src_fd < 0 ? strerror(errno) : "empty or unreadable");
			return 1;
		}
		D.src_size = (uint64_t)st.st_size;
	}
	unsigned nreq = D.o.com.queue_size; /* never short of slots for a full ring */
	D.reqs = calloc(nreq, sizeof(*D.reqs));
	D.iovs = calloc((size_t)nreq * IOV_PER_REQ, sizeof(*D.iovs));
	D.waiting = calloc(nreq, sizeof(*D.waiting));
	D.queue_held = calloc((size_t)VDEV_RNG_NUM_QUEUES * VDEV_VQ_HELD_WORDS(D.o.com.queue_size),
			      sizeof(*D.queue_held));
	if (D.reqs == NULL || D.iovs == NULL || D.waiting == NULL || D.queue_held == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	vdev_mem_init(&D.mem, NULL, 0);
	struct vdev_rng_config c = {
		.queue_size = D.o.com.queue_size,
		.max_request = D.o.max_request,
		.mem = &D.mem,
		.queues = D.queues,
		.queue_held = D.queue_held,
		.reqs = D.reqs,
		.num_reqs = nreq,
		.iovs = D.iovs,
		.iov_per_req = IOV_PER_REQ,
		.backend = &rng_ops,
	};
	if ((err = vdev_rng_init(&D.rng, &c)) != 0) {
		fprintf(stderr, PROG ": cannot set up the device: %s\n", vdev_strerror(err));
		return 1;
	}
	struct vdev_dev *front =
		pcidev_daemon_front(PROG, &D.o.com.pcidev, &D.bus, vdev_rng_dev(&D.rng), &D.mem);
	if (front == NULL)
		return 1;
	struct vdev_vhost_user_config vc = {
		.socket_path = D.o.com.socket_path,
		.listen_fd = D.o.com.fd,
		.dev = front,
		.mem = &D.mem,
		.drain = on_drain,
	};
	D.vu = vdev_vhost_user_create(&vc, &err, eb, sizeof(eb));
	if (D.vu == NULL) {
		fprintf(stderr, PROG ": %s\n", eb);
		return 1;
	}
	if (D.o.rate != 0) {
		/* a tenth of a second's worth; whole answers need room for a whole buffer */
		D.burst = D.o.rate / 10u > 0 ? D.o.rate / 10u : 1u;
		if (!D.o.short_answers && D.burst < D.o.max_request)
			D.burst = D.o.max_request;
		D.tokens = D.burst;
		struct itimerspec its = {
			.it_interval = {0, (long)TICK_MS * 1000000L},
			.it_value = {0, (long)TICK_MS * 1000000L},
		};
		D.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (D.timer_fd < 0 || timerfd_settime(D.timer_fd, 0, &its, NULL) != 0 ||
		    vdev_vhost_user_add_fd(D.vu, 0, D.timer_fd, on_timer, NULL) != 0) {
			fprintf(stderr, PROG ": cannot set up the rate limit's timer\n");
			return 1;
		}
	}
	vu_daemon_catch_signals(D.vu);
	if (!D.o.com.quiet)
		fprintf(stderr, PROG ": entropy from %s%s, serving %s\n",
			D.o.source ? D.o.source : "getrandom()", D.o.rate ? " (rate-limited)" : "",
			vu_daemon_where(&D.o.com));
	err = vdev_vhost_user_run(D.vu);
	if (D.o.com.stats) {
		struct vdev_rng_stats st;
		vdev_rng_get_stats(&D.rng, &st);
		fprintf(stderr,
			PROG ": %llu requests, %llu bytes (%llu short answers, %llu empty), %llu "
			"bad buffers, %llu waited for the rate limit\n",
			(unsigned long long)st.requests, (unsigned long long)st.bytes,
			(unsigned long long)st.short_answers, (unsigned long long)st.empty,
			(unsigned long long)st.bad_chains, (unsigned long long)D.waited);
	}
	vu_daemon_release_signals();
	struct vdev_vhost_user *vu = D.vu;
	D.vu = NULL;
	vdev_vhost_user_destroy(vu);
	if (D.timer_fd >= 0)
		close(D.timer_fd);
	if (D.src_fd >= 0)
		close(D.src_fd);
	free(D.reqs);
	free(D.iovs);
	free(D.queue_held);
	free(D.waiting);
	return err == 0 ? 0 : 1;
}
