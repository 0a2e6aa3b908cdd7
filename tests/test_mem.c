/* SPDX-License-Identifier: MIT */
/* Guest memory: region tables, lookups, translate callback, iov helpers. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "vdev/mem.h"

static uint8_t host_a[4096], host_b[4096], host_c[4096];

static struct vdev_mem_region two_adjacent[2];
static struct vdev_mem mem;

/* Two regions adjacent in guest-physical space, separate on the host. */
static void setup_two(void)
{
	memset(host_a, 0xaa, sizeof(host_a));
	memset(host_b, 0xbb, sizeof(host_b));
	two_adjacent[0] = (struct vdev_mem_region){.gpa = 0x1000, .size = 4096, .hva = host_a};
	two_adjacent[1] = (struct vdev_mem_region){.gpa = 0x2000, .size = 4096, .hva = host_b};
	cr_assert_eq(vdev_mem_init(&mem, two_adjacent, 2), 0);
}

Test(mem, init_accepts_sorted_disjoint_regions)
{
	setup_two();
}

Test(mem, init_rejects_bad_tables)
{
	struct vdev_mem m;
	struct vdev_mem_region r[2];

	/* unsorted */
	r[0] = (struct vdev_mem_region){.gpa = 0x3000, .size = 16, .hva = host_a};
	r[1] = (struct vdev_mem_region){.gpa = 0x1000, .size = 16, .hva = host_b};
	cr_expect_eq(vdev_mem_init(&m, r, 2), VDEV_EINVAL);
	/* overlapping */
	r[0] = (struct vdev_mem_region){.gpa = 0x1000, .size = 0x100, .hva = host_a};
	r[1] = (struct vdev_mem_region){.gpa = 0x10ff, .size = 16, .hva = host_b};
	cr_expect_eq(vdev_mem_init(&m, r, 2), VDEV_EINVAL);
	/* zero size */
	r[0] = (struct vdev_mem_region){.gpa = 0x1000, .size = 0, .hva = host_a};
	cr_expect_eq(vdev_mem_init(&m, r, 1), VDEV_EINVAL);
	/* guest end wraps 2^64 */
	r[0] = (struct vdev_mem_region){.gpa = UINT64_MAX - 10, .size = 12, .hva = host_a};
	cr_expect_eq(vdev_mem_init(&m, r, 1), VDEV_EINVAL);
	/* last byte exactly at 2^64-1 is fine */
	r[0] = (struct vdev_mem_region){.gpa = UINT64_MAX - 15, .size = 16, .hva = host_a};
	cr_expect_eq(vdev_mem_init(&m, r, 1), 0);
	/* NULL host pointer, unknown flag, NULL table */
	r[0] = (struct vdev_mem_region){.gpa = 0x1000, .size = 16, .hva = NULL};
	cr_expect_eq(vdev_mem_init(&m, r, 1), VDEV_EINVAL);
	r[0] = (struct vdev_mem_region){.gpa = 0x1000, .size = 16, .hva = host_a, .flags = 0x80};
	cr_expect_eq(vdev_mem_init(&m, r, 1), VDEV_EINVAL);
	cr_expect_eq(vdev_mem_init(&m, NULL, 1), VDEV_EINVAL);
	/* a rejected table leaves memory empty: lookups fail */
	void *p;
	uint64_t got;
	cr_expect_eq(vdev_mem_map(&m, 0x1000, 1, VDEV_MEM_READ, &p, &got), VDEV_EFAULT);
}

Test(mem, map_inside_a_region)
{
	void *p;
	uint64_t got;

	setup_two();
	cr_assert_eq(vdev_mem_map(&mem, 0x1010, 32, VDEV_MEM_READ, &p, &got), 0);
	cr_expect_eq(p, host_a + 0x10);
	cr_expect_eq(got, 32);
	cr_assert_eq(vdev_mem_map(&mem, 0x2ff0, 16, VDEV_MEM_WRITE, &p, &got), 0);
	cr_expect_eq(p, host_b + 0xff0);
	cr_expect_eq(got, 16);
}

Test(mem, map_across_regions_gives_only_the_first_piece)
{
	void *p;
	uint64_t got;

	setup_two();
	cr_assert_eq(vdev_mem_map(&mem, 0x1ff0, 64, VDEV_MEM_READ, &p, &got), 0);
	cr_expect_eq(p, host_a + 0xff0);
	cr_expect_eq(got, 16, "must not assume host contiguity across regions");
}

