#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# virtio-gpu 3D in a real guest: Debian's kernel and Debian's Mesa (the
# virgl driver) under QEMU (software emulation, never KVM), our
# vhost-user-gpu daemon with --virgl-software (virglrenderer on llvmpipe)
# behind QEMU's vhost-user-gpu-pci, which offers VIRGL because our
# back-end does.
#
# The guest image is build-guest.sh's cached one plus two appended cpio
# archives: Debian's Mesa with its libraries (build-guest-mesa.sh, cached
# too) and vdev-gl3d (built here against those libraries) with its
# scenario. In the guest (scenario gpu-gl3d): GL_RENDERER names virgl,
# gpu_gl3d_scene.h's scene (clear, depth-tested triangles, a texture)
# read back from a framebuffer object and from the window surface matches
# exactly off its edges, and the frame is scanned out from its GBM bo
# (ADDFB2 + SETCRTC). At the guest's "VDEV-SNAP gl3d" the host polls our
# daemon's PNG until it shows the scene (or a deadline passes), takes a
# QMP screendump, checks both with gpu-imgcheck gl3d, and only then lets
# the guest go on (a line on its second serial port, /dev/ttyS1).
# Then (scenario kmscube) an unmodified program, Debian's kmscube, spins
# its cube on the CRTC; at "VDEV-SNAP kmscube" the host collects
# $CUBE_FRAMES different frames from our daemon's PNG and lets the guest
# stop it; kmscube must have run until then without an error.
#
# usage: run-guest-gpu3d.sh --daemon PATH [--imgcheck PATH] [--timeout SEC]
#                           [--keep] [--demo] [--save-png FILE] [--save-cube FILE]
#                           [--cube-frames N]
# (without --imgcheck, tests/guest/gpu-imgcheck.c is compiled here.)
# --save-png copies the daemon's image of the 3D frame to FILE, --save-cube
# the last kmscube frame the host saw. --cube-frames N (the frame-rate
# benchmark, tests/bench/bench-gpu3d-guest.sh) then has kmscube draw N
# frames and prints "run-guest-gpu3d: fps" with its rate and the CPU time
# our daemon and QEMU spent meanwhile. With VDEV_PIN=1 QEMU runs on CPU 0
# and the daemon on CPU 1 (taskset).
# Exit: 0 all checks passed; 1 a check failed, was missing or unparsable;
# 77 skipped (QEMU, python3, cpio or a 3D-capable daemon unavailable).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
daemon="" imgcheck="" timeout=900 keep=0 demo=0 save_png="" save_cube="" fps_frames=""
while [ $# -gt 0 ]; do
	case "$1" in
	--daemon) daemon=$2; shift ;;
	--imgcheck) imgcheck=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--keep) keep=1 ;;
	--demo) demo=1 ;;
	--save-png) save_png=$2; shift ;;
	--save-cube) save_cube=$2; shift ;;
	--cube-frames) fps_frames=$2; shift ;;
	*) echo "run-guest-gpu3d: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
