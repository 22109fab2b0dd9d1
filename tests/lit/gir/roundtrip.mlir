// RUN: gir-opt %s | FileCheck %s
// RUN: gir-opt %s | gir-opt | FileCheck %s

// CHECK-LABEL: func.func @softmax
func.func @softmax(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // CHECK: "gir.reduce"(%{{.*}}) {axis = 1 : i64, kind = "max"} : (tensor<4x8xf32>) -> tensor<4x1xf32>
  %m = "gir.reduce"(%x) {kind = "max", axis = 1 : i64} : (tensor<4x8xf32>) -> tensor<4x1xf32>
  // CHECK: "gir.broadcast"
  %mb = "gir.broadcast"(%m) : (tensor<4x1xf32>) -> tensor<4x8xf32>
  // CHECK: "gir.sub"
  %d = "gir.sub"(%x, %mb) : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  // CHECK: "gir.exp"
  %e = "gir.exp"(%d) : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %s = "gir.reduce"(%e) {kind = "sum", axis = 1 : i64} : (tensor<4x8xf32>) -> tensor<4x1xf32>
  %sb = "gir.broadcast"(%s) : (tensor<4x1xf32>) -> tensor<4x8xf32>
  // CHECK: "gir.div"
  %y = "gir.div"(%e, %sb) : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}
