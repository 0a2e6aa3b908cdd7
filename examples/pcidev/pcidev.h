/* SPDX-License-Identifier: MIT */
/*
 * pcidev: one function on user-mode Linux's PCI-over-virtio bus, served
 * by libvdev's transports. The reference for wiring transports/pci and
 * transports/mmio to a trap source.
 *
 * The bus. Linux's UML (CONFIG_UML_PCI_OVER_VIRTIO, arch/um/drivers/
 * virt-pci.c) gives its PCI core a host bridge whose slots are virtio
 * devices of a private device id (virtio_uml.device=<socket>:<id>): every
 * configuration-space and BAR access of the guest travels as a message on
 * the slot's queue 0 ("cmd"), and the device sends interrupts as messages
 * on queue 1 ("irq"). The message format is Linux's
 * include/uapi/linux/virtio_pcidev.h: a 16-byte header (op, bar, size,
 * addr; native byte order) and data. Reads carry a device-writable part
 * for the reply; writes are posted (answered with nothing).
 *
 * The function behind a slot is one of:
 *   PCIDEV_FN_VIRTIO_PCI  a virtio-pci function (vdev_pci_*), MSI-X with
 *                         msix_vectors vectors, or INTx only when 0;
 *                         configuration accesses go to
 *                         vdev_pci_config_read/write, BAR accesses to
 *                         vdev_pci_bar_read/write; MSI-X messages become
 *                         MSI messages (UML's MSI data is the Linux IRQ
 *                         number), the INTx line becomes an INT message on
 *                         each rising edge.
 *   PCIDEV_FN_MMIO_SHELL  a plain PCI function that no driver claims
 *                         (vendor PCIDEV_SHELL_VENDOR, device
 *                         PCIDEV_SHELL_DEVICE, class "other system
 *                         peripheral") with one 32-bit memory BAR0 holding
 *                         a virtio-mmio window (vdev_mmio_*) at offset 0.
 *                         Linux's virtio_mmio driver is pointed at it with
 *                         device=<size>@<BAR0 address>:<irq>; the window's
 *                         interrupt is sent as an MSI message whose data is
 *                         that IRQ number (mmio_irq), on each rising edge
 *                         of its line, and again after an InterruptACK
 *                         that leaves status bits set or that follows new
 *                         used-buffer notifications since the driver read
 *                         InterruptStatus (the ACK is a posted write that
 *                         may clear an event the driver has not seen).
 *                         UML forwards BAR
 *                         accesses whether or not memory decoding is
 *                         enabled, and so does the shell.
 * The device model behind either never knows (DESIGN.md).
 *
 * Guest memory (the function's DMA) is the vdev_mem that the vhost-user
 * adapter fills from the slot's SET_MEM_TABLE: UML hands its whole
 * physical memory to every slot, and the addresses its drivers program
 * are offsets into it.
 *
 * Malformed messages (short headers, an unknown or device-to-driver op,
 * sizes other than 1/2/4/8 for configuration accesses, BAR numbers above
 * 5, sizes above PCIDEV_MAX_DATA, data shorter than the size, offsets that
 * wrap or lie past configuration space) are counted and answered
 * harmlessly: reads get all-ones bytes (a PCI master abort), writes are
 * dropped. BAR accesses of other sizes are split into naturally aligned
 * 1/2/4/8-byte accesses; accesses past a BAR read 0 / are ignored by the
 * transports.
 *
 * Interrupt messages need a buffer of the irq queue; while the driver has
 * posted none, they wait (up to PCIDEV_PENDING distinct ones, identical
 * ones coalesced, since an edge already pending says the same) and are
 * sent when it posts some.
 *
 * Context: single-threaded. Every pcidev_* call, the bus device's ops and
 * the function's queue processing (its backends' completions included)
 * run on one thread, e.g. the vhost-user adapter's loop with the
 * function's backend fds added to it: that is what serialises the
 * transport's access path with its queue processing.
 */
#ifndef VDEV_EXAMPLES_PCIDEV_H
#define VDEV_EXAMPLES_PCIDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vdev/device.h"
#include "vdev/mmio.h"
#include "vdev/pci.h"

/* The virtio device id of a bus slot: CONFIG_UML_PCI_OVER_VIRTIO_DEVICE_ID
 * of tests/uml/uml.config (no official id exists). The vhost-user protocol
 * does not carry it; UML takes it from virtio_uml.device=<socket>:<id>. */
#define PCIDEV_DEVICE_ID 4660u

/* Operations (include/uapi/linux/virtio_pcidev.h). */
enum pcidev_op {
	PCIDEV_OP_RESERVED = 0,
	PCIDEV_OP_CFG_READ,
	PCIDEV_OP_CFG_WRITE,
	PCIDEV_OP_MMIO_READ,
	PCIDEV_OP_MMIO_WRITE,
	PCIDEV_OP_MMIO_MEMSET,
	PCIDEV_OP_INT,
	PCIDEV_OP_MSI,
	PCIDEV_OP_PME,
};

#define PCIDEV_HDR_SIZE 16u
/* Largest BAR read or write one message may carry. */
#define PCIDEV_MAX_DATA 64u
/* Largest memset. */
#define PCIDEV_MAX_MEMSET 4096u
/* Size of the driver's configuration space per function. */
#define PCIDEV_CFG_SIZE 4096u
/* Distinct interrupt messages that wait for irq-queue buffers. */
#define PCIDEV_PENDING 64u
/* MSI-X vectors at most (UML's bus has 32 MSI IRQs in all). */
#define PCIDEV_MAX_VECTORS 32u
/* Queues of the function's device at most. */
#define PCIDEV_MAX_FN_QUEUES 64u

