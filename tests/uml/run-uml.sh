#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The UML rig: Linux's own virtio_pci and virtio_mmio drivers on our
# transports. A user-mode Linux built from Debian's linux-source-6.1
# (build-kernel.sh) has a PCI bus whose slots are vhost-user sockets
# (virtio_uml.device=<socket>:4660, UML's PCI-over-virtio); each of our
# daemons started with --pcidev serves one slot with its device model
# behind transports/pci (or a transports/mmio window inside a BAR), so the
# guest kernel's PCI core enumerates our configuration space, sizes our
# BARs, programs our MSI-X table and drives our common configuration.
#
# Test sets (--test):
#   blk   four disks: vda (MSI-X, 2 request queues): the driver's view
#         (features, limits, cache_type switching), mkfs.ext4 + 64 MiB
#         verified after dropping caches, fstrim; vdb: discard and
#         write-zeroes ranges; vdc (INTx only, read-only): reads through
#         INTx and the ISR, writes refused; vdd: a virtio-mmio window in
#         BAR0 of a function no driver claims, insmod virtio_mmio on it,
#         the same file-system check. The host then checks the images.
#   lifecycle  a disk on PCI (MSI-X) and one in an MMIO window: virtio_pci
#         unbound and bound through sysfs, virtio_mmio removed and loaded,
#         each idle and with direct I/O in flight; then the disk works again
#         (data checked). Each daemon grows its image on the guest's request
#         (SIGUSR1): the capacity change reaches the driver through the MSI-X
#         configuration vector and through the MMIO interrupt.
#   gpu   our vhost-user-gpu as the whole device (virtio_uml.device=
#         <socket>:16, not on the PCI bus: UML gives the back-end the config
#         space and both queues): EDID mode and size; RESOURCE_BLOB offered,
#         so vdev-drm's pattern with pitch width * 4 + 64 is a guest blob
#         scanned out with SET_SCANOUT_BLOB; the host checks the daemon's PNG
#         pixel for pixel while the guest holds the frame (it waits for the
#         host's word through hostfs, not for a time).
#
# usage: run-uml.sh --test blk|lifecycle|gpu --daemon PATH [--ring split|packed]
#                   [--imgcheck PATH] [--timeout SEC] [--keep] [--demo]
# (gpu without --imgcheck compiles tests/guest/gpu-imgcheck.c here.)
# Exit: 0 all checks passed; 1 a check failed or was missing; 77 skipped
# (the reason is printed).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
guestdir=$(cd "$here/../guest" && pwd)
# shellcheck source=../guest/lib.sh
. "$guestdir/lib.sh"
test="" daemon="" ring=split timeout=300 keep=0 demo=0 imgcheck=""
while [ $# -gt 0 ]; do
	case "$1" in
	--test) test=$2; shift ;;
	--daemon) daemon=$2; shift ;;
	--ring) ring=$2; shift ;;
	--imgcheck) imgcheck=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--keep) keep=1 ;;
	--demo) demo=1 ;;
	*) echo "run-uml: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$daemon" ] || { echo "run-uml: --daemon is required" >&2; exit 2; }
case "$ring" in split | packed) ;; *) echo "run-uml: --ring split|packed" >&2; exit 2 ;; esac
[ -f /usr/src/linux-source-6.1.tar.xz ] ||
	skip "linux-source-6.1 not installed (scripts/test.sh installs it)"
for t in gcc make flex bison bc cpio debugfs; do
	command -v $t >/dev/null || skip "$t not installed (scripts/test.sh installs it)"
done

kout=$("$here/build-kernel.sh") || { echo "FAIL host/uml-kernel-build"; exit 1; }
uml=$(echo "$kout" | sed -n 's/^UML=//p')
umods=$(echo "$kout" | sed -n 's/^UML_MODULES=//p')
kver=$(ls "$umods/lib/modules" | head -n1)
guest=$("$guestdir/build-guest.sh") || { echo "run-uml: building the guest userland failed"; exit 1; }
initrd=$(echo "$guest" | sed -n 's/^INITRD=//p')

tmp=$(mktemp -d /tmp/vdev-uml.XXXXXX)
pids=() upid=""
cleanup() {
	# UML runs in a process group of its own (its helper processes too)
	uml_kill "initrd=$tmp/"
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ "$keep" = 1 ] && echo "run-uml: kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

