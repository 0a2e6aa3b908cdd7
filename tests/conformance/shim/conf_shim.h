/* SPDX-License-Identifier: MIT */
/*
 * Gaps between Linux 6.1's drivers/virtio/virtio_ring.c and the
 * tools/virtio user-space shims of the same release, force-included
 * (-include) when run.sh compiles virtio_ring.c. Our own text, no kernel
 * code.
 */
#ifndef VDEV_CONF_SHIM_H
#define VDEV_CONF_SHIM_H

/*
 * tools/virtio/generated/autoconf.h of 6.1 leaves this out, so
 * tools/include/linux/types.h makes phys_addr_t 32 bits wide and
 * vring_alloc_queue() truncates the ring's address (virt_to_phys() of a
 * 64-bit heap pointer) without noticing.
 */
#ifndef CONFIG_PHYS_ADDR_T_64BIT
#define CONFIG_PHYS_ADDR_T_64BIT 1
#endif

/*
 * The kmalloc()/alloc_pages_exact() shims ignore their gfp flags, so
 * __GFP_ZERO allocations (the rings themselves: vring_alloc_queue()) come
 * back uninitialised, and the driver then reads garbage used/avail state
 * (ASan's malloc fills with 0xbe, which shows it at once). Make every
 * kernel allocation zeroed. <stdlib.h> first, so its prototypes are not
 * rewritten.
 */
#include <stdlib.h>
#define malloc(size) calloc(1, (size))

/* KCSAN annotation: in user space just the expression. */
#ifndef data_race
#define data_race(expr) (expr)
#endif

#endif /* VDEV_CONF_SHIM_H */
