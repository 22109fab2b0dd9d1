// RUN: gir-opt %s --gir-to-gpu='target=nvidia_sm80' --gir-gpu-to-nvvm='arch=sm_80' | FileCheck %s
// The same stage spelled with upstream passes:
// RUN: gir-opt %s --pass-pipeline='builtin.module(gir-to-gpu{target=nvidia_sm80}, gpu.module(convert-scf-to-cf, convert-gpu-to-nvvm{use-bare-ptr-memref-call-conv=true}), reconcile-unrealized-casts)' | FileCheck %s

// CHECK: gpu.module @where_gpu
// CHECK: llvm.func @__nv_expf(f32) -> f32
// CHECK: llvm.func @where_kernel(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// CHECK-SAME: nvvm.kernel
// CHECK: nvvm.read.ptx.sreg.tid.x
// CHECK: llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr -> vector<4xf32>
// CHECK: llvm.fcmp "ogt"
// CHECK: llvm.select
// CHECK: llvm.call @__nv_expf
// CHECK: llvm.store %{{.*}} {alignment = 16 : i64} : vector<4xf32>, !llvm.ptr
func.func @where(%x: tensor<8x64xf32>, %y: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {gir.form = "row"} {
  %c = "gir.cmp"(%x, %y) {predicate = "gt"} : (tensor<8x64xf32>, tensor<8x64xf32>) -> tensor<8x64xi1>
  %e = "gir.exp"(%x) : (tensor<8x64xf32>) -> tensor<8x64xf32>
  %r = "gir.select"(%c, %e, %y) : (tensor<8x64xi1>, tensor<8x64xf32>, tensor<8x64xf32>) -> tensor<8x64xf32>
  return %r : tensor<8x64xf32>
}
