/* SPDX-License-Identifier: MIT */
/*
 * virtio-rng device model, driven through the virtio-mmio transport by the
 * driver simulator (split and packed rings) with a recording host: full,
 * short and clamped answers, buffers split across descriptors and
 * indirect tables, asynchronous completion in any order, a full pool,
 * device and queue reset with requests out, and every malformed buffer
 * (readable parts, nothing writable, addresses outside guest memory).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "drv_mmio.h"
#include "drvsim.h"
#include "vdev/mmio.h"
#include "vdev/rng.h"

#define F(b) VDEV_BIT(VDEV_F_##b)
#define NREQ 8
#define IOVS 8
#define QSIZE 16
#define SLOT 16384u

struct host {
	bool async;
	int answer;          /* sync: >0 bytes to write (capped at len), else returned as is */
	unsigned calls, cancels;
	uint32_t asked[64];  /* io->len of each call */
	unsigned iovcnt[64];
	struct vdev_rng_io *pending[64];
	unsigned npending;
	uint8_t next;        /* the byte stream: 0, 1, 2, ... */
};

static struct {
	struct sim_mem m;
	struct host h;
	struct vdev_rng rng;
	struct vdev_vq queues[1];
	uint64_t queue_held[VDEV_VQ_HELD_WORDS(VDEV_VQ_MAX_SIZE)];
	struct vdev_rng_req reqs[NREQ];
	struct vdev_iov iovs[NREQ * IOVS];
	struct vdev_mmio mmio;
	struct drv_mmio dm;
	struct drv_transport tr;
	struct drv_vq q;
	uint64_t neg, arena;
} F;
static int tok[32];

/* Write `n` bytes of the stream into the io. */
static uint32_t produce(struct host *h, struct vdev_rng_io *io, uint32_t n)
{
	uint8_t buf[SLOT];

	cr_assert_leq(n, io->len);
	cr_assert_leq(n, sizeof(buf));
	cr_assert_eq(vdev_iov_length(io->iov, io->iovcnt), io->len, "segments add up to len");
	for (uint32_t i = 0; i < n; i++)
		buf[i] = h->next++;
	cr_assert_eq(vdev_iov_from_buf(io->iov, io->iovcnt, 0, buf, n), n);
	return n;
}

static int h_fill(void *o, struct vdev_rng_io *io)
{
	struct host *h = o;

	cr_assert_lt(h->calls, 64);
	cr_assert_gt(io->len, 0, "never asked for nothing");
	h->asked[h->calls] = io->len;
	h->iovcnt[h->calls] = io->iovcnt;
	h->calls++;
	if (h->async) {
		h->pending[h->npending++] = io;
		return VDEV_RNG_ASYNC;
	}
	if (h->answer > 0)
		return (int)produce(h, io, (uint32_t)h->answer < io->len ? (uint32_t)h->answer
									 : io->len);
	if (h->answer < 0 && h->answer != -1000)
		return h->answer; /* an error */
	if (h->answer == -1000)
		return (int)io->len + 50; /* more than asked: must be clamped */
	return (int)produce(h, io, io->len);
}

static void h_cancel(void *o, struct vdev_rng_io *io)
{
	(void)io;
	((struct host *)o)->cancels++;
}

static const struct vdev_rng_backend_ops ops = {
	.size = sizeof(struct vdev_rng_backend_ops),
	.fill = h_fill,
	.cancel = h_cancel,
};

struct opts {
	bool packed, async;
	unsigned num_reqs;
	uint32_t max_request;
};

static void setup_with(struct opts o)
{
	memset(&F.h, 0, sizeof(F.h));
	F.h.async = o.async;
	sim_mem_init(&F.m, 4u << 20, false);
	struct vdev_rng_config c = {
		.queue_size = QSIZE,
		.max_request = o.max_request,
		.mem = &F.m.mem,
		.queues = F.queues,
		.queue_held = F.queue_held,
		.reqs = F.reqs,
		.num_reqs = o.num_reqs ? o.num_reqs : NREQ,
		.iovs = F.iovs,
		.iov_per_req = IOVS,
		.backend = &ops,
		.backend_opaque = &F.h,
	};
	cr_assert_eq(vdev_rng_init(&F.rng, &c), 0);
	cr_assert_eq(drv_mmio_attach(&F.dm, &F.mmio, vdev_rng_dev(&F.rng), &F.tr), 0);
	uint64_t want = ~(uint64_t)0;
	if (!o.packed)
		want &= ~F(RING_PACKED);
	cr_assert_eq(drv_virtio_negotiate(&F.tr, want, &F.neg), 0);
	cr_assert_eq(drv_virtio_setup_queue(&F.tr, &F.q, &F.m, 0, 0, F.neg), 0);
	cr_assert_eq(drv_virtio_driver_ok(&F.tr), 0x0f);
	F.arena = sim_alloc(&F.m, 32u * SLOT, 4096);
}

