"""Maths rendered by a copy of MathJax inside the built site, so pages work offline.

``sphinx.ext.mathjax`` points pages at a CDN by default, which a reader
without network (or a machine that can reach only package registries) never
gets: every formula then shows as raw TeX. This extension takes MathJax 3
from the ``django-static-mathjax`` package (a plain copy of MathJax's
``es5`` build; it needs no Django), copies the parts a page loads into
``_static/mathjax/`` of the HTML output and points ``mathjax_path`` there.

Copied: ``tex-mml-chtml.js`` (Sphinx's default component: TeX and MathML
in, HTML/CSS out), the TeX extensions and MathML input it loads on demand,
the CommonHTML output with its web fonts, and the menu and accessibility
components. Left out: the speech-rule engine (``sre/``, 4 MB) and the SVG
output, which this configuration never loads.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

COMPONENT = "tex-mml-chtml.js"
PARTS = (COMPONENT, "input", "output/chtml", "ui", "a11y")
TARGET = "mathjax"


def mathjax_root() -> Path:
    """The ``es5`` directory of the installed MathJax, or an error naming the docs extra."""
    spec = importlib.util.find_spec("mathjax")
    root = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5" if spec else None
    if root is None or not (root / COMPONENT).is_file():
        raise ExtensionError(
            "MathJax is not installed, so pages could not render maths offline: pip install '.[docs]' "
            f"(it brings django-static-mathjax). Received: mathjax package at {root}"
        )
    return root


def _point_at_copy(app, config):
    config.mathjax_path = f"{TARGET}/{COMPONENT}"  # relative: Sphinx serves it from _static/


def _copy(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    root = mathjax_root()
    out = Path(app.outdir) / "_static" / TARGET
    for part in PARTS:
        src, dst = root / part, out / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    license_file = root.parent / "LICENSE"
    if license_file.is_file():
        shutil.copy2(license_file, out / "LICENSE")


def setup(app):
    app.setup_extension("sphinx.ext.mathjax")
    mathjax_root()  # fail at start-up, not after an hour of notebooks
    app.connect("config-inited", _point_at_copy)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
