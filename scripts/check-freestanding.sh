#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The freestanding check: the core (lib/), the MMIO/PCI transports and the
# freestanding half of the bare-metal example (examples/baremetal/vmm.c) must
# build for a bare-metal target and reference no symbol outside
# memcpy/memmove/memset/memcmp (no libc, no libgcc helpers, no malloc).
#
#   host:  cc -ffreestanding -nostdlib, then a static link with nothing but
#          our own mem* and _start
#   arm:   arm-none-eabi-gcc -ffreestanding for Cortex-R5 (ARM state) and
#          Cortex-M7 (Thumb-2), same symbol check and link
#   m0:    Cortex-M0 (ARMv6-M, Thumb-1, -Os): no divide instruction, no
#          64-bit shifts, no exclusive loads/stores. Allowed beyond mem*:
#          libgcc's arithmetic helpers (__aeabi_uidiv/uidivmod/lmul/llsl/
#          llsr/...) and its Thumb-1 switch-table helpers
#          (__gnu_thumb1_case_*; -fno-jump-tables removes them); never an
#          __atomic_* or __sync_* call (lib/compiler.h: RMW atomics are
#          PRIMASK critical sections there). Linked with -lgcc.
#
# Usage: check-freestanding.sh [source-dir]
# Exit 0 pass, 1 fail, 77 skipped (arm-none-eabi-gcc missing) unless
# VDEV_REQUIRE_ALL=1, in which case a missing tool is a failure.
set -euo pipefail

src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mapfile -t sources < <(cd "$src" && ls lib/*.c transports/mmio/*.c transports/pci/*.c \
	examples/baremetal/vmm.c 2>/dev/null)
allowed='^(memcpy|memmove|memset|memcmp)$'
flags=(-std=c11 -O2 -Wall -Wextra -Wconversion -Werror -ffreestanding -fno-builtin-malloc
       -I"$src/include" -I"$src/lib" -I"$src/examples/baremetal")

cat > "$work/stub.c" <<'STUB'
/* Minimal runtime for the link test: mem* and an entry point. */
#include <stddef.h>
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void _start(void);
void *memcpy(void *d, const void *s, size_t n)
{ unsigned char *o = d; const unsigned char *i = s; while (n--) *o++ = *i++; return d; }
void *memmove(void *d, const void *s, size_t n)
{ unsigned char *o = d; const unsigned char *i = s;
  if (o < i) { while (n--) *o++ = *i++; } else { o += n; i += n; while (n--) *--o = *--i; }
  return d; }
void *memset(void *d, int c, size_t n)
{ unsigned char *o = d; while (n--) *o++ = (unsigned char)c; return d; }
int memcmp(const void *a, const void *b, size_t n)
{ const unsigned char *x = a, *y = b; for (; n; n--, x++, y++) if (*x != *y) return *x - *y; return 0; }
/* Reference every public entry point so the link pulls them all in. */
extern char vdev_strerror[], vdev_mem_init[], vdev_vq_pop[], vdev_dev_init[];
volatile void *keep[4];
void _start(void)
{ keep[0] = vdev_strerror; keep[1] = vdev_mem_init; keep[2] = vdev_vq_pop; keep[3] = vdev_dev_init;
  for (;;) { } }
STUB

# check <label> <cc> <extra flags...>
# ($allowed: the undefined symbols permitted; $libs: added to the link)
check() {
	local label=$1 cc=$2
	shift 2
	local dir="$work/$label" objs=() bad
	mkdir -p "$dir"
	for s in "${sources[@]}"; do
		local o="$dir/$(basename "${s%.c}").o"
		"$cc" "${flags[@]}" "$@" -c "$src/$s" -o "$o" || { echo "FAIL [$label]: $s does not compile" >&2; return 1; }
		objs+=("$o")
	done
	# Undefined symbols of the core as a whole (references between its
	# own objects resolved by a relocatable link).
	# (set -e does not apply inside a function called from `||`: every
	# step checks its own status.)
	"$cc" "$@" -nostdlib -r -o "$dir/core.o" "${objs[@]}" || { echo "FAIL [$label]: relocatable link" >&2; return 1; }
	bad=$(nm -u "$dir/core.o" | awk '{print $2}' | grep -Ev "$allowed" || true)
	if [ -n "$bad" ]; then
		echo "FAIL [$label]: core references symbols outside mem*:" >&2
		echo "$bad" | sed 's/^/    /' >&2
		return 1
	fi
	# And it links into a program with nothing else.
	"$cc" "${flags[@]}" "$@" -nostdlib -nostartfiles -static -Wl,-e,_start \
		-o "$dir/link-test.elf" "$dir/core.o" "$work/stub.c" ${libs:-} ||
		{ echo "FAIL [$label]: the core does not link with only mem* and _start" >&2; return 1; }
	echo "ok   [$label]: ${#sources[@]} sources, undefined: $(nm -u "$dir/core.o" | awk '{print $2}' | tr '\n' ' ')"
}

status=0
echo "freestanding check of: ${sources[*]}"
check host "${CC:-cc}" -fno-stack-protector || status=1

if command -v arm-none-eabi-gcc >/dev/null 2>&1; then
	check cortex-r5 arm-none-eabi-gcc -mcpu=cortex-r5 -marm -mfloat-abi=soft || status=1
	check cortex-m7 arm-none-eabi-gcc -mcpu=cortex-m7 -mthumb -mfloat-abi=soft || status=1
	allowed_m0='^(memcpy|memmove|memset|memcmp|__aeabi_(u?idiv|u?idivmod|lmul|llsl|llsr|lasr|u?ldivmod|lcmp|ulcmp)|__gnu_thumb1_case_(uqi|sqi|uhi|shi|si))$'
	allowed=$allowed_m0 libs=-lgcc check cortex-m0 arm-none-eabi-gcc -mcpu=cortex-m0 -mthumb \
		-mfloat-abi=soft -Os || status=1
else
	echo "SKIPPED [arm]: arm-none-eabi-gcc not installed (apt-get install gcc-arm-none-eabi)"
	if [ "${VDEV_REQUIRE_ALL:-0}" = 1 ]; then
		status=1
	elif [ $status = 0 ]; then
		exit 77
	fi
fi
exit $status
