func.func @sum_first(%arg0: tensor<1x300x20xf32>) -> tensor<1x1x20xf32> attributes {gir.form = "column"} {
  %0 = "gir.reduce"(%arg0) {axis = 1 : i64, kind = "sum"} : (tensor<1x300x20xf32>) -> tensor<1x1x20xf32>
  return %0 : tensor<1x1x20xf32>
}
