# SPDX-License-Identifier: MIT
# virtio-blk: a read-only disk: the guest sees it read-only and a direct
# write fails; reads work.
d=$(param vdev.rodisk)
d=${d:-vdc}
check disk-present wait_for /dev/$d 20
expect read-only-flag "$(cat /sys/block/$d/ro)" 1
check read-works dd if=/dev/$d of=/dev/null bs=4k count=16 iflag=direct
if dd if=/dev/zero of=/dev/$d bs=4k count=1 oflag=direct 2>/dev/null; then
	fail write-refused "a write to the read-only disk succeeded"
else
	pass write-refused
fi
