/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-pci transport (modern, non-transitional), device side.
 *
 * The integrator traps the guest's accesses to the function's PCI
 * configuration space and to its memory BARs and hands each one to
 * vdev_pci_config_read/write() and vdev_pci_bar_read/write(); libvdev
 * answers with the behaviour of the spec's "Virtio Over PCI Bus" section
 * for whatever device model is behind the struct vdev_dev, and delivers
 * interrupts through hooks the integrator supplies: an INTx level and
 * MSI-X messages (address/data). Freestanding; no allocation.
 *
 * Configuration space (256 bytes, type-0 header):
 *   vendor 0x1AF4, device 0x1040 + device id, revision >= 1, class code
 *   by device type, subsystem ids, interrupt pin INTA, status with the
 *   capability list bit and the INTx "interrupt status" bit; command
 *   register with memory space, bus master and INTx disable writable.
 *   Capabilities: COMMON_CFG, NOTIFY_CFG, ISR_CFG, DEVICE_CFG (if the
 *   device has a config space), PCI_CFG (the access window), MSI-X (if
 *   vectors are configured) and one SHARED_MEMORY_CFG (cap64) per shared
 *   memory region of the device (at most VDEV_PCI_MAX_SHM).
 *   Extended configuration space (256..4095) reads 0, ignores writes.
 *
 * BARs (memory, 64-bit, with the standard sizing protocol):
 *   BAR0/1 (VDEV_PCI_REG_BAR), VDEV_PCI_REG_BAR_SIZE bytes:
 *     0x0000 common configuration      0x3000 notifications (4 bytes
 *     0x1000 ISR status (1 byte)              per queue: notify_off_multiplier
 *     0x2000 device configuration             4, queue_notify_off = index)
 *     0x4000 MSI-X table               0xc000 MSI-X pending bit array
 *   BAR2/3 (VDEV_PCI_SHM_BAR, prefetchable), only if the device has shared
 *     memory: the regions, each at a 4 KiB-aligned offset
 *     (vdev_pci_shm_offset()); the integrator maps their memory itself:
 *     BAR accesses to them read 0 and are ignored.
 *   BAR4, BAR5 and the expansion ROM are not implemented (read 0).
 *
 * Robustness: configuration space takes naturally aligned 1/2/4-byte
 * accesses; read-only fields ignore writes. Common configuration fields
 * take exactly their width (64-bit fields also as two 32-bit halves, or
 * one 64-bit access); device configuration takes aligned 1/2/4/8 bytes;
 * notifications 2 or 4 bytes; MSI-X table and PBA 4 or 8 bytes. Anything
 * else (wrong width, unaligned, outside a structure, an unimplemented
 * BAR) is ignored and reads return 0; nothing touches memory outside the
 * device. A queue_select beyond the queues (0xFFFF included) reads
 * queue_size 0 and NO_VECTOR and ignores writes. A vector number beyond
 * the MSI-X table written to config/queue_msix_vector reads back
 * NO_VECTOR. Writing 0 to queue_enable is ignored (the spec forbids it).
 *
 * Interrupts: with MSI-X enabled in its capability, used-buffer and
 * configuration-change notifications go to the vector mapped to the queue
 * / to config_msix_vector (none for NO_VECTOR); a masked vector (its own
 * mask bit or the function mask) gets its pending bit set and the message
 * is sent when it is unmasked. Without MSI-X the ISR status bits are set
 * and the INTx line is high while ISR is non-zero (and INTx is not
 * disabled in the command register); a read of ISR returns and clears it.
 *
 * Bus Master Enable (command register bit 2, clear after init and reset):
 * a function without it must not start memory transactions, and both
 * MSI-X messages and the device's ring and buffer accesses are memory
 * transactions. While the bit is clear:
 *   - an MSI-X notification is not sent: its vector's pending bit is set,
 *     as for a masked vector, and the message goes out when the bit is
 *     set again (if the vector and the function are unmasked then, else
 *     at the unmask). INTx is a pin (a message, not a memory request, on
 *     PCI Express) and keeps working with the ISR.
 *   - an available-buffer notification (a write to the notify region) is
 *     not passed to the device model; the transport remembers which
 *     queues were notified and passes each on once (without notification
 *     data, which is only a hint) when the bit is set again. A device
 *     reset forgets them. DRIVER_OK and every register work as usual.
 * The transport stops only what passes through it: requests a backend
 * already holds still complete into the used ring, and work the host
 * starts itself (network receive, a vsock packet for the guest) is the
 * integrator's to hold back: vdev_pci_bus_master() says whether it may
 * run. A queue thread that read the bit just before the guest cleared it
 * may still send that one message (as with masking).
 *
 * Context: config and BAR accesses are serialised per function by the
 * integrator (one trapping path). The interrupt hooks may be called from
 * that path and from queue threads (used-buffer notifications); see
 * struct vdev_pci_config.
 */
