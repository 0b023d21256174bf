"""The documentation builds with warnings as errors, executes every notebook, and lists every public name.

Runs ``sphinx-build -W --keep-going`` on ``docs/`` with ``FERRONET_DOCS_FAST=1``
(notebooks at CI sizes) and ``FERRONET_OFFLINE=1`` (no downloads: the MNIST
notebook falls back to scikit-learn's digits). Needs the ``docs`` extra
(``pip install '.[docs]'``); without it the test is skipped and says why.
"""

import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MISSING = [m for m in ("sphinx", "furo", "myst_nb", "ipykernel", "mathjax") if importlib.util.find_spec(m) is None]

pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"the docs extra is not installed (missing {', '.join(MISSING)}): pip install '.[docs]'"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs") / "html"
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # notebooks draw with the inline backend
    env.update(FERRONET_DOCS_FAST="1", FERRONET_OFFLINE="1", FERRONET_DOCS_EXECUTE="force", PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-d", str(out.parent / "doctrees"),
         str(DOCS), str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200,
    )
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    return out


def _automodules():
    """(module name, documents its members) for each ``automodule`` in docs/api."""
    for page in sorted((DOCS / "api").glob("*.rst")):
        for match in re.finditer(r"^\.\. automodule:: (\S+)\n((?:   :.*\n)*)", page.read_text(), re.M):
            yield match.group(1), ":no-members:" not in match.group(2)


def _documented_modules():
    """(module, names) for each ``automodule`` in docs/api that documents its members."""
    return [(name, list(getattr(importlib.import_module(name), "__all__", [])))
            for name, members in _automodules() if members]


def test_every_public_module_has_a_reference_page():
    import ferronet

    modules = {f"ferronet.{name}" for name in ferronet.__all__ if inspect.ismodule(getattr(ferronet, name))}
    missing = sorted(modules - {name for name, _ in _automodules()})
    assert not missing, f"public modules without an automodule in docs/api/: {missing}"


def test_every_public_name_is_in_the_reference(built):
    from sphinx.util.inventory import InventoryFile

    with open(built / "objects.inv", "rb") as f:
        inventory = InventoryFile.load(f, "", os.path.join)
    documented = {name for kind, entries in inventory.items() if kind.startswith("py:") for name in entries}
    missing = [f"{module}.{name}" for module, names in _documented_modules() for name in names
               if f"{module}.{name}" not in documented]
    assert not missing, f"public names missing from the API reference: {missing}"
    for name in ("ferronet.set_num_threads", "ferronet.simd", "ferronet.errors.ShapeError", "ferronet.tensor.GradientTape"):
        assert name in documented


def test_every_notebook_ran_and_drew_its_plots(built):
    notebooks = sorted((DOCS / "tutorials").glob("*.ipynb"))
    assert len(notebooks) >= 8
    for notebook in notebooks:
        html = (built / "tutorials" / f"{notebook.stem}.html").read_text()
        assert "Traceback (most recent call last)" not in html, f"{notebook.name} shows an error"
        assert re.search(r'<img[^>]+src="[^"]*\.png"', html), f"{notebook.name} has no rendered plot"


def test_porting_page_shows_the_errors_and_the_support_tables(built):
    html = (built / "guide" / "keras.html").read_text()
    for text in ("has no attribute", "Unknown loss", "channels_last", "Received: filepath="):
        assert text in html, f"the Keras page lacks the error text {text!r}"
    for name in ("Dense", "SparseCategoricalCrossentropy", "EarlyStopping", "AdamW", "GlorotUniform"):
        assert f"<span class=\"pre\">{name}</span>" in html, f"the support tables lack {name}"


def test_maths_is_rendered_by_a_copy_of_mathjax_in_the_site(built):
    pages = {p: p.read_text() for p in built.rglob("*.html")}
    with_maths = [p for p, html in pages.items() if 'class="math' in html]
    assert len(with_maths) >= 3, "no page has maths to render"
    for page in with_maths:
        script = re.search(r'<script[^>]+src="([^"]*mathjax[^"]*)"', pages[page])
        assert script, f"{page.name} has maths but loads no MathJax"
        assert (page.parent / script.group(1)).resolve() == (built / "_static/mathjax/tex-mml-chtml.js").resolve()
    for page, html in pages.items():
        remote = re.findall(r'<script[^>]+src="((?:https?:)?//[^"]+)"', html)
        assert not remote, f"{page.relative_to(built)} loads scripts from the network: {remote}"
    fonts = built / "_static/mathjax/output/chtml/fonts/woff-v2"
    assert (fonts / "MathJax_Main-Regular.woff").is_file()
    assert (built / "_static/mathjax/input/tex/extensions/physics.js").is_file()  # loaded on demand
