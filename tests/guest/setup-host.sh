#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Host packages for the real-guest rig, installed idempotently: QEMU 10
# from Debian's bookworm-backports suite (7.2's vhost-user-gpu refuses to
# run without KVM and its vhost-user net needs vectors=0), whose
# qemu-utils also brings qemu-storage-daemon (the reference back-end), and
# the tools build-guest.sh and run-guest.sh use on the host.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
list=/etc/apt/sources.list.d/vdev-bookworm-backports.list
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)

have_backports() {
	grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null
}
qemu_is_new() {
	command -v qemu-system-x86_64 >/dev/null &&
		qemu-system-x86_64 --version | head -n1 | grep -qE 'version (9|[1-9][0-9])\.'
}

if ! have_backports; then
	echo "setup-host: adding the bookworm-backports suite ($list)"
	echo "deb http://deb.debian.org/debian bookworm-backports main" | "${sudo[@]}" tee "$list" >/dev/null
	"${sudo[@]}" apt-get update -q >/dev/null
	export VDEV_APT_UPDATED=1
fi
if ! qemu_is_new || ! command -v qemu-storage-daemon >/dev/null; then
	echo "setup-host: installing QEMU from bookworm-backports"
	[ -n "${VDEV_APT_UPDATED:-}" ] || "${sudo[@]}" apt-get update -q >/dev/null
	export VDEV_APT_UPDATED=1
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends \
		-t bookworm-backports qemu-system-x86 qemu-utils >/dev/null
fi
"$here/scripts/deps.sh" e2fsprogs cpio gzip xz-utils zstd kmod binutils coreutils iproute2
# the host side of the vsock scenarios (vsock-host.py)
"$here/scripts/deps.sh" python3
# Linux's user-mode kernel: a vhost-user front-end that gives the back-end
# the whole device (run-guest-uml-net.sh)
"$here/scripts/deps.sh" user-mode-linux
echo "setup-host: $(qemu-system-x86_64 --version | head -n1)"
