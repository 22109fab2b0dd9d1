// RUN: gir-opt %s --gir-to-gpu='target=amd_gfx942' | FileCheck %s

// Wavefront 64: a block of 4 wavefronts (256 lanes), one row per wavefront, shuffles of width 64.
// CHECK: gpu.module @rowmax_gpu attributes {gir.arch = "gfx942", gir.target = "amd_gfx942"}
// CHECK: gpu.func @rowmax_kernel
// CHECK-SAME: gir.launch = {block = array<i64: 256, 1, 1>, grid = array<i64: 3, 1, 1>, shared_bytes = 0 : i64}
// CHECK-SAME: gir.schedule = "row-per-warp"
// CHECK: llvm.intr.exp
// CHECK: %[[W:.*]] = arith.constant 64 : i32
// CHECK: %[[O:.*]] = arith.constant 32 : i32
// CHECK: gpu.shuffle xor %{{.*}}, %[[O]], %[[W]] : f32
func.func @rowmax(%x: tensor<12x128xf32>) -> tensor<12x1xf32> attributes {gir.form = "row"} {
  %e = "gir.exp"(%x) : (tensor<12x128xf32>) -> tensor<12x128xf32>
  %m = "gir.reduce"(%e) {kind = "max", axis = 1 : i64} : (tensor<12x128xf32>) -> tensor<12x1xf32>
  return %m : tensor<12x1xf32>
}
