// RUN: gir-opt %S/Inputs/layernorm_gelu_4x16.mlir --gir-from-linalg --canonicalize | FileCheck %s --check-prefix=LN
// RUN: gir-opt %S/Inputs/transposed_softmax_sum_4x16.mlir --gir-from-linalg --canonicalize | FileCheck %s --check-prefix=SM
// RUN: gir-opt %s --gir-from-linalg | FileCheck %s --check-prefix=KEEP

// torch-mlir's layer_norm (variance in f64: the casts fold, GIR computes in f32) + erf GELU:
// every linalg.generic becomes GIR, row reductions along axis 1, the weight broadcast from [16].
// LN-LABEL: func.func @main
// LN-NOT: linalg.
// LN: "gir.add"
// LN: "gir.reduce"({{.*}}) {axis = 1 : i64, kind = "sum"} : (tensor<4x16xf32>) -> tensor<4x1xf32>
// LN: "gir.rsqrt"
// LN: tensor.expand_shape %arg1 {{\[}}[0, 1]] output_shape [1, 16]
// LN: "gir.broadcast"({{.*}}) : (tensor<1x16xf32>) -> tensor<4x16xf32>
// LN: "gir.erf"
// LN: return {{.*}} : tensor<4x16xf32>

// linalg.transpose -> gir.transpose; the max-with-index generic keeps only the max (its indices are
// unused); a reduction over the first loop dim reduces axis 0.
// SM-LABEL: func.func @main
// SM-NOT: linalg.
// SM: "gir.transpose"(%arg0) {permutation = array<i64: 1, 0>} : (tensor<4x16xf32>) -> tensor<16x4xf32>
// SM: "gir.reduce"({{.*}}) {axis = 1 : i64, kind = "max"}
// SM: "gir.exp"
// SM: "gir.reduce"({{.*}}) {axis = 1 : i64, kind = "sum"}
// SM: "gir.div"
// SM: "gir.reduce"({{.*}}) {axis = 0 : i64, kind = "sum"} : (tensor<16x4xf32>) -> tensor<1x4xf32>
// SM: tensor.collapse_shape

// Left alone: a contraction (matmul), a sliding window (map d0 + d1 is not a projected
// permutation) and a sum whose accumulator starts at 1.0 (not the identity); the elementwise
// generic after the matmul is raised.
#id = affine_map<(d0, d1) -> (d0, d1)>
#win = affine_map<(d0, d1) -> (d0 + d1)>
#out = affine_map<(d0, d1) -> (d0)>
#tap = affine_map<(d0, d1) -> (d1)>
#row = affine_map<(d0, d1) -> (d0, 0)>
// KEEP-LABEL: func.func @keep
func.func @keep(%a: tensor<4x8xf32>, %b: tensor<8x4xf32>, %s: tensor<11xf32>, %k: tensor<8xf32>) -> (tensor<4x4xf32>, tensor<4xf32>, tensor<4x1xf32>) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<4x4xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x4xf32>) -> tensor<4x4xf32>
  // KEEP: linalg.matmul
  %mm = linalg.matmul ins(%a, %b : tensor<4x8xf32>, tensor<8x4xf32>) outs(%z : tensor<4x4xf32>) -> tensor<4x4xf32>
  %e1 = tensor.empty() : tensor<4xf32>
  %z1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<4xf32>) -> tensor<4xf32>
  // KEEP: linalg.generic
  %win = linalg.generic {indexing_maps = [#win, #tap, #out], iterator_types = ["parallel", "reduction"]}
      ins(%s, %k : tensor<11xf32>, tensor<8xf32>) outs(%z1 : tensor<4xf32>) {
  ^bb0(%in: f32, %w: f32, %acc: f32):
    %p = arith.mulf %in, %w : f32
    %r = arith.addf %p, %acc : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  %e2 = tensor.empty() : tensor<4x1xf32>
  %o2 = linalg.fill ins(%one : f32) outs(%e2 : tensor<4x1xf32>) -> tensor<4x1xf32>
  // KEEP: linalg.generic
  %sum1 = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%a : tensor<4x8xf32>) outs(%o2 : tensor<4x1xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %r = arith.addf %in, %acc : f32
    linalg.yield %r : f32
  } -> tensor<4x1xf32>
  // KEEP: "gir.exp"(%{{.*}}) : (tensor<4x4xf32>) -> tensor<4x4xf32>
  %ex = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm : tensor<4x4xf32>) outs(%e : tensor<4x4xf32>) {
  ^bb0(%in: f32, %o: f32):
    %r = math.exp %in : f32
    linalg.yield %r : f32
  } -> tensor<4x4xf32>
  return %ex, %win, %sum1 : tensor<4x4xf32>, tensor<4xf32>, tensor<4x1xf32>
}
