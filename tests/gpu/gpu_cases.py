"""The kernels the device tests run (tests/gpu/test_cuda_bundle.py), for `girflow gpu bundle --cases`:
every operator of gpu_ops.OPS in float32 (default launch, one row per block for row programs, 1 and
32 thread rows per column for column programs),
in float16 and bfloat16 storage, softmax at odd shapes, and softmax over the GPU launch space.
A case's reference names a program of gpu_ops, evaluated by PyTorch on the GPU."""
from gpu_ops import OPS, softmax  # noqa: F401  (softmax: named by the odd-shape and launch cases)

ODD_SHAPES = [(1, 1), (5, 3), (9, 1025), (3, 4100), (3, 8196), (2, 40000), (2, 3, 4, 8)]
LAUNCH_SHAPES = [(5, 3), (9, 100), (3, 700)]
LAUNCHES = [{"schedule": "warp", "rows_per_block": 1}, {"schedule": "warp", "rows_per_block": 8},
            {"schedule": "block", "block_threads": 64}, {"schedule": "block", "block_threads": 512}, "model:1"]
HALF = ("float16", "bfloat16")


def _inits(shapes, domain):
    return ["positive" if domain == "positive" else "normal"] * len(shapes)


def _examples(shapes, dtype):
    if dtype == "float32":
        return list(shapes)
    import torch

    return [torch.empty(s, dtype=getattr(torch, dtype)) for s in shapes]


def bundle_cases() -> list[dict]:
    cases = []
    for name, fn, shapes, domain in OPS:
        ref = {"kind": "gpu_ops", "name": name}
        cases.append({"name": name, "group": "test", "fn": fn, "examples": _examples(shapes, "float32"),
                      "inits": _inits(shapes, domain), "reference": ref,
                      "launches": ["default", {"schedule": "block"}, {"column_split": 1}, {"column_split": 32}]})
        for dt in HALF:
            cases.append({"name": name, "group": "half", "fn": fn, "examples": _examples(shapes, dt),
                          "inits": _inits(shapes, domain), "reference": ref, "launches": ["default"]})
    for shape in ODD_SHAPES:
        cases.append({"name": "softmax", "group": "odd", "fn": softmax, "examples": [shape], "inits": ["normal"],
                      "reference": {"kind": "gpu_ops", "name": "softmax"},
                      "launches": ["default", {"schedule": "block"}]})
    for shape in LAUNCH_SHAPES:
        cases.append({"name": "softmax", "group": "launch", "fn": softmax, "examples": [shape], "inits": ["normal"],
                      "reference": {"kind": "gpu_ops", "name": "softmax"}, "launches": list(LAUNCHES)})
    return cases
