# SPDX-License-Identifier: MIT
# virtio-blk: raw discard and write-zeroes on a disk the host filled with
# a pattern; the host checks afterwards that exactly these ranges read
# back as zeroes (1 MiB at 1 MiB discarded, 1 MiB at 4 MiB zeroed).
d=$(param vdev.trimdisk)
d=${d:-vdb}
check disk-present wait_for /dev/$d 20
check blkdiscard /usr/sbin/blkdiscard -o 1048576 -l 1048576 /dev/$d
check blkdiscard-zeroout /usr/sbin/blkdiscard -z -o 4194304 -l 1048576 /dev/$d
# the zeroed MiB reads back as zeroes from the device (not the page cache)
nonzero=$(dd if=/dev/$d bs=1M skip=4 count=1 iflag=direct 2>/dev/null | tr -d '\000' | wc -c)
expect zeroes-read-back "$nonzero" 0
check sync sync
