#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build a bare-metal firmware image (examples/firmware) with a cross
# compiler and run it under QEMU system emulation: libvdev's virtio-blk
# behind virtio-mmio, driven by the image's own driver-side exerciser on
# split and packed rings. Passes only if QEMU exits with status 0 (the
# image's semihosting exit) AND the image printed its PASS line.
#
#   mps2-an500    Cortex-M7, arm-none-eabi-gcc, qemu-system-arm -M mps2-an500,
#                 console on the CMSDK UART
#   aarch64-virt  Cortex-A53, aarch64-linux-gnu-gcc freestanding
#                 (-mno-outline-atomics), qemu-system-aarch64 -M virt,
#                 console on the PL011
#
# Usage: firmware.sh <board> [build-dir]    (default build-dir: build-fw-<board>)
# Exit 0 pass, 1 fail, 77 skipped (a compiler or QEMU missing) unless
# VDEV_REQUIRE_ALL=1, in which case a missing tool is a failure.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
board=${1:?usage: firmware.sh mps2-an500|aarch64-virt [build-dir]}
build=${2:-$src/build-fw-$board}

case $board in
mps2-an500)
	cc=arm-none-eabi-gcc
	toolchain=arm-none-eabi-cortex-m7.cmake
	qemu=qemu-system-arm
	machine=(-M mps2-an500)
	packages="gcc-arm-none-eabi, qemu-system-arm"
	;;
aarch64-virt)
	cc=aarch64-linux-gnu-gcc
	toolchain=aarch64-none-elf.cmake
	qemu=qemu-system-aarch64
	machine=(-M virt -cpu cortex-a53)
	packages="gcc-aarch64-linux-gnu, qemu-system-arm"
	;;
*)
	echo "firmware: unknown board '$board' (mps2-an500, aarch64-virt)" >&2
	exit 1
	;;
esac

for tool in "$cc" "$qemu" cmake; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		if [ "${VDEV_REQUIRE_ALL:-0}" = 1 ]; then
			echo "FAIL [firmware $board]: $tool not installed (packages: $packages; VDEV_REQUIRE_ALL=1)" >&2
			exit 1
		fi
		echo "SKIPPED [firmware $board]: $tool not installed (packages: $packages)"
		exit 77
	fi
done

# The host build's flags are not the firmware's.
unset CFLAGS CXXFLAGS LDFLAGS ASMFLAGS
mkdir -p "$build"
gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
echo "firmware: building $board in $build"
if ! cmake -S "$src/examples/firmware" -B "$build" "${gen[@]}" -DVDEV_FW_BOARD="$board" \
	-DCMAKE_TOOLCHAIN_FILE="$src/cmake/toolchains/$toolchain" >"$build/configure.log" 2>&1; then
	cat "$build/configure.log"
	echo "FAIL [firmware $board]: configure" >&2
	exit 1
fi
cmake --build "$build" || { echo "FAIL [firmware $board]: build" >&2; exit 1; }
elf=$build/firmware.elf

# Sizes: the image, and libvdev's part of it (input sections from libvdev.a
# that survived --gc-sections, from the link map).
"${cc%gcc}size" "$elf"
python3 - "$build/firmware.map" <<'PY' || true
import re, sys
kinds = ("text", "rodata", "data", "bss")
tot = {k: [0, 0] for k in kinds}  # [libvdev, rest]
text = open(sys.argv[1]).read()
text = text[text.find("Linker script and memory map"):]
pending = None
for line in text.splitlines():
    m = re.match(r"^ (\.[\w.$]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)$", line)
    if not m and pending:
        m2 = re.match(r"^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)$", line)
        if m2:
            m = (pending, m2.group(1), m2.group(2))
    elif m:
        m = m.groups()
    pending = None
    if not m:
        m1 = re.match(r"^ (\.[\w.$]+)$", line)
        pending = m1.group(1) if m1 else None
        continue
    name, size, obj = m[0], int(m[1], 16), m[2]
    kind = next((k for k in kinds if name == "." + k or name.startswith("." + k + ".")), None)
    if kind is None or size == 0:
        continue
    tot[kind][0 if "libvdev.a(" in obj else 1] += size
print("libvdev in the image: " + ", ".join("%s %d" % (k, tot[k][0]) for k in kinds) +
      " bytes; the rest (board, exerciser, VMM glue, buffers): " +
      ", ".join("%s %d" % (k, tot[k][1]) for k in kinds))
PY

# Run it. -semihosting-config lets the image end QEMU with its exit code;
# the timeout only guards against a hang (the run takes seconds).
cmd=("$qemu" "${machine[@]}" -nographic -monitor none -serial stdio
     -semihosting-config enable=on,target=native -kernel "$elf")
echo "firmware: ${cmd[*]}"
status=0
timeout 600 "${cmd[@]}" </dev/null >"$build/run.log" 2>&1 || status=$?
tr -d '\r' <"$build/run.log" | sed 's/^/  | /'
if [ $status != 0 ]; then
	echo "FAIL [firmware $board]: QEMU exited with status $status$([ $status = 124 ] && echo ' (timed out)')" >&2
	exit 1
fi
if ! tr -d '\r' <"$build/run.log" | grep -qx 'firmware: all requests verified: PASS'; then
	echo "FAIL [firmware $board]: exit status 0 but no PASS line" >&2
	exit 1
fi
echo "ok   [firmware $board]"
