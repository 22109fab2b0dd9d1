// RUN: gir-opt %s --split-input-file --gir-to-gpu='target=nvidia_sm90' | FileCheck %s
// RUN: gir-opt %s --split-input-file --gir-to-gpu='target=nvidia_sm90 schedule=block' | FileCheck %s --check-prefix=BLOCK

// Short rows: row-per-warp, 4 warps per block, warp-shuffle reductions, 128-bit loads; the row
// (2 groups of 4 per lane) is loaded once and stays in registers across the three sweeps.
// CHECK: module attributes {gpu.container_module}
// CHECK: gpu.module @softmax_gpu attributes {gir.arch = "sm_90", gir.target = "nvidia_sm90"}
// CHECK: gpu.func @softmax_kernel(%{{.*}}: memref<64x256xf32>, %{{.*}}: memref<64x256xf32>) kernel
// CHECK-SAME: gir.launch = {block = array<i64: 128, 1, 1>, grid = array<i64: 16, 1, 1>, shared_bytes = 0 : i64}
// CHECK-SAME: gir.row_cache = "register", gir.rows_per_block = 4 : i64, gir.schedule = "row-per-warp", gir.vector_width = 4
// CHECK: gpu.thread_id x
// CHECK: gpu.block_id x
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<64x256xf32>, vector<4xf32>
// CHECK: vector.load %{{.*}} {alignment = 16 : i64} : memref<64x256xf32>, vector<4xf32>
// CHECK: arith.maximumf
// CHECK: gpu.shuffle xor %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK-NOT: vector.load
// CHECK: math.exp
// CHECK: gpu.shuffle xor
// CHECK: vector.store %{{.*}} {alignment = 16 : i64} : memref<64x256xf32>, vector<4xf32>
// CHECK: gpu.return

// BLOCK: gpu.func @softmax_kernel({{.*}}) workgroup(%{{.*}} : memref<16xf32, #gpu.address_space<workgroup>>) kernel
// BLOCK-SAME: gir.row_cache = "register", gir.schedule = "row-per-block"
// BLOCK: gpu.shuffle xor
// BLOCK: memref.store %{{.*}} : memref<16xf32, #gpu.address_space<workgroup>>
// BLOCK: gpu.barrier
func.func @softmax(%x: tensor<64x256xf32>) -> tensor<64x256xf32> attributes {gir.form = "row"} {
  %m = "gir.reduce"(%x) {kind = "max", axis = 1 : i64} : (tensor<64x256xf32>) -> tensor<64x1xf32>
  %mb = "gir.broadcast"(%m) : (tensor<64x1xf32>) -> tensor<64x256xf32>
  %d = "gir.sub"(%x, %mb) : (tensor<64x256xf32>, tensor<64x256xf32>) -> tensor<64x256xf32>
  %e = "gir.exp"(%d) : (tensor<64x256xf32>) -> tensor<64x256xf32>
  %s = "gir.reduce"(%e) {kind = "sum", axis = 1 : i64} : (tensor<64x256xf32>) -> tensor<64x1xf32>
  %sb = "gir.broadcast"(%s) : (tensor<64x1xf32>) -> tensor<64x256xf32>
  %y = "gir.div"(%e, %sb) : (tensor<64x256xf32>, tensor<64x256xf32>) -> tensor<64x256xf32>
  return %y : tensor<64x256xf32>
}

// -----

// Long rows: row-per-block with one partial per warp in shared memory.
// CHECK-LABEL: gpu.func @rowsum_kernel
// CHECK-SAME: workgroup(%{{.*}} : memref<8xf32, #gpu.address_space<workgroup>>)
// CHECK-SAME: gir.launch = {block = array<i64: 256, 1, 1>, grid = array<i64: 3, 1, 1>, shared_bytes = 32 : i64}
// CHECK-SAME: gir.schedule = "row-per-block"
// CHECK: gpu.barrier
func.func @rowsum(%x: tensor<3x5000xf32>) -> tensor<3x1xf32> attributes {gir.form = "row"} {
  %s = "gir.reduce"(%x) {kind = "sum", axis = 1 : i64} : (tensor<3x5000xf32>) -> tensor<3x1xf32>
  return %s : tensor<3x1xf32>
}

// -----

// Transpose: 32x32 tiles through a padded shared tile, block 32x8.
// CHECK-LABEL: gpu.func @tr_kernel
// CHECK-SAME: workgroup(%{{.*}} : memref<32x33xf32, #gpu.address_space<workgroup>>)
// CHECK-SAME: block = array<i64: 32, 8, 1>, grid = array<i64: 2, 3, 1>, shared_bytes = 4224 : i64
// CHECK: gpu.thread_id y
// CHECK: gpu.barrier
func.func @tr(%x: tensor<70x37xf32>) -> tensor<37x70xf32> attributes {gir.form = "transpose"} {
  %t = "gir.transpose"(%x) {permutation = array<i64: 1, 0>} : (tensor<70x37xf32>) -> tensor<37x70xf32>
  return %t : tensor<37x70xf32>
}

// -----

// Column programs: a block holds a warp's width of (a, b) columns (coalesced along b); its 8 thread
// rows split K (8 = the largest power of two <= K=9 while the device is under-filled) and their
// partials meet in shared memory ([row][col]), between barriers.
// CHECK-LABEL: gpu.func @colmax_kernel
// CHECK-SAME: workgroup(%{{.*}} : memref<256xf32, #gpu.address_space<workgroup>>)
// CHECK-SAME: gir.column_split = 8
// CHECK-SAME: block = array<i64: 256, 1, 1>, grid = array<i64: 1, 1, 1>, shared_bytes = 1024
// CHECK-SAME: gir.schedule = "column-per-block"
// CHECK-NOT: gpu.shuffle
// CHECK: scf.for
// CHECK: gpu.barrier
// CHECK-COUNT-8: memref.load %{{.*}} : memref<256xf32, #gpu.address_space<workgroup>>
// CHECK: gpu.barrier
// CHECK: gpu.return
func.func @colmax(%x: tensor<4x9x7xf32>) -> tensor<4x1x7xf32> attributes {gir.form = "column"} {
  %s = "gir.reduce"(%x) {kind = "max", axis = 1 : i64} : (tensor<4x9x7xf32>) -> tensor<4x1x7xf32>
  return %s : tensor<4x1x7xf32>
}

// -----

// Rows longer than 32 elements per thread are swept with loops (re-read from L2 in each sweep).
// CHECK-LABEL: gpu.func @center_kernel
// CHECK-SAME: gir.row_cache = "none", gir.schedule = "row-per-block"
// CHECK: scf.for
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK: vector.store
func.func @center(%x: tensor<2x40000xf32>) -> tensor<2x40000xf32> attributes {gir.form = "row"} {
  %m = "gir.reduce"(%x) {kind = "mean", axis = 1 : i64} : (tensor<2x40000xf32>) -> tensor<2x1xf32>
  %mb = "gir.broadcast"(%m) : (tensor<2x1xf32>) -> tensor<2x40000xf32>
  %d = "gir.sub"(%x, %mb) : (tensor<2x40000xf32>, tensor<2x40000xf32>) -> tensor<2x40000xf32>
  return %d : tensor<2x40000xf32>
}
