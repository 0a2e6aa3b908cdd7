/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci transport: the shared transport cases over three front ends
 * (INTx with memory BARs, MSI-X, everything through the PCI_CFG window),
 * plus PCI specifics: header, capabilities, BAR sizing, interrupts, the
 * window, and hostile accesses.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "drv_pci.h"
#include "transport_cases.h"
#include "vdev/pci.h"

static struct sim_mem M;
static struct testdev TD;
static struct vdev_pci PC;
static struct drv_pci DP;
static struct drv_transport TR;
static struct vdev_pci_msix_vector VEC[4];
static uint16_t QV[2];

/* common configuration offsets */
enum {
	DFSELECT = 0x00, DF = 0x04, GFSELECT = 0x08, GF = 0x0c, MSIX_CONFIG = 0x10,
	NUM_QUEUES = 0x12, STATUS = 0x14, GENERATION = 0x15, Q_SELECT = 0x16, Q_SIZE = 0x18,
	Q_MSIX = 0x1a, Q_ENABLE = 0x1c, Q_NOFF = 0x1e, Q_DESC = 0x20, Q_RESET = 0x3a,
};

static void setup_with(bool msix, bool window)
{
	const char *why = "";

	sim_mem_init(&M, 1u << 20, false);
	uint64_t ring = TC_BIT(EVENT_IDX) | TC_BIT(INDIRECT_DESC) | TC_BIT(RING_PACKED) |
			TC_BIT(RING_RESET) | TC_BIT(NOTIFICATION_DATA);
	cr_assert_eq(testdev_init(&TD, &M.mem, ring, 64), 0);
	memset(&DP, 0, sizeof(DP));
	DP.use_msix = msix;
	DP.use_cfg_window = window;
	struct vdev_pci_config c = {.msix_vectors = 4, .msix = VEC, .queue_vectors = QV,
				    .intx = drv_pci_intx, .msi = drv_pci_msi,
				    .bar_map = drv_pci_bar_map, .opaque = &DP};
	cr_assert_eq(vdev_pci_init(&PC, &TD.dev, &c), 0);
	DP.pci = &PC;
	cr_assert_eq(drv_pci_probe(&DP, &why), 0, "probe: %s", why);
	TR = drv_pci_transport(&DP);
}

static void setup_intx(void) { setup_with(false, false); }
static void setup_msix(void) { setup_with(true, false); }
static void setup_window(void) { setup_with(false, true); }

TestSuite(pci, .init = setup_intx);
TestSuite(pci_msix, .init = setup_msix);
TestSuite(pci_cfg_window, .init = setup_window);

/* The cases every transport passes, once per front end. */
#define TRANSPORT_CASES(s)                                                                 \
	Test(s, init_move_data_reset_reinit_split)                                         \
	{                                                                                  \
		tc_init_move_data_reset_reinit(&TR, &M, &TD, false);                       \
	}                                                                                  \
	Test(s, init_move_data_reset_reinit_packed)                                        \
	{                                                                                  \
		tc_init_move_data_reset_reinit(&TR, &M, &TD, true);                        \
	}                                                                                  \
	Test(s, features_ok_refused) { tc_features_ok_refused(&TR); }                      \
	Test(s, queue_registers_locked_after_driver_ok_split)                              \
	{                                                                                  \
		tc_queue_registers_locked_after_driver_ok(&TR, &M, false);                 \
	}                                                                                  \
	Test(s, queue_registers_locked_after_driver_ok_packed)                             \
	{                                                                                  \
		tc_queue_registers_locked_after_driver_ok(&TR, &M, true);                  \
	}                                                                                  \
	Test(s, kick_before_driver_ok_and_disabled_queue)                                  \
	{                                                                                  \
		tc_kick_before_driver_ok_and_disabled_queue(&TR, &M, &TD, false);          \
	}                                                                                  \
	Test(s, config_space) { tc_config_space(&TR, &M, &TD); }                           \
	Test(s, ring_reset_split) { tc_ring_reset(&TR, &M, &TD, false); }                  \
	Test(s, ring_reset_packed) { tc_ring_reset(&TR, &M, &TD, true); }                  \
	Test(s, ring_reset_ongoing) { tc_ring_reset_ongoing(&TR, &M, &TD); }               \
	Test(s, bad_ring_needs_reset) { tc_bad_ring_needs_reset(&TR, &M); }

TRANSPORT_CASES(pci)
TRANSPORT_CASES(pci_msix)
TRANSPORT_CASES(pci_cfg_window)

static uint32_t crd(uint32_t off, unsigned w) { return (uint32_t)drv_pci_rd(&DP, &DP.common, off, w); }
static void cwr(uint32_t off, unsigned w, uint64_t v) { drv_pci_wr(&DP, &DP.common, off, w, v); }
static uint64_t reg(uint32_t off) { return DP.bar_base[0] + off; } /* register BAR address */

/* Send one echo request through queue 0 (already live). */
static void one_request(struct drv_vq *q0)
{
	static int tok;
	uint64_t b = sim_alloc(&M, 16, 8);
	struct drv_buf bufs[2] = {{b, 4, false}, {b + 8, 4, true}};
	uint32_t len;

	cr_assert_eq(drv_add(q0, bufs, 2, false, &tok), 0);
	TR.ops->notify(TR.t, 0, false, 0);
	cr_assert_eq(drv_get_used(q0, &len), &tok);
}

/* ---- header and capabilities --------------------------------------------------- */

Test(pci, header_identity)
{
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x00, 2), 0x1af4);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x02, 2), 0x1040 + TESTDEV_ID);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x00, 4), (0x1040u + TESTDEV_ID) << 16 | 0x1af4u);
	cr_expect_geq(drv_pci_cfg_rd(&DP, 0x08, 1), 1, "revision");
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x08, 4) >> 8, 0xff0000, "class: other");
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x0e, 1), 0, "type-0 header");
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x2c, 2), 0x1af4);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x2e, 2), 0x40 + TESTDEV_ID);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x3d, 1), 1, "INTA#");
	cr_expect(drv_pci_cfg_rd(&DP, 0x06, 2) & 0x10, "capability list");
	cr_expect_eq(DP.device_id, TESTDEV_ID);
	/* read-only fields ignore writes */
	drv_pci_cfg_wr(&DP, 0x00, 4, 0x12345678);
	drv_pci_cfg_wr(&DP, 0x08, 4, 0);
	drv_pci_cfg_wr(&DP, 0x2c, 4, 0);
	drv_pci_cfg_wr(&DP, 0x34, 1, 0);
	drv_pci_cfg_wr(&DP, 0x44, 1, 3); /* the bar field of the first (common) capability */
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x00, 2), 0x1af4);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x08, 4) >> 8, 0xff0000);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x2e, 2), 0x40 + TESTDEV_ID);
	cr_expect_neq(drv_pci_cfg_rd(&DP, 0x34, 1), 0);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x44, 1), 0);
	/* command: memory, bus master and INTx disable are writable, I/O is not */
	drv_pci_cfg_wr(&DP, 0x04, 2, 0xffff);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x04, 2), 0x0406);
	/* writable scratch registers */
	drv_pci_cfg_wr(&DP, 0x3c, 1, 11);
	drv_pci_cfg_wr(&DP, 0x0c, 1, 16);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x3c, 1), 11);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x0c, 1), 16);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x3d, 1), 1);
}

