#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
Inter-VM switching: two dpdk-testpmd virtio-user "VMs" (net_virtio_user,
the same command lines on both sides) through

  ours   vdev-switch --vhost-user=a --vhost-user=b  (one process, MAC
         learning; sleeping on kicks, and with --poll busy-polling)
  DPDK   dpdk-testpmd with two net_vhost vdevs, --forward-mode=io (port 0
         to port 1, no lookup at all): DPDK's own vhost library

VM A runs txonly (64-byte frames to B's MAC), VM B rxonly (it sent one
frame first, so our switch has learned it and forwards by unicast lookup).
Every process is pinned with taskset (and each testpmd's lcores with
--lcores to that CPU); the placement is printed. A run warms up, then
counts B's received frames and the middle process's CPU time over a
window: Mpps, CPU ns per frame of the middle, and the loss (A's sent
frames that B did not get). Runs alternate between the set-ups; medians
of --runs (>= 5) runs, and the ratio ours / DPDK.

  bench-dpdk-switch.py --switch build-rel/examples/vdev-switch/vdev-switch
                       [--runs 5] [--seconds 3] [--cpu-a 0] [--cpu-b 1] [--cpu-mid 2]
                       [--qsize N] [--layout split|packed] [--modes ours,ours-poll,dpdk]
With three CPUs or more every process has its own; with two, the VMs share
CPU 0 and the middle has CPU 1 (then the receiver is off its CPU while the
sender runs: rings of --qsize absorb the scheduler's time slices, so keep
them large).
Prints SKIPPED (exit 0) without dpdk-testpmd or its net_vhost driver.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from dpdk_net import Fail, Testpmd, wait_for  # noqa: E402

MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
CLK = os.sysconf("SC_CLK_TCK")


def log(*a):
    print(*a, flush=True)


