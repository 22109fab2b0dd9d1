"""lit configuration: every .mlir file under tests/lit runs gir-opt and checks with FileCheck."""
import os
import shutil
import sys

import lit.formats

config.name = "girflow"
config.test_format = lit.formats.ShTest(execute_external=False)  # internal shell provides `not`
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.excludes = ["Inputs", "lit.cfg.py"]

bindir = os.path.dirname(sys.executable)
config.environment["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
config.environment["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
config.substitutions.append(("%python", sys.executable))
filecheck = shutil.which("filecheck", path=config.environment["PATH"]) or "filecheck"
config.substitutions.append(("FileCheck", filecheck))
