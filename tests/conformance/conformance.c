/* SPDX-License-Identifier: MIT */
/*
 * Ring conformance: Linux's own driver-side ring code (virtio_ring.c, built
 * in user space by run.sh, reached through kdrv.h) against libvdev's
 * device-side queues.
 *
 * The kernel side adds chains (direct and indirect, readable then writable
 * segments of varied lengths, at unaligned addresses), kicks when
 * virtqueue_kick_prepare() says so and reaps used buffers from its
 * interrupt handler (virtio-blk style: disable_cb, get_buf until empty,
 * enable_cb or enable_cb_delayed, again if that says more are pending).
 * Our side pops chains with vdev_vq_pop(), checks the driver's data
 * pattern and the segment layout against a header the driver wrote,
 * writes a response pattern, pushes (possibly out of order, possibly
 * holding chains back) and publishes in batches; a publish that says
 * "notify" is the interrupt.
 *
 * Checked, per buffer: data both ways, written length, bytes past it
 * untouched, every token back exactly once, nothing left over at the end,
 * the kernel queue never broken. Notifications:
 *   - single-thread mode: an event-driven schedule of driver submitter,
 *     driver interrupt handler and device, each running only when it has
 *     been kicked/interrupted (or is awake). Every publish's interrupt
 *     decision is compared with the one computed independently from the
 *     driver's suppression state in ring memory (flags / used_event /
 *     packed event off_wrap). If nothing can run while buffers are
 *     outstanding, the stall is diagnosed: available chains = missed kick,
 *     used buffers = missed interrupt, neither = lost buffer.
 *   - threaded mode: the device on its own thread; the kernel's notify op
 *     signals it, our interrupt decision signals the driver thread back.
 *     A side that waits more than a few seconds with work visible to it
 *     reports a missed notification.
 *
 * Usage: conformance [--buffers N] [--seed S] [--only SUBSTRING] [--list]
 *   --buffers: per configuration (default 40000; a quarter of that for the
 *   threaded runs on rings of 1..4); --only: run the configurations whose
 *   name (see --list) contains SUBSTRING; --seed: first configuration's seed;
 *   --long-indirect: let indirect chains be longer than the ring (up to
 *   MAX_SG), which Linux does but the spec forbids (2.7.5.3.1), to see how
 *   the device treats them.
 * Exit status 0 if every configuration passed.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kdrv.h"
#include "vdev/device.h"
#include "vdev/mem.h"
#include "vdev/virtqueue.h"

#define MAX_SG 6          /* segments per chain (out + in) */
#define IOV_CAP 16        /* device-side segments per chain */
#define HOLD_MAX 16       /* chains the device may keep in flight */
#define SLOT_BYTES 32768  /* buffer memory per request slot (>= MAX_SG * (4096 + 15)) */
#define HDR_MAGIC 0x76646576u /* "vdev" */
#define CANARY 0xEE
#define STALL_NS (3ull * 1000000000ull)

/* ---- small helpers ----------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64* */
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static unsigned rng_below(uint64_t *s, unsigned n)
{
	return (unsigned)(rng_next(s) % n);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint8_t out_pat(uint32_t seq, size_t i)
{
	return (uint8_t)(seq * 131u + (uint32_t)i * 7u + (uint32_t)(i >> 8));
}

static uint8_t in_pat(uint32_t seq, size_t i)
{
	return (uint8_t)(seq * 29u + (uint32_t)i * 13u + 1u);
}

/* What the device writes into a chain of `in_len` writable bytes. */
static uint32_t written_for(uint32_t seq, uint32_t in_len)
{
	if (seq % 4 != 0)
		return in_len;
	return in_len - (seq / 4) % (in_len + 1);
}

/* The first 16 readable bytes of a chain that has readable bytes. */
struct hdr {
	uint32_t magic, seq, out_len, in_len;
};

/* ---- one configuration ---------------------------------------------------------- */

struct config {
	bool packed, event_idx, indirect, threaded;
	bool long_indirect; /* indirect tables longer than the ring, as Linux allows */
	unsigned size;
	char name[64];
};

struct req {
	uint32_t seq;
	bool inflight;
	bool in_only;
	uint32_t out_len, in_len;
	unsigned n_out, n_in;
	struct kdrv_sg out[MAX_SG], in[MAX_SG];
	uint8_t *mem;
};

struct held {
	struct vdev_vq_elem elem;
	struct vdev_iov iov[IOV_CAP];
	uint32_t pat_seq, written; /* the response, decided at pop time */
};

struct run {
	const struct config *c;
	uint64_t target;
	uint64_t rng_drv, rng_dev;
	/* driver side */
	struct kdrv *kd;
	struct req *reqs;
	unsigned *free_slots;
	unsigned nfree;
	uint8_t *slot_mem;
	uint32_t next_seq;
	uint64_t submitted, completed, outstanding;
	bool submit_blocked; /* last add found no room; wait for a completion */
	/* device side */
	uint64_t desc_area, driver_area, device_area; /* as the kernel set them up */
	struct vdev_mem_region region;
	struct vdev_mem mem;
	struct vdev_vq vq;
	uint64_t vq_held[VDEV_VQ_HELD_WORDS(VDEV_VQ_MAX_SIZE)];
	struct held held[HOLD_MAX];
	unsigned nheld;
	uint32_t dev_last_seq; /* seq + 1 of the last headed chain popped */
	uint64_t dev_popped;
	uint64_t used_descs;   /* packed: descriptors used so far, linear */
	uint64_t staged_descs; /* packed: pushed since the last publish */
	bool dev_notify_off;   /* we asked the driver not to kick */
	/* notifications */
	uint64_t kicks, interrupts, spurious, publishes, decisions_checked;
	/* single-thread schedule */
	bool kick_pending, irq_pending, dev_awake;
	/* threaded */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t kick_count, irq_count;
	bool stop;
	/* first failure */
	bool failed;
	char why[256];
	pthread_mutex_t fail_lock;
};

static void fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct run *r, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&r->fail_lock);
	if (!r->failed) {
		r->failed = true;
		va_start(ap, fmt);
		vsnprintf(r->why, sizeof(r->why), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&r->fail_lock);
}

