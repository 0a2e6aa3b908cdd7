/* SPDX-License-Identifier: MIT */
/*
 * vhost-user INFLIGHT_SHMFD: the adapter with the block device behind it
 * and the in-process front-end, which keeps the region across a back-end
 * "restart" (the adapter and the device thrown away with requests in
 * flight, new ones started on the same guest memory, rings and region).
 * A front-end's bad inflight descriptions close the session; a region
 * whose contents do not add up is counted and ignored.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blk_ram.h"
#include "drvsim.h"
#include "sim_le.h"
#include "vdev/blk.h"
#include "vdev/vhost_user.h"
#include "vu_front.h"

#define F(b) VDEV_BIT(VDEV_F_##b)
#define NREQ 32
#define QSIZE 64
#define GET_INFLIGHT_FD 31
#define SET_INFLIGHT_FD 32
#define PF_INFLIGHT (1ull << 12)

static struct {
	struct sim_mem m;
	struct ram_blk ram;
	struct vdev_mem mem;
	struct vdev_blk blk;
	struct vdev_vq queues[2];
	uint64_t queue_held[2 * VDEV_VQ_HELD_WORDS(QSIZE)];
	struct vdev_blk_req reqs[NREQ];
	struct vdev_iov iovs[NREQ * 20];
	struct vdev_blk_range ranges[NREQ * 4];
	struct vdev_vhost_user *vu;
	struct vu_front fe;
	bool inflight;
	bool packed;
	char log[4096]; /* the adapter's messages, one per line (what fits) */
	uint64_t arena;
} F;

static int tok[64];

static void pump(void *ctx) { (void)vdev_vhost_user_process(ctx); }
static void on_log(void *o, const char *msg)
{
	size_t used = strlen(F.log);

	(void)o;
	snprintf(F.log + used, sizeof(F.log) - used, "%s\n", msg);
}

/* The back-end: a block device on the (persistent) RAM disk and an adapter. */
static void backend_up(void)
{
	struct vdev_blk_config c = {
		.capacity = 2048, .num_queues = 1, .queue_size = QSIZE, .seg_max = 16,
		.max_discard_seg = 4, .max_write_zeroes_seg = 4, .serial = "inflight-test",
		.mem = &F.mem, .queues = F.queues, .queue_held = F.queue_held, .reqs = F.reqs, .num_reqs = NREQ,
		.iovs = F.iovs, .iov_per_req = 20, .ranges = F.ranges,
		.backend = &ram_blk_ops, .backend_opaque = &F.ram,
	};
	memset(&F.blk, 0, sizeof(F.blk));
	memset(F.queues, 0, sizeof(F.queues));
	memset(F.reqs, 0, sizeof(F.reqs));
	cr_assert_eq(vdev_mem_init(&F.mem, NULL, 0), 0);
	cr_assert_eq(vdev_blk_init(&F.blk, &c), 0);
	F.ram.blk = &F.blk;
	struct vdev_vhost_user_config vc = {
		.listen_fd = -1, .dev = vdev_blk_dev(&F.blk), .mem = &F.mem, .log = on_log,
		.inflight = F.inflight,
	};
	int err;
	char eb[128];
	F.vu = vdev_vhost_user_create(&vc, &err, eb, sizeof(eb));
	cr_assert_not_null(F.vu, "%s", eb);
}

static int connect_backend(void)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(vdev_vhost_user_attach(F.vu, sv[1]), 0);
	return sv[0];
}

static void new_session(void)
{
	vu_front_attach(&F.fe, connect_backend());
	F.fe.pump = pump;
	F.fe.pump_ctx = F.vu;
	F.fe.want_inflight = true;
}

static void setup(void)
{
	memset(&F, 0, sizeof(F));
	F.inflight = true;
	sim_mem_init_memfd(&F.m, 2u << 20);
	cr_assert_eq(ram_blk_init(&F.ram, 1u << 20, NREQ), 0);
	backend_up();
	new_session();
}

static void teardown(void)
{
	vu_front_close(&F.fe);
	vdev_vhost_user_destroy(F.vu);
	ram_blk_destroy(&F.ram);
	sim_mem_destroy(&F.m);
}

static bool session_alive(void) { return vdev_vhost_user_process(F.vu) == 0; }

