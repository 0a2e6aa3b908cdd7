#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Instruction counts of the device halves of the benchmarks, ours beside the
# in-binary reference: valgrind's callgrind counts the instructions executed
# inside ours_section() and ref_section() (the timed parts of bench_vq,
# bench_blk and bench_net), which, unlike time, does not move with the load
# of the machine. Both sides process the same requests, so the ratio of the
# totals is the ratio per request. Uses the benchmark build of
# scripts/bench.sh ($VDEV_BENCH_BUILD, default build-bench; build it first).
#
# usage: scripts/bench-callgrind.sh
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${VDEV_BENCH_BUILD:-$src/build-bench}
bench=$build/tests/bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
command -v valgrind >/dev/null || { echo "SKIPPED: valgrind not installed"; exit 0; }

# Instructions executed inside $1*() by the rest of the command line.
ir() {
	local sec=$1
	shift
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" "--toggle-collect=$sec*" \
		"$@" >/dev/null 2>&1
	awk '/^summary:/ { print $2 }' "$tmp/cg"
}

row() {
	local name=$1
	shift
	local o r
	o=$(ir ours_section "$@")
	r=$(ir ref_section "$@")
	printf '| %-34s | %12s | %12s | %5s |\n' "$name" "$o" "$r" \
		"$(awk -v o="$o" -v r="$r" 'BEGIN { printf "%.2f", o / r }')"
}

echo "Instructions in the device half, ours beside the reference (callgrind)"
echo
echo "| configuration                      | ours (Ir)    | ref (Ir)     | ratio |"
echo "|------------------------------------|--------------|--------------|-------|"
for d in 1 3; do
	for ev in off on; do
		row "vq split, $d desc, batch 32, ev $ev" "$bench/bench_vq" --runs 5 --rounds 40 \
			--layout split --descs $d --batch 32 --event-idx $ev
	done
done
for d in 1 3; do
	row "vq packed, $d desc, batch 32, ev on" "$bench/bench_vq" --runs 5 --rounds 40 \
		--layout packed --descs $d --batch 32 --event-idx on
done
for op in read write; do
	for qd in 1 32; do
		row "blk $op 4 KiB, qd $qd" "$bench/bench_blk" --runs 5 --rounds 100 --model-only \
			--op $op --size 4096 --qd $qd
	done
done
for dir in tx rx rx1; do
	for size in 64 1500; do
		row "net $dir, $size bytes, batch 32" "$bench/bench_net" --runs 5 --rounds 100 \
			--dir $dir --size $size
	done
done
