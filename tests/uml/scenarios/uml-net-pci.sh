# SPDX-License-Identifier: MIT
# virtio-net as a function of our transports/pci on UML's PCI bus (after
# net-uml checked MAC, MTU, ping and the MAC policy): the driver sits on
# virtio_pci with MSI-X (two queue pairs), and a link change raised by the daemon (SIGUSR1,
# on the guest's request) reaches it through the configuration vector:
# carrier goes down, comes back, and ping works again.
N=
for i in /sys/class/net/*; do
	[ "$(basename "$(readlink "$i/device/driver" 2>/dev/null)")" = virtio_net ] && N=$(basename "$i")
done
pdev=$(readlink -f /sys/class/net/$N/device/..)
expect pci-driver "$(basename "$(readlink "$pdev/driver" 2>/dev/null)")" virtio-pci
expect pci-device "$(cat "$pdev/device")" 0x1041
# a vector per receive and transmit queue (the control queue has no
# callback) and one for configuration changes
expect msix-vectors "$(ls "$pdev/msi_irqs" 2>/dev/null | wc -l)" $((2 * $(param vdev.net.pairs) + 1))
v=$(basename "$(readlink -f /sys/class/net/$N/device)")
expect ring-layout "$([ "$(cut -c35 /sys/class/net/$N/device/features)" = 1 ] && echo packed || echo split)" "$(param vdev.ring)"
cfg_irqs() { grep " $v-config\$" /proc/interrupts | awk '{print $2}'; }
wait_until() {
	wu_left=$(($1 * 10))
	shift
	while ! "$@" >/dev/null 2>&1; do
		wu_left=$((wu_left - 1))
		[ $wu_left -le 0 ] && return 1
		sleep 0.1
	done
}
carrier() { [ "$(cat /sys/class/net/$N/carrier 2>/dev/null)" = "$1" ]; }
before=$(cfg_irqs)
echo "VDEV-REQ link-down"
check carrier-down wait_until 60 carrier 0
check config-vector-fired test "$(cfg_irqs)" -gt "${before:-0}"
echo "VDEV-REQ link-up"
check carrier-up wait_until 60 carrier 1
check ping-after-link-up ping -c 2 -W 5 "$(param vdev.net.host)"
