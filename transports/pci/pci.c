/* SPDX-License-Identifier: MIT */
/*
 * libvdev — virtio-pci transport, modern (spec "Virtio Over PCI Bus").
 * A type-0 PCI function: configuration header and capability list, the
 * register BAR (common cfg, ISR, device cfg, notifications, MSI-X table
 * and PBA), interrupt delivery. Every device behaviour is the device
 * core's.
 */
#include "vdev/pci.h"

#include "compiler.h"

#define P(x) VDEV_PRIV(x)

/* ---- configuration header (PCI Local Bus spec, type 0) ------------------ */
enum {
	CFG_VENDOR = 0x00,
	CFG_COMMAND = 0x04,
	CFG_REVISION = 0x08,
	CFG_CACHE_LINE = 0x0c,
	CFG_BAR0 = 0x10,
	CFG_SUBSYS_VENDOR = 0x2c,
	CFG_CAP_PTR = 0x34,
	CFG_INT_LINE = 0x3c,
};

#define CMD_MEM 0x0002u
#define CMD_MASTER 0x0004u
#define CMD_INTX_DISABLE 0x0400u
#define CMD_WRITABLE (CMD_MEM | CMD_MASTER | CMD_INTX_DISABLE)
#define STATUS_INTERRUPT 0x0008u
#define STATUS_CAP_LIST 0x0010u

#define BAR_MEM_64 0x4u
#define BAR_PREFETCH 0x8u

#define CAP_ID_VNDR 0x09u
#define CAP_ID_MSIX 0x11u

/* virtio structure types (cfg_type) */
enum {
	VIRTIO_PCI_CAP_COMMON_CFG = 1,
	VIRTIO_PCI_CAP_NOTIFY_CFG = 2,
	VIRTIO_PCI_CAP_ISR_CFG = 3,
	VIRTIO_PCI_CAP_DEVICE_CFG = 4,
	VIRTIO_PCI_CAP_PCI_CFG = 5,
	VIRTIO_PCI_CAP_SHARED_MEMORY_CFG = 8,
};

/* Where each capability sits in configuration space (fixed; optional ones
 * that are absent leave a gap and are left out of the list). */
enum {
	CAPOFF_COMMON = 0x40,  /* virtio_pci_cap, 16 bytes */
	CAPOFF_NOTIFY = 0x50,  /* virtio_pci_notify_cap, 20 */
	CAPOFF_ISR = 0x64,     /* 16 */
	CAPOFF_DEVICE = 0x74,  /* 16 */
	CAPOFF_PCI_CFG = 0x84, /* virtio_pci_cfg_cap, 20 */
	CAPOFF_MSIX = 0x98,    /* MSI-X, 12 */
	CAPOFF_SHM = 0xa4,     /* virtio_pci_cap64, 24 each */
};
#define CAP_LEN 16u
#define CAP64_LEN 24u
/* Fields of struct virtio_pci_cap. */
#define CAP_BAR 4u
#define CAP_OFFSET 8u
#define CAP_LENGTH 12u
#define CAP_CFG_DATA 16u /* pci_cfg_data of the PCI_CFG capability */

#define MSIX_CTRL_ENABLE 0x8000u
#define MSIX_CTRL_MASKALL 0x4000u
#define MSIX_ENTRY_MASKED 0x1u

/* ---- common configuration structure -------------------------------------- */
enum {
	CC_DFSELECT = 0x00,
	CC_DF = 0x04,
	CC_GFSELECT = 0x08,
	CC_GF = 0x0c,
	CC_MSIX_CONFIG = 0x10,
	CC_NUM_QUEUES = 0x12,
	CC_STATUS = 0x14,
	CC_CFG_GENERATION = 0x15,
	CC_Q_SELECT = 0x16,
	CC_Q_SIZE = 0x18,
	CC_Q_MSIX = 0x1a,
	CC_Q_ENABLE = 0x1c,
	CC_Q_NOFF = 0x1e,
	CC_Q_DESC = 0x20,
	CC_Q_DRIVER = 0x28,
	CC_Q_DEVICE = 0x30,
	CC_Q_NDATA = 0x38,
	CC_Q_RESET = 0x3a,
	CC_ADMIN_Q_INDEX = 0x3c,
	CC_ADMIN_Q_NUM = 0x3e,
	CC_SIZE = 0x40,
};

#define SHM_ALIGN 0x1000u

/* ---- interrupts ------------------------------------------------------------ */

static bool msix_on(const struct vdev_pci *p)
{
	return (__atomic_load_n(&p->P(msix_ctrl), __ATOMIC_ACQUIRE) & MSIX_CTRL_ENABLE) != 0;
}

static uint8_t isr_load(const struct vdev_pci *p)
{
	return __atomic_load_n(&p->P(isr), __ATOMIC_ACQUIRE);
}

static bool intx_level(const struct vdev_pci *p)
{
	return isr_load(p) != 0 && !msix_on(p) &&
	       !(__atomic_load_n(&p->P(command), __ATOMIC_ACQUIRE) & CMD_INTX_DISABLE);
}

/*
 * Drive INTx to match ISR / MSI-X enable / INTx disable. The ISR may change
 * under us (a queue thread notifying while the driver reads ISR); look
 * again after the hook and repeat if the level passed is already stale.
 */
static void update_intx(struct vdev_pci *p)
{
	bool level;

	if (p->P(intx) == NULL)
		return;
	do {
		level = intx_level(p);
		p->P(intx)(p->P(opaque), level);
	} while (intx_level(p) != level);
}

static bool bus_master(const struct vdev_pci *p)
{
	return (__atomic_load_n(&p->P(command), __ATOMIC_ACQUIRE) & CMD_MASTER) != 0;
}

/*
 * A message cannot go out while the vector is masked (its own bit or the
 * function mask) or while bus mastering is off: an MSI-X message is a
 * memory write, which a function without Bus Master Enable must not issue.
 * All three set the pending bit instead; whichever access lifts the last
 * one (unmask, function unmask, BME set) flushes it.
 */
static bool vector_masked(const struct vdev_pci *p, const struct vdev_pci_msix_vector *e)
{
	return !bus_master(p) ||
	       (__atomic_load_n(&p->P(msix_ctrl), __ATOMIC_ACQUIRE) & MSIX_CTRL_MASKALL) ||
	       (__atomic_load_n(&e->P(ctrl), __ATOMIC_ACQUIRE) & MSIX_ENTRY_MASKED);
}

