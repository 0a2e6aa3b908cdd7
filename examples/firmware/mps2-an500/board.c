/* SPDX-License-Identifier: MIT */
/*
 * MPS2 AN500 (Cortex-M7) board code: vector table, reset handler, CMSDK
 * APB UART 0 console, semihosting exit. The linker script is link.ld.
 *
 * Memory (QEMU's mps2-an500): code and read-only data in ZBT SSRAM1 at
 * 0x00000000 (4 MiB); data, bss and the stack in ZBT SSRAM2/3 at
 * 0x20000000 (4 MiB). The reset handler copies .data from its load
 * address in SSRAM1 and zeroes .bss.
 */
#include <stdint.h>
#include "fw.h"

const char board_name[] = "mps2-an500 (Cortex-M7)";

/* ---- CMSDK APB UART (ARM DDI 0479, "UART") ---- */
#define UART0 0x40004000u
#define UART_DATA (*(volatile uint32_t *)(UART0 + 0x00))
#define UART_STATE (*(volatile uint32_t *)(UART0 + 0x04))
#define UART_CTRL (*(volatile uint32_t *)(UART0 + 0x08))
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0 + 0x10))
#define UART_STATE_TXFULL 0x1u
#define UART_CTRL_TXEN 0x1u

void board_init(void)
{
	UART_BAUDDIV = 16; /* the smallest divider the UART accepts */
	UART_CTRL = UART_CTRL_TXEN;
}

void board_putc(char c)
{
	if (c == '\n')
		board_putc('\r');
	while (UART_STATE & UART_STATE_TXFULL)
		;
	UART_DATA = (uint8_t)c;
}

/* ---- semihosting (ARM "Semihosting for AArch32 and AArch64") ---- */
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

static uint32_t semihost(uint32_t op, const void *arg)
{
	register uint32_t r0 __asm__("r0") = op;
	register const void *r1 __asm__("r1") = arg;
	__asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
	return r0;
}

_Noreturn void board_exit(int status)
{
	/* reason and exit code: QEMU exits with the code */
	static uint32_t block[2];
	block[0] = ADP_STOPPED_APPLICATION_EXIT;
	block[1] = (uint32_t)status;
	semihost(SYS_EXIT_EXTENDED, block);
	for (;;) /* no debugger attached: stop here */
		__asm__ volatile("wfi");
}

/* ---- reset and exceptions ---- */
extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[];

void reset_handler(void);
void fault_handler(void);

void reset_handler(void)
{
	memcpy(__data_start, __data_load, (size_t)((char *)__data_end - (char *)__data_start));
	memset(__bss_start, 0, (size_t)((char *)__bss_end - (char *)__bss_start));
	board_init();
	board_exit(fw_main());
}

/* Any fault ends the run with a failure instead of hanging. */
void fault_handler(void)
{
	uint32_t ipsr;
	__asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
	fw_puts("FAIL: exception ");
	fw_putu(ipsr & 0x1ff);
	fw_puts(", CFSR 0x");
	fw_putx(*(volatile uint32_t *)0xe000ed28u);
	fw_puts("\n");
	board_exit(2);
}

/* The vector table: initial stack pointer, then handlers (ARMv7-M). */
__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
	(void (*)(void))__stack_top,
	reset_handler,
	fault_handler, /* NMI */
	fault_handler, /* HardFault */
	fault_handler, /* MemManage */
	fault_handler, /* BusFault */
	fault_handler, /* UsageFault */
	0, 0, 0, 0,
	fault_handler, /* SVCall */
	fault_handler, /* DebugMonitor */
	0,
	fault_handler, /* PendSV */
	fault_handler, /* SysTick */
};
