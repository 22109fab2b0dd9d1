"""Where girflow keeps what it derives (kernels' tuning results, parsed data sets, model state):
one folder, `$XDG_CACHE_HOME/girflow` (default `~/.cache/girflow`), or `$GIRFLOW_CACHE_DIR`.

Nothing is ever written next to a user's own files; deleting this folder is always safe.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """The cache folder (or a subfolder of it), created on first use."""
    root = os.environ.get("GIRFLOW_CACHE_DIR")
    base = Path(root) if root else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "girflow"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_key(path: str | os.PathLike, *extra: object) -> str:
    """A short key for a derived copy of `path`: its absolute path, size and modification time (and
    `extra`), so an edited or replaced file never reuses a stale copy."""
    st = os.stat(path)
    text = "|".join([os.path.abspath(path), str(st.st_size), str(st.st_mtime_ns), *map(str, extra)])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@contextlib.contextmanager
def build_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on a cache `folder` while checking for and building what it holds, so
    processes that want the same derived copy at once build it one at a time (the later ones then
    find it built) instead of deleting and rewriting each other's files. The lock is an advisory
    `flock` on `folder/.lock`, released when the block ends or the process dies."""
    with open(folder / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
