# SPDX-License-Identifier: MIT
# A framebuffer with pitch width * 4 + 64 (ADDFB2) scanned out with SETCRTC
# at the preferred mode, drawn with a known pattern by vdev-drm (a guest
# blob when RESOURCE_BLOB is offered, else a dumb buffer); the host
# compares our daemon's image file and QEMU's screendump with the pattern
# pixel for pixel at the VDEV-SNAP line.
vdev-drm pattern 4 2>&1 | tee /tmp/pattern.txt
check pattern-on-screen grep -q '^VDEV-SNAP pattern' /tmp/pattern.txt
info path "$(awk '$1 == "path" { print $2 }' /tmp/pattern.txt)"
info geometry "$(awk '$1 == "pattern" { print $2, $3, $4 }' /tmp/pattern.txt)"
