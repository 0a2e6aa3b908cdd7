/* SPDX-License-Identifier: MIT */
/*
 * libvdev — device core.
 *
 * What every virtio device has, whatever carries it: a device id, the
 * offered and negotiated feature bits, the device status state machine, a
 * configuration space with a generation counter, an array of queues, and
 * reset. A device model (blk, net, ... or the integrator's own) fills in a
 * `struct vdev_dev_ops`; a transport (mmio, pci, vhost-user) calls the
 * vdev_dev_* functions when the driver touches its registers and supplies
 * `struct vdev_transport_ops` to deliver interrupts. Neither knows the
 * other.
 *
 * Context: the transport-facing calls (features, status, config, queue
 * programming, notify) must be serialised per device by the integrator,
 * typically because they come from one trapping vCPU path or one
 * vhost-user connection. Queue processing may run on other threads; see
 * virtqueue.h.
 */
#ifndef VDEV_DEVICE_H
#define VDEV_DEVICE_H

#include "vdev/common.h"
#include "vdev/mem.h"
#include "vdev/virtqueue.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VDEV_BIT(n) (UINT64_C(1) << (n))

/* Reserved (transport/ring) feature bits, spec section "Reserved Feature Bits". */
#define VDEV_F_INDIRECT_DESC 28
#define VDEV_F_EVENT_IDX 29
#define VDEV_F_VERSION_1 32
#define VDEV_F_ACCESS_PLATFORM 33
#define VDEV_F_RING_PACKED 34
#define VDEV_F_IN_ORDER 35
#define VDEV_F_ORDER_PLATFORM 36
#define VDEV_F_NOTIFICATION_DATA 38
#define VDEV_F_RING_RESET 40

/* Ring/transport features the core implements; a device may offer any of them. */
#define VDEV_F_CORE_MASK                                                               \
	(VDEV_BIT(VDEV_F_INDIRECT_DESC) | VDEV_BIT(VDEV_F_EVENT_IDX) |                    \
	 VDEV_BIT(VDEV_F_VERSION_1) | VDEV_BIT(VDEV_F_ACCESS_PLATFORM) |                  \
	 VDEV_BIT(VDEV_F_RING_PACKED) | VDEV_BIT(VDEV_F_IN_ORDER) |                       \
	 VDEV_BIT(VDEV_F_ORDER_PLATFORM) | VDEV_BIT(VDEV_F_NOTIFICATION_DATA) |           \
	 VDEV_BIT(VDEV_F_RING_RESET))

/* Device status bits. */
#define VDEV_STATUS_ACKNOWLEDGE 0x01u
#define VDEV_STATUS_DRIVER 0x02u
#define VDEV_STATUS_DRIVER_OK 0x04u
#define VDEV_STATUS_FEATURES_OK 0x08u
#define VDEV_STATUS_NEEDS_RESET 0x40u
#define VDEV_STATUS_FAILED 0x80u

/* Device ids (spec "Device Types"). */
#define VDEV_ID_NET 1
#define VDEV_ID_BLOCK 2
#define VDEV_ID_CONSOLE 3
#define VDEV_ID_ENTROPY 4
#define VDEV_ID_GPU 16
#define VDEV_ID_INPUT 18
#define VDEV_ID_VSOCK 19

/* Largest device configuration space the core accepts. */
#define VDEV_CONFIG_MAX 4096u
/* Queues per device. */
#define VDEV_MAX_QUEUES 1024u

struct vdev_dev;

/*
 * Implemented by a device model. Every op gets the `opaque` given in the
 * config. All ops may be NULL unless said otherwise.
 * Context: called from the transport-facing path (see the file comment),
 * except where noted.
 */