static bool has_failed(struct run *r)
{
	bool f;
	pthread_mutex_lock(&r->fail_lock);
	f = r->failed;
	pthread_mutex_unlock(&r->fail_lock);
	return f;
}

/* ---- driver side: build, add, reap ------------------------------------------------ */

static uint32_t pick_len(uint64_t *s)
{
	unsigned p = rng_below(s, 100);
	if (p < 60)
		return 1 + rng_below(s, 64);
	if (p < 95)
		return 65 + rng_below(s, 960);
	return 1025 + rng_below(s, 3072);
}

/* Fill slot `q` with a fresh request. */
static void build_req(struct run *r, struct req *q)
{
	uint64_t *s = &r->rng_drv;
	unsigned max_sg = MAX_SG;
	size_t off = 0;

	/*
	 * A chain must not be longer than the queue size (spec 2.7.5.3.1,
	 * indirect tables included). Linux only enforces that without
	 * indirect descriptors; we keep to the spec unless --long-indirect.
	 */
	if (max_sg > r->c->size && !(r->c->indirect && r->c->long_indirect))
		max_sg = r->c->size;
	do {
		q->n_out = rng_below(s, 4);
		q->n_in = rng_below(s, 4);
	} while (q->n_out + q->n_in == 0 || q->n_out + q->n_in > max_sg);
	q->seq = r->next_seq++;
	q->in_only = q->n_out == 0;
	q->out_len = q->in_len = 0;
	for (unsigned i = 0; i < q->n_out + q->n_in; i++) {
		uint32_t len = pick_len(s);
		struct kdrv_sg *sg = i < q->n_out ? &q->out[i] : &q->in[i - q->n_out];

		if (i == 0 && q->n_out == 1 && len < sizeof(struct hdr))
			len = sizeof(struct hdr); /* room for the header */
		off += 1 + rng_below(s, 15); /* unaligned, not adjacent */
		sg->addr = q->mem + off;
		sg->len = len;
		off += len;
		if (i < q->n_out)
			q->out_len += len;
		else
			q->in_len += len;
	}
	if (q->n_out > 0 && q->out_len < sizeof(struct hdr)) {
		/* several tiny readable segments: grow the last one */
		q->out[q->n_out - 1].len += (uint32_t)sizeof(struct hdr) - q->out_len;
		q->out_len = (uint32_t)sizeof(struct hdr);
		/* it may now overlap the next segment: rebuild offsets */
		off = 0;
		for (unsigned i = 0; i < q->n_out + q->n_in; i++) {
			struct kdrv_sg *sg = i < q->n_out ? &q->out[i] : &q->in[i - q->n_out];
			off += 8;
			sg->addr = q->mem + off;
			off += sg->len;
		}
	}
	if (off > SLOT_BYTES) {
		fprintf(stderr, "internal: slot overflow\n");
		abort();
	}
	/* readable data: header then pattern, across segments */
	if (q->n_out > 0) {
		struct hdr h = {HDR_MAGIC, q->seq, q->out_len, q->in_len};
		const uint8_t *hb = (const uint8_t *)&h;
		size_t pos = 0;
		for (unsigned i = 0; i < q->n_out; i++) {
			uint8_t *p = q->out[i].addr;
			for (uint32_t j = 0; j < q->out[i].len; j++, pos++)
				p[j] = pos < sizeof(h) ? hb[pos] : out_pat(q->seq, pos);
		}
	}
	for (unsigned i = 0; i < q->n_in; i++)
		memset(q->in[i].addr, CANARY, q->in[i].len);
}

