# SPDX-License-Identifier: MIT
# virtio-net with the whole device ours: Linux's user-mode kernel (UML)
# hands the device to our vhost-user-net daemon (config space from
# GET_CONFIG, the control queue is one of our rings), so the MAC, the MTU
# and the MAC-change policy the guest sees are the daemon's.
#   vdev.net.mac / vdev.net.mtu   what the daemon was started with
#   vdev.net.policy=allow|deny    whether it lets the guest change its MAC
#   vdev.net.newmac               the MAC the guest asks for
#   vdev.net.guest / vdev.net.host  addresses on the daemon's TAP link
mac=$(param vdev.net.mac)
newmac=$(param vdev.net.newmac)
policy=$(param vdev.net.policy)
N=
t=0
while [ -z "$N" ] && [ $t -lt 10 ]; do
	for i in /sys/class/net/*; do
		[ "$(basename "$(readlink "$i/device/driver" 2>/dev/null)")" = virtio_net ] && N=$(basename "$i")
	done
	[ -z "$N" ] && sleep 1
	t=$((t + 1))
done
expect virtio-net-interface "${N:+found}" found
info ifname "$N"
expect configured-mac "$(cat /sys/class/net/$N/address 2>/dev/null)" "$mac"
expect configured-mtu "$(cat /sys/class/net/$N/mtu 2>/dev/null)" "$(param vdev.net.mtu)"
f=$(cat /sys/class/net/$N/device/features 2>/dev/null)
info features "$f"
bit() { echo "$f" | cut -c$(($1 + 1)); }
for nb in MTU:3 MAC:5 STATUS:16 CTRL_VQ:17 CTRL_MAC_ADDR:23 VERSION_1:32; do
	expect "negotiated-${nb%:*}" "$(bit ${nb#*:})" 1
done
ip link set dev "$N" up
ip addr add "$(param vdev.net.guest)/24" dev "$N"
t=0
until [ "$(cat /sys/class/net/$N/carrier 2>/dev/null)" = 1 ] || [ $t -ge 10 ]; do sleep 1; t=$((t + 1)); done
expect carrier "$(cat /sys/class/net/$N/carrier 2>/dev/null)" 1
check ping-host-over-tap ping -c 3 -W 5 "$(param vdev.net.host)"
# The guest asks for a MAC of its own: MAC_ADDR_SET on our control queue.
# Linux's virtnet_set_mac_address returns -EINVAL when the device answers
# VIRTIO_NET_ERR, and keeps the old address.
ip link set dev "$N" address "$newmac" >/tmp/setmac.out 2>&1
rc=$?
info set-mac "rc=$rc $(tr '\n' ' ' </tmp/setmac.out)"
now=$(cat /sys/class/net/$N/address)
if [ "$policy" = deny ]; then
	expect mac-change-refused "$([ $rc != 0 ] && echo refused)" refused
	expect mac-change-says-invalid "$(grep -q 'Invalid argument' /tmp/setmac.out && echo yes)" yes
	expect mac-unchanged "$now" "$mac"
else
	expect mac-change-accepted "$rc" 0
	expect mac-changed "$now" "$newmac"
fi
# the device still works, with whichever MAC the guest now has
check ping-after-mac-change ping -c 3 -W 5 "$(param vdev.net.host)"
info rx-packets "$(cat /sys/class/net/$N/statistics/rx_packets)"
info tx-packets "$(cat /sys/class/net/$N/statistics/tx_packets)"
