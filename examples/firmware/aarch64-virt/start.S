/* SPDX-License-Identifier: MIT */
/*
 * AArch64 start-up for QEMU's virt machine (entered at EL1 with the MMU
 * off, as QEMU starts a bare ELF image): stack, FP/SIMD access, exception
 * vectors, zeroed .bss, then C. Data accesses with the MMU off are
 * Device-nGnRnE, so everything is built with -mstrict-align.
 */
	.section .text.boot, "ax"
	.global _start
_start:
	ldr	x0, =__stack_top
	mov	sp, x0
	/* CPACR_EL1.FPEN = 0b11: no trap on FP/SIMD (gcc may use them for copies) */
	mov	x0, #(3 << 20)
	msr	cpacr_el1, x0
	adr	x0, vectors
	msr	vbar_el1, x0
	isb
	ldr	x0, =__bss_start
	ldr	x1, =__bss_end
1:	cmp	x0, x1
	b.hs	2f
	str	xzr, [x0], #8
	b	1b
2:	bl	board_start
3:	wfi
	b	3b

/* Every exception is a failure: report it and exit (board.c). */
	.macro	vector kind
	.balign	0x80
	mov	x0, #\kind
	mrs	x1, esr_el1
	mrs	x2, elr_el1
	mrs	x3, far_el1
	b	exception
	.endm

	.balign	0x800
vectors:
	.irp	k, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
	vector	\k
	.endr
