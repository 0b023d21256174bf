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
