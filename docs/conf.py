"""Sphinx configuration for ferronet's documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html``
(needs ``pip install '.[docs]'``). Notebooks in ``tutorials/`` are executed
during the build; ``FERRONET_DOCS_FAST=1`` runs them at small sizes.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import ferronet  # noqa: E402  (the installed package, or the tree on PYTHONPATH)

project = "ferronet"
author = "the ferronet authors"
copyright = "ferronet authors"
release = version = ferronet.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "local_mathjax",  # sphinx.ext.mathjax with MathJax copied into the site: maths renders offline
    "sphinx.ext.viewcode",
    "myst_nb",
    "registry_tables",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
root_doc = "index"

# autodoc + napoleon: Keras-style Google docstrings, members in source order,
# signatures with their defaults, type hints in the description.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True  # "Attributes:" as fields, so a property is not documented twice
napoleon_custom_sections = [("Input shape", "params_style"), ("Output shape", "params_style"),
                            ("Call arguments", "params_style"), ("Shapes", "params_style"),
                            ("Example", "example"), ("Examples", "example")]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_preserve_defaults = True
autoclass_content = "both"


# myst-nb: execute every notebook on each build; any error fails the build.
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = os.environ.get("FERRONET_DOCS_EXECUTE", "force")
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

html_theme = "furo"
html_title = f"ferronet {release}"
html_static_path = ["_static"]
html_css_files = ["ferronet.css"]
html_theme_options = {"navigation_with_keys": True}

