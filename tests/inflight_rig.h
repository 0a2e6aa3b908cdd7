/* SPDX-License-Identifier: MIT */
/*
 * What test_inflight.c (split) and test_inflight_packed.c (packed) share:
 * a simulated driver and queue (P) over 64-byte chain slots at `buf`, the
 * log (L) and the driver's side of a chain: offer it, pop it, complete
 * it, reap what was used. Each test file defines INFLIGHT_TOKENS (how many
 * chain tokens it needs) before including this, and owns the region.
 */
#ifndef VDEV_TESTS_INFLIGHT_RIG_H
#define VDEV_TESTS_INFLIGHT_RIG_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "drvsim.h"
#include "sim_le.h"
#include "vdev/device.h"
#include "vdev/inflight.h"

#define F(b) VDEV_BIT(VDEV_F_##b)
#define QS 8u

static struct sim_pair P;
static struct vdev_iov iov[64];
static uint64_t buf;
static struct vdev_vq_inflight L;
static int tok[INFLIGHT_TOKENS];

/* The driver offers chain t: one readable and one writable buffer. */
static inline void offer(int t)
{
	struct drv_buf b[2] = {{buf + 64u * (unsigned)t, 16, false},
			       {buf + 64u * (unsigned)t + 16, 16, true}};
	cr_assert_eq(drv_add(&P.drv, b, 2, false, &tok[t]), 0);
}

static inline void pop(struct vdev_vq_elem *e)
{
	cr_assert_eq(vdev_vq_pop(&P.vq, e, iov, 64), 1);
	cr_assert_eq(e->error, 0, "error %d", e->error);
}

static inline void complete(const struct vdev_vq_elem *e)
{
	cr_assert_eq(vdev_vq_push(&P.vq, e, 0), 0);
	(void)vdev_vq_publish(&P.vq);
}

/* Reap every used buffer into seen[token]: drvsim counts an id it does
 * not have out, so each token comes back at most once. */
static inline unsigned reap(int *seen)
{
	unsigned n = 0;
	uint32_t len;
	int *t;

	while ((t = drv_get_used(&P.drv, &len)) != NULL) {
		seen[t - tok]++;
		n++;
	}
	cr_assert_eq(P.drv.errors, 0, "%s", P.drv.last_error);
	return n;
}

#endif
