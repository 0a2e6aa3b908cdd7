#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Boot Debian's kernel under QEMU (software emulation, never KVM) with
# three virtio-blk disks served by vhost-user back-ends, run the block
# scenarios in the guest, and check the results on both sides:
#
#   vda  256 MiB, empty: blk-features, blk-fs (mkfs, 64 MiB, fstrim, fsck)
#   vdb   16 MiB, host pattern: blk-trim (discard 1 MiB at 1 MiB,
#                                write-zeroes 1 MiB at 4 MiB)
#   vdc   16 MiB, host pattern, read-only: blk-ro
#
# After QEMU exits: the marker file and the 64 MiB file in vda's ext4 are
# there with the content the guest reported, vdb reads zero exactly in
# the two ranges and is untouched elsewhere, vdc is untouched, and the
# daemons exit cleanly on SIGTERM.
#
# usage: run-guest.sh [--packed] [--backend ours|qsd|builtin] [--daemon PATH]
#                     [--timeout SEC] [--scenarios LIST] [--keep] [--demo]
#   --demo   also print the guest's own story and what each daemon did
#   ours     our vhost-user-blk daemon (--daemon, default: $VDEV_BLK_DAEMON)
#   qsd      qemu-storage-daemon's vhost-user-blk export (a reference)
#   builtin  QEMU's own virtio-blk-pci (validates the scenarios themselves)
#
# Exit: 0 all checks passed; 1 a check failed, was missing or unparsable;
# 77 skipped (QEMU cannot run here; the reason is printed).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
packed=0 backend=ours daemon=${VDEV_BLK_DAEMON:-} timeout=600 keep=0 demo=0
scenarios=blk-features,blk-fs,blk-trim,blk-ro
while [ $# -gt 0 ]; do
	case "$1" in
	--packed) packed=1 ;;
	--backend) backend=$2; shift ;;
	--daemon) daemon=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--scenarios) scenarios=$2; shift ;;
	--keep) keep=1 ;;
	--demo) demo=1 ;;
	*) echo "run-guest: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (tests/guest/setup-host.sh installs it)"
command -v debugfs >/dev/null || skip "debugfs (e2fsprogs) not installed on the host"
case "$backend" in
ours) [ -x "$daemon" ] || { echo "run-guest: --daemon PATH to vhost-user-blk is required" >&2; exit 2; } ;;
qsd) command -v qemu-storage-daemon >/dev/null || skip "qemu-storage-daemon not installed" ;;
builtin) ;;
*) echo "run-guest: --backend must be ours, qsd or builtin" >&2; exit 2 ;;
esac

guest=$("$here/build-guest.sh") || { echo "run-guest: building the guest failed"; exit 1; }
kernel=$(echo "$guest" | sed -n 's/^KERNEL=//p')
initrd=$(echo "$guest" | sed -n 's/^INITRD=//p')

tmp=$(mktemp -d /tmp/vdev-guest.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ "$keep" = 1 ] && echo "run-guest: kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

# ---- disks ------------------------------------------------------------------------
truncate -s 256M "$tmp/vda.img"
head -c 16M /dev/urandom >"$tmp/vdb.img"
head -c 16M /dev/urandom >"$tmp/vdc.img"
cp "$tmp/vdb.img" "$tmp/vdb.orig"
cp "$tmp/vdc.img" "$tmp/vdc.orig"

# ---- back-ends ----------------------------------------------------------------------
devices=()
mem_opts=(-object memory-backend-memfd,id=mem,size=512M,share=on -machine q35,memory-backend=mem)
dev_opts=""
[ "$packed" = 1 ] && dev_opts=",packed=on"
case "$backend" in
ours)
	for d in vda vdb vdc; do
		ro=()
		[ $d = vdc ] && ro=(--read-only)
		"$daemon" --socket-path="$tmp/$d.sock" --blk-file="$tmp/$d.img" "${ro[@]}" \
			--serial="vdev-$d" --stats >"$tmp/$d.daemon.log" 2>&1 &
		pids+=($!)
	done
	;;
qsd)
	args=()
	for d in vda vdb vdc; do
		w=on
		[ $d = vdc ] && w=off
		args+=(--blockdev "driver=file,node-name=$d,filename=$tmp/$d.img,discard=unmap"
			--export "type=vhost-user-blk,id=e$d,node-name=$d,addr.type=unix,addr.path=$tmp/$d.sock,writable=$w")
	done
	qemu-storage-daemon "${args[@]}" >"$tmp/qsd.log" 2>&1 &
	pids+=($!)
	;;
esac
for d in vda vdb vdc; do
	if [ "$backend" = builtin ]; then
		ro=""
		[ $d = vdc ] && ro=",readonly=on"
		devices+=(-drive "file=$tmp/$d.img,if=none,id=$d,format=raw,discard=unmap$ro"
			-device "virtio-blk-pci,drive=$d$dev_opts")
	else
		wait_socket "$tmp/$d.sock" || exit 1
		devices+=(-chardev "socket,id=$d,path=$tmp/$d.sock"
			-device "vhost-user-blk-pci,chardev=$d$dev_opts")
	fi
done
[ "$backend" = builtin ] && mem_opts=(-machine q35)

# What the guest must see with our daemon's defaults.
expect=""
if [ "$backend" = ours ]; then
	expect="vdev.expect.discard_max_bytes=16777216 vdev.expect.discard_granularity=4096"
	expect+=" vdev.expect.write_zeroes_max_bytes=16777216 vdev.expect.cache_type=write_through"
fi