Test(mem, map_rejects_holes_wraps_and_empty)
{
	void *p;
	uint64_t got;

	setup_two();
	cr_expect_eq(vdev_mem_map(&mem, 0x0, 16, VDEV_MEM_READ, &p, &got), VDEV_EFAULT);
	cr_expect_eq(vdev_mem_map(&mem, 0x3000, 16, VDEV_MEM_READ, &p, &got), VDEV_EFAULT);
	cr_expect_eq(vdev_mem_map(&mem, 0xfff, 16, VDEV_MEM_READ, &p, &got), VDEV_EFAULT);
	cr_expect_eq(vdev_mem_map(&mem, UINT64_MAX - 3, 8, VDEV_MEM_READ, &p, &got),
		     VDEV_EOVERFLOW);
	cr_expect_eq(vdev_mem_map(&mem, 0x1000, UINT64_MAX, VDEV_MEM_READ, &p, &got),
		     VDEV_EOVERFLOW);
	cr_expect_eq(vdev_mem_map(&mem, 0x1000, 0, VDEV_MEM_READ, &p, &got), VDEV_EINVAL);
}

Test(mem, read_only_regions_refuse_writes)
{
	struct vdev_mem m;
	struct vdev_mem_region r = {.gpa = 0x1000, .size = 4096, .hva = host_c,
				    .flags = VDEV_MEM_F_READONLY};
	void *p;
	uint64_t got;
	uint8_t b[4] = {1, 2, 3, 4};

	cr_assert_eq(vdev_mem_init(&m, &r, 1), 0);
	cr_expect_eq(vdev_mem_map(&m, 0x1000, 4, VDEV_MEM_READ, &p, &got), 0);
	cr_expect_eq(vdev_mem_map(&m, 0x1000, 4, VDEV_MEM_WRITE, &p, &got), VDEV_EROFS);
	cr_expect_eq(vdev_mem_write(&m, 0x1000, b, 4), VDEV_EROFS);
}

Test(mem, to_iov_splits_at_region_boundaries)
{
	struct vdev_iov iov[4];
	unsigned n;

	setup_two();
	cr_assert_eq(vdev_mem_to_iov(&mem, 0x1f00, 0x200, VDEV_MEM_READ, iov, 4, &n), 0);
	cr_assert_eq(n, 2);
	cr_expect_eq(iov[0].base, host_a + 0xf00);
	cr_expect_eq(iov[0].len, 0x100);
	cr_expect_eq(iov[1].base, host_b);
	cr_expect_eq(iov[1].len, 0x100);
	/* not enough room for both pieces */
	cr_expect_eq(vdev_mem_to_iov(&mem, 0x1f00, 0x200, VDEV_MEM_READ, iov, 1, &n), VDEV_E2BIG);
	cr_expect_eq(n, 0);
	/* running off the end into the hole */
	cr_expect_eq(vdev_mem_to_iov(&mem, 0x2f00, 0x200, VDEV_MEM_READ, iov, 4, &n), VDEV_EFAULT);
	/* empty range: no segments */
	cr_expect_eq(vdev_mem_to_iov(&mem, 0x2f00, 0, VDEV_MEM_READ, iov, 4, &n), 0);
	cr_expect_eq(n, 0);
}

Test(mem, read_and_write_cross_regions)
{
	uint8_t out[32], in[32];

	setup_two();
	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	cr_assert_eq(vdev_mem_write(&mem, 0x1ff0, in, sizeof(in)), 0);
	cr_expect_eq(host_a[0xfff], 15);
	cr_expect_eq(host_b[0], 16);
	cr_assert_eq(vdev_mem_read(&mem, 0x1ff0, out, sizeof(out)), 0);
	cr_expect_arr_eq(out, in, sizeof(in));
}

Test(mem, write_is_all_or_nothing)
{
	uint8_t in[32];

	setup_two();
	memset(in, 0x55, sizeof(in));
	/* last 16 bytes fall in the hole: nothing may be written */
	cr_expect_eq(vdev_mem_write(&mem, 0x2ff0, in, sizeof(in)), VDEV_EFAULT);
	cr_expect_eq(host_b[0xff0], 0xbb);
	cr_expect_eq(vdev_mem_read(&mem, 0x2ff0, in, sizeof(in)), VDEV_EFAULT);
}

Test(mem, binary_search_over_many_regions)
{
	static uint8_t host[16][64];
	struct vdev_mem_region r[16];
	struct vdev_mem m;
	void *p;
	uint64_t got;

	for (unsigned i = 0; i < 16; i++)
		r[i] = (struct vdev_mem_region){.gpa = 0x10000u * (i + 1), .size = 64,
						.hva = host[i]};
	cr_assert_eq(vdev_mem_init(&m, r, 16), 0);
	for (unsigned i = 0; i < 16; i++) {
		cr_assert_eq(vdev_mem_map(&m, 0x10000u * (i + 1) + 63, 1, VDEV_MEM_READ, &p, &got), 0);
		cr_expect_eq(p, &host[i][63]);
		cr_expect_eq(vdev_mem_map(&m, 0x10000u * (i + 1) + 64, 1, VDEV_MEM_READ, &p, &got),
			     VDEV_EFAULT);
		cr_expect_eq(vdev_mem_map(&m, 0x10000u * (i + 1) - 1, 1, VDEV_MEM_READ, &p, &got),
			     VDEV_EFAULT);
	}
}

