#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
DPDK's virtio driver against our vhost-user-net, with exact counts.

  dpdk-testpmd (net_virtio_user, the guest side)
      <-- vhost-user --> vhost-user-net --switch=SOCK
                                        <-- SOCK_SEQPACKET --> this helper

This helper is the far end of the daemon's switch port: it counts every
frame the guest sends and injects frames for the guest, one per message.
testpmd runs interactively on a pty; "show port stats all" gives the
driver's own counts. Each check waits on a state (with a deadline), never
on a fixed sleep:

  host -> guest  testpmd in rxonly; the helper sends frames to the guest's
                 MAC, to a foreign unicast MAC, broadcast, multicast,
                 VLAN-tagged and 9000-byte ones (blocking sends; the daemon
                 holds frames back while the guest has no buffers, so none
                 is lost) and waits until testpmd's RX-packets/RX-bytes
                 reach exactly what was sent.
  guest -> host  "start tx_first" rounds of txonly bursts: single-segment
                 64-byte, three-segment 360-byte and five-segment 9000-byte
                 frames; each round must arrive complete (count, lengths)
                 and match testpmd's TX-packets. A round stays below the
                 socket's buffer, so a slow reader cannot make the daemon
                 drop.
At the end the daemon's own counters (--stats) must agree as well.

