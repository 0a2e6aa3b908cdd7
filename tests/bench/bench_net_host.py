#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
One hop from a virtio driver to a host interface, ours beside DPDK's, in
one run: 64-byte frames, guest to host, medians of --runs runs.

  tap      dpdk-testpmd (net_virtio_user, txonly) -> our vhost-user-net
           --tap (a batch per io_uring submission; and --tap-writev: one
           writev per frame) -> a TAP interface
   vs      dpdk-testpmd (net_tap, txonly) -> a TAP interface
  packet   dpdk-testpmd (net_virtio_user, txonly) -> our vhost-user-net
           --packet on vA (TPACKET rings; and --no-packet-rings) -> vB
   vs      dpdk-testpmd (net_af_packet on vA, txonly) -> vB

The rate is what the kernel counts arriving (the TAP's rx_packets: frames
written to its fd; vB's rx_packets), over --seconds after a warm-up. CPU
time per frame is each process's utime + stime (/proc/PID/stat, every
thread) over the same interval. Placement: the forwarding lcore of every
testpmd on --cpu-b; for ours the front-end testpmd (both lcores) on
--cpu-a and the daemon on --cpu-b, so the device side has --cpu-b to
itself, as DPDK's net_tap / net_af_packet port does. Runs alternate
between the configurations, so load from outside hits them alike.
Runs in a network namespace of its own (bench-net-host.sh: unshare
--net), root. Receive (host to guest) is not measured: a frame generator
would need a third CPU beside the front-end and the daemon.
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TICK = os.sysconf("SC_CLK_TCK")


def sh(*argv):
    subprocess.run(argv, check=True)


def netdev():
    """/proc/net/dev of this namespace (sysfs shows the one that mounted it)."""
    out = {}
    with open("/proc/net/dev") as f:
        for line in f.readlines()[2:]:
            name, rest = line.split(":", 1)
            v = [int(x) for x in rest.split()]
            out[name.strip()] = {"rx_packets": v[1], "tx_packets": v[9]}
    return out


def counter(dev, name):
    return netdev()[dev][name]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def wait_for(what, cond, timeout):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(0.05)


class Proc:
    def __init__(self, argv, log, cpus=None):
        self.argv = (["taskset", "-c", cpus] if cpus else []) + argv
        self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()


def testpmd_argv(args, prefix, vdev, lcores):
    return [args.testpmd, "--lcores=" + lcores, "--no-huge", "-m", "512", "--no-pci",
            "--no-shconf", "--file-prefix=" + prefix, "--log-level=5", "--vdev=" + vdev, "--",
            "--forward-mode=txonly", "--txpkts=64", "--burst=32", "--nb-cores=1",
            "--rxd=%d" % args.ring, "--txd=%d" % args.ring, "--total-num-mbufs=8192",
            "--stats-period=1"]


class Config:
    """One peer arrangement; run() starts it, measures, stops it."""

    def __init__(self, name, sink, build):
        self.name, self.sink, self.build = name, sink, build
        self.mpps, self.ns = [], {}
        self.cmdlines = None


