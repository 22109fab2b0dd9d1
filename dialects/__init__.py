"""Dialect registry: every girflow dialect (gir, emb, ...) is an IRDL module loaded into one MLIR context.

A dialect module registers itself with `register_dialect(name, irdl_source)`; `make_context()` returns
an upstream MLIR context with all upstream dialects and all registered girflow dialects loaded.
"""
from __future__ import annotations

import importlib

from torch_mlir import ir
from torch_mlir.dialects import irdl

_IRDL_SOURCES: dict[str, str] = {}
# Modules that define dialects; imported on first context creation so each registers itself.
DIALECT_MODULES = ["girflow.dialects.gir", "girflow.dialects.emb", "girflow.dialects.mlu"]


def register_dialect(name: str, irdl_source: str) -> None:
    """Record the IRDL text of a dialect; it is loaded into every context made afterwards."""
    _IRDL_SOURCES[name] = irdl_source


def registered_dialects() -> dict[str, str]:
    for mod in DIALECT_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:  # a dialect not built yet is simply absent
            if e.name != mod:
                raise
    return dict(_IRDL_SOURCES)


def make_context() -> ir.Context:
    """An upstream MLIR context (all upstream dialects registered) with every girflow dialect loaded."""
    ctx = ir.Context()
    with ctx, ir.Location.unknown():
        for source in registered_dialects().values():
            irdl.load_dialects(ir.Module.parse(source))
    return ctx
