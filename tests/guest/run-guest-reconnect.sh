#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A back-end that dies: Debian's kernel under QEMU (software emulation,
# never KVM) with one virtio-blk disk served by our vhost-user-blk, which
# this script kills with SIGKILL at random moments (--kills times, 20 by
# default) and starts again on the same socket; QEMU reconnects
# (-chardev socket,...,reconnect-ms=N) and hands the new daemon the
# inflight region the old one kept its log in (INFLIGHT_SHMFD), so the
# requests the dead one had taken are completed by the new one.
#
# The guest (scenario blk-reconnect) rewrites and verifies files with
# O_DIRECT and fsync the whole time. Each cycle waits for states, never
# for a time: guest progress since the last restart (the device works
# again), the start of the guest's next writes, then a random delay of
# 0..90 ms picks the moment of the kill (it synchronises nothing), SIGKILL, the daemon reaped, a new daemon
# listening, QEMU connected to it. After the last cycle and more guest
# progress the host tells the guest to stop (a line on its /dev/ttyS1).
#
# Pass: every guest check (no I/O error, no mismatch, kernel log clean,
# fsck), the files in the image are what the guest last wrote and
# verified (debugfs, sha256), the host's e2fsck of the image is clean,
# the daemon was killed --kills times, no restart found an inconsistent
# inflight region, and the last daemon exits cleanly on SIGTERM. How many
# restarts found requests in flight (and completed them) is reported.
#
# usage: run-guest-reconnect.sh --daemon PATH [--packed] [--kills N]
#                               [--timeout SEC] [--keep]
# Exit: 0 all checks passed; 1 a check failed; 77 skipped (no QEMU here).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
packed=0 daemon=${VDEV_BLK_DAEMON:-} kills=20 timeout=3600 keep=0
while [ $# -gt 0 ]; do
	case "$1" in
	--packed) packed=1 ;;
	--daemon) daemon=$2; shift ;;
	--kills) kills=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--keep) keep=1 ;;
	*) echo "run-guest-reconnect: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$daemon" ] || { echo "run-guest-reconnect: --daemon PATH to vhost-user-blk is required" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (tests/guest/setup-host.sh installs it)"
command -v debugfs >/dev/null || skip "debugfs (e2fsprogs) not installed on the host"
command -v python3 >/dev/null || skip "python3 not installed on the host"

guest=$("$here/build-guest.sh") || { echo "run-guest-reconnect: building the guest failed"; exit 1; }
kernel=$(echo "$guest" | sed -n 's/^KERNEL=//p')
initrd=$(echo "$guest" | sed -n 's/^INITRD=//p')

tmp=$(mktemp -d /tmp/vdev-reconnect.XXXXXX)
dpid="" qpid=""
cleanup() {
	[ -n "$dpid" ] && kill -9 "$dpid" 2>/dev/null
	[ -n "$qpid" ] && kill -9 "$qpid" 2>/dev/null
	[ "$keep" = 1 ] && echo "run-guest-reconnect: kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

pass=0 fail=0 skipped=0 status=0
console="$tmp/console.log"
clean() { tr -d '\r' 2>/dev/null <"$console"; }
# the guest's last progress round (0 before the first)
progress() { clean | sed -n 's/^VDEV-PROGRESS \([0-9]*\)$/\1/p' | tail -n 1 | grep . || echo 0; }
progressed_past() { [ "$(progress)" -gt "$1" ]; }
writing_past() { [ "$(clean | sed -n 's/^VDEV-WRITING \([0-9]*\)$/\1/p' | tail -n 1 | grep . || echo 0)" -gt "$1" ]; }
# until STATE-COMMAND succeeds, QEMU dies or SECS pass (a deadline, not a delay)
wait_state() {
	local secs=$1 t0
	shift
	t0=$(date +%s)
	until "$@"; do
		kill -0 "$qpid" 2>/dev/null || return 1
		[ $(($(date +%s) - t0)) -ge "$secs" ] && return 1
		sleep 0.05
	done
}

truncate -s 256M "$tmp/vda.img"
n=0 # daemon instances
start_daemon() {
	n=$((n + 1))
	"$daemon" --socket-path="$tmp/vda.sock" --blk-file="$tmp/vda.img" --serial=vdev-reconnect \
		--stats >"$tmp/daemon.$n.log" 2>&1 &
	dpid=$!
}
listening() { grep -q "^vhost-user-blk: serving" "$tmp/daemon.$n.log"; }
connected() { grep -q "^vhost-user-blk: front-end connected" "$tmp/daemon.$n.log"; }
start_daemon
wait_state_nq() { # before QEMU runs
	local t0
	t0=$(date +%s)
	until listening; do
		kill -0 "$dpid" 2>/dev/null || return 1
		[ $(($(date +%s) - t0)) -ge 120 ] && return 1
		sleep 0.05
	done
}
wait_state_nq || { echo "run-guest-reconnect: the daemon did not start"; cat "$tmp/daemon.1.log"; exit 1; }

dev_opts=""
[ "$packed" = 1 ] && dev_opts=",packed=on"
t_start=$(date +%s)
timeout "$timeout" qemu-system-x86_64 -accel tcg -cpu max -m 512M -smp 1 \
	-object memory-backend-memfd,id=mem,size=512M,share=on -machine q35,memory-backend=mem \
	-nodefaults -display none -serial "file:$console" -no-reboot \
	-chardev socket,id=ctl,path="$tmp/ctl.sock",server=on,wait=off -device isa-serial,chardev=ctl \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 quiet vdev.scenarios=blk-reconnect vdev.disk=vda" \
	-chardev socket,id=vda,path="$tmp/vda.sock",reconnect-ms=100 \
	-device "vhost-user-blk-pci,chardev=vda$dev_opts" >"$tmp/qemu.log" 2>&1 &
qpid=$!

# ---- kill and restart ----------------------------------------------------------------
killed=0 last=0
while [ $killed -lt "$kills" ]; do
	# the device works (again): the guest verified a round since the last restart
	# (the first wait includes the guest's boot; deadlines are generous:
	# TCG on a busy machine is slow, and they only bound a failure)
	if ! wait_state $([ $killed = 0 ] && echo 1800 || echo 900) progressed_past "$last"; then
		echo "FAIL host/progress-after-restart-$killed (last round $last)"
		status=1
		break
	fi
	# aim at I/O: the next round's writes have started; then a random
	# delay of 0..9 ms picks the moment (it synchronises nothing)
	wait_state 900 writing_past "$(progress)" || true
	sleep "0.00$((RANDOM % 10))"
	kill -9 "$dpid"
	wait "$dpid" 2>/dev/null
	killed=$((killed + 1))
	last=$(progress)
	start_daemon
	if ! wait_state 120 listening || ! wait_state 300 connected; then
		echo "FAIL host/reconnect-$killed (daemon listening: $(listening && echo yes || echo no))"
		status=1
		break
	fi
done
echo "run-guest-reconnect: killed the daemon $killed times"
[ "$killed" = "$kills" ] && { echo "PASS host/killed-$kills-times"; pass=$((pass + 1)); } ||
	{ echo "FAIL host/killed-$kills-times"; fail=$((fail + 1)); status=1; }

# more progress after the last restart, then tell the guest to stop
if [ $status = 0 ]; then
	last=$(progress)
	wait_state 900 progressed_past "$last" ||
		{ echo "FAIL host/progress-after-the-last-restart"; status=1; }
fi
python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sys.argv[1]); s.sendall(b"stop\n"); s.close()' \
	"$tmp/ctl.sock" 2>>"$tmp/qemu.log"
wait "$qpid"
qrc=$?
qpid=""
secs=$(($(date +%s) - t_start))
[ $qrc = 124 ] && { echo "FAIL the guest did not finish within ${timeout}s"; status=1; }

# ---- results ---------------------------------------------------------------------------
clean >"$tmp/clean.log"
guest_results "$tmp/clean.log" blk-reconnect
info() { grep -a "^VDEV-INFO $1 " "$tmp/clean.log" | awk '{print $3}' | head -n1; }
for f in 0 1 2 3; do
	want=$(info blk-reconnect/f$f-sha256)
	debugfs -R "dump /f$f $tmp/f$f.out" "$tmp/vda.img" >/dev/null 2>&1
	hc "f$f-in-the-image" sh -c "[ -n '$want' ] && [ \"\$(sha256sum '$tmp/f$f.out' | cut -d' ' -f1)\" = '$want' ]"
done
hc image-fsck-clean e2fsck -fn "$tmp/vda.img"
resumed=$(cat "$tmp"/daemon.*.log | grep -c "requests in flight before the restart, submitted again")
requests=$(cat "$tmp"/daemon.*.log | sed -n 's/.*: \([0-9]*\) requests in flight before the restart.*/\1/p' |
	awk '{s += $1} END {print s + 0}')
echo "run-guest-reconnect: $resumed of $killed restarts found requests in flight ($requests requests completed by the next daemon)"
# How many kills caught requests inside the daemon is chance (they spend
# microseconds there); vhost_user_blk_kill_inflight makes sure of it.
hc no-inflight-inconsistencies sh -c "! grep -q 'inconsistencies in the inflight region' '$tmp'/daemon.*.log"
# every ring logged (a packed one too): none left untracked
hc rings-tracked sh -c "! grep -q 'not covered by the inflight region' '$tmp'/daemon.*.log"
kill -TERM "$dpid" 2>/dev/null
if wait "$dpid"; then
	echo "PASS host/daemon-clean-exit"
	pass=$((pass + 1))
else
	echo "FAIL host/daemon-clean-exit"
	fail=$((fail + 1))
	status=1
fi
dpid=""

layout=split
[ "$packed" = 1 ] && layout=packed
echo "run-guest-reconnect: ring=$layout: $pass passed, $fail failed, $skipped skipped, rounds $(info blk-reconnect/rounds), guest ran ${secs}s"
if [ $status != 0 ]; then
	echo "--- console (last 40 lines) ---"
	tail -n 40 "$tmp/clean.log"
	echo "--- qemu.log ---"
	tail -n 20 "$tmp/qemu.log"
	echo "--- last daemon log ---"
	tail -n 20 "$tmp/daemon.$n.log"
fi
exit $status
