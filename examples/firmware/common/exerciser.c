/* SPDX-License-Identifier: MIT */
/*
 * The guest half of the firmware: a minimal virtio-blk driver written
 * from the VIRTIO spec ("Virtio Over MMIO", "Split Virtqueues", "Packed
 * Virtqueues", "Block Device"), independent of libvdev's own code. Every
 * register access goes through the VMM's trap entry points at the
 * device's guest-physical address; the rings, request headers, data and
 * status bytes live in guest_ram, which the device reaches only through
 * its guest-physical addresses (GUEST_GPA + offset).
 *
 * Four runs (split, packed, packed with EVENT_IDX, then split with
 * EVENT_IDX long enough for the 16-bit ring indices to wrap) each
 * initialise the device and
 * serve requests in random batches (reads, writes, flushes, out-of-range
 * reads that must fail, direct and indirect chains, data split across one
 * or two descriptors at arbitrary byte boundaries), up to NSLOTS in
 * flight, kicking at random points. Every sector carries a stamp of its last
 * write and every read is checked against it, across layouts and device
 * resets (the disk outlives them). Interrupts are checked against the
 * spec's rules (with EVENT_IDX: exactly when the used index passes
 * used_event). Any mismatch, protocol surprise or wrong status fails the
 * run.
 */
#include "fw.h"
#include "vmm_blk.h"

#include <vdev/device.h>
#include <vdev/mmio.h>

#define GUEST_GPA 0x80000000ull /* where the guest sees guest_ram */
#define GUEST_RAM_SIZE (128u * 1024u)
#define QSIZE 128u
#define NSLOTS 16u        /* requests in flight at most */
#define DESC_PER_SLOT 4u  /* header, data (1 or 2), status */
#define MAX_SECTORS 8u
#define REQUESTS 4000u    /* per run (the first two) */
#define LONG_RUN 70000u   /* a split run past 65536: the 16-bit ring indices wrap */

/* virtio-mmio registers (spec "MMIO Device Register Layout") */
enum {
	R_MAGIC = 0x000, R_VERSION = 0x004, R_DEVICE_ID = 0x008,
	R_DEV_FEATURES = 0x010, R_DEV_FEATURES_SEL = 0x014,
	R_DRV_FEATURES = 0x020, R_DRV_FEATURES_SEL = 0x024,
	R_QUEUE_SEL = 0x030, R_QUEUE_NUM_MAX = 0x034, R_QUEUE_NUM = 0x038,
	R_QUEUE_READY = 0x044, R_QUEUE_NOTIFY = 0x050,
	R_INT_STATUS = 0x060, R_INT_ACK = 0x064, R_STATUS = 0x070,
	R_DESC_LO = 0x080, R_DESC_HI = 0x084, R_DRIVER_LO = 0x090, R_DRIVER_HI = 0x094,
	R_DEVICE_LO = 0x0a0, R_DEVICE_HI = 0x0a4, R_CONFIG_GEN = 0x0fc, R_CONFIG = 0x100
};

/* descriptor flags */
#define D_NEXT 0x1u
#define D_WRITE 0x2u
#define D_INDIRECT 0x4u
#define D_AVAIL 0x80u   /* packed */
#define D_USED 0x8000u  /* packed */

/* virtio-blk request types and status */
#define T_IN 0u
#define T_OUT 1u
#define T_FLUSH 4u
#define T_GET_ID 8u
#define S_OK 0u
#define S_IOERR 1u

static uint8_t guest_ram[GUEST_RAM_SIZE] __attribute__((aligned(4096)));
static uint32_t stamp[VMM_DISK_SECTORS]; /* last write of each sector; 0: never (zeroes) */
static uint8_t busy[VMM_DISK_SECTORS];   /* sectors touched by a request in flight */
static uint32_t rng_state = 0x2545f491u;
static uint32_t next_stamp = 1;

/* ---- little helpers ---------------------------------------------------------- */

