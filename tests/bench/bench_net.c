/* SPDX-License-Identifier: MIT */
/*
 * virtio-net benchmark: device-side ns per frame and frames per second
 * through the device model with a null packet backend, 64-byte and
 * 1500-byte frames, transmit and receive (mergeable buffers), beside a
 * reference network device built on the reference rings (ref_vq.h): it
 * trusts the usual layouts (transmit: header | frame; receive: one
 * buffer), copies the header and calls the same null transmit through
 * the same kind of function pointer, or copies header and frame into the
 * buffer, with no validation, filtering or feature checks. Only the
 * device half is timed; the driver simulator fills and reaps untimed.
 * Split ring, EVENT_IDX, batches of 32: ours pops and completes transmit
 * chains 32 at a time (tx_iovs, tx_batch, tx_elems) and receives 32 frames per
 * vdev_net_receive_batch() call (rx_bufs 32), the reference likewise pops
 * 32, completes them and publishes once. "rx1" is receive one frame per
 * call (vdev_net_receive()), beside the reference doing one pop, push and
 * publish per frame. Medians of >= 5 alternating runs; ratio = median of
 * per-run ratios.
 *
 * What the reference must do like any device is not left out: it decodes
 * the whole virtio-net header it passes to the transmit op (it used to
 * fill in only flags and gso_type), and on receive it applies the unicast
 * MAC filter the driver negotiated (CTRL_RX: frames to another unicast
 * address are dropped; it used to deliver everything).
 *
 * The device half of each side runs in ours_section() / ref_section()
 * (not inlined), for instruction counts:
 *   valgrind --tool=callgrind --toggle-collect=ours_section bench_net ...
 *
 * usage: bench_net [--runs N] [--rounds R] [--dir tx|rx|rx1] [--size 64|1500]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "drv_mmio.h"
#include "drvsim.h"
#include "ref_vq.h"
#include "vdev/mmio.h"
#include "vdev/net.h"

#define QSIZE 256
#define BATCH 32
#define SLOT 2048u
#define HDR VDEV_NET_HDR_LEN

/* ---- the null backend, shared by ours and the reference ---- */
static volatile size_t sunk;
static int null_transmit(void *o, uint16_t pair, const struct vdev_net_hdr *h,
			 const struct vdev_iov *iov, unsigned n, size_t len)
{
	(void)o, (void)pair, (void)h, (void)iov, (void)n;
	sunk += len;
	return 0;
}
static const struct vdev_net_backend_ops null_ops = {
	.size = sizeof(struct vdev_net_backend_ops),
	.transmit = null_transmit,
};

static const uint8_t MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static uint8_t frame[1600];
static int tok[BATCH];

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

/* transmit chains: header | frame (2 descriptors), or receive buffers */
static void fill(struct drv_vq *q, struct sim_mem *m, uint64_t arena, size_t len, bool rx)
{
	for (unsigned i = 0; i < BATCH; i++) {
		uint64_t g = arena + (uint64_t)i * SLOT;
		struct drv_buf b[2] = {{g, HDR, false}, {g + HDR, (uint32_t)len, false}};
		int rc;
		if (rx) {
			b[0] = (struct drv_buf){g, SLOT, true};
			rc = drv_add(q, b, 1, false, &tok[i]);
		} else {
			memset(sim_ptr(m, g), 0, HDR);
			memcpy(sim_ptr(m, g + HDR), frame, len);
			rc = drv_add(q, b, 2, false, &tok[i]);
		}
		if (rc != 0)
			abort();
	}
}

/* ---- ours ---- */
struct rig {
	struct sim_mem m;
	struct vdev_net net;
	struct vdev_vq queues[3];
	uint64_t queue_held[3 * VDEV_VQ_HELD_WORDS(QSIZE)];
	struct vdev_vq_elem elems[BATCH];
	struct vdev_iov iovs[(1 * (BATCH + 1) + 1) * 8];
	struct vdev_iov tx_iovs[1 * BATCH * 8]; /* transmit pops BATCH chains at once */
	struct vdev_vq_elem tx_elems[1 * BATCH];  /* into these */
	struct vdev_mmio mmio;
	struct drv_mmio dm;
	struct drv_transport tr;
	struct drv_vq q[3];
	uint64_t arena;
};