#ifndef VDEV_PCI_H
#define VDEV_PCI_H

#include "vdev/common.h"
#include "vdev/device.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VDEV_PCI_VENDOR_ID 0x1af4u
#define VDEV_PCI_DEVICE_ID_BASE 0x1040u /* + virtio device id */
#define VDEV_PCI_CONFIG_SIZE 256u

#define VDEV_PCI_NUM_BARS 6u
#define VDEV_PCI_REG_BAR 0u
#define VDEV_PCI_SHM_BAR 2u
#define VDEV_PCI_REG_BAR_SIZE 0x10000u

/* Offsets of the structures inside the register BAR. */
#define VDEV_PCI_COMMON_OFFSET 0x0000u
#define VDEV_PCI_ISR_OFFSET 0x1000u
#define VDEV_PCI_DEVICE_OFFSET 0x2000u
#define VDEV_PCI_NOTIFY_OFFSET 0x3000u
#define VDEV_PCI_NOTIFY_MULTIPLIER 4u
#define VDEV_PCI_MSIX_TABLE_OFFSET 0x4000u
#define VDEV_PCI_MSIX_PBA_OFFSET 0xc000u

#define VDEV_PCI_MAX_MSIX 0x800u /* MSI-X vectors at most */
#define VDEV_PCI_MAX_SHM 3u      /* SHARED_MEMORY_CFG capabilities at most */
#define VDEV_PCI_NO_VECTOR 0xffffu

/* ISR status bits */
#define VDEV_PCI_ISR_QUEUE 0x1u
#define VDEV_PCI_ISR_CONFIG 0x2u

/* One MSI-X table entry plus its pending bit. Caller-allocated (an array
 * of msix_vectors of them); fields private. */
struct vdev_pci_msix_vector {
	uint32_t VDEV_PRIV(addr_lo);
	uint32_t VDEV_PRIV(addr_hi);
	uint32_t VDEV_PRIV(data);
	uint32_t VDEV_PRIV(ctrl);    /* bit 0: masked */
	uint8_t VDEV_PRIV(pending); /* atomic */
	uint32_t VDEV_PRIV(seq);    /* even: stable; odd: access path writing */
};

struct vdev_pci_config {
	/* Subsystem vendor/device id; 0 selects 0x1AF4 / 0x40 + device id. */
	uint16_t subsystem_vendor_id;
	uint16_t subsystem_id;
	/* Revision id; values below 1 are raised to 1 (non-transitional). */
	uint8_t revision;
	/* 24-bit class code (class << 16 | subclass << 8 | prog-if); 0 picks
	 * one by device type: network, mass storage, display, communication
	 * (console), input, or "other". */
	uint32_t class_code;
	/*
	 * MSI-X: `msix_vectors` table entries (0: no MSI-X capability; at
	 * most VDEV_PCI_MAX_MSIX), stored in `msix` (msix_vectors entries),
	 * and `queue_vectors`, one uint16_t per queue of the device (the
	 * queue_msix_vector values). Both arrays are required when
	 * msix_vectors != 0.
	 */
	uint16_t msix_vectors;
	struct vdev_pci_msix_vector *msix;
	uint16_t *queue_vectors;
	/*
	 * INTx line: called with true when the line should be asserted (ISR
	 * non-zero, MSI-X disabled, INTx not disabled) and false when it
	 * should be deasserted. Idempotent; may be called concurrently from
	 * queue threads: libvdev re-checks after every call and calls again
	 * if the level it passed is stale, so the last call carries the true
	 * level. May be NULL.
	 */
	void (*intx)(void *opaque, bool level);
	/*
	 * MSI-X message: write `data` (32 bits) to `addr`, as the function
	 * would on the bus. Called from the access path (unmasking a pending
	 * vector) and from queue threads. May be NULL (messages dropped).
	 */
	void (*msi)(void *opaque, uint64_t addr, uint32_t data);
	/*
	 * The guest placed or moved a BAR, or switched memory decoding:
	 * `base` is the BAR's current address and `enabled` whether the
	 * command register's memory space bit is set. Called for every
	 * change, also with intermediate values while the guest sizes or
	 * reprograms a BAR (the last call is current). May be NULL (then use
	 * vdev_pci_bar_base()). Context: the config access path.
	 */
	void (*bar_map)(void *opaque, unsigned bar, uint64_t base, bool enabled);
	void *opaque; /* first argument of intx, msi and bar_map */
};

