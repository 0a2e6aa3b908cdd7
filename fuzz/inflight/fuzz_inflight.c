/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the in-flight logs (vdev/inflight.h), packed layout
 * first. A packed queue with a log runs an operation stream from the
 * input (driver adds, pops, pushes in any order, publishes, unpops,
 * reaps) and "crashes" at any point: the queue is thrown away and a new
 * one recovers from the region, as a restarted back-end does. The input
 * may also start from a region of its own bytes or scribble on it (a
 * hostile front-end), and the split log's recovery gets the same region.
 *
 * Invariants: no crash or out-of-bounds access (ASan); a recovery's
 * positions lie in the ring; and while the region is only ever written by
 * the queue (no scribbles, zeroed at the start), the driver sees each of
 * its buffers completed exactly once, in the end all of them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drvsim.h"
#include "fuzz_common.h"
#include "fuzz_mem.h"
#include "vdev/device.h"
#include "vdev/inflight.h"

#define MAXQ 16u
#define NTOK 512

static struct sim_pair P;
static struct vdev_vq_inflight L;
static uint64_t region[(VDEV_INFLIGHT_PACKED_SIZE(MAXQ) + 7) / 8];
static uint16_t scratch[VDEV_INFLIGHT_PACKED_SCRATCH(MAXQ)];
static struct vdev_iov iov[8 * 8];
static int tok[NTOK];
static uint8_t seen[NTOK];
static struct vdev_vq_elem held[MAXQ * 2];
static unsigned nheld;
static uint64_t feats, buf;
static uint16_t qs;

static void restart(void)
{
	struct vdev_vq_state st = {.avail_wrap = 1, .used_wrap = 1};

	memset(&P.vq, 0, sizeof(P.vq));
	FUZZ_CHECK(vdev_vq_init(&P.vq, 0, qs, P.held) == 0);
	vdev_vq_set_addrs(&P.vq, P.drv.desc_gpa, P.drv.driver_gpa, P.drv.device_gpa);
	FUZZ_CHECK(vdev_vq_inflight_init_packed(&L, region, scratch, MAXQ) == 0);
	(void)vdev_vq_inflight_recover_packed(&L, &P.m.mem, P.drv.desc_gpa, qs, &st);
	FUZZ_CHECK(st.avail_idx < qs && st.used_idx < qs);
	FUZZ_CHECK(vdev_vq_set_state(&P.vq, &st) == 0);
	FUZZ_CHECK(vdev_vq_start(&P.vq, &P.m.mem, feats) == 0);
	FUZZ_CHECK(vdev_vq_set_inflight(&P.vq, &L) == 0);
	nheld = 0;
}