/* A translate callback: "IOVA" 0x100000.. maps to host_c in 256-byte pieces
 * (each piece is contiguous only up to its end), read-only above 0x100800. */
static unsigned translate_calls;
static int translate(void *opaque, uint64_t addr, uint64_t len, unsigned access, void **hva,
		     uint64_t *mapped)
{
	uint64_t off, piece_left;

	cr_assert_eq(opaque, &translate_calls);
	translate_calls++;
	if (addr < 0x100000 || addr >= 0x100000 + sizeof(host_c))
		return VDEV_EFAULT;
	off = addr - 0x100000;
	if ((access & VDEV_MEM_WRITE) && off >= 0x800)
		return VDEV_EROFS;
	piece_left = 256 - (off % 256);
	*hva = host_c + off;
	*mapped = len < piece_left ? len : piece_left;
	return 0;
}

Test(mem, translate_callback_for_unmapped_addresses)
{
	struct vdev_iov iov[8];
	unsigned n;
	void *p;
	uint64_t got;

	setup_two();
	vdev_mem_set_translate(&mem, translate, &translate_calls);
	/* regions still win */
	translate_calls = 0;
	cr_assert_eq(vdev_mem_map(&mem, 0x1000, 4, VDEV_MEM_READ, &p, &got), 0);
	cr_expect_eq(translate_calls, 0);
	/* translated, split into the callback's contiguous pieces */
	cr_assert_eq(vdev_mem_to_iov(&mem, 0x100080, 512, VDEV_MEM_READ, iov, 8, &n), 0);
	cr_expect_eq(n, 3);
	cr_expect_eq(iov[0].base, host_c + 0x80);
	cr_expect_eq(iov[0].len, 128);
	cr_expect_eq(iov[1].len, 256);
	cr_expect_eq(iov[2].len, 128);
	/* the callback's errors pass through */
	cr_expect_eq(vdev_mem_map(&mem, 0x100900, 4, VDEV_MEM_WRITE, &p, &got), VDEV_EROFS);
	cr_expect_eq(vdev_mem_map(&mem, 0x900000, 4, VDEV_MEM_READ, &p, &got), VDEV_EFAULT);
}

static int translate_zero(void *opaque, uint64_t addr, uint64_t len, unsigned access,
			  void **hva, uint64_t *mapped)
{
	(void)opaque, (void)addr, (void)len, (void)access;
	*hva = host_c;
	*mapped = 0; /* a broken callback must not cause an endless loop */
	return 0;
}

Test(mem, translate_callback_returning_nothing_is_a_fault)
{
	struct vdev_iov iov[2];
	unsigned n;

	cr_assert_eq(vdev_mem_init(&mem, NULL, 0), 0);
	vdev_mem_set_translate(&mem, translate_zero, NULL);
	cr_expect_eq(vdev_mem_to_iov(&mem, 0x1000, 16, VDEV_MEM_READ, iov, 2, &n), VDEV_EFAULT);
}

Test(mem, iov_copy_helpers)
{
	uint8_t a[5] = {1, 2, 3, 4, 5}, b[3] = {6, 7, 8}, out[8];
	struct vdev_iov iov[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
	uint8_t repl[3] = {0x10, 0x11, 0x12};

	cr_expect_eq(vdev_iov_length(iov, 2), 8);
	cr_expect_eq(vdev_iov_to_buf(iov, 2, 3, out, 4), 4);
	cr_expect_eq(out[0], 4);
	cr_expect_eq(out[3], 7);
	cr_expect_eq(vdev_iov_to_buf(iov, 2, 6, out, 8), 2, "short list copies less");
	cr_expect_eq(vdev_iov_to_buf(iov, 2, 100, out, 8), 0);
	cr_expect_eq(vdev_iov_from_buf(iov, 2, 4, repl, 3), 3);
	cr_expect_eq(a[4], 0x10);
	cr_expect_eq(b[0], 0x11);
	cr_expect_eq(b[1], 0x12);
	struct vdev_iov huge[2] = {{a, SIZE_MAX}, {b, 2}};
	cr_expect_eq(vdev_iov_length(huge, 2), SIZE_MAX, "length saturates");
}
