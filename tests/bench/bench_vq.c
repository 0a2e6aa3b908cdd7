/* SPDX-License-Identifier: MIT */
/*
 * Virtqueue benchmark: device-side nanoseconds per chain for libvdev's
 * queues beside a minimal reference device compiled into this binary.
 *
 * The reference is the "speed of light" for the same ring protocol and the
 * same output: it hands the device the same element (host segments with
 * the readable ones first and their count, readable and writable byte
 * totals, the id) using a shadow avail index and a one-region translate
 * with a single bounds check, and nothing else: no loop, order, length,
 * zero-length, read-only or segment-capacity validation, no indirect
 * support. It keeps the barriers and the notification decision, without
 * which the ring protocol is not correct at all. Ours does everything the
 * library promises against a hostile guest. Both run the same workload
 * through the same simulated driver; only the device half is timed.
 *
 * One run of a configuration: `rounds` times, the driver fills the ring
 * (untimed), then the device pops/pushes/publishes every chain in batches
 * of B (timed), then the driver reaps (untimed). Runs of ours and of the
 * reference alternate; the table shows medians over the runs and the
 * median of the per-run ratios ours/reference.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drvsim.h"
#include "vdev/device.h"

#define QSIZE 256u
#define MAXB 32u

/* ---- reference device ------------------------------------------------------ */

struct ref {
	uint8_t *base;    /* host address of the single region */
	uint64_t gpa, size;
	void *desc, *driver, *device;
	uint16_t size_q, mask;
	uint16_t last_avail, shadow, used_idx, signalled;
	uint16_t batch_pos, batch_flags, staged, unchecked;
	bool avail_wrap, used_wrap, event_idx, packed;
};

struct ref_elem {
	struct vdev_iov *iov;
	uint32_t out_bytes, in_bytes;
	uint16_t n_out, nseg;
	uint16_t id, ndescs;
};

#define LD16(p) (*(const volatile uint16_t *)(p))
#define LD32(p) (*(const volatile uint32_t *)(p))
#define LD64(p) (*(const volatile uint64_t *)(p))
#define ST16(p, v) (*(volatile uint16_t *)(p) = (uint16_t)(v))
#define ST32(p, v) (*(volatile uint32_t *)(p) = (uint32_t)(v))

/* One-region translate; the segment's direction goes into the counts. */
static inline int ref_xlate(struct ref *r, uint64_t addr, uint32_t len, uint16_t flags,
			    struct ref_elem *e)
{
	uint64_t off = addr - r->gpa;
	if (off >= r->size || len > r->size - off || e->nseg == 4)
		return -1;
	e->iov[e->nseg].base = r->base + off;
	e->iov[e->nseg].len = len;
	e->nseg++;
	if (flags & 2u) {
		e->in_bytes += len;
	} else {
		e->out_bytes += len;
		e->n_out++;
	}
	return 0;
}

static int ref_split_pop(struct ref *r, struct ref_elem *es, unsigned max, struct vdev_iov *iov)
{
	unsigned n = 0;
	uint8_t *av = r->driver;
	if (r->last_avail == r->shadow) {
		r->shadow = LD16(av + 2);
		if (r->shadow == r->last_avail)
			return 0;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	}
	while (n < max && r->last_avail != r->shadow) {
		uint16_t i = LD16(av + 4 + 2u * (r->last_avail & r->mask));
		struct ref_elem *e = &es[n];
		e->iov = iov + 4 * n++;
		e->id = i;
		e->nseg = e->n_out = 0;
		e->out_bytes = e->in_bytes = 0;
		e->ndescs = 0;
		r->last_avail++;
		for (;;) {
			uint8_t *d = (uint8_t *)r->desc + 16u * (i & r->mask);
			uint16_t flags = LD16(d + 12);
			ref_xlate(r, LD64(d), LD32(d + 8), flags, e);
			e->ndescs++;
			if (!(flags & 1u))
				break;
			i = LD16(d + 14);
		}
	}
	return (int)n;
}

static void ref_split_push(struct ref *r, const struct ref_elem *e, uint32_t len)
{
	uint8_t *u = (uint8_t *)r->device + 4 + 8u * (r->used_idx & r->mask);
	ST32(u, e->id);
	ST32(u + 4, len);
	r->used_idx++;
}

static bool ref_split_publish(struct ref *r)
{
	uint16_t old = r->signalled;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	ST16((uint8_t *)r->device + 2, r->used_idx);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	r->signalled = r->used_idx;
	if (!r->event_idx)
		return !(LD16(r->driver) & 1u);
	uint16_t ev = LD16((uint8_t *)r->driver + 4 + 2u * r->size_q);
	return (uint16_t)(r->used_idx - ev - 1) < (uint16_t)(r->used_idx - old);
}

