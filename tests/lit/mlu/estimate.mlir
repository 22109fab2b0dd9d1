// RUN: gir-opt %s --gir-to-mlu='target=mlu370' --mlu-estimate | FileCheck %s
// RUN: gir-opt %s --gir-to-mlu='target=mlu370 schedule=naive' --mlu-estimate | FileCheck %s --check-prefix=NAIVE

// The emulator's report as an attribute: x is read once and y written once (2 x 64 x 512 x 4 bytes)
// in the fused schedule; the naive one moves every intermediate through GDRAM.
// CHECK: mlu.model = {GDRAM_bytes = 262144 : i64, NRAM_bytes = 262144 : i64, SRAM_bytes = 0 : i64, bound = "{{GDRAM|core}}"
// CHECK-SAME: dma_instructions = {{[0-9]+}} : i64
// CHECK-SAME: sfu_instructions = {{[0-9]+}} : i64
// NAIVE: mlu.model = {GDRAM_bytes = 1049600 : i64
func.func @softmax(%x: tensor<64x512xf32>) -> tensor<64x512xf32> attributes {gir.form = "row"} {
  %m = "gir.reduce"(%x) {kind = "max", axis = 1 : i64} : (tensor<64x512xf32>) -> tensor<64x1xf32>
  %mb = "gir.broadcast"(%m) : (tensor<64x1xf32>) -> tensor<64x512xf32>
  %d = "gir.sub"(%x, %mb) : (tensor<64x512xf32>, tensor<64x512xf32>) -> tensor<64x512xf32>
  %e = "gir.exp"(%d) : (tensor<64x512xf32>) -> tensor<64x512xf32>
  %s = "gir.reduce"(%e) {kind = "sum", axis = 1 : i64} : (tensor<64x512xf32>) -> tensor<64x1xf32>
  %sb = "gir.broadcast"(%s) : (tensor<64x1xf32>) -> tensor<64x512xf32>
  %y = "gir.div"(%e, %sb) : (tensor<64x512xf32>, tensor<64x512xf32>) -> tensor<64x512xf32>
  return %y : tensor<64x512xf32>
}
