#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpus of fuzz_blk (dev-time tool; the output is committed).
import os

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
ADD, KICK, COMPLETE, REAP, CFG, SCRIBBLE, RESET = 0, 2, 3, 4, 5, 6, 7


def req(type_idx, sector, pieces, write_data, indirect=0, status=True):
    # type byte < 200 picks from the table {IN, OUT, FLUSH, GET_ID, GET_LIFETIME,
    # DISCARD, WRITE_ZEROES, SECURE_ERASE, 99}
    b = bytes([ADD, pieces - 1, type_idx, 0, sector])
    b += bytes([1] * 64)            # segment bytes: mostly defaults
    b += bytes([1])                 # header as one 16-byte descriptor
    for _ in range(pieces):
        b += bytes([(8 if write_data else 0) | 1])   # good address, 512 bytes
    b += bytes([1 if status else 0, indirect])
    return b


def session(flags, nreq, qsize_log2, ops):
    return bytes([flags, nreq, qsize_log2]) + b"".join(ops)


K = bytes([KICK, 0])
R = bytes([REAP])
C = bytes([COMPLETE, 3, 7])
seeds = {
    "write-read": session(0, 7, 4, [req(1, 3, 2, False), req(0, 3, 2, True), K, R]),
    "packed-async": session(1 | 16, 3, 3, [req(1, 5, 1, False), req(0, 5, 1, True), K, C, C, R]),
    "flush-id-lifetime": session(128, 7, 4, [req(2, 0, 1, False), req(3, 0, 1, True), req(4, 0, 1, True), K, R]),
    "discard-wz-erase": session(0, 7, 4, [req(5, 0, 1, False), req(6, 0, 1, False), req(7, 0, 1, False), K, R]),
    "read-only": session(32, 7, 4, [req(1, 0, 1, False), req(5, 0, 1, False), K, R]),
    "no-status": session(0, 7, 4, [req(0, 0, 1, True, status=False), K, R]),
    "indirect": session(0, 7, 4, [req(0, 1, 4, True, indirect=1), K, R]),
    "cache-modes": session(64, 7, 4, [bytes([CFG, 0, 32]), req(1, 1, 1, False), bytes([CFG, 1, 32]), req(1, 1, 1, False), K, R]),
    "reset": session(16, 2, 3, [req(0, 1, 1, True), K, bytes([RESET, 0]), req(1, 1, 1, False), K, C, R]),
}
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
