"""NumPy-style array API that traces a Python function into tensor-level GIR.

    def softmax(x):
        e = (x - x.max(axis=-1, keepdims=True)).exp()
        return e / e.sum(axis=-1, keepdims=True)

    print(girflow.trace(softmax, (8192, 4096)))        # the GIR program
    f = girflow.compile(softmax, target="cpu")         # callable on NumPy arrays / torch CPU tensors

Tracing normalises programs to the canonical forms the backends schedule: a *row* program on a
[rows, cols] view (reductions along the last axis), a *column* program on an [outer, reduced, inner]
view (one reduction along another axis), or a 2-D *transpose*. Inputs are reshaped (views, no copies).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from girflow.dialects.gir import STORAGE_DTYPES as DTYPES
from girflow.passes.ir_utils import mlir_float


class TraceError(ValueError):
    """The traced function cannot be expressed in GIR (unsupported op, shape or broadcast)."""


@dataclasses.dataclass(eq=False)
class Node:
    op: str                      # "input", "const", a GIR op name, "reduce", "broadcast", ...
    inputs: tuple
    shape: tuple
    attrs: dict = dataclasses.field(default_factory=dict)


class Array:
    """A traced value; arithmetic builds the dataflow graph instead of computing."""

    __array_priority__ = 1000

    def __init__(self, node: Node):
        self.node = node

    shape = property(lambda self: self.node.shape)
    ndim = property(lambda self: len(self.node.shape))

    # -- elementwise math -------------------------------------------------------------------
    def _unary(self, name):
        return Array(Node(name, (self.node,), self.shape))

    def exp(self): return self._unary("exp")
    def log(self): return self._unary("log")
    def tanh(self): return self._unary("tanh")
    def erf(self): return self._unary("erf")
    def rsqrt(self): return self._unary("rsqrt")
    def sqrt(self): return self._unary("sqrt")
    def abs(self): return self._unary("abs")
    def sigmoid(self): return self._unary("sigmoid")
    def reciprocal(self): return self._unary("recip")
    def __neg__(self): return self._unary("neg")
    def __abs__(self): return self._unary("abs")

    def __add__(self, o): return _binary("add", self, o)
    def __radd__(self, o): return _binary("add", o, self)
    def __sub__(self, o): return _binary("sub", self, o)
    def __rsub__(self, o): return _binary("sub", o, self)
    def __mul__(self, o): return _binary("mul", self, o)
    def __rmul__(self, o): return _binary("mul", o, self)
    def __truediv__(self, o): return _binary("div", self, o)
    def __rtruediv__(self, o): return _binary("div", o, self)

    def __pow__(self, p):
        if p == 2:
            return self * self
        if p == 0.5:
            return self.sqrt()
        if p == -0.5:
            return self.rsqrt()
        if p == -1:
            return self.reciprocal()
        raise TraceError(f"x ** {p!r}: only powers 2, 0.5, -0.5 and -1 are supported")

    def __lt__(self, o): return _cmp("lt", self, o)
    def __le__(self, o): return _cmp("le", self, o)
    def __gt__(self, o): return _cmp("gt", self, o)
    def __ge__(self, o): return _cmp("ge", self, o)

    # -- reductions -------------------------------------------------------------------------
    def _reduce(self, kind, axis, keepdims):
        if axis is None:
            raise TraceError(f"{kind}() needs an explicit axis")
        if not -self.ndim <= axis < self.ndim:
            raise TraceError(f"axis {axis} is out of range for a {self.ndim}-d array")
        axis %= self.ndim
        kept = self.shape[:axis] + (1,) + self.shape[axis + 1:]
        out = Array(Node("reduce", (self.node,), kept, {"kind": kind, "axis": axis}))
        if not keepdims:
            out = Array(Node("squeeze", (out.node,), self.shape[:axis] + self.shape[axis + 1:], {"axis": axis}))
        return out

    def sum(self, axis=None, keepdims=False): return self._reduce("sum", axis, keepdims)
    def mean(self, axis=None, keepdims=False): return self._reduce("mean", axis, keepdims)
    def max(self, axis=None, keepdims=False): return self._reduce("max", axis, keepdims)
    def min(self, axis=None, keepdims=False): return self._reduce("min", axis, keepdims)

    def transpose(self, *axes):
        if self.ndim != 2 or axes not in ((), (1, 0), ((1, 0),)):
            raise TraceError("transpose: only 2-D transposes are supported")
        return Array(Node("transpose", (self.node,), self.shape[::-1], {"permutation": (1, 0)}))

    T = property(lambda self: self.transpose())


def maximum(a, b): return _binary("max", a, b)
def minimum(a, b): return _binary("min", a, b)
def where(cond, a, b):
    a, b = _as_array(a), _as_array(b)
    shape = _broadcast_shape(cond.shape, _broadcast_shape(a.shape, b.shape))
    return Array(Node("select", (_expand(cond, shape).node, _expand(a, shape).node, _expand(b, shape).node), shape))


def _as_array(v) -> Array:
    if isinstance(v, Array):
        return v
    if isinstance(v, (int, float, np.floating, np.integer)):
        return Array(Node("const", (), (), {"value": float(v)}))
    raise TraceError(f"cannot use a {type(v).__name__} in a traced GIR program")


def _broadcast_shape(a: tuple, b: tuple) -> tuple:
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            raise TraceError(f"shapes {a} and {b} do not broadcast")
        out.append(max(x, y))
    return tuple(out)


def _expand(x: Array, shape: tuple) -> Array:
    if x.shape == shape:
        return x
    if x.node.op == "const":
        return Array(Node("const", (), shape, x.node.attrs))
    if len(x.shape) < len(shape):  # numpy aligns trailing dims: reshape then broadcast
        x = Array(Node("reshape", (x.node,), (1,) * (len(shape) - len(x.shape)) + x.shape))
    return x if x.shape == shape else Array(Node("broadcast", (x.node,), shape))


def _binary(name, a, b) -> Array:
    a, b = _as_array(a), _as_array(b)
    shape = _broadcast_shape(a.shape, b.shape)
    return Array(Node(name, (_expand(a, shape).node, _expand(b, shape).node), shape))


def _cmp(pred, a, b) -> Array:
    out = _binary("add", a, b)  # computes the broadcast operands
    return Array(Node("cmp", out.node.inputs, out.shape, {"predicate": pred}))


# ----------------------------------------------------------------------------------------------
# Canonical views and GIR emission
# ----------------------------------------------------------------------------------------------
def _nodes_in_order(outputs: list[Node]) -> list[Node]:
    order, seen = [], set()

    def visit(n):
        if id(n) in seen:
            return
        seen.add(id(n))
        for i in n.inputs:
            visit(i)
        order.append(n)

    for o in outputs:
        visit(o)
    return order


@dataclasses.dataclass
class TracedProgram:
    """A traced operator: its GIR module text plus how user arrays map onto the kernel's views."""
    name: str
    mlir: str
    form: str                      # "row" | "column" | "transpose"
    input_shapes: tuple            # user shapes
    input_views: tuple             # kernel shapes (reshape of the user arrays)
    output_shapes: tuple           # user shapes of the results
    output_views: tuple
    dtype: str

    def __str__(self):
        return self.mlir

    __repr__ = __str__


