#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpus of fuzz_gpu (dev-time tool; the output is committed).
# The encoding mirrors queue_cmd() and the op switch in fuzz_gpu.c.
import os
import struct

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
CTRL, CURSOR, KICK, REAP, HOST, SCRIBBLE, RESET = 0, 3, 4, 5, 6, 7, 8
TYPES = [0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x106, 0x107, 0x108, 0x109, 0x10a, 0x10b,
         0x10c, 0x10d, 0x200, 0x201, 0x202, 0x203, 0x207, 0x300, 0x301]


def field(v, mod):
    # small_or_raw(): a byte below 0x80 gives byte % mod, else 4 raw bytes follow
    return bytes([v]) if v < mod else bytes([0x80]) + struct.pack("<I", v)


def cmd(q, ctype, fields=(), flags=0, fence=0, ctx=0, ring=0, fmt=None, entries=None,
        blob_size=None, resp=1056, split_req=None, split_resp=None):
    b = bytes([q, TYPES.index(ctype), flags]) + struct.pack("<H", fence) + bytes([ctx, ring])
    fl = list(fields) + [0] * (20 - len(fields))
    b += b"".join(field(v, 8 if i < 4 else 80) for i, v in enumerate(fl))
    if ctype in (0x101, 0x10d):
        b += bytes([1]) if fmt is None else bytes([0, fmt])
    nr = 0
    if ctype in (0x106, 0x10c):
        entries = entries or []
        nr = len(entries)
        b += bytes([nr, 1])                  # nr_entries = nr
        if ctype == 0x10c:
            b += bytes([1])                  # blob_mem GUEST
            b += bytes([1]) + struct.pack("<H", blob_size // 16)
        for slot, off, ln in entries:
            b += bytes([4, slot, off])       # a good arena address
            b += bytes([1]) + struct.pack("<H", ln - 1)
    b += bytes([1])                          # full request length
    b += bytes([1, split_req]) if split_req else bytes([0])
    if resp == 24:
        b += bytes([1])
    elif resp == 1056:
        b += bytes([2 | (0x10 if split_resp else 0)]) + (bytes([split_resp]) if split_resp else b"")
    else:
        b += bytes([0]) + struct.pack("<H", resp)
    return b + bytes([0])                    # direct descriptors


def kick(q):
    return bytes([KICK, q, 1])


R = bytes([REAP])
XRGB = 2


def session(flags, qlog2, ops):
    return bytes([flags, qlog2]) + b"".join(ops)


# A 7x7 XRGB resource is 196 bytes; slot 20 of the arena backs it.
fb = [cmd(CTRL, 0x101, [1, 0, 7, 7]),
      cmd(CTRL, 0x106, [1], entries=[(20, 0, 100), (21, 8, 96)]),
      cmd(CTRL, 0x105, [0, 0, 7, 7, 0, 0, 1]),
      cmd(CTRL, 0x103, [0, 0, 7, 7, 0, 1]),
      cmd(CTRL, 0x104, [0, 0, 7, 7, 1]),
      kick(0), R]
seeds = {
    "display-edid": session(0x20, 4, [cmd(CTRL, 0x100, resp=408), cmd(CTRL, 0x10a, [0]),
                                      cmd(CTRL, 0x10a, [1], split_resp=40), kick(0), R]),
    "framebuffer": session(0, 4, fb),
    "framebuffer-packed": session(1, 4, fb),
    "blob": session(0, 4, [cmd(CTRL, 0x10c, [2], entries=[(22, 0, 200), (23, 0, 60)], blob_size=256),
                           cmd(CTRL, 0x10d, [0, 0, 4, 4, 0, 2, 4, 4, 0, 0, 16, 0, 0, 0, 16]),
                           cmd(CTRL, 0x104, [0, 0, 4, 4, 2]), cmd(CTRL, 0x107, [2]),
                           cmd(CTRL, 0x102, [2]), kick(0), R]),
    "cursor": session(0, 4, [cmd(CTRL, 0x101, [3, 0, 64, 64]), kick(0),
                             cmd(CURSOR, 0x300, [0, 10, 20, 0, 3], resp=24),
                             cmd(CURSOR, 0x301, [0, 11, 21], resp=24), kick(1), R]),
    "fences": session(0, 4, [cmd(CTRL, 0x200, [12], ctx=1, flags=1, fence=5),
                             cmd(CTRL, 0x100, flags=3, fence=6, ctx=1, ring=2, resp=408),
                             cmd(CTRL, 0x10b, [1], flags=1, fence=7, resp=40),
                             cmd(CTRL, 0x201, ctx=1, flags=1, fence=8), kick(0), R]),
    "reset": session(0, 3, fb[:-2] + [kick(0), bytes([RESET, 0]), cmd(CTRL, 0x100, resp=408),
                                      kick(0), R]),
    "host": session(0x40, 4, [bytes([HOST, 0, 1]) + struct.pack("<HHIHH", 1920, 1080, 60000, 500, 300)
                              + bytes([1, 0]),
                              bytes([HOST, 1]) + struct.pack("<I", 1) + bytes([4, 3]),
                              cmd(CTRL, 0x100, resp=408), kick(0), R]),
}
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
