#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Host side of the guest_console scenarios (run-uml-console.sh).

Connects to the daemon's port sockets and plays the host end of each:
  hvc0  waits for the guest shell's prompt, types commands and checks
        their output (the guest checks what they did);
  data  sends a line (delivered once the guest opens the port), waits for
        the guest's answer line;
  bulk  sends the 16 MiB file given, then reads exactly 16 MiB and prints
        its SHA-256 (the runner compares it with the guest's).
Everything waits for what it expects (bounded by the overall timeout),
never for a time. Prints PASS/FAIL host/<check> and HOST-INFO lines.

usage: console-host.py HVC_SOCK DATA_SOCK BULK_SOCK H2G_FILE TIMEOUT
(DATA_SOCK and BULK_SOCK "-": the device has port 0 only)
"""
import hashlib
import socket
import sys
import threading

hvc_path, data_path, bulk_path, h2g_file, timeout = sys.argv[1:6]
timeout = float(timeout)
lock = threading.Lock()
MIB16 = 16 << 20


def say(line):
    with lock:
        print(line, flush=True)


def result(name, ok, why=""):
    say(("PASS host/%s" % name) if ok else ("FAIL host/%s %s" % (name, why)))


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def read_until(s, buf, want):
    """Read from s until `want` is in buf; returns (found, buf)."""
    while want not in buf:
        try:
            d = s.recv(65536)
        except socket.timeout:
            return False, buf
        if not d:
            return False, buf
        buf += d
    return True, buf


def hvc():
    s = connect(hvc_path)
    # the prompt of the guest's interactive shell ("# " as root)
    ok, buf = read_until(s, b"", b"# ")
    result("hvc-prompt", ok, repr(buf[-80:]))
    if not ok:
        return
    s.sendall(b"tty >/tmp/hvc-tty; echo hvc-$((6*7))\n")
    ok, buf = read_until(s, buf, b"hvc-42\r\n")
    result("hvc-command-output", ok, repr(buf[-120:]))
    s.sendall(b'echo "done $(uname -r)" >/tmp/hvc-new; echo "kernel=$(uname -s)"\n')
    ok, buf = read_until(s, buf, b"kernel=Linux\r\n")
    result("hvc-second-command", ok, repr(buf[-120:]))
    # the guest waits for this file: our results are out before it goes on
    s.sendall(b"mv /tmp/hvc-new /tmp/hvc-host\n")
    # keep the session open until the guest is done with the port
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass


def data():
    s = connect(data_path)
    s.sendall(b"ping-from-host\n")
    ok, buf = read_until(s, b"", b"pong-from-guest\n")
    result("data-guest-to-host-line", ok, repr(buf[-80:]))
    if ok:
        s.sendall(b"ack-pong-from-guest\n")
        # until the guest closes the port (our socket stays open)
        read_until(s, b"", b"\0")


def bulk():
    s = connect(bulk_path)
    with open(h2g_file, "rb") as f:
        payload = f.read()
    try:
        s.sendall(payload)
        result("bulk-h2g-sent", True)
    except OSError as e:
        result("bulk-h2g-sent", False, str(e))
        return
    h = hashlib.sha256()
    got = 0
    try:
        while got < MIB16:
            d = s.recv(min(1 << 20, MIB16 - got))
            if not d:
                break
            h.update(d)
            got += len(d)
    except OSError:
        pass
    result("bulk-g2h-16-mib", got == MIB16, "got %d bytes" % got)
    say("HOST-INFO g2h-sha256 %s" % h.hexdigest())
    if got == MIB16:
        s.sendall(b"g2h %s\n" % h.hexdigest().encode())
        read_until(s, b"", b"\0")


roles = (hvc,) if data_path == "-" else (hvc, data, bulk)
threads = [threading.Thread(target=f, daemon=True) for f in roles]
for t in threads:
    t.start()
# Each keeps its session until the guest is gone (the runner then stops
# us); results are printed as they come.
for t in threads:
    t.join(timeout)
