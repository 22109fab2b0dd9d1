"""Build a kernel bundle (runtime/cuda_bundle.py): compile, on a machine without a GPU, every kernel
a GPU check or benchmark will launch, for one NVIDIA target, with launch shapes and ptxas figures.

    build_bundle(out_dir, cases, target="nvidia_sm90")      writes manifest.json + kernels/
    bench_cases(ops, shapes, candidates)                    the benchmark's cases
    load_case_file(path)                                    cases from a Python file's bundle_cases()

A case (as given to build_bundle) is a dict:
    name, group, fn (array-API program), examples (shapes, or arrays for f16 / bf16), inits,
    reference ({"kind", "name"}), launches: a list of
        "default"                the launch girflow.compile(target="nvidia") uses
        "model:K"                the launch model's K first choices (row programs; one kernel otherwise)
        {gir-to-gpu options}     e.g. {"schedule": "block", "block_threads": 512}, {"column_split": 8}
                                 (column_split applies to column programs only, the others to the rest)
Identical launches of one case are compiled once.
"""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import time
from pathlib import Path

from girflow.runtime.cuda_bundle import FORMAT, case_bytes

BENCH_OPS = ("softmax", "log_softmax", "layernorm", "rmsnorm", "bias_gelu", "add_layernorm", "swiglu",
             "sum_last", "sum_first")
BENCH_SHAPES = ((8192, 4096), (4096, 1024), (1024, 1000))
_INIT_OF_KIND = {"x": "normal", "w": "weight"}
# column programs' launch candidates (thread rows splitting the reduced axis); ignored by row programs
COLUMN_SPLITS = ({"column_split": 1}, {"column_split": 8}, {"column_split": 32})


def bench_cases(ops=BENCH_OPS, shapes=BENCH_SHAPES, candidates: int = 4, dtype: str = "float32") -> list[dict]:
    """The benchmark's cases: built-in operators (frontends/ops.py) at each shape, the launch model's
    `candidates` first choices plus girflow's default launch."""
    from girflow.frontends import ops as operators

    cases = []
    for rows, cols in shapes:
        for name in ops:
            fn, kinds = operators.OPERATORS[name]
            shp = [(rows, cols) if k == "x" else (cols,) for k in kinds]
            cases.append({"name": name, "group": "bench", "fn": fn, "examples": _examples(shp, dtype),
                          "inits": [_INIT_OF_KIND[k] for k in kinds],
                          "reference": {"kind": "operator", "name": name},
                          "launches": ["default", f"model:{candidates}", *COLUMN_SPLITS]})
    return cases


def _examples(shapes, dtype):
    if dtype == "float32":
        return list(shapes)
    import torch

    return [torch.empty(s, dtype=getattr(torch, dtype)) for s in shapes]


