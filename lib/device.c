/* SPDX-License-Identifier: MIT */
/*
 * libvdev — device core: features, status state machine, configuration
 * space, queue programming and reset (spec "Basic Facilities of a Virtio
 * Device" and "Device Initialization"). Transport-agnostic.
 */
#include "vdev/device.h"

#include "vq_internal.h"

/* Feature bits reserved for the queue/negotiation mechanisms and for future
 * use (spec "Feature Bits"): 24..40, 43..49. A device may offer only those
 * of them the core implements. */
#define RESERVED_FEATURES (((VDEV_BIT(41) - 1) & ~(VDEV_BIT(24) - 1)) | \
			   ((VDEV_BIT(50) - 1) & ~(VDEV_BIT(43) - 1)))

/* Ring features this build leaves out (vdev/config.h): never offered. */
#define TRIMMED_FEATURES                                                              \
	((VDEV_CONFIG_PACKED ? 0 : VDEV_BIT(VDEV_F_RING_PACKED)) |                     \
	 (VDEV_CONFIG_INDIRECT ? 0 : VDEV_BIT(VDEV_F_INDIRECT_DESC)))

static bool has_status(const struct vdev_dev *dev, uint8_t bits)
{
	return (vdev__atomic_load8(&dev->P(status)) & bits) == bits;
}

static bool needs_reset(const struct vdev_dev *dev)
{
	return vdev__atomic_load8(&dev->P(needs_reset)) != 0;
}

VDEV_API int vdev_dev_init(struct vdev_dev *dev, const struct vdev_dev_config *cfg)
{
	if (cfg == NULL || cfg->ops == NULL || cfg->queues == NULL || cfg->queue_held == NULL ||
	    cfg->num_queues == 0 || cfg->num_queues > VDEV_MAX_QUEUES ||
	    cfg->config_len > VDEV_CONFIG_MAX ||
	    (cfg->config_len != 0 && cfg->config == NULL) || cfg->mem == NULL ||
	    (cfg->num_shm != 0 && cfg->shm == NULL))
		return VDEV_EINVAL;
	if (!(cfg->features & VDEV_BIT(VDEV_F_VERSION_1)))
		return VDEV_EINVAL; /* modern devices only */
	if (cfg->features & RESERVED_FEATURES & ~VDEV_F_CORE_MASK)
		return VDEV_EINVAL;
	if (cfg->queue_max_size == 0 || cfg->queue_max_size > VDEV_VQ_MAX_SIZE)
		return VDEV_EINVAL;
	memset(dev, 0, sizeof(*dev));
	dev->P(ops) = cfg->ops;
	dev->P(opaque) = cfg->opaque;
	dev->P(queues) = cfg->queues;
	dev->P(num_queues) = cfg->num_queues;
	dev->P(config) = cfg->config;
	dev->P(config_len) = cfg->config_len;
	dev->P(shm) = cfg->shm;
	dev->P(num_shm) = cfg->num_shm;
	dev->P(mem) = cfg->mem;
	dev->P(offered) = cfg->features & ~TRIMMED_FEATURES;
	dev->P(device_id) = cfg->device_id;
	for (uint16_t i = 0; i < cfg->num_queues; i++) {
		int rc = vdev_vq_init(&cfg->queues[i], i, cfg->queue_max_size,
				      cfg->queue_held +
					      (size_t)i * VDEV_VQ_HELD_WORDS(cfg->queue_max_size));
		if (rc < 0)
			return rc;
		vdev_vq_attach(&cfg->queues[i], dev);
	}
	return 0;
}

VDEV_API void vdev_dev_set_transport(struct vdev_dev *dev, const struct vdev_transport_ops *ops,
				     void *opaque)
{
	dev->P(tops) = ops;
	dev->P(topaque) = opaque;
}

