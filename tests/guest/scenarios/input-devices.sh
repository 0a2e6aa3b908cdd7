# SPDX-License-Identifier: MIT
# virtio-input, capabilities: our two devices (a keyboard and a
# multi-touch screen, each a vhost-user-input daemon behind QEMU's
# vhost-user-input-pci) appear with the name, serial, ids and event bits
# our profiles give them (/proc/bus/input/devices).
t=0
while [ "$(grep -c 'N: Name="vdev-test' /proc/bus/input/devices 2>/dev/null)" -lt 2 ] && [ $t -lt 60 ]; do
	sleep 1
	t=$((t + 1))
done
# block NAME: the /proc/bus/input/devices entry of the device called NAME
block() {
	awk -v n="N: Name=\"$1\"" '
		/^I:/ { i = $0 }
		$0 == n { print i; on = 1; next }
		on && /^$/ { exit }
		on { print }' /proc/bus/input/devices
}
block "vdev-test keyboard" >/tmp/kbd.caps
block "vdev-test touch" >/tmp/touch.caps
line() { grep "^$1" "$2" | head -n1; }
expect kbd-ids "$(line I: /tmp/kbd.caps)" "I: Bus=0006 Vendor=0000 Product=0001 Version=0001"
expect kbd-serial "$(line U: /tmp/kbd.caps)" "U: Uniq=KBD-0001"
expect kbd-ev "$(line 'B: EV=' /tmp/kbd.caps)" "B: EV=120003"
expect kbd-keys "$(line 'B: KEY=' /tmp/kbd.caps)" \
	"B: KEY=1ffffffffffffff ffffffffffffffff ffffffffffffffff fffffffffffffffe"
expect kbd-leds "$(line 'B: LED=' /tmp/kbd.caps)" "B: LED=7"
expect touch-ids "$(line I: /tmp/touch.caps)" "I: Bus=0006 Vendor=0000 Product=0003 Version=0001"
expect touch-props "$(line 'B: PROP=' /tmp/touch.caps)" "B: PROP=2"
expect touch-ev "$(line 'B: EV=' /tmp/touch.caps)" "B: EV=b"
expect touch-keys "$(line 'B: KEY=' /tmp/touch.caps)" "B: KEY=400 0 0 0 0 0"
expect touch-abs "$(line 'B: ABS=' /tmp/touch.caps)" "B: ABS=260800000000003"
info kbd "$(tr '\n' '|' </tmp/kbd.caps)"
info touch "$(tr '\n' '|' </tmp/touch.caps)"
