"""CPU target: GIR -> forall/vector/memref kernels, outlined per-core tasks (LLVM JIT by runtime/cpu.py)."""