/* Add up to `n` requests; returns how many were added. */
static unsigned drv_submit(struct run *r, unsigned n)
{
	unsigned added = 0;

	while (added < n && r->submitted < r->target && r->nfree > 0) {
		unsigned slot = r->free_slots[r->nfree - 1];
		struct req *q = &r->reqs[slot];
		int rc;

		build_req(r, q);
		rc = kdrv_add(r->kd, q->out, q->n_out, q->in, q->n_in, q);
		if (rc == -ENOSPC) {
			r->next_seq--; /* rebuilt next time with the same seq */
			r->rng_drv ^= 0x9E3779B97F4A7C15ull;
			r->submit_blocked = true;
			break;
		}
		if (rc != 0) {
			fail(r, "virtqueue_add_sgs failed: %d", rc);
			break;
		}
		r->nfree--;
		q->inflight = true;
		r->submitted++;
		r->outstanding++;
		added++;
	}
	if (kdrv_is_broken(r->kd))
		fail(r, "kernel virtqueue broken after add");
	return added;
}

static void drv_complete(struct run *r, struct req *q, uint32_t len)
{
	uint32_t expect;
	size_t pos = 0;

	if (q < r->reqs || q >= r->reqs + r->c->size) {
		fail(r, "get_buf returned a token that is not ours: %p", (void *)q);
		return;
	}
	if (!q->inflight) {
		fail(r, "buffer seq %" PRIu32 " returned twice", q->seq);
		return;
	}
	expect = q->in_only ? q->in_len : written_for(q->seq, q->in_len);
	if (len != expect) {
		fail(r, "seq %" PRIu32 ": used len %" PRIu32 ", expected %" PRIu32, q->seq, len,
		     expect);
		return;
	}
	for (unsigned i = 0; i < q->n_in; i++) {
		const uint8_t *p = q->in[i].addr;
		for (uint32_t j = 0; j < q->in[i].len; j++, pos++) {
			uint8_t want = pos < expect ? in_pat(q->in_only ? q->in_len : q->seq, pos)
						    : (uint8_t)CANARY;
			if (p[j] != want) {
				fail(r, "seq %" PRIu32 ": response byte %zu is %#x, expected %#x",
				     q->seq, pos, p[j], want);
				return;
			}
		}
	}
	q->inflight = false;
	r->free_slots[r->nfree++] = (unsigned)(q - r->reqs);
	r->completed++;
	r->outstanding--;
	r->submit_blocked = false;
}

static unsigned drv_reap_some(struct run *r)
{
	unsigned n = 0;
	uint32_t len;
	void *t;

	while ((t = kdrv_get_buf(r->kd, &len)) != NULL) {
		drv_complete(r, t, len);
		n++;
	}
	if (kdrv_is_broken(r->kd))
		fail(r, "kernel virtqueue broken after get_buf");
	return n;
}

/* The interrupt handler: virtio-blk's virtblk_done() loop. */
static void drv_irq(struct run *r)
{
	if (!kdrv_interrupt(r->kd)) {
		r->spurious++;
		return;
	}
	for (;;) {
		kdrv_disable_cb(r->kd);
		drv_reap_some(r);
		/* delayed re-enable (virtio-net TX style) on EVENT_IDX rings */
		bool more = r->c->event_idx && rng_below(&r->rng_drv, 4) == 0
				    ? !kdrv_enable_cb_delayed(r->kd)
				    : !kdrv_enable_cb(r->kd);
		if (!more)
			break;
	}
}

static void vq_callback(void *opaque)
{
	(void)opaque; /* the reaping runs in drv_irq() after vring_interrupt() */
}

/* ---- device side -------------------------------------------------------------------- */

static void walk_check_out(struct run *r, const struct vdev_vq_elem *e, uint32_t seq)
{
	size_t pos = 0;
	for (unsigned i = 0; i < e->n_out; i++) {
		const uint8_t *p = e->iov[i].base;
		for (size_t j = 0; j < e->iov[i].len; j++, pos++) {
			if (pos >= sizeof(struct hdr) && p[j] != out_pat(seq, pos)) {
				fail(r, "seq %" PRIu32 ": device read byte %zu as %#x, expected %#x",
				     seq, pos, p[j], out_pat(seq, pos));
				return;
			}
		}
	}
}

static void walk_write_in(const struct vdev_vq_elem *e, uint32_t pat_seq, uint32_t n)
{
	size_t pos = 0;
	for (unsigned i = e->n_out; i < (unsigned)e->n_out + e->n_in && pos < n; i++) {
		uint8_t *p = e->iov[i].base;
		for (size_t j = 0; j < e->iov[i].len && pos < n; j++, pos++)
			p[j] = in_pat(pat_seq, pos);
	}
}

