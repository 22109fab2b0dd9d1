// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --gir-sweep-reuse=mode=keep --gir-dataflow | FileCheck %s --check-prefix=KEEP
// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --gir-sweep-reuse=mode=recompute --gir-dataflow | FileCheck %s --check-prefix=RECOMPUTE
// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --gir-schedule="target=cpu materialize=0" --gir-sweep-reuse --gir-dataflow | FileCheck %s --check-prefix=RECOMPUTE
// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --gir-schedule="target=cpu unroll=1" --gir-sweep-reuse=mode=keep --gir-lower-cpu | FileCheck %s --check-prefix=KEEP-CPU
// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --gir-schedule="target=cpu unroll=1" --gir-sweep-reuse=mode=recompute --gir-lower-cpu | FileCheck %s --check-prefix=RECOMPUTE-CPU

// exp(x - max) is computed in the sum's sweep and used by the output sweep.
// Kept: computed once, read back once from a row buffer; x is read by two sweeps.
// KEEP: gir.loads = array<i64: 2>
// KEEP: "gir.exp"{{.*}}gir.computed = 1 : i64, gir.materialize = "local"{{.*}}gir.reused = 1 : i64

// Recomputed: exp and its inputs are evaluated in both sweeps, and x is read by all three.
// RECOMPUTE: gir.loads = array<i64: 3>
// RECOMPUTE: "gir.exp"{{.*}}gir.computed = 2 : i64
// RECOMPUTE-NOT: gir.materialize

// The CPU kernel allocates the per-task row buffer, stores exp in one sweep and loads it in the next.
// KEEP-CPU: %[[BUF:.*]] = "gir.alloc"() {level = "local"} : () -> memref<37xf32>
// KEEP-CPU: math.exp
// KEEP-CPU: vector.store %{{.*}}, %[[BUF]]
// KEEP-CPU: vector.load %[[BUF]]
// RECOMPUTE-CPU-NOT: gir.alloc
// RECOMPUTE-CPU: math.exp
// RECOMPUTE-CPU: math.exp
