#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# virtio-vsock in a real guest: Debian's kernel under QEMU (software
# emulation, never KVM) with our vhost-user-vsock daemon behind QEMU's
# vhost-user-vsock-pci (QEMU reads guest_cid from us with GET_CONFIG and
# keeps the event queue; we serve rx and tx). The host side is
# vsock-host.py on the daemon's Unix-socket bridge; the guest runs
#
#   vsock-connect    (a) socat VSOCK-CONNECT:2:5001 reaches <uds>_5001
#   vsock-listen     (b) a host "CONNECT 6001" reaches socat VSOCK-LISTEN:6001
#   vsock-bulk       (c) 64 MiB each way, SHA-256 compared host-side
#   vsock-seqpacket  (d) message boundaries both ways (vsock-seq, a static
#                        helper added to the initramfs as a second cpio)
#
# plus malformed CONNECT lines from the host, and a clean daemon exit.
#
# With --uml split|packed the guest is the UML rig's kernel instead
# (tests/uml/build-kernel.sh) and the daemon serves the device as a PCI
# function of our transports/pci (--pcidev=pci, virtio_uml.device=
# <socket>:4660): Linux's virtio_pci drives it with MSI-X, the whole
# device (config space, all three queues) ours.
#
# usage: run-guest-vsock.sh --daemon PATH --seq-helper PATH [--packed]
#                           [--uml split|packed]
#                           [--timeout SEC] [--keep] [--demo]
# Exit: 0 all checks passed; 1 a check failed, was missing or unparsable;
# 77 skipped (QEMU or python3 unavailable; the reason is printed).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
packed=0 daemon="" helper="" timeout=300 keep=0 demo=0 uml=""
while [ $# -gt 0 ]; do
	case "$1" in
	--packed) packed=1 ;;
	--uml) uml=$2; shift ;;
	--daemon) daemon=$2; shift ;;
	--seq-helper) helper=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--keep) keep=1 ;;
	--demo) demo=1 ;;
	*) echo "run-guest-vsock: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$daemon" ] && [ -x "$helper" ] || { echo "run-guest-vsock: --daemon and --seq-helper are required" >&2; exit 2; }
if [ -z "$uml" ]; then
	command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (tests/guest/setup-host.sh installs it)"
else
	[ -f /usr/src/linux-source-6.1.tar.xz ] ||
		skip "linux-source-6.1 not installed (scripts/test.sh installs it)"
	kout=$("$here/../uml/build-kernel.sh") || { echo "FAIL host/uml-kernel-build"; exit 1; }
	umlbin=$(echo "$kout" | sed -n 's/^UML=//p')
fi
command -v python3 >/dev/null || skip "python3 not installed (the host side of the scenarios)"
command -v cpio >/dev/null || skip "cpio not installed"

guest=$("$here/build-guest.sh") || { echo "run-guest-vsock: building the guest failed"; exit 1; }
kernel=$(echo "$guest" | sed -n 's/^KERNEL=//p')
initrd=$(echo "$guest" | sed -n 's/^INITRD=//p')

tmp=$(mktemp -d /tmp/vdev-vsock.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "$uml" ] && uml_kill "initrd=$tmp/"
	[ "$keep" = 1 ] && echo "run-guest-vsock: kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