# ---- the initramfs: the test guest's userland, our modules and scenarios ------
# A second cpio archive after the first: the kernel unpacks both, so the
# guest's /init and userland stay; load-order is emptied (the drivers are
# built in) and virtio_mmio.ko waits for the scenario that loads it.
over=$tmp/overlay
mkdir -p "$over/lib/modules/uml" "$over/scenarios"
: >"$over/lib/modules/load-order"
find "$umods/lib/modules/$kver" -name virtio_mmio.ko -exec cp {} "$over/lib/modules/uml/" \;
[ -f "$over/lib/modules/uml/virtio_mmio.ko" ] || { echo "FAIL host/uml-virtio_mmio-module"; exit 1; }
cp "$here"/scenarios/*.sh "$over/scenarios/"
(cat "$initrd" && cd "$over" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) \
	>"$tmp/initrd.gz"

ringopt=()
[ "$ring" = split ] && ringopt=(--no-packed)
slots=() params=() scenarios=""
# slot NAME DAEMON-ARGS...: start a daemon serving one bus slot
slot() {
	local name=$1
	shift
	"$daemon" --socket-path="$tmp/$name.sock" "${ringopt[@]}" --stats "$@" \
		>"$tmp/$name.daemon.log" 2>&1 &
	pids+=($!)
	wait_socket "$tmp/$name.sock" || exit 1
	slots+=("virtio_uml.device=$tmp/$name.sock:4660")
}

case "$test" in
blk)
	truncate -s 256M "$tmp/vda.img"
	head -c 16M /dev/urandom >"$tmp/vdb.img"
	head -c 16M /dev/urandom >"$tmp/vdc.img"
	truncate -s 256M "$tmp/vdd.img"
	cp "$tmp/vdb.img" "$tmp/vdb.orig"
	cp "$tmp/vdc.img" "$tmp/vdc.orig"
	slot vda --pcidev=pci --blk-file="$tmp/vda.img" --num-queues=2 --serial=uml-vda
	slot vdb --pcidev=pci --blk-file="$tmp/vdb.img" --serial=uml-vdb
	slot vdc --pcidev=pci-intx --blk-file="$tmp/vdc.img" --read-only --serial=uml-vdc
	slot vdd --pcidev=mmio --mmio-irq=63 --blk-file="$tmp/vdd.img" --serial=uml-vdd
	scenarios=uml-pci,blk-features,blk-fs,blk-trim,blk-ro,uml-intx,uml-mmio
	params=(vdev.disk=vda vdev.trimdisk=vdb vdev.rodisk=vdc vdev.msix=1 vdev.pci.queues=2
		vdev.intx.disk=vdc vdev.mmio.irq=63 vdev.mmio.disk=vdd
		vdev.expect.discard_max_bytes=16777216 vdev.expect.discard_granularity=4096
		vdev.expect.write_zeroes_max_bytes=16777216 vdev.expect.cache_type=write_through)
	;;
lifecycle)
	truncate -s 128M "$tmp/vda.img" "$tmp/vdb.img"
	slot vda --pcidev=pci --blk-file="$tmp/vda.img" --serial=uml-vda
	slot vdb --pcidev=mmio --mmio-irq=63 --blk-file="$tmp/vdb.img" --serial=uml-vdb
	scenarios=uml-lifecycle
	params=(vdev.disk=vda vdev.mmio.disk=vdb vdev.mmio.irq=63)
	;;
gpu)
	W=800 H=600 HZ=75 WMM=320 HMM=240
	if [ -z "$imgcheck" ]; then
		imgcheck=$tmp/gpu-imgcheck
		# shellcheck disable=SC2046
		cc -O2 -DVDEV_HAVE_LIBPNG=1 -I"$guestdir" $(pkg-config --cflags libpng 2>/dev/null) \
			-o "$imgcheck" "$guestdir/gpu-imgcheck.c" $(pkg-config --libs libpng 2>/dev/null) ||
			{ echo "run-uml: cannot build gpu-imgcheck (libpng-dev?)"; exit 1; }
	fi
	mkdir -p "$tmp/host"
	"$daemon" --socket-path="$tmp/gpu.sock" --png="$tmp/screen.png" \
		--interval-ms=50 --width=$W --height=$H --refresh=$HZ --width-mm=$WMM \
		--height-mm=$HMM --stats >"$tmp/gpu.daemon.log" 2>&1 &
	pids+=($!)
	wait_socket "$tmp/gpu.sock" || exit 1
	slots+=("virtio_uml.device=$tmp/gpu.sock:16")
	scenarios=gpu-edid,uml-gpu
	params=(vdev.gpu.mode=${W}x$H vdev.gpu.refresh=$HZ vdev.gpu.mm=${WMM}x$HMM
		vdev.hostdir=$tmp/host)
	;;
*) echo "run-uml: --test blk|lifecycle|gpu" >&2; exit 2 ;;
esac

# ---- the guest ------------------------------------------------------------------
start=$(date +%s)
log=$tmp/console.log
setsid timeout -s KILL "$timeout" "$uml" mem=512M initrd="$tmp/initrd.gz" "${slots[@]}" \
	con=null ssl=null con0=fd:0,fd:1 quiet vdev.scenarios=$scenarios vdev.ring=$ring "${params[@]}" \
	</dev/null >"$log" 2>&1 &
upid=$!
# What the guest may ask of the host (VDEV-REQ lines, lifecycle).
host_request() {
	case "$1" in
	grow-pci) truncate -s +64M "$tmp/vda.img" && kill -USR1 "${pids[0]}" ;;
	grow-mmio) truncate -s +64M "$tmp/vdb.img" && kill -USR1 "${pids[1]}" ;;
	*) echo "run-uml: unknown guest request $1" >&2 ;;
	esac
}
if [ "$test" = lifecycle ]; then
	serve_requests "$log" "$upid" host_request
fi
if [ "$test" = gpu ]; then
	# When the guest shows the pattern, wait until the daemon's PNG has it
	# (it is rewritten at most every 50 ms), then let the guest go on.
	while kill -0 "$upid" 2>/dev/null; do
		if grep -aq "^VDEV-SNAP pattern" "$log"; then
			for _ in $(seq 600); do
				cp "$tmp/screen.png" "$tmp/pattern.png" 2>/dev/null &&
					"$imgcheck" pattern "$tmp/pattern.png" $W $H >"$tmp/imgcheck.log" 2>&1 &&
					{ touch "$tmp/host/pattern-ok"; break; }
				sleep 0.2
			done
			touch "$tmp/host/ack-pattern"
			break
		fi
		sleep 0.1
	done
fi
uml_wait_done "$log" "$upid" "initrd=$tmp/"
urc=$?
upid=""
secs=$(($(date +%s) - start))
[ $urc = 137 ] && echo "FAIL the guest did not finish within ${timeout}s"

# ---- results ----------------------------------------------------------------------
status=0 pass=0 fail=0 skipped=0
[ $urc = 137 ] && status=1
tr -d '\r' <"$log" >"$tmp/clean.log"
guest_results "$tmp/clean.log" "$scenarios"

# ---- host-side checks -----------------------------------------------------------------
info() { grep -a "^VDEV-INFO $1 " "$tmp/clean.log" | awk '{print $3}' | head -n1; }
# fs_check IMAGE SCENARIO: the guest's marker and data file are in the image
fs_check() {
	local img=$1 sc=$2 want
	hc "$sc/marker-file-in-image" sh -c "[ \"\$(debugfs -R 'cat /marker' '$img' 2>/dev/null)\" = 'libvdev was here' ]"
	want=$(info "$sc/data-sha256")
	rm -f "$tmp/data.out"
	debugfs -R "dump /data $tmp/data.out" "$img" >/dev/null 2>&1
	hc "$sc/data-file-in-image" sh -c "[ -n '$want' ] && [ \"\$(sha256sum '$tmp/data.out' | cut -d' ' -f1)\" = '$want' ]"
}
if [ "$test" = blk ]; then
	fs_check "$tmp/vda.img" blk-fs
	fs_check "$tmp/vdd.img" uml-mmio
	M=1048576
	hc discarded-range-reads-zero cmp -n $M <(tail -c +$((M + 1)) "$tmp/vdb.img") /dev/zero
	hc zeroed-range-reads-zero cmp -n $M <(tail -c +$((4 * M + 1)) "$tmp/vdb.img") /dev/zero
	hc before-discard-untouched cmp -n $M "$tmp/vdb.img" "$tmp/vdb.orig"
	hc between-ranges-untouched cmp -i $((2 * M)) -n $((2 * M)) "$tmp/vdb.img" "$tmp/vdb.orig"
	hc after-zeroes-untouched cmp -i $((5 * M)) "$tmp/vdb.img" "$tmp/vdb.orig"
	hc read-only-disk-untouched cmp "$tmp/vdc.img" "$tmp/vdc.orig"
	hc intx-disk-read-matches sh -c "[ \"\$(sha256sum <'$tmp/vdc.img' | cut -d' ' -f1)\" = '$(info uml-intx/sha256)' ]"
fi
if [ "$test" = gpu ]; then
	hc pattern-in-daemon-png "$imgcheck" pattern "$tmp/pattern.png" $W $H
fi
for i in "${!pids[@]}"; do
	kill -TERM "${pids[$i]}" 2>/dev/null
	if wait "${pids[$i]}"; then
		echo "PASS host/daemon-$i-clean-exit"
		pass=$((pass + 1))
	else
		echo "FAIL host/daemon-$i-clean-exit"
		fail=$((fail + 1))
		status=1
	fi
done
pids=()
if [ "$demo" = 1 ] || [ $status != 0 ]; then
	echo "--- what the guest saw"
	grep -a "^VDEV-INFO" "$tmp/clean.log" | sed 's/^VDEV-INFO /  /'
	echo "--- what each daemon did"
	for f in "$tmp"/*.daemon.log; do sed "s|$tmp/||; s/^/  /" "$f"; done
fi
if [ $status != 0 ]; then
	echo "--- console (last 40 lines) ---"
	tail -n 40 "$tmp/clean.log"
fi
echo "run-uml: test=$test ring=$ring: $pass passed, $fail failed, $skipped skipped, guest ran ${secs}s"
exit $status
