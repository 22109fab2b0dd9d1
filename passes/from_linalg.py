"""gir-from-linalg: raises linalg-on-tensors (what torch-mlir lowers PyTorch to) into tensor-level GIR.

A `linalg.generic` is raised when every indexing map is a projected permutation (each result a loop
dimension, or the constant 0 on a unit dimension) over static shapes and its body is float arithmetic
or math. Each input is brought onto the generic's iteration domain (unit dims collapsed, a
`gir.transpose` into loop order, unit dims expanded back, a `gir.broadcast` to the domain), every body
op becomes the matching GIR op on those domain tensors, a reduction (an accumulator combined by
addf / maximumf / minimumf and initialised with that combiner's identity) becomes one `gir.reduce`
per reduced loop dimension, and the result is brought to the output's layout the reverse way.
`linalg.fill`, `linalg.transpose`, `linalg.broadcast`, splat constants and reshapes of raised values
are raised too. A division by a constant becomes a multiplication by its reciprocal (a vector
division costs ~10 multiplies; one rounding apart). GIR computes in f32: float casts between f32 and
f64 fold away, bf16/f16 function arguments and results get a `gir.cast` at the edge.

Left alone (the function keeps them, and is then not a pure GIR program): matmul and other named
contractions, generics with non-projected maps (windows, slices), `linalg.index`, integer arithmetic,
reductions with other combiners or initial values, dynamic shapes.
"""
from __future__ import annotations

import math

from torch_mlir import ir
from torch_mlir.dialects import tensor

from girflow.dialects import gir
from girflow.passes.ir_utils import collect_ops, element_type, shape_of
from girflow.passes.registry import gir_pass

BINARY = {"arith.addf": "add", "arith.subf": "sub", "arith.mulf": "mul", "arith.divf": "div",
          "arith.maximumf": "max", "arith.maxnumf": "max", "arith.minimumf": "min", "arith.minnumf": "min"}
UNARY = {"arith.negf": "neg", "math.exp": "exp", "math.log": "log", "math.tanh": "tanh", "math.erf": "erf",
         "math.rsqrt": "rsqrt", "math.sqrt": "sqrt", "math.absf": "abs"}
FLOAT_CASTS = {"arith.extf", "arith.truncf"}
# arith.cmpf predicate numbers (ordered and unordered alike) -> GIR predicates
CMP = {1: "eq", 2: "gt", 3: "ge", 4: "lt", 5: "le", 6: "ne", 8: "eq", 9: "gt", 10: "ge", 11: "lt", 12: "le", 13: "ne"}
COMBINERS = {"arith.addf": "sum", "arith.maximumf": "max", "arith.maxnumf": "max",
             "arith.minimumf": "min", "arith.minnumf": "min"}
LARGEST_F32 = 3.4028234663852886e38


class NotRaisable(Exception):
    """This op stays as it is; the message says why (shown by `girflow.explain`)."""


def _isa(cls, x) -> bool:
    """Whether attribute/type/affine expression `x` is a `cls` (the bindings cast or raise)."""
    try:
        cls(x)
        return True
    except (ValueError, TypeError):
        return False


def _f32():
    return ir.F32Type.get()


def _is_float(t: ir.Type) -> bool:
    return any(_isa(cls, t) for cls in (ir.F32Type, ir.F64Type, ir.F16Type, ir.BF16Type))


def _ttype(shape, et=None) -> ir.Type:
    return ir.RankedTensorType.get(list(shape), et or _f32())


def _groups(rank: int, keep: list[int]) -> list[list[int]]:
    """Reassociation grouping each kept dim with the dropped (unit) dims beside it."""
    groups: list[list[int]] = []
    pending: list[int] = []
    for i in range(rank):
        if i in keep:
            groups.append(pending + [i])
            pending = []
        else:
            pending.append(i)
    if pending and groups:
        groups[-1] += pending
    return groups


def _reassociation(groups) -> ir.ArrayAttr:
    i64 = ir.IntegerType.get_signless(64)
    return ir.ArrayAttr.get([ir.ArrayAttr.get([ir.IntegerAttr.get(i64, d) for d in g]) for g in groups])


def collapse(x: ir.Value, keep: list[int]) -> ir.Value:
    """Drop the unit dims of `x` not listed in `keep`."""
    shape = shape_of(x)
    if len(keep) == len(shape):
        return x
    if any(shape[i] != 1 for i in range(len(shape)) if i not in keep):
        raise NotRaisable(f"cannot drop non-unit dims of {shape}")
    et = element_type(x)
    return tensor.CollapseShapeOp(_ttype([shape[i] for i in keep], et), x,
                                  _reassociation(_groups(len(shape), keep))).result