# The seqpacket helper rides in a second cpio archive (Linux unpacks
# concatenated archives in order), so the cached guest stays as it is.
mkdir -p "$tmp/extra/usr/sbin"
cp "$helper" "$tmp/extra/usr/sbin/vsock-seq"
(cd "$tmp/extra" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$tmp/extra.gz"
cat "$initrd" "$tmp/extra.gz" >"$tmp/initrd.gz"

uds=$tmp/vm.vsock
dopts=()
[ -n "$uml" ] && dopts=(--pcidev=pci)
[ "$uml" = packed ] && packed=1
[ "$uml" = split ] && dopts+=(--no-packed)
"$daemon" --socket="$tmp/vs.sock" --guest-cid=3 --uds-path="$uds" --stats "${dopts[@]}" \
	>"$tmp/daemon.log" 2>&1 &
pids+=($!)
wait_socket "$tmp/vs.sock" || exit 1
python3 "$here/vsock-host.py" "$uds" "$tmp/host.ready" "$timeout" >"$tmp/host.log" 2>&1 &
hostpid=$!
for _ in $(seq 200); do [ -e "$tmp/host.ready" ] && break; sleep 0.05; done
[ -e "$tmp/host.ready" ] || { echo "FAIL host/start"; cat "$tmp/host.log"; exit 1; }

dev_opts=""
[ "$packed" = 1 ] && dev_opts=",packed=on"
start=$(date +%s)
status=0
if [ -n "$uml" ]; then
	# the initramfs's module list is for Debian's kernel: ours has them built in
	mkdir -p "$tmp/umlx/lib/modules" "$tmp/umlx/scenarios"
	: >"$tmp/umlx/lib/modules/load-order"
	cp "$here/../uml/scenarios/uml-vsock-pci.sh" "$tmp/umlx/scenarios/"
	(cd "$tmp/umlx" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >>"$tmp/initrd.gz"
	setsid timeout -s KILL "$timeout" "$umlbin" mem=512M initrd="$tmp/initrd.gz" \
		virtio_uml.device="$tmp/vs.sock:4660" con=null ssl=null con0=fd:0,fd:1 quiet vdev.ring=$uml \
		vdev.scenarios=uml-vsock-pci,vsock-connect,vsock-listen,vsock-bulk,vsock-seqpacket \
		</dev/null >"$tmp/console" 2>&1 &
	uml_wait_done "$tmp/console" $! "initrd=$tmp/"
	rc=$?
	[ $rc = 137 ] && rc=124
else
timeout "$timeout" qemu-system-x86_64 -accel tcg -cpu max -m 512M -smp 1 \
	-object memory-backend-memfd,id=mem,size=512M,share=on -machine q35,memory-backend=mem \
	-nodefaults -display none -serial "file:$tmp/console" -no-reboot \
	-kernel "$kernel" -initrd "$tmp/initrd.gz" \
	-append "console=ttyS0 quiet vdev.scenarios=vsock-connect,vsock-listen,vsock-bulk,vsock-seqpacket" \
	-chardev socket,id=vs,path="$tmp/vs.sock" \
	-device "vhost-user-vsock-pci,chardev=vs$dev_opts" >"$tmp/qemu.log" 2>&1
rc=$?
fi
if [ $rc = 124 ]; then
	echo "FAIL guest: the guest did not finish within ${timeout}s"
	status=1
fi
secs=$(($(date +%s) - start))
# the host side is done when the guest is (or it has timed out itself)
for _ in $(seq 100); do kill -0 $hostpid 2>/dev/null || break; sleep 0.1; done
kill $hostpid 2>/dev/null
wait $hostpid 2>/dev/null

# ---- results (as the other runners: strict; a skip is a gap) ----
pass=0 fail=0 skipped=0
tr -d '\r' <"$tmp/console" >"$tmp/clean" 2>/dev/null
for scen in ${uml:+uml-vsock-pci} vsock-connect vsock-listen vsock-bulk vsock-seqpacket; do
	end=$(grep -a "^VDEV-SCENARIO-END $scen " "$tmp/clean" | awk '{print $3}')
	got=$(grep -ac "^VDEV-RESULT $scen/" "$tmp/clean")
	if [ -z "$end" ]; then
		echo "FAIL guest/$scen: scenario did not finish"
		status=1
	elif [ "$end" != "$got" ]; then
		echo "FAIL guest/$scen: $got result lines, the scenario reported $end checks"
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
grep -aq "^VDEV-DONE" "$tmp/clean" || { echo "FAIL guest: the guest did not complete its run"; status=1; }
# the host side's own checks
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
for want in guest-connect-line connect-ok-port connect-line-closed g2h-64-mib h2g-sent \
	seq-guest-sizes seq-host-echoes connect-no-newline connect-bad-port connect-not-a-number \
	connect-bad-verb; do
	grep -aq "^PASS host/$want" "$tmp/host.log" || grep -aq "^FAIL host/$want" "$tmp/host.log" ||
		{ echo "FAIL host/$want: no result"; status=1; fail=$((fail + 1)); }
done
for dir in h2g g2h; do
	g=$(grep -a "^VDEV-INFO vsock-bulk/$dir-sha256 " "$tmp/clean" | awk '{print $3}')
	h=$(grep -a "^HOST-INFO $dir-sha256 " "$tmp/host.log" | awk '{print $3}')
	hc "$dir-checksums-match" test -n "$g" -a "$g" = "$h"
done
kill -TERM "${pids[0]}" 2>/dev/null
if wait "${pids[0]}"; then
	echo "PASS host/daemon-clean-exit"
	pass=$((pass + 1))
else
	echo "FAIL host/daemon-clean-exit"
	fail=$((fail + 1))
	status=1
fi
pids=()
hc daemon-bad-lines grep -q " 4 bad CONNECT lines" "$tmp/daemon.log"
layout=split
[ "$packed" = 1 ] && layout=packed
if [ "$demo" = 1 ] || [ $status != 0 ]; then
	echo "--- what the guest saw and what the device did"
	grep -a "^VDEV-INFO" "$tmp/clean" | sed "s/^VDEV-INFO /  guest: /"
	grep -a "^HOST-INFO" "$tmp/host.log" | sed "s/^HOST-INFO /  host: /"
	sed "s|$tmp/||g; s/^/  /" "$tmp/daemon.log"
fi
echo "run-guest-vsock: ring=$layout: $pass passed, $fail failed, $skipped skipped, guest ran ${secs}s"
if [ $status != 0 ]; then
	echo "--- guest console (last 30 lines) ---"
	tail -n 30 "$tmp/clean"
	tail -n 5 "$tmp/qemu.log"
	grep -av "^PASS" "$tmp/host.log" | tail -n 10
fi
exit $status
