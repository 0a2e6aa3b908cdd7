/* SPDX-License-Identifier: MIT */
/*
 * The pcidev bus glue (examples/pcidev): UML's PCI-over-virtio messages
 * reach our transports, and malformed ones are answered harmlessly. The
 * real driver runs in tests/uml/; here each message is built by hand,
 * since the tests are about the bytes.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "../examples/pcidev/pcidev.c"
#include "drvsim.h"
#include "testdev.h"

static struct sim_mem m;
static struct testdev td;
static struct pcidev p;

static void setup_kind(enum pcidev_kind kind)
{
	sim_mem_init(&m, 64 * 1024, false);
	cr_assert_eq(testdev_init(&td, &m.mem, 0, 64), 0);
	const struct pcidev_config c = {
		.kind = kind,
		.fn_dev = &td.dev,
		.mem = &m.mem,
		.msix_vectors = kind == PCIDEV_FN_VIRTIO_PCI ? 3 : 0,
		.mmio_irq = 63,
	};
	cr_assert_eq(pcidev_init(&p, &c), 0);
}

static void setup_pci(void) { setup_kind(PCIDEV_FN_VIRTIO_PCI); }
static void setup_shell(void) { setup_kind(PCIDEV_FN_MMIO_SHELL); }

/* Build a message: header plus `dlen` data bytes of `data`. */
static size_t msg(uint8_t *b, uint8_t op, uint8_t bar, uint32_t size, uint64_t addr,
		  const void *data, size_t dlen)
{
	memset(b, 0, PCIDEV_HDR_SIZE);
	b[0] = op;
	b[1] = bar;
	memcpy(b + 4, &size, 4);
	memcpy(b + 8, &addr, 8);
	if (dlen)
		memcpy(b + PCIDEV_HDR_SIZE, data, dlen);
	return PCIDEV_HDR_SIZE + dlen;
}

static uint64_t read_op(uint8_t op, uint8_t bar, uint32_t size, uint64_t addr, size_t *n)
{
	uint8_t b[PCIDEV_HDR_SIZE], r[8];
	uint64_t v = 0;

	memset(r, 0x5a, sizeof(r));
	*n = pcidev_exec(&p, b, msg(b, op, bar, size, addr, NULL, 0), r, sizeof(r));
	for (size_t i = *n; i-- > 0;)
		v = v << 8 | r[i];
	return v;
}

static uint64_t cfg_rd(uint32_t size, uint64_t addr)
{
	size_t n;
	uint64_t v = read_op(PCIDEV_OP_CFG_READ, 0, size, addr, &n);
	cr_assert_eq(n, size);
	return v;
}

static void write_op(uint8_t op, uint8_t bar, uint32_t size, uint64_t addr, uint64_t val)
{
	uint8_t b[PCIDEV_HDR_SIZE + 8], d[8];

	for (unsigned i = 0; i < 8; i++)
		d[i] = (uint8_t)(val >> (8 * i));
	cr_assert_eq(pcidev_exec(&p, b, msg(b, op, bar, size, addr, d, 8), d, 0), 0);
}

TestSuite(pcidev_pci, .init = setup_pci);
TestSuite(pcidev_shell, .init = setup_shell);

Test(pcidev_pci, config_reads_reach_the_virtio_function)
{
	cr_assert_eq(cfg_rd(2, 0), VDEV_PCI_VENDOR_ID);
	cr_assert_eq(cfg_rd(2, 2), VDEV_PCI_DEVICE_ID_BASE + TESTDEV_ID);
	cr_assert_eq(cfg_rd(4, 0), VDEV_PCI_VENDOR_ID | (VDEV_PCI_DEVICE_ID_BASE + TESTDEV_ID) << 16);
	/* an 8-byte read is two dwords */
	cr_assert_eq(cfg_rd(8, 0) & 0xffffffffu, cfg_rd(4, 0));
	cr_assert_eq(p.stats.bad, 0);
}

