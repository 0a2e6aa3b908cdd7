#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# virtio-gpu in a real guest: Debian's kernel under QEMU (software
# emulation, never KVM) with our vhost-user-gpu daemon behind QEMU's
# vhost-user-gpu-pci. QEMU keeps only num_scanouts and the event bits of
# the config space; our daemon runs both queues and every command, and
# draws through two sinks: its own image file (--png) and the
# vhost-user-gpu display channel into QEMU's console (for screendump).
#
# In the guest (scenarios gpu-edid, gpu-console, gpu-pattern): the DRM
# driver binds; the connector's EDID decodes to the mode, refresh and
# physical size given to the daemon; fbcon renders text; vdev-drm scans out
# a known pattern from a buffer with pitch width * 4 + 64. On the host, at
# each VDEV-SNAP line of the guest, the runner copies the daemon's file and
# takes a QMP screendump until they show what the guest holds on screen
# (the guest waits for the host's word on its second serial port); then it
# checks: the pattern pixel for pixel in
# both, the console not blank and changed by the text, both sinks showing
# the same console.
#
# usage: run-guest-gpu.sh --daemon PATH [--imgcheck PATH] [--timeout SEC]
#                         [--keep] [--demo] [--save-png FILE]
# (without --imgcheck, tests/guest/gpu-imgcheck.c is compiled here.)
# --save-png copies the guest's screen with the console text to FILE.
# Exit: 0 all checks passed; 1 a check failed, was missing or unparsable;
# 77 skipped (QEMU or python3 unavailable; the reason is printed).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
daemon="" imgcheck="" timeout=600 keep=0 demo=0 save_png=""
while [ $# -gt 0 ]; do
	case "$1" in
	--daemon) daemon=$2; shift ;;
	--imgcheck) imgcheck=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--keep) keep=1 ;;
	--demo) demo=1 ;;
	--save-png) save_png=$2; shift ;;
	*) echo "run-guest-gpu: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$daemon" ] || { echo "run-guest-gpu: --daemon is required" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (tests/guest/setup-host.sh installs it)"
qemu-system-x86_64 -device help 2>/dev/null | grep -q '"vhost-user-gpu-pci"' ||
	skip "this QEMU has no vhost-user-gpu-pci"
command -v python3 >/dev/null || skip "python3 (for QMP) not installed"

tmp=$(mktemp -d /tmp/vdev-gpu.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ "$keep" = 1 ] && echo "run-guest-gpu: kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
if [ -z "$imgcheck" ]; then
	imgcheck=$tmp/gpu-imgcheck
	# shellcheck disable=SC2046
	cc -O2 -DVDEV_HAVE_LIBPNG=1 -I"$here" $(pkg-config --cflags libpng 2>/dev/null) \
		-o "$imgcheck" "$here/gpu-imgcheck.c" $(pkg-config --libs libpng 2>/dev/null) ||
		{ echo "run-guest-gpu: cannot build gpu-imgcheck (libpng-dev?)"; exit 1; }
fi

guest=$("$here/build-guest.sh") || { echo "run-guest-gpu: building the guest failed"; exit 1; }
kernel=$(echo "$guest" | sed -n 's/^KERNEL=//p')
initrd=$(echo "$guest" | sed -n 's/^INITRD=//p')

# The display the daemon reports (EDID): 800x600 at 75 Hz, 32 x 24 cm.
W=800 H=600 HZ=75 WMM=320 HMM=240
"$daemon" --socket-path="$tmp/gpu.sock" --png="$tmp/screen.png" --interval-ms=100 \
	--width=$W --height=$H --refresh=$HZ --width-mm=$WMM --height-mm=$HMM \
	--stats >"$tmp/daemon.log" 2>&1 &
pids+=($!)
wait_socket "$tmp/gpu.sock" || exit 1

start=$(date +%s)
timeout "$timeout" qemu-system-x86_64 -accel tcg -cpu max -m 512M -smp 1 \
	-object memory-backend-memfd,id=mem,size=512M,share=on -machine q35,memory-backend=mem \
	-nodefaults -vga none -display none -serial "file:$tmp/console" -no-reboot \
	-qmp "unix:$tmp/qmp.sock,server=on,wait=off" \
	-chardev socket,id=ctl,path="$tmp/ctl.sock",server=on,wait=off -device isa-serial,chardev=ctl \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 quiet vdev.scenarios=gpu-edid,gpu-console,gpu-pattern vdev.gpu.mode=${W}x$H vdev.gpu.refresh=$HZ vdev.gpu.mm=${WMM}x$HMM" \
	-chardev socket,id=gpu,path="$tmp/gpu.sock" -device vhost-user-gpu-pci,chardev=gpu \
	>"$tmp/qemu.log" 2>&1 &
qpid=$!

# Screenshots at each VDEV-SNAP line: the daemon's file (rewritten every
# 100 ms after a change) and QEMU's screendump of what the display channel
# drew, taken again until they show what the guest holds on screen (both
# sinks the same frame; for the pattern, the pattern) or 120 s passed;
# then a line on the guest's second serial port lets it go on.
seen=" "
shown() { # shown NAME: the two screenshots of NAME agree with the guest
	case "$1" in
	pattern)
		"$imgcheck" pattern "$tmp/$1.png" $W $H && "$imgcheck" pattern "$tmp/$1.qemu.ppm" $W $H ;;
	console-after)
		"$imgcheck" nonblank "$tmp/$1.png" 5000 &&
			"$imgcheck" diff "$tmp/$1.png" "$tmp/$1.qemu.ppm" 0 0 ;;
	*) "$imgcheck" diff "$tmp/$1.png" "$tmp/$1.qemu.ppm" 0 0 ;;
	esac
}
snap() {
	local t0
	t0=$(date +%s)
	while :; do
		cp "$tmp/screen.png" "$tmp/$1.png" 2>/dev/null
		python3 "$here/qmp-screendump.py" "$tmp/qmp.sock" "$tmp/$1.qemu.ppm" 2>>"$tmp/qmp.log"
		shown "$1" >/dev/null 2>&1 && break
		[ $(($(date +%s) - t0)) -ge 120 ] && break
		sleep 0.3
	done
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sys.argv[1]); s.sendall(b"go\n"); s.close()' \
		"$tmp/ctl.sock" 2>>"$tmp/qmp.log"
}
while kill -0 "$qpid" 2>/dev/null; do
	for s in $(tr -d '\r' 2>/dev/null <"$tmp/console" | sed -n 's/^VDEV-SNAP \([a-z-]*\)$/\1/p'); do
		case "$seen" in *" $s "*) continue ;; esac
		seen="$seen$s "
		snap "$s"
	done
	sleep 0.2
