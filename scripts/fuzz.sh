#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build the libFuzzer targets with clang (ASan+UBSan) and run each of them,
# starting from its committed seed corpus and regression inputs.
#
#   scripts/fuzz.sh                  smoke: every target for $VDEV_FUZZ_SECONDS
#                                    (default 30) seconds
#   scripts/fuzz.sh vq 3600          one target for an hour (the long run)
#
# New corpus entries go to a scratch copy, never into the tree; crashes are
# written to build-fuzz/artifacts/ and fail the run. Keep a crash as a
# regression input in fuzz/<target>/regress/ once it is fixed.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${VDEV_FUZZ_BUILD:-$src/build-fuzz}
seconds=${VDEV_FUZZ_SECONDS:-30}

if ! command -v clang >/dev/null 2>&1; then
	echo "fuzz: clang is required (apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi

CC=clang CXX=clang++ cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DVDEV_BUILD_FUZZ=ON -DVDEV_SANITIZE=ON >/dev/null
cmake --build "$build" >/dev/null

targets=()
if [ $# -ge 1 ]; then
	targets=("$1")
	[ $# -ge 2 ] && seconds=$2
else
	for d in "$src"/fuzz/*/; do
		t=$(basename "$d")
		[ -f "$d/fuzz_$t.c" ] && targets+=("$t")
	done
fi

mkdir -p "$build/artifacts"
status=0
for t in "${targets[@]}"; do
	bin="$build/fuzz/fuzz_$t"
	if [ ! -x "$bin" ]; then
		echo "fuzz: no target $t" >&2
		exit 1
	fi
	work=$(mktemp -d)
	cp "$src/fuzz/$t/corpus/"* "$work/" 2>/dev/null || true
	[ -d "$src/fuzz/$t/regress" ] && cp "$src/fuzz/$t/regress/"* "$work/" 2>/dev/null || true
	echo "fuzz: $t for ${seconds}s ($(ls "$work" | wc -l) seed inputs)"
	# -timeout: an input still running after 120 s is a hang, saved as an
	# artifact and a failure (libFuzzer's default waits 20 minutes; inputs
	# take milliseconds, and this machine has stalled for 11 s).
	if "$bin" -max_total_time="$seconds" -timeout=120 -print_final_stats=1 \
		-artifact_prefix="$build/artifacts/$t-" "$work" >"$build/fuzz-$t.log" 2>&1; then
		runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$build/fuzz-$t.log")
		rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$build/fuzz-$t.log")
		echo "fuzz: $t ok, $runs runs, $rate inputs/s"
	else
		echo "fuzz: $t FAILED; see $build/fuzz-$t.log and $build/artifacts/" >&2
		tail -n 30 "$build/fuzz-$t.log" >&2
		status=1
	fi
	rm -rf "$work"
done
exit $status
