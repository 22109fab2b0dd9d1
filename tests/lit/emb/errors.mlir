// RUN: gir-opt %s --split-input-file --verify-diagnostics
// RUN: gir-opt %s --split-input-file --verify-diagnostics --emb-lower-to-runtime

// Pooling modes are an IRDL enum.
func.func @bad_mode(%t: i64, %ids: memref<?xi64>, %off: memref<?xi64>, %out: memref<?x8xf32>) {
  // expected-error @+1 {{}}
  "emb.lookup"(%t, %ids, %off, %out) {mode = "max"} : (i64, memref<?xi64>, memref<?xi64>, memref<?x8xf32>) -> ()
  return
}

// -----

// Optimisers too.
func.func @bad_optimizer() {
  // expected-error @+1 {{}}
  %t = "emb.table"() {rows = 10 : i64, max_dim = 16 : i64, chunk = 8 : i64, init_dim = 16 : i64, optimizer = "adam", lr = 0.1 : f64, seed = 0 : i64} : () -> i64
  return
}
