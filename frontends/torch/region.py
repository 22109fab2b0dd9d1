"""A GIR region inside a partitioned graph: compiles per shape class on first use, runs the kernel,
and falls back to the region's own PyTorch code (recording why) when GIR cannot take it.

Row programs (LayerNorm, GELU, softmax, residual and bias adds) compile to one kernel per shape class
with a symbolic row count (`shape_class.RowClass`): a new batch or sequence size of the same region
reuses that kernel without lowering anything again, after one check against the region's PyTorch
code; a new row width (softmax over a new key length) is a new class. Other programs compile per
exact argument shapes. Regions with the same graph at the same shapes (the same layer repeated
through a model) share one compiled entry, and identical GIR shares one kernel.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import time
from typing import Any

import torch

from girflow.frontends.array_api import TracedProgram
from girflow.frontends.array_api import compile as gir_compile
from girflow.frontends.torch.lower import graph_key, region_to_gir, signature_of
from girflow.frontends.torch.replay import Replay, build_replay
from girflow.frontends.torch.shape_class import DYNAMIC_ROWS, RowClass
from girflow.runtime.cache_dir import cache_dir
from girflow.runtime.compiled import CompiledFunction


@dataclasses.dataclass
class Compiled:
    kernel: object = None       # CompiledFunction (exact shapes), RowClass (symbolic rows), None: fallback
    replay: object = None
    out_meta: tuple = ()        # (shape, dtype) of each region output
    reason: str = ""            # why it fell back
    form: str = ""
    compile_s: float = 0.0
    rows: int = 0               # RowClass kernels: this shape's row count


_SHARED: dict = {}      # graph_key of (region graph, signature) -> Compiled, for every region


class GirRegion(torch.nn.Module):
    """Stands in for one partition's submodule (`fused_N`) in the partitioned graph."""

    capture = False      # set by the benchmark: keep the last call's arguments to time the region alone

    def __init__(self, gm: torch.fx.GraphModule, name: str, ops: list[str], timings: dict):
        super().__init__()
        self.gm, self.name, self.ops, self.timings = gm, name, ops, timings
        self.by_shape: dict = {}
        self.captured = None
        self.pieces: Any = None  # (graph, GirRegions) cutting this region at its layout ops; False: none
        out = [n for n in gm.graph.nodes if n.op == "output"][0]
        self.tuple_out = isinstance(out.args[0], (tuple, list))
        results = out.args[0] if self.tuple_out else (out.args[0],)
        self.layouts = [_layout(r) for r in results]

    def forward(self, *args):
        if GirRegion.capture:
            self.captured = args
        sig = tuple((a.shape, a.dtype) if isinstance(a, torch.Tensor) else a for a in args)
        entry = self.by_shape.get(sig)
        if entry is None:
            entry = self._in_known_class(args)
            if entry is None:
                key = graph_key(self.gm, signature_of(args))
                entry = _SHARED.get(key)
                if entry is None:
                    entry = _SHARED[key] = self._compile(args, key)
            self.by_shape[sig] = entry
        if entry.kernel is None:
            return self._fallback(args)
        return self._run(entry, args)

    def _fallback(self, args):
        """GIR cannot take the region whole: the pieces between its layout ops, else PyTorch."""
        if self.pieces is None:
            from girflow.frontends.torch import split_at_layout

            try:
                self.pieces = split_at_layout(self.gm, self.name, self.timings) or False
            except Exception:  # noqa: BLE001 - no pieces: the region runs as PyTorch code
                self.pieces = False
        return self.pieces[0](*args) if self.pieces else self.gm(*args)

    def _in_known_class(self, args) -> Compiled | None:
        """An entry for new shapes from a row class this region already compiled, checked once
        against the region's PyTorch code; None when no class fits (then it compiles)."""
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        classes = {id(e.kernel): e for e in self.by_shape.values() if isinstance(e.kernel, RowClass)}
        for known in classes.values():
            rc = known.kernel
            try:
                rows = rc.rows_of([tensors[i] for i, _ in known.replay.inputs])
                if rows is None:
                    continue
                with torch.no_grad():
                    expected = self.gm(*args)
                outs = expected if isinstance(expected, (tuple, list)) else (expected,)
                out_meta = tuple((tuple(o.shape), o.dtype) for o in outs)
                kernel_outs = [out_meta[j][0] for j, (kind, _) in enumerate(known.replay.outputs) if kind == "kernel"]
                if any(math.prod(s) != rows * c for s, c in zip(kernel_outs, rc.out_cols)):
                    continue
                entry = dataclasses.replace(known, out_meta=out_meta, rows=rows, compile_s=0.0)
                got = self._run(entry, args)
                _check_agrees(got if isinstance(got, (tuple, list)) else (got,), outs)
            except Exception:  # noqa: BLE001 - the class does not fit these shapes: compile them
                continue
            self.timings["class_reuse"] = self.timings.get("class_reuse", 0) + 1
            return entry
        return None

    def _compile(self, args, key: str) -> Compiled:
        t0 = time.perf_counter()
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        try:
            known = _load_traced(key)
            if known is not None:
                entry = self._from_disk(known, tensors)
                self.timings["cache"] = self.timings.get("cache", 0) + 1
                entry.compile_s = time.perf_counter() - t0
                self.timings["compile_s"] = self.timings.get("compile_s", 0.0) + entry.compile_s
                return entry
        except Exception:  # noqa: BLE001 - an unusable stored entry: compile as if it were absent
            pass
        try:
            with torch.no_grad():
                expected = self.gm(*args)
            outs = expected if isinstance(expected, (tuple, list)) else (expected,)
            out_meta = tuple((tuple(o.shape), o.dtype) for o in outs)
            ctx, module, func = region_to_gir(self.gm, args, self.timings)
            with ctx:
                replay = build_replay(func)
            kernel: Any = _row_class(replay, tensors) or gir_compile(replay.fn)
            if len(replay.outputs) != len(out_meta):
                raise ValueError(f"the lowered region has {len(replay.outputs)} results, PyTorch's {len(out_meta)}")
            entry = Compiled(kernel, replay, out_meta)
            if isinstance(kernel, RowClass):
                rows = kernel.rows_of([tensors[i] for i, _ in replay.inputs])
                if rows is None:
                    raise ValueError("the arguments do not fit the region's row class")
                entry.rows = rows
            got = self._run(entry, args)            # compiles the kernel (or links its cached object)
            _check_agrees(got if isinstance(got, (tuple, list)) else (got,), outs)
            if isinstance(kernel, RowClass):
                traced, entry.form = kernel.traced, "row"
            else:
                traced = kernel.specialise(*self._inputs(entry, tensors))[0]
                entry.form = traced.form
            _store_traced(key, traced, replay, out_meta)
        except Exception as e:  # noqa: BLE001 - any failure means PyTorch runs the region, with the reason kept
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            return Compiled(reason=reason, compile_s=time.perf_counter() - t0)
        entry.compile_s = time.perf_counter() - t0
        self.timings["compile_s"] = self.timings.get("compile_s", 0.0) + entry.compile_s
        del got
        return entry

    def _from_disk(self, known, tensors) -> Compiled:
        """The entry an earlier process compiled, checked against PyTorch and stored for this key
        (graph, shapes, lowering sources): its kernel is linked from the kernel cache; nothing is
        traced, lowered or run in PyTorch."""
        traced, replay, out_meta = known
        rc = RowClass.from_traced(traced) if DYNAMIC_ROWS in traced.mlir else None
        if rc is not None:
            rows = rc.rows_of([tensors[i] for i, _ in replay.inputs])
            if rows is None:
                raise ValueError("the arguments do not fit the stored row class")
            return Compiled(rc, replay, out_meta, form="row", rows=rows)
        kernel = CompiledFunction(None, "cpu", tracer=lambda fn, *arrays: traced)
        entry = Compiled(kernel, replay, out_meta, form=traced.form)
        kernel.specialise(*self._inputs(entry, tensors))        # links the cached object now
        return entry

    @staticmethod
    def _inputs(entry, tensors):
        return [tensors[i].reshape(shape).contiguous() for i, shape in entry.replay.inputs]

    def _run(self, entry, args):
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        if isinstance(entry.kernel, RowClass):      # inputs as they are laid out: only numel matters
            got = entry.kernel.run(entry.rows, [tensors[i].contiguous() for i, _ in entry.replay.inputs])
        else:
            got = entry.kernel(*self._inputs(entry, tensors))
            got = got if isinstance(got, tuple) else (got,)
        outs = []
        for (kind, v), (shape, dtype), layout in zip(entry.replay.outputs, entry.out_meta, self.layouts):
            if kind == "kernel":
                outs.append(got[v].view(shape) if layout is None else _in_layout(got[v].view(shape), layout))
            elif kind == "input":
                outs.append(tensors[v].reshape(shape))
            else:
                outs.append(torch.full(shape, v, dtype=dtype))
        return tuple(outs) if self.tuple_out else outs[0]

    def kernels_running(self) -> int:
        """How many (region or piece, shape) pairs run a GIR kernel."""
        own = sum(1 for e in self.by_shape.values() if e.kernel is not None)
        return own + (sum(p.kernels_running() for p in self.pieces[1]) if self.pieces else 0)

    def status(self) -> list[str]:
        """One line per shape class: where it ran, and why if it fell back."""
        lines = []
        for sig, e in self.by_shape.items():
            shapes = ", ".join("x".join(map(str, s[0])) or "scalar" for s in sig if isinstance(s, tuple))
            if e.kernel is not None:
                rows = " for any row count" if isinstance(e.kernel, RowClass) else ""
                lines.append(f"GIR ({e.form} kernel{rows}, {e.replay.num_ops} ops) at [{shapes}]")
            else:
                lines.append(f"PyTorch fallback at [{shapes}]: {e.reason}")
        if self.pieces:
            lines.append("cut at its views/reshapes/transposes (run by PyTorch) into:")
            for piece in self.pieces[1]:
                lines.append(f"  {piece.name}: {' -> '.join(piece.ops)}")
                lines += [f"    {line}" for line in piece.status() or ["not run yet"]]
        return lines


