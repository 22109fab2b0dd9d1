// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --pass-pipeline='builtin.module(gir-cpu-pipeline)' | FileCheck %s
// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --pass-pipeline='builtin.module(gir-cpu-kernel)' --mlir-print-ir-after-all 2>&1 >/dev/null | FileCheck %s --check-prefix=STAGES

// The whole CPU pipeline ends in the LLVM dialect, ready for the ExecutionEngine.
// CHECK: llvm.func @softmax(%arg0: !llvm.ptr, %arg1: !llvm.ptr)
// CHECK: llvm.func @softmax_task(%arg0: !llvm.ptr, %arg1: !llvm.ptr, %arg2: i64)
// CHECK: llvm.intr.vector.reduce.fmaximum
// CHECK: llvm.func @softmax_tasks(%arg0: !llvm.ptr, %arg1: !llvm.ptr, %arg2: i64, %arg3: i64)
// CHECK-NOT: gir.

// STAGES: IR Dump After gir-verify
// STAGES: IR Dump After gir-dataflow
// STAGES: IR Dump After gir-schedule
// STAGES: IR Dump After gir-lower-cpu
// STAGES: IR Dump After gir-outline-parallel
// STAGES: IR Dump After gir-task-driver
// STAGES: IR Dump After gir-lower-alloc
// STAGES: IR Dump After gir-math-approx