Test(pcidev_pci, bar_sizing_and_register_access)
{
	write_op(PCIDEV_OP_CFG_WRITE, 0, 4, 0x10, 0xffffffffu);
	uint32_t lo = (uint32_t)cfg_rd(4, 0x10);
	cr_assert_eq(lo & ~0xfu, (uint32_t)~(VDEV_PCI_REG_BAR_SIZE - 1u));
	/* common config: num_queues (offset 0x12) of the function */
	size_t n;
	cr_assert_eq(read_op(PCIDEV_OP_MMIO_READ, 0, 2, 0x12, &n), 2);
	cr_assert_eq(n, 2);
	/* device_status written and read back through the BAR */
	write_op(PCIDEV_OP_MMIO_WRITE, 0, 1, 0x14, VDEV_STATUS_ACKNOWLEDGE);
	cr_assert_eq(read_op(PCIDEV_OP_MMIO_READ, 0, 1, 0x14, &n), VDEV_STATUS_ACKNOWLEDGE);
	cr_assert_eq(vdev_dev_status(&td.dev), VDEV_STATUS_ACKNOWLEDGE);
}

Test(pcidev_pci, odd_sized_bar_access_is_split_naturally)
{
	/* 12 bytes at queue_desc (0x20): an 8-byte access to queue_desc, then
	 * 4 bytes to queue_driver's low half; read back the same way */
	uint8_t b[PCIDEV_HDR_SIZE + 12], d[12], r[12];
	for (unsigned i = 0; i < 12; i++)
		d[i] = (uint8_t)(0x10 + i * 0x10);
	cr_assert_eq(pcidev_exec(&p, b, msg(b, PCIDEV_OP_MMIO_WRITE, 0, 12, 0x20, d, 12), r, 0), 0);
	uint64_t desc, driver, device;
	vdev_vq_addrs(vdev_dev_queue(&td.dev, 0), &desc, &driver, &device);
	cr_assert_eq(desc, 0x8070605040302010ull);
	cr_assert_eq(driver, 0xc0b0a090ull);
	memset(r, 0, sizeof(r));
	cr_assert_eq(pcidev_exec(&p, b, msg(b, PCIDEV_OP_MMIO_READ, 0, 12, 0x20, NULL, 0), r, 12), 12);
	cr_assert_arr_eq(r, d, 12);
	cr_assert_eq(p.stats.bad, 0);
}

Test(pcidev_pci, short_header_is_refused_with_all_ones)
{
	uint8_t b[PCIDEV_HDR_SIZE] = {PCIDEV_OP_CFG_READ}, r[8] = {0};
	cr_assert_eq(pcidev_exec(&p, b, PCIDEV_HDR_SIZE - 1, r, 4), 4);
	cr_assert_eq(r[0], 0xff);
	cr_assert_eq(r[3], 0xff);
	cr_assert_eq(r[4], 0);
	cr_assert_eq(p.stats.bad, 1);
}

Test(pcidev_pci, bad_config_sizes_and_offsets_read_all_ones)
{
	size_t n;
	cr_assert_eq(read_op(PCIDEV_OP_CFG_READ, 0, 3, 0, &n), 0xffffff);
	cr_assert_eq(n, 3);
	cr_assert_eq(read_op(PCIDEV_OP_CFG_READ, 0, 2, 4095, &n), 0xffff); /* crosses the end */
	cr_assert_eq(read_op(PCIDEV_OP_CFG_READ, 0, 4, 4096, &n), 0xffffffffu);
	cr_assert_eq(read_op(PCIDEV_OP_CFG_READ, 0, 4, UINT64_MAX - 1, &n), 0xffffffffu);
	cr_assert_eq(read_op(PCIDEV_OP_CFG_READ, 0, 2, 1, &n), 0xffff); /* unaligned */
	/* a size far beyond the reply buffer answers only what fits */
	cr_assert_eq(read_op(PCIDEV_OP_CFG_READ, 0, 0xffffffffu, 0, &n), UINT64_MAX);
	cr_assert_eq(n, 8);
	cr_assert_eq(p.stats.bad, 6);
	cr_assert_eq(p.stats.cfg_reads, 0);
}

