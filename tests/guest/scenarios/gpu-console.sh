# SPDX-License-Identifier: MIT
# The framebuffer console (fbcon on virtio-gpu's fbdev emulation) renders
# text: at each VDEV-SNAP line the host takes screenshots (our daemon's
# image file and QEMU's screendump) until both show the same frame, then
# says so on /dev/ttyS1 (host_go) and the guest goes on; the host checks
# them: not blank, changed by the text, and the same in both.
wait_for /dev/fb0 20
check fbdev-appeared test -c /dev/fb0
info fb "$(cat /sys/class/graphics/fb0/name 2>/dev/null) $(cat /sys/class/graphics/fb0/virtual_size 2>/dev/null)"
echo 0 >/sys/class/graphics/fbcon/cursor_blink 2>/dev/null
printf '\033[2J\033[H\033[?25l' >/dev/tty1
echo "VDEV-SNAP console-before"
host_go
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	echo "LIBVDEV VIRTIO-GPU CONSOLE LINE $i: the quick brown fox jumps over the lazy dog" >/dev/tty1
done
check wrote-to-tty1 test $? = 0
echo "VDEV-SNAP console-after"
host_go
