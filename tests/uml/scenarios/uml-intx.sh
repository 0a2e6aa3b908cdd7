# SPDX-License-Identifier: MIT
# A disk on a function without MSI-X: the whole disk read with direct I/O,
# every completion through INTx and the ISR read-to-clear; the host
# compares the checksum with its image.
d=$(param vdev.intx.disk)
check disk-present wait_for /dev/$d 20
sum=$(dd if=/dev/$d bs=64k iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
info sha256 "$sum"
check read-whole-disk test -n "$sum"
pdev=$(readlink -f /sys/block/$d/device/..)
expect pci-driver "$(basename "$(readlink "$pdev/driver" 2>/dev/null)")" virtio-pci
expect no-msix "$(ls "$pdev/msi_irqs" 2>/dev/null | wc -l)" 0
irq=$(cat "$pdev/irq")
line=$(grep "^ *$irq:" /proc/interrupts)
info intx-line "$(echo $line)"
check intx-handler-installed sh -c "echo '$line' | grep -q virtio"
check intx-fired sh -c "echo '$line' | awk '{exit !(\$2 > 0)}'"