/* Transport state. Caller-allocated; fields private. */
struct vdev_pci {
	struct vdev_dev *VDEV_PRIV(dev);
	struct vdev_pci_msix_vector *VDEV_PRIV(msix);
	uint16_t *VDEV_PRIV(queue_vectors);
	void (*VDEV_PRIV(intx))(void *opaque, bool level);
	void (*VDEV_PRIV(msi))(void *opaque, uint64_t addr, uint32_t data);
	void (*VDEV_PRIV(bar_map))(void *opaque, unsigned bar, uint64_t base, bool enabled);
	void *VDEV_PRIV(opaque);
	uint64_t VDEV_PRIV(bar_addr)[VDEV_PCI_NUM_BARS];
	uint64_t VDEV_PRIV(bar_size)[VDEV_PCI_NUM_BARS]; /* 0: not implemented */
	uint64_t VDEV_PRIV(shm_offset)[VDEV_PCI_MAX_SHM];
	uint64_t VDEV_PRIV(driver_features);
	uint32_t VDEV_PRIV(device_features_sel);
	uint32_t VDEV_PRIV(driver_features_sel);
	uint32_t VDEV_PRIV(generation_seen); /* core generation at the last read */
	uint32_t VDEV_PRIV(cfgwin_offset);
	uint32_t VDEV_PRIV(cfgwin_length);
	uint8_t VDEV_PRIV(cfgwin_data)[4];
	uint16_t VDEV_PRIV(command);
	uint16_t VDEV_PRIV(msix_ctrl); /* enable / function mask bits */
	uint16_t VDEV_PRIV(msix_vectors);
	uint16_t VDEV_PRIV(config_vector);
	uint16_t VDEV_PRIV(queue_sel);
	uint8_t VDEV_PRIV(cfgwin_bar);
	uint8_t VDEV_PRIV(isr);       /* atomic */
	uint8_t VDEV_PRIV(generation); /* the 8-bit config_generation */
	uint8_t VDEV_PRIV(cache_line);
	uint8_t VDEV_PRIV(irq_line);
	uint8_t VDEV_PRIV(cap_pci_cfg); /* config offset of the PCI_CFG capability */
	uint8_t VDEV_PRIV(cap_msix);    /* of the MSI-X capability, 0 if none */
	uint8_t VDEV_PRIV(image)[VDEV_PCI_CONFIG_SIZE]; /* read-only contents */
	/* queues notified while bus mastering was off (access path only) */
	uint64_t VDEV_PRIV(held_kicks)[VDEV_MAX_QUEUES / 64u];
};

/*
 * vdev_pci_init() - put a virtio PCI function in front of `dev`.
 * Builds the configuration header and capability list, installs the
 * transport's notification hooks in the device. The function starts as
 * after a PCI reset: BARs at 0, memory decoding off, MSI-X disabled with
 * every vector masked. Returns 0, or VDEV_EINVAL if cfg is NULL,
 * msix_vectors is above VDEV_PCI_MAX_MSIX or its arrays are missing, a
 * queue's maximum size is not a power of 2 (PCI's queue_size must always
 * read 0 or a power of 2), or the device has more than VDEV_PCI_MAX_SHM
 * shared memory regions.
 * Ownership: dev, cfg->msix and cfg->queue_vectors are borrowed for the
 * life of the transport; cfg itself is copied.
 * Context: before the guest can access the function.
 */
VDEV_API int vdev_pci_init(struct vdev_pci *pci, struct vdev_dev *dev,
			   const struct vdev_pci_config *cfg);

/*
 * vdev_pci_reset() - a PCI-level reset of the function (bus reset, FLR):
 * the header returns to its initial state (BARs 0, command 0, MSI-X off,
 * vectors masked, nothing pending) and the virtio device is reset as by a
 * write of 0 to device_status; bus mastering is off and held queue
 * notifications are dropped. Calls bar_map for every BAR that was
 * placed or decoded.
 * Context: the access path, with no queue thread delivering interrupts.
 * Ownership: unchanged (the arrays given to vdev_pci_init stay borrowed).
 */
VDEV_API void vdev_pci_reset(struct vdev_pci *pci);

/*
 * vdev_pci_config_read() - the guest read `size` (1, 2 or 4) bytes at
 * `offset` of the configuration space. Returns the value (little-endian,
 * zero-extended); 0 for unaligned or bad-width accesses and offsets beyond
 * the space. A read of the PCI_CFG window's data performs the BAR read it
 * describes (with its side effects, e.g. ISR read-to-clear).
 * Context: the access path (serialised per function, see the file comment).
 */
