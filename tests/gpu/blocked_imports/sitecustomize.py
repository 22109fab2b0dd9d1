"""Put this folder on PYTHONPATH to make the modules named in GIRFLOW_BLOCK_IMPORTS (comma-separated)
unimportable in a child process: it then behaves like a GPU machine without the compiler's
dependencies (tests/gpu/test_bundle_offline.py)."""
import os
import sys

for _name in filter(None, os.environ.get("GIRFLOW_BLOCK_IMPORTS", "").split(",")):
    sys.modules[_name.strip()] = None  # type: ignore[assignment]  # `import name` now raises ImportError
