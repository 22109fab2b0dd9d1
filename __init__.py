"""girflow: an MLIR-based compiler framework for the memory-bound parts of ML and data work.

Public entry points:
  girflow.trace(fn, *shapes_or_arrays)  -> GIR text of a traced array program
  girflow.compile(fn, target="cpu")     -> a callable on NumPy arrays / torch CPU tensors
  girflow.Mirror(db_or_csv_folder)      -> natural-language questions to SQL (lazy import)
  girflow.fiited                        -> FIITED embedding bags and DLRM training (lazy import)
"""

__version__ = "0.1.0"


def __getattr__(name):
    # Lazy: importing girflow must not pull in MLIR, torch or an LLM until they are used.
    if name in ("trace", "compile", "ops"):
        from .frontends import array_api

        return getattr(array_api, name) if name != "ops" else __import__(
            "girflow.frontends.ops", fromlist=["ops"])
    if name == "fiited":   # girflow.fiited: FIITED embedding modules and training
        import importlib

        return importlib.import_module("girflow.frontends.fiited")
    if name == "Mirror":
        from .frontends.mirror import Mirror

        return Mirror
    raise AttributeError(f"module 'girflow' has no attribute {name!r}")
