/* SPDX-License-Identifier: MIT */
/*
 * The VMM half of the firmware: one virtio-blk device (a RAM disk in a
 * static array) behind virtio-mmio at VMM_BLK_BASE in the guest-physical
 * map. All storage is static; nothing allocates or blocks.
 *
 * A hypervisor's data-abort handler would call vmm_trap_read/write with
 * the faulting guest-physical address and access size; here the
 * exerciser (the "guest") calls them directly. Queue notifications are
 * served in the trap (the RAM backend completes synchronously), and the
 * device's interrupt line is what vmm_irq_line() returns.
 */
#ifndef VDEV_FW_VMM_BLK_H
#define VDEV_FW_VMM_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include <vdev/blk.h>

#define VMM_BLK_BASE 0x0a000000ull
#define VMM_BLK_WINDOW 0x200ull
#define VMM_DISK_SECTORS 512u /* 256 KiB RAM disk */
#define VMM_BLK_SERIAL "libvdev-fw-disk"

/* Describe guest RAM (one region: host array `ram_host` seen by the guest
 * at `ram_gpa`) and set up the device. 0 or a VDEV_E* code. */
int vmm_init(void *ram_host, uint64_t ram_gpa, uint64_t ram_size);
/* The trap handler's entry points; false if no device decodes `gpa`. */
bool vmm_trap_read(uint64_t gpa, unsigned size, uint64_t *value);
bool vmm_trap_write(uint64_t gpa, unsigned size, uint64_t value);
/* The device's interrupt line as the interrupt controller sees it. */
bool vmm_irq_line(void);
/* How often the line went from low to high. */
unsigned vmm_irq_raises(void);
/* The device model's counters. */
void vmm_blk_stats(struct vdev_blk_stats *out);

#endif
