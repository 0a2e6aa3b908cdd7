/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-pci transport with the echo test device
 * behind it. The input shapes guest memory, picks INTx or MSI-X, and then
 * is a stream of accesses: configuration space and register BAR (any
 * offset, width, value), MSI-X table entries, the PCI_CFG window, Bus
 * Master Enable toggles, PCI resets, plus helper operations that run the real enumeration and
 * initialisation sequence and add a chain, so the fuzzer reaches live
 * queues quickly. Invariants checked after every step: INTx matches ISR /
 * MSI-X enable / INTx disable, ISR has only defined bits, no pending bit
 * beyond the table, the identity and the register BAR's size read back;
 * with BME clear through a step no message is sent and the device model
 * sees no kick; with BME, MSI-X on and the function unmasked only masked
 * vectors are pending (nothing held is stuck); nothing touches memory
 * outside the guest (ASan).
 */
#include <string.h>

#include "drv_pci.h"
#include "fuzz_common.h"
#include "fuzz_mem.h"
#include "testdev.h"
#include "vdev/pci.h"

#define REGION (64u * 1024u)
#define NVEC 4u

static bool msix_enabled_reg(struct vdev_pci *p, struct drv_pci *d)
{
	return d->msix_cap != 0 && (vdev_pci_config_read(p, d->msix_cap + 2u, 2) & 0x8000u);
}

static bool bme_reg(struct vdev_pci *p) { return (vdev_pci_config_read(p, 0x04, 2) & 0x4u) != 0; }

static unsigned msi_total(const struct drv_pci *d)
{
	unsigned n = 0;

	for (unsigned v = 0; v <= DRV_PCI_MAX_VECTORS; v++)
		n += d->msi_count[v];
	return n;
}

/* With BME on, MSI-X enabled and the function unmasked, a pending bit
 * belongs to a masked vector only. */
