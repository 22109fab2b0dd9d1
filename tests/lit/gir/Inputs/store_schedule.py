"""lit helper: store a schedule for the GIR function in FILE into the tuning cache
($GIRFLOW_CACHE_DIR), as `girflow tune` would after measuring. Usage: store_schedule.py FILE k=v..."""
import sys

from torch_mlir import ir

from girflow.dialects import make_context, targets
from girflow.passes import tuning_cache
from girflow.passes.dataflow import analyse, gir_functions

with make_context(), ir.Location.unknown():
    module = ir.Module.parse(open(sys.argv[1]).read())
    df = analyse(gir_functions(module.operation)[0])
    knobs = {k: int(v) for k, v in (item.split("=") for item in sys.argv[2:])}
    tuning_cache.store(df, targets.get("cpu"), {"schedule": knobs})
