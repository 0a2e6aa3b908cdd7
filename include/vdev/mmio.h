/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-mmio transport (modern, Version 2), device side.
 *
 * The integrator traps the guest's accesses to a device's MMIO window and
 * hands each one to vdev_mmio_read() / vdev_mmio_write(); libvdev answers
 * with the register behaviour of the spec's "Virtio Over MMIO" section
 * for whatever device model is behind the struct vdev_dev, and raises or
 * lowers the device's interrupt line through a hook the integrator
 * supplies. Freestanding; no allocation.
 *
 * Window layout: control registers at 0x000..0x0ff, the device
 * configuration space from 0x100 (vdev_mmio_window_size() bytes in all).
 *
 * Robustness: control registers are accessed 32 bits wide and aligned;
 * anything else (wrong width, unaligned, outside the window, a write to a
 * read-only register, a read of a write-only one) is ignored and reads
 * return 0. The configuration space accepts aligned 1/2/4/8-byte accesses.
 * Queue registers follow the device core's rules (no reprogramming of an
 * enabled queue or after DRIVER_OK); a QueueSel beyond the device's queues
 * reads QueueSizeMax 0 and ignores writes.
 *
 * Context: vdev_mmio_read/write are serialised per device by the
 * integrator (one trapping path). The interrupt hook may be called from
 * the thread that accesses registers and from queue threads (used-buffer
 * notifications); see struct vdev_mmio_config.
 */
#ifndef VDEV_MMIO_H
#define VDEV_MMIO_H

#include "vdev/common.h"
#include "vdev/device.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VDEV_MMIO_MAGIC 0x74726976u /* "virt" */
#define VDEV_MMIO_VERSION 2u
#define VDEV_MMIO_CONFIG_OFFSET 0x100u

/* InterruptStatus bits */
#define VDEV_MMIO_INT_VRING 0x1u
#define VDEV_MMIO_INT_CONFIG 0x2u

/* Where a shared memory region of the device appears in guest-physical space. */
struct vdev_mmio_shm {
	uint8_t id;    /* the shmid of a region in the device's vdev_dev_config.shm */
	uint64_t base; /* guest-physical base the integrator mapped it at */
};

struct vdev_mmio_config {
	/* VendorID register; 0 selects "VDEV" (0x56444556). */
	uint32_t vendor_id;
	/*
	 * Interrupt line: called with true when InterruptStatus becomes
	 * non-zero and false when it returns to zero. It may be called again
	 * with the same level (treat it as idempotent) and, when used-buffer
	 * notifications come from queue threads, concurrently: after every
	 * call libvdev re-checks the status and calls again if the level it
	 * passed is stale, so the last call always carries the true level.
	 * May be NULL (polling integrators read InterruptStatus).
	 */
	void (*irq)(void *opaque, bool level);
	void *irq_opaque;
	/* Placement of the device's shared memory regions (SHMSel/Len/Base). */
	const struct vdev_mmio_shm *shm;
	uint8_t num_shm;
};

/* Transport state. Caller-allocated; fields private. */
struct vdev_mmio {
	struct vdev_dev *VDEV_PRIV(dev);
	void (*VDEV_PRIV(irq))(void *opaque, bool level);
	void *VDEV_PRIV(irq_opaque);
	const struct vdev_mmio_shm *VDEV_PRIV(shm);
	uint64_t VDEV_PRIV(driver_features);
	uint32_t VDEV_PRIV(vendor_id);
	uint32_t VDEV_PRIV(device_features_sel);
	uint32_t VDEV_PRIV(driver_features_sel);
	uint32_t VDEV_PRIV(queue_sel);
	uint32_t VDEV_PRIV(shm_sel);
	uint32_t VDEV_PRIV(interrupt_status); /* atomic */
	uint8_t VDEV_PRIV(num_shm);
};

/*
 * vdev_mmio_init() - put a virtio-mmio window in front of `dev`.
 * Installs the transport's notification hooks in the device. Returns 0, or
 * VDEV_EINVAL if cfg is NULL or a shm entry names a region the device does
 * not have.
 * Ownership: dev and cfg->shm are borrowed for the life of the transport.
 * Context: before the guest can access the window.
 */
VDEV_API int vdev_mmio_init(struct vdev_mmio *mmio, struct vdev_dev *dev,
			    const struct vdev_mmio_config *cfg);

/* vdev_mmio_window_size() - bytes the window decodes: 0x100 + config space. */
VDEV_API uint64_t vdev_mmio_window_size(const struct vdev_mmio *mmio);

/*
 * vdev_mmio_read() - the guest read `size` (1, 2, 4 or 8) bytes at
 * `offset` into the window. Returns the value (little-endian register
 * semantics, zero-extended); 0 for anything the rules above ignore.
 */
VDEV_API uint64_t vdev_mmio_read(struct vdev_mmio *mmio, uint64_t offset, unsigned size);

/*
 * vdev_mmio_write() - the guest wrote the low `size` bytes of `value` at
 * `offset`. Ignored where the rules above say so.
 */
VDEV_API void vdev_mmio_write(struct vdev_mmio *mmio, uint64_t offset, unsigned size,
			      uint64_t value);

/* vdev_mmio_interrupt_status() - the current InterruptStatus (for polling). */
VDEV_API uint32_t vdev_mmio_interrupt_status(const struct vdev_mmio *mmio);

#ifdef __cplusplus
}
#endif

#endif /* VDEV_MMIO_H */
