/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk device model, driven through the virtio-mmio transport by the
 * driver simulator, over a RAM backend (synchronous or asynchronous).
 * Requests are laid out across descriptors in several ways; every request
 * type and every malformed case the spec names is covered, plus a long
 * model-based integrity run against a shadow disk.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "blk_ram.h"
#include "drv_mmio.h"
#include "drvsim.h"
#include "vdev/blk.h"
#include "vdev/mmio.h"

#define F(b) VDEV_BIT(VDEV_F_##b)
#define B(b) VDEV_BIT(VDEV_BLK_F_##b)

#define T_IN 0u
#define T_OUT 1u
#define T_FLUSH 4u
#define T_GET_ID 8u
#define T_GET_LIFETIME 10u
#define T_DISCARD 11u
#define T_WRITE_ZEROES 13u
#define T_SECURE_ERASE 14u
#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2
#define NO_STATUS 0xee /* what the status byte holds if nobody wrote it */

#define DISK_SECTORS 2048u /* 1 MiB */
#define NREQ 64
#define IOV_PER_REQ 40
#define RANGES_PER_REQ 8

static struct {
	struct sim_mem m;
	struct ram_blk ram;
	struct vdev_blk blk;
	struct vdev_vq queues[2];
	uint64_t queue_held[2 * VDEV_VQ_HELD_WORDS(VDEV_VQ_MAX_SIZE)];
	struct vdev_blk_req reqs[NREQ];
	struct vdev_iov iovs[NREQ * IOV_PER_REQ];
	struct vdev_blk_range ranges[NREQ * RANGES_PER_REQ];
	struct vdev_mmio mmio;
	struct drv_mmio dm;
	struct drv_transport tr;
	struct drv_vq q[2];
	uint64_t neg;
	uint64_t arena; /* guest memory for requests: one 32 KiB slot per token */
} F;

struct opts {
	bool async, read_only, packed, lifetime, writeback;
	unsigned num_reqs, num_queues, queue_size;
	uint64_t features;    /* device features; 0 = default */
	uint64_t drop;        /* features the driver declines */
	uint32_t seg_max;
	uint64_t ring_features; /* 0: the device's default */
	const struct vdev_blk_backend_ops *ops; /* NULL: the RAM disk */
};

static void setup_with(struct opts o)
{
	sim_mem_init(&F.m, 4u << 20, false);
	cr_assert_eq(ram_blk_init(&F.ram, (uint64_t)DISK_SECTORS * 512, NREQ), 0);
	F.ram.async = o.async;
	F.ram.blk = &F.blk;
	F.ram.with_lifetime = o.lifetime;
	struct vdev_blk_config c = {
		.capacity = DISK_SECTORS,
		.features = o.features,
		.read_only = o.read_only,
		.writeback = o.writeback,
		.num_queues = (uint16_t)(o.num_queues ? o.num_queues : 1),
		.queue_size = o.queue_size ? o.queue_size : 64,
		.seg_max = o.seg_max ? o.seg_max : 32,
		.blk_size = 4096,
		.physical_block_exp = 3,
		.min_io_size = 8,
		.opt_io_size = 64,
		.max_discard_sectors = 512,
		.max_discard_seg = 4,
		.discard_sector_alignment = 8,
		.max_write_zeroes_sectors = 1024,
		.max_write_zeroes_seg = 4,
		.write_zeroes_may_unmap = true,
		.max_secure_erase_sectors = 256,
		.max_secure_erase_seg = 2,
		.serial = "vdev-test-disk-0001",
		.mem = &F.m.mem,
		.queues = F.queues,
		.queue_held = F.queue_held,
		.reqs = F.reqs,
		.num_reqs = o.num_reqs ? o.num_reqs : NREQ,
		.iovs = F.iovs,
		.iov_per_req = IOV_PER_REQ,
		.ranges = F.ranges,
		.backend = o.ops ? o.ops : o.lifetime ? &ram_blk_ops_lifetime : &ram_blk_ops,
		.ring_features = o.ring_features,
		.backend_opaque = &F.ram,
	};
	cr_assert_eq(vdev_blk_init(&F.blk, &c), 0);
	cr_assert_eq(drv_mmio_attach(&F.dm, &F.mmio, vdev_blk_dev(&F.blk), &F.tr), 0);
	uint64_t want = ~(uint64_t)0 & ~o.drop;
	if (!o.packed)
		want &= ~F(RING_PACKED);
	cr_assert_eq(drv_virtio_negotiate(&F.tr, want, &F.neg), 0);
	for (unsigned i = 0; i < c.num_queues; i++)
		cr_assert_eq(drv_virtio_setup_queue(&F.tr, &F.q[i], &F.m, (uint16_t)i, 0, F.neg), 0);
	cr_assert_eq(drv_virtio_driver_ok(&F.tr), 0x0f);
	F.arena = sim_alloc(&F.m, 64u * 32768u, 4096);
}

static void setup(void) { setup_with((struct opts){0}); }

/* Guest memory of token t (0..63): header at +0, status at +32, data at
 * +4096 (up to 16 KiB + 1). */
static uint64_t hdr_gpa(int t) { return F.arena + (uint64_t)t * 32768u; }
static uint64_t st_gpa(int t) { return hdr_gpa(t) + 32; }
static uint8_t *data_of(int t) { return sim_ptr(&F.m, hdr_gpa(t) + 4096); }
static int tok[64];

enum layout { L_PLAIN, L_SPLIT, L_MERGED, L_INDIRECT, L_TINY };

/*
 * Queue a request of token t on queue q. `dlen` bytes of data at
 * data_of(t), device-writable if `din`. Layouts: PLAIN hdr|data|status;
 * SPLIT the header in two descriptors and the data in 512-byte pieces;
 * MERGED header and data in one descriptor (OUT) or data and status in one
 * (IN); INDIRECT as PLAIN in an indirect table; TINY every header byte
 * its own descriptor.
 */
static void queue_req(unsigned q, int t, uint32_t type, uint64_t sector, uint32_t dlen, bool din,
		      enum layout L)
{
	struct drv_buf b[40];
	unsigned n = 0;
	uint8_t *h = sim_ptr(&F.m, hdr_gpa(t));
	uint64_t hg = hdr_gpa(t), dg = hdr_gpa(t) + 4096, sg = st_gpa(t);

