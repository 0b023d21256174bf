"""The one-command demo (python -m ferronet demo), at small sizes."""

import json
import subprocess
import sys

import numpy as np
import pytest

from ferronet import demo
from ferronet.__main__ import main as cli


def test_crossing_temperature():
    t = [1.0, 2.0, 3.0, 4.0]
    assert demo.crossing_temperature(t, [1.0, 0.9, 0.3, 0.0]) == pytest.approx(2.0 + 0.4 / 0.6)
    assert np.isnan(demo.crossing_temperature(t, [0.9, 0.8, 0.7, 0.6]))
    assert demo.crossing_temperature(t, [1.0, 0.5, 0.2, 0.1]) == pytest.approx(2.0 + 0.0 / 0.3)


def test_ising_demo_small(tmp_path, capsys):
    import matplotlib  # noqa: F401  (in the test extra: a missing one must fail, not skip)
    code = cli(
        [
            "demo",
            "-L",
            "8",
            "--samples",
            "24",
            "--temperatures",
            "8",
            "--epochs",
            "3",
            "-o",
            str(tmp_path),
            "--seed",
            "1",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "[1/4] Monte Carlo" in out and "T_c estimate" in out and "Onsager" in out
    r = json.loads((tmp_path / "results.json").read_text())
    assert r["problem"] == "ising" and r["L"] == 8 and len(r["mean_output"]) == 8
    assert r["tc_onsager"] == pytest.approx(2.269185, abs=1e-6) and 0 <= r["test_accuracy"] <= 1
    for name in r["plots"]:
        assert (tmp_path / name).stat().st_size > 10_000


def test_photon_jet_demo_small(tmp_path, capsys):
    import matplotlib  # noqa: F401  (in the test extra: a missing one must fail, not skip)
    assert cli(["demo", "photon-jet", "--events", "3000", "--epochs", "2", "-o", str(tmp_path), "-q"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("ferronet demo photon-jet: ROC AUC")
    r = json.loads((tmp_path / "results.json").read_text())
    assert 0.5 < r["test_auc"] <= 1 and np.array(r["confusion_matrix"]).sum() == 900
    assert [wp["target"] for wp in r["working_points"]] == [0.5, 0.7, 0.9]
    assert set(r["plots"]) == {"history.png", "roc.png", "rejection.png", "confusion_matrix.png", "scores.png"}


def test_demo_help_and_bad_arguments(capsys):
    with pytest.raises(SystemExit) as e:
        cli(["demo", "--help"])
    assert e.value.code == 0 and "--lattice" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        cli(["demo", "heisenberg"])
    assert e.value.code == 2


def test_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "ferronet", "demo", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "photon-jet" in proc.stdout


@pytest.mark.slow
def test_demo_finds_tc(tmp_path):
    """The full study at L=16 (the default is 32, under a minute): T_c within 5 % of Onsager's value."""
    r = demo.run_ising(L=16, out=tmp_path, verbose=0)
    assert abs(r["tc_estimate"] - r["tc_onsager"]) / r["tc_onsager"] < 0.05
    assert r["test_accuracy"] > 0.9


def test_missing_matplotlib_names_the_extra(tmp_path, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.split(".")[0] == "matplotlib":
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert demo._plots_available(1) is False
    out = capsys.readouterr().out
    assert "'plot' extra" in out and "pip install 'ferronet[plot]'" in out and "pip install '.[plot]'" in out
