#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build the user-mode Linux kernel of the UML rig from Debian's
# linux-source-6.1 (/usr/src/linux-source-6.1.tar.xz; nothing from the
# kernel is kept in this repository):
#   make ARCH=um defconfig, merged with uml.config (PCI over virtio,
#   virtio_pci, virtio_mmio as a module, the virtio drivers, DRM), and
#   virt-pci.patch applied to UML's PCI bus glue (arch/um/drivers/virt-pci.c
#   only; no virtio driver is touched): a 10 s reply budget instead of 40 ms,
#   a full command queue waits for the device instead of dropping a posted
#   write, MMIO_MEMSET sent as MMIO_MEMSET, and a requestable INTx line.
# The result is cached under $VDEV_UML_CACHE (default ~/.cache/vdev-uml),
# keyed by the source package version, the compiler, uml.config, the patch
# and this script, so only the first run on a machine builds (~8 min on
# 2 cores).
#
# Prints two lines: UML=<path of the linux binary> and
# UML_MODULES=<directory holding lib/modules/<release>/>.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${VDEV_UML_CACHE:-$HOME/.cache/vdev-uml}
tarball=/usr/src/linux-source-6.1.tar.xz
log() { printf 'build-kernel: %s\n' "$*" >&2; }

if [ ! -f "$tarball" ]; then
	log "missing $tarball (apt-get install linux-source-6.1)"
	exit 1
fi
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
key=$( {
	echo "$srcver"
	gcc --version | head -n1
	cat "$0" "$here/uml.config" "$here/virt-pci.patch"
} | sha256sum | cut -c1-16)
out="$cache/$key"
if [ -x "$out/linux" ] && [ -d "$out/modules/lib/modules" ]; then
	echo "UML=$out/linux"
	echo "UML_MODULES=$out/modules"
	exit 0
fi

log "building UML kernel $key from linux-source-6.1 $srcver (first run on this machine)"
mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -xf "$tarball" -C "$work"
src="$work/linux-source-6.1"
patch -d "$src" -p1 --quiet < "$here/virt-pci.patch"

mk=(make -C "$src" ARCH=um -j"$(nproc)" -s)
"${mk[@]}" defconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "$here/uml.config" >/dev/null
"${mk[@]}" olddefconfig >/dev/null
# Every line of the fragment must have survived the dependency resolution.
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*) want=$line ;;
	"# CONFIG_"*" is not set") want=$line ;;
	*) continue ;;
	esac
	name=${want#\# }
	name=${name%%[= ]*}
	got=$(grep -E "^(# )?$name[= ]" "$src/.config" || echo "# $name is not set")
	if [ "$got" != "$want" ]; then
		log "config: wanted '$want', got '$got'"
		bad=1
	fi
done < "$here/uml.config"
[ "$bad" = 0 ] || exit 1

"${mk[@]}" linux modules >/dev/null 2>"$work/build.log" || { tail -n 30 "$work/build.log" >&2; exit 1; }
"${mk[@]}" modules_install INSTALL_MOD_PATH="$work/modules" INSTALL_MOD_STRIP=1 >/dev/null
strip -o "$work/linux.stripped" "$src/linux"

rm -rf "$out.tmp"
mkdir -p "$out.tmp"
mv "$work/linux.stripped" "$out.tmp/linux"
mv "$work/modules" "$out.tmp/modules"
cp "$src/.config" "$out.tmp/config"
rm -rf "$out"
mv "$out.tmp" "$out"
log "built $out"
echo "UML=$out/linux"
echo "UML_MODULES=$out/modules"
