# SPDX-License-Identifier: MIT
# The framebuffer console (fbcon on virtio-gpu's fbdev emulation) renders
# text: the host takes screenshots at each VDEV-SNAP line (our daemon's
# image file and QEMU's screendump) and compares them: not blank, changed
# by the text, and the same in both.
wait_for /dev/fb0 20
check fbdev-appeared test -c /dev/fb0
info fb "$(cat /sys/class/graphics/fb0/name 2>/dev/null) $(cat /sys/class/graphics/fb0/virtual_size 2>/dev/null)"
echo 0 >/sys/class/graphics/fbcon/cursor_blink 2>/dev/null
printf '\033[2J\033[H\033[?25l' >/dev/tty1
sleep 1
echo "VDEV-SNAP console-before"
sleep 2
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	echo "LIBVDEV VIRTIO-GPU CONSOLE LINE $i: the quick brown fox jumps over the lazy dog" >/dev/tty1
done
check wrote-to-tty1 test $? = 0
sleep 1
echo "VDEV-SNAP console-after"
sleep 2