Test(pcidev_pci, bad_writes_are_dropped)
{
	uint8_t b[PCIDEV_HDR_SIZE + 8], d[8] = {0xff, 0xff, 0xff, 0xff}, r[1];
	/* data shorter than the size */
	cr_assert_eq(pcidev_exec(&p, b, msg(b, PCIDEV_OP_CFG_WRITE, 0, 4, 0x10, d, 2), r, 0), 0);
	cr_assert_eq(cfg_rd(4, 0x10) & ~0xfu, 0);
	cr_assert_eq(pcidev_exec(&p, b, msg(b, PCIDEV_OP_MMIO_WRITE, 0, 4, 0x14, d, 3), r, 0), 0);
	cr_assert_eq(vdev_dev_status(&td.dev), 0);
	/* BAR out of range, size 0, size above the limit, wrapping address */
	write_op(PCIDEV_OP_MMIO_WRITE, 6, 1, 0x14, 1);
	write_op(PCIDEV_OP_MMIO_WRITE, 0, 0, 0x14, 1);
	write_op(PCIDEV_OP_MMIO_WRITE, 0, PCIDEV_MAX_DATA + 1, 0x14, 1);
	write_op(PCIDEV_OP_MMIO_WRITE, 0, 8, UINT64_MAX - 3, 1);
	write_op(PCIDEV_OP_MMIO_MEMSET, 0, PCIDEV_MAX_MEMSET + 1, 0, 1);
	write_op(PCIDEV_OP_MMIO_MEMSET, 255, 1, 0, 1);
	cr_assert_eq(vdev_dev_status(&td.dev), 0);
	cr_assert_eq(p.stats.bad, 8);
}

Test(pcidev_pci, bad_bar_reads_answer_all_ones)
{
	size_t n;
	cr_assert_eq(read_op(PCIDEV_OP_MMIO_READ, 6, 4, 0, &n), 0xffffffffu);
	cr_assert_eq(n, 4);
	/* more than the reply buffer holds */
	uint8_t b[PCIDEV_HDR_SIZE], r[4];
	cr_assert_eq(pcidev_exec(&p, b, msg(b, PCIDEV_OP_MMIO_READ, 0, 8, 0, NULL, 0), r, 4), 4);
	cr_assert_eq(r[0], 0xff);
	cr_assert_eq(p.stats.bad, 2);
	/* past the BAR, but a well-formed message: the transport reads 0 */
	cr_assert_eq(read_op(PCIDEV_OP_MMIO_READ, 0, 4, 0x7fffffff0ull, &n), 0);
	cr_assert_eq(n, 4);
	cr_assert_eq(p.stats.bad, 2);
}

Test(pcidev_pci, device_to_driver_and_unknown_ops_are_refused)
{
	size_t n;
	for (uint8_t op = PCIDEV_OP_INT; op <= PCIDEV_OP_PME; op++)
		cr_assert_eq(read_op(op, 0, 4, 0, &n), UINT64_MAX);
	cr_assert_eq(read_op(PCIDEV_OP_RESERVED, 0, 4, 0, &n), UINT64_MAX);
	cr_assert_eq(read_op(200, 0, 4, 0, &n), UINT64_MAX);
	cr_assert_eq(p.stats.bad, 5);
	cr_assert_eq(vdev_dev_status(&td.dev), 0);
}

Test(pcidev_pci, memset_writes_each_byte)
{
	/* memset of device_status..config_generation with 0: the status write
	 * of 0 resets; with ACKNOWLEDGE first it must read 0 afterwards */
	write_op(PCIDEV_OP_MMIO_WRITE, 0, 1, 0x14, VDEV_STATUS_ACKNOWLEDGE);
	write_op(PCIDEV_OP_MMIO_MEMSET, 0, 1, 0x14, 0);
	cr_assert_eq(vdev_dev_status(&td.dev), 0);
	cr_assert_eq(p.stats.memsets, 1);
}