	memset(h, 0, 16);
	h[0] = (uint8_t)type;
	for (int i = 0; i < 8; i++)
		h[8 + i] = (uint8_t)(sector >> (8 * i));
	*(uint8_t *)sim_ptr(&F.m, sg) = NO_STATUS;
	if (L == L_MERGED && !din && dlen > 0) {
		/* header then data contiguous: copy header just before the data */
		memcpy(data_of(t) - 16, h, 16);
		b[n++] = (struct drv_buf){dg - 16, 16 + dlen, false};
		b[n++] = (struct drv_buf){sg, 1, true};
	} else if (L == L_MERGED && din) {
		b[n++] = (struct drv_buf){hg, 16, false};
		*(data_of(t) + dlen) = NO_STATUS;
		b[n++] = (struct drv_buf){dg, dlen + 1, true}; /* status = last byte */
	} else {
		if (L == L_SPLIT) {
			b[n++] = (struct drv_buf){hg, 8, false};
			b[n++] = (struct drv_buf){hg + 8, 8, false};
		} else if (L == L_TINY) {
			for (unsigned i = 0; i < 16; i++)
				b[n++] = (struct drv_buf){hg + i, 1, false};
		} else {
			b[n++] = (struct drv_buf){hg, 16, false};
		}
		for (uint32_t off = 0; off < dlen;) {
			uint32_t piece = L == L_SPLIT ? 512 : dlen;
			if (piece > dlen - off)
				piece = dlen - off;
			b[n++] = (struct drv_buf){dg + off, piece, din};
			off += piece;
		}
		b[n++] = (struct drv_buf){sg, 1, true};
	}
	cr_assert_eq(drv_add(&F.q[q], b, n, L == L_INDIRECT, &tok[t]), 0, "queue full");
}

static void kick(unsigned q)
{
	if (drv_kick_prepare(&F.q[q]))
		F.tr.ops->notify(F.tr.t, (uint16_t)q, false, 0);
}

/* Reap token t's completion; returns its status byte, used length in *len. */
static int reap(unsigned q, int t, uint32_t *len, enum layout L, uint32_t dlen)
{
	uint32_t l = 0;
	void *got = drv_get_used(&F.q[q], &l);

	cr_assert_eq(got, &tok[t], "expected token %d to complete", t);
	cr_assert_eq(F.q[q].errors, 0, "%s", F.q[q].last_error);
	if (len)
		*len = l;
	if (L == L_MERGED && dlen > 0 && l > 0)
		return *(data_of(t) + dlen); /* in-data status for IN; harmless otherwise */
	return *(uint8_t *)sim_ptr(&F.m, st_gpa(t));
}

/* One synchronous request: queue, kick, reap. */
static int rq(int t, uint32_t type, uint64_t sector, uint32_t dlen, bool din, enum layout L,
	      uint32_t *len)
{
	queue_req(0, t, type, sector, dlen, din, L);
	kick(0);
	int st;
	uint32_t l;
	if (L == L_MERGED && din) {
		st = reap(0, t, &l, L, dlen);
	} else {
		st = reap(0, t, &l, L_PLAIN, 0);
	}
	if (len)
		*len = l;
	return st;
}

static uint8_t dwz_seg[16 * 16];
/* Build discard/write-zeroes segments in token t's data area. */
static uint32_t segs(int t, unsigned n, const uint64_t *sector, const uint32_t *count,
		     const uint32_t *flags)
{
	uint8_t *d = data_of(t);
	for (unsigned i = 0; i < n; i++) {
		for (unsigned k = 0; k < 8; k++)
			d[16 * i + k] = (uint8_t)(sector[i] >> (8 * k));
		for (unsigned k = 0; k < 4; k++) {
			d[16 * i + 8 + k] = (uint8_t)(count[i] >> (8 * k));
			d[16 * i + 12 + k] = (uint8_t)((flags ? flags[i] : 0) >> (8 * k));
		}
	}
	(void)dwz_seg;
	return 16 * n;
}

