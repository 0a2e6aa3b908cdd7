/* SPDX-License-Identifier: MIT */
/* The echo test device: see testdev.h. */
#include "testdev.h"

#include <string.h>

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static uint32_t serve(struct testdev *t, const struct vdev_vq_elem *e)
{
	uint8_t buf[256];
	size_t off = 0;
	uint32_t written = 0;
	bool x = vdev_dev_has_feature(&t->dev, TESTDEV_F_XOR);

	while (off < e->out_bytes && written < e->in_bytes) {
		size_t n = vdev_iov_to_buf(e->iov, e->n_out, off, buf, sizeof(buf));
		if (n > e->in_bytes - written)
			n = e->in_bytes - written;
		for (size_t i = 0; i < n && x; i++)
			buf[i] ^= 0xff;
		vdev_iov_from_buf(e->iov + e->n_out, e->n_in, written, buf, n);
		off += n;
		written += (uint32_t)n;
	}
	return written;
}

unsigned testdev_process(struct testdev *t)
{
	struct vdev_vq *vq = &t->q[0];
	struct vdev_vq_elem e[16];
	unsigned total = 0;
	int n;

	while ((n = vdev_vq_pop_batch(vq, e, 16, t->iov, 8)) > 0) {
		for (int i = 0; i < n; i++)
			vdev_vq_push(vq, &e[i], e[i].error ? 0 : serve(t, &e[i]));
		vdev_vq_flush(vq);
		total += (unsigned)n;
	}
	t->requests += total;
	put32(t->config + 4, t->requests);
	return total;
}

void testdev_config_bump(struct testdev *t)
{
	t->requests++;
	put32(t->config + 4, t->requests);
	vdev_dev_config_changed(&t->dev);
}

static int td_activate(void *o)
{
	((struct testdev *)o)->activates++;
	return 0;
}

static int td_reset(void *o)
{
	struct testdev *t = o;

	t->resets++;
	t->config[TESTDEV_CFG_KNOB] = 0;
	return 0;
}

static void td_notify(void *o, uint16_t q)
{
	struct testdev *t = o;

	t->notifies++;
	if (q == 0 && !t->manual)
		testdev_process(t);
}

static void td_config_write(void *o, uint32_t off, const void *d, uint32_t len)
{
	struct testdev *t = o;

	/* Only the knob byte is writable; a wider write covering it counts. */
	if (off <= TESTDEV_CFG_KNOB && off + len > TESTDEV_CFG_KNOB)
		t->config[TESTDEV_CFG_KNOB] = ((const uint8_t *)d)[TESTDEV_CFG_KNOB - off];
}

static void td_queue_reset(void *o, uint16_t q)
{
	struct testdev *t = o;

	t->queue_resets++;
	if (t->hold_queue_reset)
		vdev_dev_queue_reset_hold(&t->dev, q);
}

static const struct vdev_dev_ops td_ops = {
	.size = sizeof(struct vdev_dev_ops),
	.activate = td_activate,
	.reset = td_reset,
	.queue_notify = td_notify,
	.config_write = td_config_write,
	.queue_reset = td_queue_reset,
};

int testdev_init(struct testdev *t, const struct vdev_mem *mem, uint64_t ring, uint32_t queue_max)
{
	memset(t, 0, sizeof(*t));
	put32(t->config, TESTDEV_MAGIC);
	t->shm.id = TESTDEV_SHM_ID;
	t->shm.len = 1u << 20;
	struct vdev_dev_config c = {
		.device_id = TESTDEV_ID,
		.features = VDEV_BIT(VDEV_F_VERSION_1) | VDEV_BIT(TESTDEV_F_XOR) | ring,
		.queues = t->q,
		.queue_held = t->held,
		.num_queues = 2,
		.queue_max_size = queue_max,
		.config = t->config,
		.config_len = sizeof(t->config),
		.shm = &t->shm,
		.num_shm = 1,
		.mem = mem,
		.ops = &td_ops,
		.opaque = t,
	};
	return vdev_dev_init(&t->dev, &c);
}
