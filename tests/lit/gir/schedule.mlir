// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --gir-schedule="target=cpu tasks=2 unroll=2" | FileCheck %s
// RUN: gir-opt %S/Inputs/softmax_4x37.mlir --gir-schedule="target=cpu materialize=never" | FileCheck %s --check-prefix=NEVER
// RUN: not gir-opt %S/Inputs/softmax_4x37.mlir --gir-schedule="target=tpu" 2>&1 | FileCheck %s --check-prefix=BADTARGET

// exp(x - max) is computed in the sum sweep and reused by the output sweep: it is worth keeping
// in the per-core row buffer rather than recomputing.
// CHECK: func.func @softmax{{.*}}gir.schedule = {materialize = 1 : i64, one_pass = {{[01]}} : i64, rows_per_task = 2 : i64, streaming_stores = {{[01]}} : i64, tasks = 2 : i64, unroll = 2 : i64, vector_width = {{[0-9]+}} : i64}, gir.schedule_source = "options", gir.target = "cpu"
// CHECK: = "gir.sub"(%arg0, %{{[0-9]+}}) : (tensor
// CHECK: = "gir.exp"(%{{[0-9]+}}) {gir.materialize = "local"} : (tensor

// NEVER-NOT: gir.materialize

// BADTARGET: error: unknown target 'tpu'; known targets: {{.*}}cpu
