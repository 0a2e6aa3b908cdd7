#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpus of fuzz_vsock (dev-time tool; the output is committed).
import os
import struct

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
(TX, TX2, RXBUF, KICK, SEND, CONNECT, CLOSE, ROOM, REAP, EVBUF, HOST, SCRIBBLE, CFG,
 RESET) = range(14)
REQUEST, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE, CREDIT_REQUEST = range(1, 8)
STREAM, SEQ = 0, 1          # type byte: type = 1 + byte % 3


def tx(op, gport=0, hport=0, payload=0, typ=STREAM, flags=0, fwd=None, pieces=1,
       indirect=False):
    """A well-formed guest packet: guest port 40000+gport -> host port index hport."""
    sel = gport | hport << 3
    k = 0x24                 # honest CIDs and len, buf_alloc 65536
    b = bytes([TX, sel, k, op, typ, 1, payload])
    b += bytes([0]) if fwd is None else bytes([1]) + struct.pack("<I", fwd)
    b += bytes([flags, pieces - 1])
    total = 44 + payload
    for _ in range(pieces - 1):
        b += bytes([min(total // pieces, 255) - 1])
    return b + bytes([0x43 if indirect else 0x03])


def rxbufs(n):
    return bytes([RXBUF, n - 1]) + bytes([1]) * n


def evbufs(n):
    return bytes([EVBUF, n - 1]) + bytes([1]) * n


def kick(q):
    return bytes([KICK, q, 1])


def send(n, flags=0, conn=0):
    return bytes([SEND, 1, n, flags, conn])


def connect(typ=STREAM, hport=0, gport=0):
    return bytes([CONNECT, typ, hport, gport])


def hoard(on):
    """The host's peers stop (True) or start (False) reading."""
    return bytes([ROOM, 1, 1 if on else 0, 1])


def consume(conn, how):
    """The host consumes from connection slot conn: how 1 = one byte too many,
    2 = all it holds, 3 = half."""
    return bytes([ROOM, 0, conn, how, 1])


def tick(dt):
    """Time passes: dt milliseconds (< 65536), then vdev_vsock_tick()."""
    return bytes([HOST, 3, 1]) + struct.pack("<H", dt)


PROC = bytes([HOST, 2])
REAPB = bytes([REAP])


def session(flags, ops, maxc=7, extra=b"", qlog=4):
    return bytes([flags, maxc]) + extra + bytes([qlog]) + b"".join(ops)


seeds = {
    "guest-connect": session(0, [rxbufs(4), tx(REQUEST), kick(1), tx(RW, payload=100), kick(1),
                                 send(200), REAPB, tx(SHUTDOWN, flags=3), kick(1), REAPB]),
    "guest-connect-packed": session(1, [rxbufs(4), tx(REQUEST), kick(1),
                                        tx(RW, payload=200, pieces=3), kick(1), send(50), REAPB,
                                        tx(CREDIT_REQUEST), kick(1), kick(0), REAPB]),
    "host-connect": session(0, [rxbufs(4), connect(), kick(0), tx(RESPONSE), kick(1), send(120),
                                tx(CREDIT_UPDATE, fwd=120), kick(1), bytes([CLOSE, 0, 1]),
                                tx(RST), kick(1), REAPB]),
    "seqpacket": session(0, [rxbufs(6), tx(REQUEST, typ=SEQ), kick(1),
                             tx(RW, typ=SEQ, payload=80), tx(RW, typ=SEQ, payload=20, flags=1),
                             kick(1), send(100, 3), send(0, 1), REAPB]),
    "credit": session(32, [rxbufs(8), tx(REQUEST), kick(1), tx(RW, payload=60), tx(RW, payload=60),
                           kick(1), send(250), send(250), REAPB], extra=bytes([0])),
    # the host's peer stops reading (hoard), the guest fills the budget, the
    # host consumes half, then all
    "backpressure": session(0, [rxbufs(4), tx(REQUEST), kick(1), hoard(True),
                                tx(RW, payload=40), tx(RW, payload=40), kick(1),
                                consume(0, 3), consume(0, 2), REAPB]),
    # one stalled sink next to a flowing connection; a small budget is overrun
    "stalled-sink": session(32, [rxbufs(8), tx(REQUEST), tx(REQUEST, gport=1), kick(1),
                                 hoard(True), tx(RW, payload=200), tx(RW, payload=200),
                                 tx(RW, payload=200), kick(1), hoard(False),
                                 tx(RW, gport=1, payload=250), tx(RW, gport=1, payload=250),
                                 kick(1), REAPB, consume(0, 2), consume(0, 1), REAPB],
                            extra=bytes([7])),
    # the host closes, the guest never answers: the tick forces RST; the slot is reused
    "close-timeout": session(128, [rxbufs(6), tx(REQUEST), kick(1), bytes([CLOSE, 0, 1]),
                                   tick(10), tick(200), REAPB, tx(REQUEST), kick(1),
                                   bytes([CLOSE, 0, 1]), tick(5), tx(RST), kick(1), tick(300),
                                   REAPB], maxc=0, extra=bytes([50])),
    "flood": session(0, [tx(REQUEST, gport=i % 8, hport=2) for i in range(20)] +
                     [kick(1), rxbufs(8), kick(0), rxbufs(8), kick(0), REAPB], maxc=1),
    "reset-open": session(1, [evbufs(2), rxbufs(4), tx(REQUEST), tx(REQUEST, gport=1), kick(1),
                              bytes([RESET, 0]), evbufs(2), kick(2), REAPB]),
    "cid-change": session(0, [evbufs(2), rxbufs(4), tx(REQUEST), kick(1), bytes([HOST, 0, 9]),
                              tx(REQUEST), kick(1), REAPB]),
}
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