def _layout(node) -> tuple | None:
    """The order of a region result's axes in memory (outermost first) where the graph was traced
    with it not row-major, else None. PyTorch's elementwise ops keep their input's layout (rotary
    embeddings on transposed q/k), and later views in the graph may rely on it."""
    val = node.meta.get("val") if isinstance(node, torch.fx.Node) else None
    try:
        if not isinstance(val, torch.Tensor) or val.is_contiguous():
            return None
        strides = [int(s) for s in val.stride()]
    except Exception:  # noqa: BLE001 - symbolic strides: row-major, as the kernel writes
        return None
    order = tuple(sorted(range(len(strides)), key=lambda d: (-strides[d], d)))
    return None if order == tuple(range(len(strides))) else order


def _in_layout(t: torch.Tensor, order: tuple) -> torch.Tensor:
    """`t`'s values in a tensor whose axes lie in memory in `order` (one copy)."""
    base = torch.empty([t.shape[d] for d in order], dtype=t.dtype)
    return base.permute(sorted(range(len(order)), key=lambda i: order[i])).copy_(t)


def _row_class(replay, tensors) -> RowClass | None:
    """The row class of a freshly raised region, or None (compiled at exact shapes instead)."""
    from girflow.frontends.array_api import TraceError

    if not replay.inputs:
        return None
    dtype = str(tensors[replay.inputs[0][0]].dtype).replace("torch.", "")
    try:
        return RowClass.make(replay.fn, [shape for _, shape in replay.inputs], dtype)
    except (TraceError, ValueError):
        return None