def cpu_split(pid):
    """(utime, stime) in seconds of a process and all its threads."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK, int(fields[12]) / CLK


def cpu_seconds(pid):
    """utime + stime of a process and all its threads."""
    return sum(cpu_split(pid))


def vm_argv(args, name, sock, mac, d):
    vdev = ("net_virtio_user0,path=%s,queues=1,cq=0,packed_vq=%d,mrg_rxbuf=0,in_order=1,"
            "queue_size=%d,mac=%s" % (sock, 1 if args.layout == "packed" else 0, args.qsize,
                                      mac))
    cpu = args.cpu_a if name == "A" else args.cpu_b
    return ["taskset", "-c", cpu, args.testpmd, "--lcores=0@%s,1@%s" % (cpu, cpu), "--no-huge", "-m", "512",
            "--no-pci", "--no-shconf", "--file-prefix=vdevbench%s%d" % (name, os.getpid()),
            "--vdev=" + vdev, "--", "-i", "--nb-cores=1", "--rxd=%d" % args.qsize,
            "--txd=%d" % args.qsize, "--total-num-mbufs=%d" % mbufs(args), "--burst=32"]


def mbufs(args):
    return max(16384, 4 * args.qsize + 4096)


# --callgrind: what each middle executes per frame, independent of the
# machine's load: the functions that move frames, counted by callgrind
TOGGLE = {"dpdk": ["rte_vhost_dequeue_burst", "rte_vhost_enqueue_burst"],
          "ours": ["vdev_net_process_tx"],
          "ours-poll": ["vdev_net_process_tx", "vdev_vq_has_work"]}


def valgrind(args, kind, d):
    if not args.callgrind:
        return []
    return ["valgrind", "--tool=callgrind", "--callgrind-out-file=%s/cg.out" % d] + [
        "--toggle-collect=%s" % f for f in TOGGLE[kind]]


def callgrind_ir(d):
    with open(os.path.join(d, "cg.out")) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    raise Fail("no totals in callgrind's output")


def mid_argv(args, kind, socks, d):
    vg = valgrind(args, kind, d)
    if kind == "dpdk":
        return ["taskset", "-c", args.cpu_mid] + vg + [args.testpmd,
                "--lcores=0@%s,1@%s" % (args.cpu_mid, args.cpu_mid), "--no-huge", "-m", "512",
                "--no-pci", "--no-shconf", "--file-prefix=vdevbenchmid%d" % os.getpid(),
                "--vdev=net_vhost0,iface=%s,queues=1" % socks[0],
                "--vdev=net_vhost1,iface=%s,queues=1" % socks[1], "--", "-i",
                "--forward-mode=io", "--nb-cores=1", "--rxd=%d" % args.qsize,
                "--txd=%d" % args.qsize, "--total-num-mbufs=%d" % mbufs(args), "--burst=32"]
    argv = ["taskset", "-c", args.cpu_mid] + vg + [args.switch,
            "--vhost-user=%s,mac=%s" % (socks[0], MAC_A),
            "--vhost-user=%s,mac=%s" % (socks[1], MAC_B), "--queue-size=%d" % args.qsize,
            "--stats"]
    if kind == "ours-poll":
        argv.append("--poll")
    return argv


def drained(A, B):
    """Wait until B has what A sent, or its count stops moving (a benchmark)."""
    sent = A.stats()["TX-packets"]
    last, still = -1, 0
    while still < 6:
        got = B.stats()["RX-packets"]
        if got >= sent:
            return
        still = still + 1 if got == last else 0
        last = got
        time.sleep(0.5)


def one_run(args, kind, printed):
    d = tempfile.mkdtemp(prefix="vdev-bsw.")
    socks = [os.path.join(d, "a.sock"), os.path.join(d, "b.sock")]
    logs = []
    procs = []
    mid = mid_tp = None
    try:
        margv = mid_argv(args, kind, socks, d)
        ml = open(os.path.join(d, "mid.log"), "w+")
        logs.append(ml)
        if kind == "dpdk":
            mid_tp = Testpmd(margv, ml)
            mid_tp.expect(re.escape(Testpmd.PROMPT), 600)
            mid_pid = mid_tp.p.pid
        else:
            mid = subprocess.Popen(margv, stderr=ml)
            mid_pid = mid.pid
        wait_for("the middle's sockets", lambda: all(os.path.exists(s) for s in socks), 600)
        vms = []
        for name, sock, mac in (("A", socks[0], MAC_A), ("B", socks[1], MAC_B)):
            vl = open(os.path.join(d, "vm%s.log" % name), "w")
            logs.append(vl)
            va = vm_argv(args, name, sock, mac, d)
            if name not in printed:
                log("  VM %s: %s" % (name, " ".join(va)))
                printed.add(name)
            tp = Testpmd(va, vl)
            procs.append(tp)
            tp.expect(re.escape(Testpmd.PROMPT), 120)
            vms.append(tp)
        if kind not in printed:
            log("  middle (%s): %s" % (kind, " ".join(margv)))
            printed.add(kind)
        A, B = vms
        if mid_tp is not None:
            mid_tp.cmd("start")
        for tp in vms:
            out = tp.cmd("show port info 0")
            if "Link status: up" not in out:
                raise Fail("a VM's port is not up:\n" + out)
        # B announces itself (our switch learns it), then only receives
        B.cmd("set fwd rxonly")
        B.cmd("set eth-peer 0 " + MAC_A)
        B.cmd("start tx_first 1")
        A.cmd("set fwd txonly")
        A.cmd("set eth-peer 0 " + MAC_B)
        A.cmd("set txpkts 64")
        A.cmd("start")
        time.sleep(args.warmup)  # a benchmark window, not a test's wait
        s0, a0, c0, t0 = B.stats(), A.stats(), cpu_seconds(mid_pid), time.monotonic()
        va0, vb0 = cpu_split(A.p.pid), cpu_split(B.p.pid)
        time.sleep(args.seconds)
        s1, a1, c1, t1 = B.stats(), A.stats(), cpu_seconds(mid_pid), time.monotonic()
        va1, vb1 = cpu_split(A.p.pid), cpu_split(B.p.pid)
        A.cmd("stop")
        if args.callgrind:
            # Ir per frame the middle took from A over the whole run
            drained(A, B)
            sent = A.stats()["TX-packets"]
            if mid_tp is not None:
                out = mid_tp.cmd("show port stats 0")
                took = int(re.search(r"RX-packets:\s+(\d+)", out).group(1))
                mid_tp.quit()
                mid_tp = None
            else:
                mid.send_signal(signal.SIGTERM)
                mid.wait(timeout=300)
                mid = None
                ml.seek(0)
                took = int(re.search(r"port 0 \([^)]*\): in (\d+)", ml.read()).group(1))
            if took <= 0:
                raise Fail("%s took no frames" % kind)
            return {"ir": callgrind_ir(d) / took, "frames": took,
                    "loss": max(0.0, 1.0 - took / sent) if sent else 0.0}
        rx = s1["RX-packets"] - s0["RX-packets"]
        tx = a1["TX-packets"] - a0["TX-packets"]
        if rx <= 0:
            raise Fail("%s: B received nothing" % kind)
        w = t1 - t0
        return {"mpps": rx / w / 1e6, "cpu_ns": (c1 - c0) * 1e9 / rx,
                "cpu_pct": 100.0 * (c1 - c0) / w,
                "loss": max(0.0, 1.0 - rx / tx) if tx else 0.0,
                # the VMs: A's send rate, and each one's CPU share split
                # into user and system time (kicks are system time)
                "a_mpps": tx / w / 1e6,
                "a_usr": 100.0 * (va1[0] - va0[0]) / w, "a_sys": 100.0 * (va1[1] - va0[1]) / w,
                "b_usr": 100.0 * (vb1[0] - vb0[0]) / w, "b_sys": 100.0 * (vb1[1] - vb0[1]) / w}
    finally:
        for tp in procs:
            tp.quit()
        if mid_tp is not None:
            mid_tp.quit()
        if mid is not None:
            mid.send_signal(signal.SIGTERM)
            try:
                mid.wait(timeout=30)
            except subprocess.TimeoutExpired:
                mid.kill()
                mid.wait()
        for f in logs:
            f.close()
        if args.keep:
            log("  kept %s" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--switch", required=True)
    ap.add_argument("--testpmd", default=os.environ.get("VDEV_TESTPMD", "dpdk-testpmd"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    three = (os.cpu_count() or 1) >= 3
    ap.add_argument("--cpu-a", default="0", help="CPU of VM A (sender)")
    ap.add_argument("--cpu-b", default="1" if three else "0", help="CPU of VM B (receiver)")
    ap.add_argument("--cpu-mid", default="2" if three else "1",
                    help="CPU of the switch / DPDK forwarder")
    ap.add_argument("--layout", choices=["split", "packed"], default="split")
    ap.add_argument("--qsize", type=int, default=4096)
    ap.add_argument("--modes", default="ours,ours-poll,dpdk")
    ap.add_argument("--keep", action="store_true", help="keep each run's directory (logs, "
                    "callgrind output)")
    ap.add_argument("--callgrind", action="store_true",
                    help="instead of rates: instructions per frame of each middle under "
                    "callgrind (the functions that move frames: %s)" % TOGGLE)
    args, _ = ap.parse_known_args()  # bench.sh passes its arguments to every benchmark
    args.runs = max(args.runs, 5)
    if args.callgrind and not shutil.which("valgrind"):
        log("bench-dpdk-switch: SKIPPED: --callgrind needs valgrind")
        return 0
    tp = shutil.which(args.testpmd) or (args.testpmd if os.access(args.testpmd, os.X_OK)
                                        else None)
    if tp is None:
        log("bench-dpdk-switch: SKIPPED: dpdk-testpmd not found (apt-get install dpdk)")
        return 0
    args.testpmd = tp
    modes = args.modes.split(",")
    log("inter-VM switching, 64-byte frames, %s rings of %d: testpmd VM A (txonly) -> "
        "middle -> testpmd VM B (rxonly); A on CPU %s, B on CPU %s, middle on CPU %s; %d runs "
        "of %.1f s" % (args.layout, args.qsize, args.cpu_a, args.cpu_b, args.cpu_mid,
                       args.runs, args.seconds))
    log("load average before: %.2f %.2f %.2f" % os.getloadavg())
    res = {m: [] for m in modes}
    printed = set()
    try:
        for r in range(args.runs):
            for m in modes:
                v = one_run(args, m, printed)
                res[m].append(v)
                if args.callgrind:
                    log("  run %d %-9s %8.1f instructions/frame over %d frames, loss %4.1f %%"
                        % (r + 1, m, v["ir"], v["frames"], 100 * v["loss"]))
                    continue
                log("  run %d %-9s %6.3f Mpps  %7.1f ns CPU/frame (middle at %5.1f %% CPU)  "
                    "loss %4.1f %%" % (r + 1, m, v["mpps"], v["cpu_ns"], v["cpu_pct"],
                                       100 * v["loss"]))
                log("        A sent %6.3f Mpps, A at %4.1f %% user %4.1f %% sys, "
                    "B at %4.1f %% user %4.1f %% sys" % (v["a_mpps"], v["a_usr"], v["a_sys"],
                                                        v["b_usr"], v["b_sys"]))
    except Fail as e:
        log("bench-dpdk-switch: FAIL: %s" % e)
        return 1
    log("load average after: %.2f %.2f %.2f" % os.getloadavg())
    med = {m: {k: statistics.median(x[k] for x in res[m]) for k in res[m][0]} for m in modes}
    if args.callgrind:
        log("medians (instructions per frame):")
        for m in modes:
            log("  %-9s %8.1f" % (m, med[m]["ir"]))
        if "dpdk" in med:
            for m in modes:
                if m != "dpdk":
                    log("  %s / DPDK: %.2fx the instructions per frame" % (
                        m, med[m]["ir"] / med["dpdk"]["ir"]))
        return 0
    log("medians:")
    for m in modes:
        log("  %-9s %6.3f Mpps  %7.1f ns CPU/frame  loss %4.1f %%  (A sent %6.3f Mpps; "
            "A %4.1f+%4.1f %%, B %4.1f+%4.1f %% user+sys CPU)" % (
                m, med[m]["mpps"], med[m]["cpu_ns"], 100 * med[m]["loss"], med[m]["a_mpps"],
                med[m]["a_usr"], med[m]["a_sys"], med[m]["b_usr"], med[m]["b_sys"]))
    if "dpdk" in med:
        for m in modes:
            if m != "dpdk":
                log("  %s / DPDK io forward: %.2fx the rate, %.2fx the CPU time per frame" % (
                    m, med[m]["mpps"] / med["dpdk"]["mpps"],
                    med[m]["cpu_ns"] / med["dpdk"]["cpu_ns"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
