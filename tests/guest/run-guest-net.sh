#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# virtio-net in a real guest: Debian's kernel under QEMU (software
# emulation, never KVM) with our vhost-user-net daemon behind QEMU's
# vhost-user netdev. QEMU keeps the config space and the control queue
# (QEMU 10 cannot create its generic vhost-user-device-pci from the
# command line), our daemon runs the data queues and the packet backends.
#
#   basic  one guest on a TAP interface inside a network namespace of our
#          own (the host end 10.77.0.1): MAC and features, ping over the
#          TAP, a guest MAC change, ping again.
#   pair   two guests, each on a port of vdev-switch: they ping each other
#          and move 64 MiB over TCP; the host compares the checksums.
#
# usage: run-guest-net.sh --daemon PATH --switch PATH [--packed] [--test basic|pair]
#                         [--timeout SEC] [--keep] [--demo]
# Exit: 0 all checks passed; 1 a check failed, was missing or unparsable;
# 77 skipped (QEMU or network namespaces unavailable; the reason is printed).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
packed=0 daemon="" switch="" test=basic timeout=600 keep=0 demo=0
while [ $# -gt 0 ]; do
	case "$1" in
	--packed) packed=1 ;;
	--daemon) daemon=$2; shift ;;
	--switch) switch=$2; shift ;;
	--test) test=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--keep) keep=1 ;;
	--demo) demo=1 ;;
	*) echo "run-guest-net: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$daemon" ] && [ -x "$switch" ] || { echo "run-guest-net: --daemon and --switch are required" >&2; exit 2; }
case "$test" in basic | pair) ;; *) echo "run-guest-net: --test basic|pair" >&2; exit 2 ;; esac
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (tests/guest/setup-host.sh installs it)"
if [ "$test" = basic ]; then
	command -v ip >/dev/null || skip "ip (iproute2) not installed"
	[ "$(id -u)" = 0 ] || skip "creating a network namespace and a TAP needs root"
	[ -c /dev/net/tun ] || skip "/dev/net/tun is missing"
fi

guest=$("$here/build-guest.sh") || { echo "run-guest-net: building the guest failed"; exit 1; }
kernel=$(echo "$guest" | sed -n 's/^KERNEL=//p')
initrd=$(echo "$guest" | sed -n 's/^INITRD=//p')

tmp=$(mktemp -d /tmp/vdev-net.XXXXXX)
ns=vdev-test-$$
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	ip netns del "$ns" 2>/dev/null
	[ "$keep" = 1 ] && echo "run-guest-net: kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
dev_opts=""
[ "$packed" = 1 ] && dev_opts=",packed=on"
nic() { # nic NAME: the QEMU options of a NIC served at $tmp/NAME.sock
	echo "-chardev socket,id=$1,path=$tmp/$1.sock"
	echo "-netdev vhost-user,id=nd$1,chardev=$1"
	echo "-device virtio-net-pci,netdev=nd$1,mac=${macs[$1]}$dev_opts"
}
# guest NAME SCENARIOS APPEND NICS...: boot one guest in the background
qpids=()
declare -A macs=([a]=52:54:00:00:00:a1 [n1]=52:54:00:00:01:01 [n2]=52:54:00:00:01:02)
guest() {
	local name=$1 scen=$2 app=$3
	shift 3
	local devs=()
	for n in "$@"; do
		# shellcheck disable=SC2207
		devs+=($(nic "$n"))
	done
	timeout "$timeout" qemu-system-x86_64 -accel tcg -cpu max -m 512M -smp 1 \
		-object memory-backend-memfd,id=mem,size=512M,share=on -machine q35,memory-backend=mem \
		-nodefaults -display none -serial "file:$tmp/$name.console" -no-reboot \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 quiet vdev.scenarios=$scen $app" \
		"${devs[@]}" >"$tmp/$name.qemu.log" 2>&1 &
	qpids+=($!)
}

"$switch" --socket-path="$tmp/switch.sock" --stats >"$tmp/switch.log" 2>&1 &
pids+=($!)
wait_socket "$tmp/switch.sock" || exit 1
guests=()
if [ "$test" = basic ]; then
	ip netns add "$ns" || skip "cannot create a network namespace"
	ip netns exec "$ns" ip link set lo up
	ip netns exec "$ns" "$daemon" --socket-path="$tmp/a.sock" --tap=vdevtap0 \
		--mac=${macs[a]} --stats >"$tmp/a.daemon.log" 2>&1 &
	pids+=($!)
	wait_socket "$tmp/a.sock" || exit 1
	ip netns exec "$ns" ip addr add 10.77.0.1/24 dev vdevtap0 &&
		ip netns exec "$ns" ip link set vdevtap0 up || { echo "FAIL host/tap-setup"; exit 1; }
	guest g1 net-basic "vdev.net.a.mac=${macs[a]} vdev.net.a.guest=10.77.0.2 vdev.net.a.host=10.77.0.1" a
	guests=(g1)
