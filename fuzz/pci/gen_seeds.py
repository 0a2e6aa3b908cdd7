#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpus of fuzz_pci (dev-time tool; the output is committed).
import os
import struct

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
WC, WB, RB, ANY, CW, CR, INIT, ADD, CFG, MSIX, WIN, BME, RESET = range(13)
W1, W2, W4, W8 = 0, 1, 2, 3  # width selectors (1 << n bytes)
INTX, MSI, WINDOW = 0, 1, 2  # mode byte

# register BAR layout (include/vdev/pci.h)
ISR, DEVCFG, NOTIFY, TABLE, PBA = 0x1000, 0x2000, 0x3000, 0x4000, 0xC000


def wc(off, val, w=W4):  # common config write
    return bytes([WC, w, off]) + struct.pack("<I", val)


def wb(off, val, w=W4):  # register BAR write, 16-bit offset
    return bytes([WB, w]) + struct.pack("<HI", off, val)


def rc(off, w=W4):  # common config read
    return bytes([RB, w, 1, off])


def rb(off, w=W4):
    return bytes([RB, w, 0]) + struct.pack("<H", off)


def cw(off, val, w=W4):  # config space write, 8-bit offset
    return bytes([CW, w, 1, off]) + struct.pack("<I", val)


def cr(off, w=W4):
    return bytes([CR, w, off])


def init(features_hi, features_lo, qsize_log2):
    return bytes([INIT, 0]) + struct.pack("<I", features_hi) + bytes([features_lo, qsize_log2])


def add(off, rlen, wlen, indirect=0):
    return bytes([ADD, 0, off, rlen, wlen, indirect])


def msix(vec, word, val, ctrl):
    return bytes([MSIX, 0, vec, word]) + struct.pack("<IH", val, ctrl)


def bme(on):  # Bus Master Enable off (0) / on (1)
    return bytes([BME, 0, on])


def win(bar, off, length, write=None, w=W4):
    b = bytes([WIN, w, bar]) + struct.pack("<H", off) + bytes([length])
    if write is None:
        return b + bytes([0])
    return b + bytes([1]) + struct.pack("<I", write)


VERSION_1 = 1 << 4  # bit 32 after the <<28 in the target
PACKED = 1 << 6     # bit 34
EVENT_IDX = 1 << 1  # bit 29
INDIRECT = 1 << 0   # bit 28
NDATA = 1 << 10     # bit 38
RESET_F = 1 << 12   # bit 40

seeds = {
    "init-split-intx": b"\x00" + bytes([INTX]) + init(VERSION_1, 1, 3) + add(1, 16, 32)
    + add(2, 8, 8) + rb(ISR, W1) + cr(0x06, W2),
    "init-packed-msix": b"\x00" + bytes([MSI]) + init(VERSION_1 | PACKED | EVENT_IDX, 1, 4)
    + add(3, 16, 32, 1) + bytes([CFG, 0]) + rb(PBA, W8),
    "window": b"\x00" + bytes([WINDOW]) + init(VERSION_1, 0, 2) + add(0, 4, 4)
    + win(0, 0x12, 2) + win(0, 0x14, 1, 0) + win(0, ISR, 1) + win(0, DEVCFG + 8, 1, 0x77, W1)
    + win(2, 0, 4) + win(0, 0x13, 2),
    "raw-bringup": b"\x00" + bytes([INTX]) + wc(0x14, 0, W1) + wc(0x14, 1, W1) + wc(0x14, 3, W1)
    + wc(0x08, 1) + wc(0x0c, 1) + wc(0x14, 0x0b, W1) + rc(0x14, W1) + wc(0x16, 0, W2)
    + rc(0x18, W2) + wc(0x18, 8, W2) + wc(0x20, 0x11000) + wc(0x28, 0x12000) + wc(0x30, 0x13000)
    + wc(0x1c, 1, W2) + wc(0x14, 0x0f, W1) + wb(NOTIFY, 0, W2),
    "queue-reset": b"\x00" + bytes([INTX]) + init(VERSION_1 | RESET_F, 0, 2) + add(0, 4, 4)
    + wc(0x16, 0, W2) + wc(0x3a, 1, W2) + rc(0x3a, W2) + rc(0x1c, W2) + wc(0x1c, 0, W2),
    "msix-masking": b"\x00" + bytes([MSI]) + init(VERSION_1, 0, 3) + msix(1, 12, 1, 0x8000)
    + add(0, 8, 8) + rb(PBA, W4) + msix(1, 12, 0, 0x8000) + msix(0, 0, 0xfee00000, 0xc000)
    + bytes([CFG, 0]) + msix(0, 12, 0, 0x8000) + wc(0x10, 7, W2) + rc(0x10, W2)
    + wc(0x16, 0xffff, W2) + wc(0x1a, 1, W2) + rc(0x1a, W2),
    "bar-sizing": b"\x00" + bytes([INTX]) + cw(0x10, 0xffffffff) + cr(0x10) + cw(0x14, 0xffffffff)
    + cr(0x14) + cw(0x18, 0xffffffff) + cr(0x18) + cw(0x20, 0xffffffff) + cw(0x04, 0, W2)
    + cw(0x10, 0xe0000000) + cw(0x14, 0) + cw(0x04, 6, W2) + cw(0x04, 0x406, W2)
    + bytes([RESET, 0, 1]),
    "notification-data": b"\x00" + bytes([INTX]) + init(VERSION_1 | NDATA, 0, 3) + add(0, 4, 4)
    + wb(NOTIFY, 0x00010000) + wb(NOTIFY + 4, 0, W2) + wb(NOTIFY + 0x1000, 0, W2),
    "bme-toggle-msix": b"\x00" + bytes([MSI]) + init(VERSION_1 | EVENT_IDX, 0, 3) + bme(0)
    + add(0, 8, 8) + bytes([CFG, 0]) + rb(PBA, W8) + bme(1) + rb(PBA, W8) + bme(0)
    + msix(1, 12, 1, 0x8000) + add(1, 4, 4) + bme(1) + msix(1, 12, 0, 0x8000) + bme(0)
    + cw(0x04, 6, W2) + add(2, 4, 4),
    "bme-toggle-intx": b"\x00" + bytes([INTX]) + bme(0) + init(VERSION_1, 0, 2) + add(0, 4, 4)
    + rb(ISR, W1) + bme(1) + rb(ISR, W1) + bme(0) + bytes([CFG, 0]) + rb(ISR, W1)
    + bytes([RESET, 0, 1]) + add(0, 4, 4),
    "guest-memory": bytes([16]) + bytes(range(256)) + bytes([INTX]) + init(VERSION_1, 0, 2)
    + add(0, 200, 200),
}
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
