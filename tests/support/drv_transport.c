/* SPDX-License-Identifier: MIT */
/* Driver simulator, transport half: see drv_transport.h. */
#include "drv_transport.h"

#include "vdev/device.h"

#define ST_ACK 0x01u
#define ST_DRIVER 0x02u
#define ST_DRIVER_OK 0x04u
#define ST_FEATURES_OK 0x08u
#define ST_FAILED 0x80u

int drv_virtio_reset(struct drv_transport *tr)
{
	unsigned polls = tr->reset_polls != 0 ? tr->reset_polls : 1000u;

	tr->ops->set_status(tr->t, 0);
	/* "the driver MUST wait for a read of device_status to return 0" */
	for (unsigned i = 0; i < polls; i++)
		if (tr->ops->get_status(tr->t) == 0)
			return 0;
	return -1;
}

int drv_virtio_negotiate(struct drv_transport *tr, uint64_t wanted, uint64_t *negotiated)
{
	uint64_t offered, accept;
	uint8_t st;

	if (drv_virtio_reset(tr) != 0)
		return -1;
	tr->ops->set_status(tr->t, ST_ACK);
	tr->ops->set_status(tr->t, ST_ACK | ST_DRIVER);
	offered = tr->ops->get_features(tr->t);
	accept = offered & wanted;
	tr->ops->set_features(tr->t, accept);
	tr->ops->set_status(tr->t, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	st = tr->ops->get_status(tr->t);
	if (!(st & ST_FEATURES_OK)) {
		tr->ops->set_status(tr->t, (uint8_t)(st | ST_FAILED));
		return -1;
	}
	*negotiated = accept;
	return 0;
}

/* indirect table entries per buffer the set-up gives the driver */
#define SETUP_MAX_INDIRECT 16

int drv_virtio_setup_queue_if_room(struct drv_transport *tr, struct drv_vq *q, struct sim_mem *m,
				   uint16_t index, uint16_t size, uint64_t negotiated)
{
	uint16_t max = tr->ops->queue_max(tr->t, index);

	if (size == 0 || size > max)
		size = max;
	if (sim_room(m) < drv_vq_footprint(size, (negotiated & VDEV_BIT(VDEV_F_RING_PACKED)) != 0,
					   SETUP_MAX_INDIRECT))
		return -1;
	return drv_virtio_setup_queue(tr, q, m, index, size, negotiated);
}

int drv_virtio_setup_queue(struct drv_transport *tr, struct drv_vq *q, struct sim_mem *m,
			   uint16_t index, uint16_t size, uint64_t negotiated)
{
	uint16_t max = tr->ops->queue_max(tr->t, index);
	bool packed = (negotiated & VDEV_BIT(VDEV_F_RING_PACKED)) != 0;

	if (max == 0)
		return -1;
	if (size == 0 || size > max)
		size = max;
	drv_vq_init(q, m, size, packed, (negotiated & VDEV_BIT(VDEV_F_EVENT_IDX)) != 0,
		    (negotiated & VDEV_BIT(VDEV_F_INDIRECT_DESC)) != 0, SETUP_MAX_INDIRECT);
	return tr->ops->setup_queue(tr->t, index, size, q->desc_gpa, q->driver_gpa, q->device_gpa)
		       ? 0
		       : -1;
}

uint8_t drv_virtio_driver_ok(struct drv_transport *tr)
{
	uint8_t st = tr->ops->get_status(tr->t);

	tr->ops->set_status(tr->t, (uint8_t)(st | ST_DRIVER_OK));
	return tr->ops->get_status(tr->t);
}

int drv_virtio_config_read(struct drv_transport *tr, uint32_t off, void *buf, uint32_t len)
{
	for (int i = 0; i < 100; i++) {
		uint32_t before = tr->ops->config_generation(tr->t);
		tr->ops->config_read(tr->t, off, buf, len);
		if (tr->ops->config_generation(tr->t) == before)
			return 0;
	}
	return -1;
}