static void setup(void) { setup_with((struct opts){0}); }
static void teardown(void) { sim_mem_destroy(&F.m); }

TestSuite(rng, .fini = teardown);

static uint64_t slot(int t) { return F.arena + (uint64_t)t * SLOT; }

static void post(int t, const struct drv_buf *b, unsigned n, bool indirect)
{
	cr_assert_eq(drv_add(&F.q, b, n, indirect, &tok[t]), 0);
}

static void kick(void)
{
	if (drv_kick_prepare(&F.q))
		F.tr.ops->notify(F.tr.t, 0, false, 0);
}

/* Post one writable buffer of `len` bytes for token t (bytes set to 0xee). */
static void post_plain(int t, uint32_t len)
{
	memset(sim_ptr(&F.m, slot(t)), 0xee, len);
	struct drv_buf b = {slot(t), len, true};
	post(t, &b, 1, false);
}

/* Reap one used buffer; returns its token index, -1 if none. */
static int reap(uint32_t *len)
{
	int *p = drv_get_used(&F.q, len);
	cr_assert_eq(F.q.errors, 0, "%s", F.q.last_error);
	return p == NULL ? -1 : (int)(p - tok);
}

static struct vdev_rng_stats stats(void)
{
	struct vdev_rng_stats s;
	vdev_rng_get_stats(&F.rng, &s);
	return s;
}

/* The bytes at gpa are the stream from `first` on. */
static void expect_stream(uint64_t gpa, uint32_t n, uint8_t first)
{
	const uint8_t *p = sim_ptr(&F.m, gpa);
	for (uint32_t i = 0; i < n; i++)
		cr_assert_eq(p[i], (uint8_t)(first + i), "byte %u", i);
}

Test(rng, identity_and_features, .init = setup)
{
	cr_expect_eq(F.tr.ops->device_id(F.tr.t), 4);
	cr_expect_eq(vdev_dev_config_len(vdev_rng_dev(&F.rng)), 0, "no config space");
	uint64_t dev = vdev_dev_offered_features(vdev_rng_dev(&F.rng));
	cr_expect_eq(dev & ~(F(VERSION_1) | VDEV_F_CORE_MASK), 0, "no device feature bits");
	cr_expect(dev & F(VERSION_1));
}

static void fills_whole_buffers(bool packed)
{
	setup_with((struct opts){.packed = packed});
	for (int round = 0; round < 40; round++) {
		uint8_t first = F.h.next;
		post_plain(round % 32, 64);
		kick();
		uint32_t len = 0;
		cr_assert_eq(reap(&len), round % 32);
		cr_assert_eq(len, 64);
		expect_stream(slot(round % 32), 64, first);
	}
	cr_expect_eq(stats().bytes, 40u * 64u);
	cr_expect_eq(stats().requests, 40);
}

Test(rng, fills_whole_buffers_split) { fills_whole_buffers(false); }
Test(rng, fills_whole_buffers_packed) { fills_whole_buffers(true); }

Test(rng, short_answer_is_reported_as_such, .init = setup)
{
	F.h.answer = 10;
	post_plain(0, 64);
	kick();
	uint32_t len = 0;
	cr_assert_eq(reap(&len), 0);
	cr_expect_eq(len, 10, "used length is what the host wrote");
	expect_stream(slot(0), 10, 0);
	cr_expect_eq(((uint8_t *)sim_ptr(&F.m, slot(0)))[10], 0xee, "nothing beyond it");
	cr_expect_eq(stats().short_answers, 1);
}

Test(rng, host_answer_beyond_the_buffer_is_clamped, .init = setup)
{
	F.h.answer = -1000;
	post_plain(0, 32);
	kick();
	uint32_t len = 0;
	cr_assert_eq(reap(&len), 0);
	cr_expect_eq(len, 32);
}

Test(rng, host_error_completes_the_buffer_empty, .init = setup)
{
	F.h.answer = VDEV_EIO;
	post_plain(0, 32);
	kick();
	uint32_t len = 99;
	cr_assert_eq(reap(&len), 0);
	cr_expect_eq(len, 0);
	cr_expect_eq(stats().empty, 1);
	/* and the device goes on */
	F.h.answer = 0;
	post_plain(1, 16);
	kick();
	cr_assert_eq(reap(&len), 1);
	cr_expect_eq(len, 16);
}

