// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --pass-pipeline='builtin.module(gir-schedule{target=cpu tasks=2},gir-lower-cpu,gir-outline-parallel,gir-lower-alloc)' | FileCheck %s

// The kernel becomes a serial driver over tasks; the runtime calls the task function per core.
// CHECK-LABEL: func.func @softmax(%arg0: memref<4x37xf32>, %arg1: memref<4x37xf32>)
// CHECK: scf.for %[[T:.*]] = %{{.*}} to %{{.*}} step
// CHECK: func.call @softmax_task(%arg0, %arg1, %[[T]])
// CHECK-NOT: scf.forall
// CHECK-LABEL: func.func @softmax_task(%arg0: memref<4x37xf32>, %arg1: memref<4x37xf32>, %arg2: index)
// CHECK-SAME: gir.task_of = "softmax"
// CHECK: memref.alloca() {alignment = 64 : i64} : memref<37xf32>
// CHECK-NOT: gir.alloc
