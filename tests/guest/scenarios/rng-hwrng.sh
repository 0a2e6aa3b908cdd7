# SPDX-License-Identifier: MIT
# virtio-rng: the guest's hardware RNG is our device (rng_current names
# virtio_rng) and /dev/hwrng gives bytes of the known stream our daemon
# serves. The kernel's own hwrng thread takes some of the device's answers
# too, so the host checks that these 2048 bytes are pieces of the stream
# in order (run-guest-rng.sh), from the hex and hash printed here.
t=0
while ! grep -q '^virtio_rng' /sys/class/misc/hw_random/rng_current 2>/dev/null && [ $t -lt 60 ]; do
	sleep 1
	t=$((t + 1))
done
cur=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
case "$cur" in
virtio_rng.*) pass rng-current ;;
*) fail rng-current "rng_current is '$cur'" ;;
esac
info rng-available "$(cat /sys/class/misc/hw_random/rng_available 2>/dev/null | tr ' ' ,)"
# 64-byte reads: the driver's buffer size, one device answer each
if timeout 120 dd if=/dev/hwrng of=/tmp/hwrng bs=64 count=32 2>/tmp/dd.err; then
	expect hwrng-read "$(wc -c </tmp/hwrng | tr -d ' ')" 2048
	info hwrng-sha256 "$(sha256sum /tmp/hwrng | cut -d' ' -f1)"
	info hwrng-hex "$(od -An -v -tx1 /tmp/hwrng | tr -d ' \n')"
else
	fail hwrng-read "$(tr '\n' ' ' </tmp/dd.err)"
fi
