// RUN: gir-opt %S/Inputs/redundant_4x16.mlir --gir-dataflow | FileCheck %s --check-prefix=BEFORE
// RUN: gir-opt %S/Inputs/redundant_4x16.mlir --gir-redundant-elim --gir-dataflow | FileCheck %s
// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --gir-redundant-elim | FileCheck %s --check-prefix=SOFTMAX

// Before: x*x is computed twice per element, a no-op broadcast and a dead exp sit in the graph,
// and the second x*x would be stored to a row buffer that no later sweep reads.
// BEFORE-COUNT-2: "gir.mul"(%arg0, %arg0)
// BEFORE: "gir.broadcast"
// BEFORE: "gir.exp"

// After: one x*x, used twice; nothing else but the add.
// CHECK: func.func @redundant
// CHECK-NEXT: %[[SQ:[0-9]+]] = "gir.mul"(%arg0, %arg0) {gir.computed = 1 : i64, gir.phase = 0 : i64, gir.space = "full"}
// CHECK-NEXT: "gir.add"(%[[SQ]], %[[SQ]])
// CHECK-NEXT: return
// CHECK-NOT: gir.materialize

// A program without redundancy is left as it is.
// SOFTMAX-COUNT-2: "gir.reduce"
// SOFTMAX: "gir.div"