struct vdev_dev_ops {
	/* sizeof(struct vdev_dev_ops) as compiled by the device model; lets
	 * the core accept older, shorter tables. */
	uint32_t size;
	/* FEATURES_OK: accept (0) or refuse (negative) the driver's feature
	 * set, already checked to be a subset of the offer with VERSION_1. */
	int (*validate_features)(void *opaque, uint64_t features);
	/* DRIVER_OK was set and the enabled queues are live. A negative
	 * return marks the device DEVICE_NEEDS_RESET. */
	int (*activate)(void *opaque);
	/* Device reset (status written 0). Stop using the queues, cancel or
	 * finish in-flight requests and restore the initial configuration.
	 * Return 0 when done, or VDEV_EBUSY if requests are still in flight;
	 * then call vdev_dev_reset_complete() once they are, and the status
	 * reads non-zero until then. */
	int (*reset)(void *opaque);
	/* The driver notified queue `qidx` (only delivered while it is live). */
	void (*queue_notify)(void *opaque, uint16_t qidx);
	/* The driver wrote `len` bytes at `offset` of the configuration space
	 * (already bounds-checked). The model applies what is writable. */
	void (*config_write)(void *opaque, uint32_t offset, const void *data, uint32_t len);
	/* Queue `qidx` is being reset (RING_RESET) or stopped: cancel its
	 * in-flight requests; they must not be pushed afterwards. A model
	 * whose backend still holds some of their guest buffers calls
	 * vdev_dev_queue_reset_hold() from here and
	 * vdev_dev_queue_reset_complete() once it has them all back. */
	void (*queue_reset)(void *opaque, uint16_t qidx);
	/* Queue `qidx` became live after DRIVER_OK (re-enabled after a queue
	 * reset). */
	void (*queue_enable)(void *opaque, uint16_t qidx);
};

/*
 * Implemented by the transport (or by the integrator through it): deliver
 * notifications to the driver.
 * Context: may be called from any thread that processes a queue; the
 * integrator's interrupt injection must allow that.
 */
struct vdev_transport_ops {
	uint32_t size; /* sizeof(struct vdev_transport_ops) */
	/* Used-buffer notification for queue `qidx`. */
	void (*notify_queue)(void *opaque, uint16_t qidx);
	/* Configuration-change notification (also sent for NEEDS_RESET). */
	void (*notify_config)(void *opaque);
};

/* A shared memory region the device exposes (virtio "Shared Memory Regions"). */
struct vdev_shm {
	uint8_t id;   /* shmid */
	uint64_t len; /* bytes; the transport places it */
};

struct vdev_dev_config {
	uint16_t device_id;  /* VDEV_ID_* */
	uint64_t features;   /* offered feature bits; must include VERSION_1 */
	struct vdev_vq *queues; /* caller-owned array of num_queues queues */
	uint16_t num_queues; /* 1..VDEV_MAX_QUEUES */
	uint32_t queue_max_size; /* max size for every queue (vdev_vq_init) */
	/* caller-owned, num_queues * VDEV_VQ_HELD_WORDS(queue_max_size) words:
	 * which buffers each queue holds (virtqueue.h); queue i uses the
	 * i-th slice. queue_max_size / 8 bytes per queue, rounded up to 8. */
	uint64_t *queue_held;
	uint8_t *config;     /* device configuration space, little-endian; owned by the model */
	uint32_t config_len; /* bytes, <= VDEV_CONFIG_MAX (0: no config space) */
	const struct vdev_shm *shm; /* optional shared memory regions */
	uint8_t num_shm;
	const struct vdev_mem *mem; /* guest memory for every queue */
	const struct vdev_dev_ops *ops;
	void *opaque;        /* first argument of every op */
};

