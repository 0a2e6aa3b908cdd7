/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-mmio transport, Version 2 (spec "Virtio Over MMIO").
 * Register decoding only: every device behaviour is the device core's.
 */
#include "vdev/mmio.h"

#include "compiler.h"

#define P(x) VDEV_PRIV(x)

/* Control registers (spec table "MMIO Device Register Layout"). */
enum {
	REG_MAGIC = 0x000,
	REG_VERSION = 0x004,
	REG_DEVICE_ID = 0x008,
	REG_VENDOR_ID = 0x00c,
	REG_DEVICE_FEATURES = 0x010,
	REG_DEVICE_FEATURES_SEL = 0x014,
	REG_DRIVER_FEATURES = 0x020,
	REG_DRIVER_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030,
	REG_QUEUE_SIZE_MAX = 0x034,
	REG_QUEUE_SIZE = 0x038,
	REG_QUEUE_READY = 0x044,
	REG_QUEUE_NOTIFY = 0x050,
	REG_INTERRUPT_STATUS = 0x060,
	REG_INTERRUPT_ACK = 0x064,
	REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080,
	REG_QUEUE_DESC_HIGH = 0x084,
	REG_QUEUE_DRIVER_LOW = 0x090,
	REG_QUEUE_DRIVER_HIGH = 0x094,
	REG_QUEUE_DEVICE_LOW = 0x0a0,
	REG_QUEUE_DEVICE_HIGH = 0x0a4,
	REG_SHM_SEL = 0x0ac,
	REG_SHM_LEN_LOW = 0x0b0,
	REG_SHM_LEN_HIGH = 0x0b4,
	REG_SHM_BASE_LOW = 0x0b8,
	REG_SHM_BASE_HIGH = 0x0bc,
	REG_QUEUE_RESET = 0x0c0,
	REG_CONFIG_GENERATION = 0x0fc,
};

#define DEFAULT_VENDOR 0x56444556u /* "VDEV" */
#define NO_SHM UINT64_MAX          /* SHMLen/SHMBase of a region that does not exist */

/* ---- interrupts -------------------------------------------------------------- */

/*
 * Drive the line to match InterruptStatus. The status may change under us
 * (a queue thread notifying while the driver acknowledges); after calling
 * the hook, look again and repeat if the level passed is already stale, so
 * the hook's last call always has the current level.
 */
static void update_irq(struct vdev_mmio *m)
{
	bool level;

	if (m->P(irq) == NULL)
		return;
	do {
		level = __atomic_load_n(&m->P(interrupt_status), __ATOMIC_ACQUIRE) != 0;
		m->P(irq)(m->P(irq_opaque), level);
	} while ((__atomic_load_n(&m->P(interrupt_status), __ATOMIC_ACQUIRE) != 0) != level);
}

static void raise(struct vdev_mmio *m, uint32_t bits)
{
	uint32_t old = vdev__atomic_fetch_or(&m->P(interrupt_status), bits, __ATOMIC_ACQ_REL);

	if ((old & bits) != bits)
		update_irq(m);
}

static void t_notify_queue(void *opaque, uint16_t qidx)
{
	(void)qidx; /* one line for every queue: InterruptStatus bit 0 */
	raise(opaque, VDEV_MMIO_INT_VRING);
}

static void t_notify_config(void *opaque)
{
	raise(opaque, VDEV_MMIO_INT_CONFIG);
}

static const struct vdev_transport_ops mmio_transport_ops = {
	.size = sizeof(struct vdev_transport_ops),
	.notify_queue = t_notify_queue,
	.notify_config = t_notify_config,
};

/* ---- set-up -------------------------------------------------------------------- */

static bool device_has_shm(const struct vdev_dev *dev, uint8_t id)
{
	for (uint32_t i = 0; i < vdev_dev_num_shm(dev); i++)
		if (vdev_dev_shm(dev, i)->id == id)
			return true;
	return false;
}

VDEV_API int vdev_mmio_init(struct vdev_mmio *mmio, struct vdev_dev *dev,
			    const struct vdev_mmio_config *cfg)
{
	if (mmio == NULL || dev == NULL || cfg == NULL || (cfg->num_shm != 0 && cfg->shm == NULL))
		return VDEV_EINVAL;
	for (uint8_t i = 0; i < cfg->num_shm; i++)
		if (!device_has_shm(dev, cfg->shm[i].id))
			return VDEV_EINVAL;
	memset(mmio, 0, sizeof(*mmio));
	mmio->P(dev) = dev;
	mmio->P(irq) = cfg->irq;
	mmio->P(irq_opaque) = cfg->irq_opaque;
	mmio->P(shm) = cfg->shm;
	mmio->P(num_shm) = cfg->num_shm;
	mmio->P(vendor_id) = cfg->vendor_id != 0 ? cfg->vendor_id : DEFAULT_VENDOR;
	vdev_dev_set_transport(dev, &mmio_transport_ops, mmio);
	return 0;
}