def expand(x: ir.Value, positions: list[int], rank: int) -> ir.Value:
    """Insert unit dims so the dims of `x` sit at `positions` of a rank-`rank` tensor."""
    shape = shape_of(x)
    if rank == len(shape):
        return x
    out = [1] * rank
    for p, d in zip(positions, shape):
        out[p] = d
    et = element_type(x)
    return tensor.ExpandShapeOp(_ttype(out, et), x, _reassociation(_groups(rank, positions)), [], out).result


def transpose(x: ir.Value, perm: list[int]) -> ir.Value:
    if perm == sorted(perm):
        return x
    shape = shape_of(x)
    return gir.transpose(x, perm, _ttype([shape[p] for p in perm], element_type(x)))


def broadcast(x: ir.Value, shape: list[int]) -> ir.Value:
    if shape_of(x) == list(shape):
        return x
    return gir.broadcast(x, _ttype(shape, element_type(x)))


def _map_dims(amap: ir.AffineMap) -> list[int | None]:
    """Loop dim of each map result, None for a constant 0; NotRaisable for anything else."""
    dims = []
    for expr in amap.results:
        if _isa(ir.AffineDimExpr, expr):
            dims.append(ir.AffineDimExpr(expr).position)
        elif _isa(ir.AffineConstantExpr, expr) and ir.AffineConstantExpr(expr).value == 0:
            dims.append(None)
        else:
            raise NotRaisable(f"indexing map {amap} is not a projected permutation")
    present = [d for d in dims if d is not None]
    if len(set(present)) != len(present):
        raise NotRaisable(f"indexing map {amap} repeats a loop dimension (a diagonal)")
    return dims


def to_domain(x: ir.Value, dims: list[int | None], domain: list[int], full: bool = True) -> ir.Value:
    """`x`, laid out by map results `dims`, as a domain-rank tensor (broadcast to `domain` if `full`)."""
    keep = [i for i, d in enumerate(dims) if d is not None]
    x = collapse(x, keep)
    order = [d for d in dims if d is not None]
    perm = sorted(range(len(order)), key=lambda i: order[i])
    x = transpose(x, perm)
    x = expand(x, sorted(order), len(domain))
    return broadcast(x, domain) if full else x


def from_domain(y: ir.Value, dims: list[int | None]) -> ir.Value:
    """Domain-rank `y` (unit dims where reduced) laid out by map results `dims`."""
    order = [d for d in dims if d is not None]
    y = collapse(y, sorted(order))
    srt = sorted(order)
    y = transpose(y, [srt.index(d) for d in order])
    return expand(y, [i for i, d in enumerate(dims) if d is not None], len(dims))


def _float_value(attr: ir.Attribute) -> float | None:
    if _isa(ir.FloatAttr, attr):
        return ir.FloatAttr(attr).value
    if _isa(ir.DenseElementsAttr, attr) and ir.DenseElementsAttr(attr).is_splat:
        splat = ir.DenseElementsAttr(attr).get_splat_value()
        if _isa(ir.FloatAttr, splat):
            return ir.FloatAttr(splat).value
    return None


def _defining(v: ir.Value):
    return None if isinstance(v.owner, ir.Block) else v.owner


def _body_slice(values) -> set:
    """Body ops the given yielded values depend on."""
    found, stack = set(), list(values)
    while stack:
        owner = _defining(stack.pop())
        if owner is not None and owner not in found and owner.name != "linalg.generic":
            found.add(owner)
            stack.extend(owner.operands)
    return found


