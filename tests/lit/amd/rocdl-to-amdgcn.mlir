// RUN: gir-opt %s --gir-to-gpu='target=amd_gfx942' --gir-gpu-to-rocdl='chipset=gfx942' --gir-rocdl-to-amdgcn='chipset=gfx942' | FileCheck %s
// RUN: gir-opt %s --gir-lower-amd='chipset=gfx90a' | FileCheck %s --check-prefix=GFX90A

// CHECK: gpu.module @gelu_gpu attributes {gir.amdgcn = "{{.*}}.amdgcn_target \22amdgcn-amd-amdhsa--gfx942\22{{.*}}gelu_kernel:{{.*}}global_load_dwordx4{{.*}}s_endpgm
// CHECK-SAME: gir.code_object_bytes = {{[1-9][0-9]*}} : i64
// GFX90A: gir.amdgcn = "{{.*}}amdgcn-amd-amdhsa--gfx90a{{.*}}.amdhsa_next_free_vgpr
func.func @gelu(%x: tensor<32x256xf32>) -> tensor<32x256xf32> attributes {gir.form = "row"} {
  %c = "gir.splat"() {value = 0.70710678 : f32} : () -> tensor<32x256xf32>
  %h = "gir.splat"() {value = 0.5 : f32} : () -> tensor<32x256xf32>
  %one = "gir.splat"() {value = 1.0 : f32} : () -> tensor<32x256xf32>
  %s = "gir.mul"(%x, %c) : (tensor<32x256xf32>, tensor<32x256xf32>) -> tensor<32x256xf32>
  %e = "gir.erf"(%s) : (tensor<32x256xf32>) -> tensor<32x256xf32>
  %a = "gir.add"(%e, %one) : (tensor<32x256xf32>, tensor<32x256xf32>) -> tensor<32x256xf32>
  %xh = "gir.mul"(%x, %h) : (tensor<32x256xf32>, tensor<32x256xf32>) -> tensor<32x256xf32>
  %y = "gir.mul"(%xh, %a) : (tensor<32x256xf32>, tensor<32x256xf32>) -> tensor<32x256xf32>
  return %y : tensor<32x256xf32>
}
