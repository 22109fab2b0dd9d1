"""gir-bf16-as-i16: bfloat16 values that only move are retyped as 16-bit integers.

GIR computes in f32 and stores bf16. After `arith-expand{include-bf16=true}` turns the f32<->bf16
conversions into integer arithmetic, the bf16 values left in a CPU kernel are only loaded, stored,
shuffled, transposed or selected. LLVM's x86 backend (without AVX512-BF16) legalises such scalar
bf16 values through f32 and rounds back with libgcc's `__truncsfbf2`, which exists only from GCC 13
on: a JIT kernel would then fail to link on Debian 12. As i16 they are plain bit moves that need no
helper at all. Float arithmetic or comparisons on bf16 must not reach this point; they are reported.
"""
from __future__ import annotations

import struct

from torch_mlir import ir

from girflow.passes.ir_utils import collect_ops, element_type
from girflow.passes.registry import PassError, gir_pass

_MOVES_ONLY = ("arith.constant", "arith.bitcast", "arith.select", "func.", "memref.", "vector.", "scf.",
               "cf.", "llvm.")


def _is_bf16(t: ir.Type) -> bool:
    return isinstance(t, ir.BF16Type)


def as_i16(t: ir.Type) -> ir.Type:
    """`t` with every bf16 (scalar, vector element or memref element) replaced by i16."""
    i16 = ir.IntegerType.get_signless(16)
    if _is_bf16(t):
        return i16
    if isinstance(t, ir.VectorType) and _is_bf16(t.element_type):
        return ir.VectorType.get(t.shape, i16, scalable=t.scalable_dims)
    if isinstance(t, ir.MemRefType) and _is_bf16(t.element_type):
        return ir.MemRefType.get(t.shape, i16, t.layout, t.memory_space)
    if isinstance(t, ir.FunctionType):
        return ir.FunctionType.get([as_i16(x) for x in t.inputs], [as_i16(x) for x in t.results])
    return t


def _bf16_bits(value: float) -> int:
    """Round-to-nearest-even bf16 bits of a float (the constants the kernels use)."""
    (bits,) = struct.unpack("<I", struct.pack("<f", value))
    if value != value:
        return 0x7FC0
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) & 0xFFFF


def _constant_as_i16(op: ir.Operation) -> None:
    attr = op.attributes["value"]
    i16 = ir.IntegerType.get_signless(16)
    if isinstance(attr, ir.FloatAttr):
        op.attributes["value"] = ir.IntegerAttr.get(i16, _bf16_bits(attr.value))
    elif isinstance(attr, ir.DenseElementsAttr) and attr.is_splat:
        bits = _bf16_bits(ir.FloatAttr(attr.get_splat_value()).value)
        op.attributes["value"] = ir.DenseElementsAttr.get_splat(as_i16(op.results[0].type),
                                                              ir.IntegerAttr.get(i16, bits))
    else:
        raise PassError("only scalar and splat bf16 constants can be stored as i16", op)


def _touches_bf16(op: ir.Operation) -> bool:
    return any(as_i16(v.type) != v.type for v in [*op.results, *op.operands])


@gir_pass("gir-bf16-as-i16", "retype bf16 values that are only moved (loads, stores, shuffles) as i16, "
          "after arith-expand has expanded bf16 conversions, so kernels need no libgcc helper")
def bf16_as_i16(module: ir.Operation, options: dict) -> None:
    ops = collect_ops(module)
    for op in ops:
        if _touches_bf16(op) and not op.name.startswith(_MOVES_ONLY):
            raise PassError(f"'{op.name}' computes on bf16; GIR kernels compute in f32 and only store bf16", op)
    for op in ops:
        if op.name == "arith.constant" and _is_bf16(element_type(op.results[0])):
            _constant_as_i16(op)
        for region in op.regions:
            for block in region.blocks:
                for arg in block.arguments:
                    arg.set_type(as_i16(arg.type))
        for result in op.results:
            result.set_type(as_i16(result.type))
        if op.name == "func.func":
            ftype = ir.TypeAttr(op.attributes["function_type"]).value
            op.attributes["function_type"] = ir.TypeAttr.get(as_i16(ftype))
    for op in ops:   # bitcasts between bf16 and i16 became i16 -> i16: drop them
        if op.name == "arith.bitcast" and op.operands[0].type == op.results[0].type:
            op.results[0].replace_all_uses_with(op.operands[0])
            op.erase()
