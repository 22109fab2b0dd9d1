// RUN: gir-opt %s --gir-to-gpu='target=amd_gfx90a schedule=block' --gir-gpu-to-rocdl='chipset=gfx90a' | FileCheck %s

// The ROCDL form: workitem ids, LDS (address space 3) for the "shared" level, cross-lane
// permutes for the wavefront reduction, s_barrier.
// CHECK: gpu.module @rowsum_gpu attributes {gir.arch = "gfx90a"
// CHECK: llvm.mlir.global internal @__wg_rowsum_kernel_0() {addr_space = 3 : i32} : !llvm.array<4 x f32>
// CHECK: llvm.func @rowsum_kernel(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// CHECK-SAME: rocdl.kernel
// CHECK: rocdl.workitem.id.x
// CHECK: rocdl.ds_bpermute
// CHECK: llvm.store %{{.*}}, %{{.*}} : f32, !llvm.ptr<3>
// CHECK: rocdl.s.barrier
func.func @rowsum(%x: tensor<6x2048xf32>) -> tensor<6x1xf32> attributes {gir.form = "row"} {
  %s = "gir.reduce"(%x) {kind = "sum", axis = 1 : i64} : (tensor<6x2048xf32>) -> tensor<6x1xf32>
  return %s : tensor<6x1xf32>
}
