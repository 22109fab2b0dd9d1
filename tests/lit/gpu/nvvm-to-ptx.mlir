// RUN: gir-opt %s --gir-to-gpu='target=nvidia_sm90' --gir-gpu-to-nvvm='arch=sm_90' --gir-nvvm-to-ptx='arch=sm_90' | FileCheck %s
// RUN: gir-opt %s --gir-lower-nvidia='arch=sm_80' | FileCheck %s --check-prefix=SM80

// The PTX is attached to the gpu.module, and ptxas -v's registers / shared memory per kernel:
// CHECK: gpu.module @layernorm_gpu attributes {
// CHECK-SAME: gir.ptx = "{{.*}}.target sm_90{{.*}}.visible .entry layernorm_kernel{{.*}}ld.global.v4{{.*}}shfl.sync.bfly.b32
// CHECK-SAME: gir.ptxas = {layernorm_kernel = {barriers = 0 : i64, registers = {{[1-9][0-9]*}} : i64, shared_bytes = 0 : i64, spill_stores = 0 : i64}}
// SM80: gir.ptx = "{{.*}}.target sm_80
// SM80-SAME: gir.ptxas = {layernorm_kernel = {barriers = {{[0-9]+}} : i64, registers = {{[1-9][0-9]*}} : i64, shared_bytes = 0 : i64, spill_stores = 0 : i64}}
func.func @layernorm(%x: tensor<16x512xf32>, %w: tensor<1x512xf32>) -> tensor<16x512xf32> attributes {gir.form = "row"} {
  %m = "gir.reduce"(%x) {kind = "mean", axis = 1 : i64} : (tensor<16x512xf32>) -> tensor<16x1xf32>
  %mb = "gir.broadcast"(%m) : (tensor<16x1xf32>) -> tensor<16x512xf32>
  %d = "gir.sub"(%x, %mb) : (tensor<16x512xf32>, tensor<16x512xf32>) -> tensor<16x512xf32>
  %d2 = "gir.mul"(%d, %d) : (tensor<16x512xf32>, tensor<16x512xf32>) -> tensor<16x512xf32>
  %v = "gir.reduce"(%d2) {kind = "mean", axis = 1 : i64} : (tensor<16x512xf32>) -> tensor<16x1xf32>
  %eps = "gir.splat"() {value = 1.0e-5 : f32} : () -> tensor<16x1xf32>
  %ve = "gir.add"(%v, %eps) : (tensor<16x1xf32>, tensor<16x1xf32>) -> tensor<16x1xf32>
  %r = "gir.rsqrt"(%ve) : (tensor<16x1xf32>) -> tensor<16x1xf32>
  %rb = "gir.broadcast"(%r) : (tensor<16x1xf32>) -> tensor<16x512xf32>
  %n = "gir.mul"(%d, %rb) : (tensor<16x512xf32>, tensor<16x512xf32>) -> tensor<16x512xf32>
  %wb = "gir.broadcast"(%w) : (tensor<1x512xf32>) -> tensor<16x512xf32>
  %y = "gir.mul"(%n, %wb) : (tensor<16x512xf32>, tensor<16x512xf32>) -> tensor<16x512xf32>
  return %y : tensor<16x512xf32>
}
