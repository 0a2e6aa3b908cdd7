# SPDX-License-Identifier: MIT
# The device's ports as the guest sees them: hvc0 for port 0 (the console)
# and one /dev/vportNpM per named port, its name from PORT_NAME in sysfs.
# The /dev/virtio-ports/<name> links are made here from sysfs, as udev's
# rule does on a full system (the test guest has no udev).
check hvc0-present wait_for /dev/hvc0 20
nnamed=$(($(param vdev.console.ports) - 1))
t=0
while [ "$(cat /sys/class/virtio-ports/*/name 2>/dev/null | grep -c .)" -lt $nnamed ] && [ $t -lt 200 ]; do
	sleep 0.1
	t=$((t + 1))
done
mkdir -p /dev/virtio-ports
for p in /sys/class/virtio-ports/vport*; do
	name=$(cat $p/name 2>/dev/null)
	[ -n "$name" ] && ln -sf ../$(basename $p) /dev/virtio-ports/$name
	info port "$(basename $p) ${name:-(console)}"
done
for name in $(param vdev.console.names | tr , ' '); do
	check port-$name test -c /dev/virtio-ports/$name
done
expect named-ports "$(ls /dev/virtio-ports | wc -l)" $nnamed
