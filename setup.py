"""Maps the top-level folders into the `girflow` package and builds the native FIITED runtime.

The layout keeps `dialects/ passes/ runtime/ frontends/ tools/` at the top of the repository; the
repository root itself is the `girflow` package, so `girflow.dialects` is `dialects/`.
"""
import glob
import os

from setuptools import Extension, find_packages, setup

TOP_LEVEL = ["dialects", "passes", "runtime", "frontends", "tools"]

packages = ["girflow"]
for top in TOP_LEVEL:
    packages.append(f"girflow.{top}")
    packages += [f"girflow.{top}.{sub}" for sub in find_packages(top)]

# The FIITED runtime is a plain C library with a C ABI (loaded with ctypes and by the MLIR
# ExecutionEngine); it is built as an extension module only so that pip compiles it on install.
fiited_sources = sorted(glob.glob(os.path.join("runtime", "fiited", "*.c")))
ext_modules = []
if fiited_sources:
    ext_modules.append(
        Extension(
            "girflow.runtime.fiited._fiited_native",
            sources=fiited_sources,
            extra_compile_args=["-O3", "-march=native", "-std=c11", "-fopenmp"],
            extra_link_args=["-fopenmp"],
            libraries=["m"],
        )
    )

# The CPU kernels' task pool (runtime/dispatch.py): pthread helpers that never touch the GIL.
ext_modules.append(
    Extension(
        "girflow.runtime.native._task_pool",
        sources=[os.path.join("runtime", "native", "task_pool.c")],
        extra_compile_args=["-O2", "-std=c11", "-pthread"],
        extra_link_args=["-pthread"],
    )
)
# The steady-state call of a CPU kernel (runtime/dispatch.py `Launcher`): a CPython extension.
ext_modules.append(
    Extension(
        "girflow.runtime.native._launch",
        sources=[os.path.join("runtime", "native", "launch.c")],
        extra_compile_args=["-O2", "-std=c11"],
    )
)

setup(
    packages=packages,
    package_dir={"girflow": "."},
    package_data={"girflow.dialects": ["targets/*.json"], "girflow.frontends": ["**/*.html", "**/*.js", "**/*.css", "**/*.sql", "**/*.json"]},
    ext_modules=ext_modules,
)
