/* SPDX-License-Identifier: MIT */
/*
 * The driver side of the conformance harness: a thin, kernel-type-free
 * wrapper (kdrv.c) around Linux's drivers/virtio/virtio_ring.c built in
 * user space. The harness (conformance.c) sees only this header, so it is
 * compiled with libvdev's headers and warnings, never with kernel ones.
 *
 * Addresses are host pointers: the tools/virtio shims make DMA addresses
 * equal to virtual addresses, so the device side maps guest memory 1:1.
 *
 * Context: one thread uses a kdrv at a time (the kernel's own rule for a
 * virtqueue); the notify callback runs on that thread.
 */
#ifndef VDEV_CONF_KDRV_H
#define VDEV_CONF_KDRV_H

#include <stdbool.h>
#include <stdint.h>

struct kdrv;

struct kdrv_sg {
	void *addr;
	uint32_t len;
};

struct kdrv_opts {
	unsigned num;     /* ring size */
	bool packed;      /* VIRTIO_F_RING_PACKED */
	bool event_idx;   /* VIRTIO_RING_F_EVENT_IDX */
	bool indirect;    /* VIRTIO_RING_F_INDIRECT_DESC */
	/* virtqueue_notify(): the kick, returns false if the device is gone */
	bool (*notify)(void *opaque);
	/* the vq callback, run by kdrv_interrupt() when buffers are used */
	void (*callback)(void *opaque);
	void *opaque;
};

/* vring_create_virtqueue() (may_reduce_num false). NULL on failure. */
struct kdrv *kdrv_create(const struct kdrv_opts *o);
/* Drops any buffers still in the queue (after a failure), then frees. */
void kdrv_destroy(struct kdrv *d);
/* The features the driver accepted (after vring_transport_features()). */
uint64_t kdrv_features(const struct kdrv *d);
unsigned kdrv_size(const struct kdrv *d);
/* Descriptor area, driver area, device area (virtqueue_get_*_addr). */
void kdrv_addrs(const struct kdrv *d, uint64_t *desc, uint64_t *driver, uint64_t *device);
/* virtqueue_add_sgs() with one sg list per segment: 0 or a -errno. */
int kdrv_add(struct kdrv *d, const struct kdrv_sg *out, unsigned n_out,
	     const struct kdrv_sg *in, unsigned n_in, void *token);
bool kdrv_kick_prepare(struct kdrv *d);
bool kdrv_notify(struct kdrv *d);
void *kdrv_get_buf(struct kdrv *d, uint32_t *len);
void kdrv_disable_cb(struct kdrv *d);
bool kdrv_enable_cb(struct kdrv *d);
bool kdrv_enable_cb_delayed(struct kdrv *d);
/* vring_interrupt(): true if handled (callback ran), false for IRQ_NONE. */
bool kdrv_interrupt(struct kdrv *d);
unsigned kdrv_num_free(const struct kdrv *d);
bool kdrv_is_broken(const struct kdrv *d);

#endif /* VDEV_CONF_KDRV_H */
