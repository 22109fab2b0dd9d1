"""gir-math-approx: polynomial approximations of exp, log, tanh and erf on f32 scalars and vectors.

LLVM lowers these math ops on vectors to one libm call per lane; written as arithmetic they
vectorise with the host's SIMD width. Accuracy (float32, checked against NumPy in the tests):
  exp  Cephes expf: range reduction by ln2 (Cody-Waite), degree-6 polynomial      ~2 ulp
  log  Cephes logf: exponent split, degree-9 polynomial on [sqrt(1/2), sqrt(2))   ~2 ulp
  tanh 1 - 2 / (exp(2|x|) + 1), sign restored; Taylor series below |x| = 0.1    < 1e-7 abs
  erf  rational x*P(x^2)/Q(x^2) on [-4, 4] (Eigen's float erf)               < 5e-7 rel
"""
from __future__ import annotations

import dataclasses
from typing import Literal

from torch_mlir import ir
from torch_mlir.dialects import arith
from torch_mlir.dialects import math as math_d

from girflow.passes.options import option
from girflow.passes.patterns import apply_patterns, replace
from girflow.passes.registry import gir_pass


class _Build:
    """Arithmetic on values of one f32 type (scalar or vector) at the current insertion point."""

    def __init__(self, ftype: ir.Type):
        self.f = ftype
        try:
            vt = ir.VectorType(ftype)
            self.i = ir.VectorType.get(vt.shape, ir.IntegerType.get_signless(32))
            self.vector = True
        except ValueError:
            self.i = ir.IntegerType.get_signless(32)
            self.vector = False

    def c(self, v: float):
        attr = ir.FloatAttr.get(ir.F32Type.get(), v)
        if self.vector:
            attr = ir.DenseElementsAttr.get_splat(self.f, attr)
        return arith.ConstantOp(self.f, attr).result

    def ci(self, v: int):
        attr = ir.IntegerAttr.get(ir.IntegerType.get_signless(32), v)
        if self.vector:
            attr = ir.DenseElementsAttr.get_splat(self.i, attr)
        return arith.ConstantOp(self.i, attr).result

    add = staticmethod(lambda a, b: arith.AddFOp(a, b).result)
    sub = staticmethod(lambda a, b: arith.SubFOp(a, b).result)
    mul = staticmethod(lambda a, b: arith.MulFOp(a, b).result)
    div = staticmethod(lambda a, b: arith.DivFOp(a, b).result)
    max = staticmethod(lambda a, b: arith.MaximumFOp(a, b).result)
    min = staticmethod(lambda a, b: arith.MinimumFOp(a, b).result)

    def fma(self, a, b, c):
        return math_d.FmaOp(a, b, c).result

    def poly(self, x, coeffs):
        """Horner: coeffs from highest degree to constant term."""
        acc = self.c(coeffs[0])
        for k in coeffs[1:]:
            acc = self.fma(acc, x, self.c(k))
        return acc

    def cmp(self, pred, a, b):
        return arith.CmpFOp(getattr(arith.CmpFPredicate, pred), a, b).result

    def select(self, c, a, b):
        return arith.SelectOp(c, a, b).result

    def bitcast_to_int(self, x):
        return arith.BitcastOp(self.i, x).result

    def bitcast_to_float(self, x):
        return arith.BitcastOp(self.f, x).result


def approx_exp(b: _Build, x):
    x = b.min(b.max(x, b.c(-88.3762626647949)), b.c(88.3762626647950))
    fx = math_d.FloorOp(b.fma(x, b.c(1.44269504088896341), b.c(0.5))).result
    r = b.fma(fx, b.c(-0.693359375), x)
    r = b.fma(fx, b.c(2.12194440e-4), r)
    p = b.poly(r, [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                   1.6666665459e-1, 5.0000001201e-1])
    y = b.add(b.fma(p, b.mul(r, r), r), b.c(1.0))
    n = arith.FPToSIOp(b.i, fx).result
    pow2n = b.bitcast_to_float(arith.ShLIOp(arith.AddIOp(n, b.ci(127)).result, b.ci(23)).result)
    return b.mul(y, pow2n)


