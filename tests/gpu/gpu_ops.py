"""Operator table shared by the GPU and MLU tests: (name, fn, shapes, input domain).

Imports nothing of the compiler (the array API is imported when a traced program needs it), so the
device tests that run prebuilt kernels use it on a machine without MLIR."""
import numpy as np


def _api():
    from girflow.frontends import array_api

    return array_api


class R:
    """A torch tensor behind girflow's array API: evaluates an operator for the PyTorch reference."""

    def __init__(self, t):
        self.t = t

    def _w(self, o):
        return o.t if isinstance(o, R) else o

    shape = property(lambda self: tuple(self.t.shape))
    T = property(lambda self: R(self.t.T))
    def exp(self): return R(self.t.exp())
    def log(self): return R(self.t.log())
    def tanh(self): return R(self.t.tanh())
    def erf(self): return R(self.t.erf())
    def rsqrt(self): return R(self.t.rsqrt())
    def sqrt(self): return R(self.t.sqrt())
    def abs(self): return R(self.t.abs())
    def sigmoid(self): return R(self.t.sigmoid())
    def reciprocal(self): return R(self.t.reciprocal())
    def __abs__(self): return R(self.t.abs())
    def __neg__(self): return R(-self.t)
    def __add__(self, o): return R(self.t + self._w(o))
    def __radd__(self, o): return R(self._w(o) + self.t)
    def __sub__(self, o): return R(self.t - self._w(o))
    def __rsub__(self, o): return R(self._w(o) - self.t)
    def __mul__(self, o): return R(self.t * self._w(o))
    def __rmul__(self, o): return R(self._w(o) * self.t)
    def __truediv__(self, o): return R(self.t / self._w(o))
    def __rtruediv__(self, o): return R(self._w(o) / self.t)
    def __gt__(self, o): return R(self.t > self._w(o))
    def __lt__(self, o): return R(self.t < self._w(o))
    def sum(self, axis, keepdims=False): return R(self.t.sum(dim=axis, keepdim=keepdims))
    def mean(self, axis, keepdims=False): return R(self.t.mean(dim=axis, keepdim=keepdims))
    def max(self, axis, keepdims=False): return R(self.t.amax(dim=axis, keepdim=keepdims))
    def min(self, axis, keepdims=False): return R(self.t.amin(dim=axis, keepdim=keepdims))


def maximum(a, b):
    import torch
    return R(torch.maximum(a.t, b.t)) if isinstance(a, R) else _api().maximum(a, b)


def minimum(a, b):
    import torch
    return R(torch.minimum(a.t, b.t)) if isinstance(a, R) else _api().minimum(a, b)


def where(c, a, b):
    import torch
    return R(torch.where(c.t, a.t, b.t)) if isinstance(c, R) else _api().where(c, a, b)


def reference(fn, xs):
    """PyTorch result(s) of `fn` on NumPy inputs, as NumPy arrays."""
    import torch
    out = fn(*[R(torch.from_numpy(x)) for x in xs])
    outs = out if isinstance(out, (tuple, list)) else [out]
    return [o.t.numpy() for o in outs]


def torch_reference(fn, ts):
    """PyTorch result(s) of `fn` on torch tensors (any device), as a list of tensors."""
    out = fn(*[R(t) for t in ts])
    return [o.t for o in (out if isinstance(out, (tuple, list)) else [out])]


def softmax(x):
    e = (x - x.max(axis=-1, keepdims=True)).exp()
    return e / e.sum(axis=-1, keepdims=True)


def layernorm(x, w, b):
    m = x.mean(axis=-1, keepdims=True)
    d = x - m
    v = (d * d).mean(axis=-1, keepdims=True)
    return d * (v + 1e-5).rsqrt() * w + b


def rmsnorm(x, w):
    return x * ((x * x).mean(axis=-1, keepdims=True) + 1e-6).rsqrt() * w


def gelu(x):
    return 0.5 * x * (1.0 + (x * 0.7071067811865476).erf())


OPS = [
    ("exp", lambda x: x.exp(), [(8, 64)], "normal"),
    ("log", lambda x: x.log(), [(8, 64)], "positive"),
    ("tanh", lambda x: x.tanh(), [(8, 64)], "normal"),
    ("erf", lambda x: x.erf(), [(8, 64)], "normal"),
    ("rsqrt", lambda x: x.rsqrt(), [(8, 64)], "positive"),
    ("sqrt", lambda x: x.sqrt(), [(8, 64)], "positive"),
    ("neg", lambda x: -x, [(8, 64)], "normal"),
    ("abs", lambda x: abs(x), [(8, 64)], "normal"),
    ("recip", lambda x: x.reciprocal(), [(8, 64)], "positive"),
    ("sigmoid", lambda x: x.sigmoid(), [(8, 64)], "normal"),
    ("add", lambda x, y: x + y, [(8, 64), (8, 64)], "normal"),
    ("sub", lambda x, y: x - y, [(8, 64), (8, 64)], "normal"),
    ("mul", lambda x, y: x * y, [(8, 64), (8, 64)], "normal"),
    ("div", lambda x, y: x / y, [(8, 64), (8, 64)], "positive"),
    ("maximum", lambda x, y: maximum(x, y), [(8, 64), (8, 64)], "normal"),
    ("minimum", lambda x, y: minimum(x, y), [(8, 64), (8, 64)], "normal"),
    # ("where", ...): the tracer currently types gir.select's condition as f32 (frontend bug); see lit tests
    # ("where", lambda x, y: where(x > y, x, y * 2.0), [(8, 64), (8, 64)], "normal"),
    ("row_bias", lambda x, b: x + b, [(8, 64), (64,)], "normal"),
    ("sum", lambda x: x.sum(axis=-1, keepdims=True), [(8, 64)], "normal"),
    ("max", lambda x: x.max(axis=-1, keepdims=True), [(8, 64)], "normal"),
    ("min", lambda x: x.min(axis=-1, keepdims=True), [(8, 64)], "normal"),
    ("mean", lambda x: x.mean(axis=-1, keepdims=True), [(8, 64)], "normal"),
    ("softmax", softmax, [(16, 128)], "normal"),
    ("softmax_long", softmax, [(4, 4096)], "normal"),
    ("softmax_odd", softmax, [(7, 33)], "normal"),
    ("layernorm", layernorm, [(8, 256), (256,), (256,)], "normal"),
    ("rmsnorm", rmsnorm, [(5, 3000), (3000,)], "normal"),
    ("gelu", gelu, [(3, 5, 24)], "normal"),
    ("colsum", lambda x: x.sum(axis=0, keepdims=True), [(33, 20)], "normal"),
    ("colsoftmax", lambda x: (x - x.max(axis=1, keepdims=True)).exp(), [(4, 9, 7)], "normal"),
    ("transpose", lambda x: x.T, [(37, 70)], "normal"),
]


def make_inputs(shapes, domain, seed=0):
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    if domain == "positive":
        xs = [np.abs(x) + 0.1 for x in xs]
    return xs


