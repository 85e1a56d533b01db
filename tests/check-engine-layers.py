#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The engine stays modules without cycles (docs/architecture.md): no file of
libbanger/engine calls, through another, back into itself (read from the
object files' symbols), no engine header includes itself back, and no .c
file grows past MAX_LINES.

Usage: check-engine-layers.py ENGINE_SOURCE_DIR OBJECTS (':'-separated)"""

import os
import re
import subprocess
import sys

MAX_LINES = 600


def find_cycle(edges):
    state = {}

    def visit(node, path):
        if state.get(node) == "open":
            return path[path.index(node):] + [node]
        if state.get(node) == "done":
            return None
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            cycle = visit(nxt, path + [node])
            if cycle:
                return cycle
        state[node] = "done"
        return None

    for node in sorted(edges):
        cycle = visit(node, [])
        if cycle:
            return cycle
    return None


def call_graph(objects):
    defined, undefined = {}, {}
    for obj in objects:
        module = os.path.basename(obj).split(".")[0]
        out = subprocess.run(["nm", obj], check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            fields = line.split()
            if len(fields) == 3 and fields[1] in "TDBR":
                defined[fields[2]] = module
            elif len(fields) == 2 and fields[0] == "U":
                undefined.setdefault(module, set()).add(fields[1])
    edges = {}
    for module, symbols in undefined.items():
        for s in symbols:
            if s in defined and defined[s] != module:
                edges.setdefault(module, set()).add(defined[s])
    return edges


def include_graph(srcdir):
    edges = {}
    for name in os.listdir(srcdir):
        if name.endswith((".c", ".h")):
            text = open(os.path.join(srcdir, name)).read()
            for inc in re.findall(r'#include "engine/([^"]+)"', text):
                if inc != name:
                    edges.setdefault(name, set()).add(inc)
    return edges


def main():
    srcdir, objects = sys.argv[1], [o for o in sys.argv[2].split(":") if "/engine/" in o]
    status = 0
    if not objects:
        print("FAIL no engine objects given")
        return 1
    cycle = find_cycle(call_graph(objects))
    if cycle:
        print("FAIL engine files call each other in a cycle: " + " -> ".join(cycle))
        status = 1
    cycle = find_cycle(include_graph(srcdir))
    if cycle:
        print("FAIL engine headers include each other in a cycle: " + " -> ".join(cycle))
        status = 1
    for name in sorted(os.listdir(srcdir)):
        if name.endswith(".c"):
            n = sum(1 for _ in open(os.path.join(srcdir, name)))
            if n > MAX_LINES:
                print("FAIL %s has %d lines (at most %d: split it)" % (name, n, MAX_LINES))
                status = 1
    if status == 0:
        print("ok: %d engine objects, no call or include cycles, no file over %d lines"
              % (len(objects), MAX_LINES))
    return status


sys.exit(main())
