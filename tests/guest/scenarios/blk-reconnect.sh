# SPDX-License-Identifier: MIT
# virtio-blk while the host kills the vhost-user back-end (SIGKILL) and
# starts it again, over and over (run-guest-reconnect.sh): on ext4, four
# files are rewritten at once with O_DIRECT and fsync and read back with
# O_DIRECT without pause, each checked against what was written, until the host
# writes a line to /dev/ttyS1. "VDEV-PROGRESS <round>" after each verified
# round lets the host wait for the device to work again before the next
# kill; "VDEV-WRITING <round>" lets it aim the kill at the writes. Then: no I/O error, no mismatch, nothing wrong in the kernel log
# (a request completed twice breaks the ring: "is not a head", I/O
# errors), the files again after dropping the caches, umount, fsck. The
# host compares the files' checksums (VDEV-INFO) with its image.
d=${DISK:-$(param vdev.disk)}
d=${d:-vda}
check disk-present wait_for /dev/$d 20
check mkfs /usr/sbin/mkfs.ext4 -q -F /dev/$d
check mount mount -t ext4 /dev/$d /mnt
klog0=$(dmesg | wc -l)
stty -F /dev/ttyS1 -echo 2>/dev/null
(read -r _ </dev/ttyS1; : >/tmp/stop) &
# one round: four writers at once (several requests in flight), each a
# fresh 64 KiB (four requests) to its own file, then four readers; then the checks
wr() {
	dd if=/tmp/src$1 of=/mnt/f$1 bs=16k oflag=direct conv=fsync 2>/tmp/w$1.err ||
		echo "round $round f$1: $(tail -c 200 /tmp/w$1.err | tr '\n' ' ')" >/tmp/w$1.fail
}
rd() {
	dd if=/mnt/f$1 bs=16k iflag=direct 2>/tmp/r$1.err | sha256sum | cut -d' ' -f1 >/tmp/got$1
}
errs=0 bad=0 round=0
while [ ! -e /tmp/stop ] && [ $errs = 0 ] && [ $bad = 0 ]; do
	round=$((round + 1))
	dd if=/dev/urandom of=/tmp/src bs=16k count=16 2>/dev/null
	for f in 0 1 2 3; do
		dd if=/tmp/src of=/tmp/src$f bs=16k skip=$((f * 4)) count=4 2>/dev/null
		sha256sum </tmp/src$f | cut -d' ' -f1 >/tmp/sum$f
	done
	rm -f /tmp/w?.fail
	echo "VDEV-WRITING $round"
	# wait for these four only: a bare wait would also wait for the
	# ttyS1 reader, i.e. for the host's stop
	wr 0 & p0=$!; wr 1 & p1=$!; wr 2 & p2=$!; wr 3 & p3=$!
	wait $p0 $p1 $p2 $p3
	rd 0 & p0=$!; rd 1 & p1=$!; rd 2 & p2=$!; rd 3 & p3=$!
	wait $p0 $p1 $p2 $p3
	for f in 0 1 2 3; do
		if [ -e /tmp/w$f.fail ]; then
			errs=$((errs + 1))
			info write-error "$(cat /tmp/w$f.fail)"
		fi
		if [ "$(cat /tmp/got$f)" != "$(cat /tmp/sum$f)" ]; then
			bad=$((bad + 1))
			info mismatch "round $round f$f: $(tail -c 200 /tmp/r$f.err | tr '\n' ' ')"
		fi
	done
	echo "VDEV-PROGRESS $round"
done
info rounds "$round"
expect no-io-errors "$errs" 0
expect no-mismatches "$bad" 0
check stopped-by-the-host test -e /tmp/stop
echo 3 >/proc/sys/vm/drop_caches
for f in 0 1 2 3; do
	sum=$(cat /tmp/sum$f)
	expect f$f-after-drop-caches "$(sha256sum </mnt/f$f | cut -d' ' -f1)" "$sum"
	info f$f-sha256 "$sum"
done
dmesg | tail -n +$((klog0 + 1)) |
	grep -E 'I/O error|not a head|out of range|EXT4-fs error|Buffer I/O|blocked for more than|virtio.*(broken|error)' >/tmp/klog
if [ -s /tmp/klog ]; then
	fail kernel-log-clean "$(head -c 300 /tmp/klog | tr '\n' ' ')"
else
	pass kernel-log-clean
fi
check umount umount /mnt
check fsck /usr/sbin/e2fsck -fn /dev/$d
