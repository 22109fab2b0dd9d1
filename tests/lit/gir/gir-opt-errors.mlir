// RUN: not gir-opt %s 2>&1 | FileCheck %s --check-prefix=PARSE
// RUN: not gir-opt %s --no-such-pass 2>&1 | FileCheck %s --check-prefix=PASS
// RUN: not gir-opt %S/does-not-exist.mlir 2>&1 | FileCheck %s --check-prefix=FILE

// PARSE: gir-opt-errors.mlir:9:8: error: op expects exactly 1 operands, but got 2
// PARSE-NOT: op expects
// PARSE-NOT: Traceback
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = "gir.exp"(%x, %x) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}
// PASS: gir-opt: error: unknown pass or bad pipeline element 'no-such-pass'
// FILE: gir-opt: error: cannot read '{{.*}}does-not-exist.mlir'

// RUN: not gir-opt %S/Inputs/softmax_4x37.mlir --gir-schedule="unroll=abc" 2>&1 | FileCheck %s --check-prefix=OPTION
// RUN: not gir-opt %S/Inputs/softmax_4x37.mlir --gir-schedule="colour=blue" 2>&1 | FileCheck %s --check-prefix=UNKNOWNOPT
// OPTION: error: gir-schedule: invalid literal for int() with base 10: 'abc'
// OPTION-NOT: Traceback
// UNKNOWNOPT: gir-opt: error: pass 'gir-schedule' has no option(s) ['colour']
