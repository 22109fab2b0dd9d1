"""A kernel bundle: NVIDIA kernels compiled ahead of time (`girflow gpu bundle`) with what it takes
to run and check them on a machine that has a GPU but no compiler (no MLIR, no llvmlite).

Layout of a bundle folder:
    manifest.json             {"format": 1, "target": ..., "arch": ..., "cases": [case, ...]}
    kernels/<case id>.cubin   ptxas output for the target's arch
    kernels/<case id>.ptx     the PTX it was assembled from (for reading; loaded only without cubin)

A case: one kernel of one program at one shape, dtype and launch shape, with
    id, group ("test" | "bench" | ...), op, dtype, shapes (user input shapes), inits (per input:
    "normal" | "positive" | "weight"), input_views / output_views (kernel argument shapes),
    output_shapes, kernel, grid, block, shared_bytes, schedule, launch (gir-to-gpu options),
    model (the launch model's rank and ns, and whether it is its first choice), default (what
    `girflow.compile(target="nvidia")` uses), ptxas (registers, spills, ...), reference
    ({"kind": "operator", "name": ...} = girflow.frontends.ops.reference, or a test-table name),
    bytes (read + written by one launch).

Needs only the standard library here; `case.launcher()` needs torch + cuda-python.
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

FORMAT = 1
INITS = ("normal", "positive", "weight")
_ITEMSIZE = {"float32": 4, "float16": 2, "bfloat16": 2}


class BundleError(ValueError):
    """The bundle folder is missing, incomplete or inconsistent."""


@dataclasses.dataclass
class Case:
    root: Path
    spec: dict

    def __getattr__(self, name):
        try:
            return self.spec[name]
        except KeyError:
            raise AttributeError(name)

    @property
    def image(self) -> bytes:
        """The cubin, else the PTX (NUL-terminated, compiled by the driver at load)."""
        if self.spec.get("cubin"):
            return (self.root / self.spec["cubin"]).read_bytes()
        return (self.root / self.spec["ptx"]).read_bytes() + b"\0"

    def launcher(self):
        from girflow.runtime.cuda_launch import KernelLaunch

        s = self.spec
        return KernelLaunch(self.image, s["kernel"], s["grid"], s["block"], s["shared_bytes"],
                            s["input_views"], s["output_views"], s["dtype"])

    def make_inputs(self, device="cuda", seed: int = 0) -> list:
        """Random torch inputs of the case (user shapes), never zeros: normal, positive or weight-like."""
        import torch

        g = torch.Generator(device=device).manual_seed(seed)
        out = []
        for shape, init in zip(self.spec["shapes"], self.spec["inits"]):
            t = torch.randn(tuple(shape), generator=g, device=device, dtype=torch.float32)
            if init == "positive":
                t = t.abs() + 0.1
            elif init == "weight":
                t = t * 0.5 + 1.0
            out.append(t.to(getattr(torch, self.spec["dtype"])))
        return out


@dataclasses.dataclass
class Bundle:
    root: Path
    manifest: dict
    cases: list

    def group(self, name: str) -> list:
        return [c for c in self.cases if c.group == name]

    def by_id(self, case_id: str) -> Case:
        for c in self.cases:
            if c.id == case_id:
                return c
        raise KeyError(case_id)


def case_bytes(spec: dict) -> int:
    """Bytes one launch must move: every input read once, every output written once."""
    size = _ITEMSIZE[spec["dtype"]]
    return size * (sum(math.prod(v) for v in spec["input_views"]) + sum(math.prod(v) for v in spec["output_views"]))


_REQUIRED = ("id", "group", "op", "dtype", "shapes", "inits", "input_views", "output_views", "kernel",
             "grid", "block", "shared_bytes", "reference", "ptxas")


def validate_case(root: Path, spec: dict) -> None:
    """Everything a launch relies on, checked without a GPU: fields, files, ELF/PTX headers,
    shapes consistent with views, launch limits."""
    cid = spec.get("id", "?")
    missing = [k for k in _REQUIRED if k not in spec]
    if missing:
        raise BundleError(f"case {cid}: missing fields {missing}")
    if spec["dtype"] not in _ITEMSIZE:
        raise BundleError(f"case {cid}: dtype {spec['dtype']!r} not supported")
    if len(spec["shapes"]) != len(spec["input_views"]) or len(spec["inits"]) != len(spec["shapes"]):
        raise BundleError(f"case {cid}: {len(spec['shapes'])} shapes, {len(spec['input_views'])} views, "
                          f"{len(spec['inits'])} inits")
    for s, v in zip(spec["shapes"], spec["input_views"]):
        if math.prod(s) != math.prod(v):
            raise BundleError(f"case {cid}: input shape {s} is no view of {v}")
    if any(i not in INITS for i in spec["inits"]):
        raise BundleError(f"case {cid}: unknown input init in {spec['inits']}")
    if not spec.get("cubin") and not spec.get("ptx"):
        raise BundleError(f"case {cid}: neither cubin nor ptx")
    if spec.get("cubin"):
        p = root / spec["cubin"]
        if not p.is_file() or p.read_bytes()[:4] != b"\x7fELF":
            raise BundleError(f"case {cid}: {spec['cubin']} is missing or not an ELF cubin")
    if spec.get("ptx"):
        p = root / spec["ptx"]
        if not p.is_file() or f".entry {spec['kernel']}" not in p.read_text():
            raise BundleError(f"case {cid}: {spec['ptx']} is missing or has no entry {spec['kernel']}")
    if len(spec["grid"]) != 3 or len(spec["block"]) != 3 or math.prod(spec["block"]) > 1024:
        raise BundleError(f"case {cid}: bad launch shape grid={spec['grid']} block={spec['block']}")
    ref = spec["reference"]
    if not isinstance(ref, dict) or "kind" not in ref or "name" not in ref:
        raise BundleError(f"case {cid}: reference must be {{kind, name}}, got {ref!r}")


def load_bundle(path) -> Bundle:
    root = Path(path)
    mf = root / "manifest.json"
    if not mf.is_file():
        raise BundleError(f"{root}: no manifest.json (build one with `girflow gpu bundle --out {root}`)")
    try:
        manifest = json.loads(mf.read_text())
    except json.JSONDecodeError as e:
        raise BundleError(f"{mf}: not JSON ({e})")
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{mf}: format {manifest.get('format')!r}, this girflow reads format {FORMAT}")
    ids = [c.get("id") for c in manifest.get("cases", [])]
    if len(set(ids)) != len(ids):
        raise BundleError(f"{mf}: duplicate case ids")
    for spec in manifest["cases"]:
        validate_case(root, spec)
    return Bundle(root, manifest, [Case(root, spec) for spec in manifest["cases"]])
