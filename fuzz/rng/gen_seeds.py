#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpus of fuzz_rng (dev-time tool; the output is committed).
import os

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
ADD, KICK, COMPLETE, REAP, QRESET, SCRIBBLE, RESET = 0, 2, 3, 4, 5, 6, 7
# piece flag bytes: 1 = good address, 64 bytes, writable; 9 = the same, readable;
# 3 = good address, writable, length from the next two bytes; 4 = address from
# piece_addr (next byte 1: the hole)
W, RD = 1, 9


def add(*pieces, indirect=0):
    return bytes([ADD, len(pieces) - 1]) + b"".join(pieces) + bytes([indirect])


def piece(f, *extra):
    return bytes([f, *extra])


def session(flags, nreq, iov, qsize_log2, ops, max_req=None):
    head = bytes([flags]) + (bytes([max_req]) if max_req is not None else b"")
    return head + bytes([nreq, iov, qsize_log2]) + b"".join(ops)


K = bytes([KICK])
R = bytes([REAP])
C = bytes([COMPLETE, 3, 5])
w = piece(W)
seeds = {
    # sync host: one answer byte per buffer at the kick (3 full, 4 short, 0 error,
    # 1 nothing, 2 too much)
    "sync-full": session(0, 7, 7, 4, [add(w), add(w, w), add(w), K, bytes([3, 3, 3]), R]),
    "sync-answers": session(0, 7, 7, 4, [add(w)] * 5 + [K, bytes([0, 1, 2, 3, 4]), R]),
    "packed-async": session(1 | 2, 7, 7, 3, [add(w), add(w, w, w), add(w), K, C, C, R]),
    "malformed": session(0, 7, 7, 4, [add(piece(RD)), add(piece(3, 0, 0)), add(piece(4, 1)),
                                      add(piece(RD), w), add(w), K, bytes([3]), R]),
    "max-request": session(8, 7, 7, 4, [add(piece(3, 0xd0, 0x07)), add(w, w, w), K,
                                        bytes([3, 3]), R], max_req=10),
    "indirect": session(0, 7, 7, 4, [add(w, w, w, w, indirect=1), K, bytes([3]), R]),
    "pool-full": session(2, 1, 7, 4, [add(w)] * 5 + [K, C, C, C, C, R]),
    "reset-async": session(2, 7, 7, 3, [add(w), add(w), K, bytes([RESET, 0]), add(w), K, C, R]),
    "queue-reset": session(2, 7, 7, 3, [add(w), add(w), K, bytes([QRESET, 0, 5]), add(w), K, C, R]),
    "few-iovs": session(0, 7, 0, 4, [add(w, w), add(w), K, bytes([3, 3]), R]),
}
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
