#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Install libvdev into a scratch prefix and build a tiny consumer against
# it twice: with `pkg-config --cflags --libs vdev` (shared and static) and
# with CMake's find_package(vdev). Each consumer is run.
#
# Usage: check-consumer.sh <source-dir> <scratch-dir>
set -euo pipefail

src=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
prefix="$work/prefix"
cc=${CC:-cc}

echo "== build and install libvdev into $prefix"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_INSTALL_PREFIX="$prefix" >"$work/configure.log"
cmake --build "$work/build" -j"$(nproc)" >"$work/build.log"
cmake --install "$work/build" >"$work/install.log"

echo "== shared library: SONAME and exported symbols"
lib=$(find "$prefix" -name "libvdev.so.*.*.*" -type f | head -n1)
soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
echo "   $lib: SONAME $soname"
case "$soname" in
libvdev.so.[0-9]*) ;;
*) echo "FAIL: unexpected SONAME '$soname'" >&2; exit 1 ;;
esac
stray=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^vdev_' || true)
if [ -n "$stray" ]; then
	echo "FAIL: the shared library exports symbols outside vdev_*:" >&2
	echo "$stray" >&2
	exit 1
fi
echo "   exports: $(nm -D --defined-only "$lib" | awk '{print $3}' | wc -l) symbols, all vdev_*"

echo "== pkg-config consumer"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/$(gcc -print-multiarch 2>/dev/null || true)/pkgconfig"
flags=$(pkg-config --cflags --libs vdev)
echo "   pkg-config --cflags --libs vdev: $flags"
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror "$src/tests/consumer/consumer.c" $flags \
	-Wl,-rpath,"$(pkg-config --variable=libdir vdev)" -o "$work/pc_shared"
"$work/pc_shared"
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror -static "$src/tests/consumer/consumer.c" \
	$(pkg-config --cflags vdev) "$(pkg-config --variable=libdir vdev)/libvdev.a" \
	-o "$work/pc_static"
"$work/pc_static"

echo "== find_package(vdev) consumer"
cmake -S "$src/tests/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
	>"$work/consumer-configure.log"
cmake --build "$work/consumer" >"$work/consumer-build.log"
"$work/consumer/consumer_shared"
"$work/consumer/consumer_static"
echo "consumer check: ok"
