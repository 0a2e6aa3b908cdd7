#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The unit suite and the fuzz corpus replays on another host: built with
# Debian's cross compiler and run under qemu-user (no binfmt_misc needed:
# CMake's cross-compiling emulator runs each program as
# qemu-<arch>-static -L /usr/<triple>).
#
#   s390x   big-endian, 64-bit (virtio's little-endian fields byte-swap)
#   armhf   32-bit ARM (size_t and pointers are 32 bits: 64-bit guest
#           addresses and lengths must not be truncated)
#
# Debian ships no Criterion for these architectures (and its BoxFort sandbox
# re-executes the test program, which qemu-user without binfmt cannot), so
# the tests build on tests/cross/criterion, a fork-per-test stand-in for the
# part of Criterion's API they use. UBSan is on (ASan is not usable under
# qemu-user).
#
# Usage: cross.sh <s390x|armhf> [build-dir]
# Installs its packages with apt-get when missing (scripts/deps.sh).
# Exit 0 pass, 1 fail, 77 skipped (tools missing and cannot be installed)
# unless VDEV_REQUIRE_ALL=1.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:?usage: cross.sh <s390x|armhf> [build-dir]}
case $arch in
s390x) triple=s390x-linux-gnu qemu=qemu-s390x-static ;;
armhf) triple=arm-linux-gnueabihf qemu=qemu-arm-static ;;
*) echo "cross: unknown architecture $arch (s390x or armhf)" >&2; exit 2 ;;
esac
build=${2:-$src/build-cross-$arch}

skip() {
	echo "SKIPPED [cross $arch]: $*"
	[ "${VDEV_REQUIRE_ALL:-0}" = 1 ] && exit 1
	exit 77
}

if ! command -v "$triple-gcc" >/dev/null || ! command -v "$qemu" >/dev/null ||
	[ ! -e "/usr/$triple/include/stdio.h" ]; then
	"$src/scripts/deps.sh" "gcc-$triple" "libc6-dev-$arch-cross" qemu-user-static ||
		skip "cannot install gcc-$triple, libc6-dev-$arch-cross, qemu-user-static"
fi

nice -n 10 cmake -S "$src" -B "$build" -G Ninja \
	-DCMAKE_TOOLCHAIN_FILE="$src/cmake/toolchains/$triple.cmake" \
	-DCMAKE_BUILD_TYPE=Debug -DVDEV_BUILD_TESTS=ON -DVDEV_TEST_CRITERION_SHIM=ON \
	-DVDEV_BUILD_SHARED=OFF \
	-DCMAKE_C_FLAGS="-fsanitize=undefined -fno-sanitize-recover=all" \
	-DCMAKE_EXE_LINKER_FLAGS="-fsanitize=undefined" >/dev/null
nice -n 10 cmake --build "$build" -j"${VDEV_CROSS_JOBS:-2}"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" --output-on-failure -j"${VDEV_CROSS_JOBS:-2}"
