/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk benchmark.
 *
 * 1. Device model, null backend: device-side ns per request (pop, parse,
 *    backend call, status, push, publish) for 1 and 4 KiB reads and
 *    writes at queue depth 1 and 32, beside a reference block device
 *    built on the reference rings (ref_vq.h): it assumes the usual
 *    header | data | status layout, trusts every field and calls the same
 *    null backend through the same kind of function pointer. Only the
 *    device half is timed; the driver simulator fills and reaps untimed.
 *
 * 2. io_uring backend on a tmpfs file: requests per second end to end
 *    (driver adds, device pops and submits, io_uring completes, device
 *    completes, driver reaps) for 4 KiB reads at queue depth 1 and 32,
 *    beside raw io_uring doing the same reads on the same file at the same
 *    depth with no device model at all.
 *
 * Medians of >= 5 alternating runs; ratio = median of per-run ratios.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "drv_mmio.h"
#include "drvsim.h"
#include "ref_vq.h"
#include "vdev/blk.h"
#include "vdev/mmio.h"
#ifdef VDEV_HAVE_LIBURING
#include "blk_uring.h"
#endif

#define NREQ 64
#define QSIZE 256
#define SECTORS (64u * 1024u * 1024u / 512u) /* 64 MiB disk */

/* ---- the null backend, shared by ours and the reference ------------------------ */

static volatile unsigned null_calls;
static int null_op(void *o, struct vdev_blk_io *io)
{
	(void)o, (void)io;
	null_calls++;
	return 0;
}
static const struct vdev_blk_backend_ops null_ops = {
	.size = sizeof(struct vdev_blk_backend_ops),
	.read = null_op,
	.write = null_op,
	.flush = null_op,
};

/* ---- a device (ours) and a driver for it ------------------------------------------- */

struct rig {
	struct sim_mem m;
	struct vdev_blk blk;
	struct vdev_vq queue[1];
	uint64_t queue_held[VDEV_VQ_HELD_WORDS(QSIZE)];
	struct vdev_blk_req reqs[NREQ];
	struct vdev_iov iovs[NREQ * 8];
	struct vdev_blk_range ranges[NREQ];
	struct vdev_mmio mmio;
	struct drv_mmio dm;
	struct drv_transport tr;
	struct drv_vq q;
	uint64_t arena;
};

static int tok[NREQ];

static void rig_init(struct rig *g, const struct vdev_blk_backend_ops *ops, void *opaque)
{
	uint64_t neg;

	memset(g, 0, sizeof(*g));
	sim_mem_init(&g->m, 8u << 20, true);
	struct vdev_blk_config c = {
		.capacity = SECTORS,
		.num_queues = 1,
		.queue_size = QSIZE,
		.seg_max = 6,
		.writeback = true,
		.mem = &g->m.mem,
		.queues = g->queue,
		.queue_held = g->queue_held,
		.reqs = g->reqs,
		.num_reqs = NREQ,
		.iovs = g->iovs,
		.iov_per_req = 8,
		.ranges = g->ranges,
		.backend = ops,
		.backend_opaque = opaque,
		.ring_features = VDEV_BIT(VDEV_F_EVENT_IDX),
	};
	if (vdev_blk_init(&g->blk, &c) != 0)
		abort();
	struct vdev_mmio_config mc = {0};
	if (vdev_mmio_init(&g->mmio, vdev_blk_dev(&g->blk), &mc) != 0)
		abort();
	g->dm.mmio = &g->mmio;
	g->tr = drv_mmio_transport(&g->dm);
	if (drv_virtio_negotiate(&g->tr, ~(uint64_t)0, &neg) != 0 ||
	    drv_virtio_setup_queue(&g->tr, &g->q, &g->m, 0, QSIZE, neg) != 0 ||
	    drv_virtio_driver_ok(&g->tr) != 0x0f)
		abort();
	g->arena = sim_alloc(&g->m, (size_t)NREQ * 8192u, 4096);
}

/* Queue `qd` requests (header | data | status) of `bytes` each. */
static void fill(struct drv_vq *q, struct sim_mem *m, uint64_t arena, unsigned qd,
		 uint32_t bytes, bool write)
{
	for (unsigned i = 0; i < qd; i++) {
		uint64_t h = arena + (uint64_t)i * 8192u;
		uint8_t *hp = sim_ptr(m, h);
		uint64_t sector = (uint64_t)i * 16;
		memset(hp, 0, 16);
		hp[0] = write ? 1 : 0;
		memcpy(hp + 8, &sector, 8);
		struct drv_buf b[3] = {{h, 16, false}, {h + 4096, bytes, !write}, {h + 64, 1, true}};
		if (drv_add(q, b, 3, false, &tok[i]) != 0)
			abort();
	}
}

static void reap_all(struct drv_vq *q, unsigned n)
{
	uint32_t len;
	unsigned got = 0;
	while (drv_get_used(q, &len) != NULL)
		got++;
	if (got != n || q->errors != 0) {
		fprintf(stderr, "bench: expected %u completions, got %u (%s)\n", n, got,
			q->last_error);
		exit(1);
	}
}