def _full_shape(order: list[Node]) -> tuple:
    shapes = [n.shape for n in order if n.op in ("input", "const")]
    full = ()
    for s in shapes:
        full = _broadcast_shape(full, s)
    return full


def _canonical_view(order: list[Node]):
    """Pick the form and the kernel view of the full iteration space."""
    reduces = [n for n in order if n.op == "reduce"]
    transposes = [n for n in order if n.op == "transpose"]
    full = _full_shape(order)
    if transposes:
        if len(order) != 2 or len(full) != 2:
            raise TraceError("a transpose must be the whole program (fuse it separately)")
        return "transpose", full, None
    axes = {n.attrs["axis"] - (len(n.inputs[0].shape) - len(full)) for n in reduces}
    if len(full) == 0:
        raise TraceError("scalar programs are not supported")
    last = len(full) - 1
    if not axes or axes == {last}:
        rows = math.prod(full[:-1]) if len(full) > 1 else 1
        return "row", full, (rows, full[-1])
    if len(axes) == 1 and len(reduces) == 1:
        (axis,) = axes
        return "column", full, (math.prod(full[:axis]), full[axis], math.prod(full[axis + 1:]))
    raise TraceError(f"reductions along axes {sorted(axes)} in one program: "
                     "reduce along one axis, or along the last axis only")


