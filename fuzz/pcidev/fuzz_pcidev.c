/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: UML's PCI-over-virtio messages (examples/pcidev) into
 * a virtio-pci function and a virtio-mmio window in a shell function,
 * each with the echo test device behind it. The input picks the function
 * and then is a stream of messages: op (mostly a valid one), BAR, size
 * (mostly 1/2/4/8), address (mostly small), data and reply space, plus
 * function-side interrupts and resets. Invariants after every message:
 * the reply never exceeds its space, a well-formed read answers exactly
 * its size (or what fits), the malformed counter only grows, waiting interrupts stay
 * within PCIDEV_PENDING; nothing touches memory outside (ASan).
 */
#include <string.h>

#include "../../examples/pcidev/pcidev.c"
#include "drvsim.h"
#include "fuzz_common.h"
#include "fuzz_mem.h"
#include "testdev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sim_mem m;
	static struct testdev td;
	static struct pcidev p;
	struct input in = {data, size};
	uint8_t msgbuf[PCIDEV_HDR_SIZE + PCIDEV_MAX_DATA + 8], reply[PCIDEV_MAX_DATA + 8];

	fuzz_mem_reset(&m, 64 * 1024, false);
	if (testdev_init(&td, &m.mem, VDEV_BIT(VDEV_F_RING_PACKED) | VDEV_BIT(VDEV_F_EVENT_IDX),
			 64) != 0)
		return 0;
	uint8_t mode = take(&in);
	const struct pcidev_config c = {
		.kind = mode & 1 ? PCIDEV_FN_MMIO_SHELL : PCIDEV_FN_VIRTIO_PCI,
		.fn_dev = &td.dev,
		.mem = &m.mem,
		.msix_vectors = (uint16_t)((mode >> 1) % (PCIDEV_MAX_VECTORS + 1)),
		.mmio_irq = 63,
	};
	FUZZ_CHECK(pcidev_init(&p, &c) == 0);

	while (in.n > 0) {
		uint8_t sel = take(&in);
		uint64_t bad_before = p.stats.bad;
		if (sel >= 0xf0) { /* the function's side */
			switch (sel & 3) {
			case 0: fn_msi(&p, UML_MSI_ADDR, take(&in)); break;
			case 1: fn_intx(&p, take(&in) & 1); break;
			case 2: mmio_line(&p, take(&in) & 1); break;
			default: pcidev_reset_function(&p); break;
			}
			FUZZ_CHECK(p.npending <= PCIDEV_PENDING);
			continue;
		}
		uint8_t op = sel & 0x80 ? take(&in) : (uint8_t)(1 + sel % 8);
		uint8_t bar = sel & 0x40 ? take(&in) : 0;
		uint8_t sz = take(&in);
		uint32_t msize = sz & 0x80 ? take32(&in) : 1u << (sz & 3);
		uint64_t addr = sz & 0x40 ? take64(&in) : take16(&in);
		size_t dlen = take(&in) % (PCIDEV_MAX_DATA + 9);
		size_t cap = take(&in) % (sizeof(reply) + 1);
		size_t len = PCIDEV_HDR_SIZE + dlen;
		memset(msgbuf, 0, PCIDEV_HDR_SIZE);
		msgbuf[0] = op;
		msgbuf[1] = bar;
		memcpy(msgbuf + 4, &msize, 4);
		memcpy(msgbuf + 8, &addr, 8);
		for (size_t i = 0; i < dlen; i++)
			msgbuf[PCIDEV_HDR_SIZE + i] = take(&in);
		if (sz & 0x20) /* a header cut short */
			len = take(&in) % PCIDEV_HDR_SIZE;
		size_t n = pcidev_exec(&p, msgbuf, len, reply, cap);
		FUZZ_CHECK(n <= cap);
		FUZZ_CHECK(p.stats.bad >= bad_before);
		if (len >= PCIDEV_HDR_SIZE && p.stats.bad == bad_before &&
		    (op == PCIDEV_OP_CFG_READ || op == PCIDEV_OP_MMIO_READ))
			FUZZ_CHECK(n == (msize < cap ? msize : cap));
		FUZZ_CHECK(p.npending <= PCIDEV_PENDING);
	}
	return 0;
}
