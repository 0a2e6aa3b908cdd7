#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The demo, from a fresh Debian 12 machine: builds libvdev and its
# vhost-user-blk daemon (Release), installs QEMU 10 from bookworm-backports
# if needed, boots Debian's own kernel under QEMU (software emulation)
# with three disks served by our daemon, runs the block scenarios in the
# guest (mkfs/mount/64 MiB/fstrim/fsck, discard and write-zeroes, a
# read-only disk) on a split and then a packed ring, and prints what the
# guest saw and what each device did. Then the same kernel with our
# vhost-user-gpu daemon behind QEMU's vhost-user-gpu-pci: EDID, console
# text and a test pattern, checked on the host; the guest's screen is
# saved as $build/guest-screen.png. Last, 3D: Debian's Mesa (virgl) in the
# guest draws a known scene through our daemon on virglrenderer
# (llvmpipe), checked in the guest and on the host; the frame is saved as
# $build/guest-3d.png, and a frame of Debian's kmscube, run after it, as
# $build/guest-kmscube.png.
#
# The benchmarks are scripts/bench.sh.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${VDEV_DEMO_BUILD:-$src/build-demo}

"$src/scripts/deps.sh" cmake ninja-build gcc pkg-config liburing-dev libpng-dev python3 \
	libvirglrenderer-dev libegl-dev libgles-dev libgl1-mesa-dri libegl-mesa0 cpio
"$src/tests/guest/setup-host.sh"
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVDEV_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
for layout in "" --packed; do
	"$src/tests/guest/run-guest.sh" --demo $layout --daemon "$build/examples/vhost-user-blk/vhost-user-blk"
done
"$src/tests/guest/run-guest-gpu.sh" --demo --daemon "$build/examples/vhost-user-gpu/vhost-user-gpu" \
	--save-png "$build/guest-screen.png"
"$src/tests/guest/run-guest-gpu3d.sh" --demo --daemon "$build/examples/vhost-user-gpu/vhost-user-gpu" \
	--save-png "$build/guest-3d.png" --save-cube "$build/guest-kmscube.png"