[ -x "$daemon" ] || { echo "run-guest-gpu3d: --daemon is required" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (tests/guest/setup-host.sh installs it)"
qemu-system-x86_64 -device help 2>/dev/null | grep -q '"vhost-user-gpu-pci"' ||
	skip "this QEMU has no vhost-user-gpu-pci"
command -v python3 >/dev/null || skip "python3 (for QMP) not installed"
command -v cpio >/dev/null || skip "cpio not installed"
"$daemon" --help 2>&1 | grep -q -- '--virgl-software' || skip "this vhost-user-gpu has no --virgl-software"

tmp=$(mktemp -d /tmp/vdev-gpu3d.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ "$keep" = 1 ] && echo "run-guest-gpu3d: kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
if [ -z "$imgcheck" ]; then
	imgcheck=$tmp/gpu-imgcheck
	# shellcheck disable=SC2046
	cc -O2 -DVDEV_HAVE_LIBPNG=1 -I"$here" $(pkg-config --cflags libpng 2>/dev/null) \
		-o "$imgcheck" "$here/gpu-imgcheck.c" $(pkg-config --libs libpng 2>/dev/null) ||
		{ echo "run-guest-gpu3d: cannot build gpu-imgcheck (libpng-dev?)"; exit 1; }
fi

guest=$("$here/build-guest.sh") || { echo "run-guest-gpu3d: building the guest failed"; exit 1; }
kernel=$(echo "$guest" | sed -n 's/^KERNEL=//p')
initrd=$(echo "$guest" | sed -n 's/^INITRD=//p')
mesa=$("$here/build-guest-mesa.sh") || { echo "run-guest-gpu3d: fetching the guest's Mesa failed"; exit 1; }
mesa_cpio=$(echo "$mesa" | sed -n 's/^MESA_CPIO=//p')
sysroot=$(echo "$mesa" | sed -n 's/^MESA_SYSROOT=//p')

# vdev-gl3d: EGL/GLES headers from the host (libegl-dev, libgles-dev),
# gbm.h and libdrm's from the sysroot, linked with the guest's libraries.
[ -f /usr/include/EGL/egl.h ] && [ -f /usr/include/GLES2/gl2.h ] ||
	skip "EGL/GLES headers not installed (Debian: libegl-dev libgles-dev)"
lib=$sysroot/usr/lib/x86_64-linux-gnu
mkdir -p "$tmp/extra/usr/sbin" "$tmp/extra/scenarios"
cc -std=c11 -O2 -Wall -Wextra -Werror -I"$here" -I"$sysroot/usr/include" \
	-I"$sysroot/usr/include/libdrm" -o "$tmp/extra/usr/sbin/vdev-gl3d" "$here/vdev-gl3d.c" \
	"$lib/libEGL.so.1" "$lib/libGLESv2.so.2" "$lib/libgbm.so.1" "$lib/libdrm.so.2" \
	-Wl,-rpath-link,"$lib" || { echo "run-guest-gpu3d: cannot build vdev-gl3d"; exit 1; }
cp "$here/scenarios-gl3d/gpu-gl3d.sh" "$here/scenarios-gl3d/kmscube.sh" "$tmp/extra/scenarios/"
# Linux unpacks concatenated archives in order: base image, Mesa, ours.
(cd "$tmp/extra" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$tmp/extra.gz"
cat "$initrd" "$mesa_cpio" "$tmp/extra.gz" >"$tmp/initrd.gz"

W=640 H=480
# distinct kmscube frames the host must see
CUBE_FRAMES=5
# Mesa's driver stays loaded at the daemon's exit (no-dlclose.c says why);
# the preload comes before a sanitizer runtime, which must be told so.
cc -shared -fPIC -O2 -Wall -Wextra -Werror -o "$tmp/no-dlclose.so" "$here/no-dlclose.c" ||
	{ echo "run-guest-gpu3d: cannot build no-dlclose.so"; exit 1; }
pin_daemon=() pin_qemu=()
if [ "${VDEV_PIN:-0}" = 1 ]; then
	command -v taskset >/dev/null || { echo "run-guest-gpu3d: VDEV_PIN=1 needs taskset"; exit 1; }
	pin_daemon=(taskset -c 1) pin_qemu=(taskset -c 0)
	echo "run-guest-gpu3d: QEMU pinned to CPU 0, the daemon to CPU 1"
fi
LD_PRELOAD="$tmp/no-dlclose.so" ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}verify_asan_link_order=0" \
	"${pin_daemon[@]}" "$daemon" --socket-path="$tmp/gpu.sock" --png="$tmp/screen.png" --interval-ms=100 \
	--width=$W --height=$H --virgl-software --stats >"$tmp/daemon.log" 2>&1 &
pids+=($!)
if ! wait_socket "$tmp/gpu.sock"; then
	# a build without virglrenderer says so and exits
	if ! kill -0 "${pids[0]}" 2>/dev/null && grep -q "no 3D renderer" "$tmp/daemon.log"; then
		skip "$(head -n 3 "$tmp/daemon.log")"
	fi
	cat "$tmp/daemon.log"
	exit 1
fi

# 1 GiB: the unpacked initramfs alone is ~250 MiB with Mesa's libraries.
start=$(date +%s)
timeout "$timeout" "${pin_qemu[@]}" qemu-system-x86_64 -accel tcg -cpu max -m 1G -smp 1 \
	-object memory-backend-memfd,id=mem,size=1G,share=on -machine q35,memory-backend=mem \
	-nodefaults -vga none -display none -serial "file:$tmp/console" -no-reboot \
	-chardev socket,id=ctl,path="$tmp/ctl.sock",server=on,wait=off -device isa-serial,chardev=ctl \
	-qmp "unix:$tmp/qmp.sock,server=on,wait=off" \
	-kernel "$kernel" -initrd "$tmp/initrd.gz" \
	-append "console=ttyS0 quiet vdev.scenarios=gpu-gl3d,kmscube${fps_frames:+ vdev.cube_frames=$fps_frames}" \
	-chardev socket,id=gpu,path="$tmp/gpu.sock" -device vhost-user-gpu-pci,chardev=gpu \
	>"$tmp/qemu.log" 2>&1 &
qpid=$!

# At VDEV-SNAP gl3d: wait for the state (our daemon's file shows the
# scene; it is rewritten as llvmpipe renders and flushes), with a
# deadline; then QEMU's screendump; then tell the guest.
# At VDEV-SNAP kmscube: collect successive, different, non-blank frames
# of the spinning cube from our daemon's file (it is replaced whole, by
# rename), with a deadline; then tell the guest.
snapped=0 png_secs="" cubed=0 cube_frames=0 cube_secs=""
fps_t0="" fps_t1="" fps_q0="" fps_q1="" qemu_pid=""
# cpu_ticks PID: user + system time of a process, in clock ticks
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
declare -A seen=()
release() {
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sys.argv[1]); s.sendall(b"go\n"); s.close()' \
		"$tmp/ctl.sock" 2>>"$tmp/qmp.log"
}
while kill -0 "$qpid" 2>/dev/null; do
	if [ $snapped = 0 ] && tr -d '\r' 2>/dev/null <"$tmp/console" | grep -aq '^VDEV-SNAP gl3d$'; then
		snapped=1
		t0=$(date +%s)
		while [ $(($(date +%s) - t0)) -lt 120 ]; do
			cp "$tmp/screen.png" "$tmp/gl3d.png" 2>/dev/null &&
				"$imgcheck" gl3d "$tmp/gl3d.png" $W $H >/dev/null 2>&1 && break
			sleep 0.5
		done
		png_secs=$(($(date +%s) - t0))
		python3 "$here/qmp-screendump.py" "$tmp/qmp.sock" "$tmp/gl3d.qemu.ppm" 2>>"$tmp/qmp.log"
		seen[$(md5sum <"$tmp/gl3d.png" | cut -c1-32)]=gl3d
		release
	fi
	if [ $cubed = 0 ] && tr -d '\r' 2>/dev/null <"$tmp/console" | grep -aq '^VDEV-SNAP kmscube$'; then
		cubed=1
		t0=$(date +%s)
		while [ $cube_frames -lt $CUBE_FRAMES ] && [ $(($(date +%s) - t0)) -lt 300 ] &&
			kill -0 "$qpid" 2>/dev/null; do
			if cp "$tmp/screen.png" "$tmp/cube.png" 2>/dev/null &&
				"$imgcheck" nonblank "$tmp/cube.png" 2000 >/dev/null 2>&1; then
				h=$(md5sum <"$tmp/cube.png" | cut -c1-32)
				if [ -z "${seen[$h]:-}" ]; then
					cube_frames=$((cube_frames + 1))
					seen[$h]=cube
					cp "$tmp/cube.png" "$tmp/cube-$cube_frames.png"
				fi
			fi
			sleep 0.2
		done
		cube_secs=$(($(date +%s) - t0))
		release
	fi
	if [ -n "$fps_frames" ]; then
		if [ -z "$fps_t0" ] && tr -d '\r' 2>/dev/null <"$tmp/console" | grep -aq '^VDEV-FPS begin'; then
			qemu_pid=$(awk '{print $1}' "/proc/$qpid/task/$qpid/children" 2>/dev/null) # timeout's child
			fps_t0=$(cpu_ticks "${pids[0]}") fps_q0=$(cpu_ticks "$qemu_pid")
		elif [ -n "$fps_t0" ] && [ -z "$fps_t1" ] &&
			tr -d '\r' 2>/dev/null <"$tmp/console" | grep -aq '^VDEV-FPS end'; then
			fps_t1=$(cpu_ticks "${pids[0]}") fps_q1=$(cpu_ticks "$qemu_pid")
		fi
	fi
	sleep 0.2
