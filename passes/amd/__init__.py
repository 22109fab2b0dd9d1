"""AMD target: gpu dialect -> ROCDL -> AMDGCN assembly and code object (llvmlite)."""
