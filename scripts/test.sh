#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The whole test suite, from a fresh Debian 12 machine:
#   1. installs what it needs with apt-get (idempotent);
#   2. builds everything with gcc under ASan+UBSan and runs ctest: unit
#      tests, public headers as C/C++, the freestanding check, the stack
#      budget (stack_budget, arm-none-eabi-gcc), the
#      installed-consumer check, fuzz corpus replays, the Linux
#      virtio_ring conformance runs, DPDK's virtio driver against the
#      net daemon (dpdk_net_*) and the real-guest runs (QEMU, and the
#      UML rig whose kernel is built here once and cached);
#   3. builds the libFuzzer targets with clang and runs each for a short
#      smoke ($VDEV_FUZZ_SECONDS, default 30 s).
# Exit status 0 only if every step passed. A check that cannot run prints
# SKIPPED and why; tools this script installs are required, so with
# VDEV_REQUIRE_ALL=1 (set here) a missing one fails instead of skipping.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${VDEV_TEST_BUILD:-$src/build-test}
jobs=$(nproc)
export VDEV_REQUIRE_ALL=${VDEV_REQUIRE_ALL:-1}

step() { printf '\n==== %s\n' "$*"; }

step "dependencies"
"$src/scripts/deps.sh" cmake ninja-build pkg-config gcc g++ clang libclang-rt-14-dev \
	libcriterion-dev gcc-arm-none-eabi binutils xz-utils linux-source-6.1 liburing-dev \
	libpng-dev python3 make patch bc flex bison libelf-dev dpdk dpdk-dev iproute2 util-linux \
	libvirglrenderer-dev libegl-dev libegl-mesa0 libgl1-mesa-dri \
	gcc-s390x-linux-gnu libc6-dev-s390x-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross \
	qemu-user-static gcc-aarch64-linux-gnu

step "real-guest rig: QEMU from bookworm-backports and host tools"
"$src/tests/guest/setup-host.sh"
# qemu-system-arm/-aarch64 for the firmware runs, from the same suite as
# qemu-system-common (installed by setup-host.sh from bookworm-backports)
VDEV_APT_SUITE=bookworm-backports "$src/scripts/deps.sh" qemu-system-arm

step "build (gcc, ASan+UBSan, warnings as errors)"
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	-DVDEV_BUILD_TESTS=ON -DVDEV_BUILD_EXAMPLES=ON -DVDEV_BUILD_BENCH=ON -DVDEV_SANITIZE=ON
cmake --build "$build" -j"$jobs"

step "UML rig kernel (built from linux-source-6.1 once per machine, then cached)"
"$src/tests/uml/build-kernel.sh"

step "ctest"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" --output-on-failure -j"$jobs"

step "build (clang, warnings as errors): everything compiles warning-free on both compilers"
CC=clang CXX=clang++ cmake -S "$src" -B "$build-clang" -G Ninja -DCMAKE_BUILD_TYPE=Release \
	-DVDEV_BUILD_TESTS=ON -DVDEV_BUILD_EXAMPLES=ON -DVDEV_BUILD_BENCH=ON >/dev/null
cmake --build "$build-clang" -j"$jobs" >/dev/null

step "fuzz smoke (clang, libFuzzer, ASan+UBSan)"
"$src/scripts/fuzz.sh"

step "all tests passed"
