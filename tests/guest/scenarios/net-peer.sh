# SPDX-License-Identifier: MIT
# virtio-net, two guests on the inter-VM switch (vdev-switch). Both give
# their NIC vdev.net.ip; the one with vdev.net.role=listen receives 64 MiB
# over TCP, the other (role=send) pings it and sends 64 MiB of random
# data, then stays up until the listener is done. Each reports the
# SHA-256 of what it sent or got; the host compares.
mac=$(param vdev.net.a.mac)
t=0
N=
while [ -z "$N" ] && [ $t -lt 20 ]; do
	for i in /sys/class/net/*; do
		[ "$(cat "$i/address" 2>/dev/null)" = "$mac" ] && N=$(basename "$i")
	done
	[ -z "$N" ] && sleep 1
	t=$((t + 1))
done
expect nic-found "${N:+yes}" yes
ip link set dev "$N" up
ip addr add "$(param vdev.net.ip)/24" dev "$N"
peer=$(param vdev.net.peer)
if [ "$(param vdev.net.role)" = listen ]; then
	# wait for the peer (it boots alongside), then take its data
	t=0
	until ping -c 1 -W 1 "$peer" >/dev/null 2>&1 || [ $t -ge 120 ]; do t=$((t + 1)); done
	check ping-peer ping -c 3 -W 5 "$peer"
	timeout 300 socat -u TCP-LISTEN:5000,reuseaddr - >/tmp/got 2>/tmp/socat.err
	expect received-64-mib "$(wc -c </tmp/got)" 67108864
	info sha256 "$(sha256sum /tmp/got | cut -d' ' -f1)"
	rm -f /tmp/got
else
	t=0
	until ping -c 1 -W 1 "$peer" >/dev/null 2>&1 || [ $t -ge 120 ]; do t=$((t + 1)); done
	check ping-peer ping -c 3 -W 5 "$peer"
	dd if=/dev/urandom of=/tmp/data bs=1M count=64 2>/dev/null
	info sha256 "$(sha256sum /tmp/data | cut -d' ' -f1)"
	t=0
	until timeout 300 socat -u FILE:/tmp/data TCP:"$peer":5000 2>/tmp/socat.err || [ $t -ge 30 ]; do
		sleep 1
		t=$((t + 1))
	done
	[ $t -lt 30 ] && pass send-64-mib || fail send-64-mib "$(cat /tmp/socat.err)"
	# socat is done once the data is in our socket buffer; stay up (so TCP
	# can deliver the rest) until the listener has it all and powers off
	t=0
	while ping -c 1 -W 1 "$peer" >/dev/null 2>&1 && [ $t -lt 300 ]; do
		sleep 1
		t=$((t + 1))
	done
fi
