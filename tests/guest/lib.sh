# SPDX-License-Identifier: MIT
# Shared by the guest runners (sourced): skipping, waiting for a back-end's
# socket, and host-side checks. A runner keeps pass/fail/status counters.

# skip REASON...: print SKIPPED and exit 77 (a failure with VDEV_REQUIRE_ALL=1)
skip() {
	echo "SKIPPED: $*"
	[ "${VDEV_REQUIRE_ALL:-0}" = 1 ] && exit 1
	exit 77
}

# wait_socket PATH: wait (5 s at most) for a back-end's Unix socket
wait_socket() {
	for _ in $(seq 100); do
		[ -S "$1" ] && return 0
		sleep 0.05
	done
	echo "$(basename "$0"): back-end socket $1 did not appear" >&2
	return 1
}

# hc NAME CMD...: a host-side check
hc() {
	local n=$1
	shift
	if "$@" >/dev/null 2>&1; then
		echo "PASS host/$n"
		pass=$((pass + 1))
	else
		echo "FAIL host/$n"
		fail=$((fail + 1))
		status=1
	fi
}

# serve_requests LOG PID HANDLER: until process PID ends (or LOG says
# VDEV-DONE), call
# "HANDLER NAME" once for each new "VDEV-REQ NAME" line the guest printed
# to LOG (a guest asking the host to act: resize a disk, pull a cable).
# The guest then waits for the effect it asked for, not for a time.
serve_requests() {
	local log=$1 pid=$2 handler=$3 seen=" " r
	while kill -0 "$pid" 2>/dev/null && ! grep -aq "^VDEV-DONE" "$log" 2>/dev/null; do
		for r in $(tr -d '\r' <"$log" 2>/dev/null | sed -n 's/^VDEV-REQ \([a-z0-9-]*\)$/\1/p'); do
			case "$seen" in *" $r "*) continue ;; esac
			seen="$seen$r "
			"$handler" "$r"
		done
		sleep 0.1
	done
}

# uml_kill TAG: kill every process of a UML guest whose command line
# contains TAG (its private temporary directory). UML's processes put
# themselves in sessions of their own, so killing the process group of
# the command that started them leaves them running.
uml_kill() {
	pkill -9 -f -- "$1" 2>/dev/null
	return 0
}

# uml_wait_done LOG PID TAG: wait for a UML guest (PID: the command that
# runs it) to exit, or to print VDEV-DONE (after its final sync): UML may
# hang at halt with a PCI driver bound, so it is then stopped (uml_kill
# TAG, which must not match this shell). Returns 0 if the guest got that
# far, else its exit status (137 when its timeout killed it).
uml_wait_done() {
	local log=$1 pid=$2 tag=$3 rc
	while kill -0 "$pid" 2>/dev/null && ! grep -aq "^VDEV-DONE" "$log" 2>/dev/null; do
		sleep 0.2
	done
	kill -9 -- "-$pid" 2>/dev/null
	kill -9 "$pid" 2>/dev/null
	uml_kill "$tag"
	{ wait "$pid"; } 2>/dev/null
	rc=$?
	grep -aq "^VDEV-DONE" "$log" 2>/dev/null && rc=0
	return $rc
}

# guest_results CLEAN SCENARIOS [PREFIX]: the guest's verdicts in its
# console log CLEAN (carriage returns removed), strict: every scenario of
# the comma-separated SCENARIOS must have ended with as many result lines
# as it counted, a SKIP is a gap, and the guest must have said VDEV-DONE.
# Prints one line per result (names after PREFIX, e.g. "allow/") and
# updates the runner's pass/fail/skipped/status counters.
guest_results() {
	local clean=$1 scenarios=$2 prefix=${3:-} s end got name verdict reason
	for s in $(echo "$scenarios" | tr , ' '); do
		end=$(grep -a "^VDEV-SCENARIO-END $s " "$clean" | awk '{print $3}')
		got=$(grep -ac "^VDEV-RESULT $s/" "$clean")
		if [ -z "$end" ]; then
			echo "FAIL $prefix$s: scenario did not finish"
			status=1
		elif [ "$end" != "$got" ]; then
			echo "FAIL $prefix$s: $got result lines, the scenario reported $end checks"
			status=1
		fi
	done
	while read -r _ name verdict reason; do
		case "$verdict" in
		PASS) pass=$((pass + 1)); echo "PASS $prefix$name" ;;
		SKIP) skipped=$((skipped + 1)); echo "SKIP $prefix$name ($reason)"; status=1 ;;
		*) fail=$((fail + 1)); echo "FAIL $prefix$name $reason"; status=1 ;;
		esac
	done < <(grep -a "^VDEV-RESULT " "$clean")
	grep -aq "^VDEV-DONE" "$clean" ||
		{ echo "FAIL ${prefix}the guest did not complete its run"; status=1; }
}
