#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Take a screendump through QEMU's QMP socket: qmp-screendump.py SOCKET FILE
# (PPM; QEMU's console 0, which is what the vhost-user-gpu display channel
# drew). Exit 0 once QEMU answered "return", 1 on an error or a timeout.
import json
import socket
import sys

def main():
    sock_path, out = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(sock_path)
    f = s.makefile("rw")

    def reply():
        while True:
            line = f.readline()
            if not line:
                raise EOFError("QMP closed")
            msg = json.loads(line)
            if "return" in msg or "error" in msg:
                return msg

    f.readline()  # greeting
    for cmd in ({"execute": "qmp_capabilities"},
                {"execute": "screendump", "arguments": {"filename": out}}):
        f.write(json.dumps(cmd) + "\n")
        f.flush()
        msg = reply()
        if "error" in msg:
            print("qmp-screendump: %s" % msg["error"].get("desc"), file=sys.stderr)
            return 1
    return 0

if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, EOFError, ValueError) as e:
        print("qmp-screendump: %s" % e, file=sys.stderr)
        sys.exit(1)
