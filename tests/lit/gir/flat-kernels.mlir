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

// RUN: gir-opt %S/Inputs/swiglu_5x3.mlir --pass-pipeline='builtin.module(gir-schedule{target=cpu tasks=2 unroll=1 vector_width=4},gir-lower-cpu)' | FileCheck %s --check-prefix=ELEM
// An elementwise program (no reduction, no per-row or per-column operand) runs over the flattened
// buffers: task t takes elements 8t..8t+7 (whole 4-lane steps), the last task the 7 left, so rows
// of 3 cost no per-row tail loops.
// ELEM-LABEL: func.func @swiglu(%arg0: memref<5x3xf32>, %arg1: memref<5x3xf32>, %arg2: memref<5x3xf32>)
// ELEM: scf.forall (%[[T:.*]]) in (2)
// ELEM: %[[X:.*]] = memref.collapse_shape %arg0 {{\[\[}}0, 1]] : memref<5x3xf32> into memref<15xf32>
// ELEM: %[[OUT:.*]] = memref.collapse_shape %arg2 {{\[\[}}0, 1]] : memref<5x3xf32> into memref<15xf32>
// ELEM: %[[BASE:.*]] = arith.muli %[[T]], %c8 : index
// ELEM: %[[LAST:.*]] = arith.cmpi eq, %[[T]], %c1 : index
// ELEM: scf.if %[[LAST]]
// ELEM: vector.load %[[X]][%{{.*}}] : memref<15xf32>, vector<4xf32>
// ELEM: vector.store %{{.*}}, %[[OUT]][%{{.*}}] : memref<15xf32>, vector<4xf32>
// ELEM: } else {
