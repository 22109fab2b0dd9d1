// RUN: gir-opt %s --split-input-file --verify-diagnostics --mlu-check-capacity

// Hand-written MLU form: the checker names the buffer and the sizes.
func.func @k(%a: memref<4x64xf32>) attributes {mlu.target = "mlu370"} {
  %b = "mlu.alloc"() {space = "NRAM", name = "a_tile"} : () -> memref<512x256xf32>
  // expected-error @below {{NRAM overflow: buffer 'b_tile' (512x256 f32 = 524288 bytes) brings NRAM use to 1048576 bytes; capacity of 'mlu370' is 786432 bytes}}
  %c = "mlu.alloc"() {space = "NRAM", name = "b_tile"} : () -> memref<512x256xf32>
  return
}

// -----

func.func @k2(%a: memref<4x64xf32>) attributes {mlu.target = "mlu370"} {
  // expected-error @below {{buffer 'odd' rows of 33 x f32 are not a multiple of 128 bytes (vector alignment rule of 'mlu370')}}
  %b = "mlu.alloc"() {space = "NRAM", name = "odd"} : () -> memref<4x33xf32>
  return
}