VDEV_API uint32_t vdev_pci_config_read(struct vdev_pci *pci, uint32_t offset, unsigned size);

/*
 * vdev_pci_config_write() - the guest wrote the low `size` bytes of
 * `value` at `offset` of the configuration space. BAR writes may call the
 * bar_map hook; a write of the PCI_CFG window's data performs the BAR
 * write it describes. May call the intx, msi and bar_map hooks; setting
 * Bus Master Enable sends held MSI-X messages and passes held queue
 * notifications to the device model (its queue_notify op) before
 * returning.
 * Context: the access path.
 */
VDEV_API void vdev_pci_config_write(struct vdev_pci *pci, uint32_t offset, unsigned size,
				    uint32_t value);

/*
 * vdev_pci_bar_read() - the guest read `size` (1, 2, 4 or 8) bytes at
 * `offset` into BAR `bar` (the BAR's index, 0..5; a 64-bit BAR is named by
 * its lower index). Returns the value, zero-extended; 0 where the rules in
 * the file comment say so. The caller decodes addresses (see
 * vdev_pci_bar_lookup()); libvdev does not check that decoding is on.
 * A 1-byte read of ISR clears it (and may call the intx hook).
 * Context: the access path.
 */
VDEV_API uint64_t vdev_pci_bar_read(struct vdev_pci *pci, unsigned bar, uint64_t offset,
				    unsigned size);

/*
 * vdev_pci_bar_write() - the guest wrote the low `size` bytes of `value`
 * at `offset` into BAR `bar`. Ignored where the rules say so. A queue
 * notification calls the device model's queue_notify op (which may
 * process the queue and send interrupts) before returning, or, with bus
 * mastering off, is held until it is on again.
 * Context: the access path.
 */
VDEV_API void vdev_pci_bar_write(struct vdev_pci *pci, unsigned bar, uint64_t offset,
				 unsigned size, uint64_t value);

/*
 * vdev_pci_bar_base() / vdev_pci_bar_size() - where the guest placed BAR
 * `bar` and how many bytes it decodes (0 for an unimplemented BAR or the
 * upper half of a 64-bit one).
 * Context: any; the base is only stable while the guest does not
 * reprogram the BAR (the access path).
 */
VDEV_API uint64_t vdev_pci_bar_base(const struct vdev_pci *pci, unsigned bar);
VDEV_API uint64_t vdev_pci_bar_size(const struct vdev_pci *pci, unsigned bar);

/* vdev_pci_mem_enabled() - the command register's memory space bit.
 * Context: the access path. */
VDEV_API bool vdev_pci_mem_enabled(const struct vdev_pci *pci);

/*
 * vdev_pci_bus_master() - the command register's Bus Master Enable bit:
 * whether the function may access guest memory (see the file comment).
 * Host-initiated device work (e.g. network receive) should wait while it
 * is false. Context: any (a snapshot; the guest may change it at once).
 */
VDEV_API bool vdev_pci_bus_master(const struct vdev_pci *pci);

/*
 * vdev_pci_bar_lookup() - which BAR decodes guest-physical address `gpa`
 * for an access of `size` bytes: returns 0 with *bar and *offset set, or
 * VDEV_ENOENT (memory decoding off, or no BAR contains the access).
 * For a trap handler that sees addresses, not BARs.
 * Context: the access path.
 */
VDEV_API int vdev_pci_bar_lookup(const struct vdev_pci *pci, uint64_t gpa, unsigned size,
				 unsigned *bar, uint64_t *offset);

/*
 * vdev_pci_shm_offset() - where shared memory region `id` (a shmid of the
 * device) lies inside VDEV_PCI_SHM_BAR: the integrator maps the region's
 * memory at vdev_pci_bar_base(pci, VDEV_PCI_SHM_BAR) + *offset. Returns 0
 * or VDEV_ENOENT. The layout is fixed at vdev_pci_init().
 * Context: any.
 */
VDEV_API int vdev_pci_shm_offset(const struct vdev_pci *pci, uint8_t id, uint64_t *offset);

/* vdev_pci_isr() - the current ISR status without clearing it (polling,
 * diagnostics). Context: any. */
VDEV_API uint8_t vdev_pci_isr(const struct vdev_pci *pci);

/* vdev_pci_msix_enabled() - MSI-X enabled in its capability.
 * Context: any. */
VDEV_API bool vdev_pci_msix_enabled(const struct vdev_pci *pci);

#ifdef __cplusplus
}
#endif

#endif /* VDEV_PCI_H */
