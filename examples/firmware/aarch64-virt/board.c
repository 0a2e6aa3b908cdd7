/* SPDX-License-Identifier: MIT */
/*
 * QEMU virt (AArch64, Cortex-A53) board code: PL011 console at
 * 0x09000000, semihosting exit (HLT #0xF000, QEMU's -semihosting), the
 * exception report. Start-up is start.S, the linker script link.ld.
 */
#include <stdint.h>

#include "fw.h"

const char board_name[] = "virt (AArch64, Cortex-A53)";

/* ---- PL011 (ARM DDI 0183) ---- */
#define PL011 0x09000000ul
#define UART_DR (*(volatile uint32_t *)(PL011 + 0x00))
#define UART_FR (*(volatile uint32_t *)(PL011 + 0x18))
#define UART_FR_TXFF 0x20u

void board_init(void)
{
	/* QEMU's PL011 transmits out of reset; a real board sets baud and LCR here */
}

void board_putc(char c)
{
	if (c == '\n')
		board_putc('\r');
	while (UART_FR & UART_FR_TXFF)
		;
	UART_DR = (uint8_t)c;
}

/* ---- semihosting ---- */
#define SYS_EXIT 0x18u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

_Noreturn void board_exit(int status)
{
	/* AArch64 SYS_EXIT takes a block of reason and exit code */
	static uint64_t block[2];
	block[0] = ADP_STOPPED_APPLICATION_EXIT;
	block[1] = (uint64_t)(int64_t)status;
	register uint64_t x0 __asm__("x0") = SYS_EXIT;
	register uint64_t *x1 __asm__("x1") = block;
	__asm__ volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
	for (;;) /* no semihosting host: stop here */
		__asm__ volatile("wfi");
}

void board_start(void);
void exception(uint64_t kind, uint64_t esr, uint64_t elr, uint64_t far);

void board_start(void)
{
	board_init();
	board_exit(fw_main());
}

/* Any exception ends the run with a failure instead of hanging. */
void exception(uint64_t kind, uint64_t esr, uint64_t elr, uint64_t far)
{
	fw_puts("FAIL: exception, vector ");
	fw_putu(kind);
	fw_puts(" ESR 0x");
	fw_putx(esr);
	fw_puts(" ELR 0x");
	fw_putx(elr);
	fw_puts(" FAR 0x");
	fw_putx(far);
	fw_puts("\n");
	board_exit(2);
}
