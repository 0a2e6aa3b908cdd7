/* SPDX-License-Identifier: MIT */
/*
 * Driver simulator, virtio-pci front end: a guest's PCI enumeration and
 * virtio-pci driver. drv_pci_probe() checks the header, walks the
 * capability list, sizes the BARs and places them, enables memory decoding
 * and (optionally) MSI-X; the transport ops then find every structure the
 * way a driver does (through the capabilities, at the addresses it gave
 * the BARs) and hand each access to vdev_pci_* as a trapping hypervisor
 * would: configuration space to vdev_pci_config_read/write, memory
 * accesses decoded with vdev_pci_bar_lookup() to vdev_pci_bar_read/write,
 * or everything through the PCI_CFG window.
 */
#ifndef VDEV_TESTS_DRV_PCI_H
#define VDEV_TESTS_DRV_PCI_H

#include "drv_transport.h"
#include "vdev/pci.h"

#define DRV_PCI_MSI_ADDR 0xfee00000ull /* message address the driver programs */
#define DRV_PCI_MAX_VECTORS 8          /* vectors it uses: 0 config, 1 + q queues */

/* A virtio structure as found through its capability. */
struct drv_pci_region {
	bool found;
	uint8_t bar;
	uint32_t off, len;
};

struct drv_pci {
	struct vdev_pci *pci;
	/* chosen before drv_pci_probe() */
	bool use_msix;       /* enable MSI-X; config -> vector 0, queue q -> vector 1 + q */
	bool use_cfg_window; /* BAR accesses through the PCI_CFG capability */
	uint64_t place_at;   /* where to put the BARs (0: 0xe0000000) */
	/* found by drv_pci_probe() */
	uint16_t device_id, num_queues;
	uint64_t bar_base[6], bar_size[6];
	bool bar64[6], bar_prefetch[6];
	struct drv_pci_region common, notify, isr, device;
	uint32_t notify_mult;
	uint8_t cfg_cap;  /* PCI_CFG capability offset */
	uint8_t msix_cap; /* MSI-X capability offset, 0 if none */
	uint16_t msix_size;
	uint8_t msix_table_bar, msix_pba_bar;
	uint32_t msix_table_off, msix_pba_off;
	unsigned num_shm;
	struct {
		uint8_t id, bar;
		uint64_t off, len;
	} shm[4];
	unsigned caps_seen;
	/* what the device did */
	bool line;           /* INTx as last driven */
	unsigned raises;     /* INTx low->high transitions */
	unsigned intx_calls;
	unsigned msi_count[DRV_PCI_MAX_VECTORS + 1]; /* messages per vector (last: others) */
	uint32_t msi_seen;   /* DRV_INT_* from messages, taken by take_interrupts */
	uint64_t last_msi_addr;
	uint32_t last_msi_data;
	unsigned bar_map_calls;
	uint64_t mapped_base[6];
	bool mapped_on;
};

extern const struct drv_transport_ops drv_pci_ops;

/* The integrator's hooks for struct vdev_pci_config: opaque is the drv_pci. */
void drv_pci_intx(void *opaque, bool level);
void drv_pci_msi(void *opaque, uint64_t addr, uint32_t data);
void drv_pci_bar_map(void *opaque, unsigned bar, uint64_t base, bool enabled);

/* Enumerate and enable the function; 0, or -1 if something is not as the
 * spec requires (the reason in *why when non-NULL). */
int drv_pci_probe(struct drv_pci *d, const char **why);

static inline struct drv_transport drv_pci_transport(struct drv_pci *d)
{
	struct drv_transport tr = {.ops = &drv_pci_ops, .t = d};
	return tr;
}

/* Raw accesses (tests of misbehaving drivers). */
uint32_t drv_pci_cfg_rd(struct drv_pci *d, uint32_t off, unsigned size);
void drv_pci_cfg_wr(struct drv_pci *d, uint32_t off, unsigned size, uint32_t v);
/* A memory access at a guest-physical address: decoded to a BAR as the
 * bus would; an address no BAR decodes reads all ones. */
uint64_t drv_pci_mem_rd(struct drv_pci *d, uint64_t gpa, unsigned size);
void drv_pci_mem_wr(struct drv_pci *d, uint64_t gpa, unsigned size, uint64_t v);
/* An access at `off` of a virtio structure (common, notify, isr, device),
 * through memory or the PCI_CFG window as chosen. An offset beyond the
 * BAR (tests of hostile drivers) goes to vdev_pci_bar_read/write as is,
 * as an integrator trapping a larger window would pass it on. */
uint64_t drv_pci_rd(struct drv_pci *d, const struct drv_pci_region *r, uint32_t off,
		    unsigned size);
void drv_pci_wr(struct drv_pci *d, const struct drv_pci_region *r, uint32_t off, unsigned size,
		uint64_t v);

#endif
