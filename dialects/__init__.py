"""Dialect registry: every girflow dialect (gir, emb, mlu) is loaded into each MLIR context we make.

A dialect module registers itself with `register_dialect(name, dialect)`, where `dialect` is a
`torch_mlir.dialects.ext.Dialect` subclass (ops as Python classes, emitted as IRDL) or IRDL text;
`make_context()` returns an upstream MLIR context with all upstream dialects and all registered
girflow dialects loaded.
"""
from __future__ import annotations

import importlib
import threading
from typing import Any

from torch_mlir import ir
from torch_mlir.dialects import irdl

_DIALECTS: dict[str, Any] = {}
_EXT_TEXT: dict[Any, str] = {}
_LOAD_LOCK = threading.Lock()
# Modules that define dialects; imported on first context creation so each registers itself.
DIALECT_MODULES = ["girflow.dialects.gir", "girflow.dialects.emb", "girflow.dialects.mlu"]


def register_dialect(name: str, dialect: Any) -> None:
    """Record a dialect (ext class or IRDL text); it is loaded into every context made afterwards."""
    _DIALECTS[name] = dialect


def registered_dialects() -> dict[str, Any]:
    for mod in DIALECT_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:  # a dialect not built yet is simply absent
            if e.name != mod:
                raise
    return dict(_DIALECTS)


def _irdl_text(dialect: Any) -> str:
    """The IRDL text of an ext dialect class. Its first load (one thread at a time) also registers
    the op classes with the bindings, which is process-wide; every later context just loads the text."""
    with _LOAD_LOCK:
        if dialect not in _EXT_TEXT:
            with ir.Context(), ir.Location.unknown():
                dialect.load()
                _EXT_TEXT[dialect] = str(dialect._mlir_module)
            dialect._mlir_module = None   # do not keep that first context alive
        return _EXT_TEXT[dialect]


def make_context() -> ir.Context:
    """An upstream MLIR context (all upstream dialects registered) with every girflow dialect loaded."""
    ctx = ir.Context()
    with ctx, ir.Location.unknown():
        for dialect in registered_dialects().values():
            text = dialect if isinstance(dialect, str) else _irdl_text(dialect)
            irdl.load_dialects(ir.Module.parse(text))
    return ctx
