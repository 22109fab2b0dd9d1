"""Compiled CPU kernels on disk, so a second process compiling the same program skips the GIR
pipeline, the MLIR lowering and LLVM's code generation (they are most of a warm compile).

An entry is the object code the MLIR ExecutionEngine produced for one kernel, plus the few facts
the runtime needs to call it (entry symbol, argument count, task count), under
`cache_dir("kernels")`. Its key covers everything that decides that code: the GIR module text, the
pipelines and schedule options, the target description, LLVM's view of the host CPU (name and
features), the tuning cache's state (a tuned schedule changes the code), and the versions of
girflow, torch-mlir and this format. A cached object is linked into the process with llvmlite's
ORC JIT; every symbol must resolve, exactly as for a fresh JIT kernel.

`GIRFLOW_KERNEL_CACHE=0` turns the cache off (nothing read or written).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path

from girflow.runtime.cache_dir import cache_dir

FORMAT = "1"
_LOCK = threading.Lock()


def enabled() -> bool:
    return os.environ.get("GIRFLOW_KERNEL_CACHE", "1") not in ("0", "false", "no", "off")


@functools.lru_cache(maxsize=None)
def _host() -> str:
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    return f"{llvm.get_host_cpu_name()}|{llvm.get_host_cpu_features().flatten()}|{llvm.get_default_triple()}"


@functools.lru_cache(maxsize=None)
def _versions() -> str:
    from importlib import metadata

    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "?"

    from girflow import __version__

    return (f"girflow {__version__} ({_compiler_fingerprint()})|torch-mlir {version('torch-mlir')}|"
            f"llvmlite {version('llvmlite')}")


def _compiler_fingerprint() -> str:
    """A hash of the compiler's own sources (dialects, passes, the CPU backend): a fixed or changed
    pass never reuses code an older one produced, even within one release."""
    return source_fingerprint("dialects", "passes", "runtime/cpu.py", "runtime/kernel_cache.py",
                              "runtime/jit_link.py")


@functools.lru_cache(maxsize=None)
def source_fingerprint(*parts: str) -> str:
    """A hash of girflow's source files under `parts` (folders or files, relative to the package)."""
    import girflow

    root = Path(girflow.__file__).parent
    digest = hashlib.sha256()
    for part in parts:
        base = root / part
        paths = sorted(base.rglob("*")) if base.is_dir() else [base]
        for path in paths:
            if path.suffix in (".py", ".json", ".mlir") and path.is_file():
                digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _tuning_state() -> str:
    """Changes whenever a tuning entry is written or removed (a replace in that folder touches it)."""
    try:
        return str(os.stat(cache_dir("tuning")).st_mtime_ns)
    except OSError:
        return "-"


def kernel_key(module_text: str, pipelines: str, options: str, target: dict, opt_level: int) -> str:
    parts = [FORMAT, _versions(), _host(), json.dumps(target, sort_keys=True), pipelines, options,
             str(opt_level), _tuning_state(), module_text]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def _paths(key: str):
    folder = cache_dir("kernels")
    return folder / f"{key}.o", folder / f"{key}.json"


def load(key: str):
    """(object bytes, facts dict) for `key`, or None when absent, unreadable or disabled."""
    if not enabled():
        return None
    obj, meta = _paths(key)
    try:
        facts = json.loads(meta.read_text())
        data = obj.read_bytes()
    except (OSError, ValueError):
        return None
    if facts.get("format") != FORMAT or facts.get("bytes") != len(data):
        return None
    return data, facts


def store(key: str, data: bytes, facts: dict) -> None:
    """Write the object first, its facts last (atomically): a reader sees a whole entry or none."""
    if not enabled():
        return
    obj, meta = _paths(key)
    for path, content in ((obj, data), (meta, json.dumps({**facts, "format": FORMAT, "bytes": len(data)}).encode())):
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, path)


@functools.lru_cache(maxsize=None)
def _jit():
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    return llvm.create_lljit_compiler()


class LinkedObject:
    """A cached object linked into this process (one JIT library per object, so kernels with the
    same symbol names never clash); `address(name)` of an exported symbol."""

    _count = 0

    def __init__(self, data: bytes, exports: list[str], kernel: str):
        import llvmlite.binding as llvm

        from girflow.runtime.jit_link import JitLinkError, _elf_undefined

        with _LOCK:
            LinkedObject._count += 1
            name = f"girflow_kernel_{LinkedObject._count}"
            builder = llvm.JITLibraryBuilder().add_current_process().add_object_img(data)
            for sym in exports:
                builder.export_symbol(sym)
            try:
                self._library = builder.link(_jit(), name)
            except RuntimeError as e:
                raise JitLinkError(kernel, sorted(_elf_undefined(data)), str(e).strip()) from None
        self.data = data

    def address(self, name: str) -> int:
        return self._library[name]
