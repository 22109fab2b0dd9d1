"""The layers of the package import only downward: tools -> frontends -> runtime -> passes -> dialects.

`girflow.errors` and `girflow.runtime.cache_dir` (the one cache location, a leaf module) sit below
everything. Imports under `if __name__ == "__main__":` are entry points,
not layering, and are not counted.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# layer -> the girflow layers it may import (besides itself and girflow.errors)
ALLOWED = {
    "dialects": set(),
    "passes": {"dialects"},
    "runtime": {"passes", "dialects"},
    "frontends": {"runtime", "passes", "dialects"},
    "tools": {"frontends", "runtime", "passes", "dialects"},
}


def _is_main_guard(node: ast.AST) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__")


def _imports(tree: ast.AST):
    stack = [tree]
    while stack:
        node = stack.pop()
        if _is_main_guard(node):
            continue
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        stack.extend(ast.iter_child_nodes(node))


def _violations(layer: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for name in _imports(ast.parse(path.read_text(), str(path))):
            parts = name.split(".")
            if parts[0] != "girflow" or len(parts) < 2 or parts[1] in (layer, "errors"):
                continue
            if name == "girflow.runtime.cache_dir":
                continue
            if parts[1] not in ALLOWED[layer]:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    return bad


def test_imports_point_down():
    bad = [v for layer in ALLOWED for v in _violations(layer)]
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_no_cross_target_imports_inside_passes():
    """A target folder (cpu, nvidia, amd, mlu) uses shared passes and the shared GPU layer, never
    another target's folder; emulators are shared by all."""
    targets = {"cpu", "nvidia", "amd", "mlu"}
    bad = []
    for target in targets:
        for path in sorted((ROOT / "passes" / target).rglob("*.py")):
            for name in _imports(ast.parse(path.read_text(), str(path))):
                parts = name.split(".")
                if parts[:2] == ["girflow", "passes"] and len(parts) > 2 and parts[2] in targets - {target}:
                    bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)
