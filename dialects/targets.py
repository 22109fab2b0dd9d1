"""Target descriptions: one JSON file per target under dialects/targets/ (data, not code).

A description names the hardware units work maps onto, the memory levels with capacities and
bandwidths, vector width and alignment. Backends add a description; passes read it by name.
Values written "host" are resolved from the running machine.
"""
from __future__ import annotations

import functools
import json
import os
from pathlib import Path

_DIR = Path(__file__).parent / "targets"


def available() -> list[str]:
    return sorted(p.stem for p in _DIR.glob("*.json"))


def _host_vector_bits() -> int:
    try:
        import llvmlite.binding as llvm

        features = llvm.get_host_cpu_features()
        if features.get("avx512f"):
            return 512
        if features.get("avx2") or features.get("avx"):
            return 256
    except Exception:  # llvmlite missing or unable to read the host: SSE is always there on x86-64
        pass
    return 128


def _host_last_level_cache() -> int | None:
    """Bytes of the host's largest cache (Linux sysfs), None where it cannot be read."""
    sizes = []
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            text = (index / "size").read_text().strip().upper()
            level = int((index / "level").read_text())
        except (OSError, ValueError):
            continue
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if digits.isdigit():
            sizes.append((level, int(digits) * scale))
    return max(sizes)[1] if sizes else None


def _resolve_host(desc: dict) -> dict:
    for name, level in list(desc.get("memory_levels", {}).items()):
        if level.get("capacity_bytes") == "host":
            size = _host_last_level_cache()
            if size is None:                 # unknown: the model does without this level
                del desc["memory_levels"][name]
            else:
                level["capacity_bytes"] = size
    if desc.get("vector_bits") == "host":
        desc["vector_bits"] = int(os.environ.get("GIRFLOW_VECTOR_BITS", _host_vector_bits()))
    if desc.get("register_file_bytes") == "host":   # 16 vector registers (32 with AVX-512)
        desc["register_file_bytes"] = (32 if desc["vector_bits"] >= 512 else 16) * desc["vector_bits"] // 8
    units = desc.get("units", {})
    if units.get("core") == "host":
        units["core"] = len(os.sched_getaffinity(0))
    if units.get("simd_lane") == "host":
        units["simd_lane"] = desc["vector_bits"] // 32
    return desc


@functools.lru_cache(maxsize=None)
def _load(name: str) -> str:
    path = _DIR / f"{name}.json"
    if not path.exists():
        raise ValueError(f"unknown target '{name}'; known targets: {', '.join(available())}")
    return json.dumps(_resolve_host(json.loads(path.read_text())))


def get(name: str) -> dict:
    """The description of target `name` (a fresh dict each call)."""
    return json.loads(_load(name))


def capacity(target: dict, level: str) -> int | None:
    levels = target["memory_levels"]
    if level not in levels:
        raise ValueError(f"target '{target['name']}' has no memory level '{level}'; "
                         f"it has {', '.join(levels)}")
    return levels[level]["capacity_bytes"]
