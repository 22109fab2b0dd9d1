func.func @layernorm(%arg0: tensor<4x37xf32>, %arg1: tensor<1x37xf32>, %arg2: tensor<1x37xf32>) -> tensor<4x37xf32> attributes {gir.form = "row"} {
  %0 = "gir.reduce"(%arg0) {axis = 1 : i64, kind = "mean"} : (tensor<4x37xf32>) -> tensor<4x1xf32>
  %1 = "gir.broadcast"(%0) : (tensor<4x1xf32>) -> tensor<4x37xf32>
  %2 = "gir.sub"(%arg0, %1) : (tensor<4x37xf32>, tensor<4x37xf32>) -> tensor<4x37xf32>
  %3 = "gir.mul"(%2, %2) : (tensor<4x37xf32>, tensor<4x37xf32>) -> tensor<4x37xf32>
  %4 = "gir.reduce"(%3) {axis = 1 : i64, kind = "mean"} : (tensor<4x37xf32>) -> tensor<4x1xf32>
  %5 = "gir.splat"() {value = 9.99999974E-6 : f32} : () -> tensor<4x1xf32>
  %6 = "gir.add"(%4, %5) : (tensor<4x1xf32>, tensor<4x1xf32>) -> tensor<4x1xf32>
  %7 = "gir.rsqrt"(%6) : (tensor<4x1xf32>) -> tensor<4x1xf32>
  %8 = "gir.broadcast"(%7) : (tensor<4x1xf32>) -> tensor<4x37xf32>
  %9 = "gir.mul"(%2, %8) : (tensor<4x37xf32>, tensor<4x37xf32>) -> tensor<4x37xf32>
  %10 = "gir.broadcast"(%arg1) : (tensor<1x37xf32>) -> tensor<4x37xf32>
  %11 = "gir.mul"(%9, %10) : (tensor<4x37xf32>, tensor<4x37xf32>) -> tensor<4x37xf32>
  %12 = "gir.broadcast"(%arg2) : (tensor<1x37xf32>) -> tensor<4x37xf32>
  %13 = "gir.add"(%11, %12) : (tensor<4x37xf32>, tensor<4x37xf32>) -> tensor<4x37xf32>
  return %13 : tensor<4x37xf32>
}