Test(pci, header_from_config_and_class_by_device_type)
{
	static struct vdev_vq qs[1];
	static uint64_t held[VDEV_VQ_HELD_WORDS(8)];
	static struct vdev_dev dev;
	static struct vdev_pci p2;
	static const struct vdev_dev_ops nop = {.size = sizeof(struct vdev_dev_ops)};
	const struct { uint16_t id; uint32_t cls; } types[] = {
		{VDEV_ID_NET, 0x020000}, {VDEV_ID_BLOCK, 0x010000}, {VDEV_ID_CONSOLE, 0x078000},
		{VDEV_ID_GPU, 0x038000}, {VDEV_ID_VSOCK, 0xff0000}};

	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct vdev_dev_config dc = {.device_id = types[i].id, .features = TC_BIT(VERSION_1),
					     .queues = qs, .queue_held = held, .num_queues = 1, .queue_max_size = 8,
					     .mem = &M.mem, .ops = &nop};
		struct vdev_pci_config pc = {0};
		cr_assert_eq(vdev_dev_init(&dev, &dc), 0);
		cr_assert_eq(vdev_pci_init(&p2, &dev, &pc), 0);
		cr_expect_eq(vdev_pci_config_read(&p2, 0x08, 4) >> 8, types[i].cls, "id %u",
			     types[i].id);
		cr_expect_eq(vdev_pci_config_read(&p2, 0x02, 2), 0x1040u + types[i].id);
	}
	struct vdev_pci_config pc = {.subsystem_vendor_id = 0x1234, .subsystem_id = 0x5678,
				     .class_code = 0x0c0330, .revision = 7};
	cr_assert_eq(vdev_pci_init(&p2, &dev, &pc), 0);
	cr_expect_eq(vdev_pci_config_read(&p2, 0x2c, 4), 0x56781234u);
	cr_expect_eq(vdev_pci_config_read(&p2, 0x08, 4), 0x0c033007u);
	/* no config space, no shm, no MSI-X: only the required capabilities */
	unsigned n = 0;
	bool device_cfg = false, msix = false;
	for (uint32_t cap = vdev_pci_config_read(&p2, 0x34, 1); cap != 0 && n < 48;
	     cap = vdev_pci_config_read(&p2, cap + 1, 1), n++) {
		if (vdev_pci_config_read(&p2, cap, 1) == 0x11)
			msix = true;
		else if (vdev_pci_config_read(&p2, cap + 3, 1) == 4)
			device_cfg = true;
	}
	cr_expect_eq(n, 4, "common, notify, isr, pci_cfg");
	cr_expect_not(device_cfg);
	cr_expect_not(msix);
	cr_expect_eq(vdev_pci_bar_size(&p2, VDEV_PCI_SHM_BAR), 0);
}

Test(pci, capabilities)
{
	cr_expect_eq(DP.caps_seen, 7, "common notify isr device pci_cfg msix shm");
	cr_expect(DP.common.found);
	cr_expect_eq(DP.common.bar, 0);
	cr_expect_geq(DP.common.len, 0x3c);
	cr_expect_eq(DP.common.off % 4, 0);
	cr_expect_eq(DP.notify_mult, 4, "a multiple of 4 (NOTIFICATION_DATA)");
	cr_expect_geq(DP.notify.len, 1 * DP.notify_mult + 4, "room for every queue");
	cr_expect_eq(DP.notify.off % 4, 0);
	cr_expect(DP.isr.found);
	cr_expect_eq(DP.device.len, 16);
	cr_expect_neq(DP.cfg_cap, 0);
	cr_expect_eq(DP.msix_size, 4);
	cr_expect_eq(DP.msix_table_bar, 0);
	cr_expect_eq(DP.num_shm, 1);
	cr_expect_eq(DP.shm[0].id, TESTDEV_SHM_ID);
	cr_expect_eq(DP.shm[0].bar, VDEV_PCI_SHM_BAR);
	cr_expect_eq(DP.shm[0].len, 1u << 20);
	uint64_t off = 99;
	cr_expect_eq(vdev_pci_shm_offset(&PC, TESTDEV_SHM_ID, &off), 0);
	cr_expect_eq(off, DP.shm[0].off);
	cr_expect_leq(DP.shm[0].off + DP.shm[0].len, DP.bar_size[VDEV_PCI_SHM_BAR]);
	cr_expect_eq(vdev_pci_shm_offset(&PC, 7, &off), VDEV_ENOENT);
	cr_expect_eq(DP.num_queues, 2);
	/* the shm BAR is the integrator's memory: its accesses are inert */
	cr_expect_eq(vdev_pci_bar_read(&PC, VDEV_PCI_SHM_BAR, 0, 4), 0);
	vdev_pci_bar_write(&PC, VDEV_PCI_SHM_BAR, 0, 4, 1);
}

Test(pci, bar_sizing_and_placement)
{
	cr_expect_eq(DP.bar_size[0], VDEV_PCI_REG_BAR_SIZE);
	cr_expect(DP.bar64[0]);
	cr_expect_not(DP.bar_prefetch[0]);
	cr_expect_eq(DP.bar_size[2], 1u << 20);
	cr_expect(DP.bar64[2]);
	cr_expect(DP.bar_prefetch[2]);
	cr_expect_eq(DP.bar_size[4] | DP.bar_size[5], 0);
	for (unsigned b = 0; b < 6; b += 2) {
		cr_expect_eq(vdev_pci_bar_base(&PC, b), DP.bar_base[b]);
		cr_expect_eq(vdev_pci_bar_size(&PC, b), DP.bar_size[b]);
	}
	cr_expect_eq(vdev_pci_bar_size(&PC, 1), 0, "upper half of a 64-bit BAR");
	cr_expect_eq(vdev_pci_bar_size(&PC, 6), 0);
	cr_expect_eq(vdev_pci_bar_base(&PC, 99), 0);
	/* the hook saw where the guest put them, and decoding on */
	cr_expect_eq(DP.mapped_base[0], DP.bar_base[0]);
	cr_expect_eq(DP.mapped_base[2], DP.bar_base[2]);
	cr_expect(DP.mapped_on);
	cr_expect(vdev_pci_mem_enabled(&PC));
	/* raw sizing: all ones reads back the size mask plus the type bits */
	drv_pci_cfg_wr(&DP, 0x10, 4, 0xffffffffu);
	drv_pci_cfg_wr(&DP, 0x14, 4, 0xffffffffu);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x10, 4), 0xffff0004u);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x14, 4), 0xffffffffu);
	drv_pci_cfg_wr(&DP, 0x18, 4, 0xffffffffu);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x18, 4), 0xfff0000cu, "1 MiB, 64-bit, prefetchable");
	for (uint32_t r = 0x20; r <= 0x24; r += 4) {
		drv_pci_cfg_wr(&DP, r, 4, 0xffffffffu);
		cr_expect_eq(drv_pci_cfg_rd(&DP, r, 4), 0, "BAR%u not implemented", (r - 0x10) / 4);
	}
	drv_pci_cfg_wr(&DP, 0x30, 4, 0xffffffffu);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x30, 4), 0, "no expansion ROM");
	/* move BAR0 above 4 GiB with two 16-bit writes and a 32-bit one */
	drv_pci_cfg_wr(&DP, 0x10, 2, 0x0000);
	drv_pci_cfg_wr(&DP, 0x12, 2, 0xc001);
	drv_pci_cfg_wr(&DP, 0x14, 4, 0x1);
	cr_expect_eq(vdev_pci_bar_base(&PC, 0), 0x1c0010000ull);
	cr_expect_eq(DP.mapped_base[0], 0x1c0010000ull);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x10, 4), 0xc0010004u);
	unsigned bar = 9;
	uint64_t off = 0;
	cr_expect_eq(vdev_pci_bar_lookup(&PC, 0x1c0010000ull + 0x14, 1, &bar, &off), 0);
	cr_expect_eq(bar, 0);
	cr_expect_eq(off, 0x14);
	cr_expect_eq(vdev_pci_bar_lookup(&PC, 0x1c0010000ull + 0xfffe, 4, &bar, &off), VDEV_ENOENT,
		     "straddles the end of the BAR");
	cr_expect_eq(vdev_pci_bar_lookup(&PC, 0x1c0010000ull - 1, 1, &bar, &off), VDEV_ENOENT);
	/* memory decoding off: nothing decodes, the hook is told */
	unsigned calls = DP.bar_map_calls;
	drv_pci_cfg_wr(&DP, 0x04, 2, 0);
	cr_expect_not(DP.mapped_on);
	cr_expect_gt(DP.bar_map_calls, calls);
	cr_expect_eq(vdev_pci_bar_lookup(&PC, 0x1c0010000ull, 1, &bar, &off), VDEV_ENOENT);
	cr_expect_eq(drv_pci_mem_rd(&DP, 0x1c0010000ull + STATUS, 1), 0xff, "master abort");
}

