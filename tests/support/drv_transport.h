/* SPDX-License-Identifier: MIT */
/*
 * Driver simulator, transport half: a guest driver's view of a virtio
 * device behind some transport (virtio-mmio, virtio-pci), as register
 * accesses. The spec's initialisation sequence and queue set-up are
 * written once over these ops, so every transport test runs the same
 * driver logic.
 */
#ifndef VDEV_TESTS_DRV_TRANSPORT_H
#define VDEV_TESTS_DRV_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "drvsim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Interrupt causes reported by take_interrupts(). */
#define DRV_INT_VRING 0x1u
#define DRV_INT_CONFIG 0x2u

struct drv_transport_ops {
	const char *name;
	uint32_t (*device_id)(void *t);
	uint8_t (*get_status)(void *t);
	void (*set_status)(void *t, uint8_t status);
	uint64_t (*get_features)(void *t);
	void (*set_features)(void *t, uint64_t features);
	uint16_t (*queue_max)(void *t, uint16_t q); /* 0: no such queue */
	/* Program size and the three addresses of queue q, then enable it.
	 * Returns true if the device shows it enabled afterwards. */
	bool (*setup_queue)(void *t, uint16_t q, uint16_t size, uint64_t desc, uint64_t driver,
			    uint64_t device);
	bool (*queue_enabled)(void *t, uint16_t q);
	/* RING_RESET of queue q; true if it reads back reset. */
	bool (*reset_queue)(void *t, uint16_t q);
	/* Available-buffer notification; `data` is used with
	 * NOTIFICATION_DATA (upper 16 bits of the notification). */
	void (*notify)(void *t, uint16_t q, bool has_data, uint16_t data);
	uint32_t (*config_generation)(void *t);
	void (*config_read)(void *t, uint32_t off, void *buf, uint32_t len);
	void (*config_write)(void *t, uint32_t off, const void *buf, uint32_t len);
	/* Collect pending interrupts (and acknowledge them): DRV_INT_* mask. */
	uint32_t (*take_interrupts)(void *t);
};

struct drv_transport {
	const struct drv_transport_ops *ops;
	void *t;
	/* how many reads of the status drv_virtio_reset() makes waiting for 0;
	 * 0 means 1000 (time for a device finishing requests on another
	 * thread). A single-threaded fuzz harness sets a few: there nothing
	 * can change between two reads, and a status that never reads 0 (the
	 * window unmapped, memory decoding off) made 1000 reads per reset. */
	unsigned reset_polls;
};

/*
 * The spec's "Device Initialization" up to FEATURES_OK: reset (and wait
 * for status 0), ACKNOWLEDGE, DRIVER, read the device features, write
 * `wanted & offered`, set FEATURES_OK and read it back. Returns 0 and the
 * accepted set in *negotiated, or -1 if FEATURES_OK did not stick (the
 * driver then sets FAILED, as the spec says).
 */
int drv_virtio_negotiate(struct drv_transport *tr, uint64_t wanted, uint64_t *negotiated);

/*
 * Allocate queue q in the simulated guest (drv_vq_init) with the
 * negotiated layout and features and program it. size 0 means the
 * device's maximum. Returns 0, or -1 if the device refused it.
 */
int drv_virtio_setup_queue(struct drv_transport *tr, struct drv_vq *q, struct sim_mem *m,
			   uint16_t index, uint16_t size, uint64_t negotiated);
/* As drv_virtio_setup_queue(), but -1 instead of an abort when the new
 * rings no longer fit in the simulated memory (a harness that resets
 * queues again and again takes new rings each time). */
int drv_virtio_setup_queue_if_room(struct drv_transport *tr, struct drv_vq *q, struct sim_mem *m,
				   uint16_t index, uint16_t size, uint64_t negotiated);

/* Set DRIVER_OK; returns the status read back. */
uint8_t drv_virtio_driver_ok(struct drv_transport *tr);

/* Reset the device and wait until the status reads 0 (bounded). */
int drv_virtio_reset(struct drv_transport *tr);

/* Read the whole config space consistently (generation before == after). */
int drv_virtio_config_read(struct drv_transport *tr, uint32_t off, void *buf, uint32_t len);

#ifdef __cplusplus
}
#endif

#endif