/*
 * Check a chain just popped (the order is the driver's add order): header,
 * lengths the device sees against those the driver added, readable data.
 * Stores the response to write at completion time in *pat_seq and *written.
 */
static void dev_check(struct run *r, const struct vdev_vq_elem *e, uint32_t *pat_seq,
		      uint32_t *written)
{
	struct hdr h;

	*pat_seq = 0;
	*written = 0;
	if (e->error != 0) {
		fail(r, "device rejected a kernel chain: %s", vdev_strerror(e->error));
		return;
	}
	if (e->out_bytes == 0) {
		*pat_seq = e->in_bytes;
		*written = e->in_bytes;
		return;
	}
	if (vdev_iov_to_buf(e->iov, e->n_out, 0, &h, sizeof(h)) != sizeof(h) ||
	    h.magic != HDR_MAGIC) {
		fail(r, "device: chain id %u has no valid header", e->id);
		return;
	}
	if (h.out_len != e->out_bytes || h.in_len != e->in_bytes) {
		fail(r, "seq %" PRIu32 ": device sees %" PRIu32 "+%" PRIu32
			" bytes, driver added %" PRIu32 "+%" PRIu32,
		     h.seq, e->out_bytes, e->in_bytes, h.out_len, h.in_len);
		return;
	}
	if (h.seq + 1 <= r->dev_last_seq) {
		fail(r, "seq %" PRIu32 " popped after seq %" PRIu32 " (duplicate or reordered)",
		     h.seq, r->dev_last_seq - 1);
		return;
	}
	r->dev_last_seq = h.seq + 1;
	walk_check_out(r, e, h.seq);
	*pat_seq = h.seq;
	*written = written_for(h.seq, h.in_len);
}

static uint16_t rd16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v; /* little-endian host (x86-64 / aarch64) */
}

/*
 * The interrupt decision the spec asks for, from the driver's suppression
 * state in ring memory. Only meaningful while the driver is not running
 * (single-thread mode). `old_used`/`new_used`: split used idx before and
 * after the publish; packed: linear descriptor counts.
 */
static bool expected_notify(struct run *r, uint64_t old_used, uint64_t new_used)
{
	uint64_t driver = r->driver_area;
	unsigned size = r->c->size;

	if (new_used == old_used)
		return false;
	if (!r->c->packed) {
		const uint8_t *avail = (const uint8_t *)(uintptr_t)driver;
		if (!r->c->event_idx)
			return !(rd16(avail) & 1u); /* VRING_AVAIL_F_NO_INTERRUPT */
		uint16_t ev = rd16(avail + 4 + 2 * size); /* used_event */
		uint16_t nw = (uint16_t)new_used, od = (uint16_t)old_used;
		return (uint16_t)(nw - ev - 1) < (uint16_t)(nw - od);
	}
	const uint8_t *drv_evt = (const uint8_t *)(uintptr_t)driver;
	uint16_t off_wrap = rd16(drv_evt), flags = rd16(drv_evt + 2);
	if (flags == 0) /* RING_EVENT_FLAGS_ENABLE */
		return true;
	if (flags == 1) /* RING_EVENT_FLAGS_DISABLE */
		return false;
	/* RING_EVENT_FLAGS_DESC: notify if the used descriptor position
	 * (off, wrap) lies in [old_used, new_used) of the linear count. */
	uint64_t off = off_wrap & 0x7fffu, wrap = off_wrap >> 15;
	uint64_t e = old_used - old_used % size + off;
	if (e < old_used)
		e += size;
	uint64_t e_wrap = 1u ^ ((e / size) & 1u);
	return e < new_used && e_wrap == wrap;
}

static bool dev_publish(struct run *r, bool check)
{
	uint64_t device = r->device_area, old_used, new_used = 0;
	bool notify;

	if (r->c->packed) {
		old_used = r->used_descs;
		r->used_descs += r->staged_descs;
		r->staged_descs = 0;
		new_used = r->used_descs;
	} else {
		old_used = rd16((const uint8_t *)(uintptr_t)device + 2);
	}
	notify = vdev_vq_publish(&r->vq);
	if (!r->c->packed)
		new_used = rd16((const uint8_t *)(uintptr_t)device + 2);
	if (new_used != old_used)
		r->publishes++;
	if (check) {
		bool want = expected_notify(r, old_used, new_used);
		r->decisions_checked++;
		if (want != notify)
			fail(r, "publish of used %" PRIu64 "..%" PRIu64 ": device says %s, ring state "
				"says %s",
			     old_used, new_used, notify ? "notify" : "no notify",
			     want ? "notify" : "no notify");
	}
	return notify;
}