static void rig_init(struct rig *g)
{
	uint64_t neg;

	memset(g, 0, sizeof(*g));
	sim_mem_init(&g->m, 8u << 20, true);
	struct vdev_net_config c = {
		.max_pairs = 1, .queue_size = QSIZE, .link_up = true, .mtu = 1500,
		.mem = &g->m.mem, .queues = g->queues,
		.queue_held = g->queue_held, .elems = g->elems, .iovs = g->iovs,
		.rx_bufs = BATCH, .iov_per_chain = 8, .backend = &null_ops,
		.ring_features = VDEV_BIT(VDEV_F_EVENT_IDX),
		.tx_iovs = g->tx_iovs, .tx_batch = BATCH, .tx_elems = g->tx_elems,
	};
	memcpy(c.mac, MAC, 6);
	if (vdev_net_init(&g->net, &c) != 0)
		abort();
	struct vdev_mmio_config mc = {0};
	if (vdev_mmio_init(&g->mmio, vdev_net_dev(&g->net), &mc) != 0)
		abort();
	g->dm.mmio = &g->mmio;
	g->tr = drv_mmio_transport(&g->dm);
	if (drv_virtio_negotiate(&g->tr, ~(uint64_t)0, &neg) != 0)
		abort();
	for (uint16_t i = 0; i < 3; i++)
		if (drv_virtio_setup_queue(&g->tr, &g->q[i], &g->m, i, QSIZE, neg) != 0)
			abort();
	if (drv_virtio_driver_ok(&g->tr) != 0x0f)
		abort();
	g->arena = sim_alloc(&g->m, (size_t)BATCH * SLOT, 4096);
}

enum dir { TX, RX, RX1 };

/* The device half of ours: one ring-full. */
static __attribute__((noinline)) void ours_section(struct rig *g, size_t len, enum dir d)
{
	static struct vdev_net_frame fr[BATCH];
	static int res[BATCH];
	struct vdev_iov v = {frame, len};

	if (d == RX1) {
		for (unsigned i = 0; i < BATCH; i++)
			if (vdev_net_receive(&g->net, 0, NULL, &v, 1, len) != 0)
				abort();
	} else if (d == RX) {
		for (unsigned i = 0; i < BATCH; i++)
			fr[i] = (struct vdev_net_frame){NULL, &v, 1, len};
		if (vdev_net_receive_batch(&g->net, 0, fr, BATCH, res) != BATCH)
			abort();
	} else {
		vdev_net_process_tx(&g->net, 0);
	}
}

static double run_ours(struct rig *g, size_t len, enum dir d, unsigned rounds)
{
	uint64_t total = 0;

	for (unsigned r = 0; r < rounds; r++) {
		fill(&g->q[d != TX ? 0 : 1], &g->m, g->arena, len, d != TX);
		uint64_t t0 = now_ns();
		ours_section(g, len, d);
		total += now_ns() - t0;
		reap_all(&g->q[d != TX ? 0 : 1], BATCH);
	}
	return (double)total / ((double)rounds * BATCH);
}

/* ---- the reference network device ---- */
struct refdev {
	struct sim_pair p;
	struct ref r;
	uint64_t arena;
};

static void refdev_init(struct refdev *d)
{
	memset(d, 0, sizeof(*d));
	if (sim_pair_init(&d->p, QSIZE, VDEV_BIT(VDEV_F_VERSION_1) | VDEV_BIT(VDEV_F_EVENT_IDX),
			  8u << 20, true) != 0)
		abort();
	d->r = ref_for_pair(&d->p, QSIZE, true, false);
	d->arena = sim_alloc(&d->p.m, (size_t)BATCH * SLOT, 4096);
}

static void ref_tx(struct refdev *d, const struct vdev_net_backend_ops *ops)
{
	static struct ref_elem es[BATCH];
	static struct vdev_iov iov[BATCH * 4];
	struct vdev_net_hdr h;
	int n;

	while ((n = ref_split_pop(&d->r, es, BATCH, iov)) > 0) {
		for (int i = 0; i < n; i++) {
			struct ref_elem *e = &es[i];
			const uint8_t *raw = e->iov[0].base; /* trusts the layout */
			h.flags = raw[0];
			h.gso_type = raw[1];
			memcpy(&h.hdr_len, raw + 2, 2);
			memcpy(&h.gso_size, raw + 4, 2);
			memcpy(&h.csum_start, raw + 6, 2);
			memcpy(&h.csum_offset, raw + 8, 2);
			h.num_buffers = 0;
			ops->transmit(NULL, 0, &h, &e->iov[1], 1, e->iov[1].len);
			ref_split_push(&d->r, e, 0);
		}
		(void)ref_split_publish(&d->r);
	}
}

/* The receive filter every device applies once the driver negotiated
 * CTRL_RX: unicast to the device's own address, or a group address. */
static inline bool ref_accept(const uint8_t *f)
{
	return (f[0] & 1u) || memcmp(f, MAC, 6) == 0;
}

