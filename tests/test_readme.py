"""The README's quick start runs as written (with one epoch instead of ten)."""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_quick_start_runs(tmp_path, monkeypatch):
    import matplotlib  # noqa: F401  (in the test extra: a missing one must fail, not skip)
    code = re.search(r"## Quick start\n\n```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code.replace("epochs=10", "epochs=1"), "README quick start", "exec"), {})
    assert (tmp_path / "roc.png").stat().st_size > 1000


def test_first_command_installs_the_plot_extra_the_demo_needs():
    first = re.search(r"```bash\n(.*?)\n", README.read_text()).group(1)
    assert first.split("#")[0].strip() == "pip install '.[plot]' && python -m ferronet demo"
