"""Backend registry: how `girflow.compile(fn, target=...)` turns a traced GIR module into a callable.

A backend is a function `build(module_text: str, kernel: KernelSignature, target: dict) -> callable`;
the callable takes input arrays (NumPy / torch) and returns outputs. Each target module registers
itself with `register_backend(kind, build)`; targets are picked by their description's "kind".
"""
from __future__ import annotations

import dataclasses
import importlib

_BACKENDS = {}
BACKEND_MODULES = {"cpu": "girflow.runtime.cpu", "nvidia": "girflow.runtime.nvidia",
                   "amd": "girflow.runtime.amd", "mlu": "girflow.runtime.mlu"}


@dataclasses.dataclass(frozen=True)
class KernelSignature:
    """Name, input/output shapes and dtypes (NumPy dtype names) of a traced operator."""
    name: str
    input_shapes: tuple
    input_dtypes: tuple
    output_shapes: tuple
    output_dtypes: tuple


def register_backend(kind: str, build) -> None:
    _BACKENDS[kind] = build


def get_backend(kind: str):
    if kind not in _BACKENDS and kind in BACKEND_MODULES:
        importlib.import_module(BACKEND_MODULES[kind])
    if kind not in _BACKENDS:
        raise ValueError(f"no backend for target kind '{kind}' (known: {', '.join(BACKEND_MODULES)})")
    return _BACKENDS[kind]


def schedule_option(options: str, default: str) -> str:
    """The schedule named by compile()'s `options`: "" | "<schedule>" | "schedule=<schedule>"."""
    options = (options or "").strip()
    if not options:
        return default
    for item in options.replace(",", " ").split():
        key, _, val = item.partition("=")
        if not val:
            return key
        if key == "schedule":
            return val
    return default
