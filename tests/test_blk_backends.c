/* SPDX-License-Identifier: MIT */
/*
 * The POSIX block backends (file / block device, io_uring) behind the
 * virtio-blk model, driven by the driver simulator through virtio-mmio,
 * on temporary files.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk_file.h"
#include "drv_mmio.h"
#include "drvsim.h"
#include "sim_le.h"
#include "vdev/blk.h"
#include "vdev/mmio.h"
#ifdef VDEV_HAVE_LIBURING
#include "blk_uring.h"
#endif

#define F(b) VDEV_BIT(VDEV_F_##b)
#define B(b) VDEV_BIT(VDEV_BLK_F_##b)
#define DISK (1u << 20)
#define NREQ 32

static struct {
	char path[64];
	struct file_blk file;
#ifdef VDEV_HAVE_LIBURING
	struct uring_blk uring;
#endif
	bool use_uring;
	struct sim_mem m;
	struct vdev_blk blk;
	struct vdev_vq queue[1];
	uint64_t queue_held[VDEV_VQ_HELD_WORDS(128)];
	struct vdev_blk_req reqs[NREQ];
	struct vdev_iov iovs[NREQ * 20];
	struct vdev_blk_range ranges[NREQ * 4];
	struct vdev_mmio mmio;
	struct drv_mmio dm;
	struct drv_transport tr;
	struct drv_vq q;
	uint64_t arena;
} F;

static int tok[64];

static void make_file(size_t size)
{
	strcpy(F.path, "/tmp/vdev-blk-test-XXXXXX");
	int fd = mkstemp(F.path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

static void bring_up(const struct vdev_blk_backend_ops *ops, void *opaque, bool read_only,
		     uint64_t drop)
{
	sim_mem_init(&F.m, 4u << 20, true);
	struct vdev_blk_config c = {
		.capacity = DISK / 512,
		.read_only = read_only,
		.num_queues = 1,
		.queue_size = 128,
		.seg_max = 16,
		.max_discard_seg = 4,
		.max_write_zeroes_seg = 4,
		.write_zeroes_may_unmap = true,
		.mem = &F.m.mem,
		.queues = F.queue,
		.queue_held = F.queue_held,
		.reqs = F.reqs,
		.num_reqs = NREQ,
		.iovs = F.iovs,
		.iov_per_req = 20,
		.ranges = F.ranges,
		.backend = ops,
		.backend_opaque = opaque,
	};
	cr_assert_eq(vdev_blk_init(&F.blk, &c), 0);
	cr_assert_eq(drv_mmio_attach(&F.dm, &F.mmio, vdev_blk_dev(&F.blk), &F.tr), 0);
	uint64_t neg;
	cr_assert_eq(drv_virtio_negotiate(&F.tr, ~F(RING_PACKED) & ~drop, &neg), 0);
	cr_assert_eq(drv_virtio_setup_queue(&F.tr, &F.q, &F.m, 0, 128, neg), 0);
	cr_assert_eq(drv_virtio_driver_ok(&F.tr), 0x0f);
	F.arena = sim_alloc(&F.m, 64u * 16384u, 4096);
}

static void file_setup(void)
{
	char err[256];
	make_file(DISK);
	cr_assert_eq(file_blk_open(&F.file, F.path, false, err, sizeof(err)), 0, "%s", err);
	bring_up(&F.file.ops, &F.file, false, 0);
}

static void teardown(void)
{
	if (F.file.fd > 0)
		file_blk_close(&F.file);
#ifdef VDEV_HAVE_LIBURING
	if (F.use_uring)
		uring_blk_close(&F.uring);
#endif
	unlink(F.path);
}

static uint64_t hdr(int t) { return F.arena + (uint64_t)t * 16384u; }
static uint8_t *data(int t) { return sim_ptr(&F.m, hdr(t) + 4096); }
static uint8_t status(int t) { return *(uint8_t *)sim_ptr(&F.m, hdr(t) + 64); }

static void queue(int t, uint32_t type, uint64_t sector, uint32_t len, bool din)
{
	uint8_t *h = sim_ptr(&F.m, hdr(t));
	memset(h, 0, 16);
	h[0] = (uint8_t)type;
	sim_put_le64(h + 8, sector);
	*(uint8_t *)sim_ptr(&F.m, hdr(t) + 64) = 0xee;
	struct drv_buf b[3] = {{hdr(t), 16, false}, {hdr(t) + 4096, len, din}, {hdr(t) + 64, 1, true}};
	unsigned n = 3;
	if (len == 0) {
		b[1] = b[2];
		n = 2;
	}
	cr_assert_eq(drv_add(&F.q, b, n, false, &tok[t]), 0);
}

/* Kick, let the backend finish, and collect `n` completions. */
static void run(unsigned n)
{
	unsigned got = 0;
	uint32_t len;

	F.tr.ops->notify(F.tr.t, 0, false, 0);
	for (int spins = 0; got < n && spins < 1000; spins++) {
#ifdef VDEV_HAVE_LIBURING
		if (F.use_uring) {
			uring_blk_submit(&F.uring);
			uring_blk_reap(&F.uring, true);
		}
#endif
		while (drv_get_used(&F.q, &len) != NULL)
			got++;
	}
	cr_assert_eq(got, n, "completions");
	cr_assert_eq(F.q.errors, 0, "%s", F.q.last_error);
}