VDEV_API uint16_t vdev_dev_device_id(const struct vdev_dev *dev) { return dev->P(device_id); }
VDEV_API uint64_t vdev_dev_offered_features(const struct vdev_dev *dev) { return dev->P(offered); }
VDEV_API uint64_t vdev_dev_driver_features(const struct vdev_dev *dev)
{
	return dev->P(driver_features);
}
VDEV_API uint64_t vdev_dev_features(const struct vdev_dev *dev) { return dev->P(negotiated); }

VDEV_API bool vdev_dev_has_feature(const struct vdev_dev *dev, unsigned bit)
{
	return bit < 64 && (dev->P(negotiated) & VDEV_BIT(bit)) != 0;
}

VDEV_API int vdev_dev_set_driver_features(struct vdev_dev *dev, uint64_t features)
{
	if (dev->P(reset_pending) || has_status(dev, VDEV_STATUS_FEATURES_OK))
		return VDEV_EPERM;
	dev->P(driver_features) = features;
	return 0;
}

VDEV_API uint8_t vdev_dev_status(const struct vdev_dev *dev)
{
	uint8_t st = vdev__atomic_load8(&dev->P(status));

	if (needs_reset(dev))
		st |= VDEV_STATUS_NEEDS_RESET;
	return st;
}

/* What the driver sees as reset: queues back to their initial state. */
static void finish_reset(struct vdev_dev *dev)
{
	for (uint16_t i = 0; i < dev->P(num_queues); i++)
		vdev_vq_reset(&dev->P(queues)[i]);
	dev->P(driver_features) = 0;
	dev->P(negotiated) = 0;
	vdev__atomic_store8(&dev->P(needs_reset), 0);
	vdev__atomic_store8(&dev->P(status), 0);
}

static void do_reset(struct vdev_dev *dev)
{
	int rc = 0;

	if (dev->P(ops)->reset != NULL)
		rc = dev->P(ops)->reset(dev->P(opaque));
	/* The model no longer pushes to the queues: stop them now. Guest
	 * buffers a backend still holds are why the status stays non-zero
	 * until vdev_dev_reset_complete(). */
	for (uint16_t i = 0; i < dev->P(num_queues); i++) {
		struct vdev_vq *vq = &dev->P(queues)[i];
		vq->P(state) &= (uint8_t)~VQ_LIVE;
	}
	if (rc == VDEV_EBUSY) {
		vdev__atomic_store8(&dev->P(reset_pending), 1);
		return;
	}
	finish_reset(dev);
}

VDEV_API void vdev_dev_reset_complete(struct vdev_dev *dev)
{
	if (vdev__atomic_load8(&dev->P(reset_pending)) == 0)
		return;
	finish_reset(dev);
	vdev__atomic_store8(&dev->P(reset_pending), 0);
}

void vdev_dev_set_frontend_negotiates(struct vdev_dev *dev, bool on)
{
	dev->P(frontend_negotiates) = on;
}

bool vdev_dev_frontend_negotiates(const struct vdev_dev *dev)
{
	return dev->P(frontend_negotiates);
}

static int accept_features(struct vdev_dev *dev)
{
	uint64_t f = dev->P(driver_features);

	if ((f & ~dev->P(offered)) != 0 || !(f & VDEV_BIT(VDEV_F_VERSION_1)))
		return VDEV_ENOTSUP;
	if (dev->P(ops)->validate_features != NULL &&
	    dev->P(ops)->validate_features(dev->P(opaque), f) < 0)
		return VDEV_ENOTSUP;
	dev->P(negotiated) = f;
	return 0;
}

static int start_queue(struct vdev_dev *dev, struct vdev_vq *vq)
{
	int rc = vdev_vq_start(vq, dev->P(mem), dev->P(negotiated));

	if (rc < 0)
		vdev_dev_set_needs_reset(dev); /* ring the driver gave us is unusable */
	return rc;
}

static int go_live(struct vdev_dev *dev)
{
	int rc = 0;

	for (uint16_t i = 0; i < dev->P(num_queues) && rc == 0; i++) {
		struct vdev_vq *vq = &dev->P(queues)[i];
		if (vq->P(state) & VQ_ENABLED)
			rc = start_queue(dev, vq);
	}
	if (rc == 0 && dev->P(ops)->activate != NULL) {
		rc = dev->P(ops)->activate(dev->P(opaque));
		if (rc < 0)
			vdev_dev_set_needs_reset(dev);
	}
	return rc;
}

