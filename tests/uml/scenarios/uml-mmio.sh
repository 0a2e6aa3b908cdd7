# SPDX-License-Identifier: MIT
# A virtio-mmio window (our transports/mmio) inside BAR0 of a PCI function
# no driver claims: Linux's virtio_mmio module is pointed at it with
# device=<size>@<BAR0 address>:<irq> and the disk behind it gets the
# same data check as the PCI one (blk-fs). vdev.mmio.irq is the IRQ the
# window's interrupt names; vdev.mmio.disk the disk it becomes.
shell=""
for f in /sys/bus/pci/devices/*; do
	[ "$(cat $f/vendor)" = 0x1234 ] && [ "$(cat $f/device)" = 0x7664 ] && shell=$f
done
check shell-function-found test -n "$shell"
check shell-unclaimed test ! -e "$shell/driver"
base=$(awk 'NR == 1 {print $1}' "$shell/resource")
info bar0 "$base"
check insmod-virtio_mmio insmod /lib/modules/uml/virtio_mmio.ko \
	"device=0x1000@$base:$(param vdev.mmio.irq)"
DISK=$(param vdev.mmio.disk)
check mmio-disk-present wait_for /sys/block/$DISK 20
expect mmio-driver "$(basename "$(readlink /sys/block/$DISK/device/../driver)")" virtio-mmio
. /scenarios/blk-fs.sh
line=$(grep "^ *$(param vdev.mmio.irq):" /proc/interrupts)
info mmio-irq-line "$line"
check mmio-irq-fired sh -c "echo '$line' | awk '{exit !(\$2 > 0)}'"