/* Push `k` held chains, picked at random (out of order completion). */
static void dev_complete_some(struct run *r, unsigned k)
{
	while (k-- > 0 && r->nheld > 0) {
		unsigned i = rng_below(&r->rng_dev, r->nheld);
		struct held *h = &r->held[i];
		walk_write_in(&h->elem, h->pat_seq, h->written);
		int rc = vdev_vq_push(&r->vq, &h->elem, h->written);
		if (rc != 0)
			fail(r, "vdev_vq_push: %s", vdev_strerror(rc));
		r->staged_descs += h->elem.ndescs;
		/* move the last held chain into the hole (fix up its iov) */
		r->nheld--;
		if (i != r->nheld) {
			*h = r->held[r->nheld];
			h->elem.iov = h->iov;
		}
	}
}

/*
 * One device run: pop, handle, push, publish until the ring is empty and
 * nothing is held, or until a random budget runs out (the device is then
 * still "awake"). Returns true if it went back to sleep (waiting for a
 * kick). Every publish that says so raises an interrupt via `irq`.
 */
static bool dev_turn(struct run *r, bool check, void (*irq)(struct run *))
{
	uint64_t *s = &r->rng_dev;
	unsigned budget = 1 + rng_below(s, 2 * r->c->size + 8);
	unsigned hold = rng_below(s, 3) == 0 ? rng_below(s, HOLD_MAX + 1) : 0;
	unsigned per_publish = 1 + rng_below(s, 8);
	unsigned pushed = 0;

	/* Polling device (vhost style) half of the time: no kicks while busy. */
	if (!r->dev_notify_off && rng_below(s, 2) == 0) {
		vdev_vq_disable_notify(&r->vq);
		r->dev_notify_off = true;
	}
	for (;;) {
		bool empty = false; /* a pop was tried and found nothing */
		if (budget > 0 && r->nheld < HOLD_MAX) {
			struct held *h = &r->held[r->nheld];
			int rc = vdev_vq_pop(&r->vq, &h->elem, h->iov, IOV_CAP);
			if (rc < 0) {
				fail(r, "vdev_vq_pop: %s", vdev_strerror(rc));
				return true;
			}
			if (rc == 1) {
				dev_check(r, &h->elem, &h->pat_seq, &h->written);
				r->nheld++;
				r->dev_popped++;
				budget--;
			}
			empty = rc == 0;
		}
		/* complete what exceeds the hold target, all when idle, at least
		 * one when the hold pool is full */
		unsigned k = r->nheld > hold ? r->nheld - hold : 0;
		if (empty || budget == 0)
			k = r->nheld;
		if (k == 0 && r->nheld == HOLD_MAX)
			k = 1;
		if (k > 0) {
			unsigned before = r->nheld;
			dev_complete_some(r, k);
			pushed += before - r->nheld;
		}
		if (pushed >= per_publish || (empty && pushed > 0) || budget == 0) {
			if (pushed > 0 && dev_publish(r, check))
				irq(r);
			pushed = 0;
		}
		if (has_failed(r))
			return true;
		if (budget == 0)
			return false; /* still awake: more turns follow */
		if (empty && r->nheld == 0) {
			/* Going to sleep: kicks must be on. An empty pop with them on
			 * has re-armed them already; enable_notify() says if chains
			 * slipped in meanwhile. */
			if (r->dev_notify_off) {
				r->dev_notify_off = false;
				if (vdev_vq_enable_notify(&r->vq))
					continue;
			}
			return true;
		}
	}
}

/* ---- single-thread schedule ---------------------------------------------------------- */

static bool st_notify(void *opaque)
{
	struct run *r = opaque;
	r->kicks++;
	r->kick_pending = true;
	return true;
}

static void st_irq(struct run *r)
{
	r->interrupts++;
	r->irq_pending = true;
}

static void drv_submit_and_kick(struct run *r)
{
	unsigned n = 1 + rng_below(&r->rng_drv, rng_below(&r->rng_drv, 4) == 0 ? 64 : 4);
	if (drv_submit(r, n) > 0 && kdrv_kick_prepare(r->kd))
		kdrv_notify(r->kd);
}

