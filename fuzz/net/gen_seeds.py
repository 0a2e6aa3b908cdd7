#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpus of fuzz_net (dev-time tool; the output is committed).
import os

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
TX, RXBUF, KICK, DELIVER, CTRL, REAP, HOST, PUSHBACK, CFG, SCRIBBLE, TXPROC, RESET = range(12)


def chain(op, pair, pieces, hdr64, piece_len=100):
    b = bytes([op, pair, pieces - 1]) + hdr64
    for _ in range(pieces):
        b += bytes([1, piece_len - 1])   # good address, short length
    return b + bytes([0])                # direct


def tx(pair, pieces=2):
    return chain(TX, pair, pieces, bytes(12) + bytes([0x52, 0x54, 0, 9, 9, 9]) + bytes(46))


def rxbuf(pair, pieces=1, ln=200):
    return chain(RXBUF, pair, pieces, bytes(64), ln)


def kick(q):
    return bytes([KICK, 0, q, 1])


def deliver(pair, dst=0, ln=100, hdr=False):
    return bytes([DELIVER, pair, 0, ln & 0xff, ln >> 8, dst, 0, 0, 0, 0, 0, 0, 0, 0, 3, pair, 1 if hdr else 0])


def ctrl(cls, cmd, data):
    body = bytes([cls, cmd]) + data
    body = body + bytes(64 - len(body))
    # header piece of 2 bytes, data piece, ack piece (writable)
    return bytes([CTRL, 0, 2, ]) + body + bytes([1, 1, 1, len(data) - 1 if data else 0, 0x11, 0]) + bytes([0, cls])


def session(flags, rxbufs, qlog2, ops):
    return bytes([flags, rxbufs, qlog2]) + b"".join(ops)


R = bytes([REAP, 0])
seeds = {
    "tx-split": session(0, 3, 4, [tx(0), tx(0, 3), kick(1), R]),
    "tx-packed": session(1, 3, 4, [tx(0), tx(1), kick(1), kick(3), R]),
    "rx-merge": session(0x60, 7, 4, [rxbuf(0), rxbuf(0), rxbuf(0), kick(0), deliver(0, 0, 500), R]),
    "rx-big": session(2, 1, 4, [rxbuf(0, 1, 250), kick(0), deliver(0, 1, 150), deliver(0, 0, 100), R]),
    "rx-noroom": session(0, 3, 3, [deliver(0), rxbuf(0), kick(0), deliver(0, 2, 80, True), R]),
    "pushback": session(0, 3, 4, [bytes([PUSHBACK, 0, 1, 2]), tx(0), kick(1), bytes([PUSHBACK, 0, 0]), R]),
    "ctrl": session(0xe0, 3, 4, [ctrl(0, 0, b"\x01"), ctrl(1, 1, b"\x52\x54\x00\x01\x02\x04"),
                                 ctrl(4, 0, b"\x02\x00"), kick(4), R]),
    "reset": session(1, 3, 3, [tx(0), kick(1), bytes([RESET, 0, 0]), tx(0), kick(1), R]),
    # the second byte's bits above rx_bufs pick the transmit batch: 1 none, 2 three, 3 the most
    "tx-unbatched": session(0, 3 + 8, 4, [tx(0), tx(0), tx(0), kick(1), R]),
    "tx-batch3-pushback": session(0, 3 + 16, 4, [tx(0)] * 7 + [bytes([PUSHBACK, 0, 1, 2]), kick(1), R,
                                                           bytes([PUSHBACK, 0, 0]), R]),
    "tx-batch32-packed": session(1, 3 + 24, 5, [tx(0)] * 9 + [bytes([PUSHBACK, 0, 1, 1]), kick(1),
                                                           bytes([PUSHBACK, 0, 0]), R]),
}
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
