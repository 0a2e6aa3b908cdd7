#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpus of fuzz_vhost-user (dev-time tool; output committed).
# Each seed is a QEMU-like session in the target's input format.
import os
import struct

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
KNOWN = [1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 21, 24, 25, 34]
UVA = 0x7f0000000000


def msg(req, payload=b"", fds_plan=0, need_reply=False, mem_fix=False):
    idx = KNOWN.index(req)
    flags = 1 | (8 if need_reply else 0)
    n = len(payload)
    b = bytes([0, idx, flags, n & 0xff, n >> 8]) + payload
    if req == 5:
        b += bytes([1 if mem_fix else 0])
    return b + bytes([fds_plan])


def u64(v):
    return struct.pack("<Q", v)


def state(i, n):
    return struct.pack("<II", i, n)


def vring_addr(i, desc, used, avail):
    return struct.pack("<IIQQQQ", i, 0, UVA + desc, UVA + used, UVA + avail, 0)


def kick(i):
    return bytes([2, i])


VERSION_1 = 1 << 32
PACKED = 1 << 34
PROTO = 1 << 30
EVENT_IDX = 1 << 29


def session(features, ring_layout_off=0):
    s = msg(1) + msg(15) + msg(16, u64(0b10001000101001)) + msg(3)
    s += msg(2, u64(features | PROTO))
    mt = struct.pack("<II", 1, 0) + struct.pack("<QQQQ", 0x10000, 256 * 1024, UVA, 0)
    s += msg(5, mt, fds_plan=1 | (1 << 2), mem_fix=True)   # one fd: the memfd
    s += msg(8, state(0, 64)) + msg(10, state(0, 0x80008000 if features & PACKED else 0))
    s += msg(9, vring_addr(0, 0x1000, 0x3000, 0x2000))
    s += msg(12, u64(0), fds_plan=1) + msg(13, u64(0), fds_plan=1)  # eventfds
    s += msg(18, state(0, 1))
    s += kick(0)
    return s


def scribble(off, data):
    out = b""
    for i, byte in enumerate(data):
        o = off + i
        out += bytes([3, o & 0xff, (o >> 8) & 0xff, (o >> 16) & 3, byte])
    return out


def split_request():
    # guest RAM offset = GPA - 0x10000; rings of the session at 0x1000 (desc),
    # 0x2000 (avail), 0x3000 (used); a read request: header | data | status
    desc = struct.pack("<QIHH", 0x14000, 16, 1, 1)           # header, NEXT
    desc += struct.pack("<QIHH", 0x15000, 512, 1 | 2, 2)    # data, NEXT|WRITE
    desc += struct.pack("<QIHH", 0x16000, 1, 2, 0)          # status, WRITE
    avail = struct.pack("<HHH", 0, 1, 0)                     # flags, idx=1, ring[0]=0
    header = struct.pack("<IIQ", 0, 0, 0)                    # IN, sector 0
    return scribble(0x1000, desc) + scribble(0x4000, header) + scribble(0x2000, avail)


seeds = {
    "split-io": session(VERSION_1) + split_request() + kick(0) + kick(0),
    "split-session": session(VERSION_1 | EVENT_IDX),
    "packed-session": session(VERSION_1 | PACKED),
    "config": msg(15) + msg(16, u64(1 << 9)) + msg(24, struct.pack("<III", 0, 60, 0) + bytes(60))
    + msg(25, struct.pack("<III", 32, 1, 0) + b"\x01"),
    "reply-ack": msg(16, u64(1 << 3)) + msg(3, need_reply=True) + msg(17, need_reply=True),
    "stop-ring": session(VERSION_1) + msg(11, state(0, 0)) + msg(34),
    "bad-size": msg(2, b"\x01\x02\x03") + msg(1),
}
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
