func.func @sum_last(%arg0: tensor<2x1000xf32>) -> tensor<2x1xf32> attributes {gir.form = "row"} {
  %0 = "gir.reduce"(%arg0) {axis = 1 : i64, kind = "sum"} : (tensor<2x1000xf32>) -> tensor<2x1xf32>
  return %0 : tensor<2x1xf32>
}