class Raiser:
    """Raises the ops of one function; `raised` maps original values to their f32 GIR values."""

    def __init__(self, func):
        self.func = func
        self.entry = func.regions[0].blocks[0]
        self.raised: dict = {}
        self.done: list = []          # original ops raised, in order
        self.left: list = []          # (op name, reason) of each op left alone, in order

    # -- operand lookup ---------------------------------------------------------------------
    def value(self, v: ir.Value) -> ir.Value:
        """The f32 (or i1) GIR value standing for original tensor `v`, raising producers lazily."""
        if v in self.raised:
            return self.raised[v]
        owner = _defining(v)
        et = element_type(v)
        if owner is None or owner.name not in ("arith.constant", "linalg.fill"):
            # an argument, or the result of an op left alone: GIR reads it as it is (f32 / i1),
            # other float types through a cast placed right after their definition
            if _isa(ir.F32Type, et) or (_isa(ir.IntegerType, et) and ir.IntegerType(et).width == 1):
                return v
            if not _is_float(et):
                raise NotRaisable(f"an operand of element type {et}")
            where = ir.InsertionPoint.at_block_begin(self.entry) if owner is None else ir.InsertionPoint.after(owner)
            with where:
                out = gir.cast(v, _ttype(shape_of(v)))
        elif owner.name == "arith.constant":
            val = _float_value(owner.attributes["value"])
            if val is None:
                raise NotRaisable("a non-splat tensor constant")
            with ir.InsertionPoint(owner):
                out = gir.splat(val, _ttype(shape_of(v)))
        elif owner.name == "linalg.fill":
            scalar = _defining(owner.operands[0])
            val = _float_value(scalar.attributes["value"]) if scalar and scalar.name == "arith.constant" else None
            if val is None:
                raise NotRaisable("linalg.fill with a value that is not a float constant")
            with ir.InsertionPoint(owner):
                out = gir.splat(val, _ttype(shape_of(v)))
        self.raised[v] = out
        return out

    # -- per-op raising ---------------------------------------------------------------------
    def run(self) -> None:
        for op in list(self.entry.operations):
            op = op.operation
            handler = {"linalg.generic": self.generic, "linalg.transpose": self.named_transpose,
                       "linalg.broadcast": self.named_broadcast, "tensor.expand_shape": self.reshape,
                       "tensor.collapse_shape": self.reshape}.get(op.name)
            if handler is None:
                if op.name.startswith("linalg.") and op.name != "linalg.fill":
                    self.left.append((op.name, "not an elementwise or reduction op"))
                continue
            try:
                with ir.InsertionPoint(op), op.location:
                    results = handler(op)
            except NotRaisable as e:
                self.left.append((op.name, str(e)))
                continue
            for old, new in zip(op.results, results):
                if new is not None:
                    self.raised[old] = new
            self.done.append(op)
        self._replace()

    def _replace(self) -> None:
        for op in self.done:
            for old in op.results:
                if old not in self.raised:
                    continue
                new = self.raised[old]
                if new.type != old.type:
                    users = [u for u in old.uses]
                    if not users:
                        continue
                    with ir.InsertionPoint(op), op.location:
                        new = gir.cast(new, old.type)
                old.replace_all_uses_with(new)
        for op in reversed(self.done):
            op.erase()
        # producers no GIR op reads any more (inits, casts of unused arguments)
        changed = True
        while changed:
            changed = False
            for op in list(self.entry.operations):
                op = op.operation
                if op.name in ("tensor.empty", "linalg.fill", "arith.constant", "gir.splat", "gir.cast") \
                        and all(len(list(r.uses)) == 0 for r in op.results):
                    op.erase()
                    changed = True

    def reshape(self, op) -> list[ir.Value]:
        src = self.value(op.operands[0])
        out_shape = shape_of(op.results[0])
        reassoc = op.attributes["reassociation"]
        et = element_type(src)
        if op.name == "tensor.expand_shape":
            return [tensor.ExpandShapeOp(_ttype(out_shape, et), src, reassoc, [], out_shape).result]
        return [tensor.CollapseShapeOp(_ttype(out_shape, et), src, reassoc).result]

    def named_transpose(self, op) -> list[ir.Value]:
        perm = list(ir.DenseI64ArrayAttr(op.attributes["permutation"]))
        return [transpose(self.value(op.operands[0]), perm)]

    def named_broadcast(self, op) -> list[ir.Value]:
        added = list(ir.DenseI64ArrayAttr(op.attributes["dimensions"]))
        out = shape_of(op.results[0])
        kept = [i for i in range(len(out)) if i not in added]
        return [broadcast(expand(self.value(op.operands[0]), kept, len(out)), out)]

    def generic(self, op) -> list[ir.Value]:
        g = op.opview
        maps = [ir.AffineMapAttr(a).value for a in g.indexing_maps]
        reduced = [i for i, it in enumerate(g.iterator_types) if "reduction" in str(it)]
        operands = list(g.inputs) + list(g.outputs)
        dims = [_map_dims(m) for m in maps]
        sizes = _iteration_domain(operands, dims, len(g.iterator_types))
        body = _GenericBody(self, g, dims, sizes)
        # results nobody reads (the indices of a max-with-index) are not computed
        used = [i for i, r in enumerate(op.results) if len(list(r.uses)) or not reduced]
        yielded = [body.yields.operands[i] for i in used]
        needed = _body_slice(yielded)
        if reduced:
            body.bind_reduction(yielded, used, needed, reduced)
        else:
            body.bind_outputs(operands)
        body.raise_ops(needed)
        results: list = [None] * len(op.results)
        n_in = len(g.inputs)
        for i, y in zip(used, yielded):
            results[i] = from_domain(body.scalar(y), dims[n_in + i])
        return results

    @staticmethod
    def _pow(x: ir.Value, exponent: ir.Value) -> ir.Value:
        owner = _defining(exponent)
        p = _float_value(owner.attributes["value"]) if owner and owner.name == "arith.constant" else None
        if p is None:
            raise NotRaisable("a power with a non-constant exponent")
        return Raiser._power(x, p)

    @staticmethod
    def _power(x: ir.Value, p: float) -> ir.Value:
        if p == 0.5:
            return gir.unary("sqrt", x)
        if p == -0.5:
            return gir.unary("rsqrt", x)
        if p == int(p) and 1 <= abs(p) <= 4:
            out = x
            for _ in range(int(abs(p)) - 1):
                out = gir.binary("mul", out, x)
            return gir.unary("recip", out) if p < 0 else out
        raise NotRaisable(f"x ** {p}")

    def _check_identity(self, init: ir.Value, kind: str) -> None:
        owner = _defining(init)
        scalar = _defining(owner.operands[0]) if owner is not None and owner.name == "linalg.fill" else owner
        val = _float_value(scalar.attributes["value"]) if scalar is not None and scalar.name == "arith.constant" else None
        ok = {"sum": val == 0.0,
              "max": val is not None and val <= -LARGEST_F32,
              "min": val is not None and val >= LARGEST_F32}[kind]
        if not ok:
            raise NotRaisable(f"a {kind} reduction whose initial value is not its identity")


