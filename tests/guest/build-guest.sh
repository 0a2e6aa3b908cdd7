#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Assemble the test guest from Debian packages without installing them on
# the host (apt-get download + dpkg -x): Debian's generic kernel, the
# virtio modules with everything they depend on (from modules.dep),
# busybox-static, mkfs.ext4/e2fsck/debugfs, util-linux's blkdiscard and
# fstrim, socat, our static DRM probe (vdev-drm.c), the shared libraries those need, our /init and the
# scenario scripts. The result is cached under $VDEV_GUEST_CACHE (default
# ~/.cache/vdev-guest) and rebuilt only when its inputs change (package
# versions, this script, init, scenarios).
#
# Prints two lines: KERNEL=<path> and INITRD=<path>.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${VDEV_GUEST_CACHE:-$HOME/.cache/vdev-guest}
mkdir -p "$cache/debs"

log() { printf 'build-guest: %s\n' "$*" >&2; }

# ---- what goes in -------------------------------------------------------------
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '/Depends: linux-image-[0-9].*-amd64$/ {print $2; exit}')
if [ -z "$kpkg" ]; then
	log "cannot resolve linux-image-amd64 (apt-get update?)"
	exit 1
fi
# Userland and the libraries it links (checked below: every NEEDED must resolve).
userland=(busybox-static e2fsprogs util-linux socat libc6 libext2fs2 libcom-err2
	libblkid1 libuuid1 libmount1 libsmartcols1 libselinux1 libpcre2-8-0 libssl3
	libwrap0 libreadline8 libtinfo6 libss2 libudev1 libcap2 libnsl2 libtirpc3
	libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libkeyutils1 libcom-err2 libzstd1
	liblzma5 libcrypt1)
pkgs=("$kpkg" "${userland[@]}")

# Modules the scenarios need; their dependencies come from modules.dep.
modules=(virtio_pci virtio_blk virtio_net virtio_console vmw_vsock_virtio_transport
	virtio_gpu ext4 crc32c_generic)
# virtio-rng and virtio-input (issue 18); evdev gives /dev/input/event*
modules+=(virtio_rng virtio_input evdev)

