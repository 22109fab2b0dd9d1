"""Linking a JIT kernel safely: every symbol it needs must resolve before it can be called.

The MLIR ExecutionEngine links lazily; when a kernel references a symbol the process lacks (for
example a compiler-runtime helper such as `__truncsfbf2`, only in libgcc from GCC 13 on), LLVM prints
"JIT session error: Symbols not found" to the C-level stderr and the lookup returns address 0 —
calling that crashes the interpreter. `lookup_entry` turns this into a `JitLinkError` naming the
symbols and the kernel, and `undefined_symbols` lists what a linked kernel takes from the process,
so tests can hold every kernel to libc/libm.
"""
from __future__ import annotations

import os
import re
import struct
import tempfile

from torch_mlir import execution_engine


class JitLinkError(RuntimeError):
    """A compiled kernel references symbols that this process cannot resolve."""

    def __init__(self, kernel: str, symbols: list[str], detail: str = ""):
        self.kernel, self.symbols = kernel, symbols
        named = ", ".join(symbols) if symbols else "unknown symbols"
        super().__init__(f"kernel '{kernel}' cannot be linked: {named} not found in this process"
                         + (f" ({detail})" if detail else ""))


def _capture_stderr(fn):
    """Run `fn()` with file descriptor 2 redirected; returns (result, what was written there)."""
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            result = fn()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        return result, sink.read().decode(errors="replace")


def lookup_entry(engine: execution_engine.ExecutionEngine, name: str, kernel: str) -> int:
    """The address of `name`, materialising the module; raises JitLinkError instead of returning 0."""
    address, log = _capture_stderr(lambda: engine.raw_lookup(name))
    missing = [s.strip() for group in re.findall(r"Symbols not found: \[([^\]]*)\]", log)
               for s in group.split(",") if s.strip()]
    if missing or not address:
        raise JitLinkError(kernel, missing, "" if missing else log.strip() or f"no address for '{name}'")
    if log.strip():
        os.write(2, log.encode())   # anything else LLVM said is passed on, not swallowed
    return address


def undefined_symbols(engine: execution_engine.ExecutionEngine) -> set[str]:
    """Names a linked kernel imports from the process (the undefined symbols of its object code)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "kernel.o")
        engine.dump_to_object_file(path)
        with open(path, "rb") as f:
            return _elf_undefined(f.read())


def _elf_undefined(data: bytes) -> set[str]:
    """Undefined named symbols of a little-endian ELF64 relocatable object (what the JIT emits)."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a little-endian ELF64 object")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    # section header: name, type, flags, addr, offset, size, link, info, addralign, entsize
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names = set()
    for sec in sections:
        if sec[1] != 2:   # SHT_SYMTAB
            continue
        strtab_offset = sections[sec[6]][4]
        for at in range(sec[4], sec[4] + sec[5], 24):
            name, _info, _other, shndx, _value, _size = struct.unpack_from("<IBBHQQ", data, at)
            if shndx == 0 and name:   # SHN_UNDEF
                start = strtab_offset + name
                names.add(data[start:data.index(b"\0", start)].decode())
    return names
