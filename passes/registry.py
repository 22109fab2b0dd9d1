"""Registry of girflow passes, and pipelines that mix them with upstream MLIR passes.

A pass is a Python function `run(module_op: ir.Operation, options) -> None` registered under an
mlir-opt style name; `options` is an instance of the dataclass the pass declares (passes/options.py). It raises `PassError` (optionally naming an op) for user-facing failures;
the pipeline turns that into an MLIR diagnostic at the op's location and a failed pass.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable

from torch_mlir import ir, passmanager

from girflow.passes.options import NoOptions, parse_options


class PassError(Exception):
    """A user-facing pass failure; `op` (if given) locates the diagnostic."""

    def __init__(self, message: str, op: ir.Operation | ir.OpView | None = None):
        super().__init__(message)
        self.op = op


@dataclasses.dataclass
class PassInfo:
    name: str
    run: Callable[[ir.Operation, Any], None]
    summary: str
    options: type  # a dataclass: one typed field (default, help) per option


_PASSES: dict[str, PassInfo] = {}
# Modules whose import registers passes; imported lazily so `gir-opt --help` lists them all.
PASS_MODULES = [
    "girflow.passes.verify",
    "girflow.passes.dataflow",
    "girflow.passes.schedule",
    "girflow.passes.opt.sweep_fusion",
    "girflow.passes.opt.redundant",
    "girflow.passes.opt.sweep_reuse",
    "girflow.passes.cpu.lower",
    "girflow.passes.math_approx",
    "girflow.passes.cpu.bf16_storage",
    "girflow.passes.cpu.outline_parallel",
    "girflow.passes.cpu.lower_alloc",
    "girflow.passes.cpu.task_driver",
    "girflow.passes.emb_lower",
    "girflow.passes.gpu.lower",
    "girflow.passes.nvidia.lower",
    "girflow.passes.amd.lower",
    "girflow.passes.mlu.lower",
    "girflow.passes.from_linalg",
]


def gir_pass(name: str, summary: str, options: type = NoOptions):
    """Decorator registering a pass function under `name`; `options` is its options dataclass."""

    def wrap(fn):
        _PASSES[name] = PassInfo(name, fn, summary, options)
        return fn

    return wrap


def all_passes() -> dict[str, PassInfo]:
    for mod in PASS_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise
    return dict(_PASSES)


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside (), {} and quotes."""
    parts: list[str] = []
    cur: list[str] = []
    depth, quote = 0, None
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def _split_element(element: str) -> tuple[str, str]:
    name = element
    opts = ""
    if "{" in element:
        name, rest = element.split("{", 1)
        opts = rest.rsplit("}", 1)[0]
    return name.strip(), opts


def _external(info: PassInfo, options: Any):
    def run(op, pass_):
        try:
            info.run(op, options)
        except PassError as e:
            where = e.op.operation if e.op is not None and hasattr(e.op, "operation") else (e.op or op)
            where.location.emit_error(str(e))
            pass_.signal_pass_failure()
        except ValueError as e:   # bad option values and the like: a user error, not a crash
            op.location.emit_error(f"{info.name}: {e}")
            pass_.signal_pass_failure()
        except Exception as e:  # noqa: BLE001 - reported as a diagnostic, never as a traceback
            op.location.emit_error(f"{info.name}: internal error: {type(e).__name__}: {e}")
            pass_.signal_pass_failure()

    run.__name__ = info.name
    return run


# Named pipelines: each expands to its elements wherever it appears in a pipeline.
PIPELINES = {
    "gir-cpu-kernel": "gir-verify,gir-dataflow,gir-schedule{target=cpu},gir-sweep-fusion,gir-redundant-elim,"
                      "gir-sweep-reuse,gir-lower-cpu,gir-outline-parallel,gir-task-driver,"
                      "gir-lower-alloc,gir-math-approx,canonicalize,cse",
    # bf16 conversions become integer ops and bf16 moves i16 moves: no kernel needs libgcc's __truncsfbf2
    "gir-cpu-to-llvm": "arith-expand{include-bf16=true},gir-bf16-as-i16,convert-vector-to-scf{full-unroll=true},convert-scf-to-cf,"
                       "convert-vector-to-llvm{vector-transpose-lowering=shuffle16x16},expand-strided-metadata,"
                       "lower-affine,finalize-memref-to-llvm,convert-math-to-llvm,convert-arith-to-llvm,"
                       "convert-cf-to-llvm,convert-func-to-llvm{use-bare-ptr-memref-call-conv=1},convert-ub-to-llvm,"
                       "reconcile-unrealized-casts",
}
PIPELINES["gir-cpu-pipeline"] = PIPELINES["gir-cpu-kernel"] + "," + PIPELINES["gir-cpu-to-llvm"]


def pipeline_elements(pipeline: str) -> list[str]:
    """The elements of `builtin.module(a, b{..}, func.func(c))` or of a bare `a,b` list, with named
    pipelines expanded."""
    text = pipeline.strip()
    if text.startswith("builtin.module(") and text.endswith(")"):
        text = text[len("builtin.module("):-1]
    out = []
    for element in split_top_level(text):
        name = element.split("{", 1)[0].strip()
        if name in PIPELINES:
            out += pipeline_elements(PIPELINES[name])
        else:
            out.append(element)
    return out


def add_to_pass_manager(pm: passmanager.PassManager, pipeline: str) -> None:
    """Append a textual pipeline mixing girflow passes (by name) and upstream passes."""
    passes = all_passes()
    for element in pipeline_elements(pipeline):
        name, opts = _split_element(element)
        if name in passes:
            info = passes[name]
            pm.add(_external(info, parse_options(info.options, opts, name)), name=name, argument=name,
                   description=info.summary)
        else:
            try:
                pm.add(element)
            except (ValueError, RuntimeError) as e:
                raise ValueError(f"unknown pass or bad pipeline element '{element}': {e}") from None


def build_pass_manager(pipeline: str, context: ir.Context, print_ir_after_all: bool = False,
                       verify_each: bool = True) -> passmanager.PassManager:
    with context:
        pm = passmanager.PassManager("builtin.module")
        add_to_pass_manager(pm, pipeline)
        if print_ir_after_all:
            pm.enable_ir_printing(print_after_change=False)
        pm.enable_verifier(verify_each)
    return pm


def run_pipeline(module: ir.Module, pipeline: str, print_ir_after_all: bool = False) -> None:
    """Run `pipeline` on `module` in place; raises ir.MLIRError with MLIR's diagnostics on failure."""
    pm = build_pass_manager(pipeline, module.context, print_ir_after_all)
    pm.run(module.operation)
