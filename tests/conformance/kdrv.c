/* SPDX-License-Identifier: MIT */
/*
 * Glue between the harness and Linux's virtio_ring.c (see kdrv.h).
 * Compiled at test time by run.sh with the tools/virtio shim headers on the
 * system include path (their warnings are not ours) and our warnings on.
 */
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/scatterlist.h>

#include "shim/conf_virtio_decls.h"

#include "kdrv.h"

/* Required by the tools/virtio kmalloc shim; unused here. */
void *__kmalloc_fake, *__kfree_ignore_start, *__kfree_ignore_end;

#define KDRV_MAX_SGS 64

struct kdrv {
	struct virtio_device vdev;
	struct virtqueue *vq;
	struct kdrv_opts o;
};

static bool kdrv_vq_notify(struct virtqueue *vq)
{
	struct kdrv *d = vq->priv;
	return d->o.notify(d->o.opaque);
}

static void kdrv_vq_callback(struct virtqueue *vq)
{
	struct kdrv *d = vq->priv;
	if (d->o.callback)
		d->o.callback(d->o.opaque);
}

struct kdrv *kdrv_create(const struct kdrv_opts *o)
{
	struct kdrv *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->o = *o;
	d->vdev.features = 1ULL << VIRTIO_F_VERSION_1;
	if (o->packed)
		d->vdev.features |= 1ULL << VIRTIO_F_RING_PACKED;
	if (o->event_idx)
		d->vdev.features |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (o->indirect)
		d->vdev.features |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	INIT_LIST_HEAD(&d->vdev.vqs);
	spin_lock_init(&d->vdev.vqs_list_lock);
	vring_transport_features(&d->vdev);
	d->vq = vring_create_virtqueue(0, o->num, 64, &d->vdev, true, false, false,
				       kdrv_vq_notify, kdrv_vq_callback, "conformance");
	if (!d->vq) {
		free(d);
		return NULL;
	}
	d->vq->priv = d;
	return d;
}

void kdrv_destroy(struct kdrv *d)
{
	unsigned int len;

	if (!d)
		return;
	/* After a failed run buffers may be left: free their indirect tables */
	while (virtqueue_get_buf(d->vq, &len) != NULL)
		;
	while (virtqueue_detach_unused_buf(d->vq) != NULL)
		;
	vring_del_virtqueue(d->vq);
	free(d);
}

uint64_t kdrv_features(const struct kdrv *d)
{
	return d->vdev.features;
}

unsigned kdrv_size(const struct kdrv *d)
{
	return virtqueue_get_vring_size(d->vq);
}

void kdrv_addrs(const struct kdrv *d, uint64_t *desc, uint64_t *driver, uint64_t *device)
{
	*desc = virtqueue_get_desc_addr(d->vq);
	*driver = virtqueue_get_avail_addr(d->vq);
	*device = virtqueue_get_used_addr(d->vq);
}

int kdrv_add(struct kdrv *d, const struct kdrv_sg *out, unsigned n_out,
	     const struct kdrv_sg *in, unsigned n_in, void *token)
{
	struct scatterlist sg[KDRV_MAX_SGS];
	struct scatterlist *sgs[KDRV_MAX_SGS];
	unsigned i;

	if (n_out + n_in > KDRV_MAX_SGS)
		return -EINVAL;
	for (i = 0; i < n_out + n_in; i++) {
		const struct kdrv_sg *s = i < n_out ? &out[i] : &in[i - n_out];
		sg_init_one(&sg[i], s->addr, s->len);
		sgs[i] = &sg[i];
	}
	return virtqueue_add_sgs(d->vq, sgs, n_out, n_in, token, GFP_ATOMIC);
}

bool kdrv_kick_prepare(struct kdrv *d)
{
	return virtqueue_kick_prepare(d->vq);
}

bool kdrv_notify(struct kdrv *d)
{
	return virtqueue_notify(d->vq);
}

void *kdrv_get_buf(struct kdrv *d, uint32_t *len)
{
	unsigned int l = 0;
	void *t = virtqueue_get_buf(d->vq, &l);

	*len = l;
	return t;
}

void kdrv_disable_cb(struct kdrv *d)
{
	virtqueue_disable_cb(d->vq);
}

bool kdrv_enable_cb(struct kdrv *d)
{
	return virtqueue_enable_cb(d->vq);
}

bool kdrv_enable_cb_delayed(struct kdrv *d)
{
	return virtqueue_enable_cb_delayed(d->vq);
}

bool kdrv_interrupt(struct kdrv *d)
{
	return vring_interrupt(0, d->vq) == IRQ_HANDLED;
}

unsigned kdrv_num_free(const struct kdrv *d)
{
	return d->vq->num_free;
}

bool kdrv_is_broken(const struct kdrv *d)
{
	return virtqueue_is_broken(d->vq);
}
