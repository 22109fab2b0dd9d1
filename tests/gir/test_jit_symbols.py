"""JIT kernels link against libc/libm only, and a kernel that cannot link is an error, not a crash.

Compiler-runtime helpers (libgcc / compiler-rt, e.g. `__truncsfbf2`, only in GCC 13's libgcc) differ
between hosts; a kernel that needs one would work on one Debian release and crash on another.
"""
import pytest
import torch

import girflow
from girflow.frontends import ops
from girflow.passes.registry import PIPELINES, gir_pass
from girflow.runtime import compiled
from girflow.runtime.jit_link import JitLinkError

# What a kernel may take from the process: C library and libm entry points present on every glibc host.
LIBC_AND_LIBM = {
    "memcpy", "memmove", "memset", "malloc", "free", "aligned_alloc", "posix_memalign", "abort",
    "expf", "exp2f", "logf", "log2f", "log1pf", "expm1f", "sqrtf", "powf", "tanhf", "erff", "sinf",
    "cosf", "fmaf", "floorf", "ceilf", "roundf", "truncf", "rintf", "nearbyintf", "fabsf", "fmodf",
    "fminf", "fmaxf", "exp", "log", "sqrt", "pow", "tanh", "erf", "fma", "floor", "ceil",
}

DTYPES = [torch.float32, torch.float16, torch.bfloat16]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", sorted(ops.OPERATORS))
def test_every_operator_kernel_imports_only_libc_and_libm(name, dtype):
    fn, _ = ops.OPERATORS[name]
    for rows, cols in [(6, 300), (3, 17)]:        # vector body and scalar tails
        args = ops.example_args(name, rows, cols, dtype=dtype)
        kernel = girflow.compile(fn).specialise(*args)[1]
        extra = kernel.undefined_symbols() - LIBC_AND_LIBM
        assert not extra, f"{name} {dtype} {rows}x{cols} imports {sorted(extra)}"


def test_every_cached_cpu_kernel_imports_only_libc_and_libm():
    kernels = [k for k in compiled._KERNELS.values() if hasattr(k, "undefined_symbols")]
    assert kernels
    for k in kernels:
        assert k.undefined_symbols() <= LIBC_AND_LIBM, k.name


@gir_pass("test-call-missing-symbol", "test only: make each task call a function no library defines")
def _call_missing_symbol(module, options):
    from torch_mlir import ir
    from torch_mlir.dialects import func

    body = module.regions[0].blocks[0]
    with ir.InsertionPoint.at_block_begin(body), ir.Location.unknown():
        func.FuncOp("girflow_no_such_symbol", ir.FunctionType.get([], []), visibility="private")
    for op in body.operations:
        if op.operation.name == "func.func" and "gir.task_of" in op.attributes:
            entry = op.regions[0].blocks[0]
            with ir.InsertionPoint.at_block_begin(entry), ir.Location.unknown():
                func.CallOp([], ir.FlatSymbolRefAttr.get("girflow_no_such_symbol"), [])


def test_unresolved_symbol_is_an_error_naming_it_and_is_never_cached(monkeypatch):
    monkeypatch.setitem(PIPELINES, "gir-cpu-to-llvm", "test-call-missing-symbol," + PIPELINES["gir-cpu-to-llvm"])
    x = torch.randn(5, 40)
    f = girflow.compile(lambda t: (t * 3.0).exp())
    before = dict(compiled._KERNELS)
    with pytest.raises(JitLinkError, match="girflow_no_such_symbol") as err:
        f(x)
    assert err.value.symbols == ["girflow_no_such_symbol"] and err.value.kernel
    assert compiled._KERNELS == before and not f._by_signature
    monkeypatch.undo()                                # the same program compiles and runs once it links
    torch.testing.assert_close(f(x), (x * 3.0).exp())
