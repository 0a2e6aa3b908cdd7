/* SPDX-License-Identifier: MIT */
/* Driver simulator, virtio-pci front end: see drv_pci.h. Written from the
 * driver-side rules of the spec's "Virtio Over PCI Bus" and the PCI header
 * layout; it uses only what the capabilities tell it. */
#include "drv_pci.h"

#include <string.h>

/* common configuration fields */
enum {
	C_DFSELECT = 0x00,
	C_DF = 0x04,
	C_GFSELECT = 0x08,
	C_GF = 0x0c,
	C_MSIX_CONFIG = 0x10,
	C_NUM_QUEUES = 0x12,
	C_STATUS = 0x14,
	C_CFG_GENERATION = 0x15,
	C_Q_SELECT = 0x16,
	C_Q_SIZE = 0x18,
	C_Q_MSIX = 0x1a,
	C_Q_ENABLE = 0x1c,
	C_Q_NOFF = 0x1e,
	C_Q_DESC = 0x20,
	C_Q_DRIVER = 0x28,
	C_Q_DEVICE = 0x30,
	C_Q_RESET = 0x3a,
};

void drv_pci_intx(void *opaque, bool level)
{
	struct drv_pci *d = opaque;

	d->intx_calls++;
	if (level && !d->line)
		d->raises++;
	d->line = level;
}

void drv_pci_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct drv_pci *d = opaque;
	uint32_t v = data < DRV_PCI_MAX_VECTORS ? data : DRV_PCI_MAX_VECTORS;

	d->msi_count[v]++;
	d->last_msi_addr = addr;
	d->last_msi_data = data;
	d->msi_seen |= v == 0 ? DRV_INT_CONFIG : DRV_INT_VRING;
}

void drv_pci_bar_map(void *opaque, unsigned bar, uint64_t base, bool enabled)
{
	struct drv_pci *d = opaque;

	d->bar_map_calls++;
	if (bar < 6)
		d->mapped_base[bar] = base;
	d->mapped_on = enabled;
}

uint32_t drv_pci_cfg_rd(struct drv_pci *d, uint32_t off, unsigned size)
{
	return vdev_pci_config_read(d->pci, off, size);
}

void drv_pci_cfg_wr(struct drv_pci *d, uint32_t off, unsigned size, uint32_t v)
{
	vdev_pci_config_write(d->pci, off, size, v);
}

