#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# DPDK's virtio driver (dpdk-testpmd, net_virtio_user) against our
# vhost-user-net daemon, with exact counts from both ends; see dpdk_net.py.
#   run-dpdk-net.sh --daemon PATH --layout split|packed --cq 0|1
#                   [--queues 1|2] [--mrg 0,1] [--in-order 0,1]
#                   [--packet ring|syscall] [--tap writev|uring]
# SKIPPED (77) without dpdk-testpmd or python3, and with --packet or --tap
# (a veth pair or TAP in a network namespace of the test's own) when not root or without
# ip/unshare; with VDEV_REQUIRE_ALL=1 a missing tool fails instead.
# VDEV_TESTPMD overrides the testpmd binary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../guest/lib.sh"

testpmd=${VDEV_TESTPMD:-$(command -v dpdk-testpmd || true)}
[ -n "$testpmd" ] && [ -x "$testpmd" ] ||
	skip "dpdk-testpmd not found (Debian: apt-get install dpdk dpdk-dev)"
command -v python3 >/dev/null || skip "python3 not found"
ns=()
case " $* " in
*" --packet "* | *" --tap "*)
	[ "$(id -u)" = 0 ] || skip "--packet needs root (a veth pair in a network namespace)"
	command -v ip >/dev/null || skip "ip (iproute2) not found"
	command -v unshare >/dev/null || skip "unshare (util-linux) not found"
	ns=(unshare --net --) ;;
esac
# The helper keeps its own deadlines; this one only stops a wedged run.
exec ${ns[@]+"${ns[@]}"} timeout --kill-after=10 1200 python3 "$here/dpdk_net.py" --testpmd "$testpmd" "$@"