Test(pcidev_pci, interrupts_wait_for_irq_buffers_and_coalesce)
{
	/* the slot's irq queue is not live: messages wait, equal ones merge */
	fn_msi(&p, UML_MSI_ADDR, 70);
	fn_msi(&p, UML_MSI_ADDR, 71);
	fn_msi(&p, UML_MSI_ADDR, 70);
	fn_intx(&p, true);
	fn_intx(&p, true); /* no new edge */
	cr_assert_eq(p.npending, 3);
	cr_assert_eq(p.stats.coalesced, 1);
	pcidev_reset_function(&p);
	cr_assert_eq(p.npending, 0);
}

Test(pcidev_shell, header_identifies_an_unclaimed_function)
{
	cr_assert_eq(cfg_rd(2, 0), PCIDEV_SHELL_VENDOR);
	cr_assert_eq(cfg_rd(2, 2), PCIDEV_SHELL_DEVICE);
	cr_assert_eq(cfg_rd(1, 0x0b), 0x08);  /* base class: system peripheral */
	cr_assert_eq(cfg_rd(1, 0x0e), 0);     /* header type 0 */
	cr_assert_eq(cfg_rd(1, 0x3d), 0);     /* no interrupt pin */
	cr_assert_eq(cfg_rd(4, 0x14), 0);     /* BAR1 absent */
}

Test(pcidev_shell, bar0_sizes_and_holds_the_mmio_window)
{
	write_op(PCIDEV_OP_CFG_WRITE, 0, 4, 0x10, 0xffffffffu);
	cr_assert_eq(cfg_rd(4, 0x10), 0xfffff000u);
	write_op(PCIDEV_OP_CFG_WRITE, 0, 4, 0x10, 0xf0001000u);
	cr_assert_eq(cfg_rd(4, 0x10), 0xf0001000u);
	write_op(PCIDEV_OP_CFG_WRITE, 0, 2, 0x04, 0xffff);
	cr_assert_eq(cfg_rd(2, 0x04), 0x0407);
	size_t n;
	cr_assert_eq(read_op(PCIDEV_OP_MMIO_READ, 0, 4, 0x000, &n), VDEV_MMIO_MAGIC);
	cr_assert_eq(read_op(PCIDEV_OP_MMIO_READ, 0, 4, 0x004, &n), VDEV_MMIO_VERSION);
	cr_assert_eq(read_op(PCIDEV_OP_MMIO_READ, 0, 4, 0x008, &n), TESTDEV_ID);
	/* past the window, and other BARs: 0 */
	cr_assert_eq(read_op(PCIDEV_OP_MMIO_READ, 0, 4, 0xff0, &n), 0);
	cr_assert_eq(read_op(PCIDEV_OP_MMIO_READ, 1, 4, 0, &n), 0);
	cr_assert_eq(p.stats.bad, 0);
}

Test(pcidev_shell, window_interrupt_is_an_msi_naming_the_irq)
{
	/* InterruptStatus rises: one MSI with data 63 waits (no irq buffers);
	 * still high: no second one; an ACK that leaves bits set sends again
	 * (coalesced here, since the first still waits) */
	mmio_line(&p, true);
	mmio_line(&p, true);
	cr_assert_eq(p.npending, 1);
	cr_assert_eq(p.pending[0].op, PCIDEV_OP_MSI);
	cr_assert_eq(p.pending[0].data, 63);
	mmio_line(&p, false);
	mmio_line(&p, true);
	cr_assert_eq(p.npending, 1);
	cr_assert_eq(p.stats.coalesced, 1);
}

Test(pcidev_shell, init_refuses_bad_configs)
{
	struct pcidev q;
	struct pcidev_config c = {.kind = PCIDEV_FN_VIRTIO_PCI, .fn_dev = &td.dev, .mem = &m.mem,
				  .msix_vectors = PCIDEV_MAX_VECTORS + 1};
	cr_assert_eq(pcidev_init(&q, &c), VDEV_EINVAL);
	c.msix_vectors = 0;
	c.mem = NULL;
	cr_assert_eq(pcidev_init(&q, &c), VDEV_EINVAL);
	c.mem = &m.mem;
	c.kind = (enum pcidev_kind)7;
	cr_assert_eq(pcidev_init(&q, &c), VDEV_EINVAL);
}
