# SPDX-License-Identifier: MIT
# virtio-gpu with the whole device ours (UML's virtio_uml hands the
# back-end config space and both queues): RESOURCE_BLOB reaches the guest,
# so vdev-drm's pattern (pitch width * 4 + 64) is a guest blob scanned out
# with SET_SCANOUT_BLOB. The pattern stays on screen until the host, which
# checks our daemon's PNG pixel for pixel, says so through hostfs.
mkdir -p /host
check hostfs mount -t hostfs none /host -o "$(param vdev.hostdir)"
vdev-drm info >/tmp/drm.txt 2>&1
expect blob-offered "$(awk '$1 == "blob" { print $2 }' /tmp/drm.txt)" 1
vdev-drm pattern /host/ack-pattern 2>&1 | tee /tmp/pattern.txt
check pattern-on-screen grep -q '^VDEV-SNAP pattern' /tmp/pattern.txt
expect scanout-path "$(awk '$1 == "path" { print $2 }' /tmp/pattern.txt)" blob
info geometry "$(awk '$1 == "pattern" { print $2, $3, $4 }' /tmp/pattern.txt)"
check host-saw-pattern test -e /host/pattern-ok
