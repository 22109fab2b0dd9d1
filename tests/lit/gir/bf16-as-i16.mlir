// RUN: gir-opt %s --split-input-file --arith-expand="include-bf16=true" --gir-bf16-as-i16 | FileCheck %s

// bf16 conversions are integer arithmetic after arith-expand; what remains only moves bits, as i16.
// CHECK-LABEL: func.func @store_scaled
// CHECK-SAME: memref<8xi16>
// CHECK-NOT: bf16
// CHECK: vector.transfer_read {{.*}} : memref<8xi16>, vector<8xi16>
// CHECK: arith.extui {{.*}} : vector<8xi16> to vector<8xi32>
// CHECK: arith.trunci {{.*}} : vector<8xi32> to vector<8xi16>
// CHECK: vector.transfer_write {{.*}} : vector<8xi16>, memref<8xi16>
func.func @store_scaled(%m: memref<8xbf16>, %s: f32) {
  %c0 = arith.constant 0 : index
  %pad = arith.constant 0.0 : bf16
  %v = vector.transfer_read %m[%c0], %pad : memref<8xbf16>, vector<8xbf16>
  %f = arith.extf %v : vector<8xbf16> to vector<8xf32>
  %k = vector.broadcast %s : f32 to vector<8xf32>
  %p = arith.mulf %f, %k : vector<8xf32>
  %t = arith.truncf %p : vector<8xf32> to vector<8xbf16>
  vector.transfer_write %t, %m[%c0] : vector<8xbf16>, memref<8xbf16>
  return
}

// -----

// CHECK-LABEL: func.func @transpose_tile
// CHECK: arith.constant 16256 : i16
// CHECK: vector.transpose {{.*}} : vector<4x4xi16> to vector<4x4xi16>
func.func @transpose_tile(%a: memref<4x4xbf16>, %b: memref<4x4xbf16>) {
  %c0 = arith.constant 0 : index
  %one = arith.constant 1.0 : bf16
  %v = vector.transfer_read %a[%c0, %c0], %one : memref<4x4xbf16>, vector<4x4xbf16>
  %t = vector.transpose %v, [1, 0] : vector<4x4xbf16> to vector<4x4xbf16>
  vector.transfer_write %t, %b[%c0, %c0] : vector<4x4xbf16>, memref<4x4xbf16>
  return
}