static void ref_rx(struct refdev *d, size_t len)
{
	static struct ref_elem e;
	static struct vdev_iov iov[4];
	uint8_t raw[HDR] = {0};

	raw[10] = 1; /* num_buffers */
	if (!ref_accept(frame))
		abort();
	if (ref_split_pop(&d->r, &e, 1, iov) != 1)
		abort();
	memcpy(e.iov[0].base, raw, HDR);
	memcpy((uint8_t *)e.iov[0].base + HDR, frame, len);
	ref_split_push(&d->r, &e, (uint32_t)(HDR + len));
	(void)ref_split_publish(&d->r);
}

/* Receive a batch: pop them all, copy header and frame into each, push
 * each, publish once. */
static void ref_rx_batch(struct refdev *d, size_t len)
{
	static struct ref_elem es[BATCH];
	static struct vdev_iov iov[BATCH * 4];
	uint8_t raw[HDR] = {0};
	int n;

	raw[10] = 1; /* num_buffers */
	if ((n = ref_split_pop(&d->r, es, BATCH, iov)) != BATCH)
		abort();
	for (int i = 0; i < n; i++) {
		if (!ref_accept(frame))
			abort();
		memcpy(es[i].iov[0].base, raw, HDR);
		memcpy((uint8_t *)es[i].iov[0].base + HDR, frame, len);
		ref_split_push(&d->r, &es[i], (uint32_t)(HDR + len));
	}
	(void)ref_split_publish(&d->r);
}

static __attribute__((noinline)) void ref_section(struct refdev *d, size_t len, enum dir dir)
{
	if (dir == RX1) {
		for (unsigned i = 0; i < BATCH; i++)
			ref_rx(d, len);
	} else if (dir == RX) {
		ref_rx_batch(d, len);
	} else {
		ref_tx(d, &null_ops);
	}
}

static double run_ref(struct refdev *d, size_t len, enum dir dir, unsigned rounds)
{
	uint64_t total = 0;

	for (unsigned r = 0; r < rounds; r++) {
		fill(&d->p.drv, &d->p.m, d->arena, len, dir != TX);
		uint64_t t0 = now_ns();
		ref_section(d, len, dir);
		total += now_ns() - t0;
		reap_all(&d->p.drv, BATCH);
	}
	return (double)total / ((double)rounds * BATCH);
}

int main(int argc, char **argv)
{
	unsigned runs = 7, rounds = 2000;
	static struct rig g;
	static struct refdev d;
	static const size_t sizes[] = {64, 1500};
	static const char *const names[] = {"tx ", "rx ", "rx1"};
	int only_dir = -1;
	long only_size = -1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			i++;
			only_dir = !strcmp(argv[i], "tx") ? TX : !strcmp(argv[i], "rx") ? RX : RX1;
		} else if (!strcmp(argv[i], "--size") && i + 1 < argc)
			only_size = atol(argv[++i]);
		else {
			fprintf(stderr,
				"usage: %s [--runs N (5..64)] [--rounds R] [--dir tx|rx|rx1]"
				" [--size 64|1500]\n",
				argv[0]);
			return 2;
		}
	}
	if (runs < 5 || runs > 64 || rounds == 0) {
		fprintf(stderr, "bench: need 5..64 runs and at least one round\n");
		return 2;
	}
	memcpy(frame, MAC, 6); /* to the guest's MAC: passes the receive filter */
	for (size_t i = 12; i < sizeof(frame); i++)
		frame[i] = (uint8_t)i;
	rig_init(&g);
	refdev_init(&d);
	printf("virtio-net device model, null backend: device-side ns per frame\n"
	       "(split ring, EVENT_IDX, batches of %u; receive into mergeable buffers;\n"
	       "rx1: one frame per call)\n\n",
	       BATCH);
	printf("| dir | frame | ours (ns) | ref (ns) | ratio | ours (Mpps) |\n");
	printf("|-----|-------|-----------|----------|-------|-------------|\n");
	for (int dir = TX; dir <= RX1; dir++)
		for (unsigned s = 0; s < 2; s++) {
			double o[64], r[64], x[64];
			if ((only_dir >= 0 && only_dir != dir) ||
			    (only_size >= 0 && (size_t)only_size != sizes[s]))
				continue;
			run_ours(&g, sizes[s], (enum dir)dir, rounds / 4 + 1);
			run_ref(&d, sizes[s], (enum dir)dir, rounds / 4 + 1);
			for (unsigned i = 0; i < runs; i++) {
				o[i] = run_ours(&g, sizes[s], (enum dir)dir, rounds);
				r[i] = run_ref(&d, sizes[s], (enum dir)dir, rounds);
				x[i] = o[i] / r[i];
			}
			double mo = median(o, runs), mr = median(r, runs);
			printf("| %s | %5zu | %9.1f | %8.1f | %5.2f | %11.2f |\n", names[dir],
			       sizes[s], mo, mr, median(x, runs), 1000.0 / mo);
			fflush(stdout);
		}
	return 0;
}
