# SPDX-License-Identifier: MIT
# virtio-console as a function of our transports/pci on UML's PCI bus:
# Linux's virtio_pci drives it with MSI-X, virtio_console binds, and the
# device offers MULTIPORT (the control queues) with vdev.console.ports
# ports, and SIZE. (Linux 6.1's driver does not take EMERG_WRITE; the unit
# tests cover it.)
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
pdev=$(readlink -f "$V/..")
expect pci-driver "$(basename "$(readlink "$pdev/driver" 2>/dev/null)")" virtio-pci
expect pci-device "$(cat "$pdev/device")" 0x1043
expect driver "$(basename "$(readlink "$V/driver")")" virtio_console
feat=$(cat $V/features)
expect feature-size "$(echo "$feat" | cut -c1)" 1
expect feature-multiport "$(echo "$feat" | cut -c2)" 1
expect ring-layout "$([ "$(echo "$feat" | cut -c35)" = 1 ] && echo packed || echo split)" "$(param vdev.ring)"
# a vector per queue with a callback (all 2 + 2 * ports but the control
# transmitq) and one for configuration changes
expect msix-vectors "$(ls "$pdev/msi_irqs" 2>/dev/null | wc -l)" $((2 + 2 * $(param vdev.console.ports)))