/* The device half of ours (not inlined, for instruction counts:
 * valgrind --tool=callgrind --toggle-collect='ours_section*'). */
static __attribute__((noinline)) void ours_section(struct rig *g)
{
	vdev_blk_process(&g->blk, 0);
}

static double run_ours(struct rig *g, unsigned qd, uint32_t bytes, bool write, unsigned rounds)
{
	uint64_t total = 0;

	for (unsigned r = 0; r < rounds; r++) {
		fill(&g->q, &g->m, g->arena, qd, bytes, write);
		uint64_t t0 = now_ns();
		ours_section(g);
		total += now_ns() - t0;
		reap_all(&g->q, qd);
	}
	return (double)total / ((double)rounds * qd);
}

/* ---- the reference block device ----------------------------------------------------------- */

struct refdev {
	struct sim_pair p;
	struct ref r;
	const struct vdev_blk_backend_ops *ops;
	uint64_t arena;
};

static void refdev_init(struct refdev *d)
{
	memset(d, 0, sizeof(*d));
	if (sim_pair_init(&d->p, QSIZE, VDEV_BIT(VDEV_F_VERSION_1) | VDEV_BIT(VDEV_F_EVENT_IDX),
			  8u << 20, true) != 0)
		abort();
	d->r = ref_for_pair(&d->p, QSIZE, true, false);
	d->ops = &null_ops;
	d->arena = sim_alloc(&d->p.m, (size_t)NREQ * 8192u, 4096);
}

static __attribute__((noinline)) void ref_section(struct refdev *d)
{
	static struct ref_elem es[32];
	static struct vdev_iov iov[32 * 4];
	static struct vdev_blk_io io;
	int n;

	while ((n = ref_split_pop(&d->r, es, 32, iov)) > 0) {
		for (int i = 0; i < n; i++) {
			struct ref_elem *e = &es[i];
			const uint8_t *h = e->iov[0].base; /* trusts the layout */
			uint32_t type;
			uint64_t sector;
			memcpy(&type, h, 4);
			memcpy(&sector, h + 8, 8);
			io.type = type == 1 ? VDEV_BLK_IO_WRITE : VDEV_BLK_IO_READ;
			io.offset = sector * 512;
			io.iov = &e->iov[1];
			io.iovcnt = 1;
			io.len = e->iov[1].len;
			int rc = (type == 1 ? d->ops->write : d->ops->read)(NULL, &io);
			struct vdev_iov *st = &e->iov[e->nseg - 1];
			((uint8_t *)st->base)[st->len - 1] = rc == 0 ? 0 : 1;
			ref_split_push(&d->r, e, type == 1 ? 1 : (uint32_t)io.len + 1);
		}
		(void)ref_split_publish(&d->r);
	}
}

static double run_ref(struct refdev *d, unsigned qd, uint32_t bytes, bool write, unsigned rounds)
{
	uint64_t total = 0;

	for (unsigned r = 0; r < rounds; r++) {
		fill(&d->p.drv, &d->p.m, d->arena, qd, bytes, write);
		uint64_t t0 = now_ns();
		ref_section(d);
		total += now_ns() - t0;
		reap_all(&d->p.drv, qd);
	}
	return (double)total / ((double)rounds * qd);
}

static int only_qd = -1, only_size = -1, only_write = -1;

static void model_table(unsigned runs, unsigned rounds)
{
	static struct rig g;
	static struct refdev d;
	static const unsigned qds[] = {1, 32};
	static const uint32_t sizes[] = {1024, 4096};

	printf("virtio-blk device model, null backend: device-side ns per request\n\n");
	printf("| op    | size | qd | ours (ns) | ref (ns) | ratio | ours (Mreq/s) |\n");
	printf("|-------|------|----|-----------|----------|-------|---------------|\n");
	rig_init(&g, &null_ops, NULL);
	refdev_init(&d);
	for (int w = 0; w <= 1; w++)
		for (unsigned s = 0; s < 2; s++)
			for (unsigned k = 0; k < 2; k++) {
				double o[64], r[64], x[64];
				if ((only_write >= 0 && only_write != w) ||
				    (only_qd >= 0 && only_qd != (int)qds[k]) ||
				    (only_size >= 0 && only_size != (int)sizes[s]))
					continue;
				run_ours(&g, qds[k], sizes[s], w, rounds / 4 + 1);
				run_ref(&d, qds[k], sizes[s], w, rounds / 4 + 1);
				for (unsigned i = 0; i < runs; i++) {
					o[i] = run_ours(&g, qds[k], sizes[s], w, rounds);
					r[i] = run_ref(&d, qds[k], sizes[s], w, rounds);
					x[i] = o[i] / r[i];
				}
				double mo = median(o, runs), mr = median(r, runs);
				printf("| %-5s | %2u K | %2u | %9.1f | %8.1f | %5.2f | %13.1f |\n",
				       w ? "write" : "read", sizes[s] / 1024, qds[k], mo, mr,
				       median(x, runs), 1000.0 / mo);
				fflush(stdout);
			}
}