static void start(void)
{
	cr_assert_eq(vu_front_start(&F.fe, &F.m, F.packed ? ~0ull : ~F(RING_PACKED), 1, QSIZE), 0,
		     "%s", F.fe.last_error);
}

/* Submit a block request t (type 1 write / 0 read) without waiting. */
static uint8_t *submit(int t, uint32_t type, uint64_t sector)
{
	if (F.arena == 0)
		F.arena = sim_alloc(&F.m, 64u * 8192u, 4096);
	uint64_t h = F.arena + (uint64_t)t * 8192u;
	uint8_t *hp = sim_ptr(&F.m, h);
	memset(hp, 0, 16);
	hp[0] = (uint8_t)type;
	sim_put_le64(hp + 8, sector); /* virtio-blk header: little-endian */
	hp[64] = 0xee;
	if (type == 1)
		memset(hp + 4096, 0x40 + t, 512);
	struct drv_buf b[3] = {{h, 16, false}, {h + 4096, 512, type == 0}, {h + 64, 1, true}};
	cr_assert_eq(drv_add(&F.fe.q[0], b, 3, false, &tok[t]), 0);
	if (drv_kick_prepare(&F.fe.q[0]))
		vu_front_kick(&F.fe, 0);
	(void)vdev_vhost_user_process(F.vu);
	return hp + 64;
}

static unsigned reap(int *seen)
{
	unsigned n = 0;
	uint32_t len;
	int *t;

	(void)vdev_vhost_user_process(F.vu);
	while ((t = drv_get_used(&F.fe.q[0], &len)) != NULL) {
		seen[t - tok]++;
		n++;
	}
	cr_assert_eq(F.fe.q[0].errors, 0, "%s", F.fe.q[0].last_error);
	return n;
}

/* The back-end dies with what it holds: nothing completes any more. */
static void backend_dies(void)
{
	vdev_vhost_user_destroy(F.vu);
	F.vu = NULL;
	F.ram.nheld = 0; /* the requests it held die with it */
}

/* A new back-end, and the front-end reconnecting to it as QEMU does. */
static void backend_restarts(void)
{
	backend_up();
	vu_front_reattach(&F.fe, connect_backend());
	F.fe.pump_ctx = F.vu;
	cr_assert_eq(vu_front_resume(&F.fe), 0, "%s", F.fe.last_error);
}

Test(vhost_user_inflight, region_handed_over, .init = setup, .fini = teardown)
{
	start();
	cr_assert(F.fe.protocol_features & PF_INFLIGHT);
	cr_assert_geq(F.fe.inflight_fd, 0);
	cr_expect_geq(F.fe.inflight_size, 16 + 16 * QSIZE);
	cr_expect_eq(F.fe.inflight_size % 64, 0);
	cr_expect(session_alive());
	int seen[64] = {0};
	F.ram.async = false;
	submit(0, 1, 0);
	cr_expect_eq(reap(seen), 1);
}

Test(vhost_user_inflight, not_offered_unless_configured)
{
	memset(&F, 0, sizeof(F));
	sim_mem_init_memfd(&F.m, 2u << 20);
	cr_assert_eq(ram_blk_init(&F.ram, 1u << 20, NREQ), 0);
	backend_up();
	new_session();
	start();
	cr_expect_eq(F.fe.protocol_features & PF_INFLIGHT, 0);
	cr_expect_lt(F.fe.inflight_fd, 0);
	teardown();
}

static void survive(bool packed)
{
	int seen[64] = {0};
	uint8_t *status[6];

	F.packed = packed;
	start();
	cr_assert_eq((F.fe.features & F(RING_PACKED)) != 0, packed);
	F.ram.async = true;
	for (int t = 0; t < 5; t++)
		status[t] = submit(t, 1, (uint64_t)t);
	cr_assert_eq(F.ram.nheld, 5);
	cr_assert_eq(ram_blk_complete_some(&F.ram, 2, 7), 2); /* in some order */
	cr_assert_eq(reap(seen), 2);
	backend_dies();
	F.ram.async = false;
	backend_restarts();
	cr_expect_eq(reap(seen), 3, "the three in flight completed by the new back-end");
	for (int t = 0; t < 5; t++) {
		cr_expect_eq(seen[t], 1, "request %d completed %d times", t, seen[t]);
		cr_expect_eq(*status[t], 0, "request %d: status %u", t, *status[t]);
		cr_expect_eq(F.ram.data[t * 512], 0x40 + t, "request %d's data on the disk", t);
	}
	status[5] = submit(5, 0, 3);
	cr_expect_eq(reap(seen), 1);
	cr_expect_eq(*status[5], 0);
	struct vdev_vhost_user_stats st;
	vdev_vhost_user_get_stats(F.vu, &st);
	cr_expect_eq(st.inflight_resubmitted, 3);
	cr_expect_eq(st.inflight_errors, 0);
	cr_expect_eq(st.bad_messages, 0);
}

