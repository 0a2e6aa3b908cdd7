# SPDX-License-Identifier: MIT
# virtio-vsock (d): seqpacket message boundaries, messages of distinct
# sizes (1 B .. 200000 B) echoed one at a time, both ways: the guest
# connects to host port 5003 (a SOCK_SEQPACKET listener at <uds>_5003),
# and the host connects through <uds>.seqpacket to a guest listener on
# 6003. vsock-seq is the static helper the runner adds to the initramfs.
check seq-guest-connect timeout 60 vsock-seq connect 2 5003
timeout 90 vsock-seq listen 6003 >/tmp/seq.out 2>&1
rc=$?
info seq-listen-got "$(tr ' ' , </tmp/seq.out | sed 's/^vsock-seq:,got,//')"
expect seq-guest-listen "$rc" 0