VDEV_API uint64_t vdev_mmio_window_size(const struct vdev_mmio *mmio)
{
	return VDEV_MMIO_CONFIG_OFFSET + vdev_dev_config_len(mmio->P(dev));
}

VDEV_API uint32_t vdev_mmio_interrupt_status(const struct vdev_mmio *mmio)
{
	return __atomic_load_n(&mmio->P(interrupt_status), __ATOMIC_ACQUIRE);
}

/* ---- helpers ------------------------------------------------------------------------ */

static struct vdev_vq *selected_queue(struct vdev_mmio *m)
{
	return vdev_dev_queue(m->P(dev), m->P(queue_sel));
}

/* The SHMSel'd region: its length and where it is mapped, or NO_SHM. */
static void selected_shm(const struct vdev_mmio *m, uint64_t *len, uint64_t *base)
{
	*len = NO_SHM;
	*base = NO_SHM;
	if (m->P(shm_sel) > UINT8_MAX)
		return;
	for (uint8_t i = 0; i < m->P(num_shm); i++) {
		if (m->P(shm)[i].id != m->P(shm_sel))
			continue;
		for (uint32_t k = 0; k < vdev_dev_num_shm(m->P(dev)); k++) {
			const struct vdev_shm *s = vdev_dev_shm(m->P(dev), k);
			if (s->id == m->P(shm_sel)) {
				*len = s->len;
				*base = m->P(shm)[i].base;
				return;
			}
		}
	}
}

/* Replace the low or high half of a 64-bit value. */
static uint64_t set_half(uint64_t old, bool high, uint32_t v)
{
	return high ? (old & 0xffffffffu) | (uint64_t)v << 32
		    : (old & ~(uint64_t)0xffffffffu) | v;
}

static void write_queue_addr(struct vdev_mmio *m, uint32_t reg, uint32_t v)
{
	struct vdev_vq *vq = selected_queue(m);
	uint64_t a[3];
	unsigned which;
	bool high;

	if (vq == NULL)
		return;
	vdev_vq_addrs(vq, &a[0], &a[1], &a[2]);
	which = (reg - REG_QUEUE_DESC_LOW) / 0x10u; /* desc, driver, device */
	high = (reg & 4u) != 0;
	a[which] = set_half(a[which], high, v);
	/* Refused (no effect) while the queue is enabled or after DRIVER_OK. */
	(void)vdev_dev_queue_set_addrs(m->P(dev), m->P(queue_sel), a[0], a[1], a[2]);
}

static void device_reset(struct vdev_mmio *m)
{
	m->P(driver_features) = 0;
	/* Upon reset, InterruptStatus is cleared (spec). */
	__atomic_store_n(&m->P(interrupt_status), 0, __ATOMIC_RELEASE);
	update_irq(m);
}

/* ---- registers ------------------------------------------------------------------------ */

static uint32_t read_reg(struct vdev_mmio *m, uint32_t reg)
{
	struct vdev_dev *dev = m->P(dev);
	struct vdev_vq *vq;
	uint64_t len, base, a[3];

	switch (reg) {
	case REG_MAGIC:
		return VDEV_MMIO_MAGIC;
	case REG_VERSION:
		return VDEV_MMIO_VERSION;
	case REG_DEVICE_ID:
		return vdev_dev_device_id(dev);
	case REG_VENDOR_ID:
		return m->P(vendor_id);
	case REG_DEVICE_FEATURES:
		if (m->P(device_features_sel) > 1)
			return 0;
		return (uint32_t)(vdev_dev_offered_features(dev) >> (32u * m->P(device_features_sel)));
	case REG_QUEUE_SIZE_MAX:
		vq = selected_queue(m);
		return vq != NULL ? vdev_vq_max_size(vq) : 0;
	case REG_QUEUE_READY:
		return vdev_dev_queue_enabled(dev, m->P(queue_sel)) ? 1u : 0u;
	case REG_INTERRUPT_STATUS:
		return vdev_mmio_interrupt_status(m);
	case REG_STATUS:
		return vdev_dev_status(dev);
	case REG_SHM_LEN_LOW:
	case REG_SHM_LEN_HIGH:
		selected_shm(m, &len, &base);
		return (uint32_t)(reg == REG_SHM_LEN_HIGH ? len >> 32 : len);
	case REG_SHM_BASE_LOW:
	case REG_SHM_BASE_HIGH:
		selected_shm(m, &len, &base);
		return (uint32_t)(reg == REG_SHM_BASE_HIGH ? base >> 32 : base);
	case REG_QUEUE_RESET:
		/* 1 while the reset is ongoing: a backend still holds buffers. */
		return vdev_dev_queue_reset_pending(dev, m->P(queue_sel)) ? 1u : 0u;
	case REG_CONFIG_GENERATION:
		return vdev_dev_config_generation(dev);
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH:
		/* Write-only in the spec; read back what was programmed, which
		 * is what drivers that do read them (for debugging) expect. */
		vq = selected_queue(m);
		if (vq == NULL)
			return 0;
		vdev_vq_addrs(vq, &a[0], &a[1], &a[2]);
		base = a[(reg - REG_QUEUE_DESC_LOW) / 0x10u];
		return (uint32_t)((reg & 4u) ? base >> 32 : base);
	default:
		return 0; /* write-only or unassigned */
	}
}