/* Snapshot an entry consistently against the access path's writes
 * (seqcount); false if it is masked. */
static bool entry_snapshot(const struct vdev_pci *p, const struct vdev_pci_msix_vector *e,
			   uint64_t *addr, uint32_t *data)
{
	for (;;) {
		uint32_t s = __atomic_load_n(&e->P(seq), __ATOMIC_ACQUIRE);
		if (s & 1u)
			continue;
		bool masked = vector_masked(p, e);
		*addr = (uint64_t)__atomic_load_n(&e->P(addr_hi), __ATOMIC_RELAXED) << 32 |
			__atomic_load_n(&e->P(addr_lo), __ATOMIC_RELAXED);
		*data = __atomic_load_n(&e->P(data), __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&e->P(seq), __ATOMIC_RELAXED) == s)
			return !masked;
	}
}

static void send(struct vdev_pci *p, uint64_t addr, uint32_t data)
{
	if (p->P(msi) != NULL)
		p->P(msi)(p->P(opaque), addr, data);
}

/* Send a pending message of vector v if it is unmasked now. Claiming the
 * pending bit with an exchange means exactly one of the racing paths (the
 * notifier and the unmasking access) sends it. */
static void flush_pending(struct vdev_pci *p, uint16_t v)
{
	struct vdev_pci_msix_vector *e = &p->P(msix)[v];

	uint64_t addr;
	uint32_t data;

	if (!msix_on(p) || !entry_snapshot(p, e, &addr, &data))
		return;
	if (vdev__atomic_exchange(&e->P(pending), 0, __ATOMIC_SEQ_CST) != 0)
		send(p, addr, data);
}

static void flush_all_pending(struct vdev_pci *p)
{
	for (uint16_t v = 0; v < p->P(msix_vectors); v++)
		flush_pending(p, v);
}