done
wait "$qpid"
rc=$?
secs=$(($(date +%s) - start))
status=0
[ $rc = 124 ] && { echo "FAIL guest: did not finish within ${timeout}s"; status=1; }

# ---- results (strict: a skip with our daemon is a gap) ----
pass=0 fail=0 skipped=0
tr -d '\r' <"$tmp/console" >"$tmp/clean" 2>/dev/null
for scen in gpu-gl3d kmscube; do
	end=$(grep -a "^VDEV-SCENARIO-END $scen " "$tmp/clean" | awk '{print $3}')
	got=$(grep -ac "^VDEV-RESULT $scen/" "$tmp/clean")
	if [ -z "$end" ]; then
		echo "FAIL $scen: scenario did not finish"
		status=1
	elif [ "$end" != "$got" ]; then
		echo "FAIL $scen: $got result lines, the scenario reported $end checks"
		status=1
	fi
done
while read -r _ name verdict reason; do
	case "$verdict" in
	PASS) pass=$((pass + 1)); echo "PASS guest/$name" ;;
	SKIP) skipped=$((skipped + 1)); echo "SKIP guest/$name ($reason)"; status=1 ;;
	*) fail=$((fail + 1)); echo "FAIL guest/$name $reason"; status=1 ;;
	esac
done < <(grep -a "^VDEV-RESULT " "$tmp/clean")
grep -aq "^VDEV-DONE" "$tmp/clean" || { echo "FAIL guest: did not complete its run"; status=1; }

