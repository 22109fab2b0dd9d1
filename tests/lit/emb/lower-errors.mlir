// RUN: not gir-opt %s --split-input-file --emb-lower-to-runtime 2>&1 | FileCheck %s

// CHECK: error: emb.table needs rows > 0 and max_dim, init_dim multiples of chunk (8) with 0 <= init_dim <= max_dim; got rows=10 max_dim=12 init_dim=8
func.func @dims_not_chunked() {
  %t = "emb.table"() {rows = 10 : i64, max_dim = 12 : i64, chunk = 8 : i64, init_dim = 8 : i64, optimizer = "sgd", lr = 0.1 : f64, seed = 0 : i64} : () -> i64
  return
}

// -----

// CHECK: error: out has 8 columns but the table's max_dim is 16
func.func @width_mismatch(%ids: memref<?xi64>, %off: memref<?xi64>, %out: memref<?x8xf32>) {
  %t = "emb.table"() {rows = 10 : i64, max_dim = 16 : i64, chunk = 8 : i64, init_dim = 16 : i64, optimizer = "sgd", lr = 0.1 : f64, seed = 0 : i64} : () -> i64
  "emb.lookup"(%t, %ids, %off, %out) {mode = "sum"} : (i64, memref<?xi64>, memref<?xi64>, memref<?x8xf32>) -> ()
  return
}

// -----

// CHECK: error: ids must be a rank-1 memref of i64, got memref<?xi32>
func.func @ids_i32(%t: i64, %ids: memref<?xi32>, %off: memref<?xi64>, %out: memref<?x8xf32>) {
  "emb.lookup"(%t, %ids, %off, %out) {mode = "sum"} : (i64, memref<?xi32>, memref<?xi64>, memref<?x8xf32>) -> ()
  return
}
// CHECK-NOT: Traceback
