// RUN: gir-opt %s --split-input-file --verify-diagnostics --gir-to-gpu='target=mlu370'

// expected-error @below {{target 'mlu370' is not a GPU target (kind 'mlu')}}
module {
func.func @f(%x: tensor<4x8xf32>) -> tensor<4x8xf32> attributes {gir.form = "row"} {
  %e = "gir.exp"(%x) : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %e : tensor<4x8xf32>
}
}
