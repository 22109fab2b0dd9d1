func.func @transpose(%arg0: tensor<1x37xf32>) -> tensor<37x1xf32> attributes {gir.form = "transpose"} {
  %0 = "gir.transpose"(%arg0) {permutation = array<i64: 1, 0>} : (tensor<1x37xf32>) -> tensor<37x1xf32>
  return %0 : tensor<37x1xf32>
}