static void reap(bool clean)
{
	uint32_t len;
	int *t;

	while ((t = drv_get_used(&P.drv, &len)) != NULL) {
		FUZZ_CHECK(t >= tok && t < tok + NTOK);
		if (clean)
			FUZZ_CHECK(seen[t - tok] == 0);
		seen[t - tok] = 1;
	}
	if (clean)
		FUZZ_CHECK(P.drv.errors == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	uint8_t mode = take(&in);
	bool clean = (mode & 1) == 0;
	int ntok = 0;

	qs = (uint16_t)(2 + take(&in) % (MAXQ - 1));
	feats = VDEV_BIT(VDEV_F_VERSION_1) | VDEV_BIT(VDEV_F_RING_PACKED) |
		((mode & 2) ? VDEV_BIT(VDEV_F_INDIRECT_DESC) : 0) |
		((mode & 4) ? VDEV_BIT(VDEV_F_EVENT_IDX) : 0);
	/* the pair's memory kept across inputs, zeroed (fuzz_mem.h) */
	P.features = feats;
	memset(P.held, 0, sizeof(P.held));
	fuzz_mem_reset(&P.m, 64u * 1024u, true);
	drv_vq_init(&P.drv, &P.m, qs, true, (feats & VDEV_BIT(VDEV_F_EVENT_IDX)) != 0,
		    (feats & VDEV_BIT(VDEV_F_INDIRECT_DESC)) != 0, 64);
	buf = sim_alloc(&P.m, NTOK * 32u, 16);
	memset(region, 0, sizeof(region));
	memset(seen, 0, sizeof(seen));
	if (!clean) { /* a front-end's region, from the input */
		uint8_t *r = (uint8_t *)region;
		for (size_t i = 0; i < sizeof(region) && in.n > 0; i++)
			r[i] = take(&in);
		if (mode & 8) { /* most often one that passes the header checks */
			r[8] = 1, r[9] = 0;
			r[10] = (uint8_t)MAXQ, r[11] = 0;
		}
		/* the split log's recovery on the same bytes */
		struct vdev_vq_inflight s;
		uint16_t last;
		if (vdev_vq_inflight_init(&s, region, scratch, MAXQ) == 0)
			(void)vdev_vq_inflight_recover(&s, qs, take(&in), take(&in), &last);
	}
	restart();
	while (in.n > 0) {
		uint8_t op = take(&in);
		switch (op % 8) {
		case 0: { /* the driver adds a chain of 1..3 buffers */
			struct drv_buf b[3];
			unsigned n = 1 + (op >> 3) % 3;
			if (ntok >= NTOK)
				break;
			for (unsigned i = 0; i < n; i++)
				b[i] = (struct drv_buf){buf + 32u * (unsigned)ntok + 8u * i, 8, i > 0};
			if (drv_add(&P.drv, b, n, (op & 0x40) && (mode & 2), &tok[ntok]) == 0)
				ntok++;
			break;
		}
		case 1: { /* pop a batch */
			unsigned want = 1 + (op >> 3) % 4;
			int n;
			if (nheld + want > sizeof(held) / sizeof(held[0]))
				break;
			n = vdev_vq_pop_batch(&P.vq, &held[nheld], want, iov, 8);
			if (n > 0)
				nheld += (unsigned)n;
			break;
		}
		case 2: { /* push one held, chosen by the input */
			unsigned k;
			if (nheld == 0)
				break;
			k = take(&in) % nheld;
			FUZZ_CHECK(vdev_vq_push(&P.vq, &held[k], 0) == 0 || !clean);
			held[k] = held[--nheld];
			break;
		}
		case 3:
			(void)vdev_vq_publish(&P.vq);
			break;
		case 4: /* unpop the latest pops */
			if (nheld > 0) {
				unsigned k = 1 + take(&in) % nheld;
				bool latest = true;
				/* only when they are the latest, in order */
				for (unsigned i = 0; i < k && latest; i++)
					latest = held[nheld - k + i].seq ==
						 (uint16_t)(held[nheld - 1].seq - (k - 1) + i);
				if (latest && vdev_vq_unpop(&P.vq, &held[nheld - k], k) == 0)
					nheld -= k;
			}
			break;
		case 5: /* the back-end dies here */
			restart();
			break;
		case 6: { /* the front-end scribbles on the region */
			uint32_t off = take(&in) | (uint32_t)take(&in) << 8;
			((uint8_t *)region)[off % sizeof(region)] = take(&in);
			clean = false;
			break;
		}
		default:
			reap(clean);
			break;
		}
	}
	/* Complete everything still there (after one last crash). */
	restart();
	for (int round = 0; round < 4 * NTOK && !vdev_vq_is_broken(&P.vq); round++) {
		struct vdev_vq_elem e;
		if (vdev_vq_pop(&P.vq, &e, iov, 8) != 1)
			break;
		(void)vdev_vq_push(&P.vq, &e, 0);
		(void)vdev_vq_publish(&P.vq);
	}
	reap(clean);
	if (clean) {
		FUZZ_CHECK(L.errors == 0);
		for (int t = 0; t < ntok; t++)
			FUZZ_CHECK(seen[t] == 1);
	}
	drv_vq_destroy(&P.drv);
	return 0;
}
