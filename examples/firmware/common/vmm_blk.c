/* SPDX-License-Identifier: MIT */
/* The VMM half of the firmware: see vmm_blk.h. */
#include "vmm_blk.h"

#include "fw.h"

#include <vdev/mmio.h>

#define QUEUE_SIZE 128u
#define NUM_REQS 8u
#define SEG_MAX 8u

static uint8_t disk[VMM_DISK_SECTORS * VDEV_BLK_SECTOR_SIZE];

static struct vdev_mem_region ram_region;
static struct vdev_mem guest_mem;
static struct vdev_blk blk;
static struct vdev_vq queues[1];
static uint64_t queue_held[VDEV_VQ_HELD_WORDS(QUEUE_SIZE)];
static struct vdev_blk_req reqs[NUM_REQS];
static struct vdev_iov iovs[NUM_REQS * (SEG_MAX + 2)];
static struct vdev_mmio mmio;
static volatile bool line;
static volatile unsigned raises;

/* ---- the RAM backend: synchronous, bounds-checked again ---------------- */

static int ram_rw(struct vdev_blk_io *io, bool write)
{
	uint64_t off = io->offset;

	if (off > sizeof(disk) || io->len > sizeof(disk) - off)
		return VDEV_EIO;
	for (unsigned i = 0; i < io->iovcnt; i++) {
		size_t n = io->iov[i].len;
		if (write)
			memcpy(disk + off, io->iov[i].base, n);
		else
			memcpy(io->iov[i].base, disk + off, n);
		off += n;
	}
	return 0;
}

static int ram_read(void *opaque, struct vdev_blk_io *io)
{
	(void)opaque;
	return ram_rw(io, false);
}

static int ram_write(void *opaque, struct vdev_blk_io *io)
{
	(void)opaque;
	return ram_rw(io, true);
}

static int ram_flush(void *opaque, struct vdev_blk_io *io)
{
	(void)opaque;
	(void)io;
	return 0; /* RAM: nothing to make durable */
}

static const struct vdev_blk_backend_ops ram_ops = {
	.size = sizeof(struct vdev_blk_backend_ops),
	.read = ram_read,
	.write = ram_write,
	.flush = ram_flush,
};

/* The interrupt hook: a real VMM programs its virtual GIC/NVIC here. */
static void blk_irq(void *opaque, bool level)
{
	(void)opaque;
	if (level && !line)
		raises = raises + 1;
	line = level;
}

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

	struct vdev_blk_config cfg = {
		.capacity = VMM_DISK_SECTORS,
		.num_queues = 1,
		.queue_size = QUEUE_SIZE,
		.seg_max = SEG_MAX,
		.mem = &guest_mem,
		.queues = queues,
		.queue_held = queue_held,
		.reqs = reqs,
		.num_reqs = NUM_REQS,
		.iovs = iovs,
		.iov_per_req = SEG_MAX + 2,
		.backend = &ram_ops,
	};
	memcpy(cfg.serial, VMM_BLK_SERIAL, sizeof(VMM_BLK_SERIAL) - 1);
	rc = vdev_blk_init(&blk, &cfg);
	if (rc < 0)
		return rc;
	struct vdev_mmio_config mc = {.irq = blk_irq};
	return vdev_mmio_init(&mmio, vdev_blk_dev(&blk), &mc);
}

bool vmm_trap_read(uint64_t gpa, unsigned size, uint64_t *value)
{
	if (gpa - VMM_BLK_BASE >= VMM_BLK_WINDOW)
		return false; /* not ours: the VMM injects an abort */
	*value = vdev_mmio_read(&mmio, gpa - VMM_BLK_BASE, size);
	return true;
}

bool vmm_trap_write(uint64_t gpa, unsigned size, uint64_t value)
{
	if (gpa - VMM_BLK_BASE >= VMM_BLK_WINDOW)
		return false;
	vdev_mmio_write(&mmio, gpa - VMM_BLK_BASE, size, value);
	return true;
}

bool vmm_irq_line(void)
{
	return line;
}

unsigned vmm_irq_raises(void)
{
	return raises;
}

void vmm_blk_stats(struct vdev_blk_stats *out)
{
	vdev_blk_get_stats(&blk, out);
}