VDEV_API int vdev_dev_set_status(struct vdev_dev *dev, uint8_t status)
{
	uint8_t cur, add;
	int rc = 0;

	if (vdev__atomic_load8(&dev->P(reset_pending)))
		return VDEV_EBUSY;
	if (status == 0) {
		do_reset(dev);
		return 0;
	}
	status &= (uint8_t)~VDEV_STATUS_NEEDS_RESET; /* the device's bit, not the driver's */
	cur = dev->P(status);
	if (cur & ~status)
		return VDEV_EPERM; /* drivers must not clear bits */
	add = status & (uint8_t)~cur;
	if (add & VDEV_STATUS_FAILED)
		cur |= VDEV_STATUS_FAILED;
	cur |= add & (VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER);
	if (add & VDEV_STATUS_FEATURES_OK) {
		if (!(cur & VDEV_STATUS_DRIVER))
			rc = VDEV_EPERM;
		else
			rc = accept_features(dev);
		if (rc == 0)
			cur |= VDEV_STATUS_FEATURES_OK;
	}
	vdev__atomic_store8(&dev->P(status), cur);
	if ((add & VDEV_STATUS_DRIVER_OK) && rc == 0) {
		if (!(cur & VDEV_STATUS_FEATURES_OK) || (cur & VDEV_STATUS_FAILED))
			return VDEV_EPERM;
		vdev__atomic_store8(&dev->P(status), cur | VDEV_STATUS_DRIVER_OK);
		rc = go_live(dev);
	}
	/* SUSPEND (16) and unknown bits are not offered: ignored. */
	return rc;
}

VDEV_API uint32_t vdev_dev_config_generation(const struct vdev_dev *dev)
{
	return __atomic_load_n(&dev->P(generation), __ATOMIC_ACQUIRE);
}

VDEV_API uint32_t vdev_dev_config_len(const struct vdev_dev *dev) { return dev->P(config_len); }

static bool config_range_ok(const struct vdev_dev *dev, uint32_t offset, uint32_t len)
{
	return len <= dev->P(config_len) && offset <= dev->P(config_len) - len;
}

VDEV_API int vdev_dev_config_read(const struct vdev_dev *dev, uint32_t offset, void *buf,
				  uint32_t len)
{
	if (!config_range_ok(dev, offset, len)) {
		memset(buf, 0, len);
		return VDEV_ERANGE;
	}
	if (len != 0)
		memcpy(buf, dev->P(config) + offset, len);
	return 0;
}

VDEV_API int vdev_dev_config_write(struct vdev_dev *dev, uint32_t offset, const void *buf,
				   uint32_t len)
{
	if (!config_range_ok(dev, offset, len))
		return VDEV_ERANGE;
	if (len != 0 && dev->P(ops)->config_write != NULL)
		dev->P(ops)->config_write(dev->P(opaque), offset, buf, len);
	return 0;
}

VDEV_API uint16_t vdev_dev_num_queues(const struct vdev_dev *dev) { return dev->P(num_queues); }

VDEV_API struct vdev_vq *vdev_dev_queue(struct vdev_dev *dev, uint32_t qidx)
{
	return qidx < dev->P(num_queues) ? &dev->P(queues)[qidx] : NULL;
}

/* May the driver reprogram this queue now? */
static int queue_writable(const struct vdev_dev *dev, const struct vdev_vq *vq)
{
	if (dev->P(reset_pending))
		return VDEV_EPERM;
	if (vq->P(state) & (VQ_ENABLED | VQ_LIVE))
		return VDEV_EBUSY;
	if (has_status(dev, VDEV_STATUS_DRIVER_OK) &&
	    !(dev->P(negotiated) & VDEV_BIT(VDEV_F_RING_RESET)))
		return VDEV_EPERM;
	return 0;
}