versions=$(apt-cache policy "${pkgs[@]}" | awk '/^[a-z0-9]/ {p=$1} /Candidate:/ {print p, $2}')
key=$( {
	echo "$versions"
	echo "${modules[*]}"
	cat "$0" "$here/init" "$here"/scenarios/*.sh "$here/vdev-drm.c" "$here/gpu_pattern.h"
} | sha256sum | cut -c1-16)
out="$cache/$key"
if [ -f "$out/initrd.gz" ] && [ -f "$out/vmlinuz" ]; then
	echo "KERNEL=$out/vmlinuz"
	echo "INITRD=$out/initrd.gz"
	exit 0
fi

# ---- download and unpack ----------------------------------------------------------
log "building guest $key ($kpkg)"
(cd "$cache/debs" && apt-get -q -o APT::Sandbox::User=root download "${pkgs[@]}" >/dev/null)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ext="$work/extract"
mkdir -p "$ext"
for p in "${pkgs[@]}"; do
	# this machine's architecture or none (the shared cache may hold i386 ones too)
	deb=$( (ls -t "$cache/debs/${p}_"*_amd64.deb "$cache/debs/${p}_"*_all.deb 2>/dev/null || true) | head -n1)
	if [ -z "$deb" ]; then
		log "package $p did not download"
		exit 1
	fi
	dpkg -x "$deb" "$ext"
done
kver=$(ls "$ext/lib/modules" | head -n1)
root="$work/root"
mkdir -p "$root"/{bin,usr/sbin,lib,lib64,proc,sys,dev,tmp,mnt,scenarios,etc}

# ---- kernel modules: the closure of what we need, in load order ----------------------------
depmod -b "$ext" "$kver"
dep="$ext/lib/modules/$kver/modules.dep"
declare -A seen=()
order=()
add_module() { # path relative to lib/modules/$kver, dependencies first
	local rel=$1 d
	[ -n "${seen[$rel]:-}" ] && return
	seen[$rel]=1
	for d in $(awk -v m="$rel:" '$1 == m { for (i = 2; i <= NF; i++) print $i }' "$dep"); do
		add_module "$d"
	done
	order+=("$rel")
}
for m in "${modules[@]}"; do
	rel=$(awk -F: -v m="$m" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); gsub(/-/, "_", n) }
		n == m { print $1; exit }' "$dep")
	if [ -z "$rel" ]; then
		log "module $m not found in $kver"
		exit 1
	fi
	add_module "$rel"
done
mkdir -p "$root/lib/modules"
: >"$root/lib/modules/load-order"
for rel in "${order[@]}"; do
	name=$(basename "$rel")
	case "$name" in
	*.ko.xz) xz -dc "$ext/lib/modules/$kver/$rel" >"$root/lib/modules/${name%.xz}"; name=${name%.xz} ;;
	*.ko.zst) zstd -qdc "$ext/lib/modules/$kver/$rel" >"$root/lib/modules/${name%.zst}"; name=${name%.zst} ;;
	*) cp "$ext/lib/modules/$kver/$rel" "$root/lib/modules/$name" ;;
	esac
	echo "$name" >>"$root/lib/modules/load-order"
done
log "${#order[@]} modules"

# ---- userland and its libraries ---------------------------------------------------------
cp "$ext/bin/busybox" "$root/bin/busybox"
bins=(sbin/mke2fs sbin/e2fsck sbin/debugfs sbin/blkdiscard sbin/fstrim usr/bin/socat)
for b in "${bins[@]}"; do
	src="$ext/$b"
	[ -e "$src" ] || src="$ext/usr/$b"
	if [ ! -e "$src" ]; then
		log "binary $b not found in the packages"
		exit 1
	fi
	# /usr/sbin comes first on the guest's PATH, ahead of busybox's applets
	cp "$src" "$root/usr/sbin/$(basename "$b")"
done
ln -s mke2fs "$root/usr/sbin/mkfs.ext4"
# Copy every NEEDED library (transitively) from the extracted packages.
libdirs=("$ext/lib/x86_64-linux-gnu" "$ext/usr/lib/x86_64-linux-gnu" "$ext/lib" "$ext/usr/lib")
declare -A have=()
need_libs() {
	local f=$1 l d found
	for l in $(readelf -d "$f" 2>/dev/null | awk '/NEEDED/ { gsub(/[\[\]]/, "", $5); print $5 }'); do
		[ -n "${have[$l]:-}" ] && continue
		found=
		for d in "${libdirs[@]}"; do
			if [ -e "$d/$l" ]; then
				found="$d/$l"
				break
			fi
		done
		if [ -z "$found" ]; then
			log "library $l (needed by $(basename "$f")) is in none of the packages"
			exit 1
		fi
		have[$l]=1
		cp -L "$found" "$root/lib/$l"
		need_libs "$found"
	done
}
for b in "$root"/bin/* "$root"/usr/sbin/*; do
	[ -L "$b" ] || need_libs "$b"
done
cp -L "$ext/lib64/ld-linux-x86-64.so.2" "$root/lib64/"
echo "/lib" >"$root/etc/ld.so.conf"
log "${#have[@]} libraries"

# ---- vdev-drm: the GPU probe, static, against the kernel's own uapi headers ----------------------
# (Debian's libdrm-dev headers predate blob resources; linux-source-6.1 has them.)
uapi="$cache/uapi-6.1"
if [ ! -f "$uapi/drm/virtgpu_drm.h" ]; then
	tarball=${VDEV_LINUX_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
	[ -r "$tarball" ] || { log "$tarball not found (apt-get install linux-source-6.1)"; exit 1; }
	mkdir -p "$work/uapi" "$uapi/drm"
	tar -xJf "$tarball" -C "$work/uapi" --strip-components=1 --wildcards \
		'*/include/uapi/drm/drm.h' '*/include/uapi/drm/drm_mode.h' '*/include/uapi/drm/virtgpu_drm.h'
	cp "$work"/uapi/include/uapi/drm/*.h "$uapi/drm/"
fi
gcc -static -O2 -Wall -Wextra -Werror -D__user= -I"$uapi" -I"$here" -o "$root/usr/sbin/vdev-drm" "$here/vdev-drm.c"

# ---- init, scenarios, image -----------------------------------------------------------------
cp "$here/init" "$root/init"
chmod +x "$root/init"
cp "$here"/scenarios/*.sh "$root/scenarios/"
mkdir -p "$out"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -6) >"$out/initrd.gz.tmp"
cp "$ext/boot/vmlinuz-$kver" "$out/vmlinuz"
mv "$out/initrd.gz.tmp" "$out/initrd.gz"
log "initramfs $(du -h "$out/initrd.gz" | cut -f1)"
echo "KERNEL=$out/vmlinuz"
echo "INITRD=$out/initrd.gz"
