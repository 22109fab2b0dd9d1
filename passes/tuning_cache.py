"""The persistent tuning cache: the measured best schedule per program, shape class, dtype,
target and CPU model, one JSON file per key under girflow's cache folder (`tuning/`).

The *program* is the GIR function with its name and tensor sizes erased (what it computes and how
operands broadcast); the *shape class* rounds each dimension of the kernel view up to a power of
two, so 1000 and 1024 columns share a tuning while 64 and 4096 never do. The CPU model is read
from the machine, so a cache copied to another host is not applied there.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import tempfile

from girflow.runtime.cache_dir import cache_dir  # a leaf module: where girflow caches anything

FORMAT = 4     # 2: timings with the native task pool (parallel candidates measured under the
               # old Python helper threads paid their wake-up latency); 3: parallel calls on
               # torch's OpenMP team where torch is loaded; 4: the space splits reduced axes


@functools.lru_cache(maxsize=None)
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _shape_class(view) -> str:
    return "x".join(str(1 << max(0, int(d) - 1).bit_length()) for d in view)


def program_text(func) -> str:
    """What the function computes, without its name, tensor sizes or girflow's own annotations:
    each op with its attributes and operands (arguments by position and broadcast kind)."""
    block = func.regions[0].blocks[0]
    full = [max(d) for d in zip(*[list(a.type.shape) for a in block.arguments])]
    names = {}
    for i, a in enumerate(block.arguments):
        shape = list(a.type.shape)
        kind = "".join("f" if d == f and f != 1 else "1" for d, f in zip(shape, full))
        names[a.get_name()] = f"arg{i}:{kind}:{str(a.type).rsplit('x', 1)[-1]}"
    lines = []
    for n, op in enumerate(block.operations):
        op = op.operation
        keys = [a if isinstance(a, str) else a.name for a in op.attributes]
        attrs = sorted(f"{k}={op.attributes[k]}" for k in keys if not k.startswith("gir.") and k != "sym_name")
        lines.append(f"{op.name}({','.join(names.get(v.get_name(), '?') for v in op.operands)}){attrs}")
        for r in op.results:
            names[r.get_name()] = f"%{n}"
    return ";".join(lines)


def key_fields(df, desc: dict) -> dict:
    block = df.func.regions[0].blocks[0]
    dtypes = sorted({str(a.type).rsplit("x", 1)[-1].rstrip(">") for a in block.arguments})
    return {"format": FORMAT, "program": hashlib.sha256(program_text(df.func).encode()).hexdigest()[:20],
            "form": df.form, "shape_class": _shape_class(df.view), "dtype": ",".join(dtypes),
            "target": desc["name"], "vector_bits": desc["vector_bits"], "cores": int(desc["units"].get("core", 1)),
            "cpu": cpu_model() if desc.get("kind") == "cpu" else desc.get("arch", desc["name"])}


def key(df, desc: dict) -> str:
    return hashlib.sha256(json.dumps(key_fields(df, desc), sort_keys=True).encode()).hexdigest()[:24]


def _path(k: str):
    return cache_dir("tuning") / f"{k}.json"


def lookup(df, desc: dict) -> dict | None:
    """The cached entry ({"schedule": knobs, "measured": [...], ...}) or None."""
    try:
        with open(_path(key(df, desc))) as f:
            entry = json.load(f)
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) and isinstance(entry.get("schedule"), dict) else None


def store(df, desc: dict, entry: dict) -> str:
    """Write `entry` for this program/shape class/target atomically; returns the file path."""
    path = _path(key(df, desc))
    entry = {**entry, "key": key_fields(df, desc)}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(entry, f, indent=1, sort_keys=True)
    os.replace(tmp, path)
    return str(path)