Test(rng, large_buffer_is_asked_only_max_request)
{
	setup_with((struct opts){.max_request = 100});
	post_plain(0, 5000);
	kick();
	uint32_t len = 0;
	cr_assert_eq(reap(&len), 0);
	cr_expect_eq(F.h.asked[0], 100);
	cr_expect_eq(len, 100);
}

Test(rng, default_max_request_is_4096, .init = setup)
{
	post_plain(0, 8192);
	kick();
	uint32_t len = 0;
	cr_assert_eq(reap(&len), 0);
	cr_expect_eq(F.h.asked[0], VDEV_RNG_DEFAULT_MAX_REQUEST);
	cr_expect_eq(len, VDEV_RNG_DEFAULT_MAX_REQUEST);
}

static void split_buffer(bool indirect)
{
	/* 5 + 1 + 100 bytes in three descriptors (direct or one indirect table) */
	uint64_t g = slot(0);
	struct drv_buf b[3] = {{g, 5, true}, {g + 100, 1, true}, {g + 200, 100, true}};
	memset(sim_ptr(&F.m, g), 0xee, 400);
	post(0, b, 3, indirect);
	kick();
	uint32_t len = 0;
	cr_assert_eq(reap(&len), 0);
	cr_expect_eq(len, 106);
	cr_expect_eq(F.h.iovcnt[0], 3);
	expect_stream(g, 5, 0);
	expect_stream(g + 100, 1, 5);
	expect_stream(g + 200, 100, 6);
}

Test(rng, buffer_split_across_descriptors, .init = setup) { split_buffer(false); }
Test(rng, buffer_in_an_indirect_table, .init = setup) { split_buffer(true); }

Test(rng, buffer_straddling_two_regions_is_two_segments, .init = setup)
{
	uint64_t g = sim_straddle_gpa(&F.m, 10);
	struct drv_buf b = {g, 30, true};
	post(0, &b, 1, false);
	kick();
	uint32_t len = 0;
	cr_assert_eq(reap(&len), 0);
	cr_expect_eq(len, 30);
	cr_expect_eq(F.h.iovcnt[0], 2);
	expect_stream(g, 10, 0);
	expect_stream(g + 10, 20, 10);
}

Test(rng, max_request_cuts_inside_a_segment)
{
	setup_with((struct opts){.max_request = 7});
	uint64_t g = slot(0);
	struct drv_buf b[3] = {{g, 5, true}, {g + 100, 5, true}, {g + 200, 5, true}};
	memset(sim_ptr(&F.m, g), 0xee, 300);
	post(0, b, 3, false);
	kick();
	uint32_t len = 0;
	cr_assert_eq(reap(&len), 0);
	cr_expect_eq(len, 7);
	cr_expect_eq(F.h.iovcnt[0], 2, "only the segments that hold the 7 bytes");
	expect_stream(g + 100, 2, 5);
	cr_expect_eq(((uint8_t *)sim_ptr(&F.m, g + 100))[2], 0xee);
}

/* ---- malformed buffers: completed empty, the host never sees them ---- */

static void expect_bad(int t)
{
	uint32_t len = 99;
	cr_assert_eq(reap(&len), t);
	cr_expect_eq(len, 0);
}

Test(rng, readable_buffer_is_refused, .init = setup)
{
	struct drv_buf b = {slot(0), 64, false};
	post(0, &b, 1, false);
	kick();
	expect_bad(0);
	cr_expect_eq(F.h.calls, 0);
	cr_expect_eq(stats().bad_chains, 1);
}

Test(rng, readable_then_writable_is_refused, .init = setup)
{
	struct drv_buf b[2] = {{slot(0), 8, false}, {slot(0) + 64, 64, true}};
	post(0, b, 2, false);
	kick();
	expect_bad(0);
	cr_expect_eq(F.h.calls, 0);
	cr_expect_eq(((uint8_t *)sim_ptr(&F.m, slot(0) + 64))[0], 0, "nothing written");
}

Test(rng, zero_length_buffer_is_refused, .init = setup)
{
	struct drv_buf b = {slot(0), 0, true};
	post(0, &b, 1, false);
	kick();
	expect_bad(0);
	cr_expect_eq(F.h.calls, 0);
	cr_expect_eq(stats().bad_chains, 1);
}

Test(rng, buffer_outside_guest_memory_is_refused, .init = setup)
{
	struct drv_buf b = {SIM_HOLE_GPA, 64, true};
	post(0, &b, 1, false);
	kick();
	expect_bad(0);
	cr_expect_eq(F.h.calls, 0);
}