Test(pci, pci_reset_and_reprobe)
{
	struct drv_vq q0;

	memset(&q0, 0, sizeof(q0));
	tc_bring_up(&TR, &M, &q0, false);
	vdev_pci_reset(&PC);
	cr_expect_eq(vdev_dev_status(&TD.dev), 0);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x04, 2), 0);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x10, 4), 0x4);
	cr_expect_eq(vdev_pci_bar_base(&PC, 0), 0);
	cr_expect_not(DP.mapped_on);
	const char *why = "";
	memset(DP.bar_base, 0, sizeof(DP.bar_base));
	DP.common.found = DP.notify.found = DP.isr.found = DP.device.found = false;
	DP.num_shm = 0;
	DP.place_at = 0x2000000000ull;
	cr_assert_eq(drv_pci_probe(&DP, &why), 0, "%s", why);
	cr_expect_eq(vdev_pci_bar_base(&PC, 0), 0x2000000000ull);
	tc_bring_up(&TR, &M, &q0, true);
	tc_echo(&TR, &M, &q0, 3);
	drv_vq_destroy(&q0);
}

Test(pci, init_rejects_bad_configs)
{
	struct vdev_pci p2;
	struct vdev_pci_config c = {.msix_vectors = 0x801, .msix = VEC, .queue_vectors = QV};

	cr_expect_eq(vdev_pci_init(&p2, &TD.dev, &c), VDEV_EINVAL);
	c.msix_vectors = 2;
	c.msix = NULL;
	cr_expect_eq(vdev_pci_init(&p2, &TD.dev, &c), VDEV_EINVAL);
	c.msix = VEC;
	c.queue_vectors = NULL;
	cr_expect_eq(vdev_pci_init(&p2, &TD.dev, &c), VDEV_EINVAL);
	cr_expect_eq(vdev_pci_init(&p2, &TD.dev, NULL), VDEV_EINVAL);
	/* a queue maximum that is not a power of 2 would read back in queue_size */
	static struct testdev td100;
	cr_assert_eq(testdev_init(&td100, &M.mem, 0, 100), 0);
	c.queue_vectors = QV;
	cr_expect_eq(vdev_pci_init(&p2, &td100.dev, &c), VDEV_EINVAL);
	cr_assert_eq(testdev_init(&td100, &M.mem, 0, 128), 0);
	cr_expect_eq(vdev_pci_init(&p2, &td100.dev, &c), 0);
}

/* ---- INTx ---------------------------------------------------------------------- */

Test(pci, intx_and_isr_read_to_clear)
{
	struct drv_vq q0;

	memset(&q0, 0, sizeof(q0));
	tc_bring_up(&TR, &M, &q0, false);
	cr_expect_not(DP.line);
	one_request(&q0);
	cr_expect(DP.line, "used buffer: INTx asserted");
	cr_expect(drv_pci_cfg_rd(&DP, 0x06, 2) & 0x08, "status: interrupt pending");
	cr_expect_eq(vdev_pci_isr(&PC), VDEV_PCI_ISR_QUEUE);
	/* ISR is only read 1 byte wide; wider reads are ignored, no clear */
	cr_expect_eq(drv_pci_mem_rd(&DP, reg(VDEV_PCI_ISR_OFFSET), 4), 0);
	cr_expect_eq(drv_pci_mem_rd(&DP, reg(VDEV_PCI_ISR_OFFSET), 1), VDEV_PCI_ISR_QUEUE);
	cr_expect_not(DP.line, "read-to-clear deasserts");
	cr_expect_eq(drv_pci_mem_rd(&DP, reg(VDEV_PCI_ISR_OFFSET), 1), 0);
	cr_expect_not(drv_pci_cfg_rd(&DP, 0x06, 2) & 0x08);
	/* writes to ISR do nothing */
	testdev_config_bump(&TD);
	cr_expect(DP.line);
	drv_pci_mem_wr(&DP, reg(VDEV_PCI_ISR_OFFSET), 1, 0);
	cr_expect_eq(vdev_pci_isr(&PC), VDEV_PCI_ISR_CONFIG);
	/* INTx disable masks the line, not the status */
	drv_pci_cfg_wr(&DP, 0x04, 2, 0x0406);
	cr_expect_not(DP.line);
	cr_expect(drv_pci_cfg_rd(&DP, 0x06, 2) & 0x08);
	drv_pci_cfg_wr(&DP, 0x04, 2, 0x0006);
	cr_expect(DP.line);
	one_request(&q0);
	cr_expect_eq(drv_pci_mem_rd(&DP, reg(VDEV_PCI_ISR_OFFSET), 1),
		     VDEV_PCI_ISR_QUEUE | VDEV_PCI_ISR_CONFIG);
	cr_expect_not(DP.line);
	cr_expect_eq(DP.msi_count[0] + DP.msi_count[1], 0, "no MSI-X while it is disabled");
	/* device reset clears ISR and the line */
	one_request(&q0);
	cr_expect(DP.line);
	cr_assert_eq(drv_virtio_reset(&TR), 0);
	cr_expect_not(DP.line);
	cr_expect_eq(vdev_pci_isr(&PC), 0);
	drv_vq_destroy(&q0);
}

/* ---- MSI-X --------------------------------------------------------------------- */

static uint64_t table(unsigned v, unsigned word) { return reg(VDEV_PCI_MSIX_TABLE_OFFSET) + v * 16u + word * 4u; }
static uint32_t pba(void) { return (uint32_t)drv_pci_mem_rd(&DP, reg(VDEV_PCI_MSIX_PBA_OFFSET), 4); }

