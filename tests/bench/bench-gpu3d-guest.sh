#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Frame rate of a real 3D guest client: Debian's kmscube in the guest_gpu3d
# guest (Debian's kernel and Mesa's virgl driver under QEMU with TCG) on
# our vhost-user-gpu --virgl-software (virglrenderer on llvmpipe), QEMU
# pinned to CPU 0 and the daemon to CPU 1. Each run boots the guest, draws
# FRAMES frames and reports kmscube's rate and the CPU time our daemon and
# QEMU spent on them; the medians of RUNS runs (>= 5) are printed.
#
# Everything here is software: the guest's CPU is emulated (TCG) and the
# host renders with llvmpipe, so the rate says what this rig does, not
# what a GPU would; the daemon's CPU time per frame is llvmpipe's rendering
# plus our device model plus the read-back of each flushed frame.
#
# usage: bench-gpu3d-guest.sh --daemon PATH [--runs N] [--frames N]
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
daemon="" runs=5 frames=300
while [ $# -gt 0 ]; do
	case "$1" in
	--daemon) daemon=$2; shift ;;
	--runs) runs=$2; shift ;;
	--frames) frames=$2; shift ;;
	*) echo "bench-gpu3d-guest: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$daemon" ] || { echo "bench-gpu3d-guest: --daemon is required" >&2; exit 2; }
[ "$runs" -ge 5 ] || { echo "bench-gpu3d-guest: at least 5 runs" >&2; exit 2; }

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

fps=() dms=() qms=()
for i in $(seq "$runs"); do
	out=$(VDEV_PIN=1 "$here/../guest/run-guest-gpu3d.sh" --daemon "$daemon" --cube-frames "$frames" 2>&1)
	line=$(echo "$out" | grep -a '^run-guest-gpu3d: fps: ')
	if [ -z "$line" ]; then
		echo "$out" | tail -n 30
		echo "bench-gpu3d-guest: run $i gave no rate"
		exit 1
	fi
	echo "run $i: ${line#run-guest-gpu3d: fps: }"
	# "<F> frames in <S> s: <R> fps; daemon <D> ms CPU, QEMU <Q> ms CPU for <N> frames"
	f=$(echo "$line" | sed -n 's/.*fps: \([0-9]*\) frames in .*/\1/p')
	fps+=("$(echo "$line" | sed -n 's/.* s: \([0-9.]*\) fps;.*/\1/p')")
	d=$(echo "$line" | sed -n 's/.*daemon \([0-9]*\) ms CPU.*/\1/p')
	q=$(echo "$line" | sed -n 's/.*QEMU \([0-9]*\) ms CPU.*/\1/p')
	dms+=("$(awk -v d="$d" -v n="$frames" 'BEGIN {printf "%.2f", d / n}')")
	qms+=("$(awk -v d="$q" -v n="$frames" 'BEGIN {printf "%.2f", d / n}')")
	[ -n "$f" ] || { echo "bench-gpu3d-guest: cannot parse: $line"; exit 1; }
done
echo "kmscube in the guest, $frames frames, median of $runs runs:" \
	"$(printf '%s\n' "${fps[@]}" | median) fps;" \
	"CPU per frame: daemon $(printf '%s\n' "${dms[@]}" | median) ms," \
	"QEMU $(printf '%s\n' "${qms[@]}" | median) ms"
