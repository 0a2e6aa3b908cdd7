#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Our vhost-user-net to a TAP and to a host interface (AF_PACKET on a
# veth) beside DPDK's net_tap and net_af_packet, driven by dpdk-testpmd's
# virtio-user; see bench_net_host.py (placement, what is counted).
#   bench-net-host.sh --daemon PATH [--runs N] [--seconds S] [--only tap|packet]
# Needs root (a network namespace of its own), dpdk-testpmd, ip, taskset.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
testpmd=${VDEV_TESTPMD:-$(command -v dpdk-testpmd || true)}
for t in "$testpmd" ip taskset unshare python3; do
	if [ -z "$t" ] || ! command -v "$t" >/dev/null; then
		echo "bench-net-host: SKIPPED: ${t:-dpdk-testpmd} not found"
		exit 0
	fi
done
if [ "$(id -u)" != 0 ]; then
	echo "bench-net-host: SKIPPED: needs root (TAP and veth in a network namespace)"
	exit 0
fi
exec unshare --net -- python3 "$here/bench_net_host.py" --testpmd "$testpmd" "$@"
