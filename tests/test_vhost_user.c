/* SPDX-License-Identifier: MIT */
/*
 * The vhost-user adapter with the block device behind it, driven by the
 * in-process front-end (a QEMU stand-in) over a socketpair; the adapter
 * runs in the same thread (the front-end pumps it). Every malformed
 * message must close the connection, and a new session must then work.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
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

static struct {
	struct sim_mem m;
	struct ram_blk ram;
	struct vdev_mem mem; /* filled by the adapter */
	struct vdev_blk blk;
	struct vdev_vq queues[2];
	uint64_t queue_held[2 * VDEV_VQ_HELD_WORDS(128)];
	struct vdev_blk_req reqs[NREQ];
	struct vdev_iov iovs[NREQ * 20];
	struct vdev_blk_range ranges[NREQ * 4];
	struct vdev_vhost_user *vu;
	struct vu_front fe;
	unsigned drains, connects, disconnects;
	char log[4096]; /* the adapter's messages, one per line (what fits) */
	/* device-specific requests (as vhost-user-gpu's GPU_SET_SOCKET) */
	unsigned dev_requests;
	uint32_t dev_request, dev_size;
	int dev_fd;
} F;

static void pump(void *ctx) { (void)vdev_vhost_user_process(ctx); }
static void on_drain(void *o, uint16_t q) { (void)o, (void)q; F.drains++; }
static void on_connect(void *o) { (void)o; F.connects++; }
static void on_disconnect(void *o) { (void)o; F.disconnects++; }
/* Takes request 33 with one fd (like GPU_SET_SOCKET); refuses others. */
static int on_device_request(void *o, uint32_t req, const void *payload, uint32_t size,
			     int *fds, unsigned nfds)
{
	(void)o, (void)payload;
	F.dev_requests++;
	F.dev_request = req;
	F.dev_size = size;
	if (req != 33 || nfds != 1)
		return VDEV_ENOTSUP;
	if (F.dev_fd >= 0)
		close(F.dev_fd);
	F.dev_fd = fds[0];
	fds[0] = -1;
	return 0;
}

static void on_log(void *o, const char *msg)
{
	size_t used = strlen(F.log);

	(void)o;
	snprintf(F.log + used, sizeof(F.log) - used, "%s\n", msg);
}

static void new_session(void)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	vu_front_attach(&F.fe, sv[0]);
	F.fe.pump = pump;
	F.fe.pump_ctx = F.vu;
	cr_assert_eq(vdev_vhost_user_attach(F.vu, sv[1]), 0);
}

static void setup_n(unsigned nq)
{
	memset(&F, 0, sizeof(F));
	F.dev_fd = -1;
	sim_mem_init_memfd(&F.m, 2u << 20);
	cr_assert_eq(ram_blk_init(&F.ram, 1u << 20, NREQ), 0);
	cr_assert_eq(vdev_mem_init(&F.mem, NULL, 0), 0);
	struct vdev_blk_config c = {
		.capacity = 2048,
		.num_queues = (uint16_t)nq,
		.queue_size = 128,
		.seg_max = 16,
		.max_discard_seg = 4,
		.max_write_zeroes_seg = 4,
		.serial = "vhost-user-test",
		.mem = &F.mem,
		.queues = F.queues,
		.queue_held = F.queue_held,
		.reqs = F.reqs,
		.num_reqs = NREQ,
		.iovs = F.iovs,
		.iov_per_req = 20,
		.ranges = F.ranges,
		.backend = &ram_blk_ops,
		.backend_opaque = &F.ram,
	};
	cr_assert_eq(vdev_blk_init(&F.blk, &c), 0);
	struct vdev_vhost_user_config vc = {
		.listen_fd = -1,
		.dev = vdev_blk_dev(&F.blk),
		.mem = &F.mem,
		.drain = on_drain,
		.connected = on_connect,
		.disconnected = on_disconnect,
		.log = on_log,
		.device_request = on_device_request,
	};
	int err;
	char eb[128];
	F.vu = vdev_vhost_user_create(&vc, &err, eb, sizeof(eb));
	cr_assert_not_null(F.vu, "%s", eb);
	new_session();
}

static void setup(void) { setup_n(1); }

static void teardown(void)
{
	vu_front_close(&F.fe);
	vdev_vhost_user_destroy(F.vu);
	if (F.dev_fd >= 0)
		close(F.dev_fd);
	ram_blk_destroy(&F.ram);
	sim_mem_destroy(&F.m);
}

static int tok[64];

