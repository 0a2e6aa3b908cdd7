#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# virtio-net with the whole device ours, in a real Linux guest: Debian's
# user-mode kernel (package user-mode-linux, 6.1, CONFIG_VIRTIO_UML) is a
# vhost-user front-end that hands the complete device to the back-end:
# config space over GET_CONFIG, every ring including the control queue.
# (QEMU keeps both to itself for vhost-user net, and its generic
# vhost-user-device-pci is not user-creatable.) So this is where the
# guest's driver meets our daemon's MAC, MTU and MAC-change policy.
#
# Per policy, a network namespace of our own with our vhost-user-net
# daemon on a TAP there (host end 10.79.0.1), started with --mac and
# --mtu (and --deny-mac-change for "deny"); one UML guest boots the
# test initramfs (build-guest.sh's userland with UML's own virtio_net
# modules laid over it) and runs scenarios/net-uml.sh: the interface has
# the daemon's MAC and MTU, pings the host, asks for a new MAC (accepted
# or refused by the daemon), pings again. The host checks the daemon's
# account of the MAC request, its control-queue counters and traffic.
#
# With --pcidev split|packed the guest is the UML rig's kernel instead
# (tests/uml/build-kernel.sh: PCI over virtio) and the daemon serves the
# device as a PCI function of our transports/pci (--pcidev=pci): Linux's
# virtio_pci drives it with MSI-X; scenario uml-net-pci then checks the
# PCI side and a link change raised by the daemon (SIGUSR1, on the
# guest's VDEV-REQ) through the configuration vector.
#
# usage: run-guest-uml-net.sh --daemon PATH [--policy allow|deny|both]
#                             [--pcidev split|packed]
#                             [--timeout SEC] [--keep] [--demo]
# Exit: 0 all checks passed; 1 a check failed or was missing; 77 skipped
# (user-mode-linux, root, network namespaces or /dev/net/tun unavailable;
# the reason is printed).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
daemon="" policies="allow deny" timeout=120 keep=0 demo=0 pcidev=""
while [ $# -gt 0 ]; do
	case "$1" in
	--daemon) daemon=$2; shift ;;
	--policy) case "$2" in allow | deny) policies=$2 ;; both) policies="allow deny" ;;
		*) echo "run-guest-uml-net: --policy allow|deny|both" >&2; exit 2 ;; esac; shift ;;
	--timeout) timeout=$2; shift ;;
	--pcidev) pcidev=$2; shift ;;
	--keep) keep=1 ;;
	--demo) demo=1 ;;
	*) echo "run-guest-uml-net: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$daemon" ] || { echo "run-guest-uml-net: --daemon is required" >&2; exit 2; }
if [ -z "$pcidev" ]; then
	command -v linux.uml >/dev/null ||
		skip "linux.uml not installed (apt-get install user-mode-linux; tests/guest/setup-host.sh does)"
	uml=linux.uml
	kver=$(linux.uml --version 2>/dev/null | head -n1)
	umods=/usr/lib/uml/modules/$kver
	[ -f "$umods/modules.dep" ] || skip "UML modules for $kver missing in $umods"
else
	[ -f /usr/src/linux-source-6.1.tar.xz ] ||
		skip "linux-source-6.1 not installed (scripts/test.sh installs it)"
	kout=$("$here/../uml/build-kernel.sh") || { echo "FAIL host/uml-kernel-build"; exit 1; }
	uml=$(echo "$kout" | sed -n 's/^UML=//p')
	kver="the UML rig's kernel (PCI over virtio, ring $pcidev)"
fi
command -v ip >/dev/null || skip "ip (iproute2) not installed"
[ "$(id -u)" = 0 ] || skip "creating a network namespace and a TAP needs root"
[ -c /dev/net/tun ] || skip "/dev/net/tun is missing"

guest=$("$here/build-guest.sh") || { echo "run-guest-uml-net: building the guest failed"; exit 1; }
initrd=$(echo "$guest" | sed -n 's/^INITRD=//p')

