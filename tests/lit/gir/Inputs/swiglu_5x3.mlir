func.func @swiglu(%arg0: tensor<5x3xf32>, %arg1: tensor<5x3xf32>) -> tensor<5x3xf32> attributes {gir.form = "row"} {
  %0 = "gir.sigmoid"(%arg0) : (tensor<5x3xf32>) -> tensor<5x3xf32>
  %1 = "gir.mul"(%arg0, %0) : (tensor<5x3xf32>, tensor<5x3xf32>) -> tensor<5x3xf32>
  %2 = "gir.mul"(%1, %arg1) : (tensor<5x3xf32>, tensor<5x3xf32>) -> tensor<5x3xf32>
  return %2 : tensor<5x3xf32>
}
