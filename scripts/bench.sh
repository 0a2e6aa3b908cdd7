#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build (Release) and run the benchmarks: the virtqueue and the block
# device model beside their in-binary reference devices, the io_uring
# backend beside raw io_uring, and our vhost-user-blk daemon beside
# qemu-storage-daemon, and the 3D GPU model's share of each command beside
# virglrenderer's (bench_gpu3d, when built), two dpdk-testpmd VMs through
# vdev-switch beside DPDK's vhost io forward (bench-dpdk-switch.py), and
# vhost-user-net to a TAP and to a veth beside DPDK's net_tap and
# net_af_packet (bench-net-host.sh), both when dpdk-testpmd is installed.
# Arguments go to every benchmark (e.g. --runs 7). The 3D guest's frame rate is a separate, slow
# run: tests/bench/bench-gpu3d-guest.sh --daemon <vhost-user-gpu>. With
# valgrind installed, last the instruction counts of the device models
# beside their references (scripts/bench-callgrind.sh), which do not move
# with the machine's load as times do.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${VDEV_BENCH_BUILD:-$src/build-bench}

"$src/scripts/deps.sh" cmake ninja-build gcc pkg-config liburing-dev libcriterion-dev python3 dpdk
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVDEV_BUILD_BENCH=ON \
	-DVDEV_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
"$build/tests/bench/bench_vq" "$@"
echo
"$build/tests/bench/bench_blk" "$@"
echo
"$build/tests/bench/bench_net" "$@"
if [ -x "$build/tests/bench/bench_gpu3d" ]; then
	echo
	"$build/tests/bench/bench_gpu3d" "$@"
fi
# Inter-VM switching: two dpdk-testpmd VMs through vdev-switch beside
# DPDK's own two-vhost-port io forward (SKIPPED without dpdk-testpmd).
echo
python3 "$src/tests/bench/bench-dpdk-switch.py" \
	--switch "$build/examples/vdev-switch/vdev-switch" "$@"
if [ -x "$build/tests/bench/bench_vhost_user" ]; then
	echo
	"$build/tests/bench/bench_vhost_user" --daemon "$build/examples/vhost-user-blk/vhost-user-blk" "$@"
fi
# One hop to a TAP / a host interface beside DPDK's net_tap / net_af_packet
# (root and dpdk-testpmd; it says SKIPPED otherwise). Its own options: only
# --runs is passed on.
if command -v dpdk-testpmd >/dev/null; then
	echo
	runs=()
	for ((i = 1; i <= $#; i++)); do
		case "${!i}" in
		--runs) j=$((i + 1)); runs=(--runs "${!j}") ;;
		--runs=*) runs=("${!i}") ;;
		esac
	done
	"$src/tests/bench/bench-net-host.sh" --daemon "$build/examples/vhost-user-net/vhost-user-net" \
		${runs[@]+"${runs[@]}"}
fi
if command -v valgrind >/dev/null; then
	echo
	VDEV_BENCH_BUILD=$build "$src/scripts/bench-callgrind.sh"
fi