static void run_single(struct run *r)
{
	while (!has_failed(r)) {
		bool can_submit = r->submitted < r->target && r->nfree > 0 && !r->submit_blocked;
		bool dev_can = r->kick_pending || r->dev_awake;
		unsigned pick;

		if (!can_submit && !r->irq_pending && !dev_can) {
			/* Nothing can run: finished, or a notification was missed. */
			uint32_t len;
			void *t;
			if (r->outstanding == 0 && r->submitted == r->target)
				break;
			if (vdev_vq_has_work(&r->vq)) {
				fail(r, "missed kick: device asleep, chains available, no kick "
					"(outstanding %" PRIu64 ")",
				     r->outstanding);
				break;
			}
			if ((t = kdrv_get_buf(r->kd, &len)) != NULL) {
				fail(r, "missed interrupt: used buffers waiting, callbacks enabled, "
					"no interrupt (outstanding %" PRIu64 ")",
				     r->outstanding);
				break;
			}
			fail(r, "lost buffers: %" PRIu64 " outstanding, none available or used",
			     r->outstanding);
			break;
		}
		pick = rng_below(&r->rng_drv, 16);
		if (can_submit && pick < 6) {
			drv_submit_and_kick(r);
		} else if (r->irq_pending && pick < 11) {
			r->irq_pending = false;
			drv_irq(r);
		} else if (dev_can && pick >= 6) {
			r->kick_pending = false;
			r->dev_awake = !dev_turn(r, true, st_irq);
		} else if (pick == 15) {
			/* the driver polls without an interrupt now and then */
			drv_reap_some(r);
		}
	}
}

/* ---- threaded: the device on its own thread ---------------------------------------------- */

static bool th_notify(void *opaque)
{
	struct run *r = opaque;
	pthread_mutex_lock(&r->lock);
	r->kicks++;
	r->kick_count++;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return true;
}

