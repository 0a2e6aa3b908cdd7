# SPDX-License-Identifier: MIT
# virtio-net through QEMU's vhost-user netdev (QEMU runs the config space
# and control queue; our daemon runs the data queues): the driver binds,
# the interface has the configured MAC, the data-plane features are
# negotiated, and the guest pings the host end of our TAP interface.
mac=$(param vdev.net.a.mac)
N=
t=0
while [ -z "$N" ] && [ $t -lt 20 ]; do
	for i in /sys/class/net/*; do
		[ "$(cat "$i/address" 2>/dev/null)" = "$mac" ] && N=$(basename "$i")
	done
	[ -z "$N" ] && sleep 1
	t=$((t + 1))
done
expect nic-has-configured-mac "${N:+found}" found
f=$(cat /sys/class/net/$N/device/features 2>/dev/null)
info features "$f"
bit() { echo "$f" | cut -c$(($1 + 1)); }
for nb in MAC:5 MRG_RXBUF:15 STATUS:16 EVENT_IDX:29 VERSION_1:32; do
	expect "negotiated-${nb%:*}" "$(bit ${nb#*:})" 1
done
ip link set dev "$N" up
ip addr add "$(param vdev.net.a.guest)/24" dev "$N"
t=0
until [ "$(cat /sys/class/net/$N/carrier 2>/dev/null)" = 1 ] || [ $t -ge 10 ]; do sleep 1; t=$((t + 1)); done
expect carrier "$(cat /sys/class/net/$N/carrier 2>/dev/null)" 1
check ping-host-over-tap ping -c 5 -W 5 "$(param vdev.net.a.host)"
# a guest MAC change (QEMU's control queue) reaches the wire: ping again
check mac-change ip link set dev "$N" address 52:54:00:0a:bc:de
check ping-after-mac-change ping -c 3 -W 5 "$(param vdev.net.a.host)"
info rx-packets "$(cat /sys/class/net/$N/statistics/rx_packets)"
info tx-packets "$(cat /sys/class/net/$N/statistics/tx_packets)"