Test(pci_msix, queue_and_config_vectors)
{
	struct drv_vq q0;

	memset(&q0, 0, sizeof(q0));
	tc_bring_up(&TR, &M, &q0, false);
	cr_expect(vdev_pci_msix_enabled(&PC));
	cr_expect_eq(crd(MSIX_CONFIG, 2), 0);
	cwr(Q_SELECT, 2, 0);
	cr_expect_eq(crd(Q_MSIX, 2), 1);
	one_request(&q0);
	cr_expect_eq(DP.msi_count[1], 1, "queue 0 -> vector 1");
	cr_expect_eq(DP.last_msi_addr, DRV_PCI_MSI_ADDR);
	cr_expect_eq(DP.last_msi_data, 1);
	cr_expect_eq(vdev_pci_isr(&PC) & VDEV_PCI_ISR_QUEUE, 0, "ISR unused for queues");
	cr_expect_eq(DP.raises, 0, "no INTx with MSI-X");
	testdev_config_bump(&TD);
	cr_expect_eq(DP.msi_count[0], 1, "config -> vector 0");
	cr_expect_eq(DP.raises, 0);
	/* NO_VECTOR: no message, nothing pending */
	cwr(Q_MSIX, 2, VDEV_PCI_NO_VECTOR);
	cwr(MSIX_CONFIG, 2, VDEV_PCI_NO_VECTOR);
	one_request(&q0);
	testdev_config_bump(&TD);
	cr_expect_eq(DP.msi_count[1], 1);
	cr_expect_eq(DP.msi_count[0], 1);
	cr_expect_eq(pba(), 0);
	/* remap the queue to vector 3 */
	cwr(Q_MSIX, 2, 3);
	one_request(&q0);
	cr_expect_eq(DP.msi_count[3], 1);
	drv_vq_destroy(&q0);
}

Test(pci_msix, vector_out_of_range_reads_no_vector)
{
	uint16_t bad[] = {4, 5, 0x7ff, 0x800, 0xfffe};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cwr(MSIX_CONFIG, 2, bad[i]);
		cr_expect_eq(crd(MSIX_CONFIG, 2), VDEV_PCI_NO_VECTOR, "config vector %u", bad[i]);
		cwr(Q_SELECT, 2, 1);
		cwr(Q_MSIX, 2, bad[i]);
		cr_expect_eq(crd(Q_MSIX, 2), VDEV_PCI_NO_VECTOR, "queue vector %u", bad[i]);
	}
	cwr(MSIX_CONFIG, 2, 3);
	cr_expect_eq(crd(MSIX_CONFIG, 2), 3);
	/* a reset unmaps every event */
	cwr(Q_MSIX, 2, 2);
	cr_expect_eq(crd(Q_MSIX, 2), 2);
	cr_assert_eq(drv_virtio_reset(&TR), 0);
	cr_expect_eq(crd(MSIX_CONFIG, 2), VDEV_PCI_NO_VECTOR);
	cwr(Q_SELECT, 2, 1);
	cr_expect_eq(crd(Q_MSIX, 2), VDEV_PCI_NO_VECTOR);
}

Test(pci_msix, per_vector_mask_sets_pending_and_unmask_delivers)
{
	struct drv_vq q0;

	memset(&q0, 0, sizeof(q0));
	tc_bring_up(&TR, &M, &q0, false);
	drv_pci_mem_wr(&DP, table(1, 3), 4, 1); /* mask vector 1 */
	cr_expect_eq(drv_pci_mem_rd(&DP, table(1, 3), 4), 1);
	one_request(&q0);
	one_request(&q0);
	cr_expect_eq(DP.msi_count[1], 0, "masked");
	cr_expect_eq(pba(), 1u << 1, "pending bit of vector 1");
	/* the entry may be reprogrammed while masked; the new message is sent */
	drv_pci_mem_wr(&DP, table(1, 2), 4, 2);
	cr_expect_eq(drv_pci_mem_rd(&DP, table(1, 2), 4), 2);
	drv_pci_mem_wr(&DP, table(1, 3), 4, 0xfffffffeu); /* unmask (only bit 0 is writable) */
	cr_expect_eq(drv_pci_mem_rd(&DP, table(1, 3), 4), 0);
	cr_expect_eq(DP.msi_count[2], 1, "one message for the pending bit");
	cr_expect_eq(pba(), 0);
	drv_pci_mem_wr(&DP, table(1, 2), 4, 1);
	one_request(&q0);
	cr_expect_eq(DP.msi_count[1], 1);
	/* 8-byte table accesses; the PBA is read-only */
	drv_pci_mem_wr(&DP, table(3, 0), 8, 0x12345678abcdef00ull);
	cr_expect_eq(drv_pci_mem_rd(&DP, table(3, 0), 8), 0x12345678abcdef00ull);
	drv_pci_mem_wr(&DP, reg(VDEV_PCI_MSIX_PBA_OFFSET), 4, 0xf);
	cr_expect_eq(pba(), 0);
	/* beyond the 4-entry table: inert */
	cr_expect_eq(drv_pci_mem_rd(&DP, table(4, 0), 4), 0);
	drv_pci_mem_wr(&DP, table(4, 3), 4, 0);
	cr_expect_eq(drv_pci_mem_rd(&DP, table(3, 1), 2), 0, "2-byte table access");
	drv_vq_destroy(&q0);
}

Test(pci_msix, function_mask)
{
	struct drv_vq q0;

	memset(&q0, 0, sizeof(q0));
	tc_bring_up(&TR, &M, &q0, false);
	drv_pci_cfg_wr(&DP, DP.msix_cap + 2u, 2, 0xc000);
	cr_expect_eq(drv_pci_cfg_rd(&DP, DP.msix_cap + 2u, 2), 0xc000u | 3u, "table size - 1");
	one_request(&q0);
	testdev_config_bump(&TD);
	cr_expect_eq(DP.msi_count[0] + DP.msi_count[1], 0);
	cr_expect_eq(pba(), 0x3u);
	/* the table-size field is read-only */
	drv_pci_cfg_wr(&DP, DP.msix_cap + 2u, 1, 0);
	cr_expect_eq(drv_pci_cfg_rd(&DP, DP.msix_cap + 2u, 2), 0xc003u);
	drv_pci_cfg_wr(&DP, DP.msix_cap + 3u, 1, 0x80);
	cr_expect_eq(DP.msi_count[0], 1);
	cr_expect_eq(DP.msi_count[1], 1);
	cr_expect_eq(pba(), 0);
	/* disabling MSI-X brings INTx back, with the ISR */
	drv_pci_cfg_wr(&DP, DP.msix_cap + 2u, 2, 0);
	cr_expect_not(vdev_pci_msix_enabled(&PC));
	(void)drv_pci_mem_rd(&DP, reg(VDEV_PCI_ISR_OFFSET), 1);
	one_request(&q0);
	cr_expect(DP.line);
	cr_expect_eq(DP.msi_count[1], 1);
	drv_vq_destroy(&q0);
}

/* ---- Bus Master Enable ------------------------------------------------------------ */

#define CMD_MEM_ONLY 0x0002u
#define CMD_MEM_MASTER 0x0006u

static void bme(bool on) { drv_pci_cfg_wr(&DP, 0x04, 2, on ? CMD_MEM_MASTER : CMD_MEM_ONLY); }

/* Add one echo request to q0 without kicking; its token. */
static int *add_request(struct drv_vq *q0)
{
	static int toks[64];
	static unsigned n;
	uint64_t b = sim_alloc(&M, 16, 8);
	struct drv_buf bufs[2] = {{b, 4, false}, {b + 8, 4, true}};
	int *tok = &toks[n++ % 64];

	cr_assert_eq(drv_add(q0, bufs, 2, false, tok), 0);
	return tok;
}