static int ref_packed_pop(struct ref *r, struct ref_elem *es, unsigned max, struct vdev_iov *iov)
{
	unsigned n = 0;
	while (n < max) {
		uint8_t *d = (uint8_t *)r->desc + 16u * r->last_avail;
		uint16_t flags = LD16(d + 14);
		if (((flags >> 7) & 1u) != r->avail_wrap || ((flags >> 15) & 1u) == r->avail_wrap)
			break;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		struct ref_elem *e = &es[n];
		e->iov = iov + 4 * n++;
		e->nseg = e->n_out = 0;
		e->out_bytes = e->in_bytes = 0;
		e->ndescs = 0;
		for (;;) {
			ref_xlate(r, LD64(d), LD32(d + 8), flags, e);
			e->id = LD16(d + 12);
			e->ndescs++;
			if (++r->last_avail == r->size_q) {
				r->last_avail = 0;
				r->avail_wrap = !r->avail_wrap;
			}
			if (!(flags & 1u))
				break;
			d = (uint8_t *)r->desc + 16u * r->last_avail;
			flags = LD16(d + 14);
		}
	}
	return (int)n;
}

static void ref_packed_push(struct ref *r, const struct ref_elem *e, uint32_t len)
{
	uint8_t *d = (uint8_t *)r->desc + 16u * r->used_idx;
	uint16_t flags = (uint16_t)((r->used_wrap ? 0x8080u : 0u) | (len ? 2u : 0u));
	ST16(d + 12, e->id);
	ST32(d + 8, len);
	if (r->staged++ == 0) {
		r->batch_pos = r->used_idx;
		r->batch_flags = flags;
	} else {
		ST16(d + 14, flags);
	}
	r->used_idx = (uint16_t)(r->used_idx + e->ndescs);
	if (r->used_idx >= r->size_q) {
		r->used_idx = (uint16_t)(r->used_idx - r->size_q);
		r->used_wrap = !r->used_wrap;
	}
	r->unchecked = (uint16_t)(r->unchecked + e->ndescs);
}

static bool ref_packed_publish(struct ref *r)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	ST16((uint8_t *)r->desc + 16u * r->batch_pos + 14, r->batch_flags);
	r->staged = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t fl = LD16((uint8_t *)r->driver + 2) & 3u;
	uint16_t old = (uint16_t)(r->used_idx - r->unchecked);
	r->unchecked = 0;
	if (fl == 1)
		return false;
	if (fl != 2 || !r->event_idx)
		return true;
	uint16_t ow = LD16(r->driver), ev = ow & 0x7fffu;
	if ((ow >> 15) != r->used_wrap)
		ev = (uint16_t)(ev - r->size_q);
	return (uint16_t)(r->used_idx - ev - 1) < (uint16_t)(r->used_idx - old);
}

/* ---- workload ------------------------------------------------------------------ */

struct config {
	bool packed, event_idx;
	unsigned descs, batch;
};

static int tok;

static void fill(struct sim_pair *p, uint64_t data, unsigned descs)
{
	struct drv_buf b[3] = {{data, 16, false}, {data + 64, 4096, true}, {data + 8192, 1, true}};
	struct drv_buf one = {data, 4096, true};

	while (drv_add(&p->drv, descs == 1 ? &one : b, descs, false, &tok) == 0)
		;
}

