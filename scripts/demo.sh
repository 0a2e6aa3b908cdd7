#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The demo, from a fresh Debian 12 machine: builds libvdev (Release) and
# runs the virtqueue benchmark, which drives libvdev's split and packed
# queues with the driver simulator beside a minimal reference device and
# prints ns per chain and the ratio.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${VDEV_DEMO_BUILD:-$src/build-demo}

"$src/scripts/deps.sh" cmake ninja-build gcc
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVDEV_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
"$build/tests/bench/bench_vq" "$@"
