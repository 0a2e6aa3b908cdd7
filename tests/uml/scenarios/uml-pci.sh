# SPDX-License-Identifier: MIT
# The PCI side of a disk served by our transports/pci on UML's PCI bus:
# Linux's virtio_pci (not virtio_uml) drives it, and its interrupts are
# MSI-X with a vector per queue and one for configuration changes.
# vdev.disk names the disk, vdev.pci.queues the request queues the device
# offers; Linux's virtio_blk uses at most one per CPU (UML has one).
d=$(param vdev.disk)
check disk-present wait_for /sys/block/$d 20
pdev=$(readlink -f /sys/block/$d/device/.. 2>/dev/null)
info pci-function "$(basename "$pdev")"
expect pci-driver "$(basename "$(readlink "$pdev/driver" 2>/dev/null)")" virtio-pci
expect pci-vendor "$(cat "$pdev/vendor")" 0x1af4
expect pci-device "$(cat "$pdev/device")" 0x1042
cpus=$(grep -c ^processor /proc/cpuinfo)
nq=$(param vdev.pci.queues)
[ "$cpus" -lt "$nq" ] && nq=$cpus
info queues-used "$nq of $(param vdev.pci.queues) ($cpus CPU)"
expect request-queues "$(ls /sys/block/$d/mq | wc -l)" "$nq"
vdev=$(basename "$(readlink -f /sys/block/$d/device)")
expect ring-layout "$([ "$(cut -c35 /sys/block/$d/device/features)" = 1 ] && echo packed || echo split)" "$(param vdev.ring)"
expect msix-vectors "$(ls "$pdev/msi_irqs" 2>/dev/null | wc -l)" $((nq + 1))
expect config-vector "$(grep -c " $vdev-config\$" /proc/interrupts)" 1
n=0
for q in $(seq 0 $((nq - 1))); do
	grep -q " $vdev-req.$q\$" /proc/interrupts && n=$((n + 1))
done
expect vector-per-queue "$n" "$nq"
