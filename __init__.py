"""girflow: an MLIR-based compiler framework for the memory-bound parts of ML and data work.

Public entry points:
  girflow.trace(fn, *shapes_or_arrays)  -> GIR text of a traced array program
  girflow.compile(fn, target="cpu")     -> a callable on NumPy arrays / torch CPU tensors
  torch.compile(model, backend="girflow") -> memory-bound regions of a model as GIR kernels
  girflow.explain(model, *inputs)       -> what ran in GIR, what in PyTorch, and why
  girflow.Mirror(db_or_csv_folder)      -> natural-language questions to SQL (lazy import)
  girflow.fiited                        -> FIITED embedding bags and DLRM training (lazy import)
"""

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

# Public short names for modules that live deeper in the layout; imported only when used.
_ALIASES = {"girflow.fiited": "girflow.frontends.fiited"}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        pass


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in _ALIASES:
            return importlib.util.spec_from_loader(name, _AliasLoader(_ALIASES[name]))
        return None


if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())


def __getattr__(name):
    # Lazy: importing girflow must not pull in MLIR, torch or an LLM until they are used.
    if name in ("trace", "compile", "ops"):
        from .frontends import array_api

        return getattr(array_api, name) if name != "ops" else __import__(
            "girflow.frontends.ops", fromlist=["ops"])
    if name in ("explain", "girflow_backend"):
        from .frontends import torch as torch_frontend

        return getattr(torch_frontend, name)
    if name == "fiited":   # girflow.fiited: FIITED embedding modules and training
        return importlib.import_module("girflow.fiited")
    if name == "Mirror":
        from .frontends.mirror import Mirror

        return Mirror
    raise AttributeError(f"module 'girflow' has no attribute {name!r}")
