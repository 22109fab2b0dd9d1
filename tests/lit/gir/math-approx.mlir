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

// A list option takes `a,b`; a value outside the choices is an error naming the option.
// RUN: gir-opt %s --gir-math-approx='ops=exp,log' | FileCheck %s --check-prefix=EXPLOG
// RUN: gir-opt %s --pass-pipeline='builtin.module(gir-math-approx{ops=exp,log})' | FileCheck %s --check-prefix=EXPLOG
// RUN: not gir-opt %s --gir-math-approx='ops=exp,cosh' 2>&1 | FileCheck %s --check-prefix=BADLIST
// EXPLOG-LABEL: func.func @f
// EXPLOG-NOT: math.exp
// EXPLOG-NOT: math.log
// EXPLOG: math.tanh
// EXPLOG: math.erf
// BADLIST: gir-opt: error: gir-math-approx: option 'ops' must be one of exp, log, tanh, erf; got 'cosh'
