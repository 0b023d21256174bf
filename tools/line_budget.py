"""Fail when a source file grows past the line budget.

Counts the lines of every ``.py`` and ``.rs`` file tracked under ``python/``,
``rust/``, ``tests/``, ``benches/`` and ``examples/``. A file over ``--limit``
lines (600) fails the check unless ``tools/line_budget_allowlist.txt`` names it
with a reason; an allowlisted file that is back under the budget fails too,
so the list only ever shrinks.

Usage: ``python tools/line_budget.py [--limit N]`` from anywhere in the repository.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
DIRS = ("python", "rust", "tests", "benches", "examples")
SUFFIXES = (".py", ".rs")
ALLOWLIST = ROOT / "tools" / "line_budget_allowlist.txt"
SKIP_PARTS = {"target", ".venv", ".venv-ci", "__pycache__", "build", "node_modules"}


def sources(root: pathlib.Path = ROOT):
    for d in DIRS:
        for path in sorted((root / d).rglob("*")):
            rel = path.relative_to(root)
            if path.suffix in SUFFIXES and path.is_file() and not SKIP_PARTS.intersection(rel.parts):
                yield rel


def read_allowlist(path: pathlib.Path = ALLOWLIST) -> dict:
    """``{relative path: reason}`` from lines ``path  # reason``; blank lines and ``#`` lines are ignored."""
    allowed = {}
    if not path.exists():
        return allowed
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition("#")
        if not reason.strip():
            raise SystemExit(f"{path.name}:{n}: every allowlisted file needs a reason after '#'. Received: {line!r}")
        allowed[name.strip()] = reason.strip()
    return allowed


def check(limit: int, root: pathlib.Path = ROOT, allowlist: pathlib.Path = ALLOWLIST) -> list:
    """The problems found: files over budget without an entry, and stale entries."""
    allowed = read_allowlist(allowlist)
    problems = []
    seen = set()
    for rel in sources(root):
        key = rel.as_posix()
        n = len((root / rel).read_text(encoding="utf-8", errors="replace").splitlines())
        seen.add(key)
        if n > limit and key not in allowed:
            problems.append(f"{key}: {n} lines, over the budget of {limit}: split it by concept")
        elif n <= limit and key in allowed:
            problems.append(f"{key}: {n} lines, back under {limit}: remove it from {allowlist.name}")
    for key in sorted(set(allowed) - seen):
        problems.append(f"{key}: allowlisted in {allowlist.name} but not found")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=600, help="largest number of lines a file may have")
    args = parser.parse_args(argv)
    problems = check(args.limit)
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print(f"line budget: every source file is within {args.limit} lines (or allowlisted with a reason)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
