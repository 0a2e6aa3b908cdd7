# SPDX-License-Identifier: MIT
# virtio-vsock (a): the guest connects to host port 5001 and reaches the
# host's Unix listener at <uds>_5001, which answers one line.
check socat-has-vsock sh -c 'socat -V | grep -q "WITH_VSOCK 1"'
check vsock-device sh -c 'ls /sys/bus/virtio/drivers/vmw_vsock_virtio_transport | grep -q virtio'
got=$(echo hello-from-guest | timeout 60 socat -t 30 - VSOCK-CONNECT:2:5001 2>/tmp/socat.err)
expect guest-connect-reply "$got" hello-from-host