static void msix_signal(struct vdev_pci *p, uint16_t v)
{
	struct vdev_pci_msix_vector *e;

	if (v >= p->P(msix_vectors))
		return; /* NO_VECTOR */
	e = &p->P(msix)[v];
	uint64_t addr;
	uint32_t data;
	if (entry_snapshot(p, e, &addr, &data)) {
		send(p, addr, data);
		return;
	}
	__atomic_store_n(&e->P(pending), 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* StoreLoad against the unmask */
	/* Unmasked meanwhile by the access path, which may have looked at the
	 * pending bit before we set it. */
	flush_pending(p, v);
}

static void t_notify_queue(void *opaque, uint16_t qidx)
{
	struct vdev_pci *p = opaque;

	if (msix_on(p)) {
		if (qidx < vdev_dev_num_queues(p->P(dev)))
			msix_signal(p, __atomic_load_n(&p->P(queue_vectors)[qidx], __ATOMIC_ACQUIRE));
		return;
	}
	if (!(vdev__atomic_fetch_or(&p->P(isr), VDEV_PCI_ISR_QUEUE, __ATOMIC_ACQ_REL) &
	      VDEV_PCI_ISR_QUEUE))
		update_intx(p);
}

static void t_notify_config(void *opaque)
{
	struct vdev_pci *p = opaque;
	uint8_t old;

	/* The config bit is set before any notification, MSI-X or not (spec). */
	old = vdev__atomic_fetch_or(&p->P(isr), VDEV_PCI_ISR_CONFIG, __ATOMIC_ACQ_REL);
	if (msix_on(p))
		msix_signal(p, __atomic_load_n(&p->P(config_vector), __ATOMIC_ACQUIRE));
	else if (!(old & VDEV_PCI_ISR_CONFIG))
		update_intx(p);
}

static const struct vdev_transport_ops pci_transport_ops = {
	.size = sizeof(struct vdev_transport_ops),
	.notify_queue = t_notify_queue,
	.notify_config = t_notify_config,
};

/* ---- set-up ------------------------------------------------------------------ */

static uint32_t default_class(uint16_t device_id)
{
	switch (device_id) {
	case VDEV_ID_NET:
		return 0x020000u; /* network, ethernet */
	case VDEV_ID_BLOCK:
		return 0x010000u; /* mass storage, SCSI (what guests expect) */
	case VDEV_ID_CONSOLE:
		return 0x078000u; /* communication, other */
	case VDEV_ID_GPU:
		return 0x038000u; /* display, other */
	case 18:
		return 0x098000u; /* input, other */
	default:
		return 0xff0000u; /* unassigned class */
	}
}

static void put_cap(uint8_t *img, uint8_t *prev_next, uint8_t off, uint8_t id, uint8_t len)
{
	img[off] = id;
	img[off + 1] = 0; /* end of list until the next one links in */
	img[off + 2] = len;
	*prev_next = off;
}

/* A virtio structure capability, linked in after the previous one. */
static void put_vcap(uint8_t *img, uint8_t **prev_next, uint8_t off, uint8_t len, uint8_t type,
		     uint8_t bar, uint8_t id, uint32_t offset, uint32_t length)
{
	put_cap(img, *prev_next, off, CAP_ID_VNDR, len);
	img[off + 3] = type;
	img[off + CAP_BAR] = bar;
	img[off + 5] = id;
	vdev__put_le32(img + off + CAP_OFFSET, offset);
	vdev__put_le32(img + off + CAP_LENGTH, length);
	*prev_next = &img[off + 1];
}

static uint64_t pow2_at_least(uint64_t v)
{
	uint64_t r = SHM_ALIGN;

	while (r < v)
		r <<= 1;
	return r;
}

/* Lay the shared memory regions out in the shm BAR; 0 or VDEV_EINVAL. */
static int layout_shm(struct vdev_pci *p)
{
	const struct vdev_dev *dev = p->P(dev);
	uint64_t end = 0;

	if (vdev_dev_num_shm(dev) == 0)
		return 0;
	if (vdev_dev_num_shm(dev) > VDEV_PCI_MAX_SHM)
		return VDEV_EINVAL;
	for (uint32_t i = 0; i < vdev_dev_num_shm(dev); i++) {
		uint64_t len = vdev_dev_shm(dev, i)->len;
		end = (end + SHM_ALIGN - 1) & ~(uint64_t)(SHM_ALIGN - 1);
		p->P(shm_offset)[i] = end;
		if (len > (UINT64_C(1) << 62) || VDEV__ADD_OVERFLOW(end, len, &end) ||
		    end > (UINT64_C(1) << 62))
			return VDEV_EINVAL;
	}
	p->P(bar_size)[VDEV_PCI_SHM_BAR] = pow2_at_least(end);
	return 0;
}

static void build_image(struct vdev_pci *p, const struct vdev_pci_config *cfg)
{
	const struct vdev_dev *dev = p->P(dev);
	uint8_t *img = p->P(image);
	uint8_t *next = &img[CFG_CAP_PTR];
	uint16_t id = vdev_dev_device_id(dev);
	uint32_t cls = cfg->class_code != 0 ? cfg->class_code : default_class(id);
	uint32_t nq = vdev_dev_num_queues(dev);

	memset(img, 0, VDEV_PCI_CONFIG_SIZE);
	vdev__put_le16(img + CFG_VENDOR, VDEV_PCI_VENDOR_ID);
	vdev__put_le16(img + CFG_VENDOR + 2, (uint16_t)(VDEV_PCI_DEVICE_ID_BASE + id));
	img[CFG_REVISION] = cfg->revision != 0 ? cfg->revision : 1;
	img[CFG_REVISION + 1] = (uint8_t)cls;
	img[CFG_REVISION + 2] = (uint8_t)(cls >> 8);
	img[CFG_REVISION + 3] = (uint8_t)(cls >> 16);
	/* 0x0e header type 0 (single function), BIST 0: zero */
	vdev__put_le16(img + CFG_SUBSYS_VENDOR, cfg->subsystem_vendor_id != 0
							 ? cfg->subsystem_vendor_id
							 : VDEV_PCI_VENDOR_ID);
	vdev__put_le16(img + CFG_SUBSYS_VENDOR + 2,
		       cfg->subsystem_id != 0 ? cfg->subsystem_id : (uint16_t)(0x40u + id));
	img[CFG_INT_LINE + 1] = 1; /* interrupt pin INTA# */

	put_vcap(img, &next, CAPOFF_COMMON, CAP_LEN, VIRTIO_PCI_CAP_COMMON_CFG, VDEV_PCI_REG_BAR, 0,
		 VDEV_PCI_COMMON_OFFSET, CC_SIZE);
	put_vcap(img, &next, CAPOFF_NOTIFY, CAP_LEN + 4, VIRTIO_PCI_CAP_NOTIFY_CFG,
		 VDEV_PCI_REG_BAR, 0, VDEV_PCI_NOTIFY_OFFSET, nq * VDEV_PCI_NOTIFY_MULTIPLIER);
	vdev__put_le32(img + CAPOFF_NOTIFY + CAP_LEN, VDEV_PCI_NOTIFY_MULTIPLIER);
	put_vcap(img, &next, CAPOFF_ISR, CAP_LEN, VIRTIO_PCI_CAP_ISR_CFG, VDEV_PCI_REG_BAR, 0,
		 VDEV_PCI_ISR_OFFSET, 1);
	if (vdev_dev_config_len(dev) != 0)
		put_vcap(img, &next, CAPOFF_DEVICE, CAP_LEN, VIRTIO_PCI_CAP_DEVICE_CFG,
			 VDEV_PCI_REG_BAR, 0, VDEV_PCI_DEVICE_OFFSET, vdev_dev_config_len(dev));
	/* bar/offset/length of the window are the driver's (read dynamically) */
	put_vcap(img, &next, CAPOFF_PCI_CFG, CAP_LEN + 4, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0, 0);
	p->P(cap_pci_cfg) = CAPOFF_PCI_CFG;
	if (p->P(msix_vectors) != 0) {
		put_cap(img, next, CAPOFF_MSIX, CAP_ID_MSIX, 12);
		next = &img[CAPOFF_MSIX + 1];
		vdev__put_le16(img + CAPOFF_MSIX + 2, (uint16_t)(p->P(msix_vectors) - 1u));
		vdev__put_le32(img + CAPOFF_MSIX + 4, VDEV_PCI_MSIX_TABLE_OFFSET | VDEV_PCI_REG_BAR);
		vdev__put_le32(img + CAPOFF_MSIX + 8, VDEV_PCI_MSIX_PBA_OFFSET | VDEV_PCI_REG_BAR);
		p->P(cap_msix) = CAPOFF_MSIX;
	}
	for (uint32_t i = 0; i < vdev_dev_num_shm(dev); i++) {
		uint8_t off = (uint8_t)(CAPOFF_SHM + i * CAP64_LEN);
		uint64_t len = vdev_dev_shm(dev, i)->len, at = p->P(shm_offset)[i];
		put_vcap(img, &next, off, CAP64_LEN, VIRTIO_PCI_CAP_SHARED_MEMORY_CFG,
			 VDEV_PCI_SHM_BAR, vdev_dev_shm(dev, i)->id, (uint32_t)at, (uint32_t)len);
		vdev__put_le32(img + off + CAP_LEN, (uint32_t)(at >> 32));
		vdev__put_le32(img + off + CAP_LEN + 4, (uint32_t)(len >> 32));
	}
}

/* What a write of 0 to device_status resets in the transport. */
static void virtio_reset(struct vdev_pci *p)
{
	p->P(driver_features) = 0;
	__atomic_store_n(&p->P(config_vector), VDEV_PCI_NO_VECTOR, __ATOMIC_RELEASE);
	for (uint32_t q = 0; q < vdev_dev_num_queues(p->P(dev)) && p->P(queue_vectors) != NULL; q++)
		__atomic_store_n(&p->P(queue_vectors)[q], VDEV_PCI_NO_VECTOR, __ATOMIC_RELEASE);
	__atomic_store_n(&p->P(isr), 0, __ATOMIC_RELEASE);
	memset(p->P(held_kicks), 0, sizeof(p->P(held_kicks))); /* for the old rings */
	update_intx(p);
}

VDEV_API void vdev_pci_reset(struct vdev_pci *p)
{
	bool was_on = (p->P(command) & CMD_MEM) != 0;

	__atomic_store_n(&p->P(command), 0, __ATOMIC_RELEASE);
	__atomic_store_n(&p->P(msix_ctrl), 0, __ATOMIC_RELEASE);
	for (uint16_t v = 0; v < p->P(msix_vectors); v++) {
		struct vdev_pci_msix_vector *e = &p->P(msix)[v];
		__atomic_store_n(&e->P(addr_lo), 0, __ATOMIC_RELAXED);
		__atomic_store_n(&e->P(addr_hi), 0, __ATOMIC_RELAXED);
		__atomic_store_n(&e->P(data), 0, __ATOMIC_RELAXED);
		__atomic_store_n(&e->P(ctrl), MSIX_ENTRY_MASKED, __ATOMIC_RELEASE);
		__atomic_store_n(&e->P(pending), 0, __ATOMIC_RELEASE);
	}
	for (unsigned b = 0; b < VDEV_PCI_NUM_BARS; b++) {
		bool moved = p->P(bar_addr)[b] != 0;
		p->P(bar_addr)[b] = 0;
		if (p->P(bar_size)[b] != 0 && (moved || was_on) && p->P(bar_map) != NULL)
			p->P(bar_map)(p->P(opaque), b, 0, false);
	}
	p->P(cache_line) = 0;
	p->P(irq_line) = 0;
	p->P(cfgwin_bar) = 0;
	p->P(cfgwin_offset) = 0;
	p->P(cfgwin_length) = 0;
	memset(p->P(cfgwin_data), 0, sizeof(p->P(cfgwin_data)));
	p->P(device_features_sel) = 0;
	p->P(driver_features_sel) = 0;
	p->P(queue_sel) = 0;
	/* Stop the device (its queues) first, then clear ISR and vectors, so a
	 * queue thread cannot raise an interrupt on the freshly reset function. */
	(void)vdev_dev_set_status(p->P(dev), 0);
	virtio_reset(p);
}

VDEV_API int vdev_pci_init(struct vdev_pci *pci, struct vdev_dev *dev,
			   const struct vdev_pci_config *cfg)
{
	int rc;

	if (pci == NULL || dev == NULL || cfg == NULL || cfg->msix_vectors > VDEV_PCI_MAX_MSIX ||
	    (cfg->msix_vectors != 0 && (cfg->msix == NULL || cfg->queue_vectors == NULL)))
		return VDEV_EINVAL;
	/* queue_size must read 0 or a power of 2 (spec), and it reads the
	 * maximum after reset: Linux refuses the device otherwise. */
	for (uint32_t q = 0; q < vdev_dev_num_queues(dev); q++) {
		uint32_t max = vdev_vq_max_size(vdev_dev_queue(dev, q));
		if ((max & (max - 1u)) != 0)
			return VDEV_EINVAL;
	}
	memset(pci, 0, sizeof(*pci));
	pci->P(dev) = dev;
	pci->P(msix_vectors) = cfg->msix_vectors;
	pci->P(msix) = cfg->msix_vectors != 0 ? cfg->msix : NULL;
	pci->P(queue_vectors) = cfg->msix_vectors != 0 ? cfg->queue_vectors : NULL;
	pci->P(intx) = cfg->intx;
	pci->P(msi) = cfg->msi;
	pci->P(bar_map) = cfg->bar_map;
	pci->P(opaque) = cfg->opaque;
	pci->P(bar_size)[VDEV_PCI_REG_BAR] = VDEV_PCI_REG_BAR_SIZE;
	rc = layout_shm(pci);
	if (rc < 0)
		return rc;
	build_image(pci, cfg);
	pci->P(generation_seen) = vdev_dev_config_generation(dev);
	pci->P(config_vector) = VDEV_PCI_NO_VECTOR;
	for (uint16_t v = 0; v < pci->P(msix_vectors); v++) {
		memset(&pci->P(msix)[v], 0, sizeof(pci->P(msix)[v]));
		pci->P(msix)[v].P(ctrl) = MSIX_ENTRY_MASKED;
	}
	for (uint32_t q = 0; q < vdev_dev_num_queues(dev) && pci->P(queue_vectors) != NULL; q++)
		pci->P(queue_vectors)[q] = VDEV_PCI_NO_VECTOR;
	vdev_dev_set_transport(dev, &pci_transport_ops, pci);
	return 0;
}

/* ---- queries ------------------------------------------------------------------- */

VDEV_API uint64_t vdev_pci_bar_base(const struct vdev_pci *pci, unsigned bar)
{
	return bar < VDEV_PCI_NUM_BARS && pci->P(bar_size)[bar] != 0 ? pci->P(bar_addr)[bar] : 0;
}

VDEV_API uint64_t vdev_pci_bar_size(const struct vdev_pci *pci, unsigned bar)
{
	return bar < VDEV_PCI_NUM_BARS ? pci->P(bar_size)[bar] : 0;
}

VDEV_API bool vdev_pci_mem_enabled(const struct vdev_pci *pci)
{
	return (pci->P(command) & CMD_MEM) != 0;
}

VDEV_API bool vdev_pci_bus_master(const struct vdev_pci *pci) { return bus_master(pci); }

VDEV_API int vdev_pci_bar_lookup(const struct vdev_pci *pci, uint64_t gpa, unsigned size,
				 unsigned *bar, uint64_t *offset)
{
	if (!vdev_pci_mem_enabled(pci) || size == 0)
		return VDEV_ENOENT;
	for (unsigned b = 0; b < VDEV_PCI_NUM_BARS; b++) {
		uint64_t base = pci->P(bar_addr)[b], len = pci->P(bar_size)[b];
		if (len == 0 || gpa < base || gpa - base >= len || len - (gpa - base) < size)
			continue;
		*bar = b;
		*offset = gpa - base;
		return 0;
	}
	return VDEV_ENOENT;
}

VDEV_API int vdev_pci_shm_offset(const struct vdev_pci *pci, uint8_t id, uint64_t *offset)
{
	for (uint32_t i = 0; i < vdev_dev_num_shm(pci->P(dev)); i++) {
		if (vdev_dev_shm(pci->P(dev), i)->id == id) {
			*offset = pci->P(shm_offset)[i];
			return 0;
		}
	}
	return VDEV_ENOENT;
}

VDEV_API uint8_t vdev_pci_isr(const struct vdev_pci *pci) { return isr_load(pci); }

VDEV_API bool vdev_pci_msix_enabled(const struct vdev_pci *pci) { return msix_on(pci); }

/* ---- common configuration ---------------------------------------------------- */

static struct vdev_vq *selected_queue(struct vdev_pci *p)
{
	return vdev_dev_queue(p->P(dev), p->P(queue_sel));
}

static uint16_t checked_vector(const struct vdev_pci *p, uint32_t v)
{
	/* A vector outside the table cannot be mapped: reads back NO_VECTOR. */
	return v < p->P(msix_vectors) ? (uint16_t)v : VDEV_PCI_NO_VECTOR;
}

/* Width the driver must use for the field at `off` (0: no field there);
 * the queue address fields are handled apart. */
static unsigned common_width(uint32_t off)
{
	switch (off) {
	case CC_DFSELECT:
	case CC_DF:
	case CC_GFSELECT:
	case CC_GF:
		return 4;
	case CC_STATUS:
	case CC_CFG_GENERATION:
		return 1;
	default:
		return off < CC_SIZE && off % 2 == 0 && (off < CC_Q_DESC || off >= CC_Q_NDATA) ? 2 : 0;
	}
}

static bool is_queue_addr(uint32_t off, unsigned size)
{
	return off >= CC_Q_DESC && off < CC_Q_NDATA && (size == 4 || size == 8) &&
	       off % size == 0;
}

static uint64_t common_read(struct vdev_pci *p, uint32_t off, unsigned size)
{
	struct vdev_dev *dev = p->P(dev);
	struct vdev_vq *vq = selected_queue(p);
	uint64_t a[3];

	if (is_queue_addr(off, size)) {
		if (vq == NULL)
			return 0;
		vdev_vq_addrs(vq, &a[0], &a[1], &a[2]);
		uint64_t v = a[(off - CC_Q_DESC) / 8u];
		return size == 8 ? v : (uint32_t)(off % 8 ? v >> 32 : v);
	}
	if (common_width(off) != size)
		return 0;
	switch (off) {
	case CC_DFSELECT:
		return p->P(device_features_sel);
	case CC_DF:
		if (p->P(device_features_sel) > 1)
			return 0;
		return (uint32_t)(vdev_dev_offered_features(dev) >> (32u * p->P(device_features_sel)));
	case CC_GFSELECT:
		return p->P(driver_features_sel);
	case CC_GF:
		if (p->P(driver_features_sel) > 1)
			return 0;
		return (uint32_t)(p->P(driver_features) >> (32u * p->P(driver_features_sel)));
	case CC_MSIX_CONFIG:
		return p->P(config_vector);
	case CC_NUM_QUEUES:
		return vdev_dev_num_queues(dev);
	case CC_STATUS:
		return vdev_dev_status(dev);
	case CC_CFG_GENERATION: {
		/* 8 bits only: a plain truncation of the core's counter would
		 * repeat after 256 changes. Step it once per read that follows
		 * any change instead (the spec's suggestion), so two reads
		 * differ whenever the configuration changed between them. */
		uint32_t g = vdev_dev_config_generation(dev);
		if (g != p->P(generation_seen)) {
			p->P(generation_seen) = g;
			p->P(generation)++;
		}
		return p->P(generation);
	}
	case CC_Q_SELECT:
		return p->P(queue_sel);
	case CC_Q_SIZE:
		return vq != NULL ? vdev_vq_size(vq) : 0;
	case CC_Q_MSIX:
		if (vq == NULL || p->P(queue_vectors) == NULL)
			return VDEV_PCI_NO_VECTOR;
		return p->P(queue_vectors)[p->P(queue_sel)];
	case CC_Q_ENABLE:
		return vdev_dev_queue_enabled(dev, p->P(queue_sel)) ? 1u : 0u;
	case CC_Q_NOFF:
		return vq != NULL ? p->P(queue_sel) : 0; /* notify_off = queue index */
	case CC_Q_RESET:
		/* 1 while the reset is ongoing: a backend still holds buffers. */
		return vdev_dev_queue_reset_pending(dev, p->P(queue_sel)) ? 1u : 0u;
	default:
		/* queue_notif_config_data (NOTIF_CONFIG_DATA not offered),
		 * admin queues (none): 0 */
		return 0;
	}
}

/* Replace the low or high half of a 64-bit value. */
static uint64_t set_half(uint64_t old, bool high, uint32_t v)
{
	return high ? (old & 0xffffffffu) | (uint64_t)v << 32
		    : (old & ~(uint64_t)0xffffffffu) | v;
}

static void write_queue_addr(struct vdev_pci *p, uint32_t off, unsigned size, uint64_t v)
{
	struct vdev_vq *vq = selected_queue(p);
	uint64_t a[3];
	unsigned which = (off - CC_Q_DESC) / 8u;

	if (vq == NULL)
		return;
	vdev_vq_addrs(vq, &a[0], &a[1], &a[2]);
	a[which] = size == 8 ? v : set_half(a[which], off % 8 != 0, (uint32_t)v);
	/* Refused (no effect) while the queue is enabled or after DRIVER_OK. */
	(void)vdev_dev_queue_set_addrs(p->P(dev), p->P(queue_sel), a[0], a[1], a[2]);
}

/* Out of line, as the other set-up registers below: a notification's path
 * through vdev_pci_bar_write() carries small frames (the stack budget). */
static __attribute__((noinline)) void common_write(struct vdev_pci *p, uint32_t off,
						   unsigned size, uint64_t v64)
{
	struct vdev_dev *dev = p->P(dev);
	uint32_t v = (uint32_t)v64;

	if (is_queue_addr(off, size)) {
		write_queue_addr(p, off, size, v64);
		return;
	}
	if (common_width(off) != size)
		return;
	switch (off) {
	case CC_DFSELECT:
		p->P(device_features_sel) = v;
		break;
	case CC_GFSELECT:
		p->P(driver_features_sel) = v;
		break;
	case CC_GF:
		if (p->P(driver_features_sel) > 1 || (vdev_dev_status(dev) & VDEV_STATUS_FEATURES_OK))
			break; /* no such word / fixed once accepted */
		p->P(driver_features) =
			set_half(p->P(driver_features), p->P(driver_features_sel) == 1, v);
		(void)vdev_dev_set_driver_features(dev, p->P(driver_features));
		break;
	case CC_MSIX_CONFIG:
		__atomic_store_n(&p->P(config_vector), checked_vector(p, v), __ATOMIC_RELEASE);
		break;
	case CC_STATUS:
		(void)vdev_dev_set_status(dev, (uint8_t)v);
		if (v == 0)
			virtio_reset(p); /* after the queues stopped (see vdev_pci_reset) */
		break;
	case CC_Q_SELECT:
		p->P(queue_sel) = (uint16_t)v;
		break;
	case CC_Q_SIZE:
		/* queue_size must always read 0 or a power of 2 for a split ring
		 * (spec), so other sizes are refused here; sizes above the
		 * maximum (or 0) are refused by the core, and so is any change
		 * while enabled or after DRIVER_OK. */
		if (!vdev_dev_has_feature(dev, VDEV_F_RING_PACKED) && !vdev__is_pow2(v))
			break;
		(void)vdev_dev_queue_set_size(dev, p->P(queue_sel), v);
		break;
	case CC_Q_MSIX:
		if (selected_queue(p) != NULL && p->P(queue_vectors) != NULL)
			__atomic_store_n(&p->P(queue_vectors)[p->P(queue_sel)], checked_vector(p, v),
					 __ATOMIC_RELEASE);
		break;
	case CC_Q_ENABLE:
		/* 1 enables (refused for a size invalid for the layout); the
		 * driver must not write 0, which is ignored. */
		if (v == 1)
			(void)vdev_dev_queue_enable(dev, p->P(queue_sel), true);
		break;
	case CC_Q_RESET:
		if (v == 1)
			(void)vdev_dev_queue_reset(dev, p->P(queue_sel));
		break;
	default:
		break; /* read-only */
	}
}

/* ---- MSI-X table and PBA ------------------------------------------------------- */

static uint32_t *entry_word(struct vdev_pci_msix_vector *e, unsigned w)
{
	switch (w) {
	case 0:
		return &e->P(addr_lo);
	case 1:
		return &e->P(addr_hi);
	case 2:
		return &e->P(data);
	default:
		return &e->P(ctrl);
	}
}

static uint64_t msix_table_read(struct vdev_pci *p, uint32_t off, unsigned size)
{
	struct vdev_pci_msix_vector *e = &p->P(msix)[off / 16u];
	unsigned w = (off % 16u) / 4u;
	uint64_t v = __atomic_load_n(entry_word(e, w), __ATOMIC_ACQUIRE);

	if (size == 8)
		v |= (uint64_t)__atomic_load_n(entry_word(e, w + 1), __ATOMIC_ACQUIRE) << 32;
	return v;
}

static void msix_table_write_word(struct vdev_pci *p, uint16_t vec, unsigned w, uint32_t v)
{
	struct vdev_pci_msix_vector *e = &p->P(msix)[vec];
	uint32_t s = e->P(seq); /* only the access path writes it */

	__atomic_store_n(&e->P(seq), s + 1u, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (w != 3)
		__atomic_store_n(entry_word(e, w), v, __ATOMIC_RELAXED);
	else /* vector control: only the mask bit is writable */
		__atomic_store_n(&e->P(ctrl), v & MSIX_ENTRY_MASKED, __ATOMIC_RELAXED);
	__atomic_store_n(&e->P(seq), s + 2u, __ATOMIC_RELEASE);
	if (w == 3 && !(v & MSIX_ENTRY_MASKED)) {
		__atomic_thread_fence(__ATOMIC_SEQ_CST); /* StoreLoad against msix_signal */
		flush_pending(p, vec);
	}
}

static __attribute__((noinline)) void msix_table_write(struct vdev_pci *p, uint32_t off,
						       unsigned size, uint64_t v)
{
	uint16_t vec = (uint16_t)(off / 16u);
	unsigned w = (off % 16u) / 4u;

	msix_table_write_word(p, vec, w, (uint32_t)v);
	if (size == 8)
		msix_table_write_word(p, vec, w + 1, (uint32_t)(v >> 32));
}

static uint64_t msix_pba_read(const struct vdev_pci *p, uint32_t off, unsigned size)
{
	uint64_t v = 0;

	for (uint32_t bit = 0; bit < 8u * size; bit++) {
		uint32_t vec = off * 8u + bit;
		if (vec < p->P(msix_vectors) &&
		    __atomic_load_n(&p->P(msix)[vec].P(pending), __ATOMIC_ACQUIRE))
			v |= UINT64_C(1) << bit;
	}
	return v;
}

static __attribute__((noinline)) void msix_ctrl_write(struct vdev_pci *p, uint16_t v)
{
	uint16_t old = p->P(msix_ctrl);
	uint16_t now = v & (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);

	__atomic_store_n(&p->P(msix_ctrl), now, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if ((old ^ now) & MSIX_CTRL_ENABLE)
		update_intx(p); /* INTx is not used while MSI-X is enabled */
	if ((now & MSIX_CTRL_ENABLE) && !(now & MSIX_CTRL_MASKALL))
		flush_all_pending(p);
}

/* ---- BAR access ------------------------------------------------------------------ */

static bool valid_size(unsigned size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

static bool in_range(uint64_t off, unsigned size, uint32_t start, uint32_t len)
{
	return off >= start && off - start < len && len - (off - start) >= size;
}

static uint32_t msix_table_len(const struct vdev_pci *p) { return p->P(msix_vectors) * 16u; }
static uint32_t msix_pba_len(const struct vdev_pci *p)
{
	return (p->P(msix_vectors) + 63u) / 64u * 8u;
}

VDEV_API uint64_t vdev_pci_bar_read(struct vdev_pci *pci, unsigned bar, uint64_t offset,
				    unsigned size)
{
	struct vdev_dev *dev;

	if (bar != VDEV_PCI_REG_BAR || !valid_size(size) || (offset & (size - 1u)) != 0 ||
	    offset >= VDEV_PCI_REG_BAR_SIZE)
		return 0; /* the shm BAR's memory is the integrator's */
	dev = pci->P(dev);
	uint32_t off = (uint32_t)offset;
	if (off < CC_SIZE)
		return common_read(pci, off, size);
	if (off == VDEV_PCI_ISR_OFFSET && size == 1) {
		/* read-to-clear; deasserts INTx */
		uint8_t isr = vdev__atomic_exchange(&pci->P(isr), 0, __ATOMIC_ACQ_REL);
		if (isr != 0)
			update_intx(pci);
		return isr;
	}
	if (in_range(off, size, VDEV_PCI_DEVICE_OFFSET, vdev_dev_config_len(dev)) && size <= 8) {
		uint8_t buf[8] = {0};
		if (vdev_dev_config_read(dev, off - VDEV_PCI_DEVICE_OFFSET, buf, size) < 0)
			return 0;
		return vdev__get_le64(buf);
	}
	if ((size == 4 || size == 8) &&
	    in_range(off, size, VDEV_PCI_MSIX_TABLE_OFFSET, msix_table_len(pci)))
		return msix_table_read(pci, off - VDEV_PCI_MSIX_TABLE_OFFSET, size);
	if ((size == 4 || size == 8) &&
	    in_range(off, size, VDEV_PCI_MSIX_PBA_OFFSET, msix_pba_len(pci)))
		return msix_pba_read(pci, off - VDEV_PCI_MSIX_PBA_OFFSET, size);
	return 0; /* notifications are write-only; the rest is unassigned */
}

VDEV_API void vdev_pci_bar_write(struct vdev_pci *pci, unsigned bar, uint64_t offset,
				 unsigned size, uint64_t value)
{
	struct vdev_dev *dev;

	if (bar != VDEV_PCI_REG_BAR || !valid_size(size) || (offset & (size - 1u)) != 0 ||
	    offset >= VDEV_PCI_REG_BAR_SIZE)
		return;
	dev = pci->P(dev);
	uint32_t off = (uint32_t)offset;
	if (off < CC_SIZE) {
		common_write(pci, off, size, value);
		return;
	}
	if (in_range(off, size, VDEV_PCI_DEVICE_OFFSET, vdev_dev_config_len(dev))) {
		uint8_t buf[8];
		vdev__put_le64(buf, value);
		(void)vdev_dev_config_write(dev, off - VDEV_PCI_DEVICE_OFFSET, buf, size);
		return;
	}
	if (in_range(off, size, VDEV_PCI_NOTIFY_OFFSET,
		     vdev_dev_num_queues(dev) * VDEV_PCI_NOTIFY_MULTIPLIER) &&
	    (size == 2 || size == 4) && off % VDEV_PCI_NOTIFY_MULTIPLIER == 0) {
		uint32_t q = (off - VDEV_PCI_NOTIFY_OFFSET) / VDEV_PCI_NOTIFY_MULTIPLIER;
		/* The address names the queue; with NOTIFICATION_DATA a 32-bit
		 * write carries the next available position in its upper half. */
		bool data = size == 4 && vdev_dev_has_feature(dev, VDEV_F_NOTIFICATION_DATA);
		if (!bus_master(pci)) {
			/* The model would read the rings (DMA): remember the
			 * kick and pass it on when bus mastering is back. The
			 * notification data is only a hint; the ring is the
			 * authority, so it is not kept. */
			pci->P(held_kicks)[q / 64u] |= UINT64_C(1) << (q % 64u);
			return;
		}
		(void)vdev_dev_queue_notify(dev, q, data, (uint16_t)(value >> 16));
		return;
	}
	if ((size == 4 || size == 8) &&
	    in_range(off, size, VDEV_PCI_MSIX_TABLE_OFFSET, msix_table_len(pci)))
		msix_table_write(pci, off - VDEV_PCI_MSIX_TABLE_OFFSET, size, value);
	/* ISR and PBA are read-only; the rest is unassigned */
}

/* ---- configuration space ------------------------------------------------------- */

static uint16_t status_reg(const struct vdev_pci *p)
{
	uint16_t st = STATUS_CAP_LIST;

	if (isr_load(p) != 0 && !msix_on(p))
		st |= STATUS_INTERRUPT;
	return st;
}

/* The lower register of a 64-bit BAR pair that `reg` (0..5) belongs to,
 * and whether reg is its upper half; false if no BAR is implemented there. */
static bool bar_of_reg(const struct vdev_pci *p, unsigned reg, unsigned *bar, bool *high)
{
	if (p->P(bar_size)[reg] != 0) {
		*bar = reg;
		*high = false;
		return true;
	}
	if (reg > 0 && p->P(bar_size)[reg - 1] != 0) {
		*bar = reg - 1;
		*high = true;
		return true;
	}
	return false;
}

static uint32_t bar_reg_read(const struct vdev_pci *p, unsigned reg)
{
	unsigned bar;
	bool high;

	if (!bar_of_reg(p, reg, &bar, &high))
		return 0;
	uint64_t a = p->P(bar_addr)[bar] & ~(p->P(bar_size)[bar] - 1u);
	if (high)
		return (uint32_t)(a >> 32);
	return (uint32_t)a | BAR_MEM_64 | (bar == VDEV_PCI_SHM_BAR ? BAR_PREFETCH : 0u);
}

static __attribute__((noinline)) void bar_reg_write(struct vdev_pci *p, unsigned reg, uint32_t v)
{
	unsigned bar;
	bool high;

	if (!bar_of_reg(p, reg, &bar, &high))
		return;
	uint64_t old = p->P(bar_addr)[bar];
	/* Address bits below the size are hardwired to 0: after an all-ones
	 * write the BAR reads back its size mask. */
	uint64_t now = set_half(old, high, high ? v : v & ~0xfu) & ~(p->P(bar_size)[bar] - 1u);
	p->P(bar_addr)[bar] = now;
	if (now != old && p->P(bar_map) != NULL)
		p->P(bar_map)(p->P(opaque), bar, now, vdev_pci_mem_enabled(p));
}

/*
 * Bus mastering came back: send the messages held while it was off (for
 * vectors that are unmasked now), then pass on the kicks held meanwhile.
 * The SEQ_CST fence after the command store pairs with the one in
 * msix_signal (StoreLoad both ways): a queue thread that saw BME clear and
 * set a pending bit is either seen by flush_all_pending here or sees BME
 * set in its own flush_pending; the pending-bit exchange makes exactly one
 * of them send. The kick bitmap is only touched by the access path.
 */
static void bus_master_on(struct vdev_pci *p)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (msix_on(p))
		flush_all_pending(p);
	for (uint32_t q = 0; q < vdev_dev_num_queues(p->P(dev)); q++) {
		uint64_t bit = UINT64_C(1) << (q % 64u);
		if (!(p->P(held_kicks)[q / 64u] & bit))
			continue;
		p->P(held_kicks)[q / 64u] &= ~bit;
		/* Ignored as any kick is if the queue is not live (now). */
		(void)vdev_dev_queue_notify(p->P(dev), q, false, 0);
	}
}

static __attribute__((noinline)) void command_write(struct vdev_pci *p, uint16_t v)
{
	uint16_t old = p->P(command), now = v & CMD_WRITABLE;

	__atomic_store_n(&p->P(command), now, __ATOMIC_RELEASE);
	if (((old ^ now) & CMD_MEM) && p->P(bar_map) != NULL)
		for (unsigned b = 0; b < VDEV_PCI_NUM_BARS; b++)
			if (p->P(bar_size)[b] != 0)
				p->P(bar_map)(p->P(opaque), b, p->P(bar_addr)[b], (now & CMD_MEM) != 0);
	if ((old ^ now) & CMD_INTX_DISABLE)
		update_intx(p);
	if (!(old & CMD_MASTER) && (now & CMD_MASTER))
		bus_master_on(p);
}

/* The PCI_CFG window: an access of cap.length bytes at cap.offset of
 * cap.bar, done by a read or write of pci_cfg_data. Invalid set-ups
 * (length not 1/2/4, unaligned offset, not our register BAR, outside it)
 * read 0 / do nothing, as the BAR access would. */
static bool cfgwin_valid(const struct vdev_pci *p)
{
	uint32_t len = p->P(cfgwin_length);

	return (len == 1 || len == 2 || len == 4) && p->P(cfgwin_offset) % len == 0;
}

static uint32_t cfgwin_read(struct vdev_pci *p)
{
	uint32_t v = 0;

	if (cfgwin_valid(p))
		v = (uint32_t)vdev_pci_bar_read(p, p->P(cfgwin_bar), p->P(cfgwin_offset),
						(unsigned)p->P(cfgwin_length));
	vdev__put_le32(p->P(cfgwin_data), v);
	return v;
}

static void cfgwin_write(struct vdev_pci *p)
{
	uint32_t len = p->P(cfgwin_length);

	if (!cfgwin_valid(p))
		return;
	uint32_t v = vdev__get_le32(p->P(cfgwin_data));
	if (len < 4)
		v &= (1u << (8u * len)) - 1u;
	vdev_pci_bar_write(p, p->P(cfgwin_bar), p->P(cfgwin_offset), (unsigned)len, v);
}

/* The dword at `d` (4-aligned) as the guest reads it. */
static uint32_t cfg_dword(struct vdev_pci *p, uint32_t d)
{
	uint32_t v = vdev__get_le32(p->P(image) + d);
	uint32_t w = p->P(cap_pci_cfg);

	if (d == CFG_COMMAND)
		return p->P(command) | (uint32_t)status_reg(p) << 16;
	if (d == CFG_CACHE_LINE)
		return (v & ~0xffu) | p->P(cache_line);
	if (d >= CFG_BAR0 && d < CFG_BAR0 + 4 * VDEV_PCI_NUM_BARS)
		return bar_reg_read(p, (d - CFG_BAR0) / 4);
	if (d == CFG_INT_LINE)
		return (v & ~0xffu) | p->P(irq_line);
	if (p->P(cap_msix) != 0 && d == p->P(cap_msix))
		return v | (uint32_t)p->P(msix_ctrl) << 16;
	if (d == w + CAP_BAR)
		return (v & ~0xffu) | p->P(cfgwin_bar);
	if (d == w + CAP_OFFSET)
		return p->P(cfgwin_offset);
	if (d == w + CAP_LENGTH)
		return p->P(cfgwin_length);
	if (d == w + CAP_CFG_DATA)
		return cfgwin_read(p);
	return v;
}

static uint32_t merge(uint32_t old, uint32_t v, uint32_t mask) { return (old & ~mask) | (v & mask); }

static void cfg_write_dword(struct vdev_pci *p, uint32_t d, uint32_t v, uint32_t mask)
{
	uint32_t w = p->P(cap_pci_cfg);

	if (d == CFG_COMMAND) {
		if (mask & 0xffffu) /* the status half: error bits we never set */
			command_write(p, (uint16_t)merge(p->P(command), v, mask));
	} else if (d == CFG_CACHE_LINE) {
		if (mask & 0xffu)
			p->P(cache_line) = (uint8_t)v;
	} else if (d >= CFG_BAR0 && d < CFG_BAR0 + 4 * VDEV_PCI_NUM_BARS) {
		unsigned reg = (d - CFG_BAR0) / 4;
		bar_reg_write(p, reg, merge(bar_reg_read(p, reg), v, mask));
	} else if (d == CFG_INT_LINE) {
		if (mask & 0xffu)
			p->P(irq_line) = (uint8_t)v;
	} else if (p->P(cap_msix) != 0 && d == p->P(cap_msix)) {
		if (mask & 0xffff0000u)
			msix_ctrl_write(p, (uint16_t)(merge((uint32_t)p->P(msix_ctrl) << 16, v, mask) >> 16));
	} else if (d == w + CAP_BAR) {
		if (mask & 0xffu)
			p->P(cfgwin_bar) = (uint8_t)v;
	} else if (d == w + CAP_OFFSET) {
		p->P(cfgwin_offset) = merge(p->P(cfgwin_offset), v, mask);
	} else if (d == w + CAP_LENGTH) {
		p->P(cfgwin_length) = merge(p->P(cfgwin_length), v, mask);
	} else if (d == w + CAP_CFG_DATA) {
		vdev__put_le32(p->P(cfgwin_data), merge(vdev__get_le32(p->P(cfgwin_data)), v, mask));
		cfgwin_write(p);
	}
	/* everything else is read-only */
}

static bool cfg_access_ok(uint32_t offset, unsigned size)
{
	return (size == 1 || size == 2 || size == 4) && (offset & (size - 1u)) == 0 &&
	       offset < VDEV_PCI_CONFIG_SIZE;
}

VDEV_API uint32_t vdev_pci_config_read(struct vdev_pci *pci, uint32_t offset, unsigned size)
{
	if (!cfg_access_ok(offset, size))
		return 0;
	uint32_t v = cfg_dword(pci, offset & ~3u) >> (8u * (offset & 3u));
	return size == 4 ? v : v & ((1u << (8u * size)) - 1u);
}

VDEV_API void vdev_pci_config_write(struct vdev_pci *pci, uint32_t offset, unsigned size,
				    uint32_t value)
{
	if (!cfg_access_ok(offset, size))
		return;
	unsigned shift = 8u * (offset & 3u);
	uint32_t mask = (size == 4 ? 0xffffffffu : (1u << (8u * size)) - 1u) << shift;
	cfg_write_dword(pci, offset & ~3u, value << shift, mask);
}
