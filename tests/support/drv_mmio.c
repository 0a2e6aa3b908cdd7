/* SPDX-License-Identifier: MIT */
/* Driver simulator, virtio-mmio front end: see drv_mmio.h. */
#include "drv_mmio.h"

#include <string.h>

enum {
	R_DEVICE_ID = 0x008,
	R_DEVICE_FEATURES = 0x010,
	R_DEVICE_FEATURES_SEL = 0x014,
	R_DRIVER_FEATURES = 0x020,
	R_DRIVER_FEATURES_SEL = 0x024,
	R_QUEUE_SEL = 0x030,
	R_QUEUE_SIZE_MAX = 0x034,
	R_QUEUE_SIZE = 0x038,
	R_QUEUE_READY = 0x044,
	R_QUEUE_NOTIFY = 0x050,
	R_INTERRUPT_STATUS = 0x060,
	R_INTERRUPT_ACK = 0x064,
	R_STATUS = 0x070,
	R_QUEUE_DESC_LOW = 0x080,
	R_QUEUE_DRIVER_LOW = 0x090,
	R_QUEUE_DEVICE_LOW = 0x0a0,
	R_QUEUE_RESET = 0x0c0,
	R_CONFIG_GENERATION = 0x0fc,
	R_CONFIG = 0x100,
};

void drv_mmio_irq(void *opaque, bool level)
{
	struct drv_mmio *d = opaque;

	d->hook_calls++;
	if (level && !d->line)
		d->raises++;
	d->line = level;
}

int drv_mmio_attach(struct drv_mmio *d, struct vdev_mmio *mmio, struct vdev_dev *dev,
		    struct drv_transport *tr)
{
	struct vdev_mmio_config mc = {.irq = drv_mmio_irq, .irq_opaque = d};
	int rc = vdev_mmio_init(mmio, dev, &mc);

	memset(d, 0, sizeof(*d));
	d->mmio = mmio;
	*tr = drv_mmio_transport(d);
	return rc;
}

static uint64_t bus_rd(struct drv_mmio *d, uint64_t off, unsigned w)
{
	return d->bus_read ? d->bus_read(d->bus_ctx, off, w) : vdev_mmio_read(d->mmio, off, w);
}

static void bus_wr(struct drv_mmio *d, uint64_t off, unsigned w, uint64_t v)
{
	if (d->bus_write)
		d->bus_write(d->bus_ctx, off, w, v);
	else
		vdev_mmio_write(d->mmio, off, w, v);
}

uint32_t drv_mmio_rd(struct drv_mmio *d, uint32_t off)
{
	return (uint32_t)bus_rd(d, off, 4);
}

void drv_mmio_wr(struct drv_mmio *d, uint32_t off, uint32_t v)
{
	bus_wr(d, off, 4, v);
}

static uint32_t m_device_id(void *t) { return drv_mmio_rd(t, R_DEVICE_ID); }
static uint8_t m_get_status(void *t) { return (uint8_t)drv_mmio_rd(t, R_STATUS); }
static void m_set_status(void *t, uint8_t s) { drv_mmio_wr(t, R_STATUS, s); }

static uint64_t m_get_features(void *t)
{
	uint64_t f;
	drv_mmio_wr(t, R_DEVICE_FEATURES_SEL, 1);
	f = (uint64_t)drv_mmio_rd(t, R_DEVICE_FEATURES) << 32;
	drv_mmio_wr(t, R_DEVICE_FEATURES_SEL, 0);
	return f | drv_mmio_rd(t, R_DEVICE_FEATURES);
}

