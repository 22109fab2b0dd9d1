// RUN: gir-opt %s --split-input-file --verify-diagnostics

func.func @bad_axis(%x: tensor<4x8xf32>) -> tensor<4x1xf32> {
  // expected-error @+1 {{reduction axis 2 is out of range for rank 2}}
  %0 = "gir.reduce"(%x) {kind = "sum", axis = 2 : i64} : (tensor<4x8xf32>) -> tensor<4x1xf32>
  return %0 : tensor<4x1xf32>
}

// -----

func.func @bad_reduce_shape(%x: tensor<4x8xf32>) -> tensor<4x2xf32> {
  // expected-error @+1 {{reduce along axis 1 of [4, 8] must give [4, 1] or [4], not [4, 2]}}
  %0 = "gir.reduce"(%x) {kind = "max", axis = 1 : i64} : (tensor<4x8xf32>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

func.func @bad_broadcast(%x: tensor<4x3xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{cannot broadcast [4, 3] to [4, 8]}}
  %0 = "gir.broadcast"(%x) : (tensor<4x3xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @bad_transpose(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{transpose of [4, 8] by [1, 0] gives [8, 4], not [4, 8]}}
  %0 = "gir.transpose"(%x) {permutation = array<i64: 1, 0>} : (tensor<4x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

func.func @too_big_for_local() attributes {gir.target = "cpu"} {
  // expected-error @+1 {{buffer of 4194304 bytes does not fit memory level 'local' of target 'cpu' (capacity 2097152 bytes)}}
  %0 = "gir.alloc"() {level = "local"} : () -> memref<1048576xf32>
  return
}

// -----

func.func @unknown_level() {
  // expected-error @+1 {{does not satisfy the constraint}}
  %0 = "gir.alloc"() {level = "l3"} : () -> memref<16xf32>
  return
}

// -----

func.func @unknown_reduction(%x: tensor<4x8xf32>) -> tensor<4x1xf32> {
  // expected-error @+1 {{does not satisfy the constraint}}
  %0 = "gir.reduce"(%x) {kind = "avg", axis = 1 : i64} : (tensor<4x8xf32>) -> tensor<4x1xf32>
  return %0 : tensor<4x1xf32>
}

// -----

func.func @mismatched_operands(%x: tensor<4x8xf32>, %y: tensor<4x1xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{}}
  %0 = "gir.add"(%x, %y) : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}
