/* SPDX-License-Identifier: MIT */
/*
 * The freestanding half of the bare-metal example (see vmm.h). Built with
 * -ffreestanding and checked by scripts/check-freestanding.sh: it needs
 * nothing but libvdev and mem*.
 */
#include "vmm.h"

#include <vdev/device.h>
#include <vdev/mmio.h>

#define RNG_QUEUE_SIZE 64
#define RNG_BATCH 8
#define RNG_SEGS 4

/* One virtio-rng device model: a single queue of device-writable buffers
 * the device fills with entropy (spec "Entropy Device"). */
struct rng_device {
	uint64_t base;
	struct vdev_dev dev;
	struct vdev_vq queue[1];
	uint64_t queue_held[VDEV_VQ_HELD_WORDS(RNG_QUEUE_SIZE)];
	struct vdev_mmio mmio;
	struct vdev_vq_elem elems[RNG_BATCH];
	struct vdev_iov iov[RNG_BATCH * RNG_SEGS];
	uint64_t prng; /* a real RTOS would read its TRNG */
	volatile bool kicked;
	volatile bool line;
};

static struct rng_device devices[VMM_NUM_DEVICES];
static struct vdev_mem_region ram_region;
static struct vdev_mem guest_mem;

static uint8_t next_random_byte(struct rng_device *d)
{
	/* xorshift64*: stands in for the board's entropy source */
	d->prng ^= d->prng >> 12;
	d->prng ^= d->prng << 25;
	d->prng ^= d->prng >> 27;
	return (uint8_t)((d->prng * 0x2545f4914f6cdd1dull) >> 56);
}

/* ---- device model ops: called by the device core --------------------------- */

static void rng_queue_notify(void *opaque, uint16_t q)
{
	(void)q;
	/* Trap context: only note the work; vmm_poll() does it. */
	((struct rng_device *)opaque)->kicked = true;
}

static int rng_reset(void *opaque)
{
	((struct rng_device *)opaque)->kicked = false;
	return 0; /* nothing in flight outlives vmm_poll() */
}

static const struct vdev_dev_ops rng_ops = {
	.size = sizeof(struct vdev_dev_ops),
	.reset = rng_reset,
	.queue_notify = rng_queue_notify,
};

/* The interrupt hook: a real VMM programs its virtual GIC/NVIC here. */
static void rng_irq(void *opaque, bool level)
{
	((struct rng_device *)opaque)->line = level;
}

/* ---- set-up ---------------------------------------------------------------------- */

int vmm_init(void *ram_host, uint64_t ram_gpa, uint64_t ram_size)
{
	int rc;

	ram_region.gpa = ram_gpa;
	ram_region.size = ram_size;
	ram_region.hva = ram_host;
	ram_region.flags = 0;
	rc = vdev_mem_init(&guest_mem, &ram_region, 1);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < VMM_NUM_DEVICES; i++) {
		struct rng_device *d = &devices[i];
		struct vdev_dev_config dc = {
			.device_id = VDEV_ID_ENTROPY,
			.features = VDEV_BIT(VDEV_F_VERSION_1) | VDEV_BIT(VDEV_F_EVENT_IDX) |
				    VDEV_BIT(VDEV_F_INDIRECT_DESC) | VDEV_BIT(VDEV_F_RING_PACKED),
			.queues = d->queue,
			.queue_held = d->queue_held,
			.num_queues = 1,
			.queue_max_size = RNG_QUEUE_SIZE,
			.mem = &guest_mem,
			.ops = &rng_ops,
			.opaque = d,
		};
		struct vdev_mmio_config mc = {.irq = rng_irq, .irq_opaque = d};

		d->base = i == 0 ? VMM_RNG0_BASE : VMM_RNG1_BASE;
		d->prng = 0x9e3779b97f4a7c15ull * (i + 1);
		rc = vdev_dev_init(&d->dev, &dc);
		if (rc == 0)
			rc = vdev_mmio_init(&d->mmio, &d->dev, &mc);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- the trap handler ---------------------------------------------------------------- */

static struct rng_device *decode(uint64_t gpa, uint64_t *offset)
{
	for (unsigned i = 0; i < VMM_NUM_DEVICES; i++) {
		if (gpa - devices[i].base < VMM_WINDOW) {
			*offset = gpa - devices[i].base;
			return &devices[i];
		}
	}
	return NULL;
}

bool vmm_trap_read(uint64_t gpa, unsigned size, uint64_t *value)
{
	uint64_t off;
	struct rng_device *d = decode(gpa, &off);

	if (d == NULL)
		return false; /* not ours: the VMM injects an abort */
	*value = vdev_mmio_read(&d->mmio, off, size);
	return true;
}

bool vmm_trap_write(uint64_t gpa, unsigned size, uint64_t value)
{
	uint64_t off;
	struct rng_device *d = decode(gpa, &off);

	if (d == NULL)
		return false;
	vdev_mmio_write(&d->mmio, off, size, value);
	return true;
}

/* ---- the polling loop ------------------------------------------------------------------ */

static unsigned serve(struct rng_device *d)
{
	struct vdev_vq *vq = &d->queue[0];
	unsigned done = 0;
	int n;

	while ((n = vdev_vq_pop_batch(vq, d->elems, RNG_BATCH, d->iov, RNG_SEGS)) > 0) {
		for (int i = 0; i < n; i++) {
			struct vdev_vq_elem *e = &d->elems[i];
			uint32_t written = 0;

			/* A rejected chain is completed with nothing written. */
			for (unsigned s = e->n_out; e->error == 0 && s < e->n_out + e->n_in; s++) {
				uint8_t *p = e->iov[s].base;
				for (size_t k = 0; k < e->iov[s].len; k++)
					p[k] = next_random_byte(d);
				written += (uint32_t)e->iov[s].len;
			}
			vdev_vq_push(vq, e, written);
		}
		vdev_vq_flush(vq); /* raises the interrupt through the MMIO transport */
		done += (unsigned)n;
	}
	return done;
}

unsigned vmm_poll(void)
{
	unsigned done = 0;

	for (unsigned i = 0; i < VMM_NUM_DEVICES; i++) {
		struct rng_device *d = &devices[i];
		if (!d->kicked)
			continue;
		d->kicked = false;
		done += serve(d);
	}
	return done;
}

bool vmm_irq_line(unsigned i)
{
	return i < VMM_NUM_DEVICES && devices[i].line;
}
