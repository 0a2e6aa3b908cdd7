#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpus of fuzz_console (dev-time tool; the output is committed).
import os

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
CTRL, DATA, BUFS, KICK, SEND, PORT, POLICY, REAP, CFG, RESET = range(10)
DEVICE_READY, PORT_ADD, PORT_REMOVE, PORT_READY, CONSOLE_PORT, RESIZE, PORT_OPEN, PORT_NAME = range(8)
CTRLQ = 4                   # the control receiveq in BUFS (MAXP)


def ctrl(port, event, value, length=8, pieces=1, flip=False):
    """A control message from the driver (port 7 means 0xffffffff)."""
    return bytes([CTRL, port, event, value, length, pieces - 1]) + bytes([0 if flip else 1]) * pieces


def data(port, nbytes, pieces=1):
    return bytes([DATA, port, nbytes // 2, pieces - 1]) + bytes([1]) * pieces


def bufs(which, n, size=63, flip=False):
    b = bytes([BUFS, which, n - 1])
    for _ in range(n):
        b += bytes([size, 0, 0 if flip else 1])
    return b


def send(port, nbytes):
    return bytes([SEND, port, nbytes // 3])


def add(port, name=0, console=False):
    """name: 0 none, 1 empty, 2 a long one, 3 "x"."""
    return bytes([PORT, port, name * 5 + (32 if console else 0)])


def remove(port):
    return bytes([PORT, port, 1])


def host_open(port, on=True):
    return bytes([PORT, port, 2 + (8 if on else 0)])


def resize(port, cols, rows):
    return bytes([PORT, port, 3]) + cols.to_bytes(2, "little") + rows.to_bytes(2, "little")


def policy(take, port):
    """take: 'error', a byte count 0..7, or 'all'; then output_ready(port)."""
    k = 0 if take == "error" else 200 if take == "all" else 32 + take
    return bytes([POLICY, k, port])


REAP_ = bytes([REAP])


def handshake():
    return (add(0, 0, True) + add(1, 2) + host_open(0) + bufs(CTRLQ, 4) +
            ctrl(7, DEVICE_READY, 1) + REAP_ + bufs(CTRLQ, 4) +
            ctrl(0, PORT_READY, 1) + ctrl(1, PORT_READY, 1) + ctrl(0, PORT_OPEN, 1) +
            ctrl(1, PORT_OPEN, 1) + REAP_ + bufs(CTRLQ, 4) + REAP_)


def multi(layout_flags=0, nports=3):
    return bytes([layout_flags, nports - 1, 3])


seeds = {
    "handshake-data-split": multi() + handshake() + data(0, 20, 2) + data(1, 30) +
    bufs(1, 2, 40) + send(1, 30) + REAP_,
    "handshake-data-packed": multi(1) + handshake() + data(0, 20) + bufs(1, 2, 40) +
    send(1, 60) + REAP_,
    "output-held": multi() + handshake() + policy(3, 0) + data(0, 40) + data(0, 10) +
    REAP_ + policy(5, 0) + policy("all", 0) + REAP_ + policy("error", 1) + data(1, 8) + REAP_,
    "bad-ctrl": multi() + add(0, 3) + bufs(CTRLQ, 4) + ctrl(1, PORT_READY, 1) +
    ctrl(7, DEVICE_READY, 1) + ctrl(7, DEVICE_READY, 1) + ctrl(0, PORT_ADD, 0) +
    ctrl(0, RESIZE, 0) + ctrl(0, 9, 1) + ctrl(0, PORT_OPEN, 2) + ctrl(0, PORT_READY, 1, 4) +
    ctrl(0, PORT_READY, 1, 8, 3) + ctrl(0, PORT_READY, 1, 8, 1, True) +
    ctrl(5, PORT_OPEN, 1) + ctrl(7, PORT_OPEN, 1) + ctrl(0, PORT_OPEN, 1) + REAP_ +
    bufs(CTRLQ, 2, 4) + bufs(CTRLQ, 2, 63, True) + resize(0, 100, 40) + REAP_,
    "hotplug": multi(0, 4) + handshake() + add(2, 3) + add(3, 1, True) + REAP_ +
    ctrl(2, PORT_READY, 1) + ctrl(3, PORT_READY, 1) + remove(2) + policy(0, 1) +
    data(1, 16) + remove(1) + add(1, 3) + REAP_ + bufs(CTRLQ, 4) + REAP_,
    "wrong-direction": multi() + handshake() + bufs(0, 2, 30, True) + send(0, 12) +
    bytes([DATA, 0, 10, 1, 0, 1]) + REAP_,
    "single-port": bytes([4 | 16, 3]) + data(0, 20) + bufs(0, 2, 20) + send(0, 30) +
    bytes([CFG, 8]) + b"A\0\0\0" + bytes([3]) + bytes([CFG, 0]) + b"\1\1\0\0" + bytes([1]) +
    REAP_ + bytes([RESET]) + data(0, 4) + REAP_,
    "driver-without-multiport": bytes([8, 3, 3]) + data(0, 20) + data(1, 20) +
    bufs(0, 1) + send(0, 9) + send(1, 9) + REAP_,
    "remove-inside-output-op": multi() + handshake() + bytes([POLICY, 244, 1]) + data(1, 8) +
    REAP_ + data(1, 8) + add(1, 2) + REAP_ + bufs(CTRLQ, 2) + bytes([POLICY, 245, 0]) +
    data(0, 6) + REAP_,
    "reset-with-held": multi() + handshake() + policy(0, 0) + data(0, 20) +
    bytes([RESET]) + handshake() + policy("all", 0) + data(0, 10) + REAP_,
}

os.makedirs(out, exist_ok=True)
for name, b in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(b)