VDEV_API int vdev_dev_queue_set_size(struct vdev_dev *dev, uint32_t qidx, uint32_t size)
{
	struct vdev_vq *vq = vdev_dev_queue(dev, qidx);
	int rc;

	if (vq == NULL)
		return VDEV_ENOENT;
	rc = queue_writable(dev, vq);
	return rc < 0 ? rc : vdev_vq_set_size(vq, size);
}

VDEV_API int vdev_dev_queue_set_addrs(struct vdev_dev *dev, uint32_t qidx, uint64_t desc,
				      uint64_t driver, uint64_t device)
{
	struct vdev_vq *vq = vdev_dev_queue(dev, qidx);
	int rc;

	if (vq == NULL)
		return VDEV_ENOENT;
	rc = queue_writable(dev, vq);
	return rc < 0 ? rc : vdev_vq_set_addrs(vq, desc, driver, device);
}

VDEV_API int vdev_dev_queue_enable(struct vdev_dev *dev, uint32_t qidx, bool enable)
{
	struct vdev_vq *vq = vdev_dev_queue(dev, qidx);
	uint32_t size;
	int rc;

	if (vq == NULL)
		return VDEV_ENOENT;
	if (dev->P(reset_pending))
		return VDEV_EPERM;
	if (!enable) {
		/* Stop using the queue (virtio-mmio QueueReady = 0). */
		if (!(vq->P(state) & VQ_ENABLED))
			return 0;
		if ((vq->P(state) & VQ_LIVE) && dev->P(ops)->queue_reset != NULL)
			dev->P(ops)->queue_reset(dev->P(opaque), (uint16_t)qidx);
		vdev_vq_stop(vq);
		vq->P(state) &= (uint8_t)~VQ_ENABLED;
		return 0;
	}
	if (vq->P(state) & VQ_ENABLED)
		return 0;
	if (!has_status(dev, VDEV_STATUS_FEATURES_OK))
		return VDEV_EPERM;
	if (__atomic_load_n(&vq->P(reset_holds), __ATOMIC_ACQUIRE) != 0)
		return VDEV_EBUSY; /* a backend may still write the old buffers */
	if (has_status(dev, VDEV_STATUS_DRIVER_OK) &&
	    !(dev->P(negotiated) & VDEV_BIT(VDEV_F_RING_RESET)))
		return VDEV_EPERM;
	size = vq->P(size);
	if (!(dev->P(negotiated) & VDEV_BIT(VDEV_F_RING_PACKED)) && !vdev__is_pow2(size))
		return VDEV_EINVAL;
	vq->P(state) |= VQ_ENABLED;
	if (!has_status(dev, VDEV_STATUS_DRIVER_OK))
		return 0; /* started at DRIVER_OK */
	rc = start_queue(dev, vq);
	if (rc == 0 && dev->P(ops)->queue_enable != NULL)
		dev->P(ops)->queue_enable(dev->P(opaque), (uint16_t)qidx);
	return rc;
}

VDEV_API bool vdev_dev_queue_enabled(const struct vdev_dev *dev, uint32_t qidx)
{
	return qidx < dev->P(num_queues) && (dev->P(queues)[qidx].P(state) & VQ_ENABLED) != 0;
}

VDEV_API int vdev_dev_queue_reset(struct vdev_dev *dev, uint32_t qidx)
{
	struct vdev_vq *vq = vdev_dev_queue(dev, qidx);

	if (vq == NULL)
		return VDEV_ENOENT;
	if (!(dev->P(negotiated) & VDEV_BIT(VDEV_F_RING_RESET)))
		return VDEV_ENOTSUP;
	if ((vq->P(state) & VQ_LIVE) && dev->P(ops)->queue_reset != NULL)
		dev->P(ops)->queue_reset(dev->P(opaque), (uint16_t)qidx);
	vdev_vq_reset(vq);
	return 0;
}