/* Device core state. Caller-allocated; fields private. */
struct vdev_dev {
	const struct vdev_dev_ops *VDEV_PRIV(ops);
	void *VDEV_PRIV(opaque);
	const struct vdev_transport_ops *VDEV_PRIV(tops);
	void *VDEV_PRIV(topaque);
	struct vdev_vq *VDEV_PRIV(queues);
	uint8_t *VDEV_PRIV(config);
	const struct vdev_shm *VDEV_PRIV(shm);
	const struct vdev_mem *VDEV_PRIV(mem);
	uint64_t VDEV_PRIV(offered);
	uint64_t VDEV_PRIV(driver_features);
	uint64_t VDEV_PRIV(negotiated);
	uint32_t VDEV_PRIV(config_len);
	uint32_t VDEV_PRIV(generation);
	uint16_t VDEV_PRIV(device_id);
	uint16_t VDEV_PRIV(num_queues);
	uint8_t VDEV_PRIV(num_shm);
	uint8_t VDEV_PRIV(status);
	uint8_t VDEV_PRIV(needs_reset); /* set from queue threads; atomic */
	uint8_t VDEV_PRIV(reset_pending);
	bool VDEV_PRIV(frontend_negotiates);
};

/*
 * vdev_dev_init() - set up the device core for a model.
 * Initialises every queue in cfg->queues (vdev_vq_init) and attaches it.
 * Returns 0 or VDEV_EINVAL (no VERSION_1 in features, ring features the
 * core does not implement, num_queues or config_len or queue_max_size out
 * of range, NULL ops, queues or queue_held). Ring features the build
 * leaves out (VDEV_CONFIG_PACKED / VDEV_CONFIG_INDIRECT 0, vdev/config.h)
 * are dropped from the offer: vdev_dev_offered_features() is what the
 * driver sees.
 * Ownership: cfg is copied; the arrays and buffers it points to are
 * borrowed for the life of the device.
 * Context: before the transport is set up.
 */
VDEV_API int vdev_dev_init(struct vdev_dev *dev, const struct vdev_dev_config *cfg);

/*
 * vdev_dev_set_transport() - install the transport's notification hooks
 * (done by vdev_mmio_init(), vdev_pci_init(), the vhost-user adapter).
 * ops may be NULL (notifications are dropped).
 */
VDEV_API void vdev_dev_set_transport(struct vdev_dev *dev, const struct vdev_transport_ops *ops,
				     void *opaque);

/* --- transport-facing ---------------------------------------------------- */

VDEV_API uint16_t vdev_dev_device_id(const struct vdev_dev *dev);
VDEV_API uint64_t vdev_dev_offered_features(const struct vdev_dev *dev);
/* What the driver last wrote (before FEATURES_OK) / what was accepted. */
VDEV_API uint64_t vdev_dev_driver_features(const struct vdev_dev *dev);
VDEV_API uint64_t vdev_dev_features(const struct vdev_dev *dev);
VDEV_API bool vdev_dev_has_feature(const struct vdev_dev *dev, unsigned bit);

/*
 * vdev_dev_set_driver_features() - the driver's feature word (all 64 bits;
 * transports that write 32 bits at a time merge them first). Accepted only
 * before FEATURES_OK is set; VDEV_EPERM afterwards (no effect).
 */
VDEV_API int vdev_dev_set_driver_features(struct vdev_dev *dev, uint64_t features);

/*
 * vdev_dev_set_frontend_negotiates() - the features are negotiated by a
 * front-end that keeps some device functions for itself, not by the driver
 * directly: a vhost-user front-end (QEMU, DPDK's virtio-user) runs
 * virtio-net's control queue and hands the back-end CTRL_RX, CTRL_VLAN or
 * CTRL_MAC_ADDR without CTRL_VQ. With `on`, a model accepts such a set and
 * leaves the features whose dependency is missing without effect. Off (the
 * default, right for the virtio-mmio and virtio-pci transports, where the
 * driver itself negotiates): FEATURES_OK is refused for a set that breaks
 * the spec's feature dependencies. The vhost-user adapter turns it on.
 * Call before the driver negotiates (not from a queue context).
 */
VDEV_API void vdev_dev_set_frontend_negotiates(struct vdev_dev *dev, bool on);
VDEV_API bool vdev_dev_frontend_negotiates(const struct vdev_dev *dev);

