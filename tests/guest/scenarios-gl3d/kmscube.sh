# SPDX-License-Identifier: MIT
# An unmodified GL program on the virtio-gpu (guest_gpu3d; rides in the
# archive run-guest-gpu3d.sh appends): Debian's kmscube draws its spinning
# cube with the virgl driver and flips it onto the CRTC, frame after frame.
# At "VDEV-SNAP kmscube" the host collects successive, different frames
# from our daemon's image; when it has enough (or gives up) it writes a
# line to /dev/ttyS1 and the cube is stopped here. kmscube must still be
# running then (it exits on any EGL/DRM error), must not have printed an
# error, and the kernel log must show no GPU error.
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu
: >/tmp/kmscube.txt
# kmscube stops at the first byte (or EOF) on its standard input, so it
# reads from a FIFO whose writer stays silent until the end
mkfifo /tmp/kmscube.in
sleep 100000 >/tmp/kmscube.in &
quiet=$!
kmscube -D /dev/dri/card0 -c 1000000 </tmp/kmscube.in >>/tmp/kmscube.txt 2>&1 &
cube=$!
# kmscube prints its EGL information once it has a context; the first
# frame follows
n=0
while kill -0 $cube 2>/dev/null && ! grep -q '^Using display' /tmp/kmscube.txt; do
	n=$((n + 1))
	[ $n -gt 6000 ] && break
	sleep 0.1
done
if kill -0 $cube 2>/dev/null; then
	pass started
	echo "VDEV-SNAP kmscube"
	# the host answers on the second serial port when it has seen the frames
	if timeout 600 head -n 1 /dev/ttyS1 >/tmp/kmscube-host.txt; then
		info host-says "$(cat /tmp/kmscube-host.txt)"
	fi
	if kill -0 $cube 2>/dev/null; then
		pass ran-until-stopped
	else
		wait $cube
		fail ran-until-stopped "kmscube exited by itself (status $?) while the host watched"
	fi
	kill $cube 2>/dev/null
	wait $cube 2>/dev/null
else
	wait $cube
	fail started "kmscube exited with status $? before it drew"
fi
# Frame rate (bench-gpu3d-guest.sh): with vdev.cube_frames=N, kmscube
# draws N frames in the foreground and says how long that took; the host
# reads the daemon's CPU time at the two markers.
frames=$(param vdev.cube_frames)
if [ -n "$frames" ]; then
	echo "VDEV-FPS begin"
	kmscube -D /dev/dri/card0 -c "$frames" </tmp/kmscube.in >/tmp/kmscube-fps.txt 2>&1
	echo "VDEV-FPS end $?"
	# kmscube reports every few seconds ("Rendered F frames in S sec
	# (R fps)", each for the time since the last); the sum of them
	info fps "$(awk '/^Rendered/ { f += $2; s += $5 }
		END { if (s > 0) printf "%d frames in %.2f s: %.2f fps\n", f, s, f / s }' /tmp/kmscube-fps.txt)"
fi
kill $quiet 2>/dev/null
# What kmscube said, less Mesa's notes on absent drirc files, its EGL/GL
# information dump (indented, or the wrapped tail of the extension list,
# whose names include "error") and its "Modifiers failed!" (that dump's
# note that the driver lists no format modifiers).
said() {
	grep -v -e drirc -e '^ ' -e '^[a-z_]* GL_' -e '^Modifiers failed!$' /tmp/kmscube.txt
}
said | head -n 20 | while read -r l; do info said "$l"; done
if said | grep -iE 'fail|error|not found|cannot|could not|interrupted' >/tmp/kmscube-err.txt; then
	fail no-errors-from-kmscube "$(head -c 300 /tmp/kmscube-err.txt | tr '\n' ' ')"
else
	pass no-errors-from-kmscube
fi
if dmesg | grep -iE 'virtio_gpu.*(error|fail)|\*ERROR\*' >/tmp/gpuerr.txt; then
	fail no-gpu-errors-in-kernel-log "$(head -c 300 /tmp/gpuerr.txt | tr '\n' ' ')"
else
	pass no-gpu-errors-in-kernel-log
fi
