// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --pass-pipeline='builtin.module(gir-schedule{target=cpu tasks=2},gir-lower-cpu,gir-outline-parallel,gir-task-driver)' | FileCheck %s

// Each task function gets a native loop over a range of tasks: the runtime makes one foreign
// call per chunk of tasks (one in all for single-threaded work), never one per task.
// CHECK-LABEL: func.func @softmax_task(%arg0: memref<4x37xf32>, %arg1: memref<4x37xf32>, %arg2: index)
// CHECK-LABEL: func.func @softmax_tasks(%arg0: memref<4x37xf32>, %arg1: memref<4x37xf32>, %arg2: index, %arg3: index)
// CHECK: scf.for %[[T:.*]] = %arg2 to %arg3 step
// CHECK: func.call @softmax_task(%arg0, %arg1, %[[T]])
