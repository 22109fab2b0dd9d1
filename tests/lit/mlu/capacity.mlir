// RUN: gir-opt %s --verify-diagnostics --gir-to-mlu='target=mlu370'
// A row of 300000 f32 needs 1.2 MB per buffer: it cannot fit the 768 KiB NRAM.
// expected-error @below {{NRAM overflow on target 'mlu370': one tile needs 2400256 bytes of NRAM (capacity 786432 bytes per core); largest buffer 'arg0' is 1x300032 f32 = 1200128 bytes}}
func.func @too_long(%x: tensor<4x300000xf32>) -> tensor<4x300000xf32> attributes {gir.form = "row"} {
  %e = "gir.exp"(%x) : (tensor<4x300000xf32>) -> tensor<4x300000xf32>
  return %e : tensor<4x300000xf32>
}

