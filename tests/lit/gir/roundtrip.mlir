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

// Data movement between memory levels, inside a strategy-carrying forall.
// CHECK-LABEL: func.func @tile_copy
// CHECK: scf.forall
// CHECK: "gir.alloc"() {level = "shared"} : () -> memref<4x32xf32>
// CHECK: "gir.load"(%arg0, %{{.*}}) {level = "global"} : (memref<64x32xf32>, index) -> vector<32xf32>
// CHECK: "gir.store"(%{{.*}}, %{{.*}}, %{{.*}}) : (vector<32xf32>, memref<4x32xf32>, index) -> ()
// CHECK: "gir.copy"(%{{.*}}, %{{.*}}) : (memref<4x32xf32>, memref<4x32xf32>) -> ()
// CHECK: {gir.unit = "block"}
func.func @tile_copy(%src: memref<64x32xf32>, %dst: memref<4x32xf32>) attributes {gir.target = "nvidia"} {
  scf.forall (%b) in (16) {
    %buf = "gir.alloc"() {level = "shared"} : () -> memref<4x32xf32>
    %row = "gir.load"(%src, %b) {level = "global"} : (memref<64x32xf32>, index) -> vector<32xf32>
    "gir.store"(%row, %buf, %b) : (vector<32xf32>, memref<4x32xf32>, index) -> ()
    "gir.copy"(%buf, %dst) : (memref<4x32xf32>, memref<4x32xf32>) -> ()
  } {gir.unit = "block"}
  return
}
