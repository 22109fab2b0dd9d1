"""Runs the lit + FileCheck regression suite (tests/lit) as part of pytest, one test per file."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

LIT_DIR = Path(__file__).parent / "lit"
FILES = sorted(p for p in LIT_DIR.rglob("*.mlir") if "Inputs" not in p.parts)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(LIT_DIR)))
def test_lit(path):
    lit = Path(sys.executable).with_name("lit")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run([str(lit), "-v", str(path)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
