/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-mmio transport with the echo test device
 * behind it. The input shapes guest memory and then is a stream of
 * register accesses (any offset, width, value), with two helper
 * operations that run the real initialisation sequence and add a chain,
 * so the fuzzer reaches live queues quickly. Invariants checked after
 * every access: the interrupt line matches InterruptStatus, which has only
 * defined bits; status reads are consistent; nothing touches memory
 * outside the guest (ASan).
 */
#include <string.h>

#include "drv_mmio.h"
#include "fuzz_common.h"
#include "fuzz_mem.h"
#include "testdev.h"
#include "vdev/mmio.h"

#define REGION (64u * 1024u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sim_mem m;
	static struct testdev td;
	static struct vdev_mmio mmio;
	static struct drv_mmio dm;
	static struct drv_vq q;
	static int tok[8];
	static const struct vdev_mmio_shm shm = {.id = TESTDEV_SHM_ID, .base = 0x40000000};
	struct input in = {data, size};
	struct drv_transport tr;
	uint64_t ring = VDEV_BIT(VDEV_F_EVENT_IDX) | VDEV_BIT(VDEV_F_INDIRECT_DESC) |
			VDEV_BIT(VDEV_F_RING_PACKED) | VDEV_BIT(VDEV_F_RING_RESET) |
			VDEV_BIT(VDEV_F_NOTIFICATION_DATA) | VDEV_BIT(VDEV_F_IN_ORDER);
	uint64_t neg = 0;
	unsigned ntok = 0;

	fuzz_mem_reset(&m, REGION, false);
	/* guest memory contents from the input: the first up to 4 KiB */
	size_t fill = take(&in) * 16u;
	for (size_t i = 0; i < fill && in.n > 0; i++)
		m.host[0][i] = take(&in);
	m.next[0] = 4096; /* allocations after the fuzzer's bytes */
	if (testdev_init(&td, &m.mem, ring, 64) != 0)
		return 0;
	struct vdev_mmio_config c = {.irq = drv_mmio_irq, .irq_opaque = &dm, .shm = &shm,
				     .num_shm = 1};
	if (vdev_mmio_init(&mmio, &td.dev, &c) != 0)
		return 0;
	memset(&dm, 0, sizeof(dm));
	dm.mmio = &mmio;
	tr = drv_mmio_transport(&dm);
	tr.reset_polls = FUZZ_RESET_POLLS;
	memset(&q, 0, sizeof(q));

	while (in.n > 0) {
		uint8_t op = take(&in);
		unsigned width = 1u << (take(&in) & 3u);

		switch (op % 8) {
		case 0:
		case 1:
		case 2: { /* raw write: a control register (mostly) or anywhere */
			uint64_t off = op % 8 == 2 ? take32(&in) : (uint64_t)(take(&in) & 0xfcu);
			vdev_mmio_write(&mmio, off, op % 8 == 2 ? width : 4, take32(&in));
			break;
		}
		case 3:
		case 4: { /* raw read */
			uint64_t off = op % 8 == 4 ? take32(&in) : (uint64_t)(take(&in) & 0xfcu);
			(void)vdev_mmio_read(&mmio, off, op % 8 == 4 ? width : 4);
			break;
		}
		case 5: { /* the real init sequence with input-chosen features */
			uint64_t want = VDEV_BIT(VDEV_F_VERSION_1) | ((uint64_t)take32(&in) << 28);
			sim_mem_reset_alloc(&m); /* fresh rings each time */
			m.next[0] = 4096;
			if (drv_virtio_negotiate(&tr, want | take(&in), &neg) == 0 &&
			    drv_virtio_setup_queue(&tr, &q, &m, 0, (uint16_t)(1u << (take(&in) % 7)),
						   neg) == 0)
				(void)drv_virtio_driver_ok(&tr);
			ntok = 0;
			break;
		}
		case 6: { /* the driver adds a chain and kicks */
			if (q.size == 0 || ntok == 8)
				break;
			uint64_t a = 0x10000u + take(&in) * 16u; /* inside region 0 */
			struct drv_buf b[2] = {{a, take(&in), false}, {a + 2048, take(&in), true}};
			if (drv_add(&q, b, 2, take(&in) & 1, &tok[ntok]) == 0) {
				ntok++;
				vdev_mmio_write(&mmio, 0x050, 4, 0);
			}
			uint32_t len;
			while (drv_get_used(&q, &len) != NULL && ntok > 0)
				ntok--;
			break;
		}
		default: /* a config change from the device side */
			testdev_config_bump(&td);
			break;
		}
		uint32_t st = vdev_mmio_interrupt_status(&mmio);
		FUZZ_CHECK((st & ~3u) == 0);
		FUZZ_CHECK(dm.line == (st != 0) || dm.hook_calls == 0);
		FUZZ_CHECK(vdev_mmio_read(&mmio, 0x000, 4) == VDEV_MMIO_MAGIC);
	}
	drv_vq_destroy(&q);
	return 0;
}