static void kick0(void) { TR.ops->notify(TR.t, 0, false, 0); }

Test(pci, bus_master_enable_register_and_query)
{
	cr_expect(vdev_pci_bus_master(&PC), "the driver set it at probe");
	bme(false);
	cr_expect_not(vdev_pci_bus_master(&PC));
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x04, 2), CMD_MEM_ONLY);
	bme(true);
	cr_expect(vdev_pci_bus_master(&PC));
	vdev_pci_reset(&PC);
	cr_expect_not(vdev_pci_bus_master(&PC), "off after a PCI reset");
}

Test(pci_msix, bme_clear_holds_messages_and_set_delivers)
{
	struct drv_vq q0 = {0};
	uint32_t len;

	tc_bring_up(&TR, &M, &q0, false);
	TD.manual = true;
	int *tok = add_request(&q0);
	kick0(); /* bus mastering on: reaches the model, which waits */
	cr_assert_eq(TD.notifies, 1);
	bme(false);
	cr_assert_eq(testdev_process(&TD), 1); /* completes with BME clear */
	testdev_config_bump(&TD);
	cr_expect_eq(DP.msi_count[0] + DP.msi_count[1], 0, "no memory write without BME");
	cr_expect_eq(pba(), 0x3u, "held as pending: config (0) and queue 0 (1)");
	cr_expect_eq(DP.raises, 0, "no INTx with MSI-X");
	cr_expect_eq(drv_get_used(&q0, &len), tok);
	bme(true);
	cr_expect_eq(DP.msi_count[0], 1, "config message after BME set");
	cr_expect_eq(DP.msi_count[1], 1, "queue message after BME set");
	cr_expect_eq(pba(), 0);
	/* held with the vector also masked: BME alone does not send it, the
	 * unmask does */
	bme(false);
	drv_pci_mem_wr(&DP, table(1, 3), 4, 1);
	tok = add_request(&q0);
	bme(true);
	kick0();
	bme(false);
	cr_assert_eq(testdev_process(&TD), 1);
	cr_expect_eq(pba(), 1u << 1);
	bme(true);
	cr_expect_eq(DP.msi_count[1], 1, "still masked");
	cr_expect_eq(pba(), 1u << 1);
	drv_pci_mem_wr(&DP, table(1, 3), 4, 0);
	cr_expect_eq(DP.msi_count[1], 2, "sent at the unmask");
	cr_expect_eq(pba(), 0);
	cr_expect_eq(drv_get_used(&q0, &len), tok); /* and re-arms EVENT_IDX */
	/* unmasking while BME is clear keeps it pending */
	drv_pci_mem_wr(&DP, table(1, 3), 4, 1);
	tok = add_request(&q0);
	kick0();
	cr_assert_eq(testdev_process(&TD), 1);
	bme(false);
	drv_pci_mem_wr(&DP, table(1, 3), 4, 0);
	cr_expect_eq(DP.msi_count[1], 2, "unmasked but no BME");
	cr_expect_eq(pba(), 1u << 1);
	/* the function mask likewise */
	drv_pci_cfg_wr(&DP, DP.msix_cap + 2u, 2, 0xc000u);
	bme(true);
	cr_expect_eq(DP.msi_count[1], 2, "function masked");
	drv_pci_cfg_wr(&DP, DP.msix_cap + 2u, 2, 0x8000u);
	cr_expect_eq(DP.msi_count[1], 3);
	cr_expect_eq(pba(), 0);
	cr_expect_eq(drv_get_used(&q0, &len), tok);
	drv_vq_destroy(&q0);
}

Test(pci, bme_clear_intx_keeps_working)
{
	struct drv_vq q0 = {0};

	tc_bring_up(&TR, &M, &q0, false);
	TD.manual = true;
	(void)add_request(&q0);
	kick0();
	bme(false);
	cr_assert_eq(testdev_process(&TD), 1);
	cr_expect(DP.line, "INTx is not a memory write");
	cr_expect_eq(drv_pci_mem_rd(&DP, reg(VDEV_PCI_ISR_OFFSET), 1), VDEV_PCI_ISR_QUEUE);
	cr_expect_not(DP.line);
	testdev_config_bump(&TD);
	cr_expect(DP.line);
	cr_expect_eq(DP.msi_count[0] + DP.msi_count[1], 0);
	drv_vq_destroy(&q0);
}

static void bme_kicks_held_and_replayed(void)
{
	struct drv_vq q0 = {0};
	uint32_t len;

	tc_bring_up(&TR, &M, &q0, false);
	bme(false);
	int *t1 = add_request(&q0);
	kick0();
	int *t2 = add_request(&q0);
	kick0();
	TR.ops->notify(TR.t, 1, false, 0); /* queue 1: not set up */
	cr_expect_eq(TD.notifies, 0, "not passed to the model without BME");
	cr_expect_eq(TD.requests, 0);
	cr_expect_null(drv_get_used(&q0, &len), "the rings are not touched");
	bme(true);
	cr_expect_eq(TD.notifies, 1, "two kicks of queue 0 passed on once; queue 1 is not live");
	cr_expect_eq(TD.requests, 2);
	cr_expect_eq(drv_get_used(&q0, &len), t1);
	cr_expect_eq(drv_get_used(&q0, &len), t2);
	cr_expect_neq(TR.ops->take_interrupts(TR.t) & DRV_INT_VRING, 0);
	/* replayed once only */
	bme(false);
	bme(true);
	cr_expect_eq(TD.notifies, 1);
	/* a device reset forgets held kicks (they were for the old rings) */
	bme(false);
	(void)add_request(&q0);
	kick0();
	cr_assert_eq(drv_virtio_reset(&TR), 0);
	drv_vq_destroy(&q0);
	memset(&q0, 0, sizeof(q0));
	/* DRIVER_OK with bus mastering off is allowed */
	tc_bring_up(&TR, &M, &q0, false);
	bme(true);
	cr_expect_eq(TD.notifies, 1, "nothing replayed after the reset");
	bme(false);
	t1 = add_request(&q0);
	kick0();
	cr_expect_eq(TD.requests, 2);
	bme(true);
	cr_expect_eq(TD.requests, 3);
	cr_expect_eq(drv_get_used(&q0, &len), t1);
	/* a PCI reset forgets them too */
	bme(false);
	(void)add_request(&q0);
	kick0();
	vdev_pci_reset(&PC);
	bme(true);
	cr_expect_eq(TD.requests, 3);
	drv_vq_destroy(&q0);
}

Test(pci, bme_clear_holds_kicks_and_set_replays) { bme_kicks_held_and_replayed(); }
Test(pci_msix, bme_clear_holds_kicks_and_set_replays) { bme_kicks_held_and_replayed(); }
Test(pci_cfg_window, bme_clear_holds_kicks_and_set_replays) { bme_kicks_held_and_replayed(); }

/* Toggling BME between requests, kicks and completions: every request is
 * answered and an interrupt follows every completion. */