Test(rng, buffer_in_read_only_memory_is_refused, .init = setup)
{
	uint64_t ro = sim_alloc_in(&F.m, 2, 64, 8);
	struct drv_buf b = {ro, 64, true};
	post(0, &b, 1, false);
	kick();
	expect_bad(0);
	cr_expect_eq(F.h.calls, 0);
}

Test(rng, too_many_segments_is_refused, .init = setup)
{
	struct drv_buf b[IOVS + 1];
	for (unsigned i = 0; i < IOVS + 1; i++)
		b[i] = (struct drv_buf){slot(0) + i * 16u, 8, true};
	post(0, b, IOVS + 1, false);
	kick();
	expect_bad(0);
	cr_expect_eq(F.h.calls, 0);
}

Test(rng, bad_buffers_between_good_ones_keep_the_order, .init = setup)
{
	post_plain(0, 8);
	struct drv_buf bad = {slot(1), 8, false};
	post(1, &bad, 1, false);
	post_plain(2, 8);
	kick();
	uint32_t len = 0;
	cr_assert_eq(reap(&len), 0);
	cr_expect_eq(len, 8);
	expect_bad(1);
	cr_assert_eq(reap(&len), 2);
	cr_expect_eq(len, 8);
	expect_stream(slot(2), 8, 8);
}

/* ---- asynchronous host ---- */

Test(rng, async_completions_in_any_order)
{
	setup_with((struct opts){.async = true});
	for (int t = 0; t < 3; t++)
		post_plain(t, 32);
	kick();
	cr_assert_eq(F.h.npending, 3);
	cr_expect_eq(vdev_rng_inflight(&F.rng), 3);
	uint32_t len;
	cr_expect_eq(reap(&len), -1, "nothing before the host answers");
	/* the third first, short; then the first; then the second */
	vdev_rng_complete(&F.rng, F.h.pending[2], produce(&F.h, F.h.pending[2], 3));
	cr_assert_eq(reap(&len), 2);
	cr_expect_eq(len, 3);
	vdev_rng_complete(&F.rng, F.h.pending[0], produce(&F.h, F.h.pending[0], 32));
	vdev_rng_complete(&F.rng, F.h.pending[1], produce(&F.h, F.h.pending[1], 32));
	cr_assert_eq(reap(&len), 0);
	cr_expect_eq(len, 32);
	cr_assert_eq(reap(&len), 1);
	cr_expect_eq(len, 32);
	expect_stream(slot(2), 3, 0);
	expect_stream(slot(0), 32, 3);
	expect_stream(slot(1), 32, 35);
	cr_expect_eq(vdev_rng_inflight(&F.rng), 0);
	/* a second completion of the same io, or a foreign pointer, is ignored */
	vdev_rng_complete(&F.rng, F.h.pending[0], 5);
	struct vdev_rng_io stray = {0};
	vdev_rng_complete(&F.rng, &stray, 5);
	cr_expect_eq(reap(&len), -1);
}

Test(rng, full_pool_stops_taking_buffers)
{
	setup_with((struct opts){.async = true, .num_reqs = 2});
	for (int t = 0; t < 5; t++)
		post_plain(t, 16);
	kick();
	cr_expect_eq(F.h.npending, 2, "only what the pool can hold");
	cr_expect_geq(stats().pool_full, 1);
	int reaped = 0;
	for (unsigned i = 0; reaped < 5; i++) {
		cr_assert_lt(i, 5);
		vdev_rng_complete(&F.rng, F.h.pending[i], produce(&F.h, F.h.pending[i], 16));
		cr_assert_geq(vdev_rng_process(&F.rng), 0);
		uint32_t len;
		while (reap(&len) >= 0)
			reaped++;
		cr_assert_leq(vdev_rng_inflight(&F.rng), 2);
	}
	cr_expect_eq(F.h.npending, 5);
}

