// RUN: not gir-opt %s --gir-bf16-as-i16 2>&1 | FileCheck %s
// Float arithmetic on bf16 must have been expanded (GIR computes in f32): it is reported, not miscompiled.

// CHECK: error: 'arith.addf' computes on bf16; GIR kernels compute in f32 and only store bf16
// CHECK-NOT: Traceback
func.func @computes(%a: bf16) -> bf16 {
  %0 = arith.addf %a, %a : bf16
  return %0 : bf16
}
