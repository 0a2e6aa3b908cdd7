#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Run a command while N CPU hogs (busy loops at the command's own
# priority, default one per CPU) keep the machine's CPUs busy: the check
# that tests wait for the state they check, never for a time.
#
#   scripts/under-load.sh [--hogs N] -- COMMAND...
#   scripts/under-load.sh -- ctest --test-dir build -L guest
#   scripts/under-load.sh --hogs 2 -- scripts/demo.sh
#
# Exits with the command's status; prints the load average before and after.
set -euo pipefail

hogs=$(nproc)
while [ $# -gt 0 ]; do
	case $1 in
	--hogs) hogs=$2; shift 2 ;;
	--hogs=*) hogs=${1#*=}; shift ;;
	--) shift; break ;;
	-h|--help) sed -n 3,12p "$0"; exit 0 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--hogs N] -- COMMAND..." >&2; exit 2; }

pids=()
cleanup() { [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq "$hogs"); do
	sh -c 'while :; do :; done' &
	pids+=($!)
done
echo "under-load: $hogs CPU hogs (pids ${pids[*]}); load average $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
"$@" || status=$?
echo "under-load: load average $(cut -d' ' -f1-3 /proc/loadavg); $* exited $status"
exit $status
