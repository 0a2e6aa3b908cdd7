# SPDX-License-Identifier: MIT
# The device life cycle with the real drivers on our transports:
#   - virtio_pci unbound and bound again through sysfs, idle and with
#     direct I/O queued: the function resets and re-initialises through our
#     common configuration and the disk works again (data checked);
#   - virtio_mmio removed and loaded again, idle and with I/O queued: the
#     same through our MMIO window;
#   - a capacity change raised by the daemon (the host grows the image and
#     sends SIGUSR1) reaches the driver through the MSI-X configuration
#     vector and through the MMIO window's interrupt.
# vdev.disk: the PCI disk; vdev.mmio.disk: the MMIO one (after insmod).
d=$(param vdev.disk)
md=$(param vdev.mmio.disk)
irq=$(param vdev.mmio.irq)
# req NAME: ask the host to act (the runner serves VDEV-REQ lines)
req() { echo "VDEV-REQ $1"; }
# wait_until SECONDS CMD...: poll CMD every 0.1 s until it succeeds
wait_until() {
	wu_left=$(($1 * 10))
	shift
	while ! "$@" >/dev/null 2>&1; do
		wu_left=$((wu_left - 1))
		[ $wu_left -le 0 ] && return 1
		sleep 0.1
	done
}
# roundtrip DISK: write 4 MiB of random data directly, read it back
roundtrip() {
	dd if=/dev/urandom of=/tmp/rt bs=1M count=4 2>/dev/null
	dd if=/tmp/rt of=/dev/$1 bs=1M oflag=direct 2>&1 || { echo "write failed"; return 1; }
	dd if=/dev/$1 of=/tmp/rb bs=1M count=4 iflag=direct 2>&1 || { echo "read failed"; return 1; }
	cmp /tmp/rt /tmp/rb
}
gone() { [ ! -e /sys/block/$1 ]; }
# busy DISK: direct writes in a loop until the disk goes away. Through a
# node of its own: a dd to /dev/DISK after the node went away would create
# a plain file there, and the disk's node could not come back.
busy() {
	rm -f /tmp/busy-$1
	mknod /tmp/busy-$1 b $(tr : ' ' </sys/block/$1/dev) || return 1
	while dd if=/dev/zero of=/tmp/busy-$1 bs=1M count=8 oflag=direct 2>/dev/null; do :; done
}
inflight() { [ "$(awk '{print $1 + $2}' /sys/block/$1/inflight)" -gt 0 ]; }
there() { [ -e /sys/block/$1 ]; }

# diagnostics only: every 20 s until the scenario ends, the blocked tasks
(while [ ! -e /tmp/lifecycle-done ]; do sleep 20; [ -e /tmp/lifecycle-done ] && break
	echo w >/proc/sysrq-trigger; dmesg -c | tail -40 | sed 's/^/VDEV-DEBUG /'; done) &
check pci-disk-present wait_for /sys/block/$d 20
pdev=$(readlink -f /sys/block/$d/device/..)
fn=$(basename "$pdev")
drv=/sys/bus/pci/drivers/virtio-pci
check pci-roundtrip roundtrip $d

# ---- virtio_pci: unbind/bind, idle, then with I/O queued ----
check pci-unbind-idle sh -c "echo $fn >$drv/unbind"
check pci-disk-gone wait_until 30 gone $d
check pci-bind-idle sh -c "echo $fn >$drv/bind"
check pci-disk-back wait_until 30 there $d
check pci-roundtrip-after-rebind roundtrip $d
busy $d &
io=$!
check pci-io-in-flight wait_until 30 inflight $d
check pci-unbind-busy sh -c "echo $fn >$drv/unbind"
wait $io
check pci-disk-gone-busy wait_until 30 gone $d
check pci-bind-after-busy sh -c "echo $fn >$drv/bind"
check pci-disk-back-busy wait_until 30 there $d
check pci-roundtrip-after-busy roundtrip $d

# ---- capacity change through the MSI-X config vector ----
v=$(basename "$(readlink -f /sys/block/$d/device)")
cfg_irqs() { grep " $v-config\$" /proc/interrupts | awk '{print $2}'; }
before=$(cfg_irqs)
size=$(cat /sys/block/$d/size)
req grow-pci
check pci-capacity-grew wait_until 60 sh -c "[ \$(cat /sys/block/$d/size) -gt $size ]"
info pci-capacity "$size -> $(cat /sys/block/$d/size)"
check pci-config-vector-fired test "$(cfg_irqs)" -gt "${before:-0}"

# ---- virtio_mmio: insmod, rmmod idle, insmod, rmmod with I/O queued ----
shell=""
for f in /sys/bus/pci/devices/*; do
	[ "$(cat $f/vendor)" = 0x1234 ] && [ "$(cat $f/device)" = 0x7664 ] && shell=$f
done
base=$(awk 'NR == 1 {print $1}' "$shell/resource")
mm="insmod /lib/modules/uml/virtio_mmio.ko device=0x1000@$base:$irq"
check mmio-insmod $mm
check mmio-disk-present wait_until 30 there $md
check mmio-roundtrip roundtrip $md
check mmio-rmmod-idle rmmod virtio_mmio
check mmio-disk-gone wait_until 30 gone $md
check mmio-insmod-again $mm
check mmio-disk-back wait_until 30 there $md
check mmio-roundtrip-after-reload roundtrip $md
mirq() { grep "^ *$irq:" /proc/interrupts | awk '{print $2}'; }
before=$(mirq)
size=$(cat /sys/block/$md/size)
req grow-mmio
check mmio-capacity-grew wait_until 60 sh -c "[ \$(cat /sys/block/$md/size) -gt $size ]"
info mmio-capacity "$size -> $(cat /sys/block/$md/size)"
check mmio-interrupt-fired test "$(mirq)" -gt "${before:-0}"
busy $md &
io=$!
check mmio-io-in-flight wait_until 30 inflight $md
check mmio-rmmod-busy rmmod virtio_mmio
wait $io
check mmio-disk-gone-busy wait_until 30 gone $md
check mmio-insmod-after-busy $mm
check mmio-disk-back-busy wait_until 30 there $md
check mmio-roundtrip-after-busy roundtrip $md
touch /tmp/lifecycle-done