def measure(args, cfg, tmp, n):
    procs, labelled = cfg.build(tmp, n)
    try:
        # warm: frames flowing into the sink
        c0 = counter(cfg.sink, "rx_packets")
        wait_for("frames at " + cfg.sink,
                 lambda: all(p.alive() for _, p in procs) and
                 counter(cfg.sink, "rx_packets") > c0 + 10000, 60)
        time.sleep(args.warmup)
        t0 = time.monotonic()
        c0 = counter(cfg.sink, "rx_packets")
        u0 = {lab: cpu_seconds(p.p.pid) for lab, p in labelled}
        time.sleep(args.seconds)
        c1 = counter(cfg.sink, "rx_packets")
        u1 = {lab: cpu_seconds(p.p.pid) for lab, p in labelled}
        dt = time.monotonic() - t0
        for _, p in procs:
            if not p.alive():
                raise RuntimeError("%s exited during the run" % p.argv)
        frames = c1 - c0
        cfg.mpps.append(frames / dt / 1e6)
        for lab in u0:
            cfg.ns.setdefault(lab, []).append((u1[lab] - u0[lab]) * 1e9 / max(frames, 1))
        if cfg.cmdlines is None:
            cfg.cmdlines = [" ".join(p.argv) for _, p in procs]
    finally:
        for _, p in reversed(procs):
            p.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--daemon", required=True, help="vhost-user-net (Release build)")
    ap.add_argument("--testpmd", default="dpdk-testpmd")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--cpu-a", default="0", help="our front-end's CPU")
    ap.add_argument("--cpu-b", default="1", help="the device side's CPU")
    ap.add_argument("--only", choices=["tap", "packet"], help="one of the two comparisons")
    ap.add_argument("--ring", type=int, default=1024,
                    help="ring size: virtio-user queue_size and our --queue-size; "
                    "testpmd's --rxd/--txd for every port")
    args = ap.parse_args()
    a, b = args.cpu_a, args.cpu_b

    for key in ("all", "default"):
        with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % key, "w") as f:
            f.write("1")
    sh("ip", "link", "add", "vA", "type", "veth", "peer", "name", "vB")
    sh("ip", "link", "set", "vA", "up")
    sh("ip", "link", "set", "vB", "up")
    tmp = tempfile.mkdtemp(prefix="vdev-bench-net.")
    log = open(os.path.join(tmp, "log"), "w")

    def ours(port_args, sink_setup):
        def build(tmp, n):
            sock = os.path.join(tmp, "vu%d.sock" % n)
            d = Proc([args.daemon, "--socket-path=" + sock, "--quiet",
                      "--queue-size=%d" % args.ring] + port_args, log, b)
            wait_for("the daemon's socket", lambda: os.path.exists(sock) or not d.alive(), 30)
            if not d.alive():
                raise RuntimeError("the daemon exited: %s" % d.argv)
            sink_setup()
            t = Proc(testpmd_argv(args, "vbo%d" % n, "net_virtio_user0,path=%s,queue_size=%d"
                                  % (sock, args.ring), "0@%s,1@%s" % (a, a)), log)
            procs = [("daemon", d), ("front-end", t)]
            return procs, procs
        return build

    def dpdk(vdev, sink_setup=lambda: None):
        def build(tmp, n):
            t = Proc(testpmd_argv(args, "vbd%d" % n, vdev, "0@%s,1@%s" % (a, b)), log)
            # net_tap creates its TAP when the port starts: up it then
            wait_for("the port's interface", lambda: sink_setup() or True, 30)
            procs = [("testpmd", t)]
            return procs, procs
        return build

    def tap_up(name):
        def up():
            wait_for(name, lambda: name in netdev(), 30)
            sh("ip", "link", "set", name, "up")
        return up

    configs = []
    if args.only in (None, "tap"):
        configs += [Config("ours --tap (io_uring)", "vtap0",
                           ours(["--tap=vtap0"], tap_up("vtap0"))),
                    Config("ours --tap --tap-writev", "vtap2",
                           ours(["--tap=vtap2", "--tap-writev"], tap_up("vtap2"))),
                    Config("DPDK net_tap", "vtap1",
                           dpdk("net_tap0,iface=vtap1", tap_up("vtap1")))]
    if args.only in (None, "packet"):
        configs += [Config("ours --packet (rings)", "vB", ours(["--packet=vA"], lambda: None)),
                    Config("ours --packet --no-packet-rings", "vB",
                           ours(["--packet=vA", "--no-packet-rings"], lambda: None)),
                    Config("DPDK net_af_packet", "vB",
                           dpdk("net_af_packet0,iface=vA,qpairs=1,qdisc_bypass=1"))]
    load0 = os.getloadavg()[0]
    try:
        for r in range(args.runs):
            for i, c in enumerate(configs):
                measure(args, c, tmp, r * 10 + i)
    except RuntimeError as e:
        log.close()
        print("bench-net-host: %s; log: %s" % (e, os.path.join(tmp, "log")))
        return 1
    log.close()

    print("one hop to a host interface, 64-byte frames, guest to host; median of %d runs of "
          "%.1f s" % (args.runs, args.seconds))
    print("load average %.1f at the start, %.1f at the end, on %d CPUs" % (
        load0, os.getloadavg()[0], os.cpu_count()))
    print("placement: DPDK testpmd lcores 0@%s,1@%s (forwarding on CPU %s); ours: front-end "
          "testpmd lcores 0@%s,1@%s, daemon taskset -c %s" % (a, b, b, a, a, b))
    print("command lines (first run):")
    for c in configs:
        print("  %s:" % c.name)
        for line in c.cmdlines:
            print("      " + line)
    print()
    print("%-34s %8s %8s  %s" % ("", "Mpps", "ratio", "CPU ns per frame (median)"))
    ref = {}
    for c in configs:
        m = statistics.median(c.mpps)
        if c.name.startswith("DPDK"):
            ref[c.sink == "vB"] = m
    for c in configs:
        m = statistics.median(c.mpps)
        r = ref.get(c.sink == "vB")
        cpu = ", ".join("%s %.0f" % (lab, statistics.median(v)) for lab, v in c.ns.items())
        print("%-34s %8.3f %7.2fx  %s   (runs: %s)" % (
            c.name, m, m / r if r else float("nan"), cpu,
            " ".join("%.3f" % x for x in c.mpps)))
    print("ratio: against DPDK's port to the same kind of interface in this run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
