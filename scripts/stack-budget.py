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
# gcc leaves the label (the call site) off calls it made up itself: into a
# split-off part of a function (foo.part.0, .isra, .constprop) and to
# builtins (memset for a zeroed struct). They are calls all the same.
EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"(?: label: "([^"]*)")?')
FRAME = re.compile(r'(\d+) bytes \(([a-z,]+)\)')
MEMBER = re.compile(r'(?:->|\.)(?:P\((\w+)\)|(?!P\()(\w+))\s*\(')
# `.member = func` (designated initialiser) or `->member = func` / `.member
# = func` (assignment): a library function stored for an indirect call.
TABLE_ENTRY = re.compile(r'(?:\.|->)\s*(\w+)\s*=\s*&?\s*(\w+)\b(?!\s*[(\[.]|\s*->)')
COMMENT = re.compile(r'/\*.*?\*/|//[^\n]*', re.S)
MACRO = re.compile(r'^\s*#\s*define\s+(\w+)\(([^)]*)\)[ \t]+(.*)$', re.M)
DECL = re.compile(r'\bstruct\s+(\w+)\s*(?:const\s*)?\*+\s*(?:const\s+)?'
                  r'(?:VDEV_PRIV\((\w+)\)|P\((\w+)\)|(\w+))')
INITIALISER = re.compile(r'\bstruct\s+(\w+)\s+\w+\s*(?:\[[^\]]*\])?\s*=\s*\{')
RELOC_SECTION = re.compile(r'^RELOCATION RECORDS FOR \[([^\]]+)\]')
RELOC = re.compile(r'^[0-9a-f]+\s+(R_\w+)\s+(\S+)')
DIRECT_CALL = {'R_ARM_CALL', 'R_ARM_JUMP24', 'R_ARM_THM_CALL', 'R_ARM_THM_JUMP24',
               'R_ARM_V4BX', 'R_ARM_NONE'}
# Indirect calls through something other than a struct member, each checked
# by hand to be an integrator callback: file -> {variable: why}.
CALLBACK_VARS = {
    'lib/blk.c': {'op': 'submit(): a member of the backend ops (vdev_blk_backend_ops)'},
}
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
        if os.environ.get('VDEV_REQUIRE_ALL') == '1':
            print(f'FAIL: {a.cc} not installed (apt-get install gcc-arm-none-eabi), '
                  'and VDEV_REQUIRE_ALL=1')
            return 1
        print(f'SKIPPED: {a.cc} not installed (apt-get install gcc-arm-none-eabi)')
        return 77

    src = a.src
    sources = sorted(glob.glob(f'{src}/lib/*.c') + glob.glob(f'{src}/transports/mmio/*.c') +
                     glob.glob(f'{src}/transports/pci/*.c'))
    objdump = a.cc[:-3] + 'objdump' if a.cc.endswith('gcc') else 'objdump'
    nodes = {}   # title -> (name, bytes, qualifier, file:line)
    taken = set()  # (function name, source) whose address the source takes
    edges = {}   # title -> list of (target title, call site)
    with tempfile.TemporaryDirectory() as work:
        for s in sources:
            obj = os.path.join(work, os.path.basename(s)[:-2] + '.o')
            cmd = [a.cc, '-std=c11', '-ffreestanding', '-fcallgraph-info=su',
                   '-ffunction-sections', *flags,
                   f'-I{src}/include', f'-I{src}/lib', '-c', s, '-o', obj]
            r = subprocess.run(cmd, cwd=work)
            if r.returncode != 0:
                print(f'FAIL: {" ".join(cmd)}')
                return 1
            # Functions whose address the object takes: relocations other
            # than direct calls against them (ops tables, literal pools),
            # each function in a section of its own (.text.name).
            r = subprocess.run([objdump, '-r', obj], capture_output=True, text=True)
            if r.returncode != 0:
                print(f'FAIL: {objdump} -r {obj}: {r.stderr.strip()}')
                return 1
            sec = None
            for line in r.stdout.split('\n'):
                m = RELOC_SECTION.match(line)
                if m:
                    sec = m.group(1)
                    continue
                m = RELOC.match(line)
                if m and m.group(1) not in DIRECT_CALL and m.group(2) != sec:
                    sym = m.group(2)
                    taken.add((sym[6:] if sym.startswith('.text.') else sym, s))
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

    # The library's own ops tables: (struct type, member) -> functions it
    # stores there; the type is None for an assignment (`x->member = f`),
    # which then matches a call through that member of any type.
    table = {}
    stored = set()
    texts = {}
    decl_types = {}  # a field, variable or parameter name -> struct types declared with it
    macros = {}      # name -> (parameters, body) of the function-like macros
    for s in sorted(set(sources) | set(glob.glob(f'{src}/include/vdev/*.h')) |
                    set(glob.glob(f'{src}/lib/*.h'))):
        with open(s) as f:
            text = COMMENT.sub(' ', f.read())
        texts[s] = text
        for m in MACRO.finditer(text):
            macros[m.group(1)] = ([x.strip() for x in m.group(2).split(',')], m.group(3))
        for typ, n1, n2, n3 in DECL.findall(text):
            decl_types.setdefault(n1 or n2 or n3, set()).add(typ)
    for s in sources:
        text = texts[s]
        for m in TABLE_ENTRY.finditer(text):
            mem, fn = m.groups()
            if fn not in by_name:
                continue
            # Inside `struct T name[] = { ... }`? (the last one opened before)
            typ = None
            t = None
            for t in INITIALISER.finditer(text, 0, m.start()):
                pass
            if t is not None and '};' not in text[t.end():m.start()]:
                typ = t.group(1)
            table.setdefault((typ, mem), set()).update(by_name[fn])
            stored.add(fn)
    problems = []
    for fn, s in sorted(taken):
        if fn in by_name and fn not in stored:
            problems.append(f'the address of {fn} is taken in {os.path.relpath(s, src)} '
                            'outside an ops table: its indirect callers cannot be followed')

    src_lines = {}

    def site_text(site):
        path, line = site.rsplit(':', 2)[0], int(site.rsplit(':', 2)[1])
        if path not in src_lines:
            with open(path) as f:
                src_lines[path] = f.read().split('\n')
        return path, src_lines[path][line - 1]

    def expand(text):
        """The call site's line with the file's function-like macros expanded."""
        for _ in range(4):
            def sub(m):
                params, body = macros[m.group(1)]
                args = [x.strip() for x in m.group(2).split(',')]
                for p, v in zip(params, args):
                    body = re.sub(rf'\b{re.escape(p)}\b', v, body)
                return body
            names = '|'.join(map(re.escape, (n for n in macros if n not in ('P', 'VDEV_PRIV'))))
            new = re.sub(rf'\b({names})\(([^()]*(?:\([^()]*\)[^()]*)*)\)', sub, text) if names else text
            if new == text:
                break
            text = new
        return re.sub(r'\b(?:P|VDEV_PRIV)\((\w+)\)', r'\1', text)

    def targets(text, mem):
        """Library functions a call through `mem` on this line may reach:
        those stored in `mem` of an ops table whose type the pointer called
        through may have (by its name's declarations), or of any type if
        that is not known."""
        recv = re.search(rf'(\w+)[\s)]*(?:->|\.)\s*{mem}\s*\(', expand(text))
        types = decl_types.get(recv.group(1)) if recv else None
        out = set()
        for (typ, m), fns in table.items():
            if m == mem and (typ is None or types is None or typ in types):
                out |= fns
        return out

    def callees(title):
        out = []
        for target, site in edges.get(title, []):
            if target == '__indirect_call':
                path, text = site_text(site)
                members = {x or y for x, y in MEMBER.findall(text)}
                if not members:
                    known = CALLBACK_VARS.get(os.path.relpath(path, src), {})
                    if not any(re.search(rf'\b{v}\s*\(', text) for v in known):
                        problems.append(f'indirect call at {site} is not through a struct '
                                        'member nor a known callback variable')
                for mem in sorted(members):
                    out.extend((t, f'{site} ->{mem}') for t in sorted(targets(text, mem)))
            elif target in nodes:
                out.append((target, site or '?'))
            elif target in by_name:
                out.extend((t, site or '?') for t in by_name[target])
            # else: outside the library (memcpy & co.): a leaf, 0 bytes
        return out

    memo = {}
    active = []

    def depth(title):
        if title in memo:
            return memo[title]
        if title in active:
            cycle = active[active.index(title):] + [title]
            problems.append('recursion: ' + ' -> '.join(nodes[t][0] for t in cycle) +
                            f' ({nodes[title][3]})')
            return (0, [])
        active.append(title)
        name, frame, qual, where = nodes[title]
        if qual != 'static':
            problems.append(f'{name} ({where}) has a {qual} frame')
        best = (0, [])
        for t, _site in callees(title):
            d = depth(t)
            if d[0] > best[0]:
                best = d
        active.pop()
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
        print('| entry point | worst-case stack (bytes) | deepest path (frame bytes) |')
        print('|---|---:|---|')
        for (d, path), t in results[:12]:
            chain = ' → '.join(f'{nodes[p][0]} ({nodes[p][1]})' for p in path)
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
