/* SPDX-License-Identifier: MIT */
/*
 * Bare-metal firmware that runs libvdev under QEMU system emulation
 * (examples/firmware): what the board code provides to the common part,
 * and what the common part provides to the board.
 *
 * The image is a VMM and its guest in one program: a virtio-blk device
 * model (RAM disk) behind virtio-mmio, reached only through the VMM's trap
 * entry points (vmm_blk.h), and a driver-side exerciser (exerciser.c)
 * that plays the guest's virtio driver on split and packed rings in a
 * "guest memory" array.
 */
#ifndef VDEV_FW_H
#define VDEV_FW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the board (mps2-an500/, aarch64-virt/) ---- */

/* Bring up the console UART. */
void board_init(void);
/* One character to the console UART (blocking on a full FIFO). */
void board_putc(char c);
/* End the program: semihosting exit with `status` (0 success); never returns. */
_Noreturn void board_exit(int status);
/* Name of the board, for the log. */
extern const char board_name[];

/* ---- the common part ---- */

/* The C library's four memory functions (libc.c; no <string.h> here). */
void *memcpy(void *restrict d, const void *restrict s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* Runs the whole exercise; returns the exit status (0: every request passed). */
int fw_main(void);

void fw_puts(const char *s);
void fw_putu(uint64_t v);
void fw_putx(uint64_t v);

#endif