static void th_irq(struct run *r)
{
	pthread_mutex_lock(&r->lock);
	r->interrupts++;
	r->irq_count++;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static void deadline_in(struct timespec *ts, uint64_t ns)
{
	clock_gettime(CLOCK_REALTIME, ts);
	uint64_t t = (uint64_t)ts->tv_nsec + ns;
	ts->tv_sec += (time_t)(t / 1000000000ull);
	ts->tv_nsec = (long)(t % 1000000000ull);
}

static void *device_thread(void *arg)
{
	struct run *r = arg;
	uint64_t seen_kicks = 0;

	for (;;) {
		while (!dev_turn(r, false, th_irq))
			;
		if (has_failed(r))
			return NULL;
		/* asleep: wait for a kick */
		pthread_mutex_lock(&r->lock);
		while (r->kick_count == seen_kicks && !r->stop) {
			struct timespec ts;
			deadline_in(&ts, STALL_NS);
			if (pthread_cond_timedwait(&r->cond, &r->lock, &ts) == ETIMEDOUT &&
			    r->kick_count == seen_kicks && !r->stop) {
				pthread_mutex_unlock(&r->lock);
				if (vdev_vq_has_work(&r->vq)) {
					fail(r, "missed kick: chains available for %llu s, no kick",
					     STALL_NS / 1000000000ull);
					return NULL;
				}
				pthread_mutex_lock(&r->lock);
			}
		}
		seen_kicks = r->kick_count;
		bool stop = r->stop;
		pthread_mutex_unlock(&r->lock);
		if (stop)
			return NULL;
	}
}

static void run_threaded(struct run *r)
{
	pthread_t t;
	uint64_t seen_irqs = 0;

	if (pthread_create(&t, NULL, device_thread, r) != 0) {
		fail(r, "pthread_create failed");
		return;
	}
	while (!has_failed(r) && (r->completed < r->target)) {
		bool can_submit = r->submitted < r->target && r->nfree > 0 && !r->submit_blocked;
		if (can_submit)
			drv_submit_and_kick(r);
		pthread_mutex_lock(&r->lock);
		bool irq = r->irq_count != seen_irqs;
		if (!irq && !can_submit) {
			struct timespec ts;
			deadline_in(&ts, STALL_NS);
			while (r->irq_count == seen_irqs && !has_failed(r)) {
				if (pthread_cond_timedwait(&r->cond, &r->lock, &ts) == ETIMEDOUT)
					break;
			}
			irq = r->irq_count != seen_irqs;
			if (!irq && !has_failed(r)) {
				pthread_mutex_unlock(&r->lock);
				if (drv_reap_some(r) > 0)
					fail(r, "missed interrupt: used buffers waited %llu s with "
						"callbacks enabled",
					     STALL_NS / 1000000000ull);
				else if (!has_failed(r))
					fail(r, "stall: %" PRIu64 " outstanding, no interrupt for %llu s",
					     r->outstanding, STALL_NS / 1000000000ull);
				break;
			}
		}
		seen_irqs = r->irq_count;
		pthread_mutex_unlock(&r->lock);
		if (irq)
			drv_irq(r);
	}
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(t, NULL);
}

/* ---- driver for one configuration ------------------------------------------------------ */

struct totals {
	uint64_t configs, failed, buffers, kicks, interrupts, spurious, decisions;
	/* per mode x layout x EVENT_IDX */
	uint64_t g_buffers[2][2][2], g_kicks[2][2][2], g_irqs[2][2][2], g_failed[2][2][2];
};

static bool run_config(const struct config *c, uint64_t buffers, uint64_t seed,
		       struct totals *tot)
{
	static struct run r; /* large; one at a time */
	struct kdrv_opts o = {
		.num = c->size,
		.packed = c->packed,
		.event_idx = c->event_idx,
		.indirect = c->indirect,
		.notify = c->threaded ? th_notify : st_notify,
		.callback = vq_callback,
		.opaque = &r,
	};
	uint64_t t0 = now_ns();
	int rc;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.target = buffers;
	r.rng_drv = seed | 1;
	r.rng_dev = (seed * 0x9E3779B97F4A7C15ull) | 1;
	pthread_mutex_init(&r.lock, NULL);
	pthread_mutex_init(&r.fail_lock, NULL);
	pthread_cond_init(&r.cond, NULL);

	r.kd = kdrv_create(&o);
	if (!r.kd || kdrv_size(r.kd) != c->size) {
		fprintf(stderr, "%s: vring_create_virtqueue failed\n", c->name);
		exit(1); /* setup failure: the whole run fails */
	}
	r.reqs = calloc(c->size, sizeof(*r.reqs));
	r.free_slots = calloc(c->size, sizeof(*r.free_slots));
	r.slot_mem = malloc((size_t)c->size * SLOT_BYTES);
	if (!r.reqs || !r.free_slots || !r.slot_mem) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	for (unsigned i = 0; i < c->size; i++) {
		r.reqs[i].mem = r.slot_mem + (size_t)i * SLOT_BYTES;
		r.free_slots[r.nfree++] = c->size - 1 - i;
	}

	/* Device side: guest memory is this process's address space, 1:1 (the
	 * tools/virtio DMA shims hand the device virtual addresses). */
	r.region.gpa = 0x1000;
	r.region.size = 0x7ffffffff000ull - 0x1000;
	r.region.hva = (void *)(uintptr_t)0x1000;
	r.region.flags = 0;
	if (vdev_mem_init(&r.mem, &r.region, 1) != 0) {
		fprintf(stderr, "vdev_mem_init failed\n");
		exit(2);
	}
	uint64_t f = kdrv_features(r.kd);
	uint64_t want = VDEV_BIT(VDEV_F_VERSION_1) |
			(c->packed ? VDEV_BIT(VDEV_F_RING_PACKED) : 0) |
			(c->event_idx ? VDEV_BIT(VDEV_F_EVENT_IDX) : 0) |
			(c->indirect ? VDEV_BIT(VDEV_F_INDIRECT_DESC) : 0);
	if (f != want) {
		fprintf(stderr, "%s: kernel accepted features %#" PRIx64 ", wanted %#" PRIx64 "\n",
			c->name, f, want);
		exit(1); /* setup failure: the whole run fails */
	}
	kdrv_addrs(r.kd, &r.desc_area, &r.driver_area, &r.device_area);
	if ((rc = vdev_vq_init(&r.vq, 0, c->size, r.vq_held)) != 0 ||
	    (rc = vdev_vq_set_size(&r.vq, c->size)) != 0 ||
	    (rc = vdev_vq_set_addrs(&r.vq, r.desc_area, r.driver_area, r.device_area)) != 0 ||
	    (rc = vdev_vq_start(&r.vq, &r.mem, f)) != 0) {
		fprintf(stderr, "%s: device queue setup failed: %s\n", c->name, vdev_strerror(rc));
		exit(1); /* setup failure: the whole run fails */
	}

	if (c->threaded)
		run_threaded(&r);
	else
		run_single(&r);

	if (!r.failed && r.completed != r.target)
		fail(&r, "completed %" PRIu64 " of %" PRIu64, r.completed, r.target);
	if (!r.failed && r.dev_popped != r.target)
		fail(&r, "device popped %" PRIu64 " chains for %" PRIu64 " buffers", r.dev_popped,
		     r.target);
	if (!r.failed && vdev_vq_is_broken(&r.vq))
		fail(&r, "device queue broken");
	if (!r.failed && kdrv_is_broken(r.kd))
		fail(&r, "kernel queue broken");
	struct vdev_vq_stats st;
	vdev_vq_get_stats(&r.vq, &st);
	if (!r.failed && (st.rejected != 0 || st.pushed != r.target))
		fail(&r, "device stats: %" PRIu64 " rejected, %" PRIu64 " pushed", st.rejected,
		     st.pushed);

	double secs = (double)(now_ns() - t0) / 1e9;
	double nb = r.completed ? (double)r.completed : 1.0;
	printf("%-34s %s %8" PRIu64 " buf  kicks/buf %.4f  irqs/buf %.4f  spurious/buf %.4f"
	       "  %.2fs\n",
	       c->name, r.failed ? "FAIL" : "ok  ", r.completed, (double)r.kicks / nb,
	       (double)r.interrupts / nb, (double)r.spurious / nb, secs);
	if (r.failed)
		printf("    %s (seed %" PRIu64 ")\n", r.why, seed);
	fflush(stdout);

	tot->configs++;
	tot->failed += r.failed;
	tot->buffers += r.completed;
	tot->kicks += r.kicks;
	tot->interrupts += r.interrupts;
	tot->spurious += r.spurious;
	tot->decisions += r.decisions_checked;
	tot->g_buffers[c->threaded][c->packed][c->event_idx] += r.completed;
	tot->g_kicks[c->threaded][c->packed][c->event_idx] += r.kicks;
	tot->g_irqs[c->threaded][c->packed][c->event_idx] += r.interrupts;
	tot->g_failed[c->threaded][c->packed][c->event_idx] += r.failed;

	vdev_vq_reset(&r.vq);
	kdrv_destroy(r.kd);
	free(r.reqs);
	free(r.free_slots);
	free(r.slot_mem);
	pthread_cond_destroy(&r.cond);
	pthread_mutex_destroy(&r.lock);
	pthread_mutex_destroy(&r.fail_lock);
	return !r.failed;
}

int main(int argc, char **argv)
{
	static const unsigned split_sizes[] = {1, 2, 4, 16, 64, 256, 1024};
	static const unsigned packed_sizes[] = {1, 2, 3, 17, 64, 255, 1024};
	uint64_t buffers = 40000, seed = 1;
	const char *only = NULL;
	bool list = false, long_indirect = false;
	struct totals tot = {0};
	uint64_t t0 = now_ns();

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--buffers") && i + 1 < argc)
			buffers = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--list"))
			list = true;
		else if (!strcmp(argv[i], "--long-indirect"))
			long_indirect = true;
		else {
			fprintf(stderr, "usage: %s [--buffers N] [--seed S] [--only SUBSTR] [--list] "
				"[--long-indirect]\n",
				argv[0]);
			return 2;
		}
	}

	for (unsigned threaded = 0; threaded < 2; threaded++)
		for (unsigned packed = 0; packed < 2; packed++)
			for (unsigned ev = 0; ev < 2; ev++)
				for (unsigned ind = 0; ind < 2; ind++)
					for (unsigned si = 0; si < 7; si++) {
						struct config c = {
							.packed = packed, .event_idx = ev,
							.indirect = ind, .threaded = threaded,
							.long_indirect = long_indirect,
							.size = packed ? packed_sizes[si]
								       : split_sizes[si],
						};
						snprintf(c.name, sizeof(c.name),
							 "%s/%s/%s/%s/%u",
							 threaded ? "thread" : "single",
							 packed ? "packed" : "split",
							 ev ? "event_idx" : "flags",
							 ind ? "indirect" : "direct", c.size);
						if (only && !strstr(c.name, only))
							continue;
						if (list) {
							puts(c.name);
							continue;
						}
						/* a thread handoff per buffer or two on
						 * tiny rings: fewer buffers there */
						uint64_t n = threaded && c.size <= 4
								     ? buffers / 4
								     : buffers;
						run_config(&c, n, seed + tot.configs, &tot);
					}
	if (list)
		return 0;
	printf("\n%-28s %10s %10s %10s %7s\n", "summary", "buffers", "kicks/buf", "irqs/buf",
	       "failed");
	for (unsigned t = 0; t < 2; t++)
		for (unsigned p = 0; p < 2; p++)
			for (unsigned e = 0; e < 2; e++) {
				char n[40];
				double b = (double)tot.g_buffers[t][p][e];
				if (b == 0)
					continue;
				snprintf(n, sizeof(n), "%s/%s/%s", t ? "thread" : "single",
					 p ? "packed" : "split", e ? "event_idx" : "flags");
				printf("%-28s %10.0f %10.4f %10.4f %7" PRIu64 "\n", n, b,
				       (double)tot.g_kicks[t][p][e] / b, (double)tot.g_irqs[t][p][e] / b,
				       tot.g_failed[t][p][e]);
			}
	double nb = tot.buffers ? (double)tot.buffers : 1.0;
	printf("\n%" PRIu64 " configurations, %" PRIu64 " failed; %" PRIu64
	       " buffers; kicks/buf %.4f, interrupts/buf %.4f, spurious/buf %.4f; "
	       "%" PRIu64 " interrupt decisions checked; %.1fs\n",
	       tot.configs, tot.failed, tot.buffers, (double)tot.kicks / nb,
	       (double)tot.interrupts / nb, (double)tot.spurious / nb, tot.decisions,
	       (double)(now_ns() - t0) / 1e9);
	if (tot.configs == 0) {
		fprintf(stderr, "no configuration matched\n");
		return 1;
	}
	return tot.failed ? 1 : 0;
}
