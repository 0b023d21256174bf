"""One benchmark case in a fresh process: each framework alone, ferronet imported from this checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def run_child(script, python, *args):
    """Run ``python script --child *args``, whose last line of output is a JSON object.

    Returns that object; None when the child lacks a module (a peer that is not
    installed); ``{"error": <last line of stderr>}`` when it failed otherwise.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.join(here, "..", "python"),
                                                         os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([python, os.path.abspath(script), "--child", *map(str, args)], capture_output=True,
                          text=True, env=env)
    if proc.returncode != 0:
        return None if "ModuleNotFoundError" in proc.stderr else {
            "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best_of_rounds(script, pythons, rounds=2, key=None):
    """Run each case of ``pythons`` (name -> interpreter) in its own process, alternated (A B A B), ``rounds`` times.

    Returns name -> its best result: the run with the smallest ``key`` entry, or, without ``key``, the smallest
    value of each entry over the runs; what :func:`run_child` gave (None or an error) when no run succeeded.
    """
    best = {}
    for _ in range(rounds):
        for name, python in pythons.items():
            res, mine = run_child(script, python, name), best.get(name)
            if res is None or "error" in res:
                best.setdefault(name, res)
            elif not mine or "error" in mine:
                best[name] = res
            elif key is not None:
                best[name] = res if res[key] < mine[key] else mine
            else:
                best[name] = {k: min(v, mine.get(k, v)) for k, v in res.items()}
    return best


def peer_main(script, argv, runners, rounds=2, key=None):
    """The command line of a benchmark whose ``runners`` (name -> function returning a JSON-able result) each run
    in their own process.

    With ``--child NAME``, prints runner NAME's result and returns None. Otherwise runs every runner, ferronet in
    this interpreter and each other one in ``--NAME-python``'s, else ``--peer-python``'s (default: this one),
    alternated, and returns :func:`best_of_rounds`' result.
    """
    if argv[:1] == ["--child"]:
        print(json.dumps(runners[argv[1]]()))
        return None

    def python(name):
        for flag in (f"--{name}-python", "--peer-python"):
            if name != "ferronet" and flag in argv:
                return argv[argv.index(flag) + 1]
        return sys.executable

    return best_of_rounds(script, {name: python(name) for name in runners}, rounds=rounds, key=key)


def peer_rows(ours, theirs):
    """Markdown rows ``| case | ferronet ms | PyTorch ms | PyTorch / ferronet |``.

    ``ours`` maps each case to seconds; ``theirs`` is the peer's result: the same mapping, None (not installed) or
    an error.
    """
    rows = []
    for case, t in ours.items():
        if not isinstance(theirs, dict) or "error" in theirs or case not in theirs:
            peer_cell = "not installed" if theirs is None else ("failed" if "error" in (theirs or {}) else "-")
            rows.append(f"| {case} | {t * 1e3:.2f} | {peer_cell} | |")
        else:
            rows.append(f"| {case} | {t * 1e3:.2f} | {theirs[case] * 1e3:.2f} | {theirs[case] / t:.2f}x |")
    return rows


def best_seconds(step, seconds=2.0, warmup=3):
    """The fastest of as many calls of ``step()`` as fit in ``seconds``, after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    best, end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t0)
    return best