def _view_of(shape: tuple, full: tuple, form: str, view: tuple) -> tuple:
    """Kernel view of a value of logical `shape` inside the full iteration space."""
    shape = (1,) * (len(full) - len(shape)) + tuple(shape)
    if form == "row":
        lead = shape[:-1]
        if all(d == 1 for d in lead):
            r = 1
        elif tuple(lead) == tuple(full[:-1]):
            r = view[0]
        else:
            raise TraceError(f"broadcast of shape {shape} inside {full} is not row-wise; "
                             "only full, per-row [..., 1], per-column [1, ..., C] and scalar operands are supported")
        return (r, view[1] if shape[-1] != 1 else 1)
    if form == "column":
        a, k, b = view
        axis = next(i for i in range(len(full) + 1) if math.prod(full[:i]) == a and i < len(full) and full[i] == k)
        parts = (shape[:axis], shape[axis], shape[axis + 1:])
        dims = []
        for part, full_part, n in ((parts[0], full[:axis], a), (parts[2], full[axis + 1:], b)):
            if all(d == 1 for d in part):
                dims.append(1)
            elif tuple(part) == tuple(full_part):
                dims.append(n)
            else:
                raise TraceError(f"broadcast of shape {shape} inside {full} is not supported")
        return (dims[0], k if parts[1] != 1 else 1, dims[1])
    return shape


def _ttype(shape, et="f32") -> str:
    return f"tensor<{'x'.join(map(str, shape))}x{et}>" if shape else et


def trace_program(fn, *examples, name: str | None = None) -> TracedProgram:
    shapes, dtype = [], None
    for ex in examples:
        if isinstance(ex, (tuple, list)):
            shapes.append(tuple(int(d) for d in ex))
            dt = "float32"
        else:
            shapes.append(tuple(ex.shape))
            dt = str(ex.dtype).replace("torch.", "")
        if dt not in DTYPES:
            raise TraceError(f"dtype {dt} is not supported; use one of {', '.join(DTYPES)}")
        if dtype not in (None, dt):
            raise TraceError(f"all inputs must share one dtype, got {dtype} and {dt}")
        dtype = dt
    inputs = [Array(Node("input", (), s, {"index": i})) for i, s in enumerate(shapes)]
    result = fn(*inputs)
    results = list(result) if isinstance(result, (tuple, list)) else [result]
    for r in results:
        if not isinstance(r, Array):
            raise TraceError("the traced function must return traced arrays")
    # every input belongs to the iteration space, also one the results do not read
    order = _nodes_in_order([i.node for i in inputs] + [r.node for r in results])
    form, full, view = _canonical_view(order)
    name = name or getattr(fn, "__name__", "kernel").replace("<lambda>", "kernel")
    et = DTYPES[dtype]
    text, in_views, out_views = _emit(name, order, inputs, results, form, full, view, et)
    return TracedProgram(name, text, form, tuple(shapes), tuple(in_views),
                         tuple(r.shape for r in results), tuple(out_views), dtype)