static void m_set_features(void *t, uint64_t f)
{
	drv_mmio_wr(t, R_DRIVER_FEATURES_SEL, 0);
	drv_mmio_wr(t, R_DRIVER_FEATURES, (uint32_t)f);
	drv_mmio_wr(t, R_DRIVER_FEATURES_SEL, 1);
	drv_mmio_wr(t, R_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

static uint16_t m_queue_max(void *t, uint16_t q)
{
	drv_mmio_wr(t, R_QUEUE_SEL, q);
	return (uint16_t)drv_mmio_rd(t, R_QUEUE_SIZE_MAX);
}

static bool m_setup_queue(void *t, uint16_t q, uint16_t size, uint64_t desc, uint64_t driver,
			  uint64_t device)
{
	drv_mmio_wr(t, R_QUEUE_SEL, q);
	if (drv_mmio_rd(t, R_QUEUE_READY) != 0)
		return false; /* spec: must be 0 before set-up */
	drv_mmio_wr(t, R_QUEUE_SIZE, size);
	drv_mmio_wr(t, R_QUEUE_DESC_LOW, (uint32_t)desc);
	drv_mmio_wr(t, R_QUEUE_DESC_LOW + 4, (uint32_t)(desc >> 32));
	drv_mmio_wr(t, R_QUEUE_DRIVER_LOW, (uint32_t)driver);
	drv_mmio_wr(t, R_QUEUE_DRIVER_LOW + 4, (uint32_t)(driver >> 32));
	drv_mmio_wr(t, R_QUEUE_DEVICE_LOW, (uint32_t)device);
	drv_mmio_wr(t, R_QUEUE_DEVICE_LOW + 4, (uint32_t)(device >> 32));
	drv_mmio_wr(t, R_QUEUE_READY, 1);
	return drv_mmio_rd(t, R_QUEUE_READY) == 1;
}

static bool m_queue_enabled(void *t, uint16_t q)
{
	drv_mmio_wr(t, R_QUEUE_SEL, q);
	return drv_mmio_rd(t, R_QUEUE_READY) == 1;
}

static bool m_reset_queue(void *t, uint16_t q)
{
	drv_mmio_wr(t, R_QUEUE_SEL, q);
	drv_mmio_wr(t, R_QUEUE_RESET, 1);
	return drv_mmio_rd(t, R_QUEUE_RESET) == 0 && drv_mmio_rd(t, R_QUEUE_READY) == 0;
}

static void m_notify(void *t, uint16_t q, bool has_data, uint16_t data)
{
	drv_mmio_wr(t, R_QUEUE_NOTIFY, has_data ? (uint32_t)q | (uint32_t)data << 16 : q);
}

static uint32_t m_config_generation(void *t) { return drv_mmio_rd(t, R_CONFIG_GENERATION); }

/* Config space: the widest aligned access that fits, as a driver would. */
static void m_config_read(void *t, uint32_t off, void *buf, uint32_t len)
{
	struct drv_mmio *d = t;
	uint8_t *b = buf;

	while (len > 0) {
		unsigned w = (len >= 4 && off % 4 == 0) ? 4 : (len >= 2 && off % 2 == 0) ? 2 : 1;
		uint64_t v = bus_rd(d, R_CONFIG + (uint64_t)off, w);
		for (unsigned i = 0; i < w; i++)
			b[i] = (uint8_t)(v >> (8 * i));
		b += w;
		off += w;
		len -= w;
	}
}

static void m_config_write(void *t, uint32_t off, const void *buf, uint32_t len)
{
	struct drv_mmio *d = t;
	const uint8_t *b = buf;

	while (len > 0) {
		unsigned w = (len >= 4 && off % 4 == 0) ? 4 : (len >= 2 && off % 2 == 0) ? 2 : 1;
		uint64_t v = 0;
		for (unsigned i = 0; i < w; i++)
			v |= (uint64_t)b[i] << (8 * i);
		bus_wr(d, R_CONFIG + (uint64_t)off, w, v);
		b += w;
		off += w;
		len -= w;
	}
}

static uint32_t m_take_interrupts(void *t)
{
	uint32_t st = drv_mmio_rd(t, R_INTERRUPT_STATUS);

	if (st != 0)
		drv_mmio_wr(t, R_INTERRUPT_ACK, st);
	return st & (DRV_INT_VRING | DRV_INT_CONFIG);
}

const struct drv_transport_ops drv_mmio_ops = {
	.name = "mmio",
	.device_id = m_device_id,
	.get_status = m_get_status,
	.set_status = m_set_status,
	.get_features = m_get_features,
	.set_features = m_set_features,
	.queue_max = m_queue_max,
	.setup_queue = m_setup_queue,
	.queue_enabled = m_queue_enabled,
	.reset_queue = m_reset_queue,
	.notify = m_notify,
	.config_generation = m_config_generation,
	.config_read = m_config_read,
	.config_write = m_config_write,
	.take_interrupts = m_take_interrupts,
};
