// RUN: gir-opt %s --gir-math-approx | FileCheck %s
// RUN: gir-opt %s --gir-math-approx="ops=exp" | FileCheck %s --check-prefix=ONLYEXP

// CHECK-LABEL: func.func @f
// CHECK-NOT: math.exp
// CHECK-NOT: math.log
// CHECK-NOT: math.tanh
// CHECK-NOT: math.erf
// CHECK: math.floor
// CHECK: arith.shli
// CHECK: arith.bitcast
// CHECK: math.copysign
// ONLYEXP-NOT: math.exp
// ONLYEXP: math.log
// ONLYEXP: math.tanh
func.func @f(%a: vector<16xf32>, %b: f32) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, f32) {
  %0 = math.exp %a : vector<16xf32>
  %1 = math.log %a : vector<16xf32>
  %2 = math.tanh %a : vector<16xf32>
  %3 = math.erf %b : f32
  return %0, %1, %2, %3 : vector<16xf32>, vector<16xf32>, vector<16xf32>, f32
}
