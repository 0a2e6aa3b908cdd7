# SPDX-License-Identifier: MIT
# virtio-console with port 0 only (the daemon's --no-multiport): no
# MULTIPORT, no control queues; Linux's virtio_console makes port 0 a
# console (hvc0) by itself, with its size from our config space.
V=
t=0
while [ -z "$V" ] && [ $t -lt 100 ]; do
	for v in /sys/bus/virtio/devices/*; do
		[ "$(cat $v/device 2>/dev/null)" = 0x0003 ] && V=$v
	done
	[ -z "$V" ] && sleep 0.1
	t=$((t + 1))
done
check console-device-found test -n "$V"
expect driver "$(basename "$(readlink "$V/driver")")" virtio_console
feat=$(cat $V/features)
expect feature-size "$(echo "$feat" | cut -c1)" 1
expect feature-multiport "$(echo "$feat" | cut -c2)" 0
check hvc0-present wait_for /dev/hvc0 20
# the driver registers port 0 as vportNp0 (the console's char device) and no other
expect only-port-0 "$(ls /sys/class/virtio-ports 2>/dev/null | sed 's/^vport[0-9]*p//' | tr '\n' ' ')" "0 "
