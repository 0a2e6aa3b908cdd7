#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# virtio-input in a real guest: Debian's kernel under QEMU (software
# emulation, never KVM) with two of our vhost-user-input daemons behind
# QEMU's vhost-user-input-pci: a keyboard (serial KBD-0001) and a 1024x600
# multi-touch screen with 5 slots. The guest runs
#
#   input-devices   both devices with our names, serial, ids, event bits
#                   (/proc/bus/input/devices)
#   input-events    vdev-evread (a static helper added to the initramfs as
#                   a second cpio) reads /dev/input/event* while the host
#                   (input-host.py, asked by the guest with VDEV-REQ) sends
#                   key presses and a multi-touch sequence through the
#                   daemons' event sockets: they arrive exactly, in order;
#                   the guest's CapsLock LED reaches the keyboard daemon
#                   through the status queue
#
# usage: run-guest-input.sh --daemon PATH --reader PATH [--timeout SEC] [--keep]
# Exit: 0 all checks passed; 1 a check failed; 77 skipped (QEMU, python3 or
# cpio unavailable; the reason is printed).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
daemon="" reader="" timeout=400 keep=0
while [ $# -gt 0 ]; do
	case "$1" in
	--daemon) daemon=$2; shift ;;
	--reader) reader=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--keep) keep=1 ;;
	*) echo "run-guest-input: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$daemon" ] && [ -x "$reader" ] || { echo "run-guest-input: --daemon and --reader are required" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (tests/guest/setup-host.sh installs it)"
qemu-system-x86_64 -device help 2>/dev/null | grep -q '"vhost-user-input-pci"' ||
	skip "this QEMU has no vhost-user-input-pci"
command -v python3 >/dev/null || skip "python3 not installed (the host side of the scenario)"
command -v cpio >/dev/null || skip "cpio not installed"

guest=$("$here/build-guest.sh") || { echo "run-guest-input: building the guest failed"; exit 1; }
kernel=$(echo "$guest" | sed -n 's/^KERNEL=//p')
initrd=$(echo "$guest" | sed -n 's/^INITRD=//p')

tmp=$(mktemp -d /tmp/vdev-input.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ "$keep" = 1 ] && echo "run-guest-input: kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

# The reader rides in a second cpio archive, so the cached guest stays as it is.
mkdir -p "$tmp/extra/usr/sbin"
cp "$reader" "$tmp/extra/usr/sbin/vdev-evread"
(cd "$tmp/extra" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$tmp/extra.gz"
cat "$initrd" "$tmp/extra.gz" >"$tmp/initrd.gz"

"$daemon" --socket="$tmp/kbd.sock" --events="$tmp/kbd.events" --profile=keyboard \
	--name="vdev-test keyboard" --serial=KBD-0001 --log-status --stats >"$tmp/kbd.log" 2>&1 &
pids+=($!)
"$daemon" --socket="$tmp/touch.sock" --events="$tmp/touch.events" --profile=touch \
	--name="vdev-test touch" --width=1024 --height=600 --slots=5 --stats >"$tmp/touch.log" 2>&1 &
pids+=($!)
wait_socket "$tmp/kbd.sock" || exit 1
wait_socket "$tmp/touch.sock" || exit 1

: >"$tmp/host.log"
# the guest asks (VDEV-REQ) once its readers are ready
on_request() {
	case "$1" in
	input-send) python3 "$here/input-host.py" "$tmp/kbd.events" "$tmp/touch.events" >>"$tmp/host.log" 2>&1 ;;
	esac
}

pass=0 fail=0 skipped=0 status=0
start=$(date +%s)
: >"$tmp/console"
timeout "$timeout" qemu-system-x86_64 -accel tcg -cpu max -m 512M -smp 1 \
	-object memory-backend-memfd,id=mem,size=512M,share=on -machine q35,memory-backend=mem \
	-nodefaults -display none -serial "file:$tmp/console" -no-reboot \
	-kernel "$kernel" -initrd "$tmp/initrd.gz" \
	-append "console=ttyS0 quiet vdev.scenarios=input-devices,input-events" \
	-chardev socket,id=kbd,path="$tmp/kbd.sock" -device vhost-user-input-pci,chardev=kbd \
	-chardev socket,id=touch,path="$tmp/touch.sock" -device vhost-user-input-pci,chardev=touch \
	>"$tmp/qemu.log" 2>&1 &
qpid=$!
serve_requests "$tmp/console" $qpid on_request
wait $qpid
rc=$?
secs=$(($(date +%s) - start))
if [ $rc = 124 ]; then
	echo "FAIL guest: the guest did not finish within ${timeout}s"
	status=1
fi
tr -d '\r' <"$tmp/console" >"$tmp/clean" 2>/dev/null
guest_results "$tmp/clean" input-devices,input-events guest/
while read -r verdict name reason; do
	if [ "$verdict" = PASS ]; then
		pass=$((pass + 1))
		echo "PASS $name"
	else
		fail=$((fail + 1))
		status=1
		echo "FAIL $name $reason"
	fi
done < <(grep -aE "^(PASS|FAIL) host/" "$tmp/host.log")
for want in refuses-malformed-lines keys-accepted touch-accepted; do
	grep -aq "^PASS host/$want" "$tmp/host.log" || grep -aq "^FAIL host/$want" "$tmp/host.log" ||
		{ echo "FAIL host/$want: no result"; status=1; fail=$((fail + 1)); }
done
hc capslock-led-reached-the-daemon grep -q "STATUS 17 1 1" "$tmp/kbd.log"
for i in 0 1; do
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
hc keyboard-daemon-counted-3-bad-lines grep -q " 3 bad lines" "$tmp/kbd.log"
grep -a "updates accepted" "$tmp/kbd.log" "$tmp/touch.log" | sed "s|$tmp/||; s/^/  /"
echo "run-guest-input: $pass passed, $fail failed, $skipped skipped, guest ran ${secs}s"
if [ $status != 0 ]; then
	echo "--- guest console (last 40 lines) ---"
	tail -n 40 "$tmp/clean"
	tail -n 5 "$tmp/qemu.log"
	cat "$tmp/host.log"
	tail -n 5 "$tmp/kbd.log" "$tmp/touch.log"
fi
exit $status
