#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpus of fuzz_mmio (dev-time tool; the output is committed).
import os
import struct

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
W, R, INIT, ADD, CFG = 0, 3, 5, 6, 7


def wr(off, val):
    return bytes([W, 2, off]) + struct.pack("<I", val)


def rd(off):
    return bytes([R, 2, off])


def init(features_hi, features_lo, qsize_log2):
    return bytes([INIT, 0]) + struct.pack("<I", features_hi) + bytes([features_lo, qsize_log2])


def add(off, rlen, wlen, indirect=0):
    return bytes([ADD, 0, off, rlen, wlen, indirect])


VERSION_1 = 1 << 4          # bit 32 after the <<28 in the target
PACKED = 1 << 6             # bit 34
EVENT_IDX = 1 << 1          # bit 29
INDIRECT = 1 << 0           # bit 28
RESET = 1 << 12             # bit 40

seeds = {
    "init-split": b"\x00" + init(VERSION_1, 1, 3) + add(1, 16, 32) + add(2, 8, 8) + rd(0x60) + wr(0x64, 1),
    "init-packed": b"\x00" + init(VERSION_1 | PACKED | EVENT_IDX, 1, 4) + add(3, 16, 32, 1) + rd(0x60),
    "raw-bringup": b"\x00" + wr(0x70, 0) + wr(0x70, 1) + wr(0x70, 3) + wr(0x24, 1) + wr(0x20, 1)
    + wr(0x70, 0x0b) + rd(0x70) + wr(0x30, 0) + rd(0x34) + wr(0x38, 8) + wr(0x80, 0x11000)
    + wr(0x90, 0x12000) + wr(0xa0, 0x13000) + wr(0x44, 1) + wr(0x70, 0x0f) + wr(0x50, 0),
    "queue-reset": b"\x00" + init(VERSION_1 | RESET, 0, 2) + add(0, 4, 4) + wr(0x30, 0) + wr(0xc0, 1)
    + rd(0xc0) + rd(0x44),
    "shm-and-config": b"\x00" + wr(0xac, 1) + rd(0xb0) + rd(0xbc) + wr(0xac, 7) + rd(0xb8)
    + bytes([CFG, 0]) + rd(0xfc) + bytes([4, 0]) + struct.pack("<I", 0x100) + bytes([4, 3]) + struct.pack("<I", 0x108),
    "guest-memory": bytes([16]) + bytes(range(256)) + init(VERSION_1, 0, 2) + add(0, 200, 200),
}
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
