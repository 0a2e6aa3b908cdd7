#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpus of fuzz_vq (dev-time tool; the output is committed).
# Each seed is a short, valid session in the input format of fuzz_vq.c, so
# the fuzzer starts from working rings and mutates from there.
import os
import struct

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

(ADD, RAW, POP, BATCH, PUSH, PUBLISH, ENABLE, DISABLE, REAP, RESTART, HASWORK, NOTE, REMAP,
 STALE, AGAIN, UNPOP) = range(16)


def buf(kind=0, off=0, length=64):
    # pick_addr kind 0: arena + off; then a length selector byte != 0 mod 4
    # and a 16-bit length
    return bytes([kind]) + struct.pack("<H", off) + bytes([1]) + struct.pack("<H", length)


def add(nbufs, nwrite, indirect=0, bufs=None):
    body = bytes([ADD, nbufs - 1, nwrite])
    for i in range(nbufs):
        body += bufs[i] if bufs else buf(0, 600 * i, 64 + i)
    return body + bytes([indirect])


def again(idx, write=1):
    # the driver offers pending chain idx's buffer again: address (kind 0,
    # offset 0), 16-bit length, write flag, index among the pending chains
    return bytes([AGAIN, 0]) + struct.pack("<HH", 0, 8) + bytes([write, idx])


def pop(cap=16):
    return bytes([POP, cap - 1])


def batch(want, cap=16):
    return bytes([BATCH, want - 1, cap - 1])


def push1(k, length=8):
    # one push (even "how" byte) of pending chain k
    return bytes([PUSH, 0, k]) + struct.pack("<H", length)


def stale(k, length=8):
    return bytes([STALE, k]) + struct.pack("<H", length)


def session(flags, size_sel, ops):
    return bytes([flags]) + struct.pack("<H", size_sel) + b"".join(ops)


def cycle(n, indirect=0):
    ops = []
    for i in range(n):
        ops.append(add(3, 1, indirect))
    ops.append(bytes([BATCH, n - 1, 15]))
    for i in range(n):
        ops.append(bytes([PUSH, 0]) + struct.pack("<H", 65))
    ops += [bytes([PUBLISH]), bytes([REAP])]
    return ops


seeds = {
    "split-basic": session(0, 3, cycle(4)),
    "split-event-idx": session(2, 4, cycle(6) + [bytes([DISABLE]), bytes([ENABLE])] + cycle(3)),
    "split-indirect": session(4, 2, cycle(3, indirect=1)),
    "split-in-order": session(8, 3, cycle(5)),
    "packed-basic": session(1, 6, cycle(4)),
    "packed-event-idx": session(3, 4, cycle(5) + cycle(5) + cycle(5)),
    "packed-indirect": session(5, 9, cycle(3, indirect=1)),
    "packed-wrap": session(1, 2, cycle(2) * 6),
    "split-straddle": session(0, 2, [add(2, 1, 0, [buf(3, 10, 100), buf(0, 0, 8)]),
                                     bytes([POP, 7, PUSH, 0, 8, 0, PUBLISH, REAP])]),
    "split-hostile": session(0, 3, [add(1, 0), bytes([RAW, 0, 0, 0xff, 0]),
                                    bytes([RAW, 2, 0, 0x40, 1]), bytes([POP, 3, PUSH, 0, 0, 0])]),
    "packed-hostile": session(1, 5, [add(2, 1), bytes([RAW, 14, 0, 0x81, 0]),
                                     bytes([POP, 3, PUSH, 0, 0, 0, PUBLISH])]),
    "restart": session(0, 3, cycle(2) + [bytes([RESTART, 0])] + cycle(2)),
    # flag 32: a device-reads-only queue (writable descriptors read)
    "split-reads-only": session(32, 3, cycle(4) + cycle(2, indirect=1)),
    "packed-reads-only-indirect": session(1 | 4 | 32, 9, cycle(3, indirect=1) + cycle(3)),
    "bad-addresses": session(0, 3, [add(4, 2, 0, [buf(4, 0, 8), buf(5, 0, 8), buf(6, 0, 8), buf(7, 0, 8)]),
                                    bytes([POP, 15, PUSH, 0, 0, 0, PUBLISH, REAP])]),
    # one buffer, one used element: the driver offers a held buffer again
    # (after its pop, or before a batch pop reaches it), completed and
    # forgotten chains pushed again, unpop then pop
    "split-offer-again": session(0, 3, [add(2, 1), add(2, 1), batch(2), again(0), pop(),
                                        push1(0), push1(0), bytes([PUBLISH, REAP])]),
    "packed-offer-again": session(1, 6, [add(1, 1), pop(), again(0), batch(4), push1(0),
                                         bytes([PUBLISH, REAP])]),
    "in-order-indirect-offer-again": session(4 | 8, 3, [add(2, 1, 1), pop(), again(0, 0), pop(),
                                                        push1(0), bytes([PUBLISH, REAP])]),
    "stale-push": session(1, 4, [add(1, 1), add(1, 1), batch(2), push1(1), push1(0), add(1, 1),
                                 pop(), stale(0), stale(1), add(1, 1), pop(),
                                 bytes([RESTART, 0]), add(1, 1), pop(), stale(2),
                                 bytes([PUBLISH, REAP])]),
    "unpop": session(0, 3, [add(1, 1), add(1, 1), add(1, 1), batch(3), bytes([UNPOP, 1]),
                            stale(0), stale(1), batch(3), push1(0), push1(0), push1(0),
                            bytes([PUBLISH, REAP])]),
}

os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
