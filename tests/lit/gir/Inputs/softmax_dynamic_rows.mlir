func.func @softmax(%arg0: tensor<4x37xf32>) -> tensor<4x37xf32> attributes {gir.dynamic_rows, gir.form = "row"} {
  %0 = "gir.reduce"(%arg0) {axis = 1 : i64, kind = "max"} : (tensor<4x37xf32>) -> tensor<4x1xf32>
  %1 = "gir.broadcast"(%0) : (tensor<4x1xf32>) -> tensor<4x37xf32>
  %2 = "gir.sub"(%arg0, %1) : (tensor<4x37xf32>, tensor<4x37xf32>) -> tensor<4x37xf32>
  %3 = "gir.exp"(%2) : (tensor<4x37xf32>) -> tensor<4x37xf32>
  %4 = "gir.reduce"(%3) {axis = 1 : i64, kind = "sum"} : (tensor<4x37xf32>) -> tensor<4x1xf32>
  %5 = "gir.broadcast"(%4) : (tensor<4x1xf32>) -> tensor<4x37xf32>
  %6 = "gir.div"(%3, %5) : (tensor<4x37xf32>, tensor<4x37xf32>) -> tensor<4x37xf32>
  return %6 : tensor<4x37xf32>
}