hcv() { # hcv NAME CMD...: hc, and keep the tool's account for the log
	local n=$1
	shift
	"$@" >>"$tmp/imgcheck.log" 2>&1
	hc "$n" "$@"
}
[ $snapped = 1 ] || { echo "FAIL host: the guest never showed its frame (no VDEV-SNAP gl3d)"; status=1; }
hcv scene-in-daemon-png "$imgcheck" gl3d "$tmp/gl3d.png" $W $H
hcv scene-in-qemu-screendump "$imgcheck" gl3d "$tmp/gl3d.qemu.ppm" $W $H
[ $cubed = 1 ] || { echo "FAIL host: the guest never ran kmscube (no VDEV-SNAP kmscube)"; status=1; }
if [ $cube_frames -ge $CUBE_FRAMES ]; then
	echo "PASS host/kmscube-successive-frames ($cube_frames different frames in ${cube_secs}s)"
	pass=$((pass + 1))
else
	echo "FAIL host/kmscube-successive-frames (only $cube_frames of $CUBE_FRAMES different frames in ${cube_secs:-?}s)"
	fail=$((fail + 1))
	status=1
fi
# the first and the last frame seen differ visibly (the cube turned)
hcv kmscube-cube-turned "$imgcheck" diff "$tmp/cube-1.png" "$tmp/cube-$CUBE_FRAMES.png" 500 $((W * H))
kill -TERM "${pids[0]}" 2>/dev/null
if wait "${pids[0]}"; then
	echo "PASS host/daemon-clean-exit"
	pass=$((pass + 1))
else
	echo "FAIL host/daemon-clean-exit"
	fail=$((fail + 1))
	status=1
fi
pids=()
[ -n "$save_png" ] && cp "$tmp/gl3d.png" "$save_png" 2>/dev/null &&
	echo "run-guest-gpu3d: the guest's 3D frame is in $save_png"
if [ -n "$fps_frames" ]; then
	rendered=$(grep -a "^VDEV-INFO kmscube/fps " "$tmp/clean" | sed 's/^VDEV-INFO kmscube\/fps //')
	if [ -n "$rendered" ] && [ -n "$fps_t1" ]; then
		hz=$(getconf CLK_TCK)
		echo "run-guest-gpu3d: fps: $rendered;" \
			"daemon $(((fps_t1 - fps_t0) * 1000 / hz)) ms CPU," \
			"QEMU $(((fps_q1 - fps_q0) * 1000 / hz)) ms CPU for $fps_frames frames"
	else
		echo "FAIL host/kmscube-frame-rate (no rate from the guest, or the markers were missed)"
		status=1
	fi
fi
[ -n "$save_cube" ] && cp "$tmp/cube-$cube_frames.png" "$save_cube" 2>/dev/null &&
	echo "run-guest-gpu3d: a frame of the guest's kmscube is in $save_cube"
if [ "$demo" = 1 ] || [ $status != 0 ]; then
	echo "--- what the guest saw and what the device did"
	grep -a "^VDEV-INFO" "$tmp/clean" | sed "s/^VDEV-INFO /  guest: /"
	sed "s|$tmp/||g; s/^/  /" "$tmp/daemon.log" "$tmp/imgcheck.log"
fi
echo "run-guest-gpu3d: $pass passed, $fail failed, $skipped skipped, guest ran ${secs}s" \
	"(daemon's image right ${png_secs:-?}s after the guest's scanout)"
if [ $status != 0 ]; then
	echo "--- console (last 40 lines) ---"
	tail -n 40 "$tmp/clean"
	tail -n 5 "$tmp/qemu.log" "$tmp/qmp.log" 2>/dev/null
fi
exit $status