def _iteration_domain(operands, dims, n_loops: int) -> list[int]:
    """Each loop's trip count, read from an operand that indexes it."""
    domain: list[int | None] = [None] * n_loops
    for v, ds in zip(operands, dims):
        for size, d in zip(shape_of(v), ds):
            if d is not None:
                if size < 0:
                    raise NotRaisable("dynamic shape")
                domain[d] = size
    if any(s is None for s in domain):
        raise NotRaisable("a loop dimension no operand indexes")
    return [int(s or 0) for s in domain]


class _GenericBody:
    """Raises the scalar body of one linalg.generic into GIR ops over its whole iteration domain."""

    def __init__(self, raiser: "Raiser", g, dims, sizes):
        self.raiser, self.dims, self.sizes = raiser, dims, sizes
        self.n_in = len(g.inputs)
        block = g.regions[0].blocks[0]
        self.ops = block.operations
        self.yields = block.operations[len(block.operations) - 1]
        self.args = list(block.arguments)
        self.acc_args = self.args[self.n_in:]
        self.outputs = list(g.outputs)
        self.env = {self.args[i]: to_domain(raiser.value(v), dims[i], sizes) for i, v in enumerate(g.inputs)}
        self.combine: dict = {}
        self.splats: dict = {}

    def bind_outputs(self, operands) -> None:
        """An elementwise body may read its output operands' current values."""
        for i, a in enumerate(self.acc_args):
            if len(list(a.uses)):
                k = self.n_in + i
                self.env[a] = to_domain(self.raiser.value(operands[k]), self.dims[k], self.sizes)

    def bind_reduction(self, yielded, used, needed, reduced) -> None:
        """A reduction body: one used result whose combiner folds the accumulator with one other value."""
        if len(yielded) != 1:
            raise NotRaisable("a reduction with several used results")
        acc = self.acc_args[used[0]]
        self.acc_args = [acc]
        comb = _defining(yielded[0])
        if comb is None or comb.name not in COMBINERS or acc not in list(comb.operands):
            raise NotRaisable("a reduction whose combiner is not addf/maximumf/minimumf of the accumulator")
        if sum(1 for u in acc.uses if u.owner in needed) != 1:
            raise NotRaisable("a reduction that reads its accumulator elsewhere")
        kind = COMBINERS[comb.name]
        self.raiser._check_identity(self.outputs[used[0]], kind)
        self.combine[comb] = (kind, reduced)

    def scalar(self, v) -> ir.Value:
        """The raised value of a body value: a bound argument, an earlier result or a float constant."""
        if v in self.env:
            return self.env[v]
        val = self._constant(v)
        if val is not None:
            return self.scalar_value(val)
        raise NotRaisable(f"body reads a value it cannot raise ({v.type})")

    def _constant(self, v) -> float | None:
        """The value of a float constant defined in the body (not a bound argument), else None."""
        owner = None if v in self.env else _defining(v)
        if owner is not None and owner.name == "arith.constant":
            return _float_value(owner.attributes["value"])
        return None

    def scalar_value(self, val: float) -> ir.Value:
        """A splat of `val` over the body's domain (one per value)."""
        if val not in self.splats:
            self.splats[val] = gir.splat(val, _ttype(self.sizes))
        return self.splats[val]

    def raise_ops(self, needed) -> None:
        for bop in self.ops:
            bop = bop.operation
            if bop.name == "linalg.yield":
                break
            if bop in needed and bop.name != "arith.constant":
                self.env[bop.results[0]] = self.reduce(bop) if bop in self.combine else self.raise_op(bop)

    def reduce(self, bop) -> ir.Value:
        kind, reduced = self.combine[bop]
        val = self.scalar([o for o in bop.operands if o != self.acc_args[0]][0])
        for d in reduced:
            shape = shape_of(val)
            shape[d] = 1
            val = gir.reduce(kind, val, d, _ttype(shape))
        return val

    def raise_op(self, bop) -> ir.Value:
        name, ins = bop.name, list(bop.operands)
        divisor = self._constant(ins[1]) if name == "arith.divf" else None
        if divisor and math.isfinite(1.0 / divisor):
            # x / c as x * (1/c): a vector division costs ~10x a multiply (GELU's x / sqrt(2));
            # within one rounding of the quotient, as every compiler's reciprocal-math does
            return gir.binary("mul", self.scalar(ins[0]), self.scalar_value(1.0 / divisor))
        if name in BINARY:
            return gir.binary(BINARY[name], self.scalar(ins[0]), self.scalar(ins[1]))
        if name in UNARY:
            return gir.unary(UNARY[name], self.scalar(ins[0]))
        if name in FLOAT_CASTS:
            return self.scalar(ins[0])
        if name == "math.fma":
            return gir.fma(*(self.scalar(v) for v in ins))
        if name == "math.fpowi":
            owner = _defining(ins[1])
            if owner is None or owner.name != "arith.constant":
                raise NotRaisable("an integer power with a non-constant exponent")
            return Raiser._power(self.scalar(ins[0]), float(ir.IntegerAttr(owner.attributes["value"]).value))
        if name == "math.powf":
            return Raiser._pow(self.scalar(ins[0]), ins[1])
        if name == "arith.cmpf":
            pred = ir.IntegerAttr(bop.attributes["predicate"]).value
            if pred not in CMP:
                raise NotRaisable(f"comparison predicate {pred}")
            return gir.cmp(CMP[pred], self.scalar(ins[0]), self.scalar(ins[1]))
        if name == "arith.select":
            return gir.select(*(self.scalar(v) for v in ins))
        if name == "arith.uitofp" and ir.IntegerType(ins[0].type).width == 1:
            one, zero = gir.splat(1.0, _ttype(self.sizes)), gir.splat(0.0, _ttype(self.sizes))
            return gir.select(self.scalar(ins[0]), one, zero)
        raise NotRaisable(f"body op {name}")


def raise_function(func) -> list:
    """Raise what can be raised in `func`; returns (op name, reason) for each op left alone."""
    r = Raiser(func)
    r.run()
    return r.left


def is_pure_gir(func) -> bool:
    """Only GIR ops, reshapes, constants and the return remain."""
    allowed = ("gir.", "tensor.expand_shape", "tensor.collapse_shape", "func.return", "arith.constant")
    return all(op.operation.name.startswith(allowed) for op in func.regions[0].blocks[0].operations)


@gir_pass("gir-from-linalg", "raise linalg-on-tensors elementwise and reduction ops (torch-mlir output) into GIR")
def from_linalg(module: ir.Operation, options: dict) -> None:
    for func in collect_ops(module, "func.func"):
        if func.regions[0].blocks:
            raise_function(func)