Test(rng, reset_with_requests_out_waits_for_them)
{
	setup_with((struct opts){.async = true});
	for (int t = 0; t < 3; t++)
		post_plain(t, 16);
	kick();
	cr_assert_eq(F.h.npending, 3);
	F.tr.ops->set_status(F.tr.t, 0);
	cr_expect_eq(F.h.cancels, 3);
	cr_expect_neq(F.tr.ops->get_status(F.tr.t), 0, "reset pending while buffers are out");
	vdev_rng_complete(&F.rng, F.h.pending[0], 16);
	vdev_rng_complete(&F.rng, F.h.pending[1], 16);
	cr_expect_neq(F.tr.ops->get_status(F.tr.t), 0);
	vdev_rng_complete(&F.rng, F.h.pending[2], 0);
	cr_expect_eq(F.tr.ops->get_status(F.tr.t), 0, "reset done after the last one");
	uint32_t len;
	cr_expect_eq(reap(&len), -1, "orphans are not pushed");
	/* back up, synchronous this time */
	uint64_t neg;
	cr_assert_eq(drv_virtio_negotiate(&F.tr, ~F(RING_PACKED), &neg), 0);
	sim_mem_reset_alloc(&F.m);
	F.arena = sim_alloc(&F.m, 32u * SLOT, 4096);
	cr_assert_eq(drv_virtio_setup_queue(&F.tr, &F.q, &F.m, 0, 0, neg), 0);
	cr_assert_eq(drv_virtio_driver_ok(&F.tr), 0x0f);
	F.h.async = false;
	post_plain(4, 16);
	kick();
	cr_assert_eq(reap(&len), 4);
	cr_expect_eq(len, 16);
}

Test(rng, queue_reset_with_requests_out_waits_for_them)
{
	setup_with((struct opts){.async = true});
	cr_assert(F.neg & F(RING_RESET));
	for (int t = 0; t < 2; t++)
		post_plain(t, 16);
	kick();
	cr_assert_eq(F.h.npending, 2);
	cr_expect_not(F.tr.ops->reset_queue(F.tr.t, 0), "ongoing while buffers are out");
	cr_expect_eq(vdev_mmio_read(&F.mmio, 0x0c0, 4), 1, "QueueReset reads 1");
	vdev_rng_complete(&F.rng, F.h.pending[0], 16);
	cr_expect_eq(vdev_mmio_read(&F.mmio, 0x0c0, 4), 1);
	vdev_rng_complete(&F.rng, F.h.pending[1], 16);
	cr_expect_eq(vdev_mmio_read(&F.mmio, 0x0c0, 4), 0, "done after the last one");
	cr_assert_eq(drv_virtio_setup_queue(&F.tr, &F.q, &F.m, 0, 0, F.neg), 0);
	uint32_t len;
	cr_expect_eq(reap(&len), -1, "orphans are not pushed");
	F.h.async = false;
	post_plain(3, 16);
	kick();
	cr_assert_eq(reap(&len), 3);
	cr_expect_eq(len, 16);
}

Test(rng, init_rejects_bad_configurations)
{
	static struct vdev_rng r;
	static struct sim_mem m;
	sim_mem_init(&m, 1u << 20, true);
	struct vdev_rng_config good = {
		.queue_size = 8, .mem = &m.mem, .queues = F.queues, .queue_held = F.queue_held,
		.reqs = F.reqs, .num_reqs = 2, .iovs = F.iovs, .iov_per_req = 4, .backend = &ops,
	};
	cr_assert_eq(vdev_rng_init(&r, &good), 0);
	struct vdev_rng_config c;
	c = good, c.backend = NULL;
	cr_expect_eq(vdev_rng_init(&r, &c), VDEV_EINVAL);
	static const struct vdev_rng_backend_ops nofill = {.size = sizeof(nofill)};
	c = good, c.backend = &nofill;
	cr_expect_eq(vdev_rng_init(&r, &c), VDEV_EINVAL);
	c = good, c.queue_size = 0;
	cr_expect_eq(vdev_rng_init(&r, &c), VDEV_EINVAL);
	c = good, c.queue_size = 65536;
	cr_expect_eq(vdev_rng_init(&r, &c), VDEV_EINVAL);
	c = good, c.num_reqs = 0;
	cr_expect_eq(vdev_rng_init(&r, &c), VDEV_EINVAL);
	c = good, c.queue_held = NULL;
	cr_expect_eq(vdev_rng_init(&r, &c), VDEV_EINVAL);
	c = good, c.iov_per_req = 0;
	cr_expect_eq(vdev_rng_init(&r, &c), VDEV_EINVAL);
	c = good, c.max_request = (1u << 20) + 1;
	cr_expect_eq(vdev_rng_init(&r, &c), VDEV_EINVAL);
	c = good, c.mem = NULL;
	cr_expect_eq(vdev_rng_init(&r, &c), VDEV_EINVAL);
	c = good, c.iovs = NULL;
	cr_expect_eq(vdev_rng_init(&r, &c), VDEV_EINVAL);
	c = good, c.ring_features = VDEV_BIT(5);
	cr_expect_eq(vdev_rng_init(&r, &c), VDEV_EINVAL, "not a ring feature");
	sim_mem_destroy(&m);
}
