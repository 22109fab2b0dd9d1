// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --gir-dataflow | FileCheck %s
// Softmax needs three sweeps over a row: max, then sum of exp, then the normalised output.

// CHECK: func.func @softmax{{.*}}gir.phases = 3
// CHECK: "gir.reduce"{{.*}}gir.phase = 0 : i64, gir.space = "row", kind = "max"
// CHECK: "gir.broadcast"{{.*}}gir.phase = 1 : i64, gir.space = "full"
// CHECK: "gir.exp"{{.*}}gir.phase = 1 : i64, gir.space = "full"
// CHECK: "gir.reduce"{{.*}}gir.phase = 1 : i64, gir.space = "row", kind = "sum"
// CHECK: "gir.div"{{.*}}gir.phase = 2 : i64, gir.space = "full"