/*
 * vdev_dev_status() - the device status as the driver reads it (includes
 * NEEDS_RESET; stays non-zero while an asynchronous reset is pending).
 */
VDEV_API uint8_t vdev_dev_status(const struct vdev_dev *dev);

/*
 * vdev_dev_set_status() - the driver wrote the device status.
 * 0 resets the device (queues, features, status; config generation is
 * kept). Otherwise bits may only be added; a write that clears a bit other
 * than by reset is ignored (VDEV_EPERM). FEATURES_OK is set only if the
 * driver features are a subset of the offer, include VERSION_1 and pass the
 * model's validate_features; otherwise it stays clear (the driver sees it
 * by reading the status back) and VDEV_ENOTSUP is returned. DRIVER_OK
 * needs FEATURES_OK (VDEV_EPERM otherwise); it starts every enabled queue
 * and calls the model's activate; if a queue cannot start (bad ring
 * address, or rings overlapping each other or another queue's: the error
 * of vdev_vq_start()) the device is marked DEVICE_NEEDS_RESET. FAILED stops
 * processing until reset. NEEDS_RESET in the written value is ignored.
 * Returns 0 or the error above; the status is always left consistent.
 */
VDEV_API int vdev_dev_set_status(struct vdev_dev *dev, uint8_t status);

/*
 * vdev_dev_reset_complete() - a model whose reset op returned VDEV_EBUSY
 * calls this once its in-flight requests are finished; the status then
 * reads 0. Context: any thread.
 */
VDEV_API void vdev_dev_reset_complete(struct vdev_dev *dev);

VDEV_API uint32_t vdev_dev_config_generation(const struct vdev_dev *dev);
VDEV_API uint32_t vdev_dev_config_len(const struct vdev_dev *dev);

/*
 * vdev_dev_config_read() / vdev_dev_config_write() - driver access to the
 * device configuration space. An access that is not entirely inside the
 * space reads as zeroes / is ignored and returns VDEV_ERANGE. Writes are
 * handed to the model's config_write op, which decides what is writable.
 */
VDEV_API int vdev_dev_config_read(const struct vdev_dev *dev, uint32_t offset, void *buf,
				  uint32_t len);
VDEV_API int vdev_dev_config_write(struct vdev_dev *dev, uint32_t offset, const void *buf,
				   uint32_t len);

VDEV_API uint16_t vdev_dev_num_queues(const struct vdev_dev *dev);
/* The queue, or NULL if qidx is out of range. */
VDEV_API struct vdev_vq *vdev_dev_queue(struct vdev_dev *dev, uint32_t qidx);

/*
 * Queue programming. Size and addresses may change only while the queue is
 * not enabled, and (without RING_RESET) only before DRIVER_OK: otherwise
 * VDEV_EBUSY / VDEV_EPERM and no effect. Out-of-range qidx: VDEV_ENOENT.
 * vdev_dev_queue_enable(dev, q, true) before DRIVER_OK marks the queue to
 * start at DRIVER_OK; after DRIVER_OK (queue re-enable with RING_RESET) it
 * starts it now. Enabling needs FEATURES_OK (VDEV_EPERM otherwise); a size
 * that is invalid for the negotiated layout fails with VDEV_EINVAL and
 * leaves the queue disabled. A queue whose rings cannot be mapped, or
 * overlap each other or a live queue's (vdev_vq_start()), marks the device
 * DEVICE_NEEDS_RESET and returns that error. Disabling (virtio-mmio QueueReady = 0; PCI
 * forbids it and its transport does not pass it on) cancels the queue's
 * in-flight requests (queue_reset op) and stops it, keeping its settings.
 */
VDEV_API int vdev_dev_queue_set_size(struct vdev_dev *dev, uint32_t qidx, uint32_t size);
VDEV_API int vdev_dev_queue_set_addrs(struct vdev_dev *dev, uint32_t qidx, uint64_t desc,
				      uint64_t driver, uint64_t device);
