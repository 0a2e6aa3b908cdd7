#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Ring conformance against Linux's driver-side ring code, run by ctest.
#
# At test time: extract only the files needed from Debian's kernel source
# package (linux-source-6.1) into the build directory, build
# drivers/virtio/virtio_ring.c in user space with the kernel's own
# tools/virtio shims (plus ours in shim/), link it with the harness that
# CMake built against libvdev, and run it. No kernel code is kept in the
# repository.
#
# usage: run.sh --cc CC --harness LIB.a --vdev LIB.a --work DIR
#               [--link-flags "FLAGS"] [-- HARNESS-ARGS...]
# Exit 77 (ctest skip) with "SKIPPED: why" if the kernel source is not
# installed, unless VDEV_REQUIRE_ALL=1, in which case that is a failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tarball=${VDEV_LINUX_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
cc=cc harness='' vdev='' work='' link_flags=''
while [ $# -gt 0 ]; do
	case $1 in
	--cc) cc=$2; shift 2 ;;
	--harness) harness=$2; shift 2 ;;
	--vdev) vdev=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	--link-flags) link_flags=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
if [ -z "$harness" ] || [ -z "$vdev" ] || [ -z "$work" ]; then
	echo "run.sh: --harness, --vdev and --work are required" >&2
	exit 2
fi

skip() {
	if [ "${VDEV_REQUIRE_ALL:-0}" = 1 ]; then
		echo "FAILED: $* (VDEV_REQUIRE_ALL=1: required)"
		exit 1
	fi
	echo "SKIPPED: $*"
	exit 77
}

[ -r "$tarball" ] || skip "$tarball not found (apt-get install linux-source-6.1)"
command -v tar >/dev/null || skip "tar not installed"
command -v xz >/dev/null || skip "xz not installed (apt-get install xz-utils)"

# ---- extract (once per tarball version) -----------------------------------
mkdir -p "$work"
stamp="$work/extracted.stamp"
want_stamp="$(stat -c '%s %Y' "$tarball") $tarball"
src="$work/linux"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want_stamp" ]; then
	echo "extracting virtio_ring.c and tools/virtio shims from $tarball"
	rm -rf "$src" "$stamp"
	mkdir -p "$src"
	# Only what virtio_ring.c and the tools/virtio shims include.
	tar -xJf "$tarball" -C "$src" --strip-components=1 --wildcards \
		'*/drivers/virtio/virtio_ring.c' \
		'*/tools/virtio/*' \
		'*/tools/include/*' \
		'*/include/linux/kconfig.h' \
		'*/include/linux/kern_levels.h' \
		'*/include/linux/virtio_ring.h' \
		'*/include/linux/irqreturn.h' \
		'*/include/linux/virtio_byteorder.h' \
		'*/include/linux/byteorder/generic.h' \
		'*/include/uapi/linux/virtio_ring.h' \
		'*/include/uapi/linux/virtio_types.h' \
		'*/include/uapi/linux/virtio_config.h'
	echo "$want_stamp" >"$stamp"
fi
[ -f "$src/drivers/virtio/virtio_ring.c" ] || skip "virtio_ring.c missing from $tarball"

# ---- build ----------------------------------------------------------------
# Kernel code: the flags of tools/virtio/Makefile, relaxed warnings (not
# ours), optimised, no sanitizers. Our glue (kdrv.c): our warnings as
# errors, with the kernel shim directories as system includes.
tv="$src/tools/virtio"
kinc=(-I"$tv" -I"$src/tools/include" -include "$src/include/linux/kconfig.h")
obj="$work/obj"
mkdir -p "$obj"
"$cc" -std=gnu11 -O2 -g -w -pthread "${kinc[@]}" -include "$here/shim/conf_shim.h" \
	-fno-strict-overflow -fno-strict-aliasing -fno-common -U_FORTIFY_SOURCE \
	-c "$src/drivers/virtio/virtio_ring.c" -o "$obj/virtio_ring.o"
"$cc" -std=gnu11 -O2 -g -pthread -Wall -Wextra -Wconversion -Wsign-conversion -Wshadow \
	-Wmissing-prototypes -Werror -isystem "$tv" -isystem "$src/tools/include" \
	-include "$src/include/linux/kconfig.h" -include "$here/shim/conf_shim.h" -I"$here" \
	-c "$here/kdrv.c" -o "$obj/kdrv.o"
# shellcheck disable=SC2086 # link_flags is a list of flags
"$cc" -o "$work/conformance" "$obj/kdrv.o" "$obj/virtio_ring.o" "$harness" "$vdev" \
	-pthread $link_flags

# ---- run ------------------------------------------------------------------
exec "$work/conformance" "$@"