static void fill(uint8_t *p, uint32_t len, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* ---- configuration and features -------------------------------------------- */

Test(blk, offers_what_the_backend_supports, .init = setup)
{
	uint64_t f = vdev_dev_offered_features(vdev_blk_dev(&F.blk));
	uint64_t must = B(FLUSH) | B(CONFIG_WCE) | B(DISCARD) | B(WRITE_ZEROES) | B(SEG_MAX) |
			B(BLK_SIZE) | B(TOPOLOGY) | B(SECURE_ERASE) | F(VERSION_1) | F(EVENT_IDX) |
			F(INDIRECT_DESC) | F(RING_PACKED) | F(RING_RESET);
	cr_expect_eq(f & must, must, "offered %llx", (unsigned long long)f);
	cr_expect_not(f & B(RO));
	cr_expect_not(f & B(MQ));
	cr_expect_not(f & B(LIFETIME), "the plain RAM backend has no lifetime op");
	cr_expect_not(f & B(GEOMETRY));
	cr_expect_eq(F.neg & must, must & ~F(RING_PACKED));
}

Test(blk, config_space_layout, .init = setup)
{
	uint8_t c[VDEV_BLK_CONFIG_SIZE];

	cr_assert_eq(drv_virtio_config_read(&F.tr, 0, c, sizeof(c)), 0);
	cr_expect_eq(c[0] | c[1] << 8, DISK_SECTORS, "capacity");
	cr_expect_eq(c[12], 32, "seg_max");
	cr_expect_eq(c[20] | c[21] << 8, 4096, "blk_size");
	cr_expect_eq(c[24], 3, "physical_block_exp");
	cr_expect_eq(c[26], 8, "min_io_size");
	cr_expect_eq(c[28], 64, "opt_io_size");
	cr_expect_eq(c[32], 0, "writeback default off");
	cr_expect_eq(c[33], 0, "unused0");
	cr_expect_eq(c[36] | c[37] << 8, 512, "max_discard_sectors");
	cr_expect_eq(c[40], 4, "max_discard_seg");
	cr_expect_eq(c[44], 8, "discard_sector_alignment");
	cr_expect_eq(c[48] | c[49] << 8, 1024, "max_write_zeroes_sectors");
	cr_expect_eq(c[52], 4, "max_write_zeroes_seg");
	cr_expect_eq(c[56], 1, "write_zeroes_may_unmap");
	cr_expect_eq(c[57] | c[58] | c[59], 0, "unused1");
	cr_expect_eq(c[60], 0, "max_secure_erase_sectors");
	cr_expect_eq(c[61], 1);
	cr_expect_eq(c[64], 2, "max_secure_erase_seg");
}

Test(blk, read_only_offers_no_writes)
{
	setup_with((struct opts){.read_only = true});
	uint64_t f = vdev_dev_offered_features(vdev_blk_dev(&F.blk));
	cr_expect(f & B(RO));
	cr_expect_not(f & (B(DISCARD) | B(WRITE_ZEROES) | B(SECURE_ERASE)));
	fill(data_of(1), 512, 1);
	cr_expect_eq(rq(1, T_OUT, 0, 512, false, L_PLAIN, NULL), S_IOERR);
	cr_expect_eq(F.ram.writes, 0, "no data written (spec)");
	cr_expect_eq(F.ram.data[0], 0);
	cr_expect_eq(rq(2, T_IN, 0, 512, true, L_PLAIN, NULL), S_OK, "reads still work");
}

Test(blk, init_rejects_bad_configurations)
{
	struct vdev_blk b;
	struct vdev_vq q[1];
	uint64_t held[VDEV_VQ_HELD_WORDS(8)];
	struct vdev_blk_req r[1];
	struct vdev_iov v[8];
	struct vdev_blk_range g[1];
	struct vdev_mem mem;
	struct ram_blk ram = {0};
	struct vdev_blk_backend_ops noread = {.size = sizeof(noread)};
	struct vdev_blk_backend_ops rdonly = {.size = sizeof(rdonly), .read = ram_blk_ops.read};
	cr_assert_eq(vdev_mem_init(&mem, NULL, 0), 0);
	struct vdev_blk_config c = {
		.capacity = 8, .num_queues = 1, .queue_size = 8, .seg_max = 4, .mem = &mem,
		.queues = q, .queue_held = held, .reqs = r, .num_reqs = 1, .iovs = v, .iov_per_req = 6, .ranges = g,
		.backend = &ram_blk_ops, .backend_opaque = &ram,
	};
	cr_expect_eq(vdev_blk_init(&b, &c), 0);
	c.iov_per_req = 5;
	cr_expect_eq(vdev_blk_init(&b, &c), VDEV_EINVAL, "iov_per_req < seg_max + 2");
	c.iov_per_req = 6;
	c.ranges = NULL;
	cr_expect_eq(vdev_blk_init(&b, &c), VDEV_EINVAL, "discard offered without ranges");
	c.ranges = g;
	c.backend = &noread;
	cr_expect_eq(vdev_blk_init(&b, &c), VDEV_EINVAL);
	c.backend = &rdonly;
	cr_expect_eq(vdev_blk_init(&b, &c), VDEV_EINVAL, "no write op, not read-only");
	c.read_only = true;
	cr_expect_eq(vdev_blk_init(&b, &c), 0);
	c.backend = &ram_blk_ops;
	c.read_only = false;
	c.features = B(LIFETIME);
	cr_expect_eq(vdev_blk_init(&b, &c), VDEV_EINVAL, "backend cannot do lifetime");
	c.features = B(CONFIG_WCE);
	cr_expect_eq(vdev_blk_init(&b, &c), VDEV_EINVAL, "CONFIG_WCE without FLUSH");
	c.features = 0;
	c.capacity = UINT64_MAX;
	cr_expect_eq(vdev_blk_init(&b, &c), VDEV_EINVAL);
	c.capacity = 8;
	c.num_queues = 0;
	cr_expect_eq(vdev_blk_init(&b, &c), VDEV_EINVAL);
	c.num_queues = 1;
	c.seg_max = 0;
	cr_expect_eq(vdev_blk_init(&b, &c), VDEV_EINVAL);
	c.seg_max = 4;
	c.queue_held = NULL;
	cr_expect_eq(vdev_blk_init(&b, &c), VDEV_EINVAL, "no held-buffer bitmap");
}

/* ---- reads and writes ------------------------------------------------------------ */

static void roundtrip(enum layout L)
{
	uint32_t len;

	fill(data_of(1), 4096, 0x11);
	cr_assert_eq(rq(1, T_OUT, 100, 4096, false, L, &len), S_OK);
	cr_expect_eq(len, 1, "a write reports only the status byte");
	cr_expect_eq(memcmp(F.ram.data + 100 * 512, data_of(1), 4096), 0);
	memset(data_of(2), 0, 4097);
	cr_assert_eq(rq(2, T_IN, 100, 4096, true, L, &len), S_OK);
	cr_expect_eq(len, 4097, "read: data plus status");
	cr_expect_eq(memcmp(data_of(2), F.ram.data + 100 * 512, 4096), 0);
}

Test(blk, roundtrip_plain, .init = setup) { roundtrip(L_PLAIN); }
Test(blk, roundtrip_split_descriptors, .init = setup) { roundtrip(L_SPLIT); }
Test(blk, roundtrip_merged_descriptors, .init = setup) { roundtrip(L_MERGED); }
Test(blk, roundtrip_indirect, .init = setup) { roundtrip(L_INDIRECT); }
Test(blk, roundtrip_byte_sized_header_pieces, .init = setup) { roundtrip(L_TINY); }

Test(blk, roundtrip_packed)
{
	setup_with((struct opts){.packed = true});
	cr_assert(F.neg & F(RING_PACKED));
	roundtrip(L_PLAIN);
	roundtrip(L_SPLIT);
	roundtrip(L_INDIRECT);
}

Test(blk, reads_and_writes_at_the_end_of_the_disk, .init = setup)
{
	fill(data_of(1), 1024, 3);
	cr_expect_eq(rq(1, T_OUT, DISK_SECTORS - 2, 1024, false, L_PLAIN, NULL), S_OK);
	cr_expect_eq(rq(2, T_OUT, DISK_SECTORS - 1, 1024, false, L_PLAIN, NULL), S_IOERR);
	cr_expect_eq(rq(3, T_IN, DISK_SECTORS, 512, true, L_PLAIN, NULL), S_IOERR);
	cr_expect_eq(rq(4, T_IN, DISK_SECTORS, 0, true, L_PLAIN, NULL), S_OK, "empty read at the end");
	cr_expect_eq(rq(5, T_IN, UINT64_MAX, 512, true, L_PLAIN, NULL), S_IOERR, "sector overflow");
	cr_expect_eq(rq(6, T_IN, UINT64_MAX / 512 + 1, 512, true, L_PLAIN, NULL), S_IOERR);
	cr_expect_eq(F.ram.reads, 1, "only the good read reached the backend");
}

Test(blk, data_not_a_multiple_of_512_is_an_error, .init = setup)
{
	cr_expect_eq(rq(1, T_IN, 0, 511, true, L_PLAIN, NULL), S_IOERR);
	cr_expect_eq(rq(2, T_OUT, 0, 513, false, L_PLAIN, NULL), S_IOERR);
	cr_expect_eq(F.ram.reads + F.ram.writes, 0);
}

Test(blk, unknown_request_type_is_unsupported, .init = setup)
{
	cr_expect_eq(rq(1, 77, 0, 0, false, L_PLAIN, NULL), S_UNSUPP);
	cr_expect_eq(rq(2, 0xffffffffu, 0, 512, true, L_PLAIN, NULL), S_UNSUPP);
}

Test(blk, short_header_is_an_error, .init = setup)
{
	struct drv_buf b[2] = {{hdr_gpa(1), 15, false}, {st_gpa(1), 1, true}};
	*(uint8_t *)sim_ptr(&F.m, st_gpa(1)) = NO_STATUS;
	cr_assert_eq(drv_add(&F.q[0], b, 2, false, &tok[1]), 0);
	kick(0);
	uint32_t len;
	cr_expect_eq(reap(0, 1, &len, L_PLAIN, 0), S_IOERR);
	cr_expect_eq(len, 1);
}

Test(blk, chain_without_a_status_byte_is_still_completed, .init = setup)
{
	struct drv_buf b[1] = {{hdr_gpa(1), 16, false}};
	uint32_t len = 99;
	struct vdev_blk_stats st;

	cr_assert_eq(drv_add(&F.q[0], b, 1, false, &tok[1]), 0);
	kick(0);
	cr_assert_eq(drv_get_used(&F.q[0], &len), &tok[1], "exactly one used entry");
	cr_expect_eq(len, 0, "nothing written");
	vdev_blk_get_stats(&F.blk, &st);
	cr_expect_eq(st.no_status, 1);
}

Test(blk, rejected_chain_is_completed_empty, .init = setup)
{
	/* a buffer in the hole: the queue rejects the chain */
	struct drv_buf b[2] = {{SIM_HOLE_GPA, 16, false}, {st_gpa(1), 1, true}};
	uint32_t len = 99;

	cr_assert_eq(drv_add(&F.q[0], b, 2, false, &tok[1]), 0);
	kick(0);
	cr_assert_eq(drv_get_used(&F.q[0], &len), &tok[1]);
	cr_expect_eq(len, 0);
	/* and the device goes on */
	cr_expect_eq(rq(2, T_IN, 0, 512, true, L_PLAIN, NULL), S_OK);
}

/*
 * A read into a buffer on the queue's own ring (split: the avail ring;
 * packed: the descriptor ring). Sectors holding images of the ring would
 * make buffers available again with every read, one request feeding
 * itself for ever inside vdev_blk_process(). The queue rejects the chain:
 * the backend is never asked, the chain completes empty, the disk's bytes
 * reach no ring, and the device goes on.
 */
static void read_onto_own_ring(bool packed)
{
	setup_with((struct opts){.packed = packed});
	const uint64_t work = packed ? F.q[0].desc_gpa : F.q[0].driver_gpa;
	memset(F.ram.data, 0xab, 512);
	uint8_t *h = sim_ptr(&F.m, hdr_gpa(1));
	memset(h, 0, 16); /* VIRTIO_BLK_T_IN, sector 0 */
	struct drv_buf b[3] = {{hdr_gpa(1), 16, false}, {work, 512, true}, {st_gpa(1), 1, true}};
	uint32_t len = 99;
	unsigned reads = F.ram.reads;

	cr_assert_eq(drv_add(&F.q[0], b, 3, false, &tok[1]), 0);
	kick(0);
	cr_assert_eq(drv_get_used(&F.q[0], &len), &tok[1]);
	cr_expect_eq(len, 0);
	cr_expect_eq(F.ram.reads, reads, "the backend was not asked");
	cr_expect_eq(F.q[0].errors, 0, "%s", F.q[0].last_error);
	cr_expect_eq(rq(2, T_IN, 0, 512, true, L_PLAIN, NULL), S_OK, "and the device goes on");
	cr_expect_eq(data_of(2)[0], 0xab);
}
Test(blk, read_onto_its_own_avail_ring_is_rejected) { read_onto_own_ring(false); }
Test(blk, read_onto_its_own_descriptor_ring_is_rejected) { read_onto_own_ring(true); }

Test(blk, short_backend_read_reports_only_what_was_read, .init = setup)
{
	uint32_t len;

	F.ram.short_read = 1000;
	memset(data_of(1), 0xaa, 4096);
	cr_expect_eq(rq(1, T_IN, 0, 4096, true, L_PLAIN, &len), S_IOERR);
	cr_expect_eq(len, 1001, "1000 data bytes and the status byte");
}

Test(blk, backend_failure_is_ioerr, .init = setup)
{
	F.ram.fail_next = 2;
	cr_expect_eq(rq(1, T_IN, 0, 512, true, L_PLAIN, NULL), S_IOERR);
	cr_expect_eq(rq(2, T_OUT, 0, 512, false, L_PLAIN, NULL), S_IOERR);
	cr_expect_eq(rq(3, T_OUT, 0, 512, false, L_PLAIN, NULL), S_OK);
}

/* ---- cache modes -------------------------------------------------------------------- */

Test(blk, write_through_and_write_back_switch_at_run_time, .init = setup)
{
	uint8_t wb;

	/* negotiated FLUSH + CONFIG_WCE, writeback starts at 0: write-through */
	cr_expect_not(vdev_blk_writeback(&F.blk));
	cr_expect_eq(rq(1, T_OUT, 0, 512, false, L_PLAIN, NULL), S_OK);
	cr_expect_eq(F.ram.fua_writes, 1, "write-through writes are durable (FUA)");
	wb = 1;
	F.tr.ops->config_write(F.tr.t, 32, &wb, 1);
	cr_expect(vdev_blk_writeback(&F.blk));
	cr_expect_eq(rq(2, T_OUT, 0, 512, false, L_PLAIN, NULL), S_OK);
	cr_expect_eq(F.ram.fua_writes, 1, "write-back: no FUA");
	cr_expect_eq(rq(3, T_FLUSH, 0, 0, false, L_PLAIN, NULL), S_OK);
	cr_expect_eq(F.ram.flushes, 1);
	wb = 7; /* not a valid mode: ignored */
	F.tr.ops->config_write(F.tr.t, 32, &wb, 1);
	cr_expect(vdev_blk_writeback(&F.blk));
	wb = 0;
	F.tr.ops->config_write(F.tr.t, 32, &wb, 1);
	cr_expect_eq(rq(4, T_OUT, 0, 512, false, L_PLAIN, NULL), S_OK);
	cr_expect_eq(F.ram.fua_writes, 2);
	/* reset restores the default */
	wb = 1;
	F.tr.ops->config_write(F.tr.t, 32, &wb, 1);
	drv_virtio_reset(&F.tr);
	cr_expect_eq(vdev_mmio_read(&F.mmio, 0x100 + 32, 1), 0);
}

Test(blk, without_flush_every_write_is_durable)
{
	setup_with((struct opts){.writeback = true, .drop = B(FLUSH) | B(CONFIG_WCE)});
	cr_expect_not(vdev_blk_writeback(&F.blk));
	cr_expect_eq(rq(1, T_OUT, 0, 512, false, L_PLAIN, NULL), S_OK);
	cr_expect_eq(F.ram.fua_writes, 1);
	cr_expect_eq(rq(2, T_FLUSH, 0, 0, false, L_PLAIN, NULL), S_UNSUPP, "FLUSH not negotiated");
}

Test(blk, flush_alone_means_write_back)
{
	setup_with((struct opts){.drop = B(CONFIG_WCE)});
	cr_expect(vdev_blk_writeback(&F.blk));
	/* writeback field is not writable without CONFIG_WCE */
	uint8_t wb = 0;
	F.tr.ops->config_write(F.tr.t, 32, &wb, 1);
	cr_expect(vdev_blk_writeback(&F.blk));
}

Test(blk, config_wce_without_flush_starts_write_through)
{
	setup_with((struct opts){.writeback = true, .drop = B(FLUSH)});
	cr_expect_eq(vdev_mmio_read(&F.mmio, 0x100 + 32, 1), 0, "spec: writeback initialised to 0");
}

Test(blk, writeback_default_on)
{
	setup_with((struct opts){.writeback = true});
	cr_expect(vdev_blk_writeback(&F.blk));
}

/* ---- discard, write zeroes, secure erase --------------------------------------------- */

Test(blk, discard_and_write_zeroes_with_several_ranges, .init = setup)
{
	uint64_t sec[3] = {8, 64, 200};
	uint32_t cnt[3] = {8, 16, 512}, unmap[3] = {1, 1, 1};

	memset(F.ram.data, 0x77, (size_t)DISK_SECTORS * 512);
	uint32_t n = segs(1, 2, sec, cnt, NULL);
	cr_expect_eq(rq(1, T_DISCARD, 0, n, false, L_PLAIN, NULL), S_OK);
	cr_expect_eq(F.ram.discards, 1);
	cr_expect_eq(F.ram.data[8 * 512], 0);
	cr_expect_eq(F.ram.data[16 * 512], 0x77, "just past the first range");
	n = segs(2, 3, sec, cnt, unmap);
	cr_expect_eq(rq(2, T_WRITE_ZEROES, 0, n, false, L_SPLIT, NULL), S_OK);
	cr_expect_eq(F.ram.unmaps, 1, "all ranges asked to unmap and the device may");
	cr_expect_eq(F.ram.data[200 * 512 + 512 * 512 - 1], 0);
	n = segs(3, 1, sec, cnt, NULL);
	cr_expect_eq(rq(3, T_WRITE_ZEROES, 0, n, false, L_PLAIN, NULL), S_OK);
	cr_expect_eq(F.ram.unmaps, 1, "no unmap asked");
	n = segs(4, 2, sec, cnt, NULL);
	cr_expect_eq(rq(4, T_SECURE_ERASE, 0, n, false, L_PLAIN, NULL), S_OK);
	cr_expect_eq(F.ram.erases, 1);
}

Test(blk, discard_family_malformed_requests, .init = setup)
{
	uint64_t sec[5] = {0, 0, 0, 0, 0};
	uint32_t cnt[5] = {8, 8, 8, 8, 8}, bad_flag[1] = {2}, unmap[1] = {1};
	uint32_t n;

	n = segs(1, 1, sec, cnt, unmap);
	cr_expect_eq(rq(1, T_DISCARD, 0, n, false, L_PLAIN, NULL), S_UNSUPP, "unmap on discard");
	n = segs(2, 1, sec, cnt, bad_flag);
	cr_expect_eq(rq(2, T_WRITE_ZEROES, 0, n, false, L_PLAIN, NULL), S_UNSUPP, "unknown flag");
	n = segs(3, 5, sec, cnt, NULL);
	cr_expect_eq(rq(3, T_DISCARD, 0, n, false, L_PLAIN, NULL), S_IOERR, "more than max_discard_seg");
	cr_expect_eq(rq(4, T_DISCARD, 0, 24, false, L_PLAIN, NULL), S_IOERR, "not a multiple of 16");
	cr_expect_eq(rq(5, T_DISCARD, 0, 0, false, L_PLAIN, NULL), S_IOERR, "no segment");
	uint64_t far[1] = {DISK_SECTORS - 4};
	n = segs(6, 1, far, cnt, NULL);
	cr_expect_eq(rq(6, T_DISCARD, 0, n, false, L_PLAIN, NULL), S_IOERR, "beyond capacity");
	uint64_t wrap[1] = {UINT64_MAX - 2};
	n = segs(7, 1, wrap, cnt, NULL);
	cr_expect_eq(rq(7, T_WRITE_ZEROES, 0, n, false, L_PLAIN, NULL), S_IOERR, "wrapping range");
	uint32_t big[1] = {513};
	n = segs(8, 1, sec, big, NULL);
	cr_expect_eq(rq(8, T_DISCARD, 0, n, false, L_PLAIN, NULL), S_IOERR, "above max_discard_sectors");
	n = segs(9, 3, sec, cnt, NULL);
	cr_expect_eq(rq(9, T_SECURE_ERASE, 0, n, false, L_PLAIN, NULL), S_IOERR, "above max_secure_erase_seg");
	cr_expect_eq(F.ram.discards + F.ram.write_zeroes + F.ram.erases, 0,
		     "nothing reached the backend");
}

Test(blk, discard_family_not_negotiated_is_unsupported)
{
	setup_with((struct opts){.drop = B(DISCARD) | B(WRITE_ZEROES) | B(SECURE_ERASE)});
	uint64_t sec[1] = {0};
	uint32_t cnt[1] = {8};
	uint32_t n = segs(1, 1, sec, cnt, NULL);
	cr_expect_eq(rq(1, T_DISCARD, 0, n, false, L_PLAIN, NULL), S_UNSUPP);
	cr_expect_eq(rq(2, T_WRITE_ZEROES, 0, n, false, L_PLAIN, NULL), S_UNSUPP);
	cr_expect_eq(rq(3, T_SECURE_ERASE, 0, n, false, L_PLAIN, NULL), S_UNSUPP);
}

/* ---- GET_ID and GET_LIFETIME ---------------------------------------------------------- */

Test(blk, get_id_returns_the_serial, .init = setup)
{
	uint32_t len;

	memset(data_of(1), 0xff, 20);
	cr_expect_eq(rq(1, T_GET_ID, 0, 20, true, L_PLAIN, &len), S_OK);
	cr_expect_eq(len, 21);
	cr_expect_eq(memcmp(data_of(1), "vdev-test-disk-0001", 20), 0);
	memset(data_of(2), 0xff, 20);
	cr_expect_eq(rq(2, T_GET_ID, 0, 8, true, L_PLAIN, &len), S_OK, "shorter buffer");
	cr_expect_eq(len, 9);
	cr_expect_eq(data_of(2)[8], 0xff, "nothing beyond the buffer");
}

Test(blk, get_lifetime)
{
	uint32_t len;

	setup_with((struct opts){.lifetime = true});
	cr_assert(F.neg & B(LIFETIME));
	F.ram.lifetime = (struct vdev_blk_lifetime){1, 3, 11};
	cr_expect_eq(rq(1, T_GET_LIFETIME, 0, 6, true, L_PLAIN, &len), S_OK);
	cr_expect_eq(len, 7);
	uint8_t *d = data_of(1);
	cr_expect_eq(d[0], 1);
	cr_expect_eq(d[2], 3);
	cr_expect_eq(d[4], 11);
	cr_expect_eq(rq(2, T_GET_LIFETIME, 0, 4, true, L_PLAIN, NULL), S_IOERR, "buffer too short");
	F.ram.lifetime.device_lifetime_est_typ_a = 12; /* reserved: must not reach the guest */
	cr_expect_eq(rq(3, T_GET_LIFETIME, 0, 6, true, L_PLAIN, NULL), S_IOERR);
}

Test(blk, get_lifetime_without_the_feature, .init = setup)
{
	cr_expect_eq(rq(1, T_GET_LIFETIME, 0, 6, true, L_PLAIN, NULL), S_UNSUPP);
}

/* ---- asynchronous completion, the pool, reset ------------------------------------------- */

Test(blk, async_completions_in_any_order)
{
	setup_with((struct opts){.async = true});
	for (int t = 0; t < 16; t++) {
		fill(data_of(t), 512, (uint8_t)t);
		queue_req(0, t, T_OUT, (uint64_t)t * 8, 512, false, L_PLAIN);
	}
	kick(0);
	cr_expect_eq(vdev_blk_inflight(&F.blk), 16);
	cr_expect_eq(ram_blk_complete_some(&F.ram, 16, 12345), 16);
	int seen[16] = {0};
	for (int i = 0; i < 16; i++) {
		uint32_t len;
		void *tk = drv_get_used(&F.q[0], &len);
		cr_assert_not_null(tk);
		int t = (int)((int *)tk - tok);
		cr_assert(t >= 0 && t < 16 && !seen[t]);
		seen[t] = 1;
		cr_expect_eq(*(uint8_t *)sim_ptr(&F.m, st_gpa(t)), S_OK);
		cr_expect_eq(F.ram.data[t * 8 * 512], (uint8_t)t);
	}
	cr_expect_null(drv_get_used(&F.q[0], &(uint32_t){0}));
	cr_expect_eq(vdev_blk_inflight(&F.blk), 0);
}

/*
 * A backend that, in each op, first completes the request it holds (from
 * inside vdev_blk_process(), in the middle of a batch), then holds this
 * one (every other op) or completes it at once. With IN_ORDER the device
 * must push in completion order, which is pop order here: a completion
 * staged behind a later one would be refused and lost.
 */
static struct {
	struct vdev_blk_io *held;
	unsigned ops;
} ALT;
static int alt_op(void *o, struct vdev_blk_io *io)
{
	(void)o;
	if (ALT.held != NULL) {
		struct vdev_blk_io *h = ALT.held;
		ALT.held = NULL;
		vdev_blk_complete(&F.blk, h, 0, (uint32_t)h->len);
	}
	if (ALT.ops++ % 2 == 1) { /* so that op 7, the last of a batch of 8, is held */
		ALT.held = io;
		return VDEV_BLK_ASYNC;
	}
	return 0;
}
static const struct vdev_blk_backend_ops alt_ops = {
	.size = sizeof(struct vdev_blk_backend_ops), .read = alt_op, .write = alt_op};

Test(blk, completions_inside_a_batch_keep_their_order)
{
	memset(&ALT, 0, sizeof(ALT));
	setup_with((struct opts){.ops = &alt_ops, .queue_size = 128,
				 .ring_features = VDEV_BIT(VDEV_F_IN_ORDER) | VDEV_BIT(VDEV_F_EVENT_IDX)});
	cr_assert(F.neg & F(IN_ORDER));
	for (int t = 0; t < 22; t++)
		queue_req(0, t, T_IN, (uint64_t)t * 8, 512, true, L_PLAIN);
	kick(0);
	cr_assert_eq(ALT.ops, 22);
	cr_assert_not_null(ALT.held, "the last one is held");
	vdev_blk_complete(&F.blk, ALT.held, 0, (uint32_t)ALT.held->len);
	for (int t = 0; t < 22; t++) {
		uint32_t len;
		cr_assert_eq(reap(0, t, &len, L_PLAIN, 0), S_OK);
		cr_expect_eq(len, 513);
	}
	cr_expect_null(drv_get_used(&F.q[0], &(uint32_t){0}));
	cr_expect_eq(vdev_blk_inflight(&F.blk), 0);
	struct vdev_vq_stats st;
	vdev_vq_get_stats(&F.queues[0], &st);
	cr_expect_eq(st.pushed, 22);
}

Test(blk, full_pool_stops_popping_until_completions)
{
	struct vdev_blk_stats st;

	setup_with((struct opts){.async = true, .num_reqs = 4});
	for (int t = 0; t < 10; t++)
		queue_req(0, t, T_IN, 0, 512, true, L_PLAIN);
	kick(0);
	cr_expect_eq(vdev_blk_inflight(&F.blk), 4, "only as many as the pool holds");
	vdev_blk_get_stats(&F.blk, &st);
	cr_expect(st.pool_full >= 1);
	unsigned reaped = 0;
	while (reaped < 10) {
		ram_blk_complete_some(&F.ram, 4, 0);
		cr_assert_geq(vdev_blk_process(&F.blk, 0), 0);
		uint32_t len;
		while (drv_get_used(&F.q[0], &len) != NULL)
			reaped++;
		cr_assert_leq(vdev_blk_inflight(&F.blk), 4);
	}
	cr_expect_eq(reaped, 10);
}

Test(blk, reset_with_requests_in_flight_waits_for_them)
{
	setup_with((struct opts){.async = true});
	for (int t = 0; t < 3; t++)
		queue_req(0, t, T_IN, 0, 512, true, L_PLAIN);
	kick(0);
	cr_assert_eq(vdev_blk_inflight(&F.blk), 3);
	F.tr.ops->set_status(F.tr.t, 0);
	cr_expect_neq(F.tr.ops->get_status(F.tr.t), 0, "reset pending while buffers are out");
	cr_expect_eq(F.ram.cancels, 3);
	ram_blk_complete_some(&F.ram, 2, 0);
	cr_expect_neq(F.tr.ops->get_status(F.tr.t), 0);
	ram_blk_complete_some(&F.ram, 1, 0);
	cr_expect_eq(F.tr.ops->get_status(F.tr.t), 0, "reset done after the last completion");
	cr_expect_eq(vdev_blk_inflight(&F.blk), 0);
	uint32_t len;
	cr_expect_null(drv_get_used(&F.q[0], &len), "orphaned requests are not pushed");
	/* the device comes back */
	uint64_t neg;
	cr_assert_eq(drv_virtio_negotiate(&F.tr, ~F(RING_PACKED), &neg), 0);
	sim_mem_reset_alloc(&F.m);
	F.arena = sim_alloc(&F.m, 64u * 32768u, 4096);
	cr_assert_eq(drv_virtio_setup_queue(&F.tr, &F.q[0], &F.m, 0, 64, neg), 0);
	cr_assert_eq(drv_virtio_driver_ok(&F.tr), 0x0f);
	F.ram.async = false;
	cr_expect_eq(rq(5, T_IN, 0, 512, true, L_PLAIN, NULL), S_OK);
}

/* RING_RESET with the backend still holding buffers: the reset stays
 * ongoing (QueueReset reads 1, the queue cannot be re-enabled) until the
 * last of them is back, and none of them reaches the used ring. */
Test(blk, queue_reset_with_requests_in_flight_waits_for_them)
{
	setup_with((struct opts){.async = true});
	cr_assert(F.neg & F(RING_RESET));
	for (int t = 0; t < 3; t++)
		queue_req(0, t, T_IN, 0, 512, true, L_PLAIN);
	kick(0);
	cr_assert_eq(vdev_blk_inflight(&F.blk), 3);
	cr_expect_not(F.tr.ops->reset_queue(F.tr.t, 0), "reset ongoing while buffers are out");
	cr_expect_eq(F.ram.cancels, 3);
	cr_expect_eq(vdev_mmio_read(&F.mmio, 0x0c0, 4), 1, "QueueReset reads 1");
	cr_expect_neq(drv_virtio_setup_queue(&F.tr, &F.q[0], &F.m, 0, 64, F.neg), 0,
		      "no re-enable while ongoing");
	ram_blk_complete_some(&F.ram, 2, 0);
	cr_expect_eq(vdev_mmio_read(&F.mmio, 0x0c0, 4), 1);
	ram_blk_complete_some(&F.ram, 1, 0);
	cr_expect_eq(vdev_mmio_read(&F.mmio, 0x0c0, 4), 0, "done after the last completion");
	cr_expect_eq(vdev_blk_inflight(&F.blk), 0);
	cr_expect_eq(F.tr.ops->get_status(F.tr.t) & 0x4, 0x4, "the device stays up");
	/* the queue comes back while the device is live */
	cr_assert_eq(drv_virtio_setup_queue(&F.tr, &F.q[0], &F.m, 0, 64, F.neg), 0);
	uint32_t len;
	cr_expect_null(drv_get_used(&F.q[0], &len), "orphaned requests are not pushed");
	F.ram.async = false;
	cr_expect_eq(rq(5, T_IN, 0, 512, true, L_PLAIN, NULL), S_OK);
}

/*
 * The guest offers a request's buffers again while the backend still holds
 * them (the ring cannot be trusted): the backend never sees a second
 * request on them, the device needs a reset (configuration interrupt),
 * and the request the device did take is answered exactly once, when the
 * backend completes it, or not at all if the driver resets the device
 * first (it no longer holds the buffers then).
 */
static void offered_twice_in_flight(bool packed, bool reset_first)
{
	uint32_t len;

	setup_with((struct opts){.async = true, .packed = packed});
	queue_req(0, 1, T_IN, 0, 512, true, L_PLAIN);
	queue_req(0, 2, T_IN, 8, 512, true, L_INDIRECT);
	kick(0);
	cr_assert_eq(vdev_blk_inflight(&F.blk), 2);
	cr_assert_eq(F.ram.reads, 2);
	(void)F.tr.ops->take_interrupts(F.tr.t);
	/* buffer 0 (token 1's request) once more */
	drv_offer_again(&F.q[0], 0, &(struct drv_buf){st_gpa(1), 1, true});
	F.tr.ops->notify(F.tr.t, 0, false, 0);
	cr_expect_eq(vdev_blk_inflight(&F.blk), 2, "no second request on the same buffers");
	cr_expect_eq(F.ram.reads, 2);
	cr_expect(F.tr.ops->get_status(F.tr.t) & 0x40, "DEVICE_NEEDS_RESET");
	cr_expect(F.tr.ops->take_interrupts(F.tr.t) & DRV_INT_CONFIG);
	if (reset_first) {
		F.tr.ops->set_status(F.tr.t, 0);
		cr_expect_neq(F.tr.ops->get_status(F.tr.t), 0, "reset waits for the backend");
	}
	cr_expect_eq(ram_blk_complete_some(&F.ram, 2, 0), 2);
	if (reset_first) {
		cr_expect_eq(F.tr.ops->get_status(F.tr.t), 0);
		cr_expect_null(drv_get_used(&F.q[0], &len), "no used element after the reset");
	} else {
		cr_expect_eq(drv_get_used(&F.q[0], &len), &tok[1]);
		cr_expect_eq(len, 513);
		cr_expect_eq(drv_get_used(&F.q[0], &len), &tok[2]);
		cr_expect_null(drv_get_used(&F.q[0], &len), "each request answered once");
	}
	cr_expect_eq(F.q[0].errors, 0, "%s", F.q[0].last_error);
	cr_expect_eq(vdev_blk_inflight(&F.blk), 0);
}

Test(blk, split_buffer_offered_twice_in_flight) { offered_twice_in_flight(false, false); }
Test(blk, packed_buffer_offered_twice_in_flight) { offered_twice_in_flight(true, false); }
Test(blk, split_buffer_offered_twice_then_reset) { offered_twice_in_flight(false, true); }
Test(blk, packed_buffer_offered_twice_then_reset) { offered_twice_in_flight(true, true); }

Test(blk, multiqueue)
{
	setup_with((struct opts){.num_queues = 2});
	cr_assert(F.neg & B(MQ));
	cr_expect_eq(vdev_mmio_read(&F.mmio, 0x100 + 34, 2), 2, "num_queues");
	fill(data_of(1), 512, 9);
	queue_req(1, 1, T_OUT, 5, 512, false, L_PLAIN);
	kick(1);
	cr_expect_eq(reap(1, 1, NULL, L_PLAIN, 0), S_OK);
	queue_req(0, 2, T_IN, 5, 512, true, L_PLAIN);
	kick(0);
	cr_expect_eq(reap(0, 2, NULL, L_PLAIN, 0), S_OK);
	cr_expect_eq(memcmp(data_of(2), data_of(1), 512), 0);
}

Test(blk, capacity_change_notifies_the_driver, .init = setup)
{
	cr_expect_eq(rq(1, T_IN, 1500, 512, true, L_PLAIN, NULL), S_OK);
	(void)F.tr.ops->take_interrupts(F.tr.t);
	vdev_blk_set_capacity(&F.blk, 1024);
	cr_expect(F.tr.ops->take_interrupts(F.tr.t) & DRV_INT_CONFIG);
	cr_expect_eq(vdev_mmio_read(&F.mmio, 0x100, 8), 1024);
	cr_expect_eq(rq(2, T_IN, 1500, 512, true, L_PLAIN, NULL), S_IOERR, "now beyond the end");
	cr_expect_eq(rq(3, T_IN, 1023, 512, true, L_PLAIN, NULL), S_OK);
}

/* ---- model-based integrity ---------------------------------------------------------------- */

static uint32_t rng = 99;
static uint32_t rnd(void)
{
	rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
	return rng;
}

/*
 * Long random sequences of writes, flushes, discards, write-zeroes and
 * reads, submitted in batches with random layouts and completed
 * asynchronously in random order; a shadow disk predicts every read, and
 * every request must complete exactly once with OK. Writes in flight never
 * overlap each other or the reads in the same batch (the guest's page
 * cache would not issue such I/O either).
 */
static void integrity(bool packed, bool async, unsigned rounds)
{
	static uint8_t shadow[DISK_SECTORS * 512];
	enum layout layouts[] = {L_PLAIN, L_SPLIT, L_MERGED, L_INDIRECT};
	unsigned completed = 0, submitted = 0;

	setup_with((struct opts){.packed = packed, .async = async, .queue_size = 256});
	memset(shadow, 0, sizeof(shadow));
	for (unsigned r = 0; r < rounds; r++) {
		unsigned n = 1 + rnd() % 7; /* up to 7 * 35 descriptors in a 256 ring */
		uint8_t busy[DISK_SECTORS / 8] = {0}; /* 4 KiB blocks touched this batch */
		int kinds[8];
		uint64_t sect[8];
		uint32_t len[8];
		enum layout lay[8];
		for (unsigned i = 0; i < n; i++) {
			int t = (int)i;
			uint32_t blocks = 1 + rnd() % 4;
			uint64_t blk0 = rnd() % (DISK_SECTORS / 8 - blocks);
			bool clash = false;
			for (uint32_t b = 0; b < blocks; b++)
				clash |= busy[blk0 + b] != 0;
			kinds[i] = clash ? -1 : (int)(rnd() % 6);
			sect[i] = blk0 * 8;
			len[i] = blocks * 4096;
			lay[i] = layouts[rnd() % 4];
			if (kinds[i] < 0)
				continue;
			for (uint32_t b = 0; b < blocks; b++)
				busy[blk0 + b] = 1;
			switch (kinds[i]) {
			case 0: /* write */
			case 1:
				fill(data_of(t), len[i], (uint8_t)rnd());
				memcpy(shadow + sect[i] * 512, data_of(t), len[i]);
				queue_req(0, t, T_OUT, sect[i], len[i], false, lay[i]);
				break;
			case 2: /* read */
			case 3:
				memset(data_of(t), 0x5c, len[i] + 1);
				queue_req(0, t, T_IN, sect[i], len[i], true, lay[i]);
				break;
			case 4: { /* discard or write zeroes, one range */
				uint64_t s1[1] = {sect[i]};
				uint32_t c1[1] = {len[i] / 512};
				bool wz = rnd() % 2;
				memset(shadow + sect[i] * 512, 0, len[i]);
				queue_req(0, t, wz ? T_WRITE_ZEROES : T_DISCARD, 0,
					  segs(t, 1, s1, c1, NULL), false, lay[i] == L_MERGED ? L_PLAIN : lay[i]);
				break;
			}
			default:
				queue_req(0, t, T_FLUSH, 0, 0, false, L_PLAIN);
				break;
			}
			submitted++;
		}
		kick(0);
		if (async) {
			while (F.ram.nheld > 0) {
				ram_blk_complete_some(&F.ram, 1 + rnd() % 4, rnd() | 1);
				vdev_blk_process(&F.blk, 0);
			}
		}
		int got[8] = {0};
		uint32_t l;
		void *tk;
		while ((tk = drv_get_used(&F.q[0], &l)) != NULL) {
			int t = (int)((int *)tk - tok);
			cr_assert(t >= 0 && t < (int)n && kinds[t] >= 0 && !got[t],
				  "round %u: unexpected completion %d", r, t);
			got[t] = 1;
			completed++;
			uint8_t st = (kinds[t] == 2 || kinds[t] == 3) && lay[t] == L_MERGED
					     ? data_of(t)[len[t]]
					     : *(uint8_t *)sim_ptr(&F.m, st_gpa(t));
			cr_assert_eq(st, S_OK, "round %u req %d kind %d status %u", r, t, kinds[t], st);
			if (kinds[t] == 2 || kinds[t] == 3)
				cr_assert_eq(memcmp(data_of(t), shadow + sect[t] * 512, len[t]), 0,
					     "round %u: read %d returned stale or wrong data", r, t);
		}
		for (unsigned i = 0; i < n; i++)
			cr_assert(kinds[i] < 0 || got[i], "round %u: request %u never completed", r, i);
		cr_assert_eq(F.q[0].errors, 0, "%s", F.q[0].last_error);
	}
	cr_expect_eq(completed, submitted);
	cr_expect_eq(memcmp(F.ram.data, shadow, sizeof(shadow)), 0, "final disk == shadow");
	cr_expect_eq(vdev_blk_inflight(&F.blk), 0);
}

Test(blk, integrity_split_sync) { integrity(false, false, 5000); }
Test(blk, integrity_split_async) { integrity(false, true, 5000); }
Test(blk, integrity_packed_sync) { integrity(true, false, 5000); }
Test(blk, integrity_packed_async) { integrity(true, true, 5000); }
