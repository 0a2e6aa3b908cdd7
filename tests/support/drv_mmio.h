/* SPDX-License-Identifier: MIT */
/*
 * Driver simulator, virtio-mmio front end: the guest driver's register
 * accesses go straight to vdev_mmio_read/write (as a trapping hypervisor
 * would hand them over), and the interrupt line is recorded.
 */
#ifndef VDEV_TESTS_DRV_MMIO_H
#define VDEV_TESTS_DRV_MMIO_H

#include "drv_transport.h"
#include "vdev/mmio.h"

struct drv_mmio {
	struct vdev_mmio *mmio;
	/* Optional bus: when set, accesses go here instead of straight to
	 * vdev_mmio_read/write (e.g. through an integrator's trap handler). */
	uint64_t (*bus_read)(void *ctx, uint64_t off, unsigned size);
	void (*bus_write)(void *ctx, uint64_t off, unsigned size, uint64_t v);
	void *bus_ctx;
	bool line;           /* interrupt line as last driven by the device */
	unsigned raises;     /* low->high transitions seen */
	unsigned hook_calls;
};

extern const struct drv_transport_ops drv_mmio_ops;

/* The integrator's interrupt hook for struct vdev_mmio_config: opaque is
 * the struct drv_mmio. */
void drv_mmio_irq(void *opaque, bool level);

static inline struct drv_transport drv_mmio_transport(struct drv_mmio *d)
{
	struct drv_transport tr = {.ops = &drv_mmio_ops, .t = d};
	return tr;
}

/* Put `dev` behind the virtio-mmio transport `mmio` (vdev_mmio_init(),
 * default configuration) with its interrupt line wired to `d`, which is
 * then reset to serve it, and set *tr to the driver's view of it. Returns
 * vdev_mmio_init()'s result. */
int drv_mmio_attach(struct drv_mmio *d, struct vdev_mmio *mmio, struct vdev_dev *dev,
		    struct drv_transport *tr);

/* Raw 32-bit register access (tests of misbehaving drivers). */
uint32_t drv_mmio_rd(struct drv_mmio *d, uint32_t off);
void drv_mmio_wr(struct drv_mmio *d, uint32_t off, uint32_t v);

#endif