VDEV_API void vdev_dev_queue_reset_hold(struct vdev_dev *dev, uint32_t qidx)
{
	struct vdev_vq *vq = vdev_dev_queue(dev, qidx);

	if (vq != NULL)
		vdev__atomic_fetch_add(&vq->P(reset_holds), 1, __ATOMIC_ACQ_REL);
}

VDEV_API void vdev_dev_queue_reset_complete(struct vdev_dev *dev, uint32_t qidx)
{
	struct vdev_vq *vq = vdev_dev_queue(dev, qidx);
	uint16_t cur;

	if (vq == NULL)
		return;
	/* Never below zero: a stray complete must not cancel a real hold's
	 * count on the next reset. */
	cur = __atomic_load_n(&vq->P(reset_holds), __ATOMIC_ACQUIRE);
	while (cur != 0 && !vdev__atomic_cas(&vq->P(reset_holds), &cur, (uint16_t)(cur - 1),
						     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

VDEV_API bool vdev_dev_queue_reset_pending(const struct vdev_dev *dev, uint32_t qidx)
{
	if (qidx >= dev->P(num_queues))
		return false;
	return __atomic_load_n(&dev->P(queues)[qidx].P(reset_holds), __ATOMIC_ACQUIRE) != 0;
}

VDEV_API int vdev_dev_queue_notify(struct vdev_dev *dev, uint32_t qidx, bool has_data,
				   uint16_t data)
{
	struct vdev_vq *vq = vdev_dev_queue(dev, qidx);

	if (vq == NULL)
		return VDEV_ENOENT;
	if (!vdev_dev_is_running(dev) || !(vq->P(state) & VQ_LIVE))
		return VDEV_EPERM; /* no buffers are consumed before DRIVER_OK */
	if (has_data && (dev->P(negotiated) & VDEV_BIT(VDEV_F_NOTIFICATION_DATA)))
		vdev_vq_note_notification(vq, data);
	if (dev->P(ops)->queue_notify != NULL)
		dev->P(ops)->queue_notify(dev->P(opaque), (uint16_t)qidx);
	return 0;
}

VDEV_API uint8_t vdev_dev_num_shm(const struct vdev_dev *dev) { return dev->P(num_shm); }

VDEV_API const struct vdev_shm *vdev_dev_shm(const struct vdev_dev *dev, uint32_t idx)
{
	return idx < dev->P(num_shm) ? &dev->P(shm)[idx] : NULL;
}

VDEV_API void vdev_dev_notify_queue(struct vdev_dev *dev, uint16_t qidx)
{
	const struct vdev_transport_ops *t = dev->P(tops);

	if (t != NULL && t->notify_queue != NULL)
		t->notify_queue(dev->P(topaque), qidx);
}

static void notify_config(struct vdev_dev *dev)
{
	const struct vdev_transport_ops *t = dev->P(tops);

	if (has_status(dev, VDEV_STATUS_DRIVER_OK) && t != NULL && t->notify_config != NULL)
		t->notify_config(dev->P(topaque));
}

VDEV_API void vdev_dev_config_changed(struct vdev_dev *dev)
{
	vdev__atomic_fetch_add(&dev->P(generation), 1u, __ATOMIC_ACQ_REL);
	notify_config(dev);
}

VDEV_API void vdev_dev_set_needs_reset(struct vdev_dev *dev)
{
	if (vdev__atomic_xchg8(&dev->P(needs_reset), 1) == 0)
		notify_config(dev);
}

VDEV_API bool vdev_dev_is_running(const struct vdev_dev *dev)
{
	uint8_t st = vdev__atomic_load8(&dev->P(status));

	return (st & (VDEV_STATUS_DRIVER_OK | VDEV_STATUS_FAILED)) == VDEV_STATUS_DRIVER_OK &&
	       !needs_reset(dev) && !vdev__atomic_load8(&dev->P(reset_pending));
}

VDEV__INTERNAL void vdev__dev_queue_broken(struct vdev_dev *dev, struct vdev_vq *vq)
{
	(void)vq;
	vdev_dev_set_needs_reset(dev);
}
