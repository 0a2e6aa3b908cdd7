#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The host side of the vsock guest scenarios (run-guest-vsock.sh).

Talks to vhost-user-vsock's Unix-socket bridge at UDS while the guest runs
the vsock-* scenarios: listeners at UDS_5001 (a line each way), UDS_5002
(64 MiB from the guest), UDS_5003 (SOCK_SEQPACKET echo); host-initiated
connections with "CONNECT <port>\\n" to guest ports 6001 (a line), 6002
(64 MiB to the guest) and, through UDS.seqpacket, 6003 (seqpacket
messages). Malformed CONNECT lines must get the socket closed.

Prints "PASS host/<name>" / "FAIL host/<name> <reason>" and
"HOST-INFO <key> <value>" lines; touches READY once the listeners are up.

usage: vsock-host.py UDS READY TIMEOUT
"""
import hashlib
import os
import socket
import sys
import threading
import time

uds, ready, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
lock = threading.Lock()
deadline = time.monotonic() + timeout
SIZES = [1, 2, 3, 100, 1000, 4095, 4096, 4097, 30000, 65536, 100000, 200000]
BULK = 64 << 20


def out(line):
    with lock:
        print(line, flush=True)


def result(name, ok, why=""):
    out(f"PASS host/{name}" if ok else f"FAIL host/{name} {why}")


def listener(port, kind=socket.SOCK_STREAM):
    path = f"{uds}_{port}"
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, kind)
    s.bind(path)
    s.listen(4)
    s.settimeout(timeout)
    return s


def read_line(s, limit=64):
    buf = b""
    while not buf.endswith(b"\n") and len(buf) < limit:
        b = s.recv(1)
        if not b:
            break
        buf += b
    return buf


def connect(port, seq=False):
    """CONNECT to a guest port until its listener answers OK; returns (sock, host port)."""
    path = uds + (".seqpacket" if seq else "")
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET if seq else socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(path)
            line = f"CONNECT {port}\n".encode()
            s.send(line) if seq else s.sendall(line)
            ok = s.recv(64) if seq else read_line(s)
            if ok.startswith(b"OK ") and ok.endswith(b"\n"):
                return s, int(ok[3:-1])
        except (OSError, ValueError):
            pass
        s.close()
        time.sleep(0.3)
    raise TimeoutError(f"guest port {port} never accepted")


def closed_without_ok(data):
    """A malformed CONNECT line: the bridge must close the socket, no OK."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(uds)
    try:
        s.sendall(data)
        got = s.recv(64)
    except ConnectionResetError:
        got = b""
    except OSError:
        got = b"(no close)"
    s.close()
    return got == b""


def t_guest_line():  # (a)
    s = listener(5001)
    c, _ = s.accept()
    c.settimeout(60)
    line = read_line(c)
    c.sendall(b"hello-from-host\n")
    c.close()
    result("guest-connect-line", line == b"hello-from-guest\n", repr(line))


def t_host_line():  # (b)
    s, port = connect(6001)
    result("connect-ok-port", port >= 0x40000000, str(port))
    s.sendall(b"hello-over-connect\n")
    s.shutdown(socket.SHUT_WR)
    rest = s.recv(16)  # the guest closes: EOF
    s.close()
    result("connect-line-closed", rest == b"", repr(rest))


def t_from_guest():  # (c) guest -> host
    s = listener(5002)
    c, _ = s.accept()
    c.settimeout(120)
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
        time.sleep(0.0005) if n < (8 << 20) else None  # a slow reader at first: backpressure
    c.close()
    result("g2h-64-mib", n == BULK, f"got {n} bytes")
    out(f"HOST-INFO g2h-sha256 {h.hexdigest()}")


def t_to_guest():  # (c) host -> guest
    data = os.urandom(BULK)
    out(f"HOST-INFO h2g-sha256 {hashlib.sha256(data).hexdigest()}")
    s, _ = connect(6002)
    s.settimeout(120)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    rest = s.recv(16)
    s.close()
    result("h2g-sent", rest == b"", repr(rest))


def pattern(i, n):
    return bytes((i * 37 + j * 11) & 0xFF for j in range(n))


def t_seq_echo():  # (d) guest connects, we echo
    s = listener(5003, socket.SOCK_SEQPACKET)
    c, _ = s.accept()
    c.settimeout(60)
    got = []
    while True:
        m = c.recv(1 << 20)
        if not m:
            break
        got.append(len(m))
        c.send(m)
    c.close()
    result("seq-guest-sizes", got == SIZES, str(got))


def t_seq_connect():  # (d) we connect to the guest's listener
    s, _ = connect(6003, seq=True)
    s.settimeout(60)
    bad = []
    for i, n in enumerate(SIZES):
        m = pattern(i, n)
        s.send(m)
        e = s.recv(1 << 20)
        if e != m:
            bad.append(f"{n}->{len(e)}")
    s.close()
    result("seq-host-echoes", not bad, " ".join(bad))


def t_malformed():
    result("connect-no-newline", closed_without_ok(b"CONNECT 6001" + b"9" * 40))
    result("connect-bad-port", closed_without_ok(b"CONNECT 99999999999\n"))
    result("connect-not-a-number", closed_without_ok(b"CONNECT 6x01\n"))
    result("connect-bad-verb", closed_without_ok(b"HELLO 6001\n"))


def run(f):
    try:
        f()
    except Exception as e:  # noqa: BLE001 - report any failure as a result line
        result(f.__name__[2:], False, f"{type(e).__name__}: {e}")


threads = [threading.Thread(target=run, args=(f,), daemon=True)
           for f in (t_guest_line, t_from_guest, t_seq_echo)]
# the listeners are up once these threads have bound; give them a moment
for t in threads:
    t.start()
for p in (5001, 5002, 5003):
    while not os.path.exists(f"{uds}_{p}"):
        time.sleep(0.01)
run(t_malformed)
open(ready, "w").close()
more = [threading.Thread(target=run, args=(f,), daemon=True)
        for f in (t_host_line, t_to_guest, t_seq_connect)]
for t in more:
    t.start()
for t in threads + more:
    t.join(max(0.0, deadline - time.monotonic()))
    if t.is_alive():
        result("thread-" + t.name, False, "did not finish in time")