With --packet ring|syscall the daemon runs --packet on one end of a veth
pair (vdA; its AF_PACKET rings, or one system call per frame) and this
helper is a raw socket on the other end (vdB), in a network namespace of
its own (run-dpdk-net.sh starts it under unshare --net) with IPv6 off, so
no frame but the test's crosses the pair. Frames to the guest go out in
chunks, each awaited at testpmd (a receive ring, unlike a socket, does not
push back on the sender). VLAN-tagged frames must reach the guest with
their tag (the kernel takes it off; the port puts it back).
With --tap writev|uring the daemon runs --tap=vdT (--tap-writev: one
writev per frame, or by default a batch per io_uring submission) and the raw socket is
on vdT itself: what the daemon writes to the TAP arrives on it, what the
socket sends out of vdT the daemon reads.
Exit 0 pass, 1 fail.
"""
import argparse
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

GUEST_MAC = bytes.fromhex("525400123456")
HOST_MAC = bytes.fromhex("02000000aa01")
FOREIGN_MAC = bytes.fromhex("020000000099")
BCAST = b"\xff" * 6
MCAST = bytes.fromhex("01005e000001")
MTU = 9000


def log(*a):
    print("dpdk_net:", *a, flush=True)


class Fail(Exception):
    pass


def wait_for(what, cond, timeout):
    """Poll cond() until true; Fail after timeout seconds."""
    end = time.monotonic() + timeout
    delay = 0.005
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise Fail("timed out waiting for " + what)
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


class Port:
    """The switch end the daemon connects to; counts what the guest sent."""

    def __init__(self, path):
        self.path = path
        self.ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.ls.bind(path)
        self.ls.listen(1)
        self.conn = None
        self.lock = threading.Lock()
        self.frames = 0
        self.lengths = {}
        self.bad = []
        self.stop = False
        self.thread = None

    def accept(self, timeout):
        self.ls.settimeout(timeout)
        try:
            self.conn, _ = self.ls.accept()
        except socket.timeout:
            raise Fail("the daemon did not connect to its switch port")
        self.conn.settimeout(None)
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()

    def _reader(self):
        while not self.stop:
            r, _, _ = select.select([self.conn], [], [], 0.2)
            if not r:
                continue
            try:
                data = self.conn.recv(70000)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.frames += 1
                self.lengths[len(data)] = self.lengths.get(len(data), 0) + 1
                # testpmd's txonly frames: IPv4/UDP, from the port's MAC
                if len(data) < 42 or data[12:14] != b"\x08\x00":
                    self.bad.append(data[:64].hex())

    def snapshot(self):
        with self.lock:
            return self.frames, dict(self.lengths), list(self.bad)

    def reset_counts(self):
        with self.lock:
            self.frames = 0
            self.lengths = {}
            self.bad = []

    def send(self, frame):
        self.conn.sendall(frame)  # blocking: the daemon reads when the guest has room

    def close(self):
        self.stop = True
        for s in (self.conn, self.ls):
            if s is not None:
                s.close()


SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23
ETH_P_ALL = 3


class VethPort(Port):
    """A raw socket on vdB; the daemon serves vdA (a = None: the daemon's
    TAP b, which exists once the daemon runs). Same interface as Port."""

    def __init__(self, a, b, mtu):
        for key in ("all", "default"):
            with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % key, "w") as f:
                f.write("1")
        if a is not None:
            subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b],
                           check=True)
            for dev in (a, b):
                subprocess.run(["ip", "link", "set", dev, "mtu", str(mtu), "up"], check=True)
        self.a, self.b, self.mtu = a, b, mtu
        self.conn = None
        self.ls = None
        self.lock = threading.Lock()
        self.frames = 0
        self.lengths = {}
        self.bad = []
        self.stop = False
        self.thread = None

    def accept(self, timeout):
        if self.a is None:
            wait_for("the daemon's TAP " + self.b,
                     lambda: subprocess.run(["ip", "link", "show", self.b],
                                            capture_output=True).returncode == 0, timeout)
            subprocess.run(["ip", "link", "set", self.b, "mtu", str(self.mtu), "up"],
                           check=True)
        self.conn = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.conn.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        self.conn.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
        self.conn.bind((self.b, 0))
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()

    def close(self):
        super().close()
        if self.a is not None:
            subprocess.run(["ip", "link", "del", self.a], check=False)


class Testpmd:
    """dpdk-testpmd in interactive mode on a pty."""

    PROMPT = "testpmd> "

    def __init__(self, argv, logf):
        self.master, slave = pty.openpty()
        self.logf = logf
        self.p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                  start_new_session=True)
        os.close(slave)
        self.buf = ""

    def _read(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.master, 65536).decode(errors="replace")
        except OSError:
            data = ""
        if not data:
            if self.p.poll() is not None:
                raise Fail("testpmd exited (%s); its output:\n%s" % (self.p.returncode,
                                                                    self.buf[-3000:]))
            return False
        self.logf.write(data)
        self.logf.flush()
        self.buf += data
        return True

    def expect(self, pattern, timeout):
        end = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.buf)
            if m:
                out = self.buf[:m.end()]
                self.buf = self.buf[m.end():]
                return out, m
            left = end - time.monotonic()
            if left <= 0:
                raise Fail("testpmd: no %r in time; last output:\n%s" % (pattern,
                                                                         self.buf[-3000:]))
            if self.p.poll() is not None and not self._read(0):
                raise Fail("testpmd exited (%s); its output:\n%s" % (self.p.returncode,
                                                                    self.buf[-3000:]))
            self._read(min(left, 0.5))

    def cmd(self, line, timeout=60):
        self.buf = ""
        os.write(self.master, (line + "\n").encode())
        out, _ = self.expect(re.escape(self.PROMPT), timeout)
        return out

    def stats(self):
        out = self.cmd("show port stats 0")
        v = {}
        for key in ("RX-packets", "RX-missed", "RX-bytes", "RX-errors", "RX-nombuf",
                    "TX-packets", "TX-errors", "TX-bytes"):
            m = re.search(key + r":\s+(\d+)", out)
            if not m:
                raise Fail("no %s in testpmd's stats:\n%s" % (key, out))
            v[key] = int(m.group(1))
        return v

    def quit(self):
        try:
            os.write(self.master, b"quit\n")
            self.p.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()
        os.close(self.master)


def eth(dst, ethertype, payload_len, seq, vlan=None):
    hdr = dst + HOST_MAC
    if vlan is not None:
        hdr += struct.pack(">HH", 0x8100, vlan)
    hdr += struct.pack(">H", ethertype)
    body = struct.pack(">I", seq) + bytes((seq + i) & 0xff for i in range(payload_len - 4))
    return hdr + body


def host_to_guest(tp, port, jumbo, chunk=0):
    """Frames of every kind to the guest; testpmd must count them exactly."""
    kinds = [("to the guest's MAC", GUEST_MAC, None, 100),
             ("foreign unicast", FOREIGN_MAC, None, 100),
             ("broadcast", BCAST, None, 100),
             ("multicast", MCAST, None, 100),
             ("VLAN 42 tagged", GUEST_MAC, 42, 100)]
    frames = []
    for name, dst, vlan, n in kinds:
        for i in range(n):
            frames.append(eth(dst, 0x88b5, 46 + (i * 37) % 1400, i, vlan))
    if jumbo:
        for i in range(20):
            frames.append(eth(GUEST_MAC, 0x88b5, MTU - 14 - 0 * i, i))
    base = tp.stats()
    tp.cmd("set fwd rxonly")
    tp.cmd("start")
    for i, f in enumerate(frames):
        port.send(f)
        if chunk and (i + 1) % chunk == 0:
            # the chunk must have arrived before the next goes
            wait_for("testpmd to receive %d frames" % (i + 1),
                     lambda: tp.stats()["RX-packets"] >= base["RX-packets"] + i + 1, 120)
    want_pkts = base["RX-packets"] + len(frames)
    want_bytes = base["RX-bytes"] + sum(len(f) for f in frames)
    last = {}

    def arrived():
        last.update(tp.stats())
        return last["RX-packets"] >= want_pkts

    try:
        wait_for("testpmd to receive %d frames" % len(frames), arrived, 120)
    except Fail as e:
        raise Fail("%s: it counted %d" % (e, last.get("RX-packets", 0) - base["RX-packets"]))
    finally:
        tp.cmd("stop")
    s = tp.stats()
    got = s["RX-packets"] - base["RX-packets"]
    log("host->guest: sent %d (%s%s), testpmd received %d, %d bytes of %d" % (
        len(frames), ", ".join("%d %s" % (k[3], k[0]) for k in kinds),
        ", 20 of 9000 bytes" if jumbo else "", got, s["RX-bytes"] - base["RX-bytes"],
        want_bytes - base["RX-bytes"]))
    if s["RX-packets"] != want_pkts or s["RX-bytes"] != want_bytes:
        raise Fail("host->guest: testpmd counted %d frames / %d bytes, want %d / %d" % (
            got, s["RX-bytes"] - base["RX-bytes"], len(frames), want_bytes - base["RX-bytes"]))
    if s["RX-errors"] or s["RX-missed"] or s["RX-nombuf"]:
        raise Fail("host->guest: testpmd errors %s" % s)
    return len(frames)


def guest_to_host(tp, port, queues, segs, burst, rounds):
    """Rounds of txonly bursts; every frame must arrive whole and counted."""
    total = sum(segs)
    tp.cmd("set fwd rxonly")
    tp.cmd("set burst %d" % burst)
    out = tp.cmd("set txpkts " + ",".join(str(s) for s in segs))
    if "rror" in out or "nvalid" in out:
        raise Fail("set txpkts %s: %s" % (segs, out))
    sent = 0
    for r in range(rounds):
        base = tp.stats()
        port.reset_counts()
        tp.cmd("start tx_first 1")
        tp.cmd("stop")
        s = tp.stats()
        n = s["TX-packets"] - base["TX-packets"]
        want = burst * queues
        if n != want:
            raise Fail("guest->host %s: testpmd sent %d of a %d-frame round" % (segs, n, want))
        try:
            wait_for("%d frames of %d bytes at the switch port" % (n, total),
                     lambda: port.snapshot()[0] >= n, 60)
        except Fail as e:
            raise Fail("%s: %d arrived" % (e, port.snapshot()[0]))
        # nothing more may come: one more look after the daemon went idle
        frames, lengths, bad = port.snapshot()
        if frames != n or lengths != {total: n} or bad:
            raise Fail("guest->host %s: got %d frames %s (bad: %s), want %d of %d bytes" % (
                segs, frames, lengths, bad[:3], n, total))
        if s["TX-errors"]:
            raise Fail("guest->host: testpmd TX-errors %d" % s["TX-errors"])
        sent += n
    log("guest->host: %d frames of %d bytes in %d segment%s, all %d arrived" % (
        sent, total, len(segs), "s" if len(segs) > 1 else "", sent))
    return sent


def oversize_then_small(tp, port, queues):
    """--packet: frames over vdA's MTU are refused by the kernel; the port
    must drop them and keep going (a refused frame must not stop a ring)."""
    subprocess.run(["ip", "link", "set", port.a, "mtu", "1500"], check=True)
    try:
        tp.cmd("set fwd rxonly")
        tp.cmd("set burst 32")
        tp.cmd("set txpkts 2000")
        base = tp.stats()
        tp.cmd("start tx_first 1")
        tp.cmd("stop")
        n = tp.stats()["TX-packets"] - base["TX-packets"]
        if n != 32 * queues:
            raise Fail("oversize: testpmd sent %d of %d" % (n, 32 * queues))
        sent = guest_to_host(tp, port, queues, [64], burst=32, rounds=2)
    finally:
        subprocess.run(["ip", "link", "set", port.a, "mtu", str(port.mtu)], check=True)
    log("oversize: %d frames of 2000 bytes over an MTU of 1500 dropped, then %d small ones "
        "arrived" % (n, sent))
    return n, sent


def daemon_stats(text):
    m = re.search(r"tx (\d+) frames \(\d+ KiB\), (\d+) bad; rx (\d+) frames \(\d+ KiB\), "
                  r"(\d+) filtered, \d+ waits for buffers, (\d+) dropped", text)
    if not m:
        raise Fail("no statistics from the daemon:\n" + text[-2000:])
    w = re.search(r"(\d+) transmit chains marked writable", text)
    pm = re.search(r"port: (\d+) sent, (\d+) dropped, (\d+) received, (\d+) transmit kicks, "
                   r"(\d+) too big", text)
    if pm:
        log("daemon's port: %s sent, %s dropped, %s received, %s transmit kicks, %s too big" %
            pm.groups())
    return {"tx": int(m.group(1)), "tx_bad": int(m.group(2)), "rx": int(m.group(3)),
            "rx_filtered": int(m.group(4)), "rx_dropped": int(m.group(5)),
            "write_as_read": int(w.group(1)) if w else -1,
            "port": [int(x) for x in pm.groups()] if pm else None,
            "warning": "warning:" in text}


def run(args, layout, mrg, cq, queues, in_order):
    name = "%s mrg_rxbuf=%d cq=%d queues=%d in_order=%d" % (layout, mrg, cq, queues, in_order)
    log("--- " + name)
    d = tempfile.mkdtemp(prefix="vdev-dpdk.")
    swp, vup = os.path.join(d, "sw.sock"), os.path.join(d, "vu.sock")
    if args.packet:
        name += " --packet (%s)" % args.packet
        port = VethPort("vdA", "vdB", MTU)
        where = ["--packet=vdA"] + (["--no-packet-rings"] if args.packet == "syscall" else [])
    elif args.tap:
        name += " --tap (%s)" % args.tap
        port = VethPort(None, "vdT", MTU)
        where = ["--tap=vdT"] + (["--tap-writev"] if args.tap == "writev" else [])
    else:
        port = Port(swp)
        where = ["--switch=" + swp]
    daemon = tp = None
    derr = open(os.path.join(d, "daemon.log"), "w+")
    tlog = open(os.path.join(d, "testpmd.log"), "w")
    ok = False
    try:
        daemon = subprocess.Popen([args.daemon, "--socket-path=" + vup] + where +
                                  ["--mac=52:54:00:12:34:56", "--mtu=%d" % MTU,
                                   "--queue-pairs=%d" % queues, "--queue-size=1024",
                                   "--stats", "--quiet"], stderr=derr)
        port.accept(30)
        wait_for("the daemon's vhost-user socket", lambda: os.path.exists(vup), 30)
        # mergeable buffers take jumbo frames in 2 KiB mbufs; without them
        # one mbuf must hold a whole frame
        mbuf = 2048 + 128 if mrg else 10240
        vdev = ("net_virtio_user0,path=%s,queues=%d,cq=%d,packed_vq=%d,mrg_rxbuf=%d,"
                "in_order=%d,queue_size=256" % (vup, queues, cq, 1 if layout == "packed" else 0,
                                                mrg, in_order))
        argv = [args.testpmd, "-l", "0,1", "--no-huge", "-m", "512", "--no-pci",
                "--no-shconf", "--file-prefix=vdevdpdk%d" % os.getpid(), "--log-level=7",
                "--vdev=" + vdev, "--", "-i", "--rxq=%d" % queues, "--txq=%d" % queues,
                "--nb-cores=1", "--rxd=256", "--txd=256", "--mbuf-size=%d" % mbuf,
                "--total-num-mbufs=8192", "--max-pkt-len=%d" % (MTU + 18)]
        if mrg:
            argv.append("--enable-scatter")
        tp = Testpmd(argv, tlog)
        tp.expect(re.escape(Testpmd.PROMPT), 120)
        out = tp.cmd("show port info 0")
        if "Link status: up" not in out:
            raise Fail("port 0 is not up:\n" + out)
        rx = host_to_guest(tp, port, jumbo=True, chunk=64 if args.packet or args.tap else 0)
        tx = guest_to_host(tp, port, queues, [64], burst=32, rounds=4)
        multiseg = guest_to_host(tp, port, queues, [60, 100, 200], burst=32, rounds=4)
        multiseg += guest_to_host(tp, port, queues, [2000, 2000, 2000, 2000, 1000], burst=4,
                                  rounds=8)
        tx += multiseg
        big = 0
        if args.packet:
            big, small = oversize_then_small(tp, port, queues)
            tx += small
        tp.quit()
        tp = None
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
        derr.seek(0)
        ds = daemon_stats(derr.read())
        log("daemon: tx %d frames (%d bad, %d marked writable), rx %d frames (%d filtered, "
            "%d dropped)" % (ds["tx"], ds["tx_bad"], ds["write_as_read"], ds["rx"],
                             ds["rx_filtered"], ds["rx_dropped"]))
        if ds["tx"] != tx + big or ds["tx_bad"] or ds["rx"] != rx or ds["rx_filtered"] or \
                ds["rx_dropped"]:
            raise Fail("the daemon's counts disagree: %s, want tx %d rx %d" % (ds, tx, rx))
        if args.packet:
            # the port itself: everything sent and received, nothing too
            # big for a slot; the oversized frames: refused by sendmsg
            # (dropped), or skipped by the kernel in the ring (sent); the
            # ring sends in batches (a kick per pass), the fallback does
            # not kick at all
            sent, dropped, received, kicks, too_big = ds["port"] or [-1] * 5
            want = (tx + big, 0) if args.packet == "ring" else (tx, big)
            if (sent, dropped, received, too_big) != want + (rx, 0):
                raise Fail("the daemon's port counts %s, want %d sent, %d dropped, %d received"
                           % (ds["port"], want[0], want[1], rx))
            if args.packet == "ring" and (ds["warning"] or not 0 < kicks < sent):
                raise Fail("the rings were not used (warning: %s, %d kicks for %d frames)" % (
                    ds["warning"], kicks, sent))
            if args.packet == "syscall" and kicks != 0:
                raise Fail("%d ring kicks without rings" % kicks)
        if args.tap:
            # every frame written (big ones directly, the rest in batches
            # without --tap-writev) and read
            sent, dropped, received, kicks, big = ds["port"] or [-1] * 5
            if (sent, dropped, received) != (tx, 0, rx):
                raise Fail("the daemon's port counts %s, want %d sent, %d received" % (
                    ds["port"], tx, rx))
            if args.tap == "uring" and (ds["warning"] or not 0 < kicks < sent):
                raise Fail("no batched writes (warning: %s, %d submissions for %d frames)" % (
                    ds["warning"], kicks, sent))
            if args.tap == "writev" and kicks != 0:
                raise Fail("%d io_uring submissions with --tap-writev" % kicks)
        # DPDK 22.11 sends multi-segment frames on a packed ring through an
        # indirect table whose entries are all marked writable; on a split
        # ring its tables are right.
        want_war = multiseg if layout == "packed" else 0
        if ds["write_as_read"] != want_war:
            raise Fail("transmit chains marked writable: %d, want %d" % (ds["write_as_read"],
                                                                         want_war))
        log("PASS " + name)
        ok = True
    finally:
        if tp is not None:
            tp.quit()
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        port.close()
        if not ok:
            derr.seek(0)
            sys.stdout.write("daemon log:\n" + derr.read()[-3000:])
            log("logs kept in " + d)
        else:
            for f in os.listdir(d):
                os.unlink(os.path.join(d, f))
            os.rmdir(d)
        derr.close()
        tlog.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--testpmd", default="dpdk-testpmd")
    ap.add_argument("--layout", choices=["split", "packed"], required=True)
    ap.add_argument("--cq", type=int, choices=[0, 1], required=True)
    ap.add_argument("--queues", type=int, choices=[1, 2], default=1)
    ap.add_argument("--mrg", default="0,1", help="mrg_rxbuf values to run")
    ap.add_argument("--in-order", default="1", help="in_order values to run")
    ap.add_argument("--packet", choices=["ring", "syscall"],
                    help="the daemon on a veth (AF_PACKET) instead of a switch port")
    ap.add_argument("--tap", choices=["writev", "uring"],
                    help="the daemon on a TAP instead of a switch port")
    args = ap.parse_args()
    try:
        for mrg in [int(x) for x in args.mrg.split(",")]:
            for io in [int(x) for x in args.in_order.split(",")]:
                run(args, args.layout, mrg, args.cq, args.queues, io)
    except Fail as e:
        log("FAIL:", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
