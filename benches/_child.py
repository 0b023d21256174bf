"""One benchmark case in a fresh process: each framework alone, ferronet imported from this checkout."""

from __future__ import annotations

import json
import os
import subprocess


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