static void bme_toggling_loses_nothing(bool packed)
{
	struct drv_vq q0 = {0};
	uint32_t len;
	int *want[4];
	unsigned seed = 12345;

	tc_bring_up(&TR, &M, &q0, packed);
	TD.manual = true;
	for (int r = 0; r < 200; r++) {
		unsigned n = 1u + (unsigned)r % 3u;
		seed = seed * 1103515245u + 12345u;
		for (unsigned i = 0; i < n; i++) {
			want[i] = add_request(&q0);
			if (seed & (1u << (8 + i)))
				bme(false);
			kick0();
			if (seed & (1u << (12 + i)))
				bme(true);
		}
		if (seed & (1u << 16))
			bme(false);
		(void)TR.ops->take_interrupts(TR.t);
		(void)testdev_process(&TD); /* nothing unless a kick got through */
		bme(true);                  /* replays what was held */
		(void)testdev_process(&TD);
		cr_assert_neq(TR.ops->take_interrupts(TR.t) & DRV_INT_VRING, 0, "round %d", r);
		for (unsigned i = 0; i < n; i++)
			cr_assert_eq(drv_get_used(&q0, &len), want[i], "round %d", r);
		cr_assert_null(drv_get_used(&q0, &len));
		cr_assert_eq(pba(), 0);
	}
	drv_vq_destroy(&q0);
}

Test(pci, bme_toggling_loses_nothing) { bme_toggling_loses_nothing(false); }
Test(pci_msix, bme_toggling_loses_nothing_split) { bme_toggling_loses_nothing(false); }
Test(pci_msix, bme_toggling_loses_nothing_packed) { bme_toggling_loses_nothing(true); }

/* A queue thread notifying while the access path toggles BME: after BME is
 * back on, a message was sent after the thread's last notification began
 * (so the driver sees everything used before it) and nothing stays
 * pending. */
#define RACE_NOTIFIES 20000ul
static unsigned long race_gen, race_delivered;
static bool race_done;

static void race_msi(void *opaque, uint64_t addr, uint32_t data)
{
	(void)opaque;
	(void)addr;
	if (data == 1)
		__atomic_store_n(&race_delivered, __atomic_load_n(&race_gen, __ATOMIC_SEQ_CST),
				 __ATOMIC_SEQ_CST);
}

static void *race_queue_thread(void *arg)
{
	(void)arg;
	for (unsigned long i = 1; i <= RACE_NOTIFIES; i++) {
		__atomic_store_n(&race_gen, i, __ATOMIC_SEQ_CST); /* "used ring written" */
		vdev_dev_notify_queue(&TD.dev, 0);
	}
	__atomic_store_n(&race_done, true, __ATOMIC_RELEASE);
	return NULL;
}

Test(pci_msix, bme_toggling_against_a_queue_thread)
{
	struct drv_vq q0 = {0};
	struct vdev_pci_config c = {.msix_vectors = 4, .msix = VEC, .queue_vectors = QV,
				    .intx = drv_pci_intx, .msi = race_msi, .opaque = &DP};
	const char *why = "";
	pthread_t th;

	cr_assert_eq(vdev_pci_init(&PC, &TD.dev, &c), 0);
	memset(&DP, 0, sizeof(DP));
	DP.use_msix = true;
	DP.pci = &PC;
	cr_assert_eq(drv_pci_probe(&DP, &why), 0, "probe: %s", why);
	TR = drv_pci_transport(&DP);
	tc_bring_up(&TR, &M, &q0, false);
	for (int round = 0; round < 4; round++) {
		race_gen = race_delivered = 0;
		race_done = false;
		cr_assert_eq(pthread_create(&th, NULL, race_queue_thread, NULL), 0);
		for (unsigned i = 0; !__atomic_load_n(&race_done, __ATOMIC_ACQUIRE); i++) {
			bme(i % 2 != 0);
			if (round >= 2 && i % 7 == 0) /* and the vector mask with it */
				drv_pci_mem_wr(&DP, table(1, 3), 4, (i / 7) % 2);
		}
		cr_assert_eq(pthread_join(th, NULL), 0);
		drv_pci_mem_wr(&DP, table(1, 3), 4, 0);
		bme(true);
		cr_expect_eq(__atomic_load_n(&race_delivered, __ATOMIC_SEQ_CST), RACE_NOTIFIES,
			     "round %d: the last notification got a message", round);
		cr_expect_eq(pba(), 0, "round %d: nothing left pending", round);
	}
	drv_vq_destroy(&q0);
}

/* ---- hostile accesses -------------------------------------------------------------- */

Test(pci, config_space_bad_accesses)
{
	uint8_t st;

	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x01, 2), 0, "unaligned");
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x02, 4), 0);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x00, 3), 0, "width 3");
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x00, 8), 0, "width 8");
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x100, 4), 0, "extended space");
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0xffc, 4), 0);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0xfffffffcu, 4), 0, "near 2^32");
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0xffffffffu, 1), 0);
	drv_pci_cfg_wr(&DP, 0xfffffffcu, 4, ~0u);
	drv_pci_cfg_wr(&DP, 0x100, 4, ~0u);
	drv_pci_cfg_wr(&DP, 0x05, 2, 0);
	drv_pci_cfg_wr(&DP, 0x04, 3, 0);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x04, 2), 0x0006, "command unchanged");
	/* every offset and width: reads never crash; writes of 0 to the
	 * status half of the command dword leave decoding on */
	for (uint32_t off = 0; off < 0x110; off++)
		for (unsigned w = 1; w <= 4; w *= 2)
			(void)drv_pci_cfg_rd(&DP, off, w);
	drv_pci_cfg_wr(&DP, 0x06, 2, 0xffff); /* RW1C error bits: none set */
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x06, 2) & ~0x08u, 0x10);
	cr_expect_eq(drv_pci_cfg_rd(&DP, 0x04, 2), 0x0006);
	st = (uint8_t)crd(STATUS, 1);
	cr_expect_eq(st, 0);
}

