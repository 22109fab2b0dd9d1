"""GPU lowering shared by NVIDIA and AMD: GIR -> gpu dialect kernels, LLVM translation, compile driver."""
