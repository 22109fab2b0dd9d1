// RUN: gir-opt %S/Inputs/transpose_1x37.mlir --pass-pipeline='builtin.module(gir-schedule{target=cpu},gir-lower-cpu)' | FileCheck %s

// A transpose with a dimension of 1 moves no element: both buffers are flattened and copied with
// 16-element vectors, then one by one (a register-tile walk would run only its masked edge path).
// CHECK-LABEL: func.func @transpose(%arg0: memref<1x37xf32>, %arg1: memref<37x1xf32>)
// CHECK: %[[SRC:.*]] = memref.collapse_shape %arg0 {{\[\[}}0, 1]] : memref<1x37xf32> into memref<37xf32>
// CHECK: %[[DST:.*]] = memref.collapse_shape %arg1 {{\[\[}}0, 1]] : memref<37x1xf32> into memref<37xf32>
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step %c16
// CHECK: %[[V:.*]] = vector.load %[[SRC]][%[[J]]] : memref<37xf32>, vector<16xf32>
// CHECK: vector.store %[[V]], %[[DST]][%[[J]]] : memref<37xf32>, vector<16xf32>
// CHECK: scf.for %{{.*}} step %c1
// CHECK-NOT: vector.transpose