/* ---- io_uring ---------------------------------------------------------------------------------- */

#ifdef VDEV_HAVE_LIBURING
static double run_uring_device(struct rig *g, struct uring_blk *u, unsigned qd, unsigned total)
{
	uint64_t t0 = now_ns();
	for (unsigned done = 0; done < total; done += qd) {
		fill(&g->q, &g->m, g->arena, qd, 4096, false);
		vdev_blk_process(&g->blk, 0);
		uring_blk_submit(u);
		unsigned got = 0;
		uint32_t len;
		while (got < qd) {
			uring_blk_reap(u, true);
			while (drv_get_used(&g->q, &len) != NULL)
				got++;
		}
	}
	return (double)(now_ns() - t0) / total;
}

static double run_uring_raw(struct io_uring *ring, int fd, uint8_t *buf, unsigned qd,
			    unsigned total)
{
	static struct iovec iov[64];
	uint64_t t0 = now_ns();
	for (unsigned done = 0; done < total; done += qd) {
		for (unsigned i = 0; i < qd; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
			iov[i].iov_base = buf + (size_t)i * 4096;
			iov[i].iov_len = 4096;
			io_uring_prep_readv(sqe, fd, &iov[i], 1, (uint64_t)i * 8192);
		}
		io_uring_submit(ring);
		for (unsigned got = 0; got < qd; got++) {
			struct io_uring_cqe *cqe;
			io_uring_wait_cqe(ring, &cqe);
			io_uring_cqe_seen(ring, cqe);
		}
	}
	return (double)(now_ns() - t0) / total;
}

static void uring_table(unsigned runs)
{
	static struct rig g;
	static struct uring_blk u;
	struct io_uring ring;
	char path[] = "/dev/shm/vdev-bench-XXXXXX", err[256];
	int fd = mkstemp(path);
	static uint8_t buf[64 * 4096];

	if (fd < 0 || ftruncate(fd, (off_t)SECTORS * 512) != 0) {
		printf("io_uring: SKIPPED (cannot create a file in /dev/shm)\n");
		return;
	}
	if (uring_blk_open(&u, path, false, 128, err, sizeof(err)) != 0 ||
	    io_uring_queue_init(128, &ring, 0) != 0) {
		printf("io_uring: SKIPPED (%s)\n", err);
		unlink(path);
		return;
	}
	rig_init(&g, &u.ops, &u);
	u.blk = &g.blk;
	printf("\nio_uring backend on a tmpfs file, 4 KiB reads, end to end (driver, device,\n"
	       "io_uring, device, driver) beside raw io_uring on the same file and depth\n\n");
	printf("| qd | ours (kreq/s) | raw io_uring (kreq/s) | time ratio |\n");
	printf("|----|---------------|-----------------------|------------|\n");
	static const unsigned qds[] = {1, 32};
	for (unsigned k = 0; k < 2; k++) {
		unsigned total = qds[k] == 1 ? 20000 : 64000;
		double o[64], r[64], x[64];
		run_uring_device(&g, &u, qds[k], total / 8);
		run_uring_raw(&ring, fd, buf, qds[k], total / 8);
		for (unsigned i = 0; i < runs; i++) {
			o[i] = run_uring_device(&g, &u, qds[k], total);
			r[i] = run_uring_raw(&ring, fd, buf, qds[k], total);
			x[i] = o[i] / r[i];
		}
		printf("| %2u | %13.0f | %21.0f | %10.2f |\n", qds[k], 1e6 / median(o, runs),
		       1e6 / median(r, runs), median(x, runs));
		fflush(stdout);
	}
	io_uring_queue_exit(&ring);
	uring_blk_close(&u);
	close(fd);
	unlink(path);
}
#endif

int main(int argc, char **argv)
{
	unsigned runs = 7, rounds = 2000;
	bool model_only = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--qd") && i + 1 < argc)
			only_qd = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--size") && i + 1 < argc)
			only_size = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--op") && i + 1 < argc)
			only_write = !strcmp(argv[++i], "write");
		else if (!strcmp(argv[i], "--model-only"))
			model_only = true;
		else {
			fprintf(stderr,
				"usage: %s [--runs N (5..64)] [--rounds R] [--qd 1|32]"
				" [--size 1024|4096] [--op read|write] [--model-only]\n",
				argv[0]);
			return 2;
		}
	}
	if (runs < 5 || runs > 64 || rounds == 0) {
		fprintf(stderr, "bench: need 5..64 runs and at least one round\n");
		return 2;
	}
	model_table(runs, rounds);
	if (model_only)
		return 0;
#ifdef VDEV_HAVE_LIBURING
	uring_table(runs);
#else
	printf("\nio_uring: SKIPPED (built without liburing)\n");
#endif
	return 0;
}