else
	for g in 1 2; do
		"$daemon" --socket-path="$tmp/n$g.sock" --switch="$tmp/switch.sock" \
			--mac=${macs[n$g]} --stats >"$tmp/n$g.daemon.log" 2>&1 &
		pids+=($!)
		wait_socket "$tmp/n$g.sock" || exit 1
	done
	guest g1 net-peer "vdev.net.a.mac=52:54:00:00:01:01 vdev.net.ip=10.78.0.1 vdev.net.peer=10.78.0.2 vdev.net.role=listen" n1
	guest g2 net-peer "vdev.net.a.mac=52:54:00:00:01:02 vdev.net.ip=10.78.0.2 vdev.net.peer=10.78.0.1 vdev.net.role=send" n2
	guests=(g1 g2)
fi
start=$(date +%s)
status=0
for i in "${!qpids[@]}"; do
	wait "${qpids[$i]}"
	rc=$?
	if [ $rc = 124 ]; then
		echo "FAIL ${guests[$i]}: the guest did not finish within ${timeout}s"
		status=1
	fi
done
secs=$(($(date +%s) - start))

# ---- results (as run-guest.sh: strict; a skip with our daemon is a gap) ----
pass=0 fail=0 skipped=0
for g in "${guests[@]}"; do
	tr -d '\r' <"$tmp/$g.console" >"$tmp/$g.clean" 2>/dev/null
	scen=net-basic
	[ "$test" = pair ] && scen=net-peer
	end=$(grep -a "^VDEV-SCENARIO-END $scen " "$tmp/$g.clean" | awk '{print $3}')
	got=$(grep -ac "^VDEV-RESULT $scen/" "$tmp/$g.clean")
	if [ -z "$end" ]; then
		echo "FAIL $g/$scen: scenario did not finish"
		status=1
	elif [ "$end" != "$got" ]; then
		echo "FAIL $g/$scen: $got result lines, the scenario reported $end checks"
		status=1
	fi
	while read -r _ name verdict reason; do
		case "$verdict" in
		PASS) pass=$((pass + 1)); echo "PASS $g/$name" ;;
		SKIP) skipped=$((skipped + 1)); echo "SKIP $g/$name ($reason)"; status=1 ;;
		*) fail=$((fail + 1)); echo "FAIL $g/$name $reason"; status=1 ;;
		esac
	done < <(grep -a "^VDEV-RESULT " "$tmp/$g.clean")
	grep -aq "^VDEV-DONE" "$tmp/$g.clean" || { echo "FAIL $g: the guest did not complete its run"; status=1; }
done
if [ "$test" = pair ]; then
	s1=$(grep -a "^VDEV-INFO net-peer/sha256 " "$tmp/g1.clean" | awk '{print $3}')
	s2=$(grep -a "^VDEV-INFO net-peer/sha256 " "$tmp/g2.clean" | awk '{print $3}')
	hc data-checksums-match test -n "$s1" -a "$s1" = "$s2"
fi
for i in "${!pids[@]}"; do
	kill -TERM "${pids[$i]}" 2>/dev/null
	if wait "${pids[$i]}"; then
		echo "PASS host/process-$i-clean-exit"
		pass=$((pass + 1))
	else
		echo "FAIL host/process-$i-clean-exit"
		fail=$((fail + 1))
		status=1
	fi
done
pids=()
if [ "$test" = basic ]; then
	# the daemon's own account (printed at exit): frames both ways
	hc daemon-moved-frames grep -Eq "tx [1-9][0-9]* frames.*rx [1-9][0-9]* frames" "$tmp/a.daemon.log"
fi
layout=split
[ "$packed" = 1 ] && layout=packed
if [ "$demo" = 1 ] || [ $status != 0 ]; then
	echo "--- what the guest saw and what each device did"
	for g in "${guests[@]}"; do
		grep -a "^VDEV-INFO" "$tmp/$g.clean" | sed "s/^VDEV-INFO /  $g: /"
	done
	for f in "$tmp"/*.daemon.log "$tmp/switch.log"; do
		[ -f "$f" ] && sed "s|$tmp/||; s/^/  /" "$f"
	done
fi
echo "run-guest-net: test=$test ring=$layout: $pass passed, $fail failed, $skipped skipped, guests ran ${secs}s"
if [ $status != 0 ]; then
	for g in "${guests[@]}"; do
		echo "--- $g console (last 30 lines) ---"
		tail -n 30 "$tmp/$g.clean"
		tail -n 5 "$tmp/$g.qemu.log"
	done
fi
exit $status