Test(vhost_user_inflight, requests_in_flight_survive_a_back_end_restart, .init = setup,
     .fini = teardown)
{
	survive(false);
}

Test(vhost_user_inflight, packed_requests_in_flight_survive_a_back_end_restart, .init = setup,
     .fini = teardown)
{
	survive(true);
}

static void nothing_in_flight(bool packed)
{
	int seen[64] = {0};

	F.packed = packed;
	start();
	F.ram.async = false;
	for (int t = 0; t < 3; t++)
		submit(t, 1, (uint64_t)t);
	cr_expect_eq(reap(seen), 3);
	backend_dies();
	backend_restarts();
	submit(3, 0, 0);
	cr_expect_eq(reap(seen), 1);
	struct vdev_vhost_user_stats st;
	vdev_vhost_user_get_stats(F.vu, &st);
	cr_expect_eq(st.inflight_resubmitted, 0);
	cr_expect_eq(st.inflight_errors, 0);
}

Test(vhost_user_inflight, restart_with_nothing_in_flight, .init = setup, .fini = teardown)
{
	nothing_in_flight(false);
}

Test(vhost_user_inflight, packed_restart_with_nothing_in_flight, .init = setup, .fini = teardown)
{
	nothing_in_flight(true);
}

/* Packed: several restarts with requests in flight each time, completed
 * out of order in between; every request once, on the disk. */
Test(vhost_user_inflight, packed_repeated_restarts, .init = setup, .fini = teardown)
{
	int seen[64] = {0};
	uint8_t *status[40];
	int t = 0;

	F.packed = true;
	start();
	cr_expect_eq(F.fe.inflight_size % 64, 0);
	cr_expect_geq(F.fe.inflight_size, 32 + 32 * QSIZE, "a packed region");
	for (int round = 0; round < 8; round++) {
		F.ram.async = true;
		for (int k = 0; k < 5; k++, t++)
			status[t] = submit(t, 1, (uint64_t)t);
		(void)ram_blk_complete_some(&F.ram, (unsigned)(round % 4), (unsigned)(round * 7 + 1));
		(void)reap(seen);
		backend_dies();
		F.ram.async = round % 2 == 0; /* held again by the new one, or completed */
		backend_restarts();
		(void)reap(seen);
	}
	F.ram.async = false;
	while (F.ram.nheld > 0 && ram_blk_complete_some(&F.ram, F.ram.nheld, 3) > 0)
		;
	(void)reap(seen);
	for (int i = 0; i < t; i++) {
		cr_expect_eq(seen[i], 1, "request %d completed %d times", i, seen[i]);
		cr_expect_eq(*status[i], 0, "request %d: status %u", i, *status[i]);
		cr_expect_eq(F.ram.data[i * 512], 0x40 + i, "request %d's data on the disk", i);
	}
	struct vdev_vhost_user_stats st;
	vdev_vhost_user_get_stats(F.vu, &st);
	cr_expect_eq(st.inflight_errors, 0);
	cr_expect_eq(st.bad_messages, 0);
}

/* ---- a hostile front-end ------------------------------------------------------------- */

Test(vhost_user_inflight, hostile_region_contents_are_counted_and_ignored, .init = setup,
     .fini = teardown)
{
	int seen[64] = {0};

	start();
	F.ram.async = false;
	submit(0, 1, 0);
	cr_expect_eq(reap(seen), 1);
	backend_dies();
	/* the front-end scribbles over the region it keeps */
	uint8_t *r = mmap(NULL, (size_t)F.fe.inflight_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			  F.fe.inflight_fd, 0);
	cr_assert_neq(r, MAP_FAILED);
	for (unsigned i = 0; i < QSIZE; i++) {
		r[16 + 16 * i] = 1;           /* every head in flight */
		r[16 + 16 * i + 6] = 0xff;    /* next out of range */
		r[16 + 16 * i + 7] = 0xff;
		memset(r + 16 + 16 * i + 8, (int)(i * 37), 8); /* counters */
	}
	r[12] = r[13] = 0xff; /* last_batch_head */
	munmap(r, (size_t)F.fe.inflight_size);
	backend_restarts();
	submit(1, 1, 1);
	cr_expect_eq(reap(seen), 1, "the ring works");
	cr_expect_eq(seen[0], 1);
	cr_expect_eq(seen[1], 1);
	struct vdev_vhost_user_stats st;
	vdev_vhost_user_get_stats(F.vu, &st);
	cr_expect_geq(st.inflight_errors, 1);
	cr_expect_eq(st.inflight_resubmitted, 0);
}

