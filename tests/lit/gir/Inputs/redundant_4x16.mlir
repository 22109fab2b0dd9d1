// x*x written twice, a broadcast of a full value, a dead exp, and a row buffer nobody reads later
func.func @redundant(%arg0: tensor<4x16xf32>) -> tensor<4x16xf32> attributes {gir.form = "row"} {
  %0 = "gir.mul"(%arg0, %arg0) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %1 = "gir.mul"(%arg0, %arg0) {gir.materialize = "local"} : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %2 = "gir.broadcast"(%1) : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %3 = "gir.exp"(%arg0) : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %4 = "gir.add"(%0, %2) : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %4 : tensor<4x16xf32>
}
