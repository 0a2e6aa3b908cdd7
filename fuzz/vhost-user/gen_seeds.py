#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpus of fuzz_vhost-user (dev-time tool; output committed).
# Each seed is a QEMU-like session in the target's input format.
import os
import struct

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
KNOWN = [1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 21, 24, 25, 34, 31, 32]
UVA = 0x7f0000000000


def msg(req, payload=b"", fds_plan=0, need_reply=False, mem_fix=False):
    idx = KNOWN.index(req)
    flags = 1 | (8 if need_reply else 0)
    n = len(payload)
    b = bytes([0, idx, flags, n & 0xff, n >> 8]) + payload
    if req == 5 or (req == 32 and n >= 20):
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


INFLIGHT_QLEN = (16 + 16 * 64 + 63) // 64 * 64


def inflight_desc(size=2 * INFLIGHT_QLEN, off=0, nq=2, qs=64):
    return struct.pack("<QQHHI", size, off, nq, qs, 0)


def session(features, ring_layout_off=0, inflight=None, base=None, inflight_packed=False):
    pf = 0b10001000101001 | ((1 << 12) if inflight is not None else 0)
    s = msg(1) + msg(15) + msg(16, u64(pf)) + msg(3)
    if inflight is not None:
        # SET_INFLIGHT_FD with the region memfd (plan: 1 fd, bit 7)
        s += inflight
        # (the target sizes it for the packed layout if the size is odd)
        s += msg(32, inflight_desc(size=1 if inflight_packed else 2 * INFLIGHT_QLEN),
                 fds_plan=1 | 0x80, mem_fix=True)
    s += msg(2, u64(features | PROTO))
    mt = struct.pack("<II", 1, 0) + struct.pack("<QQQQ", 0x10000, 256 * 1024, UVA, 0)
    s += msg(5, mt, fds_plan=1 | (1 << 2), mem_fix=True)   # one fd: the memfd
    if base is None:
        base = 0x80008000 if features & PACKED else 0
    s += msg(8, state(0, 64)) + msg(10, state(0, base))
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


def region(off, data):
    out = b""
    for i, byte in enumerate(data):
        o = off + i
        out += bytes([4, o & 0xff, (o >> 8) & 0xf, byte])
    return out


def packed_log(queue, v):
    # the target's structured op: a consistent packed log for the queue
    return bytes([4, queue, 0xe0, v])


def logged_region(flags, used_idx=0, batch_head=0, next_=0):
    # version 1, desc_num 64, and entries with the given inflight flags
    r = region(8, struct.pack("<HHHH", 1, 64, batch_head, used_idx))
    for i, (f, c) in enumerate(flags):
        r += region(16 + 16 * i, struct.pack("<B5xHQ", f, next_, c))
    return r


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
    "inflight-get": msg(15) + msg(16, u64(1 << 12)) + msg(31, inflight_desc(0, 0, 2, 64)),
    # a request the dead back-end had taken: in the avail ring and the log
    "inflight-split-resubmit": split_request()
    + session(VERSION_1, inflight=logged_region([(1, 5)])) + kick(0),
    "inflight-hostile-log": session(VERSION_1, inflight=logged_region(
        [(1, 9), (0xff, 1), (1, 0xffffffffffffffff), (1, 3)], used_idx=0xfff0,
        batch_head=0x3ff, next_=0xffff)) + split_request() + kick(0),
    "inflight-hostile-log-offered": split_request() + session(VERSION_1, inflight=logged_region(
        [(0, 0), (1, 7), (1, 7)], used_idx=0, batch_head=1, next_=0x8000)) + kick(0),
    # packed: two block reads the dead back-end had taken, resubmitted
    "inflight-packed-resubmit": session(VERSION_1 | PACKED, inflight=packed_log(0, 0x22),
                                        inflight_packed=True) + kick(0),
    # the same log, but the ring's position from the front-end disagrees
    "inflight-packed-used-ahead": session(VERSION_1 | PACKED, inflight=packed_log(0, 0x2a),
                                          inflight_packed=True, base=0x80038003) + kick(0),
    # Linux's user-mode front-end: base 0 on a new packed ring
    "packed-session-base0": session(VERSION_1 | PACKED, base=0) + kick(0),
    "inflight-bad-desc": msg(16, u64(1 << 12)) + msg(32, inflight_desc(12345, 1 << 63, 9, 0),
                                                      fds_plan=1 | 0x80, mem_fix=False)
    + msg(1),
}
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