/* Negotiate INFLIGHT_SHMFD by hand (no ring started), then send `payload`. */
/* After a session was closed: the next one works, with the feature. */
static void next_session_serves(const char *what)
{
	vu_front_close(&F.fe);
	sim_mem_reset_alloc(&F.m);
	F.arena = 0;
	new_session();
	start();
	F.ram.async = false;
	int seen[64] = {0};
	submit(0, 0, 0);
	cr_expect_eq(reap(seen), 1, "%s: served in the next session", what);
}

static void expect_bad_set(const void *payload, uint32_t size, unsigned nfds, const char *what)
{
	uint64_t pf = PF_INFLIGHT | (1ull << 3);
	int fds[2];
	size_t len = 2 * (16 + 16 * QSIZE + 64);

	cr_assert_eq(vu_front_send(&F.fe, 16, 1, &pf, 8, NULL, 0, false, NULL, NULL), 0);
	fds[0] = memfd_create("hostile", MFD_CLOEXEC);
	fds[1] = fds[0];
	cr_assert_eq(ftruncate(fds[0], (off_t)len), 0);
	vu_front_send(&F.fe, SET_INFLIGHT_FD, 1, payload, size, fds, nfds, false, NULL, NULL);
	close(fds[0]);
	cr_expect_not(session_alive(), "%s: the session should have closed", what);
	next_session_serves(what);
}

static void desc(uint8_t *d, uint64_t size, uint64_t off, uint16_t nq, uint16_t qs)
{
	memset(d, 0, 24);
	memcpy(d, &size, 8);
	memcpy(d + 8, &off, 8);
	memcpy(d + 16, &nq, 2);
	memcpy(d + 18, &qs, 2);
}

static uint64_t qlen(unsigned qs) { return (16u + 16u * qs + 63u) / 64u * 64u; }
static uint64_t pqlen(unsigned qs) { return (32u + 32u * qs + 63u) / 64u * 64u; }

/* A region of the split or the packed layout's size is taken back (a
 * front-end hands back what GET_INFLIGHT_FD made, for either layout). */
Test(vhost_user_inflight, regions_of_either_layouts_size_are_taken, .init = setup,
     .fini = teardown)
{
	uint64_t sizes[2] = {qlen(QSIZE), pqlen(QSIZE)};
	uint64_t pf = PF_INFLIGHT | (1ull << 3);

	cr_assert_eq(vu_front_send(&F.fe, 16, 1, &pf, 8, NULL, 0, false, NULL, NULL), 0);
	for (unsigned i = 0; i < 2; i++) {
		uint8_t d[24];
		int fd = memfd_create("region", MFD_CLOEXEC);
		cr_assert_eq(ftruncate(fd, (off_t)sizes[i]), 0);
		memset(d, 0, sizeof(d));
		memcpy(d, &sizes[i], 8);
		uint16_t nq = 1, qs = QSIZE;
		memcpy(d + 16, &nq, 2);
		memcpy(d + 18, &qs, 2);
		/* REPLY_ACK: the back-end's answer (0) says it took it */
		uint64_t ack = 1;
		uint32_t len = 8;
		cr_expect_eq(vu_front_send(&F.fe, SET_INFLIGHT_FD, 1 | 8, d, 24, &fd, 1, true, &ack,
					   &len),
			     0, "size %llu", (unsigned long long)sizes[i]);
		cr_expect_eq(ack, 0, "size %llu refused", (unsigned long long)sizes[i]);
		close(fd);
		cr_expect(session_alive());
	}
}

