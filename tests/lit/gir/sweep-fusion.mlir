// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --gir-dataflow | FileCheck %s --check-prefix=BEFORE
// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --gir-sweep-fusion=mode=fuse --gir-dataflow | FileCheck %s --check-prefix=SOFTMAX
// RUN: gir-opt %S/Inputs/log_softmax_4x37.mlir --gir-sweep-fusion=mode=fuse --gir-dataflow | FileCheck %s --check-prefix=LOGSOFTMAX
// RUN: gir-opt %S/Inputs/layernorm_4x37.mlir --gir-sweep-fusion=mode=fuse --gir-dataflow | FileCheck %s --check-prefix=LAYERNORM
// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --gir-schedule="target=cpu one_pass=1" --gir-sweep-fusion --gir-dataflow | FileCheck %s --check-prefix=SOFTMAX
// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --gir-schedule="target=cpu one_pass=0" --gir-sweep-fusion | FileCheck %s --check-prefix=KEEP
// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --gir-sweep-fusion=mode=keep | FileCheck %s --check-prefix=KEEP
// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --gir-schedule="target=cpu one_pass=1 unroll=1 vector_width=8" --gir-sweep-fusion --gir-lower-cpu | FileCheck %s --check-prefix=LOWERED

// Softmax reads x in three sweeps (max; sum of exp; output).
// BEFORE: gir.loads = array<i64: 3>, gir.phases = 3

// Fused: an online logsumexp replaces max and the sum; the output is exp(x - lse), 2 sweeps.
// SOFTMAX: gir.phases = 2
// SOFTMAX: "gir.reduce"(%arg0) {{{.*}}kind = "logsumexp"}
// SOFTMAX-NEXT: "gir.broadcast"
// SOFTMAX-NEXT: "gir.sub"(%arg0
// SOFTMAX-NEXT: %[[E:[0-9]+]] = "gir.exp"
// SOFTMAX-NEXT: return %[[E]]
// SOFTMAX-NOT: "gir.div"

// log_softmax: (x - max) - log(sum(exp(x - max))) becomes x - lse.
// LOGSOFTMAX: gir.loads = array<i64: 2>, gir.phases = 2
// LOGSOFTMAX: "gir.reduce"(%arg0) {{{.*}}kind = "logsumexp"}
// LOGSOFTMAX-NOT: "gir.log"
// LOGSOFTMAX-NOT: "gir.exp"

// Layernorm: the variance of the centred row becomes a one-pass variance of x, in the mean's sweep.
// LAYERNORM: gir.loads = array<i64: 2, 1, 1>, gir.phases = 2
// LAYERNORM: "gir.reduce"(%arg0) {{{.*}}kind = "mean"}
// LAYERNORM: "gir.reduce"(%arg0) {{{.*}}gir.phase = 0 : i64{{.*}}kind = "var"}
// LAYERNORM-NOT: "gir.reduce"

// The schedule's one_pass=0 (or mode=keep) leaves the three sweeps.
// KEEP: kind = "max"
// KEEP: kind = "sum"
// KEEP-NOT: logsumexp

// Lowered: the row's first sweep carries (running max, rescaled sum) per vector lane.
// LOWERED: scf.for {{.*}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>)
// LOWERED: arith.maximumf
// LOWERED: math.exp
// LOWERED: math.exp
// LOWERED: math.fma
