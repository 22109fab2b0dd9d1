// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --gir-schedule="target=cpu tasks=1 interleave=2 materialize=0 unroll=1 vector_width=8" | FileCheck %s --check-prefix=SCHED
// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --gir-schedule="target=cpu tasks=1 interleave=2 materialize=1 unroll=1 vector_width=8" | FileCheck %s --check-prefix=BUFFER
// RUN: gir-opt %S/Inputs/sum_last_2x1000.mlir --pass-pipeline='builtin.module(gir-schedule{target=cpu tasks=1 interleave=2 unroll=2 vector_width=8},gir-lower-cpu)' | FileCheck %s --check-prefix=ROWS
// RUN: not gir-opt %S/Inputs/sum_last_2x1000.mlir --gir-schedule="target=cpu split=2 interleave=2" 2>&1 | FileCheck %s --check-prefix=NOSPLIT
// RUN: not gir-opt %S/Inputs/sum_first_300x20.mlir --gir-schedule="target=cpu interleave=2" 2>&1 | FileCheck %s --check-prefix=NOCOL

// The schedule states how many rows one sweep carries together.
// SCHED: gir.schedule = {interleave = 2 : i64, materialize = 0 : i64, one_pass = 0 : i64, rows_per_task = 4 : i64

// A materialised row buffer holds one row, so rows with one go one by one: no interleave.
// BUFFER-NOT: interleave

// Rows in groups of two, then the rest one by one. Each step of the group's column loop loads the
// same columns of both rows into their own accumulators (2 unrolled steps x 2 rows = 4 chains),
// and each row is folded and stored on its own.
// ROWS: scf.forall
// ROWS: arith.divui %{{.*}}, %c2 : index
// ROWS-NEXT: arith.muli %{{.*}}, %c2 : index
// ROWS-NEXT: %[[END:.*]] = arith.addi %[[BEGIN:.*]], %{{.*}} : index
// ROWS: scf.for %[[R:.*]] = %[[BEGIN]] to %[[END]] step %c2 {
// ROWS-NEXT: %[[R1:.*]] = arith.addi %[[R]], %c1 : index
// ROWS-NEXT: scf.for %[[J:.*]] = %c0 to %c992 step %c16 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// ROWS-NEXT: vector.load %arg0[%[[R]], %[[J]]]
// ROWS-NEXT: arith.addf
// ROWS-NEXT: vector.load %arg0[%[[R1]], %[[J]]]
// ROWS: memref.store %{{.*}}, %arg1[%[[R]], %c0]
// ROWS-NEXT: memref.store %{{.*}}, %arg1[%[[R1]], %c0]
// ROWS: scf.for %{{.*}} = %[[END]] to %{{.*}} step %c1 {

// NOSPLIT: error: interleave=2 with split=2: a split row program's items are parts of rows, not rows
// NOCOL: error: interleave=2: only row programs sweep several rows together
