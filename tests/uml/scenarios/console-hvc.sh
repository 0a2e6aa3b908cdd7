# SPDX-License-Identifier: MIT
# hvc0 carries a login shell driven from the host: a busybox sh on hvc0
# (its controlling terminal); the host's script (console-host.py) waits
# for its prompt on the console socket, runs commands through it and
# checks their output. Here the guest checks that the commands ran: the
# file one of them wrote holds what the host typed.
setsid sh -c 'exec sh -i <>/dev/hvc0 >&0 2>&1' &
info shell-pid "$!"
t=0
while ! grep -q '^done ' /tmp/hvc-host 2>/dev/null && [ $t -lt 1200 ]; do
	sleep 0.1
	t=$((t + 1))
done
expect host-command-ran "$(cat /tmp/hvc-host 2>/dev/null)" "done $(uname -r)"
expect host-session-tty "$(cat /tmp/hvc-tty 2>/dev/null)" /dev/hvc0
