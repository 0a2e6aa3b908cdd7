/* SPDX-License-Identifier: MIT */
/*
 * Prototypes of virtio_ring.c functions that Linux declares in
 * include/linux/virtio.h but the smaller tools/virtio/linux/virtio.h shim
 * of 6.1 leaves out. Included by kdrv.c after the shim headers.
 */
#ifndef VDEV_CONF_VIRTIO_DECLS_H
#define VDEV_CONF_VIRTIO_DECLS_H

bool virtqueue_kick_prepare(struct virtqueue *vq);
bool virtqueue_notify(struct virtqueue *vq);
bool virtqueue_is_broken(struct virtqueue *vq);
unsigned int virtqueue_get_vring_size(struct virtqueue *vq);
dma_addr_t virtqueue_get_desc_addr(struct virtqueue *vq);
dma_addr_t virtqueue_get_avail_addr(struct virtqueue *vq);
dma_addr_t virtqueue_get_used_addr(struct virtqueue *vq);

#endif /* VDEV_CONF_VIRTIO_DECLS_H */
