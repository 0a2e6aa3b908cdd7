#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# virtio-console in a real guest: the UML rig's kernel (build-kernel.sh)
# with our vhost-user-console serving the whole device as a PCI function
# of transports/pci (--pcidev=pci, virtio_uml.device=<socket>:4660):
# Linux's virtio_pci and virtio_console drive it, MULTIPORT with three
# ports. console-host.py plays the host end of each port's Unix socket:
#
#   console-pci    the function, its driver, features, MSI-X vectors
#   console-ports  hvc0 for port 0; the named ports with their names
#                  (/dev/virtio-ports/<name>)
#   console-hvc    a shell on hvc0 driven from the host socket: the host
#                  waits for its prompt, runs commands, checks the output
#   console-data   a line each way on a named port
#   console-bulk   16 MiB each way on a named port, SHA-256 compared
#
# With --single the device offers port 0 alone (--no-multiport): no
# control queues, Linux makes port 0 hvc0 by itself; console-single and
# console-hvc run.
#
# usage: run-uml-console.sh --daemon PATH [--ring split|packed] [--single]
#                           [--timeout SEC] [--keep] [--demo]
# Exit: 0 all checks passed; 1 a check failed or was missing; 77 skipped
# (the reason is printed).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
guestdir=$(cd "$here/../guest" && pwd)
# shellcheck source=../guest/lib.sh
. "$guestdir/lib.sh"
daemon="" ring=split timeout=600 keep=0 demo=0 single=0
while [ $# -gt 0 ]; do
	case "$1" in
	--daemon) daemon=$2; shift ;;
	--ring) ring=$2; shift ;;
	--single) single=1 ;;
	--timeout) timeout=$2; shift ;;
	--keep) keep=1 ;;
	--demo) demo=1 ;;
	*) echo "run-uml-console: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$daemon" ] || { echo "run-uml-console: --daemon is required" >&2; exit 2; }
case "$ring" in split | packed) ;; *) echo "run-uml-console: --ring split|packed" >&2; exit 2 ;; esac
[ -f /usr/src/linux-source-6.1.tar.xz ] ||
	skip "linux-source-6.1 not installed (scripts/test.sh installs it)"
for t in gcc make flex bison bc cpio; do
	command -v $t >/dev/null || skip "$t not installed (scripts/test.sh installs it)"
done
command -v python3 >/dev/null || skip "python3 not installed (the host side of the scenarios)"

kout=$("$here/build-kernel.sh") || { echo "FAIL host/uml-kernel-build"; exit 1; }
uml=$(echo "$kout" | sed -n 's/^UML=//p')
guest=$("$guestdir/build-guest.sh") || { echo "run-uml-console: building the guest userland failed"; exit 1; }
initrd=$(echo "$guest" | sed -n 's/^INITRD=//p')

tmp=$(mktemp -d /tmp/vdev-console.XXXXXX)
pids=() hostpid=""
cleanup() {
	uml_kill "initrd=$tmp/"
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "$hostpid" ] && kill -9 "$hostpid" 2>/dev/null
	[ "$keep" = 1 ] && echo "run-uml-console: kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

# the initramfs: the test guest's userland, no modules to load (the
# drivers are built in), and our scenarios
mkdir -p "$tmp/over/lib/modules" "$tmp/over/scenarios"
: >"$tmp/over/lib/modules/load-order"
cp "$here"/scenarios/console-*.sh "$tmp/over/scenarios/"
(cat "$initrd" && cd "$tmp/over" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) \
	>"$tmp/initrd.gz"

DATA=org.libvdev.data BULK=org.libvdev.bulk
ringopt=()
[ "$ring" = split ] && ringopt=(--no-packed)
portopt=(--port="$DATA=$tmp/data.sock" --port="$BULK=$tmp/bulk.sock")
[ "$single" = 1 ] && portopt=(--no-multiport)
"$daemon" --socket-path="$tmp/con.sock" --pcidev=pci "${ringopt[@]}" --stats --size=100x40 \
	--console="$tmp/hvc0.sock" "${portopt[@]}" >"$tmp/daemon.log" 2>&1 &
