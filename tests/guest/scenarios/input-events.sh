# SPDX-License-Identifier: MIT
# virtio-input, events: vdev-evread (a static helper the runner adds)
# opens each of our devices, turns the keyboard's CapsLock LED on (the
# host checks the daemon got it on the status queue), says READY; then the
# guest asks the host (VDEV-REQ input-send) to send key presses and a
# multi-touch sequence (two contacts, slots 1 and 0) through the daemons'
# event sockets, and the events read from /dev/input/event* must be
# exactly these, in order. The touch frames are longer than QEMU's 4-entry
# event queue, so they also go through the device's backlog.
rm -f /tmp/kbd.ev /tmp/touch.ev
vdev-evread "vdev-test keyboard" 8 120 1 >/tmp/kbd.ev 2>&1 &
kpid=$!
vdev-evread "vdev-test touch" 22 120 >/tmp/touch.ev 2>&1 &
tpid=$!
# wait until both readers are ready (or gone)
t=0
while [ $t -lt 600 ]; do
	grep -q '^READY' /tmp/kbd.ev 2>/dev/null && grep -q '^READY' /tmp/touch.ev 2>/dev/null && break
	kill -0 $kpid 2>/dev/null || break
	kill -0 $tpid 2>/dev/null || break
	sleep 0.1
	t=$((t + 1))
done
echo "VDEV-REQ input-send"
wait $kpid
krc=$?
wait $tpid
trc=$?
expect kbd-reader "$krc" 0
expect touch-reader "$trc" 0
cat >/tmp/kbd.want <<'W'
EV 1 30 1
EV 0 0 0
EV 1 30 0
EV 0 0 0
EV 1 48 1
EV 0 0 0
EV 1 48 0
EV 0 0 0
W
# type B multi-touch: the input core reports ABS_MT_SLOT just before the
# first change in another slot (the host sends it at the start of each frame)
cat >/tmp/touch.want <<'W'
ABS 47 0 4
ABS 53 0 1023
ABS 54 0 599
EV 3 47 1
EV 3 57 100
EV 3 53 300
EV 3 54 200
EV 1 330 1
EV 3 0 300
EV 3 1 200
EV 0 0 0
EV 3 47 0
EV 3 57 101
EV 3 53 500
EV 3 54 400
EV 0 0 0
EV 3 47 1
EV 3 53 310
EV 0 0 0
EV 3 57 -1
EV 0 0 0
EV 3 47 0
EV 3 57 -1
EV 1 330 0
EV 0 0 0
W
grep -E '^(EV|ABS) ' /tmp/kbd.ev >/tmp/kbd.got
grep -E '^(EV|ABS) ' /tmp/touch.ev >/tmp/touch.got
check kbd-events-in-order diff /tmp/kbd.want /tmp/kbd.got
check touch-slots-in-order diff /tmp/touch.want /tmp/touch.got
info kbd-reader "$(tr '\n' '|' </tmp/kbd.ev)"
info touch-reader "$(tr '\n' '|' </tmp/touch.ev)"
