#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# virtio-rng in a real guest: Debian's kernel under QEMU (software
# emulation, never KVM) with our vhost-user-rng daemon behind QEMU's
# vhost-user-rng-pci, serving a known stream (--source, 1 MiB of seeded
# pseudo-random bytes) and logging every answer. The guest (scenario
# rng-hwrng) checks that rng_current names virtio_rng and reads 2048
# bytes from /dev/hwrng; the host then checks those bytes are pieces of
# the stream the daemon served, in order (the kernel's hwrng thread takes
# some answers, and a few of the driver's buffered bytes, for itself), and
# that the guest's SHA-256 is that of those pieces. With --rate the daemon
# is rate-limited: buffers wait for the token bucket (the device's
# asynchronous completion), and the bytes must still be the stream. (Not
# with short answers: Debian's 6.1 driver can stall on them, see
# examples/vhost-user-rng/main.c; vu_rng_check covers them.)
#
# usage: run-guest-rng.sh --daemon PATH [--rate BYTES] [--timeout SEC] [--keep]
# Exit: 0 all checks passed; 1 a check failed; 77 skipped (QEMU or python3
# unavailable; the reason is printed).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
daemon="" rate="" timeout=300 keep=0
while [ $# -gt 0 ]; do
	case "$1" in
	--daemon) daemon=$2; shift ;;
	--rate) rate=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--keep) keep=1 ;;
	*) echo "run-guest-rng: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$daemon" ] || { echo "run-guest-rng: --daemon is required" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (tests/guest/setup-host.sh installs it)"
qemu-system-x86_64 -device help 2>/dev/null | grep -q '"vhost-user-rng-pci"' ||
	skip "this QEMU has no vhost-user-rng-pci"
command -v python3 >/dev/null || skip "python3 not installed (the host-side check)"

guest=$("$here/build-guest.sh") || { echo "run-guest-rng: building the guest failed"; exit 1; }
kernel=$(echo "$guest" | sed -n 's/^KERNEL=//p')
initrd=$(echo "$guest" | sed -n 's/^INITRD=//p')

tmp=$(mktemp -d /tmp/vdev-rng.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ "$keep" = 1 ] && echo "run-guest-rng: kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

python3 -c 'import random, sys; r = random.Random(20261202); sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(1 << 20)))' >"$tmp/stream"
dopts=()
# the bucket then holds one of the driver's 64-byte buffers, so they wait
[ -n "$rate" ] && dopts=(--rate="$rate" --max-request=64)
"$daemon" --socket="$tmp/rng.sock" --source="$tmp/stream" --log-requests --stats "${dopts[@]}" \
	>"$tmp/daemon.log" 2>&1 &
pids+=($!)
wait_socket "$tmp/rng.sock" || exit 1

pass=0 fail=0 skipped=0 status=0
start=$(date +%s)
timeout "$timeout" qemu-system-x86_64 -accel tcg -cpu max -m 512M -smp 1 \
	-object memory-backend-memfd,id=mem,size=512M,share=on -machine q35,memory-backend=mem \
	-nodefaults -display none -serial "file:$tmp/console" -no-reboot \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 quiet vdev.scenarios=rng-hwrng" \
	-chardev socket,id=rng,path="$tmp/rng.sock" \
	-device vhost-user-rng-pci,chardev=rng >"$tmp/qemu.log" 2>&1
rc=$?
secs=$(($(date +%s) - start))
if [ $rc = 124 ]; then
	echo "FAIL guest: the guest did not finish within ${timeout}s"
	status=1
fi
tr -d '\r' <"$tmp/console" >"$tmp/clean" 2>/dev/null
guest_results "$tmp/clean" rng-hwrng guest/

# The guest's bytes against what the daemon served.
grep -a "^VDEV-INFO rng-hwrng/hwrng-hex " "$tmp/clean" | awk '{print $3}' >"$tmp/guest.hex"
grep -a "^VDEV-INFO rng-hwrng/hwrng-sha256 " "$tmp/clean" | awk '{print $3}' >"$tmp/guest.sha"
python3 - "$tmp/stream" "$tmp/daemon.log" "$tmp/guest.hex" "$tmp/guest.sha" >"$tmp/match.log" 2>&1 <<'PY'
import hashlib, sys
stream = open(sys.argv[1], "rb").read()
served = [tuple(map(int, l.split()[2:4])) for l in open(sys.argv[2], errors="replace")
          if l.startswith("rng: served ")]
g = bytes.fromhex(open(sys.argv[3]).read().strip() or "")
sha = open(sys.argv[4]).read().strip()
ok = True
def check(name, cond, why=""):
    global ok
    print(("PASS " if cond else "FAIL ") + "host/" + name + ("" if cond else " " + why))
    ok = ok and cond
# the daemon served the stream in order, from its start
pos = 0
contiguous = True
for off, n in served:
    contiguous = contiguous and off == pos
    pos += n
check("daemon-served-in-order", contiguous and len(served) > 0, f"{len(served)} answers")
print(f"HOST-INFO served {len(served)} answers, {pos} bytes")
s = stream[:pos]
check("guest-got-2048-bytes", len(g) == 2048, f"got {len(g)}")
check("guest-sha256-matches-its-bytes", hashlib.sha256(g).hexdigest() == sha)
# g must be pieces of s, in order: find each piece's start, extend it
i = j = pieces = 0
found = True
while i < len(g) and found:
    k = s.find(g[i:i + 16], j)
    if k < 0:
        found = False
        break
    j = k
    while i < len(g) and j < len(s) and g[i] == s[j]:
        i += 1
        j += 1
    pieces += 1
print(f"HOST-INFO guest bytes are {pieces} pieces of the stream")
check("hwrng-bytes-are-the-served-stream", found and len(g) > 0 and pieces <= 32,
      f"{i} of {len(g)} bytes matched in {pieces} pieces")
sys.exit(0 if ok else 1)
PY
while read -r verdict name reason; do
	case "$verdict" in
	PASS) pass=$((pass + 1)); echo "PASS $name" ;;
	FAIL) fail=$((fail + 1)); status=1; echo "FAIL $name $reason" ;;
	esac
done < <(grep -aE "^(PASS|FAIL) " "$tmp/match.log")
grep -q "^PASS host/hwrng-bytes-are-the-served-stream" "$tmp/match.log" ||
	{ echo "FAIL host/stream-check: no result"; cat "$tmp/match.log"; status=1; }
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
if [ -n "$rate" ]; then
	# "N requests, M bytes (S short answers, ...), ..., W waited for the rate limit"
	hc rate-limit-made-buffers-wait grep -Eq " [1-9][0-9]* waited for the rate limit" "$tmp/daemon.log"
fi
grep -a "^HOST-INFO" "$tmp/match.log" | sed "s/^HOST-INFO /  host: /"
grep -a "requests," "$tmp/daemon.log" | sed "s/^/  /"
echo "run-guest-rng: $pass passed, $fail failed, $skipped skipped, guest ran ${secs}s"
if [ $status != 0 ]; then
	echo "--- guest console (last 30 lines) ---"
	grep -av "hwrng-hex" "$tmp/clean" | tail -n 30
	tail -n 5 "$tmp/qemu.log"
	grep -v "^rng: served" "$tmp/daemon.log" | tail -n 10
fi
exit $status
