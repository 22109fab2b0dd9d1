"""A GIR region inside a partitioned graph: compiles per shape class on first use, runs the kernel,
and falls back to the region's own PyTorch code (recording why) when GIR cannot take it.

A shape class is the tuple of argument shapes and dtypes: a new batch or sequence length compiles
once and every later call with it reuses the kernel. Regions with the same graph at the same shapes
(the same layer repeated through a model) share one compiled entry, and kernels with identical GIR
are shared by `girflow.compile`'s kernel cache.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time

import torch

from girflow.frontends.array_api import TracedProgram
from girflow.frontends.array_api import compile as gir_compile
from girflow.frontends.torch.lower import graph_key, region_to_gir, signature_of
from girflow.frontends.torch.replay import Replay, build_replay
from girflow.runtime.cache_dir import cache_dir
from girflow.runtime.compiled import CompiledFunction


@dataclasses.dataclass
class Compiled:
    kernel: object = None       # girflow CompiledFunction, or None for a fallback
    replay: object = None
    out_meta: tuple = ()        # (shape, dtype) of each region output
    reason: str = ""            # why it fell back
    form: str = ""
    compile_s: float = 0.0


_SHARED: dict = {}      # graph_key of (region graph, signature) -> Compiled, for every region


class GirRegion(torch.nn.Module):
    """Stands in for one partition's submodule (`fused_N`) in the partitioned graph."""

    capture = False      # set by the benchmark: keep the last call's arguments to time the region alone

    def __init__(self, gm: torch.fx.GraphModule, name: str, ops: list[str], timings: dict):
        super().__init__()
        self.gm, self.name, self.ops, self.timings = gm, name, ops, timings
        self.by_shape: dict = {}
        self.captured = None
        out = [n for n in gm.graph.nodes if n.op == "output"][0]
        self.tuple_out = isinstance(out.args[0], (tuple, list))

    def forward(self, *args):
        if GirRegion.capture:
            self.captured = args
        sig = tuple((a.shape, a.dtype) if isinstance(a, torch.Tensor) else a for a in args)
        entry = self.by_shape.get(sig)
        if entry is None:
            key = graph_key(self.gm, signature_of(args))
            entry = _SHARED.get(key)
            if entry is None:
                entry = _SHARED[key] = self._compile(args, key)
            self.by_shape[sig] = entry
        if entry.kernel is None:
            return self.gm(*args)
        return self._run(entry, args)

    def _compile(self, args, key: str) -> Compiled:
        t0 = time.perf_counter()
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        try:
            with torch.no_grad():
                expected = self.gm(*args)
            outs = expected if isinstance(expected, (tuple, list)) else (expected,)
            out_meta = tuple((tuple(o.shape), o.dtype) for o in outs)
            known = _load_traced(key)
            if known is not None:          # traced before: no torch-mlir, no raising, no tracing
                traced, replay = known
                kernel = CompiledFunction(None, "cpu", tracer=lambda fn, *arrays: traced)
                self.timings["cache"] = self.timings.get("cache", 0) + 1
            else:
                ctx, module, func = region_to_gir(self.gm, args, self.timings)
                with ctx:
                    replay = build_replay(func)
                kernel = gir_compile(replay.fn)
            if len(replay.outputs) != len(out_meta):
                raise ValueError(f"the lowered region has {len(replay.outputs)} results, PyTorch's {len(out_meta)}")
            entry = Compiled(kernel, replay, out_meta)
            got = self._run(entry, args)            # compiles the kernel (or links its cached object)
            _check_agrees(got if isinstance(got, (tuple, list)) else (got,), outs)
            traced = kernel.specialise(*self._inputs(entry, tensors))[0]
            entry.form = traced.form
            if known is None:
                _store_traced(key, traced, replay)
        except Exception as e:  # noqa: BLE001 - any failure means PyTorch runs the region, with the reason kept
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            return Compiled(reason=reason, compile_s=time.perf_counter() - t0)
        entry.compile_s = time.perf_counter() - t0
        self.timings["compile_s"] = self.timings.get("compile_s", 0.0) + entry.compile_s
        del got
        return entry

    @staticmethod
    def _inputs(entry, tensors):
        return [tensors[i].reshape(shape).contiguous() for i, shape in entry.replay.inputs]

    def _run(self, entry, args):
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        got = entry.kernel(*self._inputs(entry, tensors))
        got = got if isinstance(got, tuple) else (got,)
        outs = []
        for (kind, v), (shape, dtype) in zip(entry.replay.outputs, entry.out_meta):
            if kind == "kernel":
                outs.append(got[v].view(shape))
            elif kind == "input":
                outs.append(tensors[v].reshape(shape))
            else:
                outs.append(torch.full(shape, v, dtype=dtype))
        return tuple(outs) if self.tuple_out else outs[0]

    def status(self) -> list[str]:
        """One line per shape class: where it ran, and why if it fell back."""
        lines = []
        for sig, e in self.by_shape.items():
            shapes = ", ".join("x".join(map(str, s[0])) or "scalar" for s in sig if isinstance(s, tuple))
            if e.kernel is not None:
                lines.append(f"GIR ({e.form} kernel, {e.replay.num_ops} ops) at [{shapes}]")
            else:
                lines.append(f"PyTorch fallback at [{shapes}]: {e.reason}")
        return lines


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
    """(TracedProgram, Replay without its function) a process stored for this region, or None."""
    try:
        d = json.loads(_traced_path(key).read_text())
        traced = TracedProgram(**{k: _tuples(v) for k, v in d["traced"].items()})
        replay = Replay(None, [(i, tuple(s)) for i, s in d["inputs"]], [tuple(o) for o in d["outputs"]],
                        d["num_ops"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return traced, replay


def _store_traced(key: str, traced, replay) -> None:
    data = {"traced": dataclasses.asdict(traced), "inputs": replay.inputs, "outputs": replay.outputs,
            "num_ops": replay.num_ops}
    path = _traced_path(key)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)
