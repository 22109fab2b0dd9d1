// Every pass is listed with its typed options (name: type = default  help), in --list-passes and --help.
// RUN: gir-opt --list-passes | FileCheck %s
// RUN: gir-opt --help | FileCheck %s
// CHECK: --gir-math-approx
// CHECK-NEXT: ops: exp|log|tanh|erf,... = exp,log,tanh,erf
// CHECK: --gir-schedule
// CHECK-NEXT: target: str = cpu
// CHECK-NEXT: unroll: int = None