VDEV_API int vdev_dev_queue_enable(struct vdev_dev *dev, uint32_t qidx, bool enable);
VDEV_API bool vdev_dev_queue_enabled(const struct vdev_dev *dev, uint32_t qidx);

/*
 * vdev_dev_queue_reset() - RING_RESET of one queue: the model cancels its
 * in-flight requests (queue_reset op) and the queue returns to its initial
 * state. VDEV_ENOTSUP unless RING_RESET was negotiated, VDEV_ENOENT for a
 * bad qidx.
 */
VDEV_API int vdev_dev_queue_reset(struct vdev_dev *dev, uint32_t qidx);

/*
 * Queue resets that cannot finish at once. A model whose queue_reset op
 * leaves guest buffers with a backend (an I/O it cannot cancel) calls
 * vdev_dev_queue_reset_hold() from the op, before any of those buffers can
 * come back, and vdev_dev_queue_reset_complete() when the last one has.
 * In between the reset is "ongoing": vdev_dev_queue_reset_pending() is
 * true, which the transports show to the driver (PCI queue_reset and MMIO
 * QueueReset read 1), and vdev_dev_queue_enable() refuses the queue with
 * VDEV_EBUSY, so the driver cannot hand the same memory out again while a
 * backend may still write it. Holds nest (each needs its complete); a
 * complete without a hold is ignored. Out-of-range qidx: no effect/false.
 * Context: hold from the queue_reset op; complete and pending from any
 * thread.
 */
VDEV_API void vdev_dev_queue_reset_hold(struct vdev_dev *dev, uint32_t qidx);
VDEV_API void vdev_dev_queue_reset_complete(struct vdev_dev *dev, uint32_t qidx);
VDEV_API bool vdev_dev_queue_reset_pending(const struct vdev_dev *dev, uint32_t qidx);

/*
 * vdev_dev_queue_notify() - the driver sent an available-buffer
 * notification. With NOTIFICATION_DATA, pass the data's upper 16 bits in
 * `data` and set `has_data`. Ignored (VDEV_EPERM) before DRIVER_OK, after
 * FAILED or NEEDS_RESET, or for a queue that is not live; VDEV_ENOENT for a
 * bad qidx. Otherwise calls the model's queue_notify op.
 */
VDEV_API int vdev_dev_queue_notify(struct vdev_dev *dev, uint32_t qidx, bool has_data,
				   uint16_t data);

VDEV_API uint8_t vdev_dev_num_shm(const struct vdev_dev *dev);
VDEV_API const struct vdev_shm *vdev_dev_shm(const struct vdev_dev *dev, uint32_t idx);

/* --- device-facing -------------------------------------------------------- */

/*
 * vdev_dev_notify_queue() - send a used-buffer notification for queue
 * qidx through the transport. Context: any queue thread.
 */
VDEV_API void vdev_dev_notify_queue(struct vdev_dev *dev, uint16_t qidx);

/*
 * vdev_dev_config_changed() - the model changed its configuration space:
 * bump the generation and, after DRIVER_OK, notify the driver.
 * Context: transport-facing path (see the file comment).
 */
VDEV_API void vdev_dev_config_changed(struct vdev_dev *dev);

/*
 * vdev_dev_set_needs_reset() - the device hit an error it cannot recover
 * from: set DEVICE_NEEDS_RESET and, after DRIVER_OK, notify the driver.
 * Queues stop delivering notifications to the model until reset.
 * Context: any thread (the flag is set atomically).
 */
VDEV_API void vdev_dev_set_needs_reset(struct vdev_dev *dev);

/* vdev_dev_is_running() - DRIVER_OK set, no NEEDS_RESET/FAILED, no reset pending. */
VDEV_API bool vdev_dev_is_running(const struct vdev_dev *dev);

#ifdef __cplusplus
}
#endif

#endif /* VDEV_DEVICE_H */