Test(pci, bar_bad_accesses)
{
	cwr(STATUS, 1, 1);
	cr_expect_eq(crd(STATUS, 1), 1);
	/* wrong widths for common fields */
	cwr(STATUS, 2, 0);
	cwr(STATUS, 4, 0);
	cr_expect_eq(crd(STATUS, 1), 1, "a 16/32-bit status write must not reset");
	cr_expect_eq(crd(NUM_QUEUES, 4), 0);
	cr_expect_eq(crd(NUM_QUEUES, 1), 0);
	cr_expect_eq(crd(NUM_QUEUES, 2), 2);
	cr_expect_eq(crd(DF, 2), 0);
	cr_expect_eq(crd(0x13, 1), 0, "middle of a field");
	/* unaligned, odd widths, out of the BAR, other BARs */
	cr_expect_eq(vdev_pci_bar_read(&PC, 0, 0x13, 2), 0);
	cr_expect_eq(vdev_pci_bar_read(&PC, 0, 0x14, 3), 0);
	cr_expect_eq(vdev_pci_bar_read(&PC, 0, VDEV_PCI_REG_BAR_SIZE, 4), 0);
	cr_expect_eq(vdev_pci_bar_read(&PC, 0, UINT64_MAX - 3, 4), 0);
	cr_expect_eq(vdev_pci_bar_read(&PC, 0, UINT64_MAX, 1), 0);
	cr_expect_eq(vdev_pci_bar_read(&PC, 1, 0x12, 2), 0);
	cr_expect_eq(vdev_pci_bar_read(&PC, 5, 0x12, 2), 0);
	cr_expect_eq(vdev_pci_bar_read(&PC, 6, 0x12, 2), 0);
	cr_expect_eq(vdev_pci_bar_read(&PC, 1000, 0x12, 2), 0);
	vdev_pci_bar_write(&PC, 1, STATUS, 1, 0);
	vdev_pci_bar_write(&PC, 4, STATUS, 1, 0);
	vdev_pci_bar_write(&PC, 0, UINT64_MAX - 7, 8, 0);
	vdev_pci_bar_write(&PC, 0, STATUS + 0x10000ull, 1, 0);
	vdev_pci_bar_write(&PC, 0, STATUS + (1ull << 32), 1, 0);
	cr_expect_eq(crd(STATUS, 1), 1);
	/* device config past the end and near 2^32 */
	uint64_t dc = VDEV_PCI_DEVICE_OFFSET;
	cr_expect_eq(vdev_pci_bar_read(&PC, 0, dc, 4), TESTDEV_MAGIC);
	cr_expect_eq(vdev_pci_bar_read(&PC, 0, dc, 8), TESTDEV_MAGIC);
	cr_expect_eq(vdev_pci_bar_read(&PC, 0, dc + 12, 8), 0, "8 bytes, 4 past the end");
	cr_expect_eq(vdev_pci_bar_read(&PC, 0, dc + 16, 4), 0);
	cr_expect_eq(vdev_pci_bar_read(&PC, 0, dc + 0xfffffffcull, 4), 0);
	vdev_pci_bar_write(&PC, 0, dc + 0xfffffff8ull, 8, ~0ull);
	vdev_pci_bar_write(&PC, 0, dc + 8, 1, 0x33);
	cr_expect_eq(TD.config[TESTDEV_CFG_KNOB], 0x33);
	/* write-only and read-only places */
	cr_expect_eq(vdev_pci_bar_read(&PC, 0, VDEV_PCI_NOTIFY_OFFSET, 2), 0);
	cwr(NUM_QUEUES, 2, 9);
	cwr(DF, 4, 0);
	cwr(GENERATION, 1, 9);
	cr_expect_eq(crd(NUM_QUEUES, 2), 2);
	cr_expect_neq(crd(DF, 4), 0);
	/* a sweep over the whole BAR with every width: reads are harmless
	 * (except ISR's read-to-clear) */
	for (uint64_t off = 0; off < VDEV_PCI_REG_BAR_SIZE + 16; off += 1)
		for (unsigned w = 1; w <= 8; w *= 2)
			(void)vdev_pci_bar_read(&PC, 0, off, w);
	cr_expect_eq(crd(STATUS, 1), 1);
}

Test(pci, queue_select_beyond_the_queues)
{
	uint32_t sels[] = {2, 100, 0x7fff, 0xfffe, 0xffff};
	static struct drv_vq q0;

	tc_bring_up(&TR, &M, &q0, false);
	for (unsigned i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		cwr(Q_SELECT, 2, sels[i]);
		cr_expect_eq(crd(Q_SELECT, 2), sels[i]);
		cr_expect_eq(crd(Q_SIZE, 2), 0, "queue_size of a missing queue");
		cr_expect_eq(crd(Q_MSIX, 2), VDEV_PCI_NO_VECTOR);
		cr_expect_eq(crd(Q_NOFF, 2), 0);
		cwr(Q_SIZE, 2, 8);
		cwr(Q_MSIX, 2, 1);
		cwr(Q_DESC, 4, 0x1000);
		cwr(Q_DESC + 4, 4, 0);
		cwr(Q_ENABLE, 2, 1);
		cr_expect_eq(crd(Q_ENABLE, 2), 0);
		cr_expect_eq(crd(Q_DESC, 4), 0);
		cwr(Q_RESET, 2, 1);
		cr_expect_eq(crd(Q_RESET, 2), 0);
	}
	cr_expect_eq(TD.notifies, 0);
	/* a 32-bit write to queue_select is the wrong width: ignored */
	cwr(Q_SELECT, 4, 0);
	cr_expect_eq(crd(Q_SELECT, 2), 0xffff);
	drv_vq_destroy(&q0);
}

Test(pci, queue_size_invalid_never_goes_live_and_enable_0_is_ignored)
{
	uint64_t neg;
	static struct drv_vq q0;

	cr_assert_eq(drv_virtio_negotiate(&TR, TC_BIT(VERSION_1), &neg), 0);
	cwr(Q_SELECT, 2, 0);
	cr_expect_eq(crd(Q_SIZE, 2), 64, "queue_size reads the maximum after reset");
	cwr(Q_SIZE, 2, 128); /* above max: ignored */
	cr_expect_eq(crd(Q_SIZE, 2), 64);
	cwr(Q_SIZE, 2, 48); /* not a power of two for a split ring */
	cr_expect_eq(crd(Q_SIZE, 2), 64, "queue_size must read a power of 2 (split)");
	cwr(Q_SIZE, 2, 0);
	cr_expect_eq(crd(Q_SIZE, 2), 64);
	cwr(Q_SIZE, 2, 16);
	cr_expect_eq(crd(Q_SIZE, 2), 16);
	/* a proper queue; then the driver (illegally) writes queue_enable 0 */
	cr_assert_eq(drv_virtio_setup_queue(&TR, &q0, &M, 0, 8, neg), 0);
	cr_assert_eq(drv_virtio_driver_ok(&TR), TC_LIVE);
	cwr(Q_SELECT, 2, 0);
	cwr(Q_ENABLE, 2, 0);
	cr_expect_eq(crd(Q_ENABLE, 2), 1);
	cwr(Q_SIZE, 2, 4);
	cr_expect_eq(crd(Q_SIZE, 2), 8, "size fixed after DRIVER_OK");
	one_request(&q0);
	cr_expect_eq(TD.requests, 1);
	drv_vq_destroy(&q0);
}

Test(pci, packed_ring_takes_any_queue_size)
{
	uint64_t neg;
	static struct drv_vq q0;

	uint64_t want = TC_BIT(VERSION_1) | TC_BIT(RING_PACKED) | TC_BIT(INDIRECT_DESC) |
			VDEV_BIT(TESTDEV_F_XOR);
	cr_assert_eq(drv_virtio_negotiate(&TR, want, &neg), 0);
	cr_assert_eq(drv_virtio_setup_queue(&TR, &q0, &M, 0, 48, neg), 0);
	cr_assert_eq(drv_virtio_driver_ok(&TR), TC_LIVE);
	cwr(Q_SELECT, 2, 0);
	cr_expect_eq(crd(Q_SIZE, 2), 48);
	tc_echo(&TR, &M, &q0, 60);
	drv_vq_destroy(&q0);
}

