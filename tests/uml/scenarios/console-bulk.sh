# SPDX-License-Identifier: MIT
# 16 MiB each way through a named port, checked by SHA-256 on both sides:
# host -> guest first (the guest reads exactly 16 MiB; the runner compares
# the hashes), then guest -> host, which the host answers with the hash of
# what it got (the guest compares; a port write returns before the host
# has the bytes, so this is also how the guest knows they arrived).
p=/dev/virtio-ports/$(param vdev.console.bulk)
exec 3<>$p
timeout 300 head -c 16777216 <&3 >/tmp/con-in
expect h2g-16-mib "$(wc -c </tmp/con-in)" 16777216
info h2g-sha256 "$(sha256sum /tmp/con-in | cut -d' ' -f1)"
rm -f /tmp/con-in
dd if=/dev/urandom of=/tmp/con-out bs=1M count=16 2>/dev/null
sha=$(sha256sum /tmp/con-out | cut -d' ' -f1)
info g2h-sha256 "$sha"
check g2h-16-mib-written timeout 300 sh -c "cat /tmp/con-out >&3"
expect g2h-host-hash "$(timeout 300 head -n1 <&3)" "g2h $sha"
exec 3>&-
rm -f /tmp/con-out