/* One block request through the front-end's rings. */
static int blk_rq(unsigned q, int t, uint32_t type, uint64_t sector, uint32_t len, bool din)
{
	static uint64_t arena;
	if (arena == 0 || arena >= SIM_R0_GPA + F.m.regions[0].size)
		arena = sim_alloc(&F.m, 64u * 8192u, 4096);
	uint64_t h = arena + (uint64_t)t * 8192u;
	uint8_t *hp = sim_ptr(&F.m, h);
	memset(hp, 0, 16);
	hp[0] = (uint8_t)type;
	sim_put_le64(hp + 8, sector);
	hp[64] = 0xee;
	if (type == 1)
		memset(hp + 4096, 0x40 + t, len);
	struct drv_buf b[3] = {{h, 16, false}, {h + 4096, len, din}, {h + 64, 1, true}};
	if (!len)
		b[1] = b[2]; /* no data: header and status only */
	cr_assert_eq(drv_add(&F.fe.q[q], b, len ? 3 : 2, false, &tok[t]), 0);
	if (drv_kick_prepare(&F.fe.q[q]))
		vu_front_kick(&F.fe, q);
	cr_assert(vu_front_wait_call(&F.fe, q, 1000), "no call for request %d", t);
	uint32_t used;
	cr_assert_eq(drv_get_used(&F.fe.q[q], &used), &tok[t]);
	/* A read that succeeded brought the disk's byte (one that failed,
	 * such as past the end, has no disk byte to compare with). */
	if (din && type == 0 && hp[64] == 0)
		cr_assert_eq(hp[4096], F.ram.data[sector * 512]);
	return hp[64];
}

static void start(uint64_t want, unsigned nq)
{
	cr_assert_eq(vu_front_start(&F.fe, &F.m, want, nq, 64), 0, "%s", F.fe.last_error);
}

static bool session_alive(void)
{
	return vdev_vhost_user_process(F.vu) == 0;
}

Test(vhost_user, split_ring_io, .init = setup, .fini = teardown)
{
	start(~F(RING_PACKED), 1);
	cr_expect_eq(F.connects, 1);
	cr_expect(F.fe.features & F(EVENT_IDX));
	cr_expect(vdev_blk_writeback(&F.blk) == false);
	cr_expect_eq(blk_rq(0, 1, 1, 8, 4096, false), 0, "write");
	cr_expect_eq(F.ram.data[8 * 512], 0x41);
	cr_expect_eq(blk_rq(0, 2, 0, 8, 4096, true), 0, "read");
	cr_expect_eq(blk_rq(0, 3, 4, 0, 0, false), 0, "flush");
	cr_expect_eq(blk_rq(0, 4, 0, 4000, 4096, true), 1, "beyond the disk: IOERR");
	struct vdev_vhost_user_stats st;
	vdev_vhost_user_get_stats(F.vu, &st);
	cr_expect_geq(st.kicks, 1);
	cr_expect_geq(st.calls, 4);
	cr_expect_eq(st.bad_messages, 0);
}

Test(vhost_user, packed_ring_io, .init = setup, .fini = teardown)
{
	start(~0ull, 1);
	cr_assert(F.fe.features & F(RING_PACKED));
	for (int i = 0; i < 40; i++)
		cr_expect_eq(blk_rq(0, i % 32, (unsigned)(i & 1), (uint64_t)i, 512, !(i & 1)), 0);
}

