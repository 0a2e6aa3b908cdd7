# SPDX-License-Identifier: MIT
# virtio-vsock (b): a host program's "CONNECT 6001" reaches this listener.
timeout 90 socat -u VSOCK-LISTEN:6001 CREATE:/tmp/vsock-b 2>/tmp/socat.err
expect host-connect-data "$(cat /tmp/vsock-b 2>/dev/null)" hello-over-connect