static unsigned reap(struct sim_pair *p)
{
	uint32_t len;
	unsigned n = 0;

	while (drv_get_used(&p->drv, &len) != NULL)
		n++;
	if (p->drv.errors != 0) {
		fprintf(stderr, "bench: driver saw a protocol error: %s\n", p->drv.last_error);
		exit(1);
	}
	return n;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static volatile unsigned sink;

/* Ours: ns per chain over `rounds` ring-fulls. */
static double run_ours(struct sim_pair *p, uint64_t data, const struct config *c, unsigned rounds)
{
	static struct vdev_vq_elem es[MAXB];
	static struct vdev_iov iov[MAXB * 4];
	uint64_t total = 0, chains = 0;

	for (unsigned r = 0; r < rounds; r++) {
		fill(p, data, c->descs);
		uint64_t t0 = now_ns();
		int n;
		while ((n = vdev_vq_pop_batch(&p->vq, es, c->batch, iov, 4)) > 0) {
			for (int i = 0; i < n; i++)
				vdev_vq_push(&p->vq, &es[i], es[i].in_bytes);
			sink += vdev_vq_publish(&p->vq);
			chains += (unsigned)n;
		}
		total += now_ns() - t0;
		if (n < 0) {
			fprintf(stderr, "bench: pop failed: %s\n", vdev_strerror(n));
			exit(1);
		}
		reap(p);
	}
	return (double)total / (double)chains;
}

static double run_ref(struct sim_pair *p, struct ref *rf, uint64_t data, const struct config *c,
		      unsigned rounds)
{
	static struct ref_elem es[MAXB];
	static struct vdev_iov iov[MAXB * 4];
	uint64_t total = 0, chains = 0;

	for (unsigned r = 0; r < rounds; r++) {
		fill(p, data, c->descs);
		uint64_t t0 = now_ns();
		int n;
		if (c->packed) {
			while ((n = ref_packed_pop(rf, es, c->batch, iov)) > 0) {
				for (int i = 0; i < n; i++)
					ref_packed_push(rf, &es[i], es[i].in_bytes);
				sink += ref_packed_publish(rf);
				chains += (unsigned)n;
			}
		} else {
			while ((n = ref_split_pop(rf, es, c->batch, iov)) > 0) {
				for (int i = 0; i < n; i++)
					ref_split_push(rf, &es[i], es[i].in_bytes);
				sink += ref_split_publish(rf);
				chains += (unsigned)n;
			}
		}
		total += now_ns() - t0;
		reap(p);
	}
	return (double)total / (double)chains;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void measure(const struct config *c, unsigned runs, unsigned rounds, bool csv)
{
	static struct sim_pair ours_p, ref_p;
	uint64_t f = VDEV_BIT(VDEV_F_VERSION_1) | (c->packed ? VDEV_BIT(VDEV_F_RING_PACKED) : 0) |
		     (c->event_idx ? VDEV_BIT(VDEV_F_EVENT_IDX) : 0);
	double o[64], r[64], ratio[64];

	if (sim_pair_init(&ours_p, QSIZE, f, 1u << 20, true) != 0 ||
	    sim_pair_init(&ref_p, QSIZE, f, 1u << 20, true) != 0) {
		fprintf(stderr, "bench: queue setup failed\n");
		exit(1);
	}
	uint64_t data_o = sim_alloc(&ours_p.m, 16384, 64), data_r = sim_alloc(&ref_p.m, 16384, 64);
	struct ref rf = {
		.base = ref_p.m.host[0], .gpa = ref_p.m.regions[0].gpa,
		.size = ref_p.m.regions[0].size, .desc = ref_p.drv.desc,
		.driver = ref_p.drv.driver, .device = ref_p.drv.device, .size_q = QSIZE,
		.mask = QSIZE - 1, .avail_wrap = true, .used_wrap = true,
		.event_idx = c->event_idx, .packed = c->packed,
	};
	/* warm-up */
	run_ours(&ours_p, data_o, c, rounds / 4 + 1);
	run_ref(&ref_p, &rf, data_r, c, rounds / 4 + 1);
	for (unsigned i = 0; i < runs; i++) {
		o[i] = run_ours(&ours_p, data_o, c, rounds);
		r[i] = run_ref(&ref_p, &rf, data_r, c, rounds);
		ratio[i] = o[i] / r[i];
	}
	double mo = median(o, runs), mr = median(r, runs), mx = median(ratio, runs);
	if (csv)
		printf("%s,%u,%u,%s,%.2f,%.2f,%.3f\n", c->packed ? "packed" : "split", c->descs,
		       c->batch, c->event_idx ? "on" : "off", mo, mr, mx);
	else
		printf("| %-6s | %5u | %5u | %-9s | %9.1f | %9.1f | %5.2f |\n",
		       c->packed ? "packed" : "split", c->descs, c->batch,
		       c->event_idx ? "on" : "off", mo, mr, mx);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	unsigned runs = 7, rounds = 400;
	int only_layout = -1, only_descs = -1, only_batch = -1, only_ev = -1;
	bool csv = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--csv"))
			csv = true;
		else if (!strcmp(argv[i], "--layout") && i + 1 < argc)
			only_layout = !strcmp(argv[++i], "packed");
		else if (!strcmp(argv[i], "--descs") && i + 1 < argc)
			only_descs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			only_batch = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--event-idx") && i + 1 < argc)
			only_ev = !strcmp(argv[++i], "on");
		else {
			fprintf(stderr,
				"usage: %s [--runs N (>=5)] [--rounds R] [--csv]\n"
				"       [--layout split|packed] [--descs 1|3] [--batch 1|8|32]"
				" [--event-idx on|off]\n",
				argv[0]);
			return 2;
		}
	}
	if (runs < 5 || runs > 64 || rounds == 0) {
		fprintf(stderr, "bench: need 5..64 runs and at least one round\n");
		return 2;
	}
	if (csv)
		printf("layout,descs,batch,event_idx,ours_ns,ref_ns,ratio\n");
	else {
		printf("virtqueue device side, ns per chain (queue size %u, medians of %u runs of "
		       "%u ring-fulls; ratio = median of per-run ours/reference)\n\n",
		       QSIZE, runs, rounds);
		printf("| layout | descs | batch | event_idx | ours (ns) | ref (ns)  | ratio |\n");
		printf("|--------|-------|-------|-----------|-----------|-----------|-------|\n");
	}
	static const unsigned batches[] = {1, 8, 32};
	for (int packed = 0; packed <= 1; packed++)
		for (unsigned d = 1; d <= 3; d += 2)
			for (unsigned b = 0; b < 3; b++)
				for (int ev = 0; ev <= 1; ev++) {
					struct config c = {packed != 0, ev != 0, d, batches[b]};
					if ((only_layout >= 0 && only_layout != packed) ||
					    (only_descs >= 0 && only_descs != (int)d) ||
					    (only_batch >= 0 && only_batch != (int)batches[b]) ||
					    (only_ev >= 0 && only_ev != ev))
						continue;
					measure(&c, runs, rounds, csv);
				}
	return 0;
}
