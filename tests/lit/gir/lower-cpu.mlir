// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --pass-pipeline='builtin.module(gir-schedule{target=cpu tasks=2 unroll=2},gir-lower-cpu)' | FileCheck %s
// RUN: not gir-opt %S/Inputs/softmax_4x37.mlir --gir-lower-cpu 2>&1 | FileCheck %s --check-prefix=NOSCHED

// Buffers become memrefs (the output is written in place); rows are spread over cores by an
// scf.forall; exp(x - max) lives in a local row buffer; each sweep is a vector loop plus a tail.
// CHECK-LABEL: func.func @softmax(%arg0: memref<4x37xf32>, %arg1: memref<4x37xf32>)
// CHECK-SAME: gir.tasks = 2
// CHECK: scf.forall (%[[T:.*]]) in (2)
// CHECK: %[[BUF:.*]] = "gir.alloc"() {level = "local"} : () -> memref<37xf32>
// CHECK: scf.for %[[R:.*]] =
// CHECK: vector.load %arg0[%[[R]], %{{.*}}] : memref<4x37xf32>, vector<{{[0-9]+}}xf32>
// CHECK: arith.maximumf
// CHECK: vector.reduction <maximumf>
// CHECK: math.exp
// CHECK: vector.store %{{.*}}, %[[BUF]]
// CHECK: vector.reduction <add>
// CHECK: arith.divf %{{.*}}, %{{.*}} : f32
// CHECK: vector.load %[[BUF]]
// CHECK: arith.mulf
// CHECK: vector.store %{{.*}}, %arg1[%[[R]], %{{.*}}]
// CHECK: vector<1xf32>
// CHECK: {gir.unit = "core"}

// NOSCHED: error: gir-lower-cpu needs a schedule: run gir-schedule first

// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --pass-pipeline='builtin.module(gir-schedule{target=cpu streaming=1},gir-lower-cpu)' | FileCheck %s --check-prefix=STREAM
// Outputs too large for the caches are written with non-temporal stores (no read-for-ownership).
// STREAM: vector.store %{{.*}}, %arg1[%{{.*}}, %{{.*}}] {nontemporal = true}

// RUN: gir-opt %S/Inputs/softmax_dynamic_rows.mlir --pass-pipeline='builtin.module(gir-schedule{target=cpu tasks=2 unroll=2},gir-lower-cpu)' | FileCheck %s --check-prefix=DYN
// gir.dynamic_rows (a shape class of the torch frontend): the row count is a trailing index
// argument; each task takes ceil(rows / tasks) rows of it. The static 4 is only the scheduled shape.
// DYN: func.func @softmax(%arg0: memref<4x37xf32>, %arg1: memref<4x37xf32>, %[[ROWS:.*]]: index)
// DYN: scf.forall (%[[T:.*]]) in (2)
// DYN: %[[PER:.*]] = arith.ceildivui %[[ROWS]], %{{.*}} : index
// DYN: %[[BEGIN:.*]] = arith.muli %[[T]], %[[PER]] : index
// DYN: %[[NEXT:.*]] = arith.addi %[[BEGIN]], %[[PER]] : index
// DYN: %[[END:.*]] = arith.minsi %[[NEXT]], %[[ROWS]] : index
// DYN: scf.for %{{.*}} = %[[BEGIN]] to %[[END]]
