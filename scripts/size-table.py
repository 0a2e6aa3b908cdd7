#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Code size of the freestanding core per configuration and target.

Builds the core (lib/*.c that the configuration keeps, transports/mmio and
transports/pci) the way an integrator compiles it for a bare-metal target
(-ffreestanding -Os, the include/vdev/config.h macros on the command line)
and prints a markdown table of text / data / bss in bytes (GNU size,
summed over the objects: everything the configuration builds, before the
integrator's linker drops what it does not call).

Targets whose compiler is missing are left out (with a note on stderr).

  scripts/size-table.py                 # the table in README.md
  scripts/size-table.py --jobs 2 --targets cortex-m0,x86-64
"""
import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

# name, compiler, size tool, flags
TARGETS = [
    ("cortex-r5", "arm-none-eabi-gcc", "arm-none-eabi-size",
     ["-mcpu=cortex-r5", "-marm", "-mfloat-abi=soft"]),
    ("cortex-m7", "arm-none-eabi-gcc", "arm-none-eabi-size",
     ["-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=soft"]),
    ("cortex-m0", "arm-none-eabi-gcc", "arm-none-eabi-size",
     ["-mcpu=cortex-m0", "-mthumb", "-mfloat-abi=soft"]),
    ("aarch64", "aarch64-linux-gnu-gcc", "aarch64-linux-gnu-size",
     ["-mno-outline-atomics", "-fno-pic", "-fno-stack-protector"]),
    ("x86-64", "gcc", "size", ["-fno-pic", "-fno-stack-protector", "-fcf-protection=none"]),
]

MODELS = {  # config macro suffix -> source
    "BLK": "lib/blk.c", "NET": "lib/net.c", "VSOCK": "lib/vsock.c", "GPU": "lib/gpu.c",
    "CONSOLE": "lib/console.c", "RNG": "lib/rng.c", "INPUT": "lib/input.c",
}
CORE = ["lib/common.c", "lib/mem.c", "lib/vq.c", "lib/vq_split.c", "lib/vq_packed.c",
        "lib/vq_inflight.c", "lib/vq_inflight_packed.c", "lib/device.c",
        "transports/mmio/mmio.c",
        "transports/pci/pci.c"]


def config(name, packed=True, indirect=True, models=tuple(MODELS), gpu3d=True):
    defs, srcs = [], list(CORE)
    if not packed:
        defs.append("VDEV_CONFIG_PACKED=0")
        srcs.remove("lib/vq_packed.c")
        srcs.remove("lib/vq_inflight_packed.c")
    if not indirect:
        defs.append("VDEV_CONFIG_INDIRECT=0")
    for m, s in MODELS.items():
        if m in models:
            srcs.append(s)
        else:
            defs.append("VDEV_CONFIG_DEV_%s=0" % m)
    if "GPU" in models and not gpu3d:
        defs.append("VDEV_CONFIG_GPU_3D=0")
    return name, defs, srcs


CONFIGS = [
    config("everything"),
    config("no packed", packed=False),
    config("no indirect", indirect=False),
    config("no packed, no indirect", packed=False, indirect=False),
    config("core + transports, no device model", models=()),
] + [config("%s alone" % m.lower(), models=(m,)) for m in MODELS] + [
    config("gpu alone, 2D only", models=("GPU",), gpu3d=False),
    config("blk alone, no packed, no indirect", packed=False, indirect=False, models=("BLK",)),
]


def build(target, cfg, work):
    tname, cc, size, tflags = target
    cname, defs, srcs = cfg
    d = tempfile.mkdtemp(dir=work)
    objs = []
    for s in srcs:
        o = os.path.join(d, os.path.basename(s)[:-2] + ".o")
        cmd = ([cc, "-std=c11", "-Os", "-ffreestanding", "-Wall", "-Wextra", "-Wconversion",
                "-Werror", "-I" + os.path.join(SRC, "include"), "-I" + os.path.join(SRC, "lib")]
               + tflags + ["-D" + x for x in defs] + ["-c", os.path.join(SRC, s), "-o", o])
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("%s [%s, %s]:\n%s" % (s, tname, cname, r.stderr))
        objs.append(o)
    out = subprocess.run([size, "-t"] + objs, capture_output=True, text=True, check=True).stdout
    total = [l for l in out.splitlines() if l.rstrip().endswith("(TOTALS)")][0].split()
    shutil.rmtree(d)
    return int(total[0]), int(total[1]), int(total[2])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--targets", help="comma-separated subset of: " +
                    ",".join(t[0] for t in TARGETS))
    a = ap.parse_args()
    targets = TARGETS
    if a.targets:
        want = a.targets.split(",")
        targets = [t for t in TARGETS if t[0] in want]
    avail = []
    for t in targets:
        if shutil.which(t[1]) and shutil.which(t[2]):
            avail.append(t)
        else:
            print("size-table: %s left out (%s or %s not installed)" % (t[0], t[1], t[2]),
                  file=sys.stderr)
    if not avail:
        return 77
    res = {}
    with tempfile.TemporaryDirectory() as work, \
            concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        futs = {ex.submit(build, t, c, work): (t[0], c[0]) for t in avail for c in CONFIGS}
        for f, key in futs.items():
            res[key] = f.result()
    print("text / data / bss in bytes, `-Os`, core + virtio-mmio + virtio-pci + the device "
          "models kept:\n")
    print("| configuration | " + " | ".join(t[0] for t in avail) + " |")
    print("|---|" + "---:|" * len(avail))
    for c in CONFIGS:
        cells = ["%d / %d / %d" % res[(t[0], c[0])] for t in avail]
        print("| %s | %s |" % (c[0], " | ".join(cells)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
