#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpus of fuzz_gpu3d (dev-time tool; the output is
# committed). The encoding mirrors queue_cmd() and the op switch in
# fuzz_gpu3d.c.
import os
import struct

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
CMD, KICK, REAP, RETIRE, POLL, FAIL, RESET = 0, 4, 5, 6, 7, 8, 9
TYPES = [0x101, 0x102, 0x103, 0x104, 0x106, 0x107, 0x108, 0x109, 0x10c, 0x200, 0x201,
         0x202, 0x203, 0x204, 0x204, 0x205, 0x206, 0x207, 0x207, 0x208, 0x209, 0x100, 0x105,
         0x10d]
SLOTS = 32
FENCE, RING = 1, 2


def field(v, mod):
    # small_or_raw(): a byte below 0x80 gives byte % mod, else 4 raw bytes follow
    return bytes([v]) if v < mod and v < 0x80 else bytes([0x80]) + struct.pack("<I", v)


def cmd(ctype, fields=(), flags=0, fence=0, ctx=0, ring=0, extra=b"", resp=408):
    b = bytes([CMD, TYPES.index(ctype), flags, fence, ctx, ring])
    fl = list(fields) + [0] * (12 - len(fields))
    b += b"".join(field(v, 8 if i == 0 else 40) for i, v in enumerate(fl))
    b += extra
    b += bytes([1])                                   # not truncated
    b += bytes([1]) if resp == 24 else bytes([2])     # 24 or 408 response bytes
    return b


def ctx_create(ctx, capset=0):
    return cmd(0x200, [4, 0], ctx=ctx, extra=bytes([4, capset]), resp=24)


def create_3d(rid, target, fmt, w, h, d=1, layers=1, levels=0):
    # fields: id, target, format (both replaced by the extras), bind, w, h, d, layers, last_level
    return cmd(0x204, [rid, 0, 0, 2, w, h, d, layers, levels], extra=bytes([target, 1]), resp=24)


def attach(rid, slot):
    # nr byte 1, entry: good arena address in `slot`, 4096 bytes
    return cmd(0x106, [rid], extra=bytes([1, 1, slot, 1]), resp=24)


def submit(ctx, dwords, flags=0, fence=0, ring=0):
    return cmd(0x207, [], flags=flags, fence=fence, ctx=ctx, ring=ring,
               extra=bytes([1, dwords, 1]), resp=24)


def transfer(to, rid, box, level=0, ctx=1):
    x, y, z, w, h, d = box
    return cmd(0x205 if to else 0x206, [x, y, z, w, h, d, 0, 0, rid, level, 64, 0], ctx=ctx, resp=24)


def blob(rid, ctx, mem, flags, pages, entries=0):
    e = b"".join(bytes([1, 2 + i, 1]) for i in range(entries))
    return cmd(0x10c, [rid], ctx=ctx,
               extra=bytes([entries, mem - 1, flags, 1, pages - 1]) + e, resp=24)


def map_blob(rid, page):
    return cmd(0x208, [rid], extra=bytes([1, page]), resp=408)


def simple(ctype, fields=(), ctx=0, flags=0, fence=0, ring=0, resp=24):
    return cmd(ctype, fields, flags=flags, fence=fence, ctx=ctx, ring=ring, resp=resp)


kick = bytes([KICK, 1])
reap = bytes([REAP])
poll = bytes([POLL])


def retire_made(i):
    return bytes([RETIRE, 1, i, 0, 0])


def retire(ctx, ring, fid, glob=False):
    return bytes([RETIRE, 2 if glob else 0, ctx, ring, fid])


def reset():
    return bytes([RESET, 0])


def write(name, flags, flags2, body):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([flags, flags2]) + body)


os.makedirs(out, exist_ok=True)
# flags2: fence slots - 1 in the low bits, 0x10 no submit scratch, qsize in bits 5..6
F4 = 3 | (3 << 5)

write("capsets", 0, F4,
      simple(0x108, [0], resp=408) + simple(0x108, [1], resp=408) + simple(0x108, [2], resp=408)
      + simple(0x109, [1, 1], resp=408) + simple(0x109, [2, 2], resp=408)
      + simple(0x109, [2, 3], resp=408) + kick + reap)

write("texture", 0, F4,
      ctx_create(1, 2) + create_3d(1, 2, 2, 16, 16, levels=2) + attach(1, 3)
      + simple(0x202, [1], ctx=1)
      + transfer(True, 1, (0, 0, 0, 16, 16, 1)) + transfer(False, 1, (0, 0, 0, 8, 8, 1), 1)
      + transfer(True, 1, (0, 0, 0, 17, 1, 1))
      + simple(0x105, [0, 0, 16, 16, 0, 0, 1]) + simple(0x105, [0, 0, 17, 16, 0, 0, 1])
      + submit(1, 8, FENCE | RING, 1, 0) + kick + poll + reap
      + simple(0x102, [1]) + kick + reap)

write("fences", 0, F4,
      ctx_create(1) + ctx_create(2) + kick
      + submit(1, 1, FENCE | RING, 1, 0) + submit(1, 1, FENCE | RING, 2, 0)
      + submit(1, 1, FENCE | RING, 1, 1) + submit(2, 1, FENCE | RING, 5, 0)
      + submit(2, 1, FENCE, 3) + simple(0x100, resp=408) + kick + reap
      + retire(2, 0, 5) + retire(1, 1, 1) + retire(1, 0, 1) + reap
      + retire(0, 0, 3, glob=True) + retire_made(0) + poll + reap)

write("stall", 0, 0 | (2 << 5),
      ctx_create(1) + kick
      + b"".join(submit(1, 1, FENCE | RING, i, i % 3) for i in range(6)) + kick + reap
      + retire_made(0) + reap + poll + reap)

write("blobs", 0, F4,
      ctx_create(1) + blob(1, 1, 2, 1, 2) + blob(2, 1, 3, 1, 1, entries=1) + blob(3, 1, 2, 0, 1)
      + map_blob(1, 1) + map_blob(2, 2) + map_blob(2, 3) + map_blob(3, 5)
      + simple(0x209, [1]) + map_blob(2, 0) + kick + reap
      + simple(0x102, [2]) + simple(0x102, [1]) + kick + reap)

write("scanout-3d", 0, F4,
      create_3d(1, 2, 2, 32, 16) + simple(0x103, [0, 0, 32, 16, 0, 1])
      + simple(0x104, [1, 1, 8, 8, 1]) + simple(0x103, [0, 0, 33, 16, 0, 1])
      + kick + reap + simple(0x102, [1]) + kick + reap)

write("reset", 0x20, F4 | 0x10,
      ctx_create(1, 1) + ctx_create(2) + create_3d(1, 2, 2, 16, 16) + attach(1, 4)
      + simple(0x202, [1], ctx=1) + blob(2, 1, 2, 1, 1) + map_blob(2, 0)
      + submit(1, 4, FENCE | RING, 1, 0) + submit(2, 4, FENCE, 2) + kick
      + reset() + ctx_create(1) + submit(1, 2, FENCE | RING, 1, 0) + kick + poll + reap)

write("ctx-destroy", 0, F4,
      ctx_create(1) + ctx_create(2)
      + submit(1, 1, FENCE | RING, 1, 0) + submit(2, 1, FENCE | RING, 1, 0)
      + submit(1, 1, FENCE | RING, 4, 5)
      + simple(0x201, [], ctx=1, flags=FENCE | RING, fence=2) + kick + reap + poll + reap)
