#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
Four DPDK virtio drivers (dpdk-testpmd, net_virtio_user) as VMs A, B, C
and D on vdev-switch's in-process vhost-user ports, with exact counts.

  testpmd A --vhost-user--+
  testpmd B --vhost-user--+-- vdev-switch --vhost-user=a --vhost-user=b ...
  testpmd C --vhost-user--+
  testpmd D --vhost-user--+   (port policy lock-src; D's driver uses another MAC)
  this test E --socket-----+   (a --socket-path port, as a vhost-user-net
                                daemon in another process would use)

Every testpmd runs rxonly; a VM sends with "start tx_first 1" in txonly
bursts to the MAC set with "set eth-peer". After each step the sender
sends one broadcast marker; once every other VM has counted it, every
earlier frame has arrived (the switch and the rings keep order), so the
counts are compared for equality, not waited on with a sleep:

  1 A -> B before B sent anything: unknown unicast, flooded to B, C, D
  2 B -> A: A was learned in 1, so only A gets them
  3 A -> B: B was learned in 2, so only B gets them (C and D get none)
  4 A <-> B both ways at once, rounds of bursts: only A and B
  5 C -> a multicast group: flooded to A, B and D
  6 D -> broadcast with a source MAC other than its port's: dropped by the
    port's lock-src policy (counted as spoofed), nobody gets them
  7 E -> A (A learned): only A; then A -> E (E learned): only E
Every flood reaches E too.
At the end the switch's own counters (--stats on SIGTERM) must agree:
per-port frames in and out, forwarded and flooded, nothing dropped.
Exit 0 pass, 1 fail.
"""
import argparse
import os
import re
import signal
import socket
import struct
import threading
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpdk_net import Fail, Testpmd, wait_for  # noqa: E402

# the switch gives each VM its MAC; D's driver overrides it (mac= devarg)
MACS = {"A": "02:00:00:00:00:0a", "B": "02:00:00:00:00:0b", "C": "02:00:00:00:00:0c",
        "D": "02:00:00:00:00:0d", "E": "02:00:00:00:00:0e"}
DRIVER_MACS = dict(MACS, D="02:00:00:00:00:1d")
BCAST = "ff:ff:ff:ff:ff:ff"
MCAST = "01:00:5e:00:00:01"
BURST = 32
MARKERS = [0]


def log(*a):
    print("dpdk_switch:", *a, flush=True)


class SockVM:
    """Port E: a socket port of the switch, driven by this test."""

    def __init__(self, path):
        self.name = "E"
        self.want_rx = self.want_tx = 0
        self.rx = 0
        self.bad = 0
        self.lock = threading.Lock()
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.connect(path)
        self.stop = False
        self.t = threading.Thread(target=self._reader, daemon=True)
        self.t.start()

    def _reader(self):
        while not self.stop:
            try:
                self.s.settimeout(0.2)
                data = self.s.recv(70000)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.rx += 1
                if len(data) < 60:
                    self.bad += 1

    def stats(self):
        with self.lock:
            return {"RX-packets": self.rx, "TX-packets": self.want_tx, "RX-errors": self.bad,
                    "RX-missed": 0, "RX-nombuf": 0, "TX-errors": 0}

    def send(self, dst, burst, rounds=1):
        d = bytes.fromhex(dst.replace(":", ""))
        src = bytes.fromhex(MACS["E"].replace(":", ""))
        for i in range(burst * rounds):
            self.s.send(d + src + struct.pack(">HI", 0x88b5, i) + bytes(44))
        self.want_tx += burst * rounds

    def close(self):
        self.stop = True
        self.s.close()


class VM:
    def __init__(self, name, tp):
        self.name, self.tp = name, tp
        self.want_rx = 0
        self.want_tx = 0

    def stats(self):
        return self.tp.stats()

    def send(self, dst, burst, rounds=1):
        """rounds bursts of `burst` frames to dst; counts what testpmd sent."""
        tp = self.tp
        tp.cmd("stop")
        tp.cmd("set eth-peer 0 " + dst)
        tp.cmd("set burst %d" % burst)
        before = tp.stats()["TX-packets"]
        tp.cmd("start tx_first %d" % rounds)
        sent = tp.stats()["TX-packets"] - before
        if sent != burst * rounds:
            raise Fail("%s sent %d of %d frames" % (self.name, sent, burst * rounds))
        self.want_tx += sent


def check(vms, what):
    """Wait for every VM's RX to reach what it should, then compare exactly."""
    last = {}

    def arrived():
        for vm in vms:
            last[vm.name] = vm.stats()
        return all(last[vm.name]["RX-packets"] >= vm.want_rx for vm in vms)

    try:
        wait_for(what, arrived, 120)
    except Fail as e:
        raise Fail("%s: %s" % (e, ", ".join("%s rx %d of %d" % (vm.name,
                   last[vm.name]["RX-packets"], vm.want_rx) for vm in vms)))
    for vm in vms:
        s = last[vm.name]
        if s["RX-packets"] != vm.want_rx or s["TX-packets"] != vm.want_tx:
            raise Fail("%s: %s counted rx %d tx %d, want rx %d tx %d" % (
                what, vm.name, s["RX-packets"], s["TX-packets"], vm.want_rx, vm.want_tx))
        if s["RX-errors"] or s["RX-missed"] or s["RX-nombuf"] or s["TX-errors"]:
            raise Fail("%s: %s has errors: %s" % (what, vm.name, s))
    log("%s: %s" % (what, ", ".join("%s rx %d tx %d" % (vm.name, vm.want_rx, vm.want_tx)
                                    for vm in vms)))


def marker(sender, vms):
    """One broadcast from sender: the barrier after a step."""
    sender.send(BCAST, 1)
    MARKERS[0] += 1
    for vm in vms:
        if vm is not sender:
            vm.want_rx += 1


def switch_stats(text):
    g = re.search(r"(\d+) forwarded, (\d+) flooded, (\d+) local", text)
    if not g:
        raise Fail("no statistics from the switch:\n" + text[-2000:])
    ports = {}
    for m in re.finditer(r"port (\d+) \(([^)]*)\): in (\d+), out (\d+), dropped (\d+) "
                         r"\((\d+) no room\), filtered (\d+), spoofed (\d+), bad (\d+)", text):
        ports[int(m.group(1))] = {k: int(m.group(i)) for i, k in enumerate(
            ("in", "out", "dropped", "no_room", "filtered", "spoofed", "bad"), 3)}
    return {"forwarded": int(g.group(1)), "flooded": int(g.group(2)),
            "local": int(g.group(3)), "ports": ports}


def run(args):
    name = "%s%s mrg_rxbuf=%d" % (args.layout, " --poll" if args.poll else "", args.mrg)
    log("--- " + name)
    d = tempfile.mkdtemp(prefix="vdev-dpdksw.")
    socks = {n: os.path.join(d, n + ".sock") for n in "ABCD"}
    swlog = open(os.path.join(d, "switch.log"), "w+")
    tlogs = []
    sw = None
    vms = []
    ok = False
    try:
        argv = [args.switch, "--stats", "--queue-size=1024"]
        argv += ["--vhost-user=%s,mac=%s" % (socks[n], MACS[n]) for n in "ABC"]
        argv += ["--vhost-user=%s,mac=%s,lock-src" % (socks["D"], MACS["D"])]
        swsock = os.path.join(d, "sw.sock")
        argv += ["--socket-path=" + swsock]
        if args.poll:
            argv.append("--poll")
        log("switch: " + " ".join(argv))
        sw = subprocess.Popen(argv, stderr=swlog)
        wait_for("the switch's sockets", lambda: all(os.path.exists(s) for s in
                                                      list(socks.values()) + [swsock]), 30)
        E = SockVM(swsock)
        for n in "ABCD":
            vdev = ("net_virtio_user0,path=%s,queues=1,cq=0,packed_vq=%d,mrg_rxbuf=%d,"
                    "in_order=1,queue_size=256,mac=%s" % (
                        socks[n], 1 if args.layout == "packed" else 0, args.mrg,
                        DRIVER_MACS[n]))
            tl = open(os.path.join(d, "testpmd-%s.log" % n), "w")
            tlogs.append(tl)
            targv = [args.testpmd, "-l", "0,1", "--no-huge", "-m", "512", "--no-pci",
                     "--no-shconf", "--file-prefix=vdevsw%s%d" % (n, os.getpid()),
                     "--vdev=" + vdev, "--", "-i", "--nb-cores=1", "--rxd=256", "--txd=256",
                     "--total-num-mbufs=8192"]
            if n == "A":
                log("testpmd: " + " ".join(targv))
            vms.append(VM(n, Testpmd(targv, tl)))
        A, B, C, D = vms
        vms.append(E)
        for vm in vms[:4]:
            vm.tp.expect(re.escape(Testpmd.PROMPT), 120)
            out = vm.tp.cmd("show port info 0")
            if "Link status: up" not in out:
                raise Fail("%s: port 0 is not up:\n%s" % (vm.name, out))
            if DRIVER_MACS[vm.name].upper() not in out.upper():
                raise Fail("%s: port 0 does not have MAC %s:\n%s" % (
                    vm.name, DRIVER_MACS[vm.name], out))
            vm.tp.cmd("set fwd rxonly")
            vm.tp.cmd("start")
        check(vms, "start (nothing sent)")

        # 1: B unknown: flooded
        A.send(MACS["B"], BURST)
        for vm in (B, C, D, E):
            vm.want_rx += BURST
        marker(A, vms)
        check(vms, "1 A->B, B not learned yet: flooded to B, C, D and E")
        # 2: A learned from 1
        B.send(MACS["A"], BURST)
        A.want_rx += BURST
        marker(B, vms)
        check(vms, "2 B->A, A learned: only A")
        # 3: B learned from 2
        A.send(MACS["B"], BURST)
        B.want_rx += BURST
        marker(A, vms)
        check(vms, "3 A->B, B learned: only B")
        # 4: both ways at once
        for r in range(args.rounds):
            A.send(MACS["B"], BURST, 4)
            B.send(MACS["A"], BURST, 4)
            A.want_rx += 4 * BURST
            B.want_rx += 4 * BURST
            check([A, B], "4 A<->B round %d" % (r + 1))
        marker(A, vms)
        check(vms, "4 A<->B both ways, %d rounds" % args.rounds)
        # 5: multicast from C
        C.send(MCAST, BURST)
        for vm in (A, B, D, E):
            vm.want_rx += BURST
        marker(C, vms)
        check(vms, "5 C->multicast: flooded to A, B, D and E")
        # 6: D's frames carry a source other than its port's MAC
        D.send(BCAST, BURST)
        marker(A, vms)
        check(vms, "6 D->broadcast from a foreign source: dropped at D's port")
        # 7: the socket port both ways
        E.send(MACS["A"], BURST)
        A.want_rx += BURST
        marker(E, vms)
        check(vms, "7 E (socket port)->A, A learned: only A")
        A.send(MACS["E"], BURST)
        E.want_rx += BURST
        marker(A, vms)
        check(vms, "7 A->E, E learned: only E")

        sw.send_signal(signal.SIGTERM)
        sw.wait(timeout=30)
        swlog.seek(0)
        st = switch_stats(swlog.read())
        unicast = 4 * BURST + 2 * args.rounds * 4 * BURST  # steps 2, 3, 4, 7
        flooded = BURST + BURST + MARKERS[0]  # steps 1 and 5, the markers
        log("switch: %d forwarded, %d flooded; ports %s" % (st["forwarded"], st["flooded"],
                                                             st["ports"]))
        if st["forwarded"] != unicast or st["flooded"] != flooded or st["local"]:
            raise Fail("switch counted %d forwarded / %d flooded / %d local, want %d / %d / 0"
                       % (st["forwarded"], st["flooded"], st["local"], unicast, flooded))
        for i, vm in enumerate(vms):
            p = st["ports"].get(i)
            if p is None:
                raise Fail("no counters for port %d" % i)
            spoofed = BURST if vm is D else 0
            if p["in"] != vm.want_tx or p["out"] != vm.want_rx or p["dropped"] or \
                    p["filtered"] or p["spoofed"] != spoofed or p["bad"]:
                raise Fail("switch port %d (%s): %s, want in %d out %d, %d spoofed and no "
                           "losses" % (i, vm.name, p, vm.want_tx, vm.want_rx, spoofed))
        log("PASS " + name)
        ok = True
    finally:
        for vm in vms:
            if isinstance(vm, SockVM):
                vm.close()
            else:
                vm.tp.quit()
        if sw is not None and sw.poll() is None:
            sw.kill()
            sw.wait()
        if not ok:
            swlog.seek(0)
            sys.stdout.write("switch log:\n" + swlog.read()[-3000:])
            log("logs kept in " + d)
        swlog.close()
        for t in tlogs:
            t.close()
        if ok:
            for f in os.listdir(d):
                os.unlink(os.path.join(d, f))
            os.rmdir(d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--switch", required=True)
    ap.add_argument("--testpmd", default="dpdk-testpmd")
    ap.add_argument("--layout", choices=["split", "packed"], required=True)
    ap.add_argument("--mrg", type=int, choices=[0, 1], default=1)
    ap.add_argument("--poll", action="store_true")
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args()
    try:
        run(args)
    except Fail as e:
        log("FAIL:", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
