#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A fuzzing campaign (not run in CI): every libFuzzer target (or the ones
# named) runs for --seconds (default 3600, one CPU-hour per target) from
# its committed corpus and regressions; what it grows is merged into
# fuzz/<target>/corpus (libFuzzer -merge=1: only inputs that add coverage
# are kept), and line coverage per file of lib/ and transports/ is then
# measured by replaying the corpora in a clang coverage build
# (-fprofile-instr-generate -fcoverage-mapping, llvm-profdata-14,
# llvm-cov-14) and printed as a table.
#
#   scripts/fuzz-campaign.sh                      all targets, an hour each
#   scripts/fuzz-campaign.sh --seconds 60 vq blk  a short one
#   scripts/fuzz-campaign.sh --seconds 0          coverage of the corpora only
#
# Needs: clang libclang-rt-14-dev llvm-14 (llvm-profdata-14, llvm-cov-14).
# Crashes go to build-fuzz/artifacts/ and make the script fail (after the
# coverage report); fix them and keep the input in fuzz/<target>/regress/.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
fbuild=${VDEV_FUZZ_BUILD:-$src/build-fuzz}
cbuild=${VDEV_COV_BUILD:-$src/build-cov}
seconds=3600
targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--seconds=*) seconds=${1#*=}; shift ;;
	-h|--help) sed -n 3,20p "$0"; exit 0 ;;
	*) targets+=("$1"); shift ;;
	esac
done
if [ ${#targets[@]} -eq 0 ]; then
	for d in "$src"/fuzz/*/; do
		t=$(basename "$d")
		[ -f "$d/fuzz_$t.c" ] && targets+=("$t")
	done
fi
for tool in clang llvm-profdata-14 llvm-cov-14; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "fuzz-campaign: $tool is required (apt-get install clang libclang-rt-14-dev llvm-14)" >&2
		exit 1
	fi
done

# the fuzzers (ASan+UBSan), as scripts/fuzz.sh builds them
CC=clang CXX=clang++ cmake -S "$src" -B "$fbuild" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DVDEV_BUILD_FUZZ=ON -DVDEV_SANITIZE=ON >/dev/null
cmake --build "$fbuild" >/dev/null

status=0
mkdir -p "$fbuild/artifacts"
if [ "$seconds" -gt 0 ]; then
	for t in "${targets[@]}"; do
		bin="$fbuild/fuzz/fuzz_$t"
		[ -x "$bin" ] || { echo "fuzz-campaign: no target $t" >&2; exit 1; }
		work=$(mktemp -d)
		cp "$src/fuzz/$t/corpus/"* "$work/" 2>/dev/null || true
		[ -d "$src/fuzz/$t/regress" ] && cp "$src/fuzz/$t/regress/"* "$work/" 2>/dev/null || true
		dict=()
		[ -f "$src/fuzz/$t/dict" ] && dict=(-dict="$src/fuzz/$t/dict")
		before=$(ls "$src/fuzz/$t/corpus" | wc -l)
		if "$bin" -max_total_time="$seconds" -print_final_stats=1 "${dict[@]}" \
			-artifact_prefix="$fbuild/artifacts/$t-" "$work" >"$fbuild/campaign-$t.log" 2>&1; then
			:
		else
			echo "fuzz-campaign: $t FAILED; see $fbuild/campaign-$t.log and $fbuild/artifacts/" >&2
			status=1
		fi
		runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$fbuild/campaign-$t.log")
		# Minimise into the committed corpus: the named seeds stay; the
		# hash-named inputs (earlier campaigns' and this one's) are
		# replaced by a subset that covers the same edges (counters off,
		# so the corpus stays small).
		min=$(mktemp -d)
		for f in "$src/fuzz/$t/corpus"/*; do
			[[ $(basename "$f") =~ ^[0-9a-f]{40}$ ]] || cp "$f" "$min/"
		done
		if "$bin" -merge=1 -use_counters=0 -use_value_profile=0 "$min" "$work" \
			>"$fbuild/merge-$t.log" 2>&1; then
			find "$src/fuzz/$t/corpus" -regextype posix-extended \
				-regex '.*/[0-9a-f]{40}' -delete
			cp -n "$min"/* "$src/fuzz/$t/corpus/"
		else
			echo "fuzz-campaign: merge of $t failed; see $fbuild/merge-$t.log" >&2
			status=1
		fi
		rm -rf "$min"
		after=$(ls "$src/fuzz/$t/corpus" | wc -l)
		echo "fuzz-campaign: $t ${seconds}s, ${runs:-?} runs ($(( ${runs:-0} / seconds ))/s), corpus $before -> $after"
		rm -rf "$work"
	done
fi

# coverage: replay every corpus in a coverage build
CC=clang CXX=clang++ cmake -S "$src" -B "$cbuild" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	-DVDEV_BUILD_FUZZ=OFF -DVDEV_BUILD_TESTS=ON -DVDEV_SANITIZE=OFF -DVDEV_BUILD_SHARED=OFF \
	-DCMAKE_C_FLAGS="-fprofile-instr-generate -fcoverage-mapping" \
	-DCMAKE_EXE_LINKER_FLAGS="-fprofile-instr-generate" >/dev/null
bins=()
for t in "${targets[@]}"; do bins+=("fuzz_${t}_replay"); done
cmake --build "$cbuild" --target "${bins[@]}" >/dev/null
rm -rf "$cbuild/prof"
mkdir -p "$cbuild/prof"
objs=()
for t in "${targets[@]}"; do
	dirs=("$src/fuzz/$t/corpus")
	[ -d "$src/fuzz/$t/regress" ] && dirs+=("$src/fuzz/$t/regress")
	LLVM_PROFILE_FILE="$cbuild/prof/$t-%p.profraw" "$cbuild/fuzz/fuzz_${t}_replay" "${dirs[@]}" \
		>/dev/null || { echo "fuzz-campaign: replay of $t failed" >&2; status=1; }
	if [ ${#objs[@]} -eq 0 ]; then objs=("$cbuild/fuzz/fuzz_${t}_replay"); else
		objs+=(-object "$cbuild/fuzz/fuzz_${t}_replay"); fi
done
llvm-profdata-14 merge -sparse "$cbuild"/prof/*.profraw -o "$cbuild/prof/all.profdata"
echo "fuzz-campaign: line coverage of lib/ and transports/ by the corpora of: ${targets[*]}"
llvm-cov-14 report "${objs[@]}" -instr-profile="$cbuild/prof/all.profdata" \
	-show-region-summary=false -show-branch-summary=false -show-functions=false \
	"$src/lib" "$src/transports" | sed "s|$src/||"
exit $status
