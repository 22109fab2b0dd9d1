// RUN: gir-opt %S/Inputs/sum_first_300x20.mlir --gir-schedule="target=cpu tasks=2 split=4 unroll=1 vector_width=8" | FileCheck %s --check-prefix=SCHED
// RUN: gir-opt %S/Inputs/sum_first_300x20.mlir --pass-pipeline='builtin.module(gir-schedule{target=cpu tasks=2 split=4 unroll=1 vector_width=8},gir-lower-cpu)' | FileCheck %s --check-prefix=COL
// RUN: gir-opt %S/Inputs/sum_last_2x1000.mlir --pass-pipeline='builtin.module(gir-schedule{target=cpu tasks=4 split=3 unroll=2 vector_width=8},gir-lower-cpu,gir-outline-parallel,gir-task-driver)' | FileCheck %s --check-prefix=ROW
// RUN: not gir-opt %S/Inputs/softmax_4x37.mlir --gir-schedule="target=cpu split=2" 2>&1 | FileCheck %s --check-prefix=NOSPLIT

// The reduced axis of a column sum cut into 4 parts of 75 rows: 3 column blocks x 4 parts = 12
// items, 6 per task. The schedule states the split and the rows of each part.
// SCHED: gir.schedule = {blocks_per_task = 6 : i64, part_rows = 75 : i64, split = 4 : i64, tasks = 2 : i64, unroll = 1 : i64, vector_width = 8 : i64}

// Each item sums one part of one column block into the workspace (the kernel's last parameter,
// [parts, A, B]); after the tasks, the combine function adds the parts in part order and writes
// the output.
// COL-LABEL: func.func @sum_first(%arg0: memref<1x300x20xf32>, %arg1: memref<1x1x20xf32>, %arg2: memref<4x1x20xf32>)
// COL: scf.forall
// COL: %[[PART:.*]] = arith.divui %{{.*}}, %c3 : index
// COL: arith.muli %[[PART]], %c75 : index
// COL: vector.store %{{.*}}, %arg2[%[[PART]], %{{.*}}, %{{.*}}] : memref<4x1x20xf32>, vector<8xf32>
// COL: {gir.unit = "core"}
// COL-NEXT: call @sum_first_combine(%arg0, %arg1, %arg2)
// COL: func.func @sum_first_combine(%arg0: memref<1x300x20xf32>, %arg1: memref<1x1x20xf32>, %arg2: memref<4x1x20xf32>) attributes {gir.combine_of = "sum_first"
// COL: %[[P0:.*]] = vector.load %arg2[%c0, %{{.*}}, %{{.*}}]
// COL: %[[P1:.*]] = vector.load %arg2[%c1, %{{.*}}, %{{.*}}]
// COL: %[[P2:.*]] = vector.load %arg2[%c2, %{{.*}}, %{{.*}}]
// COL: %[[P3:.*]] = vector.load %arg2[%c3, %{{.*}}, %{{.*}}]
// COL: %[[S01:.*]] = arith.addf %[[P0]], %[[P1]]
// COL: %[[S012:.*]] = arith.addf %[[S01]], %[[P2]]
// COL: %[[S:.*]] = arith.addf %[[S012]], %[[P3]]
// COL: vector.store %[[S]], %arg1

// A row sum of 2 rows x 1000 columns in 3 parts (336, 336 and 328 columns; every part but the
// last a whole number of 16-column steps): 6 items over 4 tasks. After outlining, the task driver
// runs the items and the runtime calls @sum_last_combine once the tasks are done.
// ROW: func.func @sum_last(%arg0: memref<2x1000xf32>, %arg1: memref<2x1xf32>, %arg2: memref<1x2x3xf32>)
// ROW: call @sum_last_task
// ROW: call @sum_last_combine(%arg0, %arg1, %arg2)
// ROW: func.func @sum_last_task(
// ROW: %[[PART:.*]] = arith.remui %{{.*}}, %c3 : index
// ROW: %[[BASE:.*]] = arith.muli %[[PART]], %c336 : index
// ROW: scf.if
// ROW: memref.store %{{.*}}, %arg2[%c0, %{{.*}}, %[[PART]]] : memref<1x2x3xf32>
// ROW: } else {
// ROW: func.func @sum_last_tasks(
// ROW: func.func @sum_last_combine({{.*}}) attributes {gir.combine_of = "sum_last", gir.target = "cpu"}
// ROW: memref.load %arg2[%c0, %{{.*}}, %c0]
// ROW: memref.load %arg2[%c0, %{{.*}}, %c1]
// ROW: memref.load %arg2[%c0, %{{.*}}, %c2]
// ROW: memref.store %{{.*}}, %arg1[%{{.*}}, %c0] : memref<2x1xf32>

// NOSPLIT: error: split=2: only row programs whose outputs are per-row sum/mean/max/min reductions of one sweep can split their rows