Test(pci, notification_data)
{
	struct drv_vq q0 = {0};
	uint64_t neg;
	static int tok;
	struct vdev_vq_stats st;

	cr_assert_eq(drv_virtio_negotiate(&TR, TC_BIT(VERSION_1) | TC_BIT(NOTIFICATION_DATA), &neg),
		     0);
	cr_assert_eq(drv_virtio_setup_queue(&TR, &q0, &M, 0, 8, neg), 0);
	cr_assert_eq(drv_virtio_driver_ok(&TR), TC_LIVE);
	uint64_t b = sim_alloc(&M, 16, 8);
	struct drv_buf bufs[2] = {{b, 4, false}, {b + 8, 4, true}};
	cr_assert_eq(drv_add(&q0, bufs, 2, false, &tok), 0);
	TR.ops->notify(TR.t, 0, true, 1); /* queue 0, avail idx 1 */
	cr_expect_eq(TD.requests, 1);
	vdev_vq_get_stats(&TD.q[0], &st);
	cr_expect_eq(st.bad_notify_data, 0);
	TR.ops->notify(TR.t, 0, true, 0x4000); /* inconsistent with the ring */
	vdev_vq_get_stats(&TD.q[0], &st);
	cr_expect_eq(st.bad_notify_data, 1);
	/* odd-sized or misplaced notifications are ignored */
	unsigned n = TD.notifies;
	drv_pci_mem_wr(&DP, reg(VDEV_PCI_NOTIFY_OFFSET), 1, 0);
	drv_pci_mem_wr(&DP, reg(VDEV_PCI_NOTIFY_OFFSET + 2), 2, 0);
	drv_pci_mem_wr(&DP, reg(VDEV_PCI_NOTIFY_OFFSET), 8, 0);
	drv_pci_mem_wr(&DP, reg(VDEV_PCI_NOTIFY_OFFSET + 8), 2, 0); /* queue 2: none */
	cr_expect_eq(TD.notifies, n);
	drv_vq_destroy(&q0);
}

Test(pci, driver_features_halves_and_selectors)
{
	drv_virtio_reset(&TR);
	cwr(STATUS, 1, 3);
	cwr(GFSELECT, 4, 1);
	cwr(GF, 4, 1); /* VERSION_1 (bit 32) */
	cwr(GFSELECT, 4, 0);
	cwr(GF, 4, 1); /* XOR (bit 0) */
	cr_expect_eq(crd(GF, 4), 1);
	cwr(GFSELECT, 4, 7);
	cwr(GF, 4, 0xffffffffu); /* no such word: ignored */
	cr_expect_eq(crd(GF, 4), 0);
	cwr(STATUS, 1, 0x0b);
	cr_expect(crd(STATUS, 1) & 0x08);
	cr_expect_eq(vdev_dev_features(&TD.dev), TC_BIT(VERSION_1) | 1u);
	/* fixed after FEATURES_OK */
	cwr(GFSELECT, 4, 0);
	cwr(GF, 4, 0);
	cr_expect_eq(vdev_dev_features(&TD.dev), TC_BIT(VERSION_1) | 1u);
	cwr(DFSELECT, 4, 2);
	cr_expect_eq(crd(DF, 4), 0, "feature word 2 does not exist");
	cwr(DFSELECT, 4, 0xffffffffu);
	cr_expect_eq(crd(DF, 4), 0);
	cr_expect_eq(crd(DFSELECT, 4), 0xffffffffu);
}

Test(pci, config_generation_changes_even_after_256_changes)
{
	uint32_t g = crd(GENERATION, 1);

	cr_expect_eq(crd(GENERATION, 1), g, "stable without changes");
	testdev_config_bump(&TD);
	cr_expect_neq(crd(GENERATION, 1), g);
	g = crd(GENERATION, 1);
	for (int i = 0; i < 256; i++) /* the core's counter moves by 256 */
		testdev_config_bump(&TD);
	cr_expect_neq(crd(GENERATION, 1), g, "an 8-bit truncation would repeat here");
}

/* ---- the PCI_CFG window ------------------------------------------------------------ */

static void window(uint8_t bar, uint32_t off, uint32_t len)
{
	drv_pci_cfg_wr(&DP, DP.cfg_cap + 4u, 1, bar);
	drv_pci_cfg_wr(&DP, DP.cfg_cap + 8u, 4, off);
	drv_pci_cfg_wr(&DP, DP.cfg_cap + 12u, 4, len);
}

static uint32_t window_data(void) { return drv_pci_cfg_rd(&DP, DP.cfg_cap + 16u, 4); }

Test(pci, pci_cfg_window_reaches_the_bar)
{
	window(0, NUM_QUEUES, 2);
	cr_expect_eq(drv_pci_cfg_rd(&DP, DP.cfg_cap + 4u, 1), 0);
	cr_expect_eq(drv_pci_cfg_rd(&DP, DP.cfg_cap + 8u, 4), NUM_QUEUES);
	cr_expect_eq(drv_pci_cfg_rd(&DP, DP.cfg_cap + 12u, 4), 2);
	cr_expect_eq(window_data(), 2);
	cr_expect_eq(drv_pci_cfg_rd(&DP, DP.cfg_cap + 16u, 2), 2, "a narrower data read");
	window(0, VDEV_PCI_DEVICE_OFFSET, 4);
	cr_expect_eq(window_data(), TESTDEV_MAGIC);
	/* writes: status through the window */
	window(0, STATUS, 1);
	drv_pci_cfg_wr(&DP, DP.cfg_cap + 16u, 1, 1);
	cr_expect_eq(crd(STATUS, 1), 1);
	/* the ISR read through the window clears it */
	uint64_t neg;
	cr_assert_eq(drv_virtio_negotiate(&TR, TC_BIT(VERSION_1), &neg), 0);
	cr_assert_eq(drv_virtio_driver_ok(&TR), TC_LIVE);
	testdev_config_bump(&TD);
	cr_expect(DP.line);
	window(0, VDEV_PCI_ISR_OFFSET, 1);
	cr_expect_eq(window_data(), VDEV_PCI_ISR_CONFIG);
	cr_expect_not(DP.line);
	cr_expect_eq(window_data(), 0);
	/* the MSI-X table is in the BAR too */
	window(0, VDEV_PCI_MSIX_TABLE_OFFSET + 8, 4);
	drv_pci_cfg_wr(&DP, DP.cfg_cap + 16u, 4, 0x55);
	cr_expect_eq(vdev_pci_bar_read(&PC, 0, VDEV_PCI_MSIX_TABLE_OFFSET + 8, 4), 0x55);
}

Test(pci, pci_cfg_window_bad_setups_are_harmless)
{
	cwr(STATUS, 1, 1);
	const struct { uint8_t bar; uint32_t off, len; } bad[] = {
		{0, STATUS, 3},          /* length not 1/2/4 */
		{0, STATUS, 0},
		{0, STATUS, 0xffffffffu},
		{0, NUM_QUEUES + 1, 2},  /* unaligned */
		{0, STATUS, 8},
		{1, STATUS, 1},          /* upper half of BAR0 */
		{2, 0, 4},               /* shm BAR: not ours */
		{5, STATUS, 1},
		{6, STATUS, 1},          /* reserved bar values */
		{0xff, STATUS, 1},
		{0, VDEV_PCI_REG_BAR_SIZE, 4}, /* past the BAR */
		{0, 0xfffffffcu, 4},
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		window(bad[i].bar, bad[i].off, bad[i].len);
		cr_expect_eq(window_data(), 0, "set-up %u", i);
		drv_pci_cfg_wr(&DP, DP.cfg_cap + 16u, 4, 0);
		drv_pci_cfg_wr(&DP, DP.cfg_cap + 16u, 1, 0);
	}
	cr_expect_eq(crd(STATUS, 1), 1, "no write reached status");
	/* the read-only parts of the capability stay as they are */
	uint32_t head = drv_pci_cfg_rd(&DP, DP.cfg_cap, 4);
	drv_pci_cfg_wr(&DP, DP.cfg_cap, 4, 0);
	cr_expect_eq(drv_pci_cfg_rd(&DP, DP.cfg_cap, 4), head);
	cr_expect_eq(head & 0xff, 0x09);
	cr_expect_eq(head >> 24, 5, "cfg_type PCI_CFG");
}
