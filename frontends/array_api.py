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
from torch_mlir import ir
from torch_mlir.dialects import func as func_d

from girflow.dialects import gir, make_context
from girflow.dialects.gir import STORAGE_DTYPES as DTYPES
from girflow.passes.ir_utils import element_type, shape_of


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
    shapes = [n.shape for n in order if n.op == "input"]  # constants broadcast anywhere
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
        split = last if axes or len(full) < 2 else _elementwise_split(order, full)
        return "row", full, (math.prod(full[:split]), math.prod(full[split:]))
    if len(axes) == 1 and len(reduces) == 1:
        (axis,) = axes
        return "column", full, (math.prod(full[:axis]), full[axis], math.prod(full[axis + 1:]))
    raise TraceError(f"reductions along axes {sorted(axes)} in one program: "
                     "reduce along one axis, or along the last axis only")


def _fits_split(shape: tuple, full: tuple, split: int) -> bool:
    """Whether `shape` (broadcast into `full`) is full or all ones on each side of axis `split`."""
    shape = (1,) * (len(full) - len(shape)) + tuple(shape)
    return all(all(d == 1 for d in part) or tuple(part) == tuple(whole)
               for part, whole in ((shape[:split], full[:split]), (shape[split:], full[split:])))


def _elementwise_split(order: list[Node], full: tuple) -> int:
    """Where a program without reductions splits its axes into rows and columns: before the last
    axis, or, where an operand broadcasts over leading axes but not the trailing ones (rotary
    embeddings' [1, 1, seq, dim] inside [batch, heads, seq, dim]), before the first trailing axis
    every value is full or all ones on (then that operand is per-column [1, seq*dim])."""
    last = len(full) - 1
    def pads_rank(n):          # the reshape that aligns a lower-rank operand: leading ones only
        return tuple(n.shape[len(n.shape) - len(n.inputs[0].shape):]) == tuple(n.inputs[0].shape) \
            and all(d == 1 for d in n.shape[:len(n.shape) - len(n.inputs[0].shape)])

    if any(n.op in ("transpose", "squeeze") or (n.op == "reshape" and not pads_rank(n)) for n in order):
        return last
    shapes = [n.shape for n in order if n.op != "const"]
    return next((k for k in range(last, 0, -1) if all(_fits_split(s, full, k) for s in shapes)), last)


def _row_split(full: tuple, view: tuple) -> int:
    """The axis a row view [rows, cols] of `full` starts its columns at (the last axis if several fit)."""
    return next((k for k in range(len(full) - 1, 0, -1)
                 if math.prod(full[:k]) == view[0] and math.prod(full[k:]) == view[1]), max(len(full) - 1, 0))


def _view_of(shape: tuple, full: tuple, form: str, view: tuple) -> tuple:
    """Kernel view of a value of logical `shape` inside the full iteration space."""
    shape = (1,) * (len(full) - len(shape)) + tuple(shape)
    if form == "row":
        split = _row_split(full, view)
        lead, tail = shape[:split], shape[split:]
        if all(d == 1 for d in lead):
            r = 1
        elif tuple(lead) == tuple(full[:split]):
            r = view[0]
        else:
            raise TraceError(f"broadcast of shape {shape} inside {full} is not row-wise; "
                             "only full, per-row [..., 1], per-column [1, ..., C] and scalar operands are supported")
        if all(d == 1 for d in tail):
            return (r, 1)
        if tuple(tail) != tuple(full[split:]):
            raise TraceError(f"broadcast of shape {shape} inside {full} is not row-wise; "
                             "only full, per-row [..., 1], per-column [1, ..., C] and scalar operands are supported")
        return (r, view[1])
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


def _element(et: str) -> ir.Type:
    return {"f32": ir.F32Type.get, "f16": ir.F16Type.get, "bf16": ir.BF16Type.get,
            "i1": lambda: ir.IntegerType.get_signless(1)}[et]()


def _ttype(shape, et="f32") -> ir.Type:
    return ir.RankedTensorType.get(list(shape), _element(et)) if shape else _element(et)


def trace_program(fn, *examples, name: str | None = None, marks: tuple[str, ...] = ()) -> TracedProgram:
    """`fn` traced at the examples' shapes and dtype; `marks` are unit attributes set on the
    function (e.g. gir.dynamic_rows: the backend makes its row count a run-time argument)."""
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
    if dtype is None:
        raise TraceError("trace needs at least one example input")
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
    text, in_views, out_views = _emit(name, order, inputs, results, form, full, view, et, marks)
    return TracedProgram(name, text, form, tuple(shapes), tuple(in_views),
                         tuple(r.shape for r in results), tuple(out_views), dtype)