def load_case_file(path) -> list[dict]:
    """Cases from a Python file defining `bundle_cases()` (e.g. tests/gpu/gpu_cases.py)."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(f"_girflow_cases_{path.stem}", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise FileNotFoundError(f"{path}: no such case file")
    import sys

    sys.path.insert(0, str(path.parent))   # the file may import its neighbours
    try:
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(path.parent))
    if not hasattr(mod, "bundle_cases"):
        raise ValueError(f"{path}: defines no bundle_cases()")
    return list(mod.bundle_cases())


def _launch_key(binary) -> dict:
    """The gir-to-gpu options that reproduce a compiled kernel's launch."""
    if binary.schedule == "row-per-warp":
        return {"schedule": "warp", "rows_per_block": binary.block[0] // 32}
    if binary.schedule == "row-per-block":
        return {"schedule": "block", "block_threads": binary.block[0]}
    if binary.schedule == "column-per-block":
        return {"schedule": "column", "column_split": binary.block[0] // 32}
    return {}


def _tag(launch: dict) -> str:
    if launch.get("schedule") == "warp":
        return f"w{launch['rows_per_block']}"
    if launch.get("schedule") == "block":
        return f"b{launch['block_threads']}"
    if launch.get("schedule") == "column":
        return f"c{launch['column_split']}"
    return "fixed"


def _dims(shapes) -> str:
    return "_".join("x".join(str(d) for d in s) for s in shapes[:1])


def build_bundle(out_dir, cases: list[dict], target: str = "nvidia_sm90", log=print) -> dict:
    """Compile every case's launches for `target` into `out_dir`; returns the manifest."""
    from girflow.dialects import targets
    from girflow.frontends.array_api import trace_program
    from girflow.passes.gpu.compile import compile_gpu, launch_ranking
    from girflow.runtime.nvidia import DEFAULT_LAUNCH

    desc = targets.get(target)
    if desc["kind"] != "nvidia":
        raise ValueError(f"target {target!r} is not an NVIDIA target")
    out = Path(out_dir)
    if out.exists():
        if not (out / "manifest.json").exists() and any(out.iterdir()):
            raise FileExistsError(f"{out} exists, is not empty and holds no bundle; not overwriting it")
        shutil.rmtree(out)
    (out / "kernels").mkdir(parents=True)
    specs, t0 = [], time.perf_counter()
    for n, case in enumerate(cases):
        tr = trace_program(case["fn"], *case["examples"], name=case.get("kernel_name", case["name"]))
        shapes = [list(s) for s in tr.input_shapes]
        ranking = launch_ranking(tr.mlir, desc)
        default = compile_gpu(tr.mlir, desc, launch=DEFAULT_LAUNCH)   # what girflow.compile(target="nvidia") runs
        todo: list = []
        for item in case["launches"]:
            if item == "default":
                todo.append(("default", _launch_key(default)))
            elif isinstance(item, str) and item.startswith("model:"):
                todo += [("model", c) for _, c in ranking[:int(item.split(":")[1])]] or [("default", _launch_key(default))]
            elif ("column_split" in item) == (tr.form == "column"):   # a launch knob of this form only
                todo.append(("explicit", dict(item)))
        seen: dict = {}
        for _, launch in todo:
            if json.dumps(launch, sort_keys=True) in seen:
                continue
            binary = default if launch in ({}, _launch_key(default)) else compile_gpu(
                tr.mlir, desc, launch.get("schedule", "auto") if launch.get("schedule") != "column" else "auto",
                rows_per_block=launch.get("rows_per_block"), block_threads=launch.get("block_threads"),
                column_split=launch.get("column_split"))
            launch = _launch_key(binary)       # what was built (column / transpose kernels: fixed)
            key = json.dumps(launch, sort_keys=True)
            if key in seen:
                continue
            rank = next((i for i, (_, c) in enumerate(ranking) if c == launch), None)
            cid = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{case['group']}.{case['name']}.{tr.dtype}.{_dims(shapes)}.{_tag(launch)}")
            if not binary.binary:
                raise ValueError(f"{cid}: ptxas produced no cubin")
            (out / "kernels" / f"{cid}.cubin").write_bytes(binary.binary)
            (out / "kernels" / f"{cid}.ptx").write_text(binary.assembly)
            (res,) = binary.resources.values()
            spec = {"id": cid, "group": case["group"], "op": case["name"], "dtype": tr.dtype, "shapes": shapes,
                    "inits": list(case["inits"]), "input_views": [list(v) for v in tr.input_views],
                    "output_views": [list(v) for v in tr.output_views],
                    "output_shapes": [list(s) for s in tr.output_shapes], "form": tr.form,
                    "kernel": binary.kernel, "grid": list(binary.grid), "block": list(binary.block),
                    "shared_bytes": binary.shared_bytes, "schedule": binary.schedule, "launch": launch,
                    "vector_width": binary.vector_width,
                    "model": {"rank": rank, "ns": ranking[rank][0] if rank is not None else None,
                              "first": rank == 0},
                    "default": launch == _launch_key(default), "ptxas": res,
                    "reference": case["reference"],
                    "cubin": f"kernels/{cid}.cubin", "ptx": f"kernels/{cid}.ptx"}
            spec["bytes"] = case_bytes(spec)
            seen[key] = cid
            specs.append(spec)
        if log:
            log(f"[{n + 1}/{len(cases)}] {case['group']} {case['name']} {tr.dtype} {_dims(shapes)}: "
                f"{len(seen)} kernel(s), {time.perf_counter() - t0:.0f} s")
    manifest = {"format": FORMAT, "target": desc["name"], "arch": desc["arch"], "cases": specs}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest
