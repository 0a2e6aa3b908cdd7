#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Three DPDK virtio drivers (dpdk-testpmd, net_virtio_user) through
# vdev-switch's in-process vhost-user ports, with exact counts and MAC
# learning; see dpdk_switch.py.
#   run-dpdk-switch.sh --switch PATH --layout split|packed [--poll] [--mrg 0|1]
# SKIPPED (77) without dpdk-testpmd or python3; with VDEV_REQUIRE_ALL=1 a
# missing tool fails instead. VDEV_TESTPMD overrides the testpmd binary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../guest/lib.sh"

testpmd=${VDEV_TESTPMD:-$(command -v dpdk-testpmd || true)}
[ -n "$testpmd" ] && [ -x "$testpmd" ] ||
	skip "dpdk-testpmd not found (Debian: apt-get install dpdk dpdk-dev)"
command -v python3 >/dev/null || skip "python3 not found"
exec timeout --kill-after=10 900 python3 "$here/dpdk_switch.py" --testpmd "$testpmd" "$@"