class _Emitter:
    """Builds the tensor-level GIR function of a traced graph with the dialect's op builders."""

    def __init__(self, form, full, view, et):
        self.form, self.full, self.view, self.et = form, full, view, et
        self.value: dict[int, ir.Value] = {}     # id(node) -> its value
        self.vshape: dict[int, tuple] = {}       # id(node) -> kernel shape
        self.aligned: dict[int, tuple | None] = {}  # id(node) -> shape with reduced axes kept; None: constant

    def align(self, n) -> tuple | None:
        """The node's shape in the full iteration space: a squeezed reduction keeps its reduced axis, so a
        value computed from it stays per-row; constants fit any shape (None)."""
        if n.op == "const":
            return None
        if n.op == "squeeze":
            return self.aligned.get(id(n.inputs[0]), n.inputs[0].shape)
        if n.op in ("input", "reduce", "reshape", "broadcast", "transpose"):
            return tuple(n.shape)
        shapes = [s for s in (self.aligned.get(id(i), i.shape) for i in n.inputs) if s is not None]
        return _broadcast_shape(*shapes) if len(shapes) == 2 else (shapes[0] if shapes else None)

    def kview(self, n) -> tuple:
        return self.kview_of(n.shape)

    def kview_of(self, shape) -> tuple:
        return tuple(shape) if self.form == "transpose" else _view_of(shape, self.full, self.form, self.view)

    def splat(self, n, shape) -> ir.Value:
        return gir.splat(n.attrs["value"], _ttype(shape))

    def result(self, n) -> ir.Value:
        """A returned node's value (a returned constant is made at its own shape)."""
        if self.value[id(n)] is None:
            self.vshape[id(n)] = self.kview(n)
            self.value[id(n)] = self.splat(n, self.vshape[id(n)])
        return self.value[id(n)]

    def node(self, n) -> None:
        key, src = id(n), [id(i) for i in n.inputs]
        self.aligned[key] = self.align(n)
        if n.op in ("squeeze", "reshape"):  # views: same kernel shape
            self.value[key], self.vshape[key] = self.value[src[0]], self.vshape[src[0]]
            return
        if n.op == "const" and self.form != "transpose":
            self.value[key] = None  # made at its consumer's kernel shape
            return
        logical = self.aligned[key] if self.aligned[key] is not None else n.shape
        shape = self.kview_of(logical) if logical else (1,) * (len(self.view) if self.view else 2)
        self.vshape[key] = shape
        ins = [self.value[k] if self.value[k] is not None else self.splat(i, shape)
               for k, i in zip(src, n.inputs)]
        if n.op == "broadcast" and self.vshape[src[0]] == shape:
            self.value[key] = ins[0]
            return
        self.value[key] = self.op(n, ins, shape)

    def op(self, n, ins, shape) -> ir.Value:
        i1 = n.op == "cmp" or (n.op == "broadcast" and str(element_type(ins[0])) == "i1")
        out_t = _ttype(shape, "i1" if i1 else "f32")
        if n.op == "const":
            return gir.splat(n.attrs["value"], out_t)
        if n.op == "reduce":
            axis = 1 if self.form in ("row", "column") else n.attrs["axis"]
            return gir.reduce(n.attrs["kind"], ins[0], axis, out_t)
        if n.op == "broadcast":
            return gir.broadcast(ins[0], out_t)
        if n.op == "transpose":
            return gir.transpose(ins[0], [1, 0], out_t)
        if n.op == "cmp":
            return gir.cmp(n.attrs["predicate"], *ins)
        if n.op in gir.BINARY or n.op in gir.UNARY or n.op in ("select", "fma"):
            return ir.Operation.create(f"gir.{n.op}", results=[out_t], operands=ins).results[0]
        raise TraceError(f"no GIR op for '{n.op}'")

    def edge(self, v: ir.Value, to: str) -> ir.Value:
        """Storage <-> compute type at the function's edges (a gir.cast unless both are f32)."""
        return v if self.et == "f32" else gir.cast(v, _ttype(shape_of(v), to))


def _emit(name, order, inputs, results, form, full, view, et, marks=()):
    """Tensor-level GIR: f32 compute; inputs/outputs in storage type `et` with gir.cast at the edges."""
    e = _Emitter(form, full, view, et)
    in_views = [e.kview(i.node) for i in inputs]
    with make_context(), ir.Location.unknown():
        module = ir.Module.create()
        with ir.InsertionPoint(module.body):
            ftype = ir.FunctionType.get([_ttype(v, et) for v in in_views], [])
            fn = func_d.FuncOp(name, ftype)
            fn.attributes["gir.form"] = ir.StringAttr.get(form)
            for mark in marks:
                fn.attributes[mark] = ir.UnitAttr.get()
            block = fn.add_entry_block()
        with ir.InsertionPoint(block):
            for n in order:
                if n.op == "input":
                    i = n.attrs["index"]
                    e.value[id(n)], e.vshape[id(n)] = e.edge(block.arguments[i], "f32"), in_views[i]
                else:
                    e.node(n)
            rets = [e.edge(e.result(r.node), et) for r in results]
            func_d.ReturnOp(rets)
        fn.attributes["function_type"] = ir.TypeAttr.get(
            ir.FunctionType.get(ftype.inputs, [v.type for v in rets]))
        return str(fn) + "\n", in_views, [e.vshape[id(r.node)] for r in results]


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