static void write_reg(struct vdev_mmio *m, uint32_t reg, uint32_t v)
{
	struct vdev_dev *dev = m->P(dev);

	switch (reg) {
	case REG_DEVICE_FEATURES_SEL:
		m->P(device_features_sel) = v;
		break;
	case REG_DRIVER_FEATURES:
		if (m->P(driver_features_sel) > 1)
			break;
		if (vdev_dev_status(dev) & VDEV_STATUS_FEATURES_OK)
			break; /* fixed once accepted */
		m->P(driver_features) = set_half(m->P(driver_features), m->P(driver_features_sel) == 1, v);
		(void)vdev_dev_set_driver_features(dev, m->P(driver_features));
		break;
	case REG_DRIVER_FEATURES_SEL:
		m->P(driver_features_sel) = v;
		break;
	case REG_QUEUE_SEL:
		m->P(queue_sel) = v;
		break;
	case REG_QUEUE_SIZE:
		/* Sizes above the maximum (or 0) are refused by the core. */
		(void)vdev_dev_queue_set_size(dev, m->P(queue_sel), v);
		break;
	case REG_QUEUE_READY:
		/* 1 enables (refused for a size invalid for the layout); 0 stops. */
		(void)vdev_dev_queue_enable(dev, m->P(queue_sel), v != 0);
		break;
	case REG_QUEUE_NOTIFY: {
		bool data = vdev_dev_has_feature(dev, VDEV_F_NOTIFICATION_DATA);
		uint32_t q = data ? (v & 0xffffu) : v;
		(void)vdev_dev_queue_notify(dev, q, data, (uint16_t)(v >> 16));
		break;
	}
	case REG_INTERRUPT_ACK:
		vdev__atomic_fetch_and(&m->P(interrupt_status), ~v, __ATOMIC_ACQ_REL);
		update_irq(m);
		break;
	case REG_STATUS:
		if (v > UINT8_MAX)
			break;
		if (v == 0)
			device_reset(m);
		(void)vdev_dev_set_status(dev, (uint8_t)v);
		break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH:
		write_queue_addr(m, reg, v);
		break;
	case REG_SHM_SEL:
		m->P(shm_sel) = v;
		break;
	case REG_QUEUE_RESET:
		if (v == 1)
			(void)vdev_dev_queue_reset(dev, m->P(queue_sel));
		break;
	default:
		break; /* read-only or unassigned */
	}
}

/* ---- entry points ---------------------------------------------------------------------- */

static bool valid_size(unsigned size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

VDEV_API uint64_t vdev_mmio_read(struct vdev_mmio *mmio, uint64_t offset, unsigned size)
{
	if (!valid_size(size) || (offset & (size - 1u)) != 0)
		return 0;
	if (offset < VDEV_MMIO_CONFIG_OFFSET)
		return size == 4 ? read_reg(mmio, (uint32_t)offset) : 0;
	if (offset - VDEV_MMIO_CONFIG_OFFSET > UINT32_MAX)
		return 0;
	uint8_t buf[8] = {0};
	if (vdev_dev_config_read(mmio->P(dev), (uint32_t)(offset - VDEV_MMIO_CONFIG_OFFSET), buf,
				 size) < 0)
		return 0;
	return vdev__get_le64(buf);
}

VDEV_API void vdev_mmio_write(struct vdev_mmio *mmio, uint64_t offset, unsigned size,
			      uint64_t value)
{
	if (!valid_size(size) || (offset & (size - 1u)) != 0)
		return;
	if (offset < VDEV_MMIO_CONFIG_OFFSET) {
		if (size == 4)
			write_reg(mmio, (uint32_t)offset, (uint32_t)value);
		return;
	}
	if (offset - VDEV_MMIO_CONFIG_OFFSET > UINT32_MAX)
		return;
	uint8_t buf[8];
	vdev__put_le64(buf, value);
	(void)vdev_dev_config_write(mmio->P(dev), (uint32_t)(offset - VDEV_MMIO_CONFIG_OFFSET), buf,
				    size);
}