static bool no_stuck_pending(struct vdev_pci *p)
{
	uint64_t pba = vdev_pci_bar_read(p, 0, VDEV_PCI_MSIX_PBA_OFFSET, 8);

	for (unsigned v = 0; v < NVEC; v++) {
		uint64_t vc = vdev_pci_bar_read(p, 0, VDEV_PCI_MSIX_TABLE_OFFSET + v * 16u + 12u, 4);
		if ((pba >> v & 1u) && !(vc & 1u))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sim_mem m;
	static struct testdev td;
	static struct vdev_pci pci;
	static struct drv_pci dp;
	static struct drv_vq q;
	static struct vdev_pci_msix_vector vec[NVEC];
	static uint16_t qvec[2];
	static int tok[8];
	struct input in = {data, size};
	struct drv_transport tr;
	uint64_t ring = VDEV_BIT(VDEV_F_EVENT_IDX) | VDEV_BIT(VDEV_F_INDIRECT_DESC) |
			VDEV_BIT(VDEV_F_RING_PACKED) | VDEV_BIT(VDEV_F_RING_RESET) |
			VDEV_BIT(VDEV_F_NOTIFICATION_DATA) | VDEV_BIT(VDEV_F_IN_ORDER);
	uint64_t neg = 0;
	unsigned ntok = 0;

	fuzz_mem_reset(&m, REGION, false);
	/* guest memory contents from the input: the first up to 4 KiB */
	size_t fill = take(&in) * 16u;
	for (size_t i = 0; i < fill && in.n > 0; i++)
		m.host[0][i] = take(&in);
	m.next[0] = 4096; /* allocations after the fuzzer's bytes */
	if (testdev_init(&td, &m.mem, ring, 64) != 0)
		return 0;
	memset(&dp, 0, sizeof(dp));
	uint8_t mode = take(&in);
	dp.use_msix = (mode & 1) != 0;
	dp.use_cfg_window = (mode & 2) != 0;
	struct vdev_pci_config c = {.msix_vectors = NVEC, .msix = vec, .queue_vectors = qvec,
				    .intx = drv_pci_intx, .msi = drv_pci_msi,
				    .bar_map = drv_pci_bar_map, .opaque = &dp};
	if (vdev_pci_init(&pci, &td.dev, &c) != 0)
		return 0;
	dp.pci = &pci;
	FUZZ_CHECK(drv_pci_probe(&dp, NULL) == 0);
	tr = drv_pci_transport(&dp);
	tr.reset_polls = FUZZ_RESET_POLLS;
	memset(&q, 0, sizeof(q));

	while (in.n > 0) {
		uint8_t op = take(&in);
		unsigned width = 1u << (take(&in) & 3u);
		bool bme_before = bme_reg(&pci);
		unsigned msi_before = msi_total(&dp), notifies_before = td.notifies;

		switch (op % 13) {
		case 0:
		case 1: { /* BAR write: common config (mostly) or anywhere in the BAR */
			uint64_t off = op % 12 == 0 ? (uint64_t)(take(&in) & 0x3fu) : take16(&in);
			vdev_pci_bar_write(&pci, VDEV_PCI_REG_BAR, off, width, take32(&in));
			break;
		}
		case 2: { /* BAR read */
			uint64_t off = take(&in) & 1 ? (uint64_t)(take(&in) & 0x3fu) : take16(&in);
			(void)vdev_pci_bar_read(&pci, VDEV_PCI_REG_BAR, off, width);
			break;
		}
		case 3: { /* any BAR, any offset (also far above 4 GiB) */
			unsigned bar = take(&in) & 7u;
			uint64_t off = take32(&in);
			off <<= take(&in) & 32u;
			(void)vdev_pci_bar_read(&pci, bar, off, width);
			vdev_pci_bar_write(&pci, bar, off, width, take32(&in));
			break;
		}
		case 4: { /* configuration space write */
			uint32_t off = take(&in) & 1 ? take(&in) : take32(&in);
			vdev_pci_config_write(&pci, off, width, take32(&in));
			break;
		}
		case 5: /* configuration space read */
			(void)vdev_pci_config_read(&pci, take(&in), width);
			break;
		case 6: { /* the real init sequence with input-chosen features */
			uint64_t want = VDEV_BIT(VDEV_F_VERSION_1) | ((uint64_t)take32(&in) << 28);
			sim_mem_reset_alloc(&m); /* fresh rings each time */
			m.next[0] = 4096;
			if (drv_virtio_negotiate(&tr, want | take(&in), &neg) == 0 &&
			    drv_virtio_setup_queue(&tr, &q, &m, 0, (uint16_t)(1u << (take(&in) % 7)),
						   neg) == 0)
				(void)drv_virtio_driver_ok(&tr);
			ntok = 0;
			break;
		}
		case 7: { /* the driver adds a chain and kicks */
			if (q.size == 0 || ntok == 8)
				break;
			uint64_t a = 0x10000u + take(&in) * 16u; /* inside region 0 */
			uint32_t rlen = take(&in);
			struct drv_buf b[2] = {{a, rlen, false}, {a + 2048, take(&in), true}};
			if (drv_add(&q, b, 2, take(&in) & 1, &tok[ntok]) == 0) {
				ntok++;
				tr.ops->notify(tr.t, 0, false, 0);
			}
			uint32_t len;
			while (drv_get_used(&q, &len) != NULL && ntok > 0)
				ntok--;
			(void)tr.ops->take_interrupts(tr.t);
			break;
		}
		case 8: /* a config change from the device side */
			testdev_config_bump(&td);
			break;
		case 9: { /* MSI-X table entry / control */
			uint32_t off = VDEV_PCI_MSIX_TABLE_OFFSET + (take(&in) % (NVEC + 1)) * 16u;
			off += take(&in) & 0xcu;
			vdev_pci_bar_write(&pci, VDEV_PCI_REG_BAR, off, 4, take32(&in));
			if (dp.msix_cap != 0)
				vdev_pci_config_write(&pci, dp.msix_cap + 2u, 2, take16(&in));
			break;
		}
		case 10: { /* the PCI_CFG window */
			uint8_t w = dp.cfg_cap;
			vdev_pci_config_write(&pci, w + 4u, 1, take(&in) & 7u);
			vdev_pci_config_write(&pci, w + 8u, 4, take16(&in));
			vdev_pci_config_write(&pci, w + 12u, 4, take(&in) & 7u);
			width = width > 4 ? 4 : width;
			if (take(&in) & 1)
				vdev_pci_config_write(&pci, w + 16u, width, take32(&in));
			else
				(void)vdev_pci_config_read(&pci, w + 16u, width);
			break;
		}
		case 11: /* Bus Master Enable off / on, keeping the rest of the command */
			vdev_pci_config_write(&pci, 0x04, 2,
					      (vdev_pci_config_read(&pci, 0x04, 2) & ~0x4u) |
						      (take(&in) & 1u ? 0x4u : 0u));
			break;
		default: /* PCI reset, then enumerate again */
			if (take(&in) & 1) {
				vdev_pci_reset(&pci);
				memset(&dp.common, 0, sizeof(dp.common));
				memset(&dp.notify, 0, sizeof(dp.notify));
				memset(&dp.isr, 0, sizeof(dp.isr));
				memset(&dp.device, 0, sizeof(dp.device));
				dp.num_shm = 0;
				dp.cfg_cap = 0;
				FUZZ_CHECK(drv_pci_probe(&dp, NULL) == 0);
			}
			break;
		}
		uint8_t isr = vdev_pci_isr(&pci);
		bool msix = vdev_pci_msix_enabled(&pci);
		FUZZ_CHECK((isr & ~3u) == 0);
		FUZZ_CHECK(msix == msix_enabled_reg(&pci, &dp));
		bool intx_off = (vdev_pci_config_read(&pci, 0x04, 2) & 0x0400u) != 0;
		FUZZ_CHECK(dp.line == (isr != 0 && !msix && !intx_off) || dp.intx_calls == 0);
		FUZZ_CHECK(((vdev_pci_config_read(&pci, 0x06, 2) & 0x08u) != 0) == (isr != 0 && !msix));
		FUZZ_CHECK(vdev_pci_config_read(&pci, 0x00, 4) == ((0x1040u + TESTDEV_ID) << 16 | 0x1af4u));
		FUZZ_CHECK((vdev_pci_bar_read(&pci, 0, VDEV_PCI_MSIX_PBA_OFFSET, 8) & ~0xfull) == 0);
		FUZZ_CHECK(vdev_pci_bar_size(&pci, 0) == VDEV_PCI_REG_BAR_SIZE);
		bool bme = bme_reg(&pci);
		FUZZ_CHECK(bme == vdev_pci_bus_master(&pci));
		if (!bme_before && !bme) {
			FUZZ_CHECK(msi_total(&dp) == msi_before);
			FUZZ_CHECK(td.notifies == notifies_before);
		}
		if (bme && msix && dp.msix_cap != 0 &&
		    !(vdev_pci_config_read(&pci, dp.msix_cap + 2u, 2) & 0x4000u))
			FUZZ_CHECK(no_stuck_pending(&pci));
	}
	drv_vq_destroy(&q);
	return 0;
}
