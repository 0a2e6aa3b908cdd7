# SPDX-License-Identifier: MIT
# virtio-vsock (c): 64 MiB each way. Host -> guest through a guest
# listener on 6002 (the host CONNECTs), guest -> host to host port 5002;
# both sides report the SHA-256 of what they sent and got (the host
# compares).
timeout 150 socat -u VSOCK-LISTEN:6002 CREATE:/tmp/vsock-in 2>/tmp/socat.err
expect h2g-64-mib "$(wc -c </tmp/vsock-in)" 67108864
info h2g-sha256 "$(sha256sum /tmp/vsock-in | cut -d' ' -f1)"
rm -f /tmp/vsock-in
dd if=/dev/urandom of=/tmp/vsock-out bs=1M count=64 2>/dev/null
info g2h-sha256 "$(sha256sum /tmp/vsock-out | cut -d' ' -f1)"
check g2h-64-mib timeout 150 socat -u FILE:/tmp/vsock-out VSOCK-CONNECT:2:5002
rm -f /tmp/vsock-out
