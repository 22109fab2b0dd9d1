"""Collects MLIR diagnostics and prints them the way mlir-opt does (`file:line:col: error: msg`)."""
from __future__ import annotations

import dataclasses
import re

from torch_mlir import ir

_LOC = re.compile(r'loc\("(?P<file>[^"]*)":(?P<line>\d+):(?P<col>\d+)\)')
_SEVERITY = {ir.DiagnosticSeverity.ERROR: "error", ir.DiagnosticSeverity.WARNING: "warning",
             ir.DiagnosticSeverity.NOTE: "note", ir.DiagnosticSeverity.REMARK: "remark"}


@dataclasses.dataclass
class Diag:
    severity: str
    message: str
    line: int | None
    col: int | None
    notes: list["Diag"]

    def format(self, filename: str, line_offset: int = 0) -> str:
        where = f"{filename}:{self.line + line_offset}:{self.col}: " if self.line else f"{filename}: "
        text = f"{where}{self.severity}: {self.message}"
        return "\n".join([text] + [n.format(filename, line_offset) for n in self.notes])


def to_diag(d) -> Diag:
    m = _LOC.search(str(d.location))
    line, col = (int(m["line"]), int(m["col"])) if m else (None, None)
    return Diag(_SEVERITY.get(d.severity, "error"), d.message, line, col, [to_diag(n) for n in d.notes])


class DiagnosticCollector:
    """Context manager capturing every diagnostic emitted in `context` (so none reach stderr raw)."""

    def __init__(self, context: ir.Context):
        self.context = context
        self.diags: list[Diag] = []

    def __enter__(self):
        self._handle = self.context.attach_diagnostic_handler(self._on)
        return self

    def _on(self, d) -> bool:
        self.diags.append(to_diag(d))
        return True

    def __exit__(self, *exc):
        self._handle.detach()
        return False
