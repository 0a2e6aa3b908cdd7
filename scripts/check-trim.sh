#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Trimmed builds (include/vdev/config.h, CMake options VDEV_WITH_*): each
# configuration below is configured and built on its own (warnings are
# errors), its static library is checked for what must and must not be in
# it, and the unit tests that apply run (tests/test_trim.c always: what is
# left out is not offered, cannot be negotiated, is refused; what is kept
# works; plus test_mem and the kept models' own tests where they apply).
#
#   noring   VDEV_WITH_PACKED=OFF VDEV_WITH_INDIRECT=OFF, every device model
#            (virtio-gpu without its 3D mode: VDEV_WITH_GPU_3D=OFF)
#   blkonly  virtio-blk alone (every other model OFF), both ring features
#
# Usage: check-trim.sh [build-root]   (default: build-trim)
# Exit 0 pass, 1 fail, 77 skipped (Criterion missing) unless
# VDEV_REQUIRE_ALL=1.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-$src/build-trim}
jobs=${VDEV_TRIM_JOBS:-2}
mkdir -p "$root"

if ! pkg-config --exists criterion 2>/dev/null; then
	echo "SKIPPED [trim]: Criterion not installed (libcriterion-dev)"
	[ "${VDEV_REQUIRE_ALL:-0}" = 1 ] && exit 1
	exit 77
fi

models=(BLK NET VSOCK GPU CONSOLE RNG INPUT)
declare -A cfg
cfg[noring]="-DVDEV_WITH_PACKED=OFF -DVDEV_WITH_INDIRECT=OFF -DVDEV_WITH_GPU_3D=OFF"
blkonly=""
for m in "${models[@]}"; do [ "$m" = BLK ] || blkonly+=" -DVDEV_WITH_$m=OFF"; done
cfg[blkonly]=$blkonly

# symbols <lib> -> the global symbols the archive defines
symbols() { nm -g --defined-only "$1" 2>/dev/null | awk 'NF == 3 {print $3}' | sort -u; }

status=0
fail() { echo "FAIL [trim $1]: $2" >&2; status=1; }

for name in noring blkonly; do
	b=$root/$name
	echo "== trim $name: ${cfg[$name]}"
	# shellcheck disable=SC2086
	nice -n 10 cmake -S "$src" -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
		-DVDEV_BUILD_TESTS=ON -DVDEV_SANITIZE=ON -DVDEV_BUILD_SHARED=OFF \
		${cfg[$name]} >"$b.configure.log" 2>&1 ||
		{ cat "$b.configure.log" >&2; fail $name "configure"; continue; }
	nice -n 10 cmake --build "$b" -j"$jobs" >"$b.build.log" 2>&1 ||
		{ tail -50 "$b.build.log" >&2; fail $name "build (warnings are errors)"; continue; }
	lib=$b/libvdev.a
	syms=$(symbols "$lib")
	has() { grep -qx "$1" <<<"$syms"; }
	has_prefix() { grep -q "^$1" <<<"$syms"; }
	has vdev_dev_init || fail $name "vdev_dev_init missing from $lib"
	has vdev__split_pop || fail $name "split ring missing"
	case $name in
	noring)
		has_prefix vdev__packed_ && fail $name "packed ring code still in $lib"
		has_prefix vdev__inflight_packed_ && fail $name "packed in-flight log still in $lib"
		has vdev__read_indirect && fail $name "indirect table reader still in $lib"
		for f in vdev_blk_init vdev_net_init vdev_vsock_init vdev_gpu_init vdev_console_init \
			vdev_rng_init vdev_input_init; do
			has $f || fail $name "$f missing (the models stay)"
		done
		;;
	blkonly)
		has vdev__packed_pop || fail $name "packed ring missing"
		has vdev_blk_init || fail $name "vdev_blk_init missing"
		for p in vdev_net_ vdev_vsock_ vdev_gpu_ vdev_console_ vdev_rng_ vdev_input_; do
			has_prefix $p && fail $name "$p* still in $lib"
		done
		;;
	esac
	tests=$(ctest --test-dir "$b" -N | awk '/Test +#/ {print $3}' | tr '\n' ' ')
	echo "   library: $(wc -l <<<"$syms") global symbols; tests: $tests"
	ctest --test-dir "$b" --output-on-failure -j"$jobs" || fail $name "unit tests"
done
[ $status = 0 ] && echo "ok   [trim]: noring, blkonly"
exit $status
