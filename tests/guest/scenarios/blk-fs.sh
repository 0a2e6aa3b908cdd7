# SPDX-License-Identifier: MIT
# virtio-blk: a real file system: mkfs.ext4, mount, 64 MiB of random data,
# sync, drop caches, verify the checksum, fstrim, umount, fsck. The host
# checks the marker file and the data checksum in the image afterwards.
# $DISK, if set, names the disk (a scenario that sources this one).
d=${DISK:-$(param vdev.disk)}
d=${d:-vda}
check disk-present wait_for /dev/$d 20
check mkfs /usr/sbin/mkfs.ext4 -q -F /dev/$d
check mount mount -t ext4 /dev/$d /mnt
check write-64MiB dd if=/dev/urandom of=/mnt/data bs=1M count=64
sum=$(sha256sum /mnt/data | cut -d' ' -f1)
info data-sha256 "$sum"
echo "libvdev was here" >/mnt/marker
check sync sync
echo 3 >/proc/sys/vm/drop_caches
expect verify-after-drop-caches "$(sha256sum /mnt/data | cut -d' ' -f1)" "$sum"
check fstrim /usr/sbin/fstrim -v /mnt
check umount umount /mnt
check fsck /usr/sbin/e2fsck -fn /dev/$d
