#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Debian's Mesa for the test guest, as an extra cpio archive to append to
# build-guest.sh's initramfs (the cached base image stays as it is): the
# virgl driver (libgl1-mesa-dri's gallium megadriver, installed as
# dri/virtio_gpu_dri.so), EGL (libglvnd's libEGL + libEGL_mesa and its
# vendor file), GLES (libGLESv2), GBM, libdrm and Debian's kmscube (in
# /usr/sbin, the guest's PATH), with every library they
# need, resolved from ELF NEEDED entries transitively as build-guest.sh
# does. Nothing is installed on the host: apt-get download + dpkg -x.
#
# Also a sysroot to build the guest's GL client against these very
# libraries: the host's EGL/GLES headers (libegl-dev, libgles-dev) plus
# gbm.h and libdrm's headers from Debian's libgbm-dev and libdrm-dev of the
# same Mesa/libdrm versions (unpacked, not installed).
#
# Cached under $VDEV_GUEST_CACHE (default ~/.cache/vdev-guest)/mesa-<key>,
# keyed by the package versions and this script. Prints two lines:
#   MESA_CPIO=<path to a gzip'd newc archive rooted at />
#   MESA_SYSROOT=<dir with usr/include and usr/lib/x86_64-linux-gnu>
set -euo pipefail

cache=${VDEV_GUEST_CACHE:-$HOME/.cache/vdev-guest}
mkdir -p "$cache/debs"
log() { printf 'build-guest-mesa: %s\n' "$*" >&2; }

roots=(libgl1-mesa-dri libegl-mesa0 libegl1 libgbm1 libglapi-mesa libgles2 libdrm2 kmscube)
headers=(libgbm-dev libdrm-dev)
# The packages' Depends closure (all of them libraries; native ones only,
# a machine set up for cross builds lists foreign ones too); what the guest
# actually gets is narrowed by NEEDED below.
mapfile -t pkgs < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
	--no-breaks --no-replaces --no-enhances "${roots[@]}" 2>/dev/null | grep -v '^[ <]' | grep -v : | sort -u)
if [ "${#pkgs[@]}" -lt "${#roots[@]}" ]; then
	log "cannot resolve ${roots[*]} (apt-get update?)"
	exit 1
fi
versions=$(apt-cache policy "${pkgs[@]}" "${headers[@]}" | awk '/^[a-z0-9]/ {p=$1; sub(/:$/, "", p)} /Candidate:/ {print p, $2}')
key=$( {
	echo "$versions"
	cat "$0"
} | sha256sum | cut -c1-16)
out="$cache/mesa-$key"
if [ -f "$out/mesa.cpio.gz" ] && [ -d "$out/sysroot/usr/include" ]; then
	echo "MESA_CPIO=$out/mesa.cpio.gz"
	echo "MESA_SYSROOT=$out/sysroot"
	exit 0
fi

log "building Mesa for the guest $key (${#pkgs[@]} packages)"
(cd "$cache/debs" && apt-get -q -o APT::Sandbox::User=root download "${pkgs[@]}" "${headers[@]}" >/dev/null)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ext="$work/extract"
mkdir -p "$ext"
for p in "${pkgs[@]}" "${headers[@]}"; do
	ver=$(echo "$versions" | awk -v p="$p" '$1 == p { print $2 }')
	# the file name has the version with ':' as %3a
	deb=$(ls "$cache/debs/${p}_${ver/:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
	if [ -z "$deb" ]; then
		log "package $p $ver did not download"
		exit 1
	fi
	dpkg -x "$deb" "$ext"
done

multi=usr/lib/x86_64-linux-gnu
root="$work/root"
mkdir -p "$root/$multi/dri" "$root/usr/share"
libdirs=("$ext/$multi" "$ext/lib/x86_64-linux-gnu" "$ext/usr/lib" "$ext/lib")
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
		cp -L "$found" "$root/$multi/$l"
		need_libs "$found"
	done
}
# What the client links and what Mesa loads at run time (dlopen: the EGL
# vendor library, the DRI driver).
entry=(libEGL.so.1 libEGL_mesa.so.0 libGLESv2.so.2 libgbm.so.1 libdrm.so.2 libglapi.so.0)
for l in "${entry[@]}"; do
	[ -e "$ext/$multi/$l" ] || { log "$l is not in the packages"; exit 1; }
	if [ -z "${have[$l]:-}" ]; then
		have[$l]=1
		cp -L "$ext/$multi/$l" "$root/$multi/$l"
	fi
	need_libs "$ext/$multi/$l"
done
[ -e "$ext/$multi/dri/virtio_gpu_dri.so" ] || { log "libgl1-mesa-dri has no virtio_gpu_dri.so"; exit 1; }
cp -L "$ext/$multi/dri/virtio_gpu_dri.so" "$root/$multi/dri/"
need_libs "$root/$multi/dri/virtio_gpu_dri.so"
# kmscube: an unmodified GL program on KMS (the guest_gpu3d kmscube
# scenario), with what it links.
mkdir -p "$root/usr/sbin"
cp -L "$ext/usr/bin/kmscube" "$root/usr/sbin/"
need_libs "$root/usr/sbin/kmscube"
# libglvnd finds Mesa's EGL through its vendor file; Mesa reads drirc.
cp -a "$ext/usr/share/glvnd" "$root/usr/share/"
[ -d "$ext/usr/share/drirc.d" ] && cp -a "$ext/usr/share/drirc.d" "$root/usr/share/"
log "${#have[@]} libraries, $(du -sh "$root" | cut -f1) unpacked"

mkdir -p "$out.tmp/sysroot/usr/include" "$out.tmp/sysroot/$multi"
cp "$ext/usr/include/gbm.h" "$out.tmp/sysroot/usr/include/"
cp -a "$ext/usr/include/libdrm" "$ext"/usr/include/xf86drm*.h "$out.tmp/sysroot/usr/include/"
cp -a "$root/$multi"/*.so* "$out.tmp/sysroot/$multi/"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$out.tmp/mesa.cpio.gz"
rm -rf "$out"
mv "$out.tmp" "$out"
log "archive $(du -h "$out/mesa.cpio.gz" | cut -f1)"
echo "MESA_CPIO=$out/mesa.cpio.gz"
echo "MESA_SYSROOT=$out/sysroot"
