#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A fuzzing campaign (not run in CI): every libFuzzer target (or the ones
# named) runs until it has had --seconds of CPU time (default 3600, one
# CPU-hour per target), counted across runs in the committed ledger
# fuzz/campaign.tsv (one line per chunk: date, commit, target, wall and CPU
# seconds, runs, corpus size, result), so a campaign can be spread over
# several sittings and machines. Each chunk (--chunk wall seconds, default
# 900) fuzzes from the committed corpus and regressions; what it grows is
# merged into fuzz/<target>/corpus (libFuzzer -merge=1: only inputs that
# add coverage are kept). Line coverage per file of lib/ and transports/
# is then measured by replaying the corpora in a clang coverage build
# (-fprofile-instr-generate -fcoverage-mapping, llvm-profdata-14,
# llvm-cov-14) and printed as a table.
#
#   scripts/fuzz-campaign.sh                      every target to an hour of CPU
#   scripts/fuzz-campaign.sh -j 2 vq blk          two at a time
#   scripts/fuzz-campaign.sh --more --seconds 60 vq   a minute more of vq
#   scripts/fuzz-campaign.sh --seconds 0          coverage of the corpora only
#   --no-coverage                                 skip the coverage report
#   scripts/fuzz-campaign.sh --ledger             the ledger per target, as a table
#
# Needs: clang libclang-rt-14-dev llvm-14 (llvm-profdata-14, llvm-cov-14).
# Crashes go to build-fuzz/artifacts/ and stop that target (the script
# fails after the coverage report); fix them and keep the input in
# fuzz/<target>/regress/.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
fbuild=${VDEV_FUZZ_BUILD:-$src/build-fuzz}
cbuild=${VDEV_COV_BUILD:-$src/build-cov}
seconds=3600
more=0
chunk_s=900
jobs=1
coverage=1
ledger_only=0
targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--seconds=*) seconds=${1#*=}; shift ;;
	--more) more=1; shift ;;
	--no-coverage) coverage=0; shift ;;
	--ledger) ledger_only=1; shift ;;
	--chunk) chunk_s=$2; shift 2 ;;
	-j) jobs=$2; shift 2 ;;
	-h|--help) sed -n 3,25p "$0"; exit 0 ;;
	*) targets+=("$1"); shift ;;
	esac
