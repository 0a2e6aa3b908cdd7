# SPDX-License-Identifier: MIT
# virtio-vsock as a function of our transports/pci on UML's PCI bus: the
# driver sits on virtio_pci with an MSI-X vector per queue, and the guest
# CID is the one in our config space. The vsock-* scenarios then move the
# data.
V=
t=0
while [ -z "$V" ] && [ $t -lt 100 ]; do
	for v in /sys/bus/virtio/devices/*; do
		[ "$(cat $v/device 2>/dev/null)" = 0x0013 ] && V=$v
	done
	[ -z "$V" ] && sleep 0.1
	t=$((t + 1))
done
check vsock-device-found test -n "$V"
pdev=$(readlink -f "$V/..")
expect pci-driver "$(basename "$(readlink "$pdev/driver" 2>/dev/null)")" virtio-pci
expect pci-device "$(cat "$pdev/device")" 0x1053
expect msix-vectors "$(ls "$pdev/msi_irqs" 2>/dev/null | wc -l)" 4
expect driver "$(basename "$(readlink "$V/driver")")" vmw_vsock_virtio_transport
expect ring-layout "$([ "$(cut -c35 $V/features)" = 1 ] && echo packed || echo split)" "$(param vdev.ring)"