def _check_agrees(got, want) -> None:
    """The first call's results against the region's own PyTorch code: a kernel that disagrees
    (beyond rounding, relative to the result's largest magnitude) is never used; the region falls
    back, with the error as its reason."""
    for i, (g, w) in enumerate(zip(got, want)):
        if not w.numel():
            continue
        tol = 2e-2 if w.dtype in (torch.bfloat16, torch.float16) else 1e-3
        g, w = g.float(), w.float()
        diff = (g - w).abs_()
        err = diff.max().item()
        if err != err:                       # NaN somewhere: fine only where PyTorch has NaN too
            nan = w.isnan()
            if not torch.equal(g.isnan(), nan):
                err = float("nan")
            else:
                err = diff.masked_fill_(nan, 0).max().item()
                w = w.masked_fill(nan, 0)
        scale = w.abs().max().item()
        if not err <= tol * max(scale, 1e-6):
            raise ValueError(f"the GIR kernel disagrees with PyTorch on result {i} (max error {err:.3g}); "
                             "kept in PyTorch")


def _tuples(x):
    return tuple(_tuples(v) for v in x) if isinstance(x, list) else x


def _traced_path(key: str):
    return cache_dir("torch-regions") / f"{key}.traced.json"


def _load_traced(key: str):
    """(TracedProgram, Replay without its function, output shapes and dtypes) a process stored for
    this region, or None."""
    try:
        d = json.loads(_traced_path(key).read_text())
        traced = TracedProgram(**{k: _tuples(v) for k, v in d["traced"].items()})
        replay = Replay(None, [(i, tuple(s)) for i, s in d["inputs"]], [tuple(o) for o in d["outputs"]],
                        d["num_ops"])
        out_meta = tuple((tuple(shape), getattr(torch, dtype)) for shape, dtype in d["out_meta"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return traced, replay, out_meta


def _store_traced(key: str, traced, replay, out_meta) -> None:
    data = {"traced": dataclasses.asdict(traced), "inputs": replay.inputs, "outputs": replay.outputs,
            "num_ops": replay.num_ops,
            "out_meta": [(list(shape), str(dtype).replace("torch.", "")) for shape, dtype in out_meta]}
    path = _traced_path(key)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)
