#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpus of fuzz_input (dev-time tool; the output is committed).
import os
import struct

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
EVBUF, STBUF, SEND, KICK_ST, KICK_EV, REAP, CFGW, SELECT, SCRIBBLE, RESET = range(10)
KEYBOARD, MOUSE, TOUCH = 0, 4, 8


def evbuf(n=1, f=1):
    return bytes([EVBUF, f]) * n


def stbuf(t, code, value, good=True, ln=8, writable=False):
    b = bytes([STBUF]) + struct.pack("<HHi", t, code, value)
    b += bytes([4 if good else 1])                 # piece_addr: 4 = good, 1 = hole
    b += bytes([1]) if ln == 8 else bytes([0, ln])  # length
    b += bytes([0 if writable else 1])
    return b


def send(*events):
    b = bytes([SEND, len(events) - 1])
    for t, v in events:
        b += bytes([t]) + struct.pack("<i", v)
    return b


def session(flags, iov, backlog, qsize_log2, ops):
    return bytes([flags, iov, backlog, qsize_log2]) + b"".join(ops)


KE, KS, R = bytes([KICK_EV]), bytes([KICK_ST]), bytes([REAP])
press = send((1, 1), (0, 0))
touch = send((3, 1), (3, 7), (3, 100), (3, 200), (0, 0))
seeds = {
    "keys": session(KEYBOARD, 3, 31, 4, [evbuf(8), KE, press, press, R]),
    "keys-packed": session(KEYBOARD | 1, 3, 31, 3, [evbuf(6), KE, press, press, press, R]),
    "backlog": session(TOUCH, 3, 31, 4, [touch, touch, evbuf(3), KE, R, evbuf(8), KE, R]),
    "drops": session(TOUCH, 3, 7, 4, [touch, touch, touch, evbuf(8), KE, R, touch, R]),
    "bad-event-buffers": session(MOUSE, 3, 31, 4, [evbuf(1, 4) + bytes([1, 8, 0, 0]),
                                                   evbuf(1, 4) + bytes([4, 4, 1, 0]),
                                                   evbuf(1, 4) + bytes([4, 3, 1, 1, 5]),
                                                   evbuf(2), KE, press, R]),
    "leds": session(KEYBOARD, 3, 31, 4, [stbuf(0x11, 1, 1), stbuf(0x11, 0, 0),
                                         stbuf(0x11, 2, 1, ln=4), stbuf(0x11, 2, 1, good=False),
                                         stbuf(0x11, 2, 1, writable=True), KS, R]),
    "config": session(TOUCH, 3, 31, 4, [bytes([SELECT, s, sub]) for s, sub in
                                        [(1, 0), (2, 0), (3, 0), (0x10, 0), (0x11, 1), (0x11, 3),
                                         (0x12, 0x2f), (0x12, 0x35), (0x12, 64), (0x11, 32),
                                         (0x13, 0), (0xff, 0xff), (1, 1)]] +
                        [bytes([CFGW, 0x11, 3, 9, 9, 3]), bytes([CFGW, 1, 2, 3, 4, 10]),
                         bytes([CFGW, 0x12, 0x30, 0, 0, 0])]),
    "reset": session(KEYBOARD, 3, 31, 4, [press, bytes([RESET, 0]), evbuf(4), KE, press, R]),
}
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
