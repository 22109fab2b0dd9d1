// RUN: gir-opt %s --split-input-file --gir-to-mlu='target=mlu370' | FileCheck %s
// RUN: gir-opt %s --split-input-file --gir-to-mlu='target=mlu370' --mlu-check-capacity | FileCheck %s
// RUN: gir-opt %s --split-input-file --gir-to-mlu='target=mlu370 schedule=naive' | FileCheck %s --check-prefix=NAIVE

// Fused: a tile of rows comes GDRAM->NRAM once, every op runs on it in NRAM, only y goes back.
// The [1, C] weight is staged once per cluster through SRAM by core 0, then a cluster barrier.
// CHECK-LABEL: func.func @rmsnorm_mlu(%{{.*}}: memref<64x300xf32>, %{{.*}}: memref<1x300xf32>, %{{.*}}: memref<64x300xf32>)
// CHECK-SAME: mlu.launch = {clusters = 8 : i64, cores_per_cluster = 4 : i64, tasks = 32 : i64}
// CHECK-SAME: mlu.schedule = "fused", mlu.target = "mlu370", mlu.tile = array<i64: 2>
// CHECK: "mlu.task_id"()
// CHECK: "mlu.alloc"() {name = "arg0", space = "NRAM"} : () -> memref<2x320xf32>
// CHECK: "mlu.alloc"() {name = "arg1_sram", space = "SRAM"} : () -> memref<1x320xf32>
// CHECK: "mlu.core_id"()
// CHECK: scf.if
// CHECK: "mlu.memcpy"({{.*}}) {direction = "GDRAM2SRAM"}
// CHECK: "mlu.sync_cluster"()
// CHECK: "mlu.memcpy"({{.*}}) {direction = "SRAM2NRAM"}
// CHECK: scf.for
// CHECK: "mlu.memcpy"({{.*}}) {direction = "GDRAM2NRAM"} : (memref<2x320xf32>, memref<64x300xf32>
// CHECK: "mlu.mul"
// CHECK: "mlu.reduce"({{.*}}) {axis = 1 : i64, kind = "sum"} : (memref<2x1xf32>, memref<2x320xf32>, index, index) -> ()
// CHECK: "mlu.active"({{.*}}) {fn = "rsqrt"}
// CHECK: "mlu.memcpy"({{.*}}) {direction = "NRAM2GDRAM"}
// CHECK-NOT: "mlu.memcpy"
// CHECK: "mlu.sync"()

// Naive: one stage per op, every intermediate through a GDRAM scratch buffer.
// NAIVE-LABEL: func.func @rmsnorm_mlu
// NAIVE-SAME: mlu.schedule = "naive"
// NAIVE: "mlu.alloc"() {name = "0_scratch", space = "GDRAM"} : () -> memref<64x300xf32>
// NAIVE-NOT: SRAM
// NAIVE: "mlu.memcpy"({{.*}}) {direction = "NRAM2GDRAM"}
// NAIVE: "mlu.launch_boundary"()
// NAIVE: "mlu.memcpy"({{.*}}) {direction = "GDRAM2NRAM"}
func.func @rmsnorm(%x: tensor<64x300xf32>, %w: tensor<1x300xf32>) -> tensor<64x300xf32> attributes {gir.form = "row"} {
  %x2 = "gir.mul"(%x, %x) : (tensor<64x300xf32>, tensor<64x300xf32>) -> tensor<64x300xf32>
  %ms = "gir.reduce"(%x2) {kind = "mean", axis = 1 : i64} : (tensor<64x300xf32>) -> tensor<64x1xf32>
  %eps = "gir.splat"() {value = 1.0e-6 : f32} : () -> tensor<1x1xf32>
  %eb = "gir.broadcast"(%eps) : (tensor<1x1xf32>) -> tensor<64x1xf32>
  %a = "gir.add"(%ms, %eb) : (tensor<64x1xf32>, tensor<64x1xf32>) -> tensor<64x1xf32>
  %r = "gir.rsqrt"(%a) : (tensor<64x1xf32>) -> tensor<64x1xf32>
  %rb = "gir.broadcast"(%r) : (tensor<64x1xf32>) -> tensor<64x300xf32>
  %n = "gir.mul"(%x, %rb) : (tensor<64x300xf32>, tensor<64x300xf32>) -> tensor<64x300xf32>
  %wb = "gir.broadcast"(%w) : (tensor<1x300xf32>) -> tensor<64x300xf32>
  %y = "gir.mul"(%n, %wb) : (tensor<64x300xf32>, tensor<64x300xf32>) -> tensor<64x300xf32>
  return %y : tensor<64x300xf32>
}

// -----

// Column programs: a unit is (a, chunk of b); K rows are moved with one strided 2-D memcpy.
// CHECK-LABEL: func.func @colsum_mlu
// CHECK: "mlu.memcpy"({{.*}}) {direction = "GDRAM2NRAM"} : (memref<33x64xf32>, memref<1x33x20xf32>
// CHECK: "mlu.reduce"({{.*}}) {axis = 0 : i64, kind = "sum"} : (memref<1x64xf32>, memref<33x64xf32>, index, index) -> ()
func.func @colsum(%x: tensor<1x33x20xf32>) -> tensor<1x1x20xf32> attributes {gir.form = "column"} {
  %s = "gir.reduce"(%x) {kind = "sum", axis = 1 : i64} : (tensor<1x33x20xf32>) -> tensor<1x1x20xf32>
  return %s : tensor<1x1x20xf32>
}

// -----

// CHECK-LABEL: func.func @tr_mlu
// CHECK: "mlu.transpose"
func.func @tr(%x: tensor<70x37xf32>) -> tensor<37x70xf32> attributes {gir.form = "transpose"} {
  %t = "gir.transpose"(%x) {permutation = array<i64: 1, 0>} : (tensor<70x37xf32>) -> tensor<37x70xf32>
  return %t : tensor<37x70xf32>
}