Test(vhost_user_inflight, bad_inflight_descriptions_close_the_session, .init = setup,
     .fini = teardown)
{
	uint8_t d[32];

	desc(d, qlen(QSIZE), 0, 1, QSIZE);
	expect_bad_set(d, 19, 1, "payload too short");
	expect_bad_set(d, 25, 1, "payload too long");
	expect_bad_set(d, 24, 0, "no fd");
	expect_bad_set(d, 24, 2, "two fds");
	desc(d, qlen(QSIZE), 0, 0, QSIZE);
	expect_bad_set(d, 24, 1, "no queues");
	desc(d, 2 * qlen(QSIZE), 0, 2, QSIZE);
	expect_bad_set(d, 24, 1, "more queues than the device has");
	desc(d, 0, 0, 1, 0);
	expect_bad_set(d, 24, 1, "queue size 0");
	desc(d, qlen(40000), 0, 1, 40000);
	expect_bad_set(d, 24, 1, "queue size above 32768");
	desc(d, qlen(QSIZE) - 64, 0, 1, QSIZE);
	expect_bad_set(d, 24, 1, "region smaller than its queues");
	desc(d, qlen(QSIZE) + 64, 0, 1, QSIZE);
	expect_bad_set(d, 24, 1, "region of another size");
	desc(d, pqlen(QSIZE) - 64, 0, 1, QSIZE);
	expect_bad_set(d, 24, 1, "region smaller than packed queues, larger than split ones");
	desc(d, qlen(QSIZE), 4096, 1, QSIZE);
	expect_bad_set(d, 24, 1, "region past the end of its file");
	desc(d, qlen(QSIZE), UINT64_MAX - 100, 1, QSIZE);
	expect_bad_set(d, 24, 1, "offset wrapping around");
}

Test(vhost_user_inflight, inflight_requests_without_the_feature_are_refused, .init = setup,
     .fini = teardown)
{
	uint8_t d[24], r[24];
	uint32_t len = sizeof(r);
	int fd = memfd_create("x", MFD_CLOEXEC);

	desc(d, qlen(QSIZE), 0, 1, QSIZE);
	cr_assert_eq(ftruncate(fd, (off_t)qlen(QSIZE)), 0);
	vu_front_send(&F.fe, SET_INFLIGHT_FD, 1, d, 24, &fd, 1, false, NULL, NULL);
	cr_expect_not(session_alive());
	close(fd);
	vu_front_close(&F.fe);
	new_session();
	vu_front_send(&F.fe, GET_INFLIGHT_FD, 1, d, 24, NULL, 0, true, r, &len);
	cr_expect_not(session_alive());
}

Test(vhost_user_inflight, get_inflight_with_rings_running_is_refused, .init = setup,
     .fini = teardown)
{
	uint8_t d[24], r[24];
	uint32_t len = sizeof(r);

	start();
	desc(d, 0, 0, 1, QSIZE);
	vu_front_send(&F.fe, GET_INFLIGHT_FD, 1, d, 24, NULL, 0, false, r, &len);
	cr_expect_not(session_alive());
}

/*
 * An inflight region that is guest memory: the front-end hands over the
 * guest's memory file as the region, then a memory table with the same
 * bytes. The log's writes (a used index on every publish) would land in
 * the guest's rings, and a second mapping of one page hides an overlap
 * from the queues' checks. The table is refused: the session closes, and
 * the next one works.
 */
Test(vhost_user_inflight, inflight_region_sharing_bytes_with_guest_memory_is_refused,
     .init = setup, .fini = teardown)
{
	uint64_t pf = PF_INFLIGHT | (1ull << 3);
	uint8_t d[24];

	cr_assert_eq(vu_front_send(&F.fe, 16, 1, &pf, 8, NULL, 0, false, NULL, NULL), 0);
	desc(d, qlen(QSIZE), 4096, 1, QSIZE);
	vu_front_send(&F.fe, SET_INFLIGHT_FD, 1, d, 24, &F.m.memfd, 1, false, NULL, NULL);
	cr_expect(session_alive(), "the region alone is fine");
	F.fe.want_inflight = false;
	(void)vu_front_start(&F.fe, &F.m, ~F(RING_PACKED), 1, QSIZE); /* sends without acks */
	cr_expect_not(session_alive(), "the memory table should have closed the session");
	cr_expect(strstr(F.log, "shares bytes with the inflight region") != NULL, "log: %s",
		  F.log);
	next_session_serves("inflight region on guest memory");
}
