// RUN: gir-opt %s | FileCheck %s
// RUN: gir-opt %s | gir-opt | FileCheck %s

// The emb ops print in generic form and survive a round trip.
// CHECK-LABEL: func.func @train_step
// CHECK: %[[T:.*]] = "emb.table"() {chunk = 8 : i64, init_dim = 16 : i64, lr = 5.000000e-02 : f64, max_dim = 32 : i64, optimizer = "adagrad", rows = 1000 : i64, seed = 3 : i64} : () -> i64
// CHECK: "emb.lookup"(%[[T]], %arg0, %arg1, %arg2) {mode = "mean"} : (i64, memref<?xi64>, memref<?xi64>, memref<?x32xf32>) -> ()
// CHECK: "emb.apply_gradients"(%[[T]], %arg0, %arg1, %arg3) {mode = "mean"}
// CHECK: "emb.adjust_dims"(%[[T]], %arg4, %arg5) : (i64, memref<?xi64>, memref<?xi64>) -> ()
// CHECK: "emb.destroy"(%[[T]]) : (i64) -> ()
func.func @train_step(%ids: memref<?xi64>, %offsets: memref<?xi64>, %out: memref<?x32xf32>,
                      %grad: memref<?x32xf32>, %rows: memref<?xi64>, %dims: memref<?xi64>) {
  %t = "emb.table"() {rows = 1000 : i64, max_dim = 32 : i64, chunk = 8 : i64, init_dim = 16 : i64,
                      optimizer = "adagrad", lr = 0.05 : f64, seed = 3 : i64} : () -> i64
  "emb.lookup"(%t, %ids, %offsets, %out) {mode = "mean"} : (i64, memref<?xi64>, memref<?xi64>, memref<?x32xf32>) -> ()
  "emb.apply_gradients"(%t, %ids, %offsets, %grad) {mode = "mean"} : (i64, memref<?xi64>, memref<?xi64>, memref<?x32xf32>) -> ()
  "emb.adjust_dims"(%t, %rows, %dims) : (i64, memref<?xi64>, memref<?xi64>) -> ()
  "emb.destroy"(%t) : (i64) -> ()
  return
}
