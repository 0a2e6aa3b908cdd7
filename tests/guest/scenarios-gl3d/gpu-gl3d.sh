# SPDX-License-Identifier: MIT
# 3D through virgl (guest_gpu3d; this scenario rides in the Mesa archive
# run-guest-gpu3d.sh appends, not in the cached base image). vdev-gl3d
# draws gpu_gl3d_scene.h's scene with Debian's Mesa on the virtio-gpu
# render node: GL_RENDERER must name virgl, the read-back of a framebuffer
# object and of the window surface must match the scene, and the frame
# is scanned out from its GBM bo; at "VDEV-SNAP gl3d" the host checks our
# daemon's image and QEMU's screendump, then writes a line to /dev/ttyS1.
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu
export LIBGL_DEBUG=verbose
info dri "$(ls /dev/dri 2>/dev/null | tr '\n' ' ')"
# the file exists before tail opens it (else busybox tail gives up at once
# and the host never sees VDEV-SNAP)
: >/tmp/gl3d.txt
vdev-gl3d /dev/dri/card0 /dev/ttyS1 >>/tmp/gl3d.txt 2>&1 &
gl=$!
# the console sees the output as it comes (the host waits for VDEV-SNAP)
tail -f /tmp/gl3d.txt &
tailpid=$!
wait $gl
echo "VDEV-INFO $SCEN/exit $?"
kill $tailpid
while read -r tag name verdict reason; do
	[ "$tag" = check ] || continue
	case "$verdict" in
	PASS) pass "$name" ;;
	*) fail "$name" "$reason" ;;
	esac
done </tmp/gl3d.txt
grep -q '^check hold ' /tmp/gl3d.txt || fail hold "vdev-gl3d ended before it showed the frame"
for k in gl-renderer gl-version mode scanout-bo; do
	info "$k" "$(sed -n "s/^$k //p" /tmp/gl3d.txt)"
done
if dmesg | grep -iE 'virtio_gpu.*(error|fail)|\*ERROR\*' >/tmp/gpuerr.txt; then
	fail no-gpu-errors-in-kernel-log "$(head -c 300 /tmp/gpuerr.txt | tr '\n' ' ')"
else
	pass no-gpu-errors-in-kernel-log
fi