static int one(int t, uint32_t type, uint64_t sector, uint32_t len, bool din)
{
	queue(t, type, sector, len, din);
	run(1);
	return status(t);
}

static uint32_t seg(int t, unsigned i, uint64_t sector, uint32_t count, uint32_t flags)
{
	uint8_t *d = data(t) + 16 * i;
	sim_put_le64(d, sector);
	sim_put_le32(d + 8, count);
	sim_put_le32(d + 12, flags);
	return 16 * (i + 1);
}

static void read_file(uint64_t off, void *buf, size_t len)
{
	int fd = open(F.path, O_RDONLY);
	cr_assert_eq(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void common_ops(void)
{
	uint8_t back[8192];

	for (int i = 0; i < 8192; i++)
		data(1)[i] = (uint8_t)(i * 13 + 1);
	cr_expect_eq(one(1, 1, 16, 8192, false), 0, "write");
	read_file(16 * 512, back, 8192);
	cr_expect_eq(memcmp(back, data(1), 8192), 0, "on the file");
	memset(data(2), 0, 8192);
	cr_expect_eq(one(2, 0, 16, 8192, true), 0, "read");
	cr_expect_eq(memcmp(data(2), data(1), 8192), 0);
	cr_expect_eq(one(3, 4, 0, 0, false), 0, "flush");
	/* discard 4 KiB and write-zeroes (with and without unmap) */
	uint32_t n = seg(4, 0, 16, 8, 0);
	cr_expect_eq(one(4, 11, 0, n, false), 0, "discard");
	n = seg(5, 0, 24, 4, 0);
	n = seg(5, 1, 28, 4, 1);
	cr_expect_eq(one(5, 13, 0, n, false), 0, "write zeroes");
	read_file(16 * 512, back, 8192);
	for (int i = 0; i < 8192; i++)
		cr_assert_eq(back[i], 0, "byte %d of the discarded/zeroed ranges", i);
}

Test(blk_file, read_write_flush_discard_write_zeroes, .init = file_setup, .fini = teardown)
{
	uint64_t offered = vdev_dev_offered_features(vdev_blk_dev(&F.blk));
	cr_expect(offered & B(FLUSH));
	cr_expect(offered & B(DISCARD), "/tmp supports punching holes");
	cr_expect(offered & B(WRITE_ZEROES));
	common_ops();
}

Test(blk_file, write_through_uses_durable_writes, .init = file_setup, .fini = teardown)
{
	/* CONFIG_WCE negotiated, writeback 0: every write goes out durable
	 * (RWF_DSYNC or a data sync); it must still land. */
	cr_expect_not(vdev_blk_writeback(&F.blk));
	memset(data(1), 0x3c, 512);
	cr_expect_eq(one(1, 1, 0, 512, false), 0);
	uint8_t b[512];
	read_file(0, b, 512);
	cr_expect_eq(b[511], 0x3c);
}

Test(blk_file, read_only_file, .fini = teardown)
{
	char err[256];
	make_file(DISK);
	cr_assert_eq(file_blk_open(&F.file, F.path, true, err, sizeof(err)), 0, "%s", err);
	cr_expect_null(F.file.ops.write);
	cr_expect_null(F.file.ops.discard);
	bring_up(&F.file.ops, &F.file, true, 0);
	cr_expect(vdev_dev_offered_features(vdev_blk_dev(&F.blk)) & B(RO));
	memset(data(1), 0x11, 512);
	cr_expect_eq(one(1, 1, 0, 512, false), 1, "IOERR");
	uint8_t b[512];
	read_file(0, b, 512);
	cr_expect_eq(b[0], 0, "file untouched");
	cr_expect_eq(one(2, 0, 0, 512, true), 0, "reads work");
}

Test(blk_file, clear_errors_for_bad_paths)
{
	char err[256] = "";
	struct file_blk f;

	cr_expect_lt(file_blk_open(&f, "/nonexistent/disk.img", false, err, sizeof(err)), 0);
	cr_expect(strstr(err, "/nonexistent/disk.img") != NULL, "message names the path: %s", err);
	cr_expect_lt(file_blk_open(&f, "/tmp", false, err, sizeof(err)), 0, "a directory");
	cr_expect(strstr(err, "/tmp") != NULL, "%s", err);
	make_file(1000);
	cr_expect_eq(file_blk_open(&f, F.path, false, err, sizeof(err)), VDEV_EINVAL);
	cr_expect(strstr(err, "multiple of 512") != NULL, "%s", err);
	unlink(F.path);
}

#ifdef VDEV_HAVE_LIBURING
static void uring_setup(void)
{
	char err[256];
	make_file(DISK);
	int rc = uring_blk_open(&F.uring, F.path, false, 64, err, sizeof(err));
	if (rc < 0) {
		cr_skip_test("io_uring unavailable here: %s", err);
	}
	F.use_uring = true;
	F.uring.blk = &F.blk;
	F.uring.queue = 0;
	bring_up(&F.uring.ops, &F.uring, false, 0);
}

Test(blk_uring, read_write_flush_discard_write_zeroes, .init = uring_setup, .fini = teardown)
{
	common_ops();
}

Test(blk_uring, many_requests_in_flight, .init = uring_setup, .fini = teardown)
{
	for (int t = 0; t < 32; t++) {
		memset(data(t), t + 1, 4096);
		queue(t, 1, (uint64_t)t * 8, 4096, false);
	}
	F.tr.ops->notify(F.tr.t, 0, false, 0);
	cr_expect_eq(vdev_blk_inflight(&F.blk), 32, "all accepted asynchronously");
	cr_expect_eq(F.uring.queued, 0, "the commit op submitted the whole pass");
	run(32);
	for (int t = 0; t < 32; t++)
		cr_expect_eq(status(t), 0);
	uint8_t b[4096];
	for (int t = 0; t < 32; t++) {
		read_file((uint64_t)t * 4096, b, 4096);
		cr_expect_eq(b[100], t + 1);
	}
	/* and read them back through the ring */
	for (int t = 0; t < 32; t++)
		queue(t, 0, (uint64_t)(31 - t) * 8, 4096, true);
	run(32);
	for (int t = 0; t < 32; t++)
		cr_expect_eq(data(t)[7], 31 - t + 1);
}
#endif