def approx_log(b: _Build, x):
    bits = b.bitcast_to_int(x)
    e = arith.SubIOp(arith.ShRUIOp(bits, b.ci(23)).result, b.ci(126)).result
    mbits = arith.OrIOp(arith.AndIOp(bits, b.ci(0x007FFFFF)).result, b.ci(0x3F000000)).result
    m = b.bitcast_to_float(mbits)                       # mantissa in [0.5, 1)
    ef = arith.SIToFPOp(b.f, e).result
    small = b.cmp("OLT", m, b.c(0.707106781186547524))
    ef = b.select(small, b.sub(ef, b.c(1.0)), ef)
    m = b.select(small, b.sub(b.add(m, m), b.c(1.0)), b.sub(m, b.c(1.0)))
    z = b.mul(m, m)
    p = b.poly(m, [7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
                   -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1])
    y = b.mul(b.mul(p, m), z)
    y = b.fma(ef, b.c(-2.12194440e-4), y)
    y = b.fma(z, b.c(-0.5), y)
    r = b.fma(ef, b.c(0.693359375), b.add(m, y))
    nan, inf = b.c(float("nan")), b.c(float("inf"))
    r = b.select(b.cmp("OEQ", x, inf), inf, r)
    r = b.select(b.cmp("OEQ", x, b.c(0.0)), b.c(float("-inf")), r)
    return b.select(b.cmp("OLT", x, b.c(0.0)), nan, b.select(b.cmp("UNO", x, x), x, r))


def approx_tanh(b: _Build, x):
    ax = b.min(math_d.AbsFOp(x).result, b.c(9.0))
    e2 = approx_exp(b, b.add(ax, ax))
    t = b.sub(b.c(1.0), b.div(b.c(2.0), b.add(e2, b.c(1.0))))
    # near zero the cancellation above loses relative accuracy: use the Taylor series there
    x2 = b.mul(x, x)
    series = b.mul(x, b.poly(x2, [62.0 / 2835, -17.0 / 315, 2.0 / 15, -1.0 / 3, 1.0]))
    return b.select(b.cmp("OLT", ax, b.c(0.1)), series, math_d.CopySignOp(t, x).result)


def approx_erf(b: _Build, x):
    """x * P(x^2) / Q(x^2) on x clamped to [-4, 4] (erf is +-1 in f32 beyond): one division and
    eleven fused multiply-adds, no exp; relative error 4.5e-7 everywhere (x factors out near 0)."""
    x = b.min(b.max(x, b.c(-4.0)), b.c(4.0))
    x2 = b.mul(x, x)
    p = b.mul(x, b.poly(x2, [-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
                             -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
                             -1.60960333262415e-02]))
    q = b.poly(x2, [-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
                    -7.37332916720468e-03, -1.42647390514189e-02])
    return b.div(p, q)


APPROX = {"math.exp": approx_exp, "math.log": approx_log, "math.tanh": approx_tanh, "math.erf": approx_erf}


def _is_f32(t: ir.Type) -> bool:
    try:
        t = ir.VectorType(t).element_type
    except ValueError:
        pass
    return isinstance(t, ir.F32Type) or str(t) == "f32"


@dataclasses.dataclass
class MathApproxOptions:
    ops: tuple[Literal["exp", "log", "tanh", "erf"], ...] = option(
        ("exp", "log", "tanh", "erf"), "which math ops to replace (a list: ops=exp,log)")


@gir_pass("gir-math-approx", "replace f32 math.exp/log/tanh/erf with vectorisable polynomial approximations",
          MathApproxOptions)
def math_approx(module: ir.Operation, options: MathApproxOptions) -> None:
    def approx(op, rewriter):
        if not _is_f32(op.results[0].type):
            return True   # no match: f64 and others keep the libm call
        replace(rewriter, op, lambda: [APPROX[op.name](_Build(op.results[0].type), op.operands[0])])
        return None

    apply_patterns(module, {f"math.{n}": approx for n in options.ops})