def _emit(name, order, inputs, results, form, full, view, et):
    """Tensor-level GIR: f32 compute; inputs/outputs in storage type `et` with gir.cast at the edges."""
    names, lines, counter = {}, [], [0]
    vshape, etype = {}, {}   # kernel shape and element type ("f32", or "i1" for comparisons)

    def fresh():
        counter[0] += 1
        return f"%{counter[0]}"

    def kview(n):
        if form == "transpose":
            return n.shape
        return _view_of(n.shape, full, form, view)

    in_views = [kview(i.node) for i in inputs]
    args = ", ".join(f"%arg{i}: {_ttype(v, et)}" for i, v in enumerate(in_views))
    for n in order:
        if n.op == "input":
            i = n.attrs["index"]
            names[id(n)] = f"%arg{i}"
            vshape[id(n)] = in_views[i]
            if et != "f32":
                v = fresh()
                lines.append(f'{v} = "gir.cast"(%arg{i}) : ({_ttype(in_views[i], et)}) -> {_ttype(in_views[i])}')
                names[id(n)] = v
            continue
        if n.op in ("squeeze", "reshape"):  # views: same kernel shape
            names[id(n)] = names[id(n.inputs[0])]
            vshape[id(n)] = vshape[id(n.inputs[0])]
            etype[id(n)] = etype.get(id(n.inputs[0]), "f32")
            continue
        shape = kview(n) if n.shape else (1,) * (len(view) if view else 2)
        vshape[id(n)] = shape
        v = fresh()
        names[id(n)] = v
        ins = [names[id(i)] for i in n.inputs]
        in_types = ", ".join(_ttype(vshape[id(i)], etype.get(id(i), "f32")) for i in n.inputs)
        etype[id(n)] = "i1" if n.op == "cmp" or (n.op == "broadcast" and etype.get(id(n.inputs[0])) == "i1") else "f32"
        out_t = _ttype(shape, etype[id(n)])
        if n.op == "const":
            lines.append(f'{v} = "gir.splat"() {{value = {mlir_float(n.attrs["value"])} : f32}} : () -> {out_t}')
        elif n.op == "reduce":
            axis = 1 if form in ("row", "column") else n.attrs["axis"]
            lines.append(f'{v} = "gir.reduce"({ins[0]}) {{axis = {axis} : i64, kind = "{n.attrs["kind"]}"}} : ({in_types}) -> {out_t}')
        elif n.op == "broadcast":
            if vshape[id(n.inputs[0])] == shape:
                names[id(n)] = ins[0]
                counter[0] -= 1
                continue
            lines.append(f'{v} = "gir.broadcast"({ins[0]}) : ({in_types}) -> {out_t}')
        elif n.op == "transpose":
            lines.append(f'{v} = "gir.transpose"({ins[0]}) {{permutation = array<i64: 1, 0>}} : ({in_types}) -> {out_t}')
        elif n.op == "cmp":
            lines.append(f'{v} = "gir.cmp"({", ".join(ins)}) {{predicate = "{n.attrs["predicate"]}"}} : ({in_types}) -> {out_t}')
        else:
            lines.append(f'{v} = "gir.{n.op}"({", ".join(ins)}) : ({in_types}) -> {out_t}')
    rets, ret_types, out_views = [], [], []
    for r in results:
        rv, rs = names[id(r.node)], vshape[id(r.node)]
        if et != "f32":
            v = fresh()
            lines.append(f'{v} = "gir.cast"({rv}) : ({_ttype(rs)}) -> {_ttype(rs, et)}')
            rv = v
        rets.append(rv)
        ret_types.append(_ttype(rs, et))
        out_views.append(rs)
    body = "\n    ".join(lines + [f"return {', '.join(rets)} : {', '.join(ret_types)}"])
    text = (f"func.func @{name}({args}) -> ({', '.join(ret_types)}) "
            f"attributes {{gir.form = \"{form}\"}} {{\n    {body}\n}}\n")
    return text, in_views, out_views


def trace(fn, *examples) -> TracedProgram:
    """Trace `fn` on example shapes (tuples) or arrays; the result prints as GIR."""
    return trace_program(fn, *examples)


def compile(fn, target: str = "cpu", tune: bool = False):
    """A callable running `fn` through GIR on `target`; kernels are cached per shape/dtype.
    `tune=True`: on the first call per shape, time the cost model's best schedules on this machine
    and keep the fastest (remembered in the tuning cache, so later processes skip the timing)."""
    from girflow.runtime.compiled import CompiledFunction

    return CompiledFunction(fn, target, tune=tune)


def _register_with_runtime() -> None:
    from girflow.runtime.compiled import register_tracer

    register_tracer(trace_program)


_register_with_runtime()