# ---- the guest ----------------------------------------------------------------------------
log="$tmp/console.log"
start=$(date +%s)
timeout "$timeout" qemu-system-x86_64 -accel tcg -cpu max -m 512M -smp 1 "${mem_opts[@]}" \
	-nodefaults -display none -serial "file:$log" -no-reboot \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 quiet vdev.scenarios=$scenarios $expect" \
	"${devices[@]}" >"$tmp/qemu.log" 2>&1
qrc=$?
secs=$(($(date +%s) - start))
if [ $qrc = 124 ]; then
	echo "run-guest: FAIL: the guest did not finish within ${timeout}s"
	tail -n 20 "$log"
	exit 1
fi
if [ ! -s "$log" ]; then
	echo "run-guest: FAIL: QEMU wrote nothing to the console (exit $qrc)"
	cat "$tmp/qemu.log"
	exit 1
fi

# ---- results -----------------------------------------------------------------------------
status=0
pass=0 fail=0 skipped=0
tr -d '\r' <"$log" >"$tmp/clean.log"
for s in $(echo "$scenarios" | tr , ' '); do
	end=$(grep -a "^VDEV-SCENARIO-END $s " "$tmp/clean.log" | awk '{print $3}')
	got=$(grep -ac "^VDEV-RESULT $s/" "$tmp/clean.log")
	if [ -z "$end" ]; then
		echo "FAIL $s: scenario did not finish"
		status=1
	elif [ "$end" != "$got" ]; then
		echo "FAIL $s: $got result lines, the scenario reported $end checks"
		status=1
	fi
done
while read -r _ name verdict reason; do
	case "$verdict" in
	PASS) pass=$((pass + 1)); echo "PASS $name" ;;
	SKIP)
		skipped=$((skipped + 1))
		echo "SKIP $name ($reason)"
		# With our daemon every expectation is known: a skip is a gap.
		[ "$backend" = ours ] && status=1
		;;
	*) fail=$((fail + 1)); echo "FAIL $name $reason"; status=1 ;;
	esac
done < <(grep -a "^VDEV-RESULT " "$tmp/clean.log")
grep -aq "^VDEV-DONE" "$tmp/clean.log" || { echo "FAIL the guest did not complete its run"; status=1; }

# ---- host-side checks -----------------------------------------------------------------------
info() { grep -a "^VDEV-INFO $1 " "$tmp/clean.log" | awk '{print $3}' | head -n1; }
if echo "$scenarios" | grep -q blk-fs; then
	hc marker-file-content sh -c "[ \"\$(debugfs -R 'cat /marker' '$tmp/vda.img' 2>/dev/null)\" = 'libvdev was here' ]"
	want=$(info blk-fs/data-sha256)
	debugfs -R "dump /data $tmp/data.out" "$tmp/vda.img" >/dev/null 2>&1
	hc data-file-checksum sh -c "[ -n '$want' ] && [ \"\$(sha256sum '$tmp/data.out' | cut -d' ' -f1)\" = '$want' ]"
fi
if echo "$scenarios" | grep -q blk-trim; then
	M=1048576
	hc discarded-range-reads-zero cmp -n $M <(tail -c +$((M + 1)) "$tmp/vdb.img") /dev/zero
	hc zeroed-range-reads-zero cmp -n $M <(tail -c +$((4 * M + 1)) "$tmp/vdb.img") /dev/zero
	hc before-discard-untouched cmp -n $M "$tmp/vdb.img" "$tmp/vdb.orig"
	hc between-ranges-untouched cmp -i $((2 * M)) -n $((2 * M)) "$tmp/vdb.img" "$tmp/vdb.orig"
	hc after-zeroes-untouched cmp -i $((5 * M)) "$tmp/vdb.img" "$tmp/vdb.orig"
fi
if echo "$scenarios" | grep -q blk-ro; then
	hc read-only-disk-untouched cmp "$tmp/vdc.img" "$tmp/vdc.orig"
fi
for i in "${!pids[@]}"; do
	kill -TERM "${pids[$i]}" 2>/dev/null
	if wait "${pids[$i]}"; then
		[ "$backend" = ours ] && { echo "PASS host/daemon-$i-clean-exit"; pass=$((pass + 1)); }
	else
		echo "FAIL host/daemon-$i-clean-exit"
		fail=$((fail + 1))
		status=1
	fi
done
pids=()

layout=split
[ "$packed" = 1 ] && layout=packed
if [ "$demo" = 1 ]; then
	echo
	echo "--- what the guest saw (kernel $(basename "$kernel"), QEMU $(qemu-system-x86_64 --version | awk 'NR == 1 {print $4}'))"
	grep -a "^VDEV-INFO" "$tmp/clean.log" | sed 's/^VDEV-INFO /  /'
	echo "--- what each device did"
	for d in vda vdb vdc; do
		[ -f "$tmp/$d.daemon.log" ] && sed "s|$tmp/||; s/^vhost-user-blk: /  /" "$tmp/$d.daemon.log"
	done
	echo
fi
echo "run-guest: backend=$backend ring=$layout: $pass passed, $fail failed, $skipped skipped, guest ran ${secs}s"
if [ $status != 0 ]; then
	echo "--- console (last 40 lines) ---"
	tail -n 40 "$tmp/clean.log"
	for f in "$tmp"/*.log; do
		case "$f" in *console.log | *clean.log) continue ;; esac
		[ -s "$f" ] && { echo "--- $(basename "$f") ---"; tail -n 10 "$f"; }
	done
fi
exit $status
