#!/usr/bin/env python3
"""Fails when a module's dependencies differ from what docs/ARCHITECTURE.md says.

The document's `modules` block lists every library and executable target with
its direct dependencies (targets and products); `swift package describe`
says what Package.swift declares. They must agree, and the modules that read
records (the contract, the UI, the readers) may never reach the engine or a
BLAS, LAPACK or ARPACK binding, however indirectly.
"""
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
NUMERICAL = {"SpectralCore", "CLinalg", "CArpack", "CContractions"}
WITHOUT_NUMERICS = ["SpecTopRecord", "SpecTopUI", "SpecTopReaders"]


def documented():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    match = re.search(r"```text modules\n(.*?)```", text, re.S)
    if not match:
        sys.exit("docs/ARCHITECTURE.md has no ```text modules block to check Package.swift against")
    table = {}
    for line in match.group(1).splitlines():
        if line.strip():
            name, _, deps = line.partition(":")
            table[name.strip()] = set(deps.split())
    return table


def declared():
    output = subprocess.run(["swift", "package", "describe", "--type", "json"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    targets = {}
    for target in json.loads(output)["targets"]:
        if target["type"] in ("library", "executable", "system-target") and target["name"] not in ("TestSupport", "AllocationCounter"):
            targets[target["name"]] = set(target.get("target_dependencies") or []) | set(target.get("product_dependencies") or [])
    return targets


def main():
    table, package = documented(), declared()
    problems = []
    for name in sorted(set(table) | set(package)):
        if name not in package:
            problems.append("%s is in docs/ARCHITECTURE.md but is no target in Package.swift" % name)
        elif name not in table:
            problems.append("target %s (depends on %s) is missing from docs/ARCHITECTURE.md's modules block"
                            % (name, ", ".join(sorted(package[name])) or "nothing"))
        elif table[name] != package[name]:
            extra, missing = package[name] - table[name], table[name] - package[name]
            problems.append("%s: Package.swift %s%s; update docs/ARCHITECTURE.md or the package"
                            % (name, "adds " + ", ".join(sorted(extra)) if extra else "",
                               (" and " if extra and missing else "") + ("drops " + ", ".join(sorted(missing)) if missing else "")))
    for name in WITHOUT_NUMERICS:
        seen, todo = set(), [name]
        while todo:
            for dep in package.get(todo.pop(), ()):
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        if seen & NUMERICAL:
            problems.append("%s reaches %s: the record readers must build without the engine or BLAS"
                            % (name, ", ".join(sorted(seen & NUMERICAL))))
    for problem in problems:
        print("module dependencies: " + problem, file=sys.stderr)
    if problems:
        sys.exit(1)
    print("module dependencies: %d modules as docs/ARCHITECTURE.md lists them; %s without the engine or BLAS"
          % (len(package), ", ".join(WITHOUT_NUMERICS)))


if __name__ == "__main__":
    main()