Test(vhost_user, get_and_set_config, .init = setup, .fini = teardown)
{
	uint8_t c[96];

	start(~0ull, 1);
	memset(c, 0xff, sizeof(c));
	/* QEMU asks for its whole struct virtio_blk_config, larger than ours */
	cr_assert_eq(vu_front_get_config(&F.fe, 0, c, 96), 0);
	cr_expect_eq(c[0] | c[1] << 8, 2048, "capacity");
	cr_expect_eq(c[12], 16, "seg_max");
	cr_expect_eq(c[80] | c[95], 0, "fields we do not have read as zero");
	uint8_t wb = 1;
	cr_assert_eq(vu_front_set_config(&F.fe, 32, &wb, 1), 0);
	cr_expect(session_alive());
	cr_expect(vdev_blk_writeback(&F.blk));
	uint8_t cap[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	vu_front_set_config(&F.fe, 0, cap, 8); /* read-only: ignored */
	cr_assert_eq(vu_front_get_config(&F.fe, 0, c, 8), 0);
	cr_expect_eq(c[0] | c[1] << 8, 2048);
}

Test(vhost_user, stop_and_restart_a_ring, .init = setup, .fini = teardown)
{
	start(~F(RING_PACKED), 1);
	for (int i = 0; i < 5; i++)
		cr_expect_eq(blk_rq(0, i, 0, 0, 512, true), 0);
	int64_t base = vu_front_stop_ring(&F.fe, 0);
	cr_expect_eq(base, 5, "avail index after five requests");
	cr_expect_eq(F.drains, 1, "the device was asked to drain first");
	/* restart it where it stopped */
	uint32_t st[2] = {0, (uint32_t)base};
	vu_front_send(&F.fe, 10, 1, st, 8, NULL, 0, false, NULL, NULL);
	int kick = eventfd(0, EFD_NONBLOCK);
	uint64_t v = 0;
	vu_front_send(&F.fe, 12, 1, &v, 8, &kick, 1, false, NULL, NULL);
	close(F.fe.kick[0]);
	F.fe.kick[0] = kick;
	cr_expect(session_alive());
	cr_expect_eq(blk_rq(0, 6, 0, 0, 512, true), 0, "served after the restart");
}

Test(vhost_user, reply_ack, .init = setup, .fini = teardown)
{
	uint64_t r = 9;
	uint32_t len = 8;

	start(~0ull, 1);
	cr_assert(F.fe.protocol_features & (1u << 3));
	uint32_t st[2] = {0, 1};
	/* SET_VRING_ENABLE with need_reply: ack 0 */
	cr_assert_eq(vu_front_send(&F.fe, 18, 1 | 8, st, 8, NULL, 0, true, &r, &len), 0);
	cr_expect_eq(r, 0);
	cr_expect(session_alive());
}

Test(vhost_user, queue_num_and_multiqueue)
{
	uint64_t n = 0;
	uint32_t len = 8;

	setup_n(2);
	cr_assert_eq(vu_front_send(&F.fe, 17, 1, NULL, 0, NULL, 0, true, &n, &len), 0);
	cr_expect_eq(n, 2);
	start(~0ull, 2);
	cr_expect_eq(blk_rq(1, 1, 1, 3, 512, false), 0);
	cr_expect_eq(blk_rq(0, 2, 0, 3, 512, true), 0);
	teardown();
}

Test(vhost_user, reset_device_and_disconnect, .init = setup, .fini = teardown)
{
	start(~0ull, 1);
	cr_expect_eq(blk_rq(0, 1, 0, 0, 512, true), 0);
	cr_assert_eq(vu_front_send(&F.fe, 34, 1, NULL, 0, NULL, 0, false, NULL, NULL), 0);
	cr_expect(session_alive());
	cr_expect_eq(vdev_dev_status(vdev_blk_dev(&F.blk)), 0, "device reset");
	/* the peer goes away: the session ends and memory is unmapped */
	close(F.fe.sock);
	F.fe.sock = -1;
	cr_expect_not(session_alive());
	cr_expect_eq(F.disconnects, 1);
	void *p;
	uint64_t got;
	cr_expect_eq(vdev_mem_map(&F.mem, SIM_R0_GPA, 1, VDEV_MEM_READ, &p, &got), VDEV_EFAULT);
}

static int open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 4096; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/* Every fd a session handed over (kick, call and error eventfds, memory
 * and inflight files) is closed when it ends: a front-end that reconnects
 * again and again (QEMU's reconnect-ms) must not run the back-end out of
 * descriptors. The call fd was once left open by every session. */
Test(vhost_user, sessions_leave_no_fds_behind, .init = setup, .fini = teardown)
{
	int base = -1;

	for (int i = 0; i < 4; i++) {
		if (i > 0)
			new_session();
		start(~0ull, 1);
		cr_expect_eq(blk_rq(0, 1, 0, 0, 512, true), 0, "session %d serves", i);
		vu_front_close(&F.fe);
		cr_expect_not(session_alive(), "session %d ended", i);
		if (base < 0)
			base = open_fds(); /* after one whole session */
		else
			cr_expect_eq(open_fds(), base, "session %d left %d fds open", i,
				     open_fds() - base);
	}
}

/* A front-end that never stops sending keeps no caller for ever: one
 * process() call serves a bounded number of messages, the poll fd stays
 * readable, and later calls serve the rest. */
Test(vhost_user, process_does_bounded_work_per_call, .init = setup, .fini = teardown)
{
	struct vdev_vhost_user_stats st;
	struct pollfd pfd = {.fd = vdev_vhost_user_poll_fd(F.vu), .events = POLLIN};
	uint64_t m0;
	int calls = 1;

	start(~0ull, 1);
	vdev_vhost_user_get_stats(F.vu, &st);
	m0 = st.messages;
	/* SET_OWNER (no reply), written straight to the socket: vu_front_send()
	 * would pump the adapter in between. The header is in the host's byte
	 * order, as vhost-user's always is. */
	const uint32_t hdr[3] = {3, 1, 0};
	uint8_t set_owner[12];
	memcpy(set_owner, hdr, sizeof(set_owner));
	for (int i = 0; i < 200; i++)
		cr_assert_eq(write(F.fe.sock, set_owner, sizeof(set_owner)), 12);
	cr_expect(session_alive());
	vdev_vhost_user_get_stats(F.vu, &st);
	cr_expect_gt(st.messages - m0, 0);
	cr_expect_lt(st.messages - m0, 200, "one call served all %u messages",
		     (unsigned)(st.messages - m0));
	cr_expect_eq(poll(&pfd, 1, 0), 1, "the rest keeps the poll fd readable");
	while (st.messages - m0 < 200 && calls < 20) {
		cr_expect(session_alive());
		calls++;
		vdev_vhost_user_get_stats(F.vu, &st);
	}
	cr_expect_eq(st.messages - m0, 200, "all served in %d calls", calls);
	cr_expect_eq(st.bad_messages, 0);
	cr_expect_eq(blk_rq(0, 1, 0, 0, 512, true), 0, "and the rings still work");
}

/*
 * A front-end whose completions would be new work: its used ring lies on
 * its avail ring, the used index it left there is one ahead of the ring's
 * base, and its call fd is its kick fd. Served, every publish would make
 * one more buffer available and kick again, for ever (the fuzz smoke hung
 * so). The queue refuses rings that overlap (vdev_vq_start: VDEV_EEXIST),
 * so the ring never starts and the session ends without serving a kick.
 */
Test(vhost_user, ring_whose_used_ring_is_its_avail_ring_is_refused, .init = setup,
     .fini = teardown, .timeout = 60)
{
	struct vdev_vhost_user_stats st;
	struct drv_vq *q = &F.fe.q[0];
	uint64_t ring0 = 0, kicks;

	start(~(F(RING_PACKED) | F(EVENT_IDX)), 1);
	/* a flush: its used length is 1, so the used elements written over
	 * the avail ring would make heads 0 and 1 (in range) */
	cr_expect_eq(blk_rq(0, 1, 4, 0, 0, false), 0);
	int64_t base = vu_front_stop_ring(&F.fe, 0);
	cr_assert_geq(base, 0);
	F.fe.pump = NULL; /* the adapter runs only when the test says */
	sim_put_le16((uint8_t *)q->driver + 2, (uint16_t)(base + 1)); /* the used index */
	uint8_t a[40] = {0};
	uint64_t desc = (uint64_t)(uintptr_t)q->desc, rings = (uint64_t)(uintptr_t)q->driver;
	memcpy(a + 8, &desc, 8);
	memcpy(a + 16, &rings, 8); /* used */
	memcpy(a + 24, &rings, 8); /* avail */
	uint32_t num[2] = {0, (uint32_t)base}, on[2] = {0, 1};
	vdev_vhost_user_get_stats(F.vu, &st);
	kicks = st.kicks;
	cr_assert_eq(vu_front_send(&F.fe, 13, 1, &ring0, 8, &F.fe.kick[0], 1, false, NULL, NULL), 0);
	cr_assert_eq(vu_front_send(&F.fe, 9, 1, a, 40, NULL, 0, false, NULL, NULL), 0);
	cr_assert_eq(vu_front_send(&F.fe, 10, 1, num, 8, NULL, 0, false, NULL, NULL), 0);
	cr_assert_eq(vu_front_send(&F.fe, 12, 1, &ring0, 8, &F.fe.kick[0], 1, false, NULL, NULL), 0);
	cr_assert_eq(vu_front_send(&F.fe, 18, 1, on, 8, NULL, 0, false, NULL, NULL), 0);
	vu_front_kick(&F.fe, 0);
	bool ended = false;
	for (int i = 0; i < 4 && !ended; i++)
		ended = !session_alive();
	cr_expect(ended, "the ring was refused and the session ended");
	vdev_vhost_user_get_stats(F.vu, &st);
	cr_expect_eq(st.kicks, kicks, "no kick of the overlapping ring was served");
	cr_expect_eq(sim_get_le16((uint8_t *)q->driver + 2), (uint16_t)(base + 1),
		     "nothing was published over the avail ring");
}

Test(vhost_user, config_change_reaches_the_front_end, .init = setup, .fini = teardown)
{
	start(~0ull, 1);
	cr_assert_geq(F.fe.backend_chan, 0);
	vdev_blk_set_capacity(&F.blk, 1024);
	struct pollfd p = {F.fe.backend_chan, POLLIN, 0};
	cr_assert_eq(poll(&p, 1, 1000), 1);
	uint32_t hdr[3];
	cr_assert_eq(recv(F.fe.backend_chan, hdr, 12, 0), 12);
	cr_expect_eq(hdr[0], 2, "VHOST_USER_BACKEND_CONFIG_CHANGE_MSG");
}

/* ---- Linux's user-mode front-end (arch/um/drivers/virtio_uml.c, 6.1) ------------------ */

/* A message the way UML sends it once REPLY_ACK is on: NEED_REPLY, then
 * wait for the ack (0). */
static void uml_send(uint32_t req, const void *payload, uint32_t size, const int *fds,
		     unsigned nfds)
{
	uint64_t ack = 9;
	uint32_t len = 8;
	cr_assert_eq(vu_front_send(&F.fe, req, 1 | 8, payload, size, fds, nfds, true, &ack, &len),
		     0, "request %u: %s", req, F.fe.last_error);
	cr_assert_eq(len, 8);
	cr_assert_eq(ack, 0, "request %u refused", req);
}

static void uml_state(uint32_t req, uint32_t index, uint32_t num)
{
	uint32_t st[2] = {index, num};
	uml_send(req, st, 8, NULL, 0);
}

/*
 * UML's whole start sequence, message by message: SET_OWNER first, its own
 * protocol-feature mask (REPLY_ACK, SLAVE_REQ, CONFIG, INBAND_NOTIFICATIONS),
 * a pipe as the back-end channel and as every call fd, a 72-byte
 * SET_MEM_TABLE (room for two regions, one used) whose user address is the
 * guest address and whose file offset skips the kernel image, then per ring
 * CALL/NUM/BASE 0/ADDR, then per ring KICK/ENABLE; UML never sends a device
 * status. Returns the read end of the back-end channel.
 */
static int uml_start(uint64_t want, uint16_t qsize)
{
	const uint64_t reserved = 0x10000; /* UML's text and data: not in the file */
	uint64_t offered = 0, pf = 0;
	uint32_t len = 8;
	int req[2], call[2];

	cr_assert_eq(vu_front_send(&F.fe, 3, 1, NULL, 0, NULL, 0, false, NULL, NULL), 0);
	cr_assert_eq(vu_front_send(&F.fe, 1, 1, NULL, 0, NULL, 0, true, &offered, &len), 0);
	cr_assert(offered & (1ull << 30));
	cr_assert_eq(vu_front_send(&F.fe, 15, 1, NULL, 0, NULL, 0, true, &pf, &len), 0);
	pf &= (1ull << 3) | (1ull << 5) | (1ull << 9) | (1ull << 14);
	cr_assert_eq(pf, (1ull << 3) | (1ull << 5) | (1ull << 9), "no in-band notifications");
	F.fe.protocol_features = pf;
	uml_send(16, &pf, 8, NULL, 0);
	cr_assert_eq(pipe2(req, O_CLOEXEC | O_NONBLOCK), 0);
	uml_send(21, NULL, 0, &req[1], 1);
	close(req[1]);
	uint8_t cfg[12 + 8] = {0};
	uint32_t cfg_size = 8, rlen = sizeof(cfg);
	memcpy(cfg + 4, &cfg_size, 4);
	cr_assert_eq(vu_front_send(&F.fe, 24, 1, cfg, sizeof(cfg), NULL, 0, true, cfg, &rlen), 0);
	cr_expect_eq(rlen, sizeof(cfg));
	cr_expect_eq(cfg[12] | cfg[13] << 8, 2048, "capacity");
	/* the guest's features, and VHOST_USER_F_PROTOCOL_FEATURES back */
	F.fe.features = offered & want & ~(1ull << 30);
	uint64_t f = F.fe.features | (1ull << 30);
	uml_send(2, &f, 8, NULL, 0);
	uint8_t mt[8 + 2 * 32] = {0};
	uint32_t n = 1;
	uint64_t r[4] = {SIM_R0_GPA + reserved, F.m.regions[0].size - reserved,
			 SIM_R0_GPA + reserved, reserved};
	memcpy(mt, &n, 4);
	memcpy(mt + 8, r, 32);
	uml_send(5, mt, sizeof(mt), &F.m.memfd, 1);
	(void)sim_alloc(&F.m, (size_t)reserved, 4096); /* the rings live above it */
	bool packed = (F.fe.features & F(RING_PACKED)) != 0;
	drv_vq_init(&F.fe.q[0], &F.m, qsize, packed, (F.fe.features & F(EVENT_IDX)) != 0,
		    (F.fe.features & F(INDIRECT_DESC)) != 0, 16);
	cr_assert_eq(pipe2(call, O_CLOEXEC | O_NONBLOCK), 0);
	F.fe.call[0] = call[0];
	uint64_t idx = 0;
	uml_send(13, &idx, 8, &call[1], 1);
	close(call[1]);
	uml_state(8, 0, qsize);
	uml_state(10, 0, 0); /* base 0, also for a packed ring */
	uint8_t a[40] = {0};
	uint64_t desc = F.fe.q[0].desc_gpa, used = F.fe.q[0].device_gpa,
		 avail = F.fe.q[0].driver_gpa, log = UINT64_MAX;
	memcpy(a + 8, &desc, 8);
	memcpy(a + 16, &used, 8);
	memcpy(a + 24, &avail, 8);
	memcpy(a + 32, &log, 8);
	uml_send(9, a, 40, NULL, 0);
	F.fe.kick[0] = eventfd(0, EFD_CLOEXEC);
	uml_send(12, &idx, 8, &F.fe.kick[0], 1);
	uml_state(18, 0, 1);
	F.fe.nq = 1;
	return req[0];
}

static void uml_io_and_config_change(uint64_t want)
{
	int chan = uml_start(want, 128);
	for (int i = 0; i < 40; i++)
		cr_expect_eq(blk_rq(0, i % 32, (unsigned)(i & 1), (uint64_t)i, 512, !(i & 1)), 0,
			     "request %d", i);
	/* the back-end channel is a pipe: a config change still gets there */
	vdev_blk_set_capacity(&F.blk, 1024);
	struct pollfd p = {chan, POLLIN, 0};
	cr_assert_eq(poll(&p, 1, 1000), 1, "no config-change message on the pipe");
	uint32_t hdr[3];
	cr_assert_eq(read(chan, hdr, 12), 12);
	cr_expect_eq(hdr[0], 2, "VHOST_USER_BACKEND_CONFIG_CHANGE_MSG");
	close(chan);
	struct vdev_vhost_user_stats st;
	vdev_vhost_user_get_stats(F.vu, &st);
	cr_expect_eq(st.bad_messages, 0);
}

Test(vhost_user, uml_front_end_split_ring, .init = setup, .fini = teardown)
{
	uml_io_and_config_change(~F(RING_PACKED));
}

/* UML sends base 0 for a new packed ring, whose wrap counters start at 1. */
Test(vhost_user, uml_front_end_packed_ring, .init = setup, .fini = teardown)
{
	uml_io_and_config_change(~0ull);
	cr_expect(F.fe.features & F(RING_PACKED));
}

/* Base 0 on a packed ring that has run is the real state "position 0, wrap
 * counters 0" (after one lap): it must not be taken for a new ring. */
Test(vhost_user, packed_base_zero_after_a_lap_is_not_a_new_ring, .init = setup, .fini = teardown)
{
	start(~0ull, 1);
	cr_assert(F.fe.features & F(RING_PACKED));
	for (int i = 0; i < 32; i++) /* 32 flushes of 2 descriptors: one lap of 64 */
		cr_assert_eq(blk_rq(0, i, 4, 0, 0, false), 0);
	cr_assert_eq(vu_front_stop_ring(&F.fe, 0), 0, "position 0, wrap counters 0");
	uint32_t st[2] = {0, 0};
	vu_front_send(&F.fe, 10, 1, st, 8, NULL, 0, false, NULL, NULL);
	int kick = eventfd(0, EFD_NONBLOCK);
	uint64_t v = 0;
	vu_front_send(&F.fe, 12, 1, &v, 8, &kick, 1, false, NULL, NULL);
	close(F.fe.kick[0]);
	F.fe.kick[0] = kick;
	cr_expect(session_alive());
	for (int i = 0; i < 3; i++)
		cr_expect_eq(blk_rq(0, i, 0, 0, 512, true), 0, "served in the second lap");
}

/* ---- malformed messages: the connection closes, the next one works ---------------- */

static void expect_closed_then_recovers(uint32_t req, uint32_t flags, const void *payload,
					uint32_t size, const int *fds, unsigned nfds)
{
	struct vdev_vhost_user_stats st;

	vu_front_send(&F.fe, req, flags, payload, size, fds, nfds, false, NULL, NULL);
	cr_expect_not(session_alive(), "request %u should have closed the session", req);
	vdev_vhost_user_get_stats(F.vu, &st);
	cr_expect_geq(st.bad_messages, 1);
	cr_expect_neq(F.log[0], 0, "the reason is logged");
	/* a fresh session works */
	vu_front_close(&F.fe);
	sim_mem_reset_alloc(&F.m);
	new_session();
	start(~0ull, 1);
	cr_expect_eq(blk_rq(0, 1, 0, 0, 512, true), 0, "served in the next session");
}

Test(vhost_user, bad_sizes, .init = setup, .fini = teardown)
{
	uint8_t junk[64] = {0};
	expect_closed_then_recovers(2, 1, junk, 4, NULL, 0); /* SET_FEATURES, 4 bytes */
}

Test(vhost_user, bad_version, .init = setup, .fini = teardown)
{
	expect_closed_then_recovers(1, 2, NULL, 0, NULL, 0);
}

Test(vhost_user, oversized_payload, .init = setup, .fini = teardown)
{
	static uint8_t big[8192];
	expect_closed_then_recovers(24, 1, big, sizeof(big), NULL, 0);
}

Test(vhost_user, ring_index_out_of_range, .init = setup, .fini = teardown)
{
	uint32_t st[2] = {7, 64};
	expect_closed_then_recovers(8, 1, st, 8, NULL, 0);
}

Test(vhost_user, ring_size_above_max, .init = setup, .fini = teardown)
{
	uint32_t st[2] = {0, 4096};
	expect_closed_then_recovers(8, 1, st, 8, NULL, 0);
}

Test(vhost_user, unoffered_features, .init = setup, .fini = teardown)
{
	uint64_t f = 1ull << 26; /* VHOST_F_LOG_ALL: not offered */
	expect_closed_then_recovers(2, 1, &f, 8, NULL, 0);
}

Test(vhost_user, unknown_request, .init = setup, .fini = teardown)
{
	expect_closed_then_recovers(999, 1, NULL, 0, NULL, 0);
}

Test(vhost_user, device_request_takes_its_fd, .init = setup, .fini = teardown)
{
	int sv[2];
	uint64_t ack = 9;
	uint32_t len = 8;

	start(~0ull, 1);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	/* GPU_SET_SOCKET with need_reply: the callback keeps the fd, REPLY_ACK says 0 */
	cr_assert_eq(vu_front_send(&F.fe, 33, 1 | 8, NULL, 0, &sv[1], 1, true, &ack, &len), 0);
	close(sv[1]);
	cr_expect_eq(ack, 0);
	cr_expect_eq(F.dev_requests, 1);
	cr_expect_eq(F.dev_request, 33);
	cr_expect(session_alive());
	cr_assert_geq(F.dev_fd, 0, "the callback owns the fd");
	/* it is the very socket we sent: bytes go through */
	cr_assert_eq(write(F.dev_fd, "gpu", 3), 3);
	char got[4] = {0};
	cr_expect_eq(read(sv[0], got, 3), 3);
	cr_expect_str_eq(got, "gpu");
	close(sv[0]);
	cr_expect_eq(blk_rq(0, 1, 0, 0, 512, true), 0, "the device still works");
}

Test(vhost_user, device_request_refused_closes_the_session, .init = setup, .fini = teardown)
{
	int fd = eventfd(0, EFD_CLOEXEC);
	uint8_t junk[20] = {1};

	/* the callback refuses (wrong fd count): a bad message; its fd is closed */
	expect_closed_then_recovers(33, 1, junk, sizeof(junk), NULL, 0);
	cr_expect_eq(F.dev_size, sizeof(junk), "the payload reached the callback");
	expect_closed_then_recovers(40, 1, NULL, 0, &fd, 1);
	close(fd);
	cr_expect_eq(F.dev_fd, -1, "no fd kept from refused requests");
	cr_expect_geq(F.dev_requests, 2);
}

Test(vhost_user, kick_without_fd_count_match, .init = setup, .fini = teardown)
{
	uint64_t v = 0; /* index 0, fd expected but none sent */
	expect_closed_then_recovers(12, 1, &v, 8, NULL, 0);
}

Test(vhost_user, mem_table_region_larger_than_its_file, .init = setup, .fini = teardown)
{
	uint8_t mt[8 + 32] = {0};
	uint32_t n = 1;
	uint64_t r[4] = {0x10000, F.m.memfd_len * 4, 0x7f0000000000ull, 0};
	memcpy(mt, &n, 4);
	memcpy(mt + 8, r, 32);
	expect_closed_then_recovers(5, 1, mt, sizeof(mt), &F.m.memfd, 1);
}

Test(vhost_user, mem_table_wrapping_or_fd_count_mismatch, .init = setup, .fini = teardown)
{
	uint8_t mt[8 + 32] = {0};
	uint32_t n = 1;
	uint64_t r[4] = {UINT64_MAX - 10, 4096, 0x7f0000000000ull, 0};
	memcpy(mt, &n, 4);
	memcpy(mt + 8, r, 32);
	expect_closed_then_recovers(5, 1, mt, sizeof(mt), &F.m.memfd, 1);
}

Test(vhost_user, mem_table_overlapping_regions, .init = setup, .fini = teardown)
{
	uint8_t mt[8 + 64] = {0};
	uint32_t n = 2;
	uint64_t r0[4] = {0x10000, 8192, 0x7f0000000000ull, 0};
	uint64_t r1[4] = {0x11000, 8192, 0x7f0000100000ull, 0};
	int fds[2] = {F.m.memfd, F.m.memfd};
	memcpy(mt, &n, 4);
	memcpy(mt + 8, r0, 32);
	memcpy(mt + 40, r1, 32);
	expect_closed_then_recovers(5, 1, mt, sizeof(mt), fds, 2);
}

/* Two regions at different guest addresses on the same bytes of one file:
 * one memory at two host addresses, which the queues' ring checks could
 * not see (a used ring over an avail ring through the alias). Refused. */
Test(vhost_user, mem_table_regions_sharing_bytes_of_one_file, .init = setup, .fini = teardown)
{
	uint8_t mt[8 + 64] = {0};
	uint32_t n = 2;
	uint64_t r0[4] = {0x10000, 8192, 0x7f0000000000ull, 0};
	uint64_t r1[4] = {0x100000, 8192, 0x7f0000100000ull, 4096};
	int fds[2] = {F.m.memfd, F.m.memfd};
	memcpy(mt, &n, 4);
	memcpy(mt + 8, r0, 32);
	memcpy(mt + 40, r1, 32);
	expect_closed_then_recovers(5, 1, mt, sizeof(mt), fds, 2);
	cr_expect(strstr(F.log, "share bytes of one file") != NULL, "log: %s", F.log);
}

Test(vhost_user, ring_address_outside_memory, .init = setup, .fini = teardown)
{
	start(~0ull, 1);
	cr_expect(session_alive());
	/* stop the ring, then point it nowhere and kick it back to life */
	vu_front_stop_ring(&F.fe, 0);
	uint8_t a[40] = {0};
	uint64_t bogus = 0x1234;
	memcpy(a + 8, &bogus, 8);
	memcpy(a + 16, &bogus, 8);
	memcpy(a + 24, &bogus, 8);
	vu_front_send(&F.fe, 9, 1, a, 40, NULL, 0, false, NULL, NULL);
	int kick = eventfd(0, EFD_NONBLOCK);
	uint64_t v = 0;
	expect_closed_then_recovers(12, 1, &v, 8, &kick, 1);
	close(kick);
}

/* ---- threads: a real listening socket and one thread per ring --------------------------- */

static void *run_thread(void *vu)
{
	vdev_vhost_user_run(vu);
	return NULL;
}

Test(vhost_user, thread_per_queue_over_a_socket_path)
{
	char path[] = "/tmp/vdev-vu-test-XXXXXX";
	int tmp = mkstemp(path);
	close(tmp);
	unlink(path);
	setup_n(2);
	vu_front_close(&F.fe);
	vdev_vhost_user_destroy(F.vu);
	struct vdev_vhost_user_config vc = {
		.socket_path = path, .listen_fd = -1, .dev = vdev_blk_dev(&F.blk), .mem = &F.mem,
		.thread_per_queue = true, .log = on_log,
	};
	int err;
	char eb[128];
	F.vu = vdev_vhost_user_create(&vc, &err, eb, sizeof(eb));
	cr_assert_not_null(F.vu, "%s", eb);
	pthread_t th;
	pthread_create(&th, NULL, run_thread, F.vu);
	cr_assert_eq(vu_front_connect(&F.fe, path, 2000), 0, "%s", F.fe.last_error);
	start(~0ull, 2);
	for (int i = 0; i < 50; i++)
		cr_expect_eq(blk_rq((unsigned)i % 2, i % 32, (unsigned)(i & 1), (uint64_t)i, 512,
				    !(i & 1)), 0);
	vu_front_close(&F.fe);
	vdev_vhost_user_stop(F.vu);
	pthread_join(th, NULL);
	vdev_vhost_user_destroy(F.vu);
	F.vu = NULL;
	ram_blk_destroy(&F.ram);
	sim_mem_destroy(&F.m);
}