static uint64_t ones(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

uint64_t drv_pci_mem_rd(struct drv_pci *d, uint64_t gpa, unsigned size)
{
	unsigned bar;
	uint64_t off;

	if (vdev_pci_bar_lookup(d->pci, gpa, size, &bar, &off) != 0)
		return ones(size); /* master abort */
	return vdev_pci_bar_read(d->pci, bar, off, size);
}

void drv_pci_mem_wr(struct drv_pci *d, uint64_t gpa, unsigned size, uint64_t v)
{
	unsigned bar;
	uint64_t off;

	if (vdev_pci_bar_lookup(d->pci, gpa, size, &bar, &off) == 0)
		vdev_pci_bar_write(d->pci, bar, off, size, v);
}

/* The PCI_CFG window: bar, length, offset, then the data. */
static void window_setup(struct drv_pci *d, uint8_t bar, uint64_t off, unsigned size)
{
	drv_pci_cfg_wr(d, d->cfg_cap + 4u, 1, bar);
	drv_pci_cfg_wr(d, d->cfg_cap + 12u, 4, size);
	drv_pci_cfg_wr(d, d->cfg_cap + 8u, 4, (uint32_t)off);
}

uint64_t drv_pci_rd(struct drv_pci *d, const struct drv_pci_region *r, uint32_t off, unsigned size)
{
	uint64_t at = (uint64_t)r->off + off;

	if (!d->use_cfg_window)
		return at < d->bar_size[r->bar] ? drv_pci_mem_rd(d, d->bar_base[r->bar] + at, size)
						 : vdev_pci_bar_read(d->pci, r->bar, at, size);
	if (size == 8) /* the window is at most 4 bytes wide */
		return drv_pci_rd(d, r, off, 4) | drv_pci_rd(d, r, off + 4, 4) << 32;
	window_setup(d, r->bar, at, size);
	return drv_pci_cfg_rd(d, d->cfg_cap + 16u, 4) & ones(size);
}

void drv_pci_wr(struct drv_pci *d, const struct drv_pci_region *r, uint32_t off, unsigned size,
		uint64_t v)
{
	uint64_t at = (uint64_t)r->off + off;

	if (!d->use_cfg_window) {
		if (at < d->bar_size[r->bar])
			drv_pci_mem_wr(d, d->bar_base[r->bar] + at, size, v);
		else
			vdev_pci_bar_write(d->pci, r->bar, at, size, v);
		return;
	}
	if (size == 8) {
		drv_pci_wr(d, r, off, 4, (uint32_t)v);
		drv_pci_wr(d, r, off + 4, 4, v >> 32);
		return;
	}
	window_setup(d, r->bar, at, size);
	drv_pci_cfg_wr(d, d->cfg_cap + 16u, 4, (uint32_t)v);
}

/* ---- enumeration ------------------------------------------------------------ */

static int fail(const char **why, const char *msg)
{
	if (why != NULL)
		*why = msg;
	return -1;
}

static void read_region(struct drv_pci *d, uint8_t cap, struct drv_pci_region *r)
{
	if (r->found) /* the first of each type is the device's preference */
		return;
	r->found = true;
	r->bar = (uint8_t)drv_pci_cfg_rd(d, cap + 4u, 1);
	r->off = drv_pci_cfg_rd(d, cap + 8u, 4);
	r->len = drv_pci_cfg_rd(d, cap + 12u, 4);
}

static int walk_caps(struct drv_pci *d, const char **why)
{
	uint8_t cap = (uint8_t)(drv_pci_cfg_rd(d, 0x34, 1) & 0xfcu);

	for (int n = 0; cap != 0; n++) {
		if (n > 48 || cap < 0x40)
			return fail(why, "capability list loops or points into the header");
		uint8_t id = (uint8_t)drv_pci_cfg_rd(d, cap, 1);
		uint8_t len = (uint8_t)drv_pci_cfg_rd(d, cap + 2u, 1);
		d->caps_seen++;
		if (id == 0x11) {
			d->msix_cap = cap;
			d->msix_size = (uint16_t)((drv_pci_cfg_rd(d, cap + 2u, 2) & 0x7ffu) + 1u);
			uint32_t t = drv_pci_cfg_rd(d, cap + 4u, 4), pba = drv_pci_cfg_rd(d, cap + 8u, 4);
			d->msix_table_bar = (uint8_t)(t & 7u);
			d->msix_table_off = t & ~7u;
			d->msix_pba_bar = (uint8_t)(pba & 7u);
			d->msix_pba_off = pba & ~7u;
		} else if (id == 0x09) {
			uint8_t type = (uint8_t)drv_pci_cfg_rd(d, cap + 3u, 1);
			if (len < 16)
				return fail(why, "virtio capability shorter than virtio_pci_cap");
			switch (type) {
			case 1:
				read_region(d, cap, &d->common);
				break;
			case 2:
				if (!d->notify.found)
					d->notify_mult = drv_pci_cfg_rd(d, cap + 16u, 4);
				read_region(d, cap, &d->notify);
				break;
			case 3:
				read_region(d, cap, &d->isr);
				break;
			case 4:
				read_region(d, cap, &d->device);
				break;
			case 5:
				if (d->cfg_cap == 0)
					d->cfg_cap = cap;
				break;
			case 8:
				if (len < 24 || d->num_shm == 4)
					return fail(why, "bad shared memory capability");
				d->shm[d->num_shm].id = (uint8_t)drv_pci_cfg_rd(d, cap + 5u, 1);
				d->shm[d->num_shm].bar = (uint8_t)drv_pci_cfg_rd(d, cap + 4u, 1);
				d->shm[d->num_shm].off = drv_pci_cfg_rd(d, cap + 8u, 4) |
							 (uint64_t)drv_pci_cfg_rd(d, cap + 16u, 4) << 32;
				d->shm[d->num_shm].len = drv_pci_cfg_rd(d, cap + 12u, 4) |
							 (uint64_t)drv_pci_cfg_rd(d, cap + 20u, 4) << 32;
				d->num_shm++;
				break;
			default:
				break; /* reserved types are ignored */
			}
		}
		cap = (uint8_t)(drv_pci_cfg_rd(d, cap + 1u, 1) & 0xfcu);
	}
	if (!d->common.found || !d->notify.found || !d->isr.found || d->cfg_cap == 0)
		return fail(why, "a required virtio capability is missing");
	return 0;
}

/* Size every BAR (all-ones, read back, restore), then place it. */
static int size_and_place_bars(struct drv_pci *d, const char **why)
{
	uint64_t next = d->place_at != 0 ? d->place_at : 0xe0000000ull;

	for (unsigned i = 0; i < 6; i++) {
		uint32_t reg = 0x10 + 4 * i;
		uint32_t orig = drv_pci_cfg_rd(d, reg, 4);
		drv_pci_cfg_wr(d, reg, 4, 0xffffffffu);
		uint32_t lo = drv_pci_cfg_rd(d, reg, 4);
		drv_pci_cfg_wr(d, reg, 4, orig);
		if (lo == 0)
			continue; /* not implemented */
		if (lo & 1u)
			return fail(why, "I/O BAR on a modern device");
		uint64_t mask = lo & ~0xfull;
		bool is64 = ((lo >> 1) & 3u) == 2u;
		if (is64) {
			if (i == 5)
				return fail(why, "64-bit BAR in the last slot");
			uint32_t horig = drv_pci_cfg_rd(d, reg + 4, 4);
			drv_pci_cfg_wr(d, reg + 4, 4, 0xffffffffu);
			mask |= (uint64_t)drv_pci_cfg_rd(d, reg + 4, 4) << 32;
			drv_pci_cfg_wr(d, reg + 4, 4, horig);
		} else {
			mask |= 0xffffffff00000000ull;
		}
		uint64_t size = ~mask + 1;
		if (size == 0 || (size & (size - 1)) != 0)
			return fail(why, "BAR size is not a power of two");
		d->bar_size[i] = size;
		d->bar64[i] = is64;
		d->bar_prefetch[i] = (lo & 8u) != 0;
		next = (next + size - 1) & ~(size - 1);
		d->bar_base[i] = next;
		drv_pci_cfg_wr(d, reg, 4, (uint32_t)next);
		if (is64)
			drv_pci_cfg_wr(d, reg + 4, 4, (uint32_t)(next >> 32));
		next += size;
		if (is64)
			i++;
	}
	return 0;
}

int drv_pci_probe(struct drv_pci *d, const char **why)
{
	if (drv_pci_cfg_rd(d, 0x00, 2) != 0x1af4)
		return fail(why, "vendor id");
	uint32_t dev = drv_pci_cfg_rd(d, 0x02, 2);
	if (dev < 0x1040 || dev > 0x107f)
		return fail(why, "not a modern virtio device id");
	d->device_id = (uint16_t)(dev - 0x1040);
	if (drv_pci_cfg_rd(d, 0x08, 1) < 1)
		return fail(why, "revision 0 (transitional)");
	if (drv_pci_cfg_rd(d, 0x2e, 2) < 0x40)
		return fail(why, "subsystem id below 0x40");
	if ((drv_pci_cfg_rd(d, 0x0e, 1) & 0x7fu) != 0)
		return fail(why, "not a type-0 header");
	if (!(drv_pci_cfg_rd(d, 0x06, 2) & 0x10u))
		return fail(why, "no capability list");
	if (walk_caps(d, why) != 0)
		return -1;
	if (size_and_place_bars(d, why) != 0)
		return -1;
	if (d->bar_size[d->common.bar] == 0 || d->bar_size[d->notify.bar] == 0)
		return fail(why, "a structure is in a BAR that does not exist");
	/* memory decoding and bus mastering on */
	drv_pci_cfg_wr(d, 0x04, 2, drv_pci_cfg_rd(d, 0x04, 2) | 0x0006u);
	d->num_queues = (uint16_t)drv_pci_rd(d, &d->common, C_NUM_QUEUES, 2);
	if (d->use_msix) {
		if (d->msix_cap == 0)
			return fail(why, "no MSI-X capability");
		/* enable with the function masked, program the table, unmask */
		drv_pci_cfg_wr(d, d->msix_cap + 2u, 2, 0xc000u);
		struct drv_pci_region t = {true, d->msix_table_bar, d->msix_table_off, 0};
		bool win = d->use_cfg_window;
		d->use_cfg_window = false; /* the table is not reached through the window by drivers */
		for (uint32_t v = 0; v < d->msix_size && v < DRV_PCI_MAX_VECTORS; v++) {
			drv_pci_wr(d, &t, v * 16 + 0, 4, (uint32_t)DRV_PCI_MSI_ADDR);
			drv_pci_wr(d, &t, v * 16 + 4, 4, (uint32_t)(DRV_PCI_MSI_ADDR >> 32));
			drv_pci_wr(d, &t, v * 16 + 8, 4, v);
			drv_pci_wr(d, &t, v * 16 + 12, 4, 0); /* unmask */
		}
		d->use_cfg_window = win;
		drv_pci_cfg_wr(d, d->msix_cap + 2u, 2, 0x8000u);
	}
	return 0;
}

/* ---- transport ops ------------------------------------------------------------- */

static uint32_t c_rd(struct drv_pci *d, uint32_t off, unsigned w)
{
	return (uint32_t)drv_pci_rd(d, &d->common, off, w);
}

static void c_wr(struct drv_pci *d, uint32_t off, unsigned w, uint64_t v)
{
	drv_pci_wr(d, &d->common, off, w, v);
}

static uint32_t p_device_id(void *t)
{
	return drv_pci_cfg_rd(t, 0x02, 2) - 0x1040u;
}
static uint8_t p_get_status(void *t) { return (uint8_t)c_rd(t, C_STATUS, 1); }
static void p_set_status(void *t, uint8_t s) { c_wr(t, C_STATUS, 1, s); }

static uint64_t p_get_features(void *t)
{
	uint64_t f;
	c_wr(t, C_DFSELECT, 4, 1);
	f = (uint64_t)c_rd(t, C_DF, 4) << 32;
	c_wr(t, C_DFSELECT, 4, 0);
	return f | c_rd(t, C_DF, 4);
}

static void p_set_features(void *t, uint64_t f)
{
	c_wr(t, C_GFSELECT, 4, 0);
	c_wr(t, C_GF, 4, (uint32_t)f);
	c_wr(t, C_GFSELECT, 4, 1);
	c_wr(t, C_GF, 4, (uint32_t)(f >> 32));
}

static uint16_t p_queue_max(void *t, uint16_t q)
{
	c_wr(t, C_Q_SELECT, 2, q);
	return (uint16_t)c_rd(t, C_Q_SIZE, 2);
}

static uint16_t queue_vector(const struct drv_pci *d, uint16_t q)
{
	uint32_t v = 1u + q;
	return (uint16_t)(v < d->msix_size && v < DRV_PCI_MAX_VECTORS ? v : 1u);
}

static bool p_setup_queue(void *t, uint16_t q, uint16_t size, uint64_t desc, uint64_t driver,
			  uint64_t device)
{
	struct drv_pci *d = t;

	if (d->use_msix) {
		c_wr(d, C_MSIX_CONFIG, 2, 0);
		if (c_rd(d, C_MSIX_CONFIG, 2) != 0)
			return false;
	}
	c_wr(d, C_Q_SELECT, 2, q);
	if (c_rd(d, C_Q_SIZE, 2) == 0 || c_rd(d, C_Q_ENABLE, 2) != 0)
		return false; /* no such queue / must be disabled before set-up */
	c_wr(d, C_Q_SIZE, 2, size);
	if (d->use_msix) {
		c_wr(d, C_Q_MSIX, 2, queue_vector(d, q));
		if (c_rd(d, C_Q_MSIX, 2) != queue_vector(d, q))
			return false;
	}
	c_wr(d, C_Q_DESC, 4, (uint32_t)desc);
	c_wr(d, C_Q_DESC + 4, 4, (uint32_t)(desc >> 32));
	c_wr(d, C_Q_DRIVER, 4, (uint32_t)driver);
	c_wr(d, C_Q_DRIVER + 4, 4, (uint32_t)(driver >> 32));
	c_wr(d, C_Q_DEVICE, 4, (uint32_t)device);
	c_wr(d, C_Q_DEVICE + 4, 4, (uint32_t)(device >> 32));
	c_wr(d, C_Q_ENABLE, 2, 1);
	return c_rd(d, C_Q_ENABLE, 2) == 1;
}

static bool p_queue_enabled(void *t, uint16_t q)
{
	c_wr(t, C_Q_SELECT, 2, q);
	return c_rd(t, C_Q_ENABLE, 2) == 1;
}

static bool p_reset_queue(void *t, uint16_t q)
{
	c_wr(t, C_Q_SELECT, 2, q);
	c_wr(t, C_Q_RESET, 2, 1);
	return c_rd(t, C_Q_RESET, 2) == 0 && c_rd(t, C_Q_ENABLE, 2) == 0;
}

static void p_notify(void *t, uint16_t q, bool has_data, uint16_t data)
{
	struct drv_pci *d = t;
	uint32_t noff = q;

	/* A real driver only notifies queues it set up; for the others
	 * (tests) the slot the address arithmetic gives is used. */
	if (q < d->num_queues) {
		c_wr(d, C_Q_SELECT, 2, q);
		noff = c_rd(d, C_Q_NOFF, 2);
	}
	uint32_t off = noff * d->notify_mult;
	if (has_data)
		drv_pci_wr(d, &d->notify, off, 4, (uint32_t)q | (uint32_t)data << 16);
	else
		drv_pci_wr(d, &d->notify, off, 2, q);
}

static uint32_t p_config_generation(void *t) { return c_rd(t, C_CFG_GENERATION, 1); }

/* Device configuration: the widest aligned access that fits. */
static void p_config_read(void *t, uint32_t off, void *buf, uint32_t len)
{
	struct drv_pci *d = t;
	uint8_t *b = buf;

	while (len > 0) {
		unsigned w = (len >= 4 && off % 4 == 0) ? 4 : (len >= 2 && off % 2 == 0) ? 2 : 1;
		uint64_t v = drv_pci_rd(d, &d->device, off, w);
		for (unsigned i = 0; i < w; i++)
			b[i] = (uint8_t)(v >> (8 * i));
		b += w;
		off += w;
		len -= w;
	}
}

static void p_config_write(void *t, uint32_t off, const void *buf, uint32_t len)
{
	struct drv_pci *d = t;
	const uint8_t *b = buf;

	while (len > 0) {
		unsigned w = (len >= 4 && off % 4 == 0) ? 4 : (len >= 2 && off % 2 == 0) ? 2 : 1;
		uint64_t v = 0;
		for (unsigned i = 0; i < w; i++)
			v |= (uint64_t)b[i] << (8 * i);
		drv_pci_wr(d, &d->device, off, w, v);
		b += w;
		off += w;
		len -= w;
	}
}

static uint32_t p_take_interrupts(void *t)
{
	struct drv_pci *d = t;
	uint32_t st;

	if (d->use_msix) {
		st = d->msi_seen;
		d->msi_seen = 0;
		return st;
	}
	st = (uint32_t)drv_pci_rd(d, &d->isr, 0, 1); /* read-to-clear */
	return st & (DRV_INT_VRING | DRV_INT_CONFIG);
}

const struct drv_transport_ops drv_pci_ops = {
	.name = "pci",
	.device_id = p_device_id,
	.get_status = p_get_status,
	.set_status = p_set_status,
	.get_features = p_get_features,
	.set_features = p_set_features,
	.queue_max = p_queue_max,
	.setup_queue = p_setup_queue,
	.queue_enabled = p_queue_enabled,
	.reset_queue = p_reset_queue,
	.notify = p_notify,
	.config_generation = p_config_generation,
	.config_read = p_config_read,
	.config_write = p_config_write,
	.take_interrupts = p_take_interrupts,
};
