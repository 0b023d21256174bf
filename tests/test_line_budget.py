"""tools/line_budget.py: the repository is within budget, and the check fails when it should."""

import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("line_budget", ROOT / "tools" / "line_budget.py")
line_budget = importlib.util.module_from_spec(spec)
spec.loader.exec_module(line_budget)


def test_repository_is_within_budget():
    assert line_budget.check(600) == []


def _tree(tmp_path, files, allow=""):
    for rel, n in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x = 1\n" * n)
    (tmp_path / "allow.txt").write_text(allow)
    return line_budget.check(10, tmp_path, tmp_path / "allow.txt")


def test_a_file_over_budget_fails_unless_allowlisted_with_a_reason(tmp_path):
    files = {"python/pkg/big.py": 11, "rust/core/src/ok.rs": 10, "tests/notes.txt": 50, "docs/big.py": 99}
    assert _tree(tmp_path, files) == ["python/pkg/big.py: 11 lines, over the budget of 10: split it by concept"]
    assert _tree(tmp_path, files, "python/pkg/big.py  # being redesigned\n") == []
    with pytest.raises(SystemExit, match="needs a reason"):
        _tree(tmp_path, files, "python/pkg/big.py\n")


def test_stale_allowlist_entries_fail(tmp_path):
    problems = _tree(tmp_path, {"rust/a.rs": 3}, "rust/a.rs  # was big\npython/gone.py  # removed\n")
    assert problems == [
        "rust/a.rs: 3 lines, back under 10: remove it from allow.txt",
        "python/gone.py: allowlisted in allow.txt but not found",
    ]