static uint32_t rnd(void)
{
	/* xorshift32 */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static uint32_t below(uint32_t n)
{
	return rnd() % n;
}

/* Guest memory is little-endian whatever the CPU: stored byte by byte. */
static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}
static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}
static uint16_t get16(const volatile uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t get32(const volatile uint8_t *p)
{
	return get16(p) | ((uint32_t)get16(p + 2) << 16);
}

static uint8_t *host(uint64_t gpa)
{
	return guest_ram + (gpa - GUEST_GPA);
}

static const char *failure; /* first failure, reported by fw_main */
static uint64_t fail_value;

static bool fail(const char *what, uint64_t value)
{
	if (failure == NULL) {
		failure = what;
		fail_value = value;
	}
	return false;
}

/* ---- register access through the VMM's trap handler ---------------------------- */

static uint32_t rd(uint32_t off)
{
	uint64_t v = 0;
	if (!vmm_trap_read(VMM_BLK_BASE + off, 4, &v))
		fail("no device decodes the MMIO address", off);
	return (uint32_t)v;
}

static void wr(uint32_t off, uint32_t v)
{
	if (!vmm_trap_write(VMM_BLK_BASE + off, 4, v))
		fail("no device decodes the MMIO address", off);
}

/* ---- the driver's queue ---------------------------------------------------------- */

struct slot {
	bool busy;
	bool indirect;
	uint8_t ndesc;      /* ring entries the buffer takes */
	uint32_t type;
	uint32_t sector, nsec;
	bool out_of_range;
	uint64_t hdr, data, status, table; /* guest-physical */
};

static struct drv {
	bool packed;
	uint64_t desc, driver, device; /* ring areas (guest-physical) */
	uint64_t next_alloc;
	/* split */
	uint16_t avail_idx, last_used;
	bool event_idx;          /* EVENT_IDX negotiated */
	uint16_t kicked_idx;     /* split: avail idx at the last kick decision */
	uint16_t added;          /* packed: ring entries made available since then */
	uint32_t used_entries;   /* packed: ring entries given back, in all */
	/* packed */
	uint16_t next_avail, used_pos;
	bool avail_wrap, used_wrap;
	struct slot slots[NSLOTS];
	unsigned in_flight;
	/* what was done */
	unsigned reads, writes, flushes, bad, indirect, kicks, interrupts;
	unsigned kicks_suppressed, irqs_suppressed;
	uint64_t bytes_checked;
} drv;

static uint64_t alloc(uint32_t len, uint32_t align)
{
	uint64_t a = (drv.next_alloc + align - 1) & ~(uint64_t)(align - 1);
	if (a + len > GUEST_GPA + GUEST_RAM_SIZE) {
		fail("guest memory exhausted", a);
		return GUEST_GPA;
	}
	drv.next_alloc = a + len;
	memset(host(a), 0, len);
	return a;
}

/* One descriptor in a split table or ring (16 bytes either way). */
static void split_desc(uint8_t *d, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	put64(d, addr);
	put32(d + 8, len);
	put16(d + 12, flags);
	put16(d + 14, next);
}

static void packed_desc_body(uint8_t *d, uint64_t addr, uint32_t len, uint16_t id)
{
	put64(d, addr);
	put32(d + 8, len);
	put16(d + 12, id);
}

static uint16_t packed_avail_bits(bool wrap)
{
	return (uint16_t)(wrap ? D_AVAIL : D_USED);
}

/*
 * Put slot s on the ring as a chain of `n` buffers (addr, len, writable),
 * directly or through its indirect table. Published at once (split: avail
 * idx; packed: the head's flags, written last).
 */
static void ring_add(unsigned s, const uint64_t *addr, const uint32_t *len, const bool *wrt,
		     unsigned n, bool indirect)
{
	struct slot *sl = &drv.slots[s];
	uint8_t *desc = host(drv.desc);

	if (!drv.packed) {
		uint16_t head = (uint16_t)(s * DESC_PER_SLOT);
		if (indirect) {
			uint8_t *t = host(sl->table);
			for (unsigned i = 0; i < n; i++)
				split_desc(t + 16 * i, addr[i], len[i],
					   (uint16_t)((wrt[i] ? D_WRITE : 0) | (i + 1 < n ? D_NEXT : 0)),
					   (uint16_t)(i + 1 < n ? i + 1 : 0));
			split_desc(desc + 16u * head, sl->table, 16 * n, D_INDIRECT, 0);
		} else {
			for (unsigned i = 0; i < n; i++)
				split_desc(desc + 16u * (head + i), addr[i], len[i],
					   (uint16_t)((wrt[i] ? D_WRITE : 0) | (i + 1 < n ? D_NEXT : 0)),
					   (uint16_t)(i + 1 < n ? head + i + 1 : 0));
		}
		uint8_t *avail = host(drv.driver);
		put16(avail + 4 + 2 * (drv.avail_idx % QSIZE), head);
		/* descriptors and ring slot before the index the device reads */
		__atomic_thread_fence(__ATOMIC_RELEASE);
		drv.avail_idx++;
		put16(avail + 2, drv.avail_idx);
		sl->ndesc = 1;
		return;
	}

	/* packed: the head's flags last, so the device sees a whole chain */
	uint16_t head = drv.next_avail;
	bool head_wrap = drv.avail_wrap;
	uint16_t head_flags;
	unsigned entries = indirect ? 1 : n;

	if (indirect) {
		uint8_t *t = host(sl->table);
		for (unsigned i = 0; i < n; i++) {
			packed_desc_body(t + 16 * i, addr[i], len[i], 0);
			put16(t + 16 * i + 14, (uint16_t)(wrt[i] ? D_WRITE : 0));
		}
		packed_desc_body(desc + 16u * head, sl->table, 16 * n, (uint16_t)s);
		head_flags = (uint16_t)(D_INDIRECT | packed_avail_bits(head_wrap));
	} else {
		head_flags = 0;
		uint16_t pos = head;
		bool wrap = head_wrap;
		for (unsigned i = 0; i < n; i++) {
			uint16_t f = (uint16_t)((wrt[i] ? D_WRITE : 0) | (i + 1 < n ? D_NEXT : 0) |
						packed_avail_bits(wrap));
			packed_desc_body(desc + 16u * pos, addr[i], len[i], (uint16_t)s);
			if (i == 0)
				head_flags = f;
			else
				put16(desc + 16u * pos + 14, f);
			if (++pos == QSIZE) {
				pos = 0;
				wrap = !wrap;
			}
		}
	}
	drv.added = (uint16_t)(drv.added + entries);
	drv.next_avail = (uint16_t)(drv.next_avail + entries);
	if (drv.next_avail >= QSIZE) {
		drv.next_avail = (uint16_t)(drv.next_avail - QSIZE);
		drv.avail_wrap = !drv.avail_wrap;
	}
	/* the rest of the chain before the head's flags */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	put16(desc + 16u * head + 14, head_flags);
	sl->ndesc = (uint8_t)entries;
}

/* Next used buffer: its slot and written length, or -1 if none. */
static int ring_get_used(uint32_t *len)
{
	unsigned s;

	if (!drv.packed) {
		const volatile uint8_t *used = host(drv.device);
		if (get16(used + 2) == drv.last_used)
			return -1;
		/* the index before the element it publishes */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		const volatile uint8_t *e = used + 4 + 8 * (drv.last_used % QSIZE);
		uint32_t id = get32(e);
		*len = get32(e + 4);
		drv.last_used++;
		if (id % DESC_PER_SLOT != 0 || id / DESC_PER_SLOT >= NSLOTS)
			return fail("split: used id is no head the driver made", id), -2;
		s = id / DESC_PER_SLOT;
	} else {
		const volatile uint8_t *d = host(drv.desc) + 16u * drv.used_pos;
		uint16_t flags = get16(d + 14);
		bool avail = (flags & D_AVAIL) != 0, usedb = (flags & D_USED) != 0;
		if (avail != drv.used_wrap || usedb != drv.used_wrap)
			return -1;
		/* the flags before the id and length they publish */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		uint16_t id = get16(d + 12);
		*len = get32(d + 8);
		if (id >= NSLOTS || !drv.slots[id].busy)
			return fail("packed: used id is no buffer in flight", id), -2;
		s = id;
		drv.used_entries += drv.slots[s].ndesc;
		drv.used_pos = (uint16_t)(drv.used_pos + drv.slots[s].ndesc);
		if (drv.used_pos >= QSIZE) {
			drv.used_pos = (uint16_t)(drv.used_pos - QSIZE);
			drv.used_wrap = !drv.used_wrap;
		}
	}
	if (!drv.slots[s].busy)
		return fail("used buffer is not in flight", s), -2;
	return (int)s;
}

/* ---- device initialisation (spec "Device Initialization") ------------------------- */

static bool device_init(bool packed, bool event_idx)
{
	uint32_t st;

	memset(&drv, 0, sizeof(drv));
	drv.packed = packed;
	drv.event_idx = event_idx;
	drv.next_alloc = GUEST_GPA;
	drv.avail_wrap = drv.used_wrap = true;

	if (rd(R_MAGIC) != VDEV_MMIO_MAGIC || rd(R_VERSION) != 2 || rd(R_DEVICE_ID) != VDEV_ID_BLOCK)
		return fail("not a virtio-mmio v2 block device", rd(R_DEVICE_ID));
	wr(R_STATUS, 0);
	for (unsigned i = 0; (st = rd(R_STATUS)) != 0; i++)
		if (i > 1000)
			return fail("reset does not complete", st);
	wr(R_STATUS, VDEV_STATUS_ACKNOWLEDGE);
	wr(R_STATUS, VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER);

	wr(R_DEV_FEATURES_SEL, 0);
	uint64_t offered = rd(R_DEV_FEATURES);
	wr(R_DEV_FEATURES_SEL, 1);
	offered |= (uint64_t)rd(R_DEV_FEATURES) << 32;
	uint64_t want = VDEV_BIT(VDEV_F_VERSION_1) | VDEV_BIT(VDEV_F_INDIRECT_DESC) |
			VDEV_BIT(9 /* VIRTIO_BLK_F_FLUSH */) |
			(packed ? VDEV_BIT(VDEV_F_RING_PACKED) : 0) |
			(event_idx ? VDEV_BIT(VDEV_F_EVENT_IDX) : 0);
	if ((offered & want) != want)
		return fail("device does not offer the features wanted", offered);
	wr(R_DRV_FEATURES_SEL, 0);
	wr(R_DRV_FEATURES, (uint32_t)want);
	wr(R_DRV_FEATURES_SEL, 1);
	wr(R_DRV_FEATURES, (uint32_t)(want >> 32));
	wr(R_STATUS, VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER | VDEV_STATUS_FEATURES_OK);
	if (!(rd(R_STATUS) & VDEV_STATUS_FEATURES_OK))
		return fail("FEATURES_OK did not stick", rd(R_STATUS));

	/* capacity: two 32-bit halves under one config generation */
	uint32_t gen, lo, hi;
	do {
		gen = rd(R_CONFIG_GEN);
		lo = rd(R_CONFIG);
		hi = rd(R_CONFIG + 4);
	} while (gen != rd(R_CONFIG_GEN));
	if (lo != VMM_DISK_SECTORS || hi != 0)
		return fail("capacity", ((uint64_t)hi << 32) | lo);

	/* the queue areas and per-slot request memory */
	drv.desc = alloc(16 * QSIZE, 16);
	drv.driver = packed ? alloc(4, 4) : alloc(6 + 2 * QSIZE, 2);
	drv.device = packed ? alloc(4, 4) : alloc(6 + 8 * QSIZE, 4);
	for (unsigned s = 0; s < NSLOTS; s++) {
		drv.slots[s].hdr = alloc(16, 8);
		drv.slots[s].status = alloc(1, 1);
		drv.slots[s].table = alloc(16 * DESC_PER_SLOT, 16);
		drv.slots[s].data = alloc(MAX_SECTORS * VDEV_BLK_SECTOR_SIZE, 8);
	}
	wr(R_QUEUE_SEL, 0);
	if (rd(R_QUEUE_NUM_MAX) < QSIZE)
		return fail("queue too small", rd(R_QUEUE_NUM_MAX));
	wr(R_QUEUE_NUM, QSIZE);
	wr(R_DESC_LO, (uint32_t)drv.desc);
	wr(R_DESC_HI, (uint32_t)(drv.desc >> 32));
	wr(R_DRIVER_LO, (uint32_t)drv.driver);
	wr(R_DRIVER_HI, (uint32_t)(drv.driver >> 32));
	wr(R_DEVICE_LO, (uint32_t)drv.device);
	wr(R_DEVICE_HI, (uint32_t)(drv.device >> 32));
	wr(R_QUEUE_READY, 1);
	if (rd(R_QUEUE_READY) != 1)
		return fail("queue not ready", 0);
	wr(R_STATUS, VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER | VDEV_STATUS_FEATURES_OK |
			     VDEV_STATUS_DRIVER_OK);
	st = rd(R_STATUS);
	if (st != 0x0f)
		return fail("DRIVER_OK: status reads", st);
	return failure == NULL;
}

/* ---- requests ------------------------------------------------------------------------ */

/* The content of word w of sector `sec` after write number `stamp` (0: zeroes). */
static uint32_t pattern(uint32_t sec, uint32_t st, uint32_t w)
{
	if (st == 0)
		return 0;
	uint32_t x = sec * 0x9e3779b1u ^ st * 0x85ebca6bu ^ w * 0xc2b2ae35u;
	x ^= x >> 15;
	x *= 0x2c1b3c6du;
	x ^= x >> 12;
	return x | 1; /* never zero, so a stamp is never mistaken for an unwritten sector */
}

static bool range_free(uint32_t sector, uint32_t nsec)
{
	for (uint32_t i = 0; i < nsec; i++)
		if (busy[sector + i])
			return false;
	return true;
}

/* Make up one request for free slot s and put it on the ring. */
static bool submit(unsigned s, uint32_t type)
{
	struct slot *sl = &drv.slots[s];
	uint64_t addr[DESC_PER_SLOT];
	uint32_t len[DESC_PER_SLOT];
	bool wrt[DESC_PER_SLOT];
	unsigned n = 0;
	uint32_t sector = 0, nsec = 0;

	sl->out_of_range = false;
	if (type == T_IN || type == T_OUT) {
		nsec = 1 + below(MAX_SECTORS);
		if (type == T_IN && below(64) == 0) {
			/* a read that runs off the end of the disk: IOERR */
			sector = VMM_DISK_SECTORS - nsec + 1 + below(nsec);
			sl->out_of_range = true;
		} else {
			unsigned tries = 0;
			do {
				sector = below(VMM_DISK_SECTORS - nsec + 1);
			} while (!range_free(sector, nsec) && ++tries < 8);
			if (tries == 8)
				return false; /* crowded: try later */
		}
	}
	uint8_t *h = host(sl->hdr);
	put32(h, type);
	put32(h + 4, 0);
	put64(h + 8, sector);
	*host(sl->status) = 0xff;

	addr[n] = sl->hdr, len[n] = 16, wrt[n] = false, n++;
	uint32_t bytes = nsec * VDEV_BLK_SECTOR_SIZE;
	if (type == T_GET_ID)
		bytes = VDEV_BLK_ID_BYTES;
	if (bytes != 0) {
		uint8_t *d = host(sl->data);
		if (type == T_OUT) {
			for (uint32_t i = 0; i < nsec; i++) {
				uint32_t st = next_stamp++;
				stamp[sector + i] = st;
				for (uint32_t w = 0; w < VDEV_BLK_SECTOR_SIZE / 4; w++)
					put32(d + i * VDEV_BLK_SECTOR_SIZE + 4 * w,
					      pattern(sector + i, st, w));
			}
		} else {
			memset(d, 0xa5, bytes); /* what a read must overwrite */
		}
		uint32_t cut = bytes > 1 && below(2) ? 1 + below(bytes - 1) : bytes;
		addr[n] = sl->data, len[n] = cut, wrt[n] = type != T_OUT, n++;
		if (cut < bytes)
			addr[n] = sl->data + cut, len[n] = bytes - cut, wrt[n] = type != T_OUT, n++;
	}
	addr[n] = sl->status, len[n] = 1, wrt[n] = true, n++;

	if (!sl->out_of_range)
		for (uint32_t i = 0; i < nsec; i++)
			busy[sector + i] = 1;
	sl->busy = true;
	sl->type = type;
	sl->sector = sector;
	sl->nsec = nsec;
	sl->indirect = below(4) == 0;
	drv.indirect += sl->indirect;
	drv.in_flight++;
	ring_add(s, addr, len, wrt, n, sl->indirect);
	return true;
}

/* Check a completed request against what the disk must hold. */
static bool complete(unsigned s, uint32_t len)
{
	struct slot *sl = &drv.slots[s];
	uint8_t status = *host(sl->status);
	uint32_t bytes = sl->nsec * VDEV_BLK_SECTOR_SIZE;

	sl->busy = false;
	drv.in_flight--;
	if (!sl->out_of_range)
		for (uint32_t i = 0; i < sl->nsec; i++)
			busy[sl->sector + i] = 0;
	if (sl->out_of_range) {
		drv.bad++;
		if (status != S_IOERR || len != 1)
			return fail("out-of-range read: want IOERR and used length 1, status", status);
		return true;
	}
	if (status != S_OK)
		return fail("request failed, type", sl->type), fail("status", status);
	switch (sl->type) {
	case T_IN: {
		drv.reads++;
		if (len != bytes + 1)
			return fail("read: used length", len);
		const uint8_t *d = host(sl->data);
		for (uint32_t i = 0; i < sl->nsec; i++) {
			uint32_t sec = sl->sector + i;
			for (uint32_t w = 0; w < VDEV_BLK_SECTOR_SIZE / 4; w++)
				if (get32(d + i * VDEV_BLK_SECTOR_SIZE + 4 * w) !=
				    pattern(sec, stamp[sec], w))
					return fail("read: data differs from the last write, sector", sec);
		}
		drv.bytes_checked += bytes;
		return true;
	}
	case T_OUT:
		drv.writes++;
		return len == 1 || fail("write: used length", len);
	case T_FLUSH:
		drv.flushes++;
		return len == 1 || fail("flush: used length", len);
	case T_GET_ID:
		if (len != VDEV_BLK_ID_BYTES + 1 ||
		    memcmp(host(sl->data), VMM_BLK_SERIAL, sizeof(VMM_BLK_SERIAL)) != 0)
			return fail("GET_ID: serial, used length", len);
		return true;
	default:
		return fail("internal: slot type", sl->type);
	}
}

static void kick(void)
{
	drv.kicks++;
	wr(R_QUEUE_NOTIFY, 0);
}

/* The spec's vring_need_event(): did the index move past `event` (event in [old, new))? */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/* packed ring event suppression (spec "Event Suppression Structure Format") */
#define EV_ENABLE 0u
#define EV_DISABLE 1u
#define EV_DESC 2u
#define EV_WRAP 0x8000u

/*
 * With EVENT_IDX: ask for an interrupt only once `later` more used
 * buffers (split: used_event) or ring entries (packed: the driver's event
 * suppression offset and wrap) have come back, then kick only if the
 * device's side (split: avail_event; packed: its event suppression) asks
 * for one.
 */
static void event_idx_kick(uint16_t later)
{
	uint8_t *drv_area = host(drv.driver);
	const volatile uint8_t *dev_area = host(drv.device);
	bool need;

	if (!drv.packed) {
		put16(drv_area + 4 + 2 * QSIZE, (uint16_t)(drv.last_used + later));
		/* used_event and the avail idx before reading avail_event; pairs
		 * with the device's barrier between its avail_event store and its
		 * idx load */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		uint16_t old = drv.kicked_idx;
		drv.kicked_idx = drv.avail_idx;
		need = need_event(get16(dev_area + 4 + 8 * QSIZE), drv.avail_idx, old);
	} else {
		uint16_t pos = (uint16_t)(drv.used_pos + later);
		bool wrap = drv.used_wrap;
		if (pos >= QSIZE) {
			pos = (uint16_t)(pos - QSIZE);
			wrap = !wrap;
		}
		put16(drv_area, (uint16_t)(pos | (wrap ? EV_WRAP : 0)));
		/* the offset before the flags that make it meaningful */
		__atomic_thread_fence(__ATOMIC_RELEASE);
		put16(drv_area + 2, EV_DESC);
		/* our event and descriptors before reading the device's event */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		uint16_t flags = get16(dev_area + 2) & 3u, off_wrap = get16(dev_area);
		uint16_t new_pos = drv.next_avail, old = (uint16_t)(new_pos - drv.added);
		drv.added = 0;
		if (flags == EV_DESC) {
			uint16_t event = off_wrap & 0x7fffu;
			/* an offset from the previous lap counts as negative */
			if (((off_wrap & EV_WRAP) != 0) != drv.avail_wrap)
				event = (uint16_t)(event - QSIZE);
			need = need_event(event, new_pos, old);
		} else {
			need = flags != EV_DISABLE;
		}
	}
	if (need)
		kick();
	else
		drv.kicks_suppressed++;
}

/* Take the interrupt if the line is up: read the cause, acknowledge it. */
static bool take_interrupt(void)
{
	if (!vmm_irq_line())
		return false;
	uint32_t cause = rd(R_INT_STATUS);
	if (!(cause & VDEV_MMIO_INT_VRING))
		fail("interrupt without a used-buffer cause", cause);
	wr(R_INT_ACK, cause);
	if (vmm_irq_line())
		fail("interrupt line still up after the acknowledgement", cause);
	drv.interrupts++;
	return true;
}

/* Reap everything used; returns the number reaped or -1 on a failure. */
static int reap(void)
{
	int got = 0, s;
	uint32_t len = 0;

	while ((s = ring_get_used(&len)) >= 0) {
		if (!complete((unsigned)s, len))
			return -1;
		got++;
	}
	return s == -1 ? got : -1;
}

static int free_slot(void)
{
	for (unsigned s = 0; s < NSLOTS; s++)
		if (!drv.slots[s].busy)
			return (int)s;
	return -1;
}

/* One run: initialise for a layout, serve `requests` requests, drain, report. */
static bool run(bool packed, bool event_idx, unsigned requests)
{
	const char *name = packed ? (event_idx ? "packed (EVENT_IDX)" : "packed")
				  : (event_idx ? "split (EVENT_IDX)" : "split");
	struct vdev_blk_stats before, after;
	unsigned done = 0, submitted = 0;
	unsigned raises = vmm_irq_raises();

	vmm_blk_stats(&before);
	if (!device_init(packed, event_idx))
		return false;

	/* the serial number first */
	if (!submit(0, T_GET_ID))
		return fail("GET_ID not submitted", 0);
	if (event_idx)
		event_idx_kick(0);
	else
		kick();
	if (!take_interrupt() || reap() != 1)
		return fail("GET_ID: no interrupt or no completion", 0);

	for (unsigned round = 0; done < requests; round++) {
		if (round > 20 * requests)
			return fail("no progress", done);
		/* a batch of random size */
		unsigned batch = 1 + below(NSLOTS);
		int s;
		while (batch-- > 0 && submitted < requests && (s = free_slot()) >= 0) {
			uint32_t r = below(100);
			uint32_t type = r < 2 ? T_FLUSH : r < 50 ? T_OUT : T_IN;
			if (!submit((unsigned)s, type))
				break;
			submitted++;
		}
		if (failure)
			return false;
		/* sometimes leave the buffers on the ring unannounced for a while */
		bool want = drv.in_flight == NSLOTS || submitted == requests || below(4) != 0;
		uint32_t later = 0, entries_before = drv.used_entries;
		if (want && event_idx) {
			/* the next used buffer, or a random number more */
			later = below(2) ? 0 : below(packed ? DESC_PER_SLOT * NSLOTS : NSLOTS);
			event_idx_kick((uint16_t)later);
		} else if (want) {
			kick();
		}
		bool irq = take_interrupt();
		int got = reap();
		if (got < 0 || failure)
			return false;
		/* without EVENT_IDX every batch of used buffers interrupts; with
		 * it, exactly those that move the used index past the event */
		uint32_t back = packed ? drv.used_entries - entries_before : (uint32_t)got;
		bool expect = got > 0 && (!event_idx || later < back);
		if (irq != expect)
			return fail(irq ? "an interrupt not asked for, used buffers"
					: "used buffers without the interrupt asked for",
				    (unsigned)got);
		drv.irqs_suppressed += got > 0 && !irq;
		done += (unsigned)got;
	}
	if (drv.in_flight != 0)
		return fail("requests still in flight", drv.in_flight);

	vmm_blk_stats(&after);
	/* the device's own count agrees with the driver's (GET_ID included) */
	if (after.requests - before.requests != requests + 1 ||
	    after.reads - before.reads != drv.reads + drv.bad ||
	    after.writes - before.writes != drv.writes ||
	    after.flushes - before.flushes != drv.flushes ||
	    after.ioerr - before.ioerr != drv.bad)
		return fail("device counters disagree with the driver's", after.requests - before.requests);

	fw_puts(name);
	fw_puts(" ring: ");
	fw_putu(done);
	fw_puts(" requests ok (");
	fw_putu(drv.reads);
	fw_puts(" reads, ");
	fw_putu(drv.writes);
	fw_puts(" writes, ");
	fw_putu(drv.flushes);
	fw_puts(" flushes, ");
	fw_putu(drv.bad);
	fw_puts(" out-of-range reads answered IOERR, ");
	fw_putu(drv.indirect);
	fw_puts(" indirect), ");
	fw_putu(drv.bytes_checked);
	fw_puts(" bytes read back and verified, ");
	fw_putu(drv.kicks);
	fw_puts(" kicks, ");
	fw_putu(vmm_irq_raises() - raises);
	fw_puts(" interrupts");
	if (event_idx) {
		fw_puts(" (");
		fw_putu(drv.kicks_suppressed);
		fw_puts(" kicks and ");
		fw_putu(drv.irqs_suppressed);
		fw_puts(" interrupts suppressed)");
	}
	fw_puts("\n");
	return true;
}

/*
 * Stack high-water mark: fill the unused part of the stack with a pattern
 * at start, count what was overwritten at the end. The board's linker
 * script gives the stack's bounds.
 */
extern uint32_t __stack_bottom[], __stack_top[];
#define STACK_PAINT 0x5afe57acu

static void fw_stack_paint(void)
{
	/* everything below this frame, less a margin for the calls below */
	uint32_t *limit = (uint32_t *)__builtin_frame_address(0) - 64;
	for (volatile uint32_t *p = __stack_bottom; p < limit; p++)
		*p = STACK_PAINT;
}

static uint32_t fw_stack_used(void)
{
	const volatile uint32_t *p = __stack_bottom;
	while (p < __stack_top && *p == STACK_PAINT)
		p++;
	return (uint32_t)((const char *)__stack_top - (const volatile char *)p);
}

int fw_main(void)
{
	uint64_t unused;
	int rc;

	fw_puts("libvdev firmware on ");
	fw_puts(board_name);
	fw_puts(": virtio-blk (RAM disk) behind virtio-mmio at 0x");
	fw_putx(VMM_BLK_BASE);
	fw_puts("\n");
	rc = vmm_init(guest_ram, GUEST_GPA, GUEST_RAM_SIZE);
	if (rc != 0) {
		fw_puts("FAIL: vmm_init\n");
		return 1;
	}
	if (vmm_trap_read(0x1000, 4, &unused))
		fail("an address no device decodes was accepted", 0x1000);
	/* split, packed, packed with EVENT_IDX, then split with EVENT_IDX long
	 * enough for the split ring's indices to wrap: each run reads what the
	 * previous one wrote, across device resets */
	fw_stack_paint();
	bool ok = failure == NULL && run(false, false, REQUESTS) && run(true, false, REQUESTS) &&
		  run(true, true, REQUESTS) && run(false, true, LONG_RUN);
	if (!ok) {
		fw_puts("FAIL: ");
		fw_puts(failure ? failure : "?");
		fw_puts(" (0x");
		fw_putx(fail_value);
		fw_puts(")\n");
		return 1;
	}
	fw_puts("deepest stack use: ");
	fw_putu(fw_stack_used());
	fw_puts(" bytes (VMM, libvdev and exerciser together)\n");
	fw_puts("firmware: all requests verified: PASS\n");
	return 0;
}

/* ---- console ------------------------------------------------------------------------- */

void fw_puts(const char *s)
{
	while (*s)
		board_putc(*s++);
}

void fw_putu(uint64_t v)
{
	char b[21];
	unsigned i = sizeof(b);

	b[--i] = 0;
	do {
		/* 64-bit division would pull in a libgcc helper on 32-bit ARM */
		uint64_t q = 0, r = v;
		for (int bit = 63; bit >= 0; bit--) {
			if ((r >> bit) >= 10) {
				q |= 1ull << bit;
				r -= 10ull << bit;
			}
		}
		b[--i] = (char)('0' + r);
		v = q;
	} while (v != 0);
	fw_puts(&b[i]);
}

void fw_putx(uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	bool started = false;

	for (int sh = 60; sh >= 0; sh -= 4) {
		unsigned d = (unsigned)(v >> sh) & 0xf;
		if (d || started || sh == 0) {
			board_putc(digits[d]);
			started = true;
		}
	}
}
