/* SPDX-License-Identifier: MIT */
/*
 * A small device model for transport tests, fuzzers and examples: an echo
 * device. Queue 0 takes requests and answers each by writing its readable
 * bytes back into its writable part (XORed with 0xff when feature bit 0 is
 * negotiated); queue 1 exists but is never processed. Config space (16
 * bytes): le32 magic 0x54455354 ("TEST", read-only), le32 requests served
 * (read-only), u8 knob (the one writable byte), 7 reserved bytes.
 */
#ifndef VDEV_TESTS_TESTDEV_H
#define VDEV_TESTS_TESTDEV_H

#include "vdev/device.h"

#define TESTDEV_ID 63
#define TESTDEV_F_XOR 0
#define TESTDEV_MAGIC 0x54455354u
#define TESTDEV_CFG_KNOB 8
#define TESTDEV_SHM_ID 1

struct testdev {
	struct vdev_dev dev;
	struct vdev_vq q[2];
	uint64_t held[2 * VDEV_VQ_HELD_WORDS(VDEV_VQ_MAX_SIZE)];
	uint8_t config[16];
	struct vdev_shm shm;
	struct vdev_iov iov[16 * 8];
	unsigned requests, resets, activates, queue_resets, notifies;
	bool manual; /* true: queue_notify only counts; the test calls testdev_process */
	bool hold_queue_reset; /* true: a queue reset stays ongoing until the test
				* calls vdev_dev_queue_reset_complete() */
};

/* Offers VERSION_1, TESTDEV_F_XOR and the ring features in `ring`
 * (VDEV_BIT(VDEV_F_*) set); one shared memory region of 1 MiB. */
int testdev_init(struct testdev *t, const struct vdev_mem *mem, uint64_t ring,
		 uint32_t queue_max);
/* Serve everything waiting on queue 0; returns the number of chains. */
unsigned testdev_process(struct testdev *t);
/* Change the read-only request counter in config space and notify. */
void testdev_config_bump(struct testdev *t);

#endif
