/* SPDX-License-Identifier: MIT */
/*
 * libvdev — compile-time configuration: what a build of the library leaves
 * out, for integrators who need the space (a Cortex-M part, a safety image
 * that must not contain code it does not use).
 *
 * Every option is a macro that is 1 (the default: in) or 0 (left out).
 * Define the ones you change when compiling the library, either
 *   - on the compiler's command line (-DVDEV_CONFIG_PACKED=0), or
 *   - in a header of your own named by VDEV_CONFIG_FILE
 *     (-DVDEV_CONFIG_FILE='"my_vdev_config.h"'), included first, or
 *   - with the CMake options VDEV_WITH_* (VDEV_WITH_PACKED=OFF ...), which
 *     define these macros for the library and for everything that links
 *     it (they are in vdev.pc's Cflags and the exported CMake targets too),
 *     and leave the sources of what is out out of the build.
 * Code that includes the public headers should see the same values as the
 * library was built with; a mismatch does not change any struct or
 * signature (one set of headers serves every build), only what the
 * VDEV_CONFIG_* macros say.
 *
 *   VDEV_CONFIG_PACKED      the packed ring layout (lib/vq_packed.c).
 *                           Off: VIRTIO_F_RING_PACKED is never offered
 *                           (vdev_dev_init drops it from the offer), a driver
 *                           cannot negotiate it, and vdev_vq_start() refuses
 *                           it with VDEV_ENOTSUP.
 *   VDEV_CONFIG_INDIRECT    indirect descriptors. Off: VIRTIO_F_INDIRECT_DESC
 *                           is never offered; a descriptor with the INDIRECT
 *                           flag is then a driver error (spec "The Virtqueue
 *                           Descriptor Table": the driver MUST NOT set it
 *                           unless the feature was negotiated) and gets the
 *                           answer every bad chain gets (the chain is
 *                           rejected, vdev_vq_elem.error = VDEV_ENOTSUP).
 *   VDEV_CONFIG_DEV_BLK     virtio-blk      (lib/blk.c,     vdev/blk.h)
 *   VDEV_CONFIG_DEV_NET     virtio-net      (lib/net.c,     vdev/net.h)
 *   VDEV_CONFIG_DEV_VSOCK   virtio-vsock    (lib/vsock.c,   vdev/vsock.h)
 *   VDEV_CONFIG_DEV_GPU     virtio-gpu      (lib/gpu.c,     vdev/gpu.h)
 *   VDEV_CONFIG_GPU_3D      virtio-gpu's 3D mode (VIRGL, context commands,
 *                           host blobs through a renderer). Off: a
 *                           renderer in vdev_gpu_config makes vdev_gpu_init
 *                           fail with VDEV_ENOTSUP, VIRTIO_GPU_F_VIRGL is
 *                           never offered, the 2D device stays. Needs
 *                           VDEV_CONFIG_DEV_GPU.
 *   VDEV_CONFIG_DEV_CONSOLE virtio-console  (lib/console.c, vdev/console.h)
 *   VDEV_CONFIG_DEV_RNG     virtio-rng      (lib/rng.c,     vdev/rng.h)
 *   VDEV_CONFIG_DEV_INPUT   virtio-input    (lib/input.c,   vdev/input.h)
 *
 * A device model that is left out: its header still declares its functions
 * (so that one set of headers serves every build), but the library does
 * not define them; a program that calls one does not link. The device core,
 * the virtqueues (split layout always), the virtio-mmio and virtio-pci
 * transports and the vhost-user adapter are always in.
 *
 * Context: a header of macros only; compiles freestanding, as C and C++.
 */
#ifndef VDEV_CONFIG_H
#define VDEV_CONFIG_H

#ifdef VDEV_CONFIG_FILE
#include VDEV_CONFIG_FILE
#endif

#ifndef VDEV_CONFIG_PACKED
#define VDEV_CONFIG_PACKED 1
#endif
#ifndef VDEV_CONFIG_INDIRECT
#define VDEV_CONFIG_INDIRECT 1
#endif
#ifndef VDEV_CONFIG_DEV_BLK
#define VDEV_CONFIG_DEV_BLK 1
#endif
#ifndef VDEV_CONFIG_DEV_NET
#define VDEV_CONFIG_DEV_NET 1
#endif
#ifndef VDEV_CONFIG_DEV_VSOCK
#define VDEV_CONFIG_DEV_VSOCK 1
#endif
#ifndef VDEV_CONFIG_DEV_GPU
#define VDEV_CONFIG_DEV_GPU 1
#endif
#ifndef VDEV_CONFIG_GPU_3D
#define VDEV_CONFIG_GPU_3D VDEV_CONFIG_DEV_GPU
#endif
#ifndef VDEV_CONFIG_DEV_CONSOLE
#define VDEV_CONFIG_DEV_CONSOLE 1
#endif
#ifndef VDEV_CONFIG_DEV_RNG
#define VDEV_CONFIG_DEV_RNG 1
#endif
#ifndef VDEV_CONFIG_DEV_INPUT
#define VDEV_CONFIG_DEV_INPUT 1
#endif

#if (VDEV_CONFIG_PACKED != 0 && VDEV_CONFIG_PACKED != 1) ||                     \
	(VDEV_CONFIG_INDIRECT != 0 && VDEV_CONFIG_INDIRECT != 1)
#error "VDEV_CONFIG_PACKED and VDEV_CONFIG_INDIRECT must be 0 or 1"
#endif
#if VDEV_CONFIG_GPU_3D && !VDEV_CONFIG_DEV_GPU
#error "VDEV_CONFIG_GPU_3D needs VDEV_CONFIG_DEV_GPU"
#endif

#endif /* VDEV_CONFIG_H */
