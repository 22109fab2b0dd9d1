// RUN: gir-opt %s --gir-to-gpu='target=nvidia_sm90 rows_per_block=8' | FileCheck %s --check-prefix=WARP8
// RUN: gir-opt %s --gir-to-gpu='target=nvidia_sm90 schedule=block block_threads=512' | FileCheck %s --check-prefix=BLOCK512
// RUN: gir-opt %s --gir-to-gpu='target=nvidia_sm90 launch=model' | FileCheck %s --check-prefix=MODEL
// RUN: not gir-opt %s --gir-to-gpu='target=nvidia_sm90 rows_per_block=64' 2>&1 | FileCheck %s --check-prefix=TOOBIG

// Rows per block: 8 warps of one row each, so 64 rows take 8 blocks of 256 threads.
// WARP8: gir.launch = {block = array<i64: 256, 1, 1>, grid = array<i64: 8, 1, 1>, shared_bytes = 0 : i64}
// WARP8-SAME: gir.rows_per_block = 8 : i64, gir.schedule = "row-per-warp"

// Threads per row: 512 threads (16 warps) per row, one shared partial per warp and reduction.
// BLOCK512: workgroup(%{{.*}} : memref<32xf32, #gpu.address_space<workgroup>>)
// BLOCK512-SAME: gir.block_threads = 512 : i64, gir.launch = {block = array<i64: 512, 1, 1>, grid = array<i64: 64, 1, 1>

// The launch model's first choice is one of the two shapes, recorded the same way.
// MODEL: gir.{{block_threads|rows_per_block}} = {{[0-9]+}} : i64

// TOOBIG: error: rows_per_block=64: a block of 64 warps of 32 exceeds the target's 1024 threads per block
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