done
if [ ${#targets[@]} -eq 0 ]; then
	for d in "$src"/fuzz/*/; do
		t=$(basename "$d")
		[ -f "$d/fuzz_$t.c" ] && targets+=("$t")
	done
fi
if [ "$ledger_only" = 1 ]; then
	# CPU time, chunks, runs and the commits fuzzed, per target
	printf '| target | CPU s | chunks | runs | corpus | commits | crashes |\n|---|---:|---:|---:|---:|---|---:|\n'
	for t in "${targets[@]}"; do
		awk -F'\t' -v t="$t" 'NR > 1 && $3 == t {
			cpu += $5; n++; runs += $6; corpus = $7
			if (!($2 in seen)) { seen[$2] = 1; commits = commits (commits ? ", " : "") $2 }
			if ($8 ~ /crash/) crashes++
		} END {
			printf "| %s | %d | %d | %d | %s | %s | %d |\n", t, cpu, n, runs,
				n ? corpus : "-", n ? commits : "-", crashes
		}' "$src/fuzz/campaign.tsv" 2>/dev/null || true
	done
	exit 0
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
ledger=$src/fuzz/campaign.tsv
[ -f "$ledger" ] || printf 'date\tcommit\ttarget\twall_s\tcpu_s\truns\tcorpus\tresult\n' >"$ledger"
commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)

# CPU seconds the ledger holds for target $1
spent() {
	awk -F'\t' -v t="$1" 'NR > 1 && $3 == t { s += $5 } END { printf "%d\n", s }' "$ledger"
}

# One chunk of target $1 for at most $2 wall seconds: fuzz from the
# committed corpus, minimise into it, append a ledger line. The CPU time
# is the fuzzer's own (user + system, from wait4), so a chunk that shares
# the machine counts what it got, not the wall time. An input that runs
# for 120 s is a hang (-timeout; libFuzzer's default is 20 minutes): the
# chunk ends as a crash with the input among the artifacts.
chunk() {
	local t=$1 wall=$2 bin="$fbuild/fuzz/fuzz_$1" work min before after runs cpu res
	work=$(mktemp -d)
	cp "$src/fuzz/$t/corpus/"* "$work/" 2>/dev/null || true
	[ -d "$src/fuzz/$t/regress" ] && cp "$src/fuzz/$t/regress/"* "$work/" 2>/dev/null || true
	local dict=()
	[ -f "$src/fuzz/$t/dict" ] && dict=(-dict="$src/fuzz/$t/dict")
	before=$(ls "$src/fuzz/$t/corpus" | wc -l)
	res=ok
	cpu=$(python3 -c '
import os, sys
pid = os.fork()
if pid == 0:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1); os.dup2(fd, 2)
    os.execv(sys.argv[2], sys.argv[2:])
_, st, ru = os.wait4(pid, 0)
print("%.0f %d" % (ru.ru_utime + ru.ru_stime, os.waitstatus_to_exitcode(st)))
' "$fbuild/campaign-$t.log" "$bin" -max_total_time="$wall" -timeout=120 -print_final_stats=1 "${dict[@]}" \
		-artifact_prefix="$fbuild/artifacts/$t-" "$work")
	if [ -z "$cpu" ]; then
		echo "fuzz-campaign: $t interrupted" >&2
		return 1 # killed with the script: no ledger line
	elif [ "${cpu#* }" -lt 0 ]; then
		echo "fuzz-campaign: $t killed by signal $((-${cpu#* }))" >&2
		res=killed
	elif [ "${cpu#* }" != 0 ]; then
		echo "fuzz-campaign: $t FAILED; see $fbuild/campaign-$t.log and $fbuild/artifacts/" >&2
		res=crash
	fi
	cpu=${cpu% *}
	runs=$(awk '/stat::number_of_executed_units/ {n = $2} END {print n + 0}' "$fbuild/campaign-$t.log")
	# Minimise into the committed corpus: the named seeds stay; the
	# hash-named inputs (earlier campaigns' and this one's) are replaced
	# by a subset that covers the same edges (counters off, so the corpus
	# stays small).
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
		res="$res,merge-failed"
	fi
	rm -rf "$min" "$work"
	after=$(ls "$src/fuzz/$t/corpus" | wc -l)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$commit" "$t" "$wall" \
		"$cpu" "$runs" "$after" "$res" >>"$ledger"
	echo "fuzz-campaign: $t chunk ${wall}s wall, ${cpu}s CPU, $runs runs, corpus $before -> $after ($res; $(spent "$t")s CPU in the ledger)"
	[ "$res" = ok ]
}

# Target $1 until the ledger holds $goal CPU seconds for it (or, with
# --more, $seconds more than when it started).
campaign() {
	local t=$1 want have
	[ -x "$fbuild/fuzz/fuzz_$t" ] || { echo "fuzz-campaign: no target $t" >&2; return 1; }
	have=$(spent "$t")
	if [ "$more" = 1 ]; then want=$((have + seconds)); else want=$seconds; fi
	while [ "$have" -lt "$want" ]; do
		local left=$((want - have))
		chunk "$t" $((left < chunk_s ? left : chunk_s)) || return 1
		have=$(spent "$t")
	done
}

if [ "$seconds" -gt 0 ]; then
	running=0
	for t in "${targets[@]}"; do
		campaign "$t" &
		running=$((running + 1))
		if [ "$running" -ge "$jobs" ]; then
			wait -n || status=1
			running=$((running - 1))
		fi
	done
	while [ "$running" -gt 0 ]; do
		wait -n || status=1
		running=$((running - 1))
	done
	echo "fuzz-campaign: CPU seconds per target in $ledger:"
	for t in "${targets[@]}"; do printf '  %-12s %6s\n' "$t" "$(spent "$t")"; done
fi

[ "$coverage" = 1 ] || exit $status

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