tmp=$(mktemp -d /tmp/vdev-uml-net.XXXXXX)
ns=vdev-uml-$$
pids=() upids=()
cleanup() {
	# UML runs in a process group of its own (its helper processes too)
	for p in "${upids[@]}"; do kill -9 -- "-$p" 2>/dev/null; done
	uml_kill "initrd=$tmp/"
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	ip netns del "$ns" 2>/dev/null
	[ "$keep" = 1 ] && echo "run-guest-uml-net: kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

# ---- the UML initramfs: the test guest's, with UML's virtio_net laid over --------
# A second cpio archive after the first: the kernel unpacks both, so the
# guest's /init and userland stay and /lib/modules/load-order is ours.
over=$tmp/overlay
mkdir -p "$over/lib/modules/uml"
: >"$over/lib/modules/load-order"
if [ -z "$pcidev" ]; then
	dep=$(awk -v m="kernel/drivers/net/virtio_net.ko:" '$1 == m { for (i = NF; i >= 2; i--) print $i }' \
		"$umods/modules.dep")
	for rel in $dep kernel/drivers/net/virtio_net.ko; do
		cp "$umods/$rel" "$over/lib/modules/uml/" || { echo "FAIL host/uml-modules: $rel"; exit 1; }
		echo "uml/$(basename "$rel")" >>"$over/lib/modules/load-order"
	done
else # virtio_net is built in; the PCI scenario comes along
	mkdir -p "$over/scenarios"
	cp "$here/../uml/scenarios/uml-net-pci.sh" "$over/scenarios/"
fi
(cat "$initrd" && cd "$over" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) \
	>"$tmp/uml-initrd.gz"

mac=52:54:00:75:6d:01 mtu=1400 newmac=02:00:00:75:6d:99
start=$(date +%s)
status=0 pass=0 fail=0 skipped=0
for pol in $policies; do
	g=$pol
	ip netns add "$ns" || skip "cannot create a network namespace"
	ip netns exec "$ns" ip link set lo up
	extra=()
	[ "$pol" = deny ] && extra=(--deny-mac-change)
	slot="$tmp/$g.sock:1" scen=net-uml
	if [ -n "$pcidev" ]; then
		extra+=(--pcidev=pci --queue-pairs=2)
		[ "$pcidev" = split ] && extra+=(--no-packed)
		slot="$tmp/$g.sock:4660" scen=net-uml,uml-net-pci
	fi
	ip netns exec "$ns" "$daemon" --socket-path="$tmp/$g.sock" --tap=vdevtap0 --mac=$mac \
		--mtu=$mtu "${extra[@]}" --stats >"$tmp/$g.daemon.log" 2>&1 &
	dpid=$!
	pids+=("$dpid")
	wait_socket "$tmp/$g.sock" || exit 1
	ip netns exec "$ns" ip addr add 10.79.0.1/24 dev vdevtap0 &&
		ip netns exec "$ns" ip link set vdevtap0 up || { echo "FAIL host/tap-setup"; exit 1; }
	# UML: its console on stdout, every other console and serial line off
	setsid timeout -s KILL "$timeout" "$uml" mem=128M initrd="$tmp/uml-initrd.gz" \
		virtio_uml.device="$slot" con=null ssl=null con0=fd:0,fd:1 quiet \
		vdev.scenarios=$scen vdev.net.mac=$mac vdev.net.mtu=$mtu vdev.net.newmac=$newmac \
		vdev.net.policy=$pol vdev.net.guest=10.79.0.2 vdev.net.host=10.79.0.1 vdev.net.pairs=2 vdev.ring=$pcidev \
		</dev/null >"$tmp/$g.console" 2>&1 &
	upid=$!
	upids+=("$upid")
	# link changes the guest asks for (uml-net-pci): SIGUSR1 toggles it
	link_request() { kill -USR1 "$dpid"; }
	[ -n "$pcidev" ] && serve_requests "$tmp/$g.console" "$upid" link_request
	uml_wait_done "$tmp/$g.console" "$upid" "initrd=$tmp/"
	[ $? = 137 ] && { echo "FAIL $g: the guest did not finish within ${timeout}s"; status=1; }
	kill -9 -- "-$upid" 2>/dev/null # helpers left behind, if any
	kill -TERM "$dpid" 2>/dev/null
	if wait "$dpid"; then
		echo "PASS host/$g/daemon-clean-exit"
		pass=$((pass + 1))
	else
		echo "FAIL host/$g/daemon-clean-exit"
		fail=$((fail + 1))
		status=1
	fi
	ip netns del "$ns" 2>/dev/null

	# ---- the guest's results (strict: a skip is a gap) ----
	tr -d '\r' <"$tmp/$g.console" >"$tmp/$g.clean"
	guest_results "$tmp/$g.clean" "$scen" "$g/"

	# ---- the daemon's own account (its log, and its stats printed at exit) ----
	log=$tmp/$g.daemon.log
	verdict=allowed
	[ "$pol" = deny ] && verdict=denied
	hc "$g/daemon-saw-mac-request" grep -q "guest asks for MAC $newmac: $verdict" "$log"
	if [ "$pol" = deny ]; then
		hc "$g/daemon-counted-denial" grep -Eq "\(([1-9][0-9]*) denied by policy\)" "$log"
	else
		hc "$g/daemon-denied-nothing" grep -q "(0 denied by policy)" "$log"
	fi
	hc "$g/control-queue-served" grep -Eq "control [1-9][0-9]* ok" "$log"
	hc "$g/daemon-moved-frames" grep -Eq "tx [1-9][0-9]* frames.*rx [1-9][0-9]* frames" "$log"
	if [ "$demo" = 1 ] || [ $status != 0 ]; then
		echo "--- $g: what the guest saw and what the daemon did"
		grep -a "^VDEV-INFO" "$tmp/$g.clean" | sed "s/^VDEV-INFO /  /"
		sed "s|$tmp/||; s/^/  /" "$log"
	fi
	if [ $status != 0 ]; then
		echo "--- $g console (last 30 lines) ---"
		tail -n 30 "$tmp/$g.clean"
	fi
done
pids=() upids=()
secs=$(($(date +%s) - start))
echo "run-guest-uml-net: UML $kver, policies: $policies: $pass passed, $fail failed, $skipped skipped, ${secs}s"
exit $status