done
wait "$qpid"
rc=$?
secs=$(($(date +%s) - start))
status=0
[ $rc = 124 ] && { echo "FAIL guest: did not finish within ${timeout}s"; status=1; }

# ---- results (strict: a skip with our daemon is a gap) ----
pass=0 fail=0 skipped=0
tr -d '\r' <"$tmp/console" >"$tmp/clean" 2>/dev/null
for scen in gpu-edid gpu-console gpu-pattern; do
	end=$(grep -a "^VDEV-SCENARIO-END $scen " "$tmp/clean" | awk '{print $3}')
	got=$(grep -ac "^VDEV-RESULT $scen/" "$tmp/clean")
	if [ -z "$end" ]; then
		echo "FAIL $scen: scenario did not finish"
		status=1
	elif [ "$end" != "$got" ]; then
		echo "FAIL $scen: $got result lines, the scenario reported $end checks"
		status=1
	fi
done
while read -r _ name verdict reason; do
	case "$verdict" in
	PASS) pass=$((pass + 1)); echo "PASS guest/$name" ;;
	SKIP) skipped=$((skipped + 1)); echo "SKIP guest/$name ($reason)"; status=1 ;;
	*) fail=$((fail + 1)); echo "FAIL guest/$name $reason"; status=1 ;;
	esac
done < <(grep -a "^VDEV-RESULT " "$tmp/clean")
grep -aq "^VDEV-DONE" "$tmp/clean" || { echo "FAIL guest: did not complete its run"; status=1; }

# host-side checks of the screenshots
hcv() { # hcv NAME CMD...: hc, and keep the tool's account for the log
	local n=$1
	shift
	"$@" >>"$tmp/imgcheck.log" 2>&1
	hc "$n" "$@"
}
hcv pattern-in-daemon-png "$imgcheck" pattern "$tmp/pattern.png" $W $H
hcv pattern-in-qemu-screendump "$imgcheck" pattern "$tmp/pattern.qemu.ppm" $W $H
# fbcon at 800x600 with an 8x16 font: 12 lines of ~80 characters of text
hcv console-text-not-blank "$imgcheck" nonblank "$tmp/console-after.png" 5000
hcv console-text-changed-the-screen "$imgcheck" diff "$tmp/console-before.png" "$tmp/console-after.png" 5000 $((W * H))
hcv console-same-in-both-sinks "$imgcheck" diff "$tmp/console-after.png" "$tmp/console-after.qemu.ppm" 0 0
kill -TERM "${pids[0]}" 2>/dev/null
# the daemon exits on SIGTERM; one that does not within 60 s fails
for _ in $(seq 300); do kill -0 "${pids[0]}" 2>/dev/null || break; sleep 0.2; done
kill -0 "${pids[0]}" 2>/dev/null && { echo "run-guest-gpu: the daemon ignored SIGTERM"; kill -9 "${pids[0]}"; }
if wait "${pids[0]}"; then
	echo "PASS host/daemon-clean-exit"
	pass=$((pass + 1))
else
	echo "FAIL host/daemon-clean-exit"
	fail=$((fail + 1))
	status=1
fi
pids=()
hc daemon-flushed-and-wrote grep -Eq "[1-9][0-9]* flushes.*[1-9][0-9]* updates.*[1-9][0-9]* writes" "$tmp/daemon.log"
[ -n "$save_png" ] && cp "$tmp/console-after.png" "$save_png" 2>/dev/null &&
	echo "run-guest-gpu: the guest's console screen is in $save_png"
if [ "$demo" = 1 ] || [ $status != 0 ]; then
	echo "--- what the guest saw and what the device did"
	grep -a "^VDEV-INFO" "$tmp/clean" | sed "s/^VDEV-INFO /  guest: /"
	sed "s|$tmp/||g; s/^/  /" "$tmp/daemon.log" "$tmp/imgcheck.log"
fi
echo "run-guest-gpu: $pass passed, $fail failed, $skipped skipped, guest ran ${secs}s"
if [ $status != 0 ]; then
	echo "--- console (last 30 lines) ---"
	tail -n 30 "$tmp/clean"
	tail -n 5 "$tmp/qemu.log" "$tmp/qmp.log" 2>/dev/null
fi
exit $status
