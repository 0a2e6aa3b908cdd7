/* SPDX-License-Identifier: MIT */
/*
 * The hosted half of the bare-metal example: stands in for the guest with
 * libvdev's driver simulator. Every register access goes through the
 * VMM's trap handler (vmm_trap_read/write) at the device's guest-physical
 * address, exactly as a trapped guest store would. Checks that both
 * devices initialise, serve entropy requests on split and packed rings
 * from the polling loop and raise their interrupt lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv_mmio.h"
#include "drvsim.h"
#include "vdev/device.h"
#include "vmm.h"

static uint64_t base_of[VMM_NUM_DEVICES] = {VMM_RNG0_BASE, VMM_RNG1_BASE};

static uint64_t trap_read(void *ctx, uint64_t off, unsigned size)
{
	uint64_t v = 0;
	if (!vmm_trap_read(*(uint64_t *)ctx + off, size, &v)) {
		fprintf(stderr, "harness: access outside every device window\n");
		exit(1);
	}
	return v;
}

static void trap_write(void *ctx, uint64_t off, unsigned size, uint64_t v)
{
	if (!vmm_trap_write(*(uint64_t *)ctx + off, size, v)) {
		fprintf(stderr, "harness: access outside every device window\n");
		exit(1);
	}
}

#define CHECK(c, ...)                                                                     \
	do {                                                                              \
		if (!(c)) {                                                               \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);              \
			fprintf(stderr, __VA_ARGS__);                                     \
			fputc('\n', stderr);                                              \
			exit(1);                                                          \
		}                                                                         \
	} while (0)

int main(void)
{
	static struct sim_mem m;
	static struct drv_mmio dm[VMM_NUM_DEVICES];
	static struct drv_vq q[VMM_NUM_DEVICES];
	static int tok[16];
	uint64_t unused = 0;

	sim_mem_init(&m, 1u << 20, true);
	CHECK(vmm_init(m.host[0], m.regions[0].gpa, m.regions[0].size) == 0, "vmm_init");
	CHECK(!vmm_trap_read(0x1000, 4, &unused), "an address no device decodes");

	for (unsigned i = 0; i < VMM_NUM_DEVICES; i++) {
		bool packed = i == 1;
		uint64_t neg = 0, want = VDEV_BIT(VDEV_F_VERSION_1) | VDEV_BIT(VDEV_F_EVENT_IDX) |
					 (packed ? VDEV_BIT(VDEV_F_RING_PACKED) : 0);
		dm[i].bus_read = trap_read;
		dm[i].bus_write = trap_write;
		dm[i].bus_ctx = &base_of[i];
		struct drv_transport tr = drv_mmio_transport(&dm[i]);

		CHECK(tr.ops->device_id(tr.t) == VDEV_ID_ENTROPY, "device %u id", i);
		CHECK(drv_virtio_negotiate(&tr, want, &neg) == 0, "negotiate %u", i);
		CHECK(neg == want, "features %u", i);
		CHECK(drv_virtio_setup_queue(&tr, &q[i], &m, 0, 16, neg) == 0, "queue %u", i);
		CHECK(drv_virtio_driver_ok(&tr) == 0x0f, "DRIVER_OK %u", i);

		for (int round = 0; round < 10; round++) {
			uint64_t buf = sim_alloc(&m, 64, 8);
			uint8_t *p = sim_ptr(&m, buf);
			struct drv_buf b = {buf, 64, true};
			CHECK(drv_add(&q[i], &b, 1, false, &tok[round]) == 0, "add");
			if (drv_kick_prepare(&q[i]))
				tr.ops->notify(tr.t, 0, false, 0);
			CHECK(vmm_poll() == 1, "device %u round %d: one request served", i, round);
			CHECK(vmm_irq_line(i), "device %u: interrupt line raised", i);
			CHECK(tr.ops->take_interrupts(tr.t) & DRV_INT_VRING, "vring interrupt");
			CHECK(!vmm_irq_line(i), "device %u: line lowered by the ack", i);
			uint32_t len = 0;
			CHECK(drv_get_used(&q[i], &len) == &tok[round], "used buffer back");
			CHECK(len == 64, "64 bytes of entropy, got %u", len);
			unsigned zeros = 0;
			for (int k = 0; k < 64; k++)
				zeros += p[k] == 0;
			CHECK(zeros < 16, "those bytes look random");
		}
		CHECK(q[i].errors == 0, "driver saw: %s", q[i].last_error);
		printf("device %u (%s ring at 0x%llx): 10 entropy requests served\n", i,
		       packed ? "packed" : "split", (unsigned long long)base_of[i]);
	}
	CHECK(vmm_poll() == 0, "nothing left to do");
	printf("bare-metal example: ok\n");
	return 0;
}
