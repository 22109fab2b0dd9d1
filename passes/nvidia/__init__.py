"""NVIDIA target: gpu dialect -> NVVM -> PTX (llvmlite, libdevice) -> cubin (ptxas)."""
