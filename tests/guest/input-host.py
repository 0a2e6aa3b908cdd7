#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The host side of the input-events scenario: send key presses to the
# keyboard daemon's event socket and a two-contact multi-touch sequence
# to the touch daemon's, in the text format of examples/vhost-user-input
# ("TYPE CODE VALUE" lines, an update per SYN_REPORT), and check every
# update is answered "OK". Also sends lines the daemon must refuse.
# usage: input-host.py KBD_EVENTS_SOCKET TOUCH_EVENTS_SOCKET
import socket
import sys

EV_SYN, EV_KEY, EV_ABS = 0, 1, 3
KEY_A, KEY_B, BTN_TOUCH = 30, 48, 330
ABS_X, ABS_Y, SLOT, MT_X, MT_Y, TRACK = 0, 1, 47, 53, 54, 57
SYN = (EV_SYN, 0, 0)

keys = [[(EV_KEY, KEY_A, 1), SYN], [(EV_KEY, KEY_A, 0), SYN],
        [(EV_KEY, KEY_B, 1), SYN], [(EV_KEY, KEY_B, 0), SYN]]
touch = [
    [(EV_ABS, SLOT, 1), (EV_ABS, TRACK, 100), (EV_ABS, MT_X, 300), (EV_ABS, MT_Y, 200),
     (EV_KEY, BTN_TOUCH, 1), (EV_ABS, ABS_X, 300), (EV_ABS, ABS_Y, 200), SYN],
    [(EV_ABS, SLOT, 0), (EV_ABS, TRACK, 101), (EV_ABS, MT_X, 500), (EV_ABS, MT_Y, 400), SYN],
    [(EV_ABS, SLOT, 1), (EV_ABS, MT_X, 310), SYN],
    [(EV_ABS, TRACK, -1), SYN],
    [(EV_ABS, SLOT, 0), (EV_ABS, TRACK, -1), (EV_KEY, BTN_TOUCH, 0), SYN],
]


def result(name, ok, why=""):
    print(("PASS" if ok else "FAIL") + " host/" + name + ("" if ok else " " + why), flush=True)


class Client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(60)
        self.s.connect(path)
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(4096)
            if not d:
                raise EOFError("daemon closed")
            self.buf += d
        l, self.buf = self.buf.split(b"\n", 1)
        return l.decode()

    def answer(self):
        # status lines (the guest's LEDs) may come in between
        while True:
            l = self.line()
            if not l.startswith("STATUS "):
                return l

    def send(self, text):
        self.s.sendall(text.encode())


def send_updates(c, updates):
    answers = []
    for u in updates:
        c.send("".join(f"{t} {code} {v}\n" for t, code, v in u))
        answers.append(c.answer())
    return answers


kbd, tch = Client(sys.argv[1]), Client(sys.argv[2])
# malformed lines first: refused, nothing sent to the guest
kbd.send("# a comment, then a blank line\n\n")
kbd.send("1 30\n")
a1 = kbd.answer()
kbd.send("1 30 1 extra\n")
a2 = kbd.answer()
kbd.send("70000 1 1\n")
a3 = kbd.answer()
result("refuses-malformed-lines", all(a.startswith("ERR") for a in (a1, a2, a3)), f"{a1}|{a2}|{a3}")
ka = send_updates(kbd, keys)
result("keys-accepted", ka == ["OK"] * len(keys), "|".join(ka))
ta = send_updates(tch, touch)
result("touch-accepted", ta == ["OK"] * len(touch), "|".join(ta))
