// RUN: gir-opt %s --emb-lower-to-runtime | FileCheck %s
// RUN: gir-opt %s --pass-pipeline='builtin.module(emb-lower-to-runtime,expand-strided-metadata,finalize-memref-to-llvm,convert-arith-to-llvm,convert-func-to-llvm,reconcile-unrealized-casts)' | FileCheck %s --check-prefix=LLVM

// Runtime entry points are declared once; tables become pointer handles carried as i64.
// CHECK-DAG: func.func private @fiited_table_create(i64, i64, i64, i64, i64, f64, f64, f64, i64) -> !llvm.ptr
// CHECK-DAG: func.func private @fiited_lookup(!llvm.ptr, !llvm.ptr, i64, !llvm.ptr, i64, i64, !llvm.ptr) -> i32
// CHECK-DAG: func.func private @fiited_apply_gradients(!llvm.ptr, !llvm.ptr, i64, !llvm.ptr, i64, i64, !llvm.ptr) -> i32
// CHECK-DAG: func.func private @fiited_resize(!llvm.ptr, !llvm.ptr, !llvm.ptr, i64, i64, f64) -> i32
// CHECK-DAG: func.func private @fiited_record_status(i32)
// CHECK-LABEL: func.func @step
// CHECK-NOT: "emb.
// CHECK: %[[H:.*]] = call @fiited_table_create(
// CHECK: %[[HI:.*]] = llvm.ptrtoint %[[H]] : !llvm.ptr to i64
// Pooled lookup: ids / offsets / out pass as aligned base pointers with their lengths; mean = mode 1.
// CHECK: %[[TP:.*]] = llvm.inttoptr %[[HI]] : i64 to !llvm.ptr
// CHECK: memref.extract_aligned_pointer_as_index %arg0 : memref<?xi64> -> index
// CHECK: memref.dim %arg0
// CHECK: %[[RC:.*]] = call @fiited_lookup(%[[TP]],
// CHECK: call @fiited_record_status(%[[RC]])
// CHECK: %[[RC2:.*]] = call @fiited_apply_gradients(
// CHECK: call @fiited_record_status(%[[RC2]])
// CHECK: call @fiited_resize(
// CHECK: call @fiited_table_destroy(
// CHECK-NOT: "emb.

// LLVM-LABEL: llvm.func @step
// LLVM: llvm.call @fiited_table_create
// LLVM: llvm.call @fiited_lookup
// LLVM: llvm.call @fiited_apply_gradients
func.func @step(%ids: memref<?xi64>, %offsets: memref<?xi64>, %out: memref<?x16xf32>, %grad: memref<?x16xf32>,
                %rows: memref<?xi64>, %dims: memref<?xi64>) {
  %t = "emb.table"() {rows = 100 : i64, max_dim = 16 : i64, chunk = 8 : i64, init_dim = 16 : i64,
                      optimizer = "sgd", lr = 0.5 : f64, seed = 0 : i64} : () -> i64
  "emb.lookup"(%t, %ids, %offsets, %out) {mode = "mean"} : (i64, memref<?xi64>, memref<?xi64>, memref<?x16xf32>) -> ()
  "emb.apply_gradients"(%t, %ids, %offsets, %grad) {mode = "mean"} : (i64, memref<?xi64>, memref<?xi64>, memref<?x16xf32>) -> ()
  "emb.adjust_dims"(%t, %rows, %dims) : (i64, memref<?xi64>, memref<?xi64>) -> ()
  "emb.destroy"(%t) : (i64) -> ()
  return
}
