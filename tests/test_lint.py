"""Lint and type checks on the package (configured in pyproject.toml; pinned in the `dev` extra).

ruff (pyflakes, pycodestyle errors/warnings, import order) runs on the whole package; fix with
`.venv/bin/ruff check --fix .`. mypy (not strict) runs on the whole package, tests included
(pyproject.toml `[tool.mypy] files`).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from girflow.runtime.cache_dir import cache_dir

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True)


def test_ruff():
    pytest.importorskip("ruff", reason="install the dev extra: pip install -e '.[dev]'")
    p = _run(["ruff", "check", "--no-cache", "."], ROOT)
    assert p.returncode == 0, p.stdout + p.stderr


def test_mypy():
    pytest.importorskip("mypy", reason="install the dev extra: pip install -e '.[dev]'")
    # The repository root is the package `girflow`: give mypy a folder where it has that name.
    with tempfile.TemporaryDirectory() as d:
        os.symlink(ROOT, Path(d) / "girflow")
        cache = cache_dir("mypy")
        p = _run(["mypy", "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(cache)], Path(d))
    assert p.returncode == 0, p.stdout + p.stderr
