/* SPDX-License-Identifier: MIT */
/*
 * A bare-metal-style VMM fragment embedding libvdev: what an RTOS
 * hypervisor's virtio glue looks like. Everything here is freestanding:
 * all storage is static, nothing is allocated, nothing blocks.
 *
 * Two virtio-rng (entropy) devices sit in the guest-physical MMIO map at
 * VMM_RNG0_BASE and VMM_RNG1_BASE. The hypervisor's data-abort / MMIO
 * trap handler calls vmm_trap_read()/vmm_trap_write() with the faulting
 * guest address; queue notifications only mark work, and the VMM's idle
 * or polling loop calls vmm_poll() to serve it, then raises interrupts.
 */
#ifndef VDEV_EXAMPLE_VMM_H
#define VDEV_EXAMPLE_VMM_H

#include <stdbool.h>
#include <stdint.h>

#define VMM_RNG0_BASE 0x0a000000ull
#define VMM_RNG1_BASE 0x0a000200ull
#define VMM_WINDOW 0x200ull
#define VMM_NUM_DEVICES 2

/* Describe guest RAM (one region here) and set up the devices. */
int vmm_init(void *ram_host, uint64_t ram_gpa, uint64_t ram_size);
/* The trap handler's entry points: a guest access to an MMIO address. */
bool vmm_trap_read(uint64_t gpa, unsigned size, uint64_t *value);
bool vmm_trap_write(uint64_t gpa, unsigned size, uint64_t value);
/* One iteration of the polling loop: serve kicked queues. Returns the
 * number of requests completed. */
unsigned vmm_poll(void);
/* The interrupt line of device i as the (virtual) interrupt controller
 * would see it. */
bool vmm_irq_line(unsigned i);

#endif
