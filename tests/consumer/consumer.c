/* SPDX-License-Identifier: MIT */
/* A tiny program that uses libvdev the way an integrator would, built
 * against an installed copy (pkg-config and find_package(vdev)). */
#include <stdio.h>
#include <string.h>
#include <vdev/device.h>
#include <vdev/mem.h>
#include <vdev/virtqueue.h>

int main(void)
{
	static unsigned char ram[1 << 16];
	struct vdev_mem_region region = {.gpa = 0x1000, .size = sizeof(ram), .hva = ram};
	struct vdev_mem mem;
	struct vdev_vq vq;
	static uint64_t held[VDEV_VQ_HELD_WORDS(256)];
	int rc;

	if (vdev_version() != VDEV_VERSION) {
		fprintf(stderr, "header/library version mismatch\n");
		return 1;
	}
	rc = vdev_mem_init(&mem, &region, 1);
	if (rc == 0)
		rc = vdev_vq_init(&vq, 0, 256, held);
	if (rc == 0) {
		vdev_vq_set_addrs(&vq, 0x1000, 0x2000, 0x3000);
		rc = vdev_vq_start(&vq, &mem, VDEV_BIT(VDEV_F_VERSION_1));
	}
	printf("consumer: libvdev %s, queue start: %s\n", VDEV_VERSION_STRING, vdev_strerror(rc));
	return rc == 0 && vdev_vq_is_live(&vq) ? 0 : 1;
}