pids+=($!)
wait_socket "$tmp/con.sock" || exit 1
head -c 16777216 /dev/urandom >"$tmp/h2g.bin"
h2g_sha=$(sha256sum "$tmp/h2g.bin" | cut -d' ' -f1)
if [ "$single" = 1 ]; then
	python3 "$here/console-host.py" "$tmp/hvc0.sock" - - - "$timeout" >"$tmp/host.log" 2>&1 &
else
	python3 "$here/console-host.py" "$tmp/hvc0.sock" "$tmp/data.sock" "$tmp/bulk.sock" \
		"$tmp/h2g.bin" "$timeout" >"$tmp/host.log" 2>&1 &
fi
hostpid=$!

scenarios=console-pci,console-ports,console-hvc,console-data,console-bulk
nports=3
[ "$single" = 1 ] && scenarios=console-single,console-hvc nports=1
start=$(date +%s)
log=$tmp/console.log
setsid timeout -s KILL "$timeout" "$uml" mem=512M initrd="$tmp/initrd.gz" \
	virtio_uml.device="$tmp/con.sock:4660" con=null ssl=null con0=fd:0,fd:1 quiet \
	vdev.scenarios=$scenarios vdev.ring=$ring vdev.console.ports=$nports \
	vdev.console.names=$DATA,$BULK vdev.console.data=$DATA vdev.console.bulk=$BULK \
	</dev/null >"$log" 2>&1 &
uml_wait_done "$log" $! "initrd=$tmp/"
urc=$?
secs=$(($(date +%s) - start))

# ---- results ----------------------------------------------------------------------
status=0 pass=0 fail=0 skipped=0
[ $urc = 137 ] && { echo "FAIL the guest did not finish within ${timeout}s"; status=1; }
tr -d '\r' <"$log" >"$tmp/clean.log"
guest_results "$tmp/clean.log" "$scenarios" guest/
# the host side printed its results before the guest could go on; it
# waits on its sockets for a guest that is gone now
kill "$hostpid" 2>/dev/null
wait "$hostpid" 2>/dev/null
hostpid=""
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
wants="hvc-prompt hvc-command-output hvc-second-command"
[ "$single" = 1 ] || wants="$wants data-guest-to-host-line bulk-h2g-sent bulk-g2h-16-mib"
for want in $wants; do
	grep -aqE "^(PASS|FAIL) host/$want( |\$)" "$tmp/host.log" ||
		{ echo "FAIL host/$want: no result"; status=1; fail=$((fail + 1)); }
done
if [ "$single" = 0 ]; then
	g=$(grep -a "^VDEV-INFO console-bulk/h2g-sha256 " "$tmp/clean.log" | awk '{print $3}')
	hc h2g-checksums-match test -n "$g" -a "$g" = "$h2g_sha"
	g=$(grep -a "^VDEV-INFO console-bulk/g2h-sha256 " "$tmp/clean.log" | awk '{print $3}')
	h=$(grep -a "^HOST-INFO g2h-sha256 " "$tmp/host.log" | awk '{print $3}')
	hc g2h-checksums-match test -n "$g" -a "$g" = "$h"
fi
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
if [ "$demo" = 1 ] || [ $status != 0 ]; then
	echo "--- what the guest saw and what the device did"
	grep -a "^VDEV-INFO" "$tmp/clean.log" | sed 's/^VDEV-INFO /  guest: /'
	grep -a "^HOST-INFO" "$tmp/host.log" | sed 's/^HOST-INFO /  host: /'
	sed "s|$tmp/||g; s/^/  /" "$tmp/daemon.log"
fi
if [ $status != 0 ]; then
	echo "--- guest console (last 40 lines) ---"
	tail -n 40 "$tmp/clean.log"
	grep -av "^PASS" "$tmp/host.log" | tail -n 10
fi
echo "run-uml-console: ring=$ring$([ "$single" = 1 ] && echo ", port 0 only"): $pass passed, $fail failed, $skipped skipped, guest ran ${secs}s"
exit $status
