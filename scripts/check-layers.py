#!/usr/bin/env python3
"""The layer check: every target's imports against its declared dependencies
(`swift package dump-package`) and the allowed layer edges written in
docs/architecture.md (the ```layers block). SwiftPM lets a target import
anything it reaches transitively, so nothing else catches an undeclared or
upward import.

Fails on: an import of a package target or product the target does not
declare; a library target importing a package target that its layer line
does not allow; a known violation (KNOWN below) that no longer occurs (take
it off the list, so the list only shrinks).
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Modules every target may use without declaring them.
SYSTEM = {"Foundation", "FoundationNetworking", "FoundationEssentials", "Glibc", "Darwin", "Dispatch", "Testing", "XCTest", "Synchronization"}
# Layer violations that exist today, each with the issue that removes it.
KNOWN: dict = {}


def main():
    dump = json.loads(subprocess.run(["swift", "package", "dump-package"], cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    targets = {t["name"]: t for t in dump["targets"]}
    text = open(os.path.join(ROOT, "docs", "architecture.md")).read()
    block = re.search(r"```layers\n(.*?)```", text, re.S)
    if not block:
        sys.exit("docs/architecture.md has no ```layers block")
    allowed = {}
    for line in block.group(1).splitlines():
        if "->" in line:
            name, below = line.split("->", 1)
            allowed[name.strip()] = set(below.split())
    problems, seen_known = [], set()
    for name, target in sorted(targets.items()):
        if target["type"] == "system":
            continue
        declared = set()
        for dep in target.get("dependencies", []):
            if "byName" in dep:
                declared.add(dep["byName"][0])
            elif "target" in dep:
                declared.add(dep["target"][0])
            elif "product" in dep:
                declared.add(dep["product"][0])
        path = os.path.join(ROOT, target.get("path") or ("Tests/" + name if target["type"] == "test" else "Sources/" + name))
        imports = {}
        for directory, _, files in os.walk(path):
            for f in files:
                if not f.endswith(".swift"):
                    continue
                for n, line in enumerate(open(os.path.join(directory, f)), 1):
                    m = re.match(r"\s*(?:@testable\s+|@_exported\s+|@preconcurrency\s+)*import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)", line)
                    if m:
                        imports.setdefault(m.group(1), "%s:%d" % (os.path.relpath(os.path.join(directory, f), ROOT), n))
        for module, where in sorted(imports.items()):
            if module in SYSTEM or module == name:
                continue
            if module not in declared:
                problems.append("%s: %s imports %s, which %s does not declare in Package.swift" % (where, name, module, name))
                continue
            if module in targets and target["type"] != "test":
                if name not in allowed:
                    problems.append("%s has no layer line in docs/architecture.md" % name)
                elif module not in allowed[name]:
                    if (name, module) in KNOWN:
                        seen_known.add((name, module))
                    else:
                        problems.append("%s: %s imports %s: not an allowed layer edge (docs/architecture.md)" % (where, name, module))
    for edge, why in KNOWN.items():
        if edge not in seen_known:
            problems.append("%s -> %s no longer occurs: take it off KNOWN in scripts/check-layers.py (%s)" % (edge[0], edge[1], why))
    for p in problems:
        print("layer check: " + p)
    if problems:
        sys.exit(1)
    print("layer check: %d targets, imports match declarations and layers (%d known violations left: %s)"
          % (len(targets), len(KNOWN), "; ".join("%s -> %s" % e for e in KNOWN)))


main()
