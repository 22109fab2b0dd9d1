"""Native parts of the CPU runtime (built by `pip install -e .`; see setup.py)."""
from __future__ import annotations

import glob
import os


def native_library(folder: str, stem: str) -> str | None:
    """The path of the extension `stem` that setup.py built into `folder` (its file name carries
    the interpreter's ABI tag, e.g. `_task_pool.cpython-311-x86_64-linux-gnu.so`), or None where
    it was not built."""
    found = sorted(glob.glob(os.path.join(folder, f"{stem}*.so")))
    return found[0] if found else None
