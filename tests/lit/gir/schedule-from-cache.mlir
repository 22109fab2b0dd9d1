// RUN: rm -rf %t && mkdir -p %t
// RUN: env GIRFLOW_CACHE_DIR=%t gir-opt %S/Inputs/softmax_4x37.mlir --gir-schedule="target=cpu from-cache=1" | FileCheck %s --check-prefix=EMPTY
// RUN: env GIRFLOW_CACHE_DIR=%t %python %S/Inputs/store_schedule.py %S/Inputs/softmax_4x37.mlir tasks=3 unroll=2 vector_width=4 streaming=1 materialize=0
// RUN: env GIRFLOW_CACHE_DIR=%t gir-opt %S/Inputs/softmax_4x37.mlir --gir-schedule="target=cpu from-cache=1" | FileCheck %s
// RUN: env GIRFLOW_CACHE_DIR=%t gir-opt %S/Inputs/softmax_4x37.mlir --gir-schedule="target=cpu from-cache=1 unroll=8" | FileCheck %s --check-prefix=OVERRIDE
// RUN: env GIRFLOW_CACHE_DIR=%t gir-opt %S/Inputs/softmax_4x37.mlir --gir-schedule="target=cpu" | FileCheck %s --check-prefix=EMPTY

// Without a tuning-cache entry (or without from-cache=1) the cost model's first choice applies.
// EMPTY: gir.schedule_source = "model"

// With one, its measured choice: 3 tasks of 2 rows, 4 lanes unrolled twice, streaming stores,
// exp(x - max) recomputed in the last sweep instead of kept in a row buffer.
// CHECK: gir.schedule = {materialize = 0 : i64, one_pass = 0 : i64, rows_per_task = 2 : i64, streaming_stores = 1 : i64, tasks = 3 : i64, unroll = 2 : i64, vector_width = 4 : i64}, gir.schedule_source = "cache"
// CHECK-NOT: gir.materialize

// Options given explicitly still win over the cache.
// OVERRIDE: tasks = 3 : i64, unroll = 8 : i64{{.*}}gir.schedule_source = "cache+options"