#define PCIDEV_SHELL_VENDOR 0x1234u
#define PCIDEV_SHELL_DEVICE 0x7664u

enum pcidev_kind { PCIDEV_FN_VIRTIO_PCI, PCIDEV_FN_MMIO_SHELL };

struct pcidev_config {
	enum pcidev_kind kind;
	/* The device model behind the function (vdev_blk_dev() ...). */
	struct vdev_dev *fn_dev;
	/* Guest memory: the object the vhost-user adapter fills; the
	 * function's device model must use the same one. */
	const struct vdev_mem *mem;
	/* PCIDEV_FN_VIRTIO_PCI: MSI-X table entries, 0..PCIDEV_MAX_VECTORS
	 * (0: no MSI-X capability, the driver uses INTx). */
	uint16_t msix_vectors;
	/* PCIDEV_FN_MMIO_SHELL: the Linux IRQ the window's interrupts name. */
	uint32_t mmio_irq;
	/* Optional: a line for each malformed message (NULL: silent). */
	void (*log)(void *opaque, const char *msg);
	void *log_opaque;
};

struct pcidev_stats {
	uint64_t messages, cfg_reads, cfg_writes, bar_reads, bar_writes, memsets;
	uint64_t bad;      /* malformed messages */
	uint64_t irqs;     /* INT/MSI messages sent */
	uint64_t held;     /* of those, sent late: no irq buffer at first */
	uint64_t coalesced; /* interrupts merged into one already waiting */
};

/* State. Caller-allocated; fields private to pcidev.c. */
struct pcidev {
	struct vdev_dev bus;
	struct vdev_vq bus_queues[2];
	uint64_t bus_queue_held[2 * VDEV_VQ_HELD_WORDS(1024)];
	struct vdev_iov iov[16];
	enum pcidev_kind kind;
	struct vdev_dev *fn_dev;
	struct vdev_pci pci;
	struct vdev_pci_msix_vector msix[PCIDEV_MAX_VECTORS];
	uint16_t queue_vectors[PCIDEV_MAX_FN_QUEUES];
	struct vdev_mmio mmio;
	uint32_t mmio_irq;
	uint32_t shell_bar0; /* as the driver wrote it */
	uint32_t shell_bar_size;
	uint16_t shell_command;
	bool intx_level, mmio_level;
	uint64_t notified_at_read; /* fn_notifications() at the last status read */
	struct {
		uint8_t op;
		uint64_t addr;
		uint32_t data;
	} pending[PCIDEV_PENDING];
	unsigned npending;
	void (*log)(void *opaque, const char *msg);
	void *log_opaque;
	struct pcidev_stats stats;
};

/*
 * pcidev_init() - put `cfg->fn_dev` on a bus slot. Initialises the
 * function's transport (vdev_pci_init / vdev_mmio_init, which install
 * their hooks in fn_dev) and the slot's own virtio device. Returns 0 or
 * VDEV_EINVAL (NULL device or memory, too many vectors or queues, the
 * transport's own refusal).
 * Ownership: fn_dev and mem are borrowed for the life of the pcidev.
 */
int pcidev_init(struct pcidev *p, const struct pcidev_config *cfg);

/* pcidev_bus_dev() - the slot's virtio device: hand it to the vhost-user
 * adapter (vdev_vhost_user_config.dev) with the same vdev_mem. */
struct vdev_dev *pcidev_bus_dev(struct pcidev *p);

/*
 * pcidev_exec() - carry out one message: `msg` holds its `len` readable
 * bytes (header and data), `reply` has room for `cap` bytes of answer.
 * Returns the bytes written to reply (the used length). The bus device's
 * cmd queue calls this for each chain; tests and the fuzzer call it
 * directly.
 */
size_t pcidev_exec(struct pcidev *p, const uint8_t *msg, size_t len, uint8_t *reply, size_t cap);

/* pcidev_reset_function() - a bus-level reset of the function (the slot
 * went away): vdev_pci_reset() / a device reset behind the window, and
 * waiting interrupts are dropped. */
void pcidev_reset_function(struct pcidev *p);

void pcidev_get_stats(const struct pcidev *p, struct pcidev_stats *out);

/*
 * For the example daemons: --pcidev=MODE and --mmio-irq=N. MODE is "pci"
 * (a virtio-pci function with an MSI-X vector per queue and one for
 * configuration changes), "pci-intx" (no MSI-X capability: INTx and the
 * ISR) or "mmio" (a virtio-mmio window in a shell function's BAR0; needs
 * --mmio-irq). pcidev_daemon_config() checks the options and fills *out
 * for pcidev_init(); it prints "<prog>: ..." and returns -1 on bad ones.
 */
struct pcidev_opts {
	const char *mode; /* NULL: not on the bus (plain vhost-user) */
	unsigned mmio_irq;
};
int pcidev_daemon_config(const char *prog, const struct pcidev_opts *o, struct vdev_dev *fn,
			 const struct vdev_mem *mem, struct pcidev_config *out);
/*
 * pcidev_daemon_front() - the device a daemon hands to its vhost-user
 * adapter: `fn` itself without --pcidev; else `p` is set up with fn
 * behind it and its slot device is returned. NULL (after printing why) on
 * bad options or a set-up error.
 */
struct vdev_dev *pcidev_daemon_front(const char *prog, const struct pcidev_opts *o,
				     struct pcidev *p, struct vdev_dev *fn,
				     const struct vdev_mem *mem);

#endif
