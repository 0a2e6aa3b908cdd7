# SPDX-License-Identifier: MIT
# A named port carries data both ways: the host's line arrives once the
# guest opens the port (the daemon reads its socket only then), the
# guest's answer reaches the host, and the host's acknowledgement of it
# comes back (so the guest knows its bytes left the ring).
p=/dev/virtio-ports/$(param vdev.console.data)
exec 3<>$p
expect host-to-guest-line "$(timeout 120 head -n1 <&3)" ping-from-host
echo pong-from-guest >&3
expect host-got-guest-line "$(timeout 120 head -n1 <&3)" ack-pong-from-guest
exec 3>&-
