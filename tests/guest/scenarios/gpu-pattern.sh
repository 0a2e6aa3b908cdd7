# SPDX-License-Identifier: MIT
# A framebuffer with pitch width * 4 + 64 (ADDFB2) scanned out with SETCRTC
# at the preferred mode, drawn with a known pattern by vdev-drm (a guest
# blob when RESOURCE_BLOB is offered, else a dumb buffer); the host
# compares our daemon's image file and QEMU's screendump with the pattern
# pixel for pixel at the VDEV-SNAP line.
# vdev-drm keeps the frame on screen until /tmp/pattern.go exists, which
# is after the host has taken its screenshots (host_go).
: >/tmp/pattern.txt
vdev-drm pattern /tmp/pattern.go >/tmp/pattern.txt 2>&1 &
drm=$!
n=0
while kill -0 $drm 2>/dev/null && ! grep -q '^VDEV-SNAP pattern' /tmp/pattern.txt; do
	n=$((n + 1))
	[ $n -gt 6000 ] && break
	sleep 0.1
done
cat /tmp/pattern.txt
grep -q '^VDEV-SNAP pattern' /tmp/pattern.txt && host_go
touch /tmp/pattern.go
wait $drm
check pattern-on-screen grep -q '^VDEV-SNAP pattern' /tmp/pattern.txt
info path "$(awk '$1 == "path" { print $2 }' /tmp/pattern.txt)"
info geometry "$(awk '$1 == "pattern" { print $2, $3, $4 }' /tmp/pattern.txt)"
