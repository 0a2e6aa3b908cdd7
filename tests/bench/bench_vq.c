/* SPDX-License-Identifier: MIT */
/*
 * Virtqueue benchmark: device-side nanoseconds per chain for libvdev's
 * queues beside a minimal reference device compiled into this binary.
 *
 * The reference (ref_vq.h) is the "speed of light" for the same ring
 * protocol and the same output, with no validation. Ours does everything
 * the library promises against a hostile guest. Both run the same workload
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

#include "bench_util.h"
#include "drvsim.h"
#include "vdev/device.h"

#define QSIZE 256u
#define MAXB 32u

#include "ref_vq.h"

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

static volatile unsigned sink;

/*
 * The device half of one ring-full, ours and the reference's: not inlined,
 * so that instruction counts can be taken of them alone (valgrind
 * --tool=callgrind --toggle-collect='ours_section*', resp. ref_section*).
 * Return the chains taken.
 */
static __attribute__((noinline)) unsigned ours_section(struct sim_pair *p, const struct config *c)
{
	static struct vdev_vq_elem es[MAXB];
	static struct vdev_iov iov[MAXB * 4];
	static uint32_t lens[MAXB];
	unsigned chains = 0;
	int n;

	while ((n = vdev_vq_pop_batch(&p->vq, es, c->batch, iov, 4)) > 0) {
		for (int i = 0; i < n; i++)
			lens[i] = es[i].in_bytes;
		if (vdev_vq_push_batch(&p->vq, es, lens, (unsigned)n) != 0) {
			fprintf(stderr, "bench: push failed\n");
			exit(1);
		}
		sink += vdev_vq_publish(&p->vq);
		chains += (unsigned)n;
	}
	if (n < 0) {
		fprintf(stderr, "bench: pop failed: %s\n", vdev_strerror(n));
		exit(1);
	}
	return chains;
}

static __attribute__((noinline)) unsigned ref_section(struct ref *rf, const struct config *c)
{
	static struct ref_elem es[MAXB];
	static struct vdev_iov iov[MAXB * 4];
	unsigned chains = 0;
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
	return chains;
}

/* Ours: ns per chain over `rounds` ring-fulls. */
static double run_ours(struct sim_pair *p, uint64_t data, const struct config *c, unsigned rounds)
{
	uint64_t total = 0, chains = 0;

	for (unsigned r = 0; r < rounds; r++) {
		fill(p, data, c->descs);
		uint64_t t0 = now_ns();
		chains += ours_section(p, c);
		total += now_ns() - t0;
		reap(p);
	}
	return (double)total / (double)chains;
}

static double run_ref(struct sim_pair *p, struct ref *rf, uint64_t data, const struct config *c,
		      unsigned rounds)
{
	uint64_t total = 0, chains = 0;

	for (unsigned r = 0; r < rounds; r++) {
		fill(p, data, c->descs);
		uint64_t t0 = now_ns();
		chains += ref_section(rf, c);
		total += now_ns() - t0;
		reap(p);
	}
	return (double)total / (double)chains;
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
	struct ref rf = ref_for_pair(&ref_p, QSIZE, c->event_idx, c->packed);
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
