#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Worst-case stack depth of every public entry point of the freestanding core.

Compiles lib/*.c, transports/mmio and transports/pci for a bare-metal target
(default: Cortex-R5, ARM state, -Os) with gcc's -fcallgraph-info=su, which
writes each function's frame size and its calls, then walks the call graph
from every function declared in include/vdev/*.h and reports the deepest
path. Fails if any path is above the budget (1 KiB by default).

Indirect calls are resolved by the member they call through
(`dev->ops->queue_notify(...)`): if the library itself fills that member in
an ops table of its own (`.queue_notify = net_queue_notify`), the call may
reach every such function; otherwise it is an integrator callback (backend,
transport hook, renderer, IRQ line) and counts as a leaf of 0 bytes: the
integrator's own frames come on top of the figures here. A function whose
frame is dynamic (alloca, VLA) or a call cycle (recursion) fails the check.

Usage: stack-budget.py [--src DIR] [--budget BYTES] [--cc CC] [--markdown]
                       [-- extra compiler flags...]
Exit 0 within budget, 1 over budget or on error, 77 when the compiler is
missing (unless VDEV_REQUIRE_ALL=1).
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)" label: "([^"]*)"')
FRAME = re.compile(r'(\d+) bytes \(([a-z,]+)\)')
MEMBER = re.compile(r'(?:->|\.)(?:P\((\w+)\)|(?!P\()(\w+))\s*\(')
TABLE_ENTRY = re.compile(r'^\s*\.(\w+)\s*=\s*(\w+)\s*,?\s*$')
PROTO = re.compile(r'\b(vdev_\w+)\s*\(')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--src', default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument('--budget', type=int, default=1024)
    ap.add_argument('--cc', default='arm-none-eabi-gcc')
    ap.add_argument('--markdown', action='store_true', help='print a table for the README')
    ap.add_argument('flags', nargs='*')
    a = ap.parse_args()
    flags = a.flags or ['-mcpu=cortex-r5', '-marm', '-mfloat-abi=soft', '-Os']

    if shutil.which(a.cc) is None:
        print(f'SKIPPED: {a.cc} not installed (apt-get install gcc-arm-none-eabi)')
        return 1 if os.environ.get('VDEV_REQUIRE_ALL') == '1' else 77

    src = a.src
    sources = sorted(glob.glob(f'{src}/lib/*.c') + glob.glob(f'{src}/transports/mmio/*.c') +
                     glob.glob(f'{src}/transports/pci/*.c'))
    nodes = {}   # title -> (name, bytes, qualifier, file:line)
    edges = {}   # title -> list of (target title, call site)
    with tempfile.TemporaryDirectory() as work:
        for s in sources:
            obj = os.path.join(work, os.path.basename(s)[:-2] + '.o')
            cmd = [a.cc, '-std=c11', '-ffreestanding', '-fcallgraph-info=su', *flags,
                   f'-I{src}/include', f'-I{src}/lib', '-c', s, '-o', obj]
            r = subprocess.run(cmd, cwd=work)
            if r.returncode != 0:
                print(f'FAIL: {" ".join(cmd)}')
                return 1
            with open(obj[:-2] + '.ci') as f:
                for line in f:
                    m = NODE.search(line)
                    if m:
                        title, label = m.groups()
                        parts = label.split('\\n')
                        fm = FRAME.search(label)
                        if fm:  # a definition (declarations have no frame)
                            nodes[title] = (parts[0], int(fm.group(1)), fm.group(2),
                                            parts[1] if len(parts) > 1 else '?')
                        continue
                    m = EDGE.search(line)
                    if m:
                        edges.setdefault(m.group(1), []).append((m.group(2), m.group(3)))

    # Library functions by plain name (statics are titled "file:name").
    by_name = {}
    for title, (name, *_rest) in nodes.items():
        by_name.setdefault(name, []).append(title)

    # The library's own ops tables: member -> functions it stores there.
    table = {}
    for s in sources:
        with open(s) as f:
            for line in f:
                m = TABLE_ENTRY.match(line)
                if m and m.group(2) in by_name:
                    table.setdefault(m.group(1), set()).update(by_name[m.group(2)])

    src_lines = {}

    def site_text(site):
        path, line = site.rsplit(':', 2)[0], int(site.rsplit(':', 2)[1])
        if path not in src_lines:
            with open(path) as f:
                src_lines[path] = f.read().split('\n')
        return src_lines[path][line - 1]

    def callees(title):
        out = []
        for target, site in edges.get(title, []):
            if target == '__indirect_call':
                members = {x or y for x, y in MEMBER.findall(site_text(site))}
                for mem in sorted(members):
                    out.extend((t, f'{site} ->{mem}') for t in sorted(table.get(mem, ())))
            elif target in nodes:
                out.append((target, site))
            elif target in by_name:
                out.extend((t, site) for t in by_name[target])
            # else: outside the library (memcpy & co.): a leaf, 0 bytes
        return out

    problems = []
    memo = {}
    active = set()

    def depth(title):
        if title in memo:
            return memo[title]
        if title in active:
            problems.append(f'recursion through {nodes[title][0]} ({nodes[title][3]})')
            return (0, [])
        active.add(title)
        name, frame, qual, where = nodes[title]
        if qual != 'static':
            problems.append(f'{name} ({where}) has a {qual} frame')
        best = (0, [])
        for t, _site in callees(title):
            d = depth(t)
            if d[0] > best[0]:
                best = d
        active.discard(title)
        memo[title] = (frame + best[0], [title] + best[1])
        return memo[title]

    public = set()
    for h in glob.glob(f'{src}/include/vdev/*.h'):
        with open(h) as f:
            text = f.read()
        public.update(n for n in PROTO.findall(text))
    entries = sorted(t for t in nodes if t in public)
    results = sorted(((depth(t), t) for t in entries), key=lambda x: -x[0][0])

    over = [(d, t) for d, t in results if d[0] > a.budget]
    if a.markdown:
        print('| entry point | worst-case stack (bytes) | deepest path |')
        print('|---|---:|---|')
        for (d, path), t in results[:12]:
            chain = ' → '.join(nodes[p][0] for p in path)
            print(f'| `{t}` | {d} | {chain} |')
    else:
        print(f'stack budget: {a.budget} bytes; {len(entries)} public entry points, '
              f'{" ".join(flags)} ({a.cc})')
        for (d, path), t in results:
            mark = 'OVER' if d > a.budget else 'ok  '
            print(f'{mark} {d:5d}  {t}')
            if d > a.budget or (d, path) == results[0][0]:
                for p in path:
                    print(f'           {nodes[p][1]:5d}  {nodes[p][0]}  ({nodes[p][3]})')
    for p in sorted(set(problems)):
        print(f'FAIL: {p}')
    if over:
        print(f'FAIL: {len(over)} entry points above {a.budget} bytes')
    if over or problems:
        return 1
    if not a.markdown:
        print(f'ok: deepest {results[0][0][0]} bytes ({results[0][1]}) within {a.budget}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
