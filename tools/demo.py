"""`girflow demo`: the main job on embedded defaults, one section per product part.

GIR compiles the headline operators for the CPU, checks them against PyTorch and measures their
bandwidth beside a plain copy; FIITED trains a small DLRM on generated Criteo-format data; Mirror
builds the demo database and answers questions with the embedded model.
"""
from __future__ import annotations

SECTIONS = ("gir", "fiited", "mirror")


def configure(p):
    p.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections")


def gir_section() -> None:
    import torch

    import girflow
    from girflow.frontends import ops
    from girflow.tools.bench import bench_operator

    print("== GIR: memory-bound operators compiled for this CPU ==")
    print(girflow.trace(ops.softmax, (8192, 4096)))
    for name in ("softmax", "layernorm", "rmsnorm", "bias_gelu", "swiglu"):
        args = ops.example_args(name, 8192, 4096)
        got = girflow.compile(ops.OPERATORS[name][0])(*args)
        torch.testing.assert_close(got, ops.reference(name)(*args), atol=2e-5, rtol=2e-5)
        med, gbs = bench_operator(name, 8192, 4096, rounds=5, inductor=False)
        print(f"{name:10s} 8192x4096 f32: matches torch; {gbs['girflow']:6.1f} GB/s "
              f"({gbs['girflow'] / gbs['copy']:.0%} of a plain copy, {gbs['girflow'] / gbs['eager']:.1f}x torch eager)")


def fiited_section() -> None:
    """Generate a small Criteo-format data set and train full / PEP / FIITED side by side."""
    import os
    import tempfile

    from girflow.tools.cli import main as girflow_main

    sizes = ",".join(str(n) for n in [20000, 10000] + [5000] * 4 + [2000] * 8 + [500] * 12)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "criteo_synthetic.tsv")
        for argv in (["fiited", "gen-data", data, "--samples", "40000", "--table-sizes", sizes],
                     ["fiited", "train", data, "--table-sizes", sizes, "--method", "all", "--budget", "0.2",
                      "--adjust-every", "5", "--no-progress"]):
            if girflow_main(argv) != 0:
                raise SystemExit(f"girflow {' '.join(argv[:2])} failed")


def run(args) -> int:
    chosen = args.only or list(SECTIONS)
    if "gir" in chosen:
        gir_section()
    if "fiited" in chosen:
        print("\n== FIITED: embedding dimensions that follow importance ==")
        fiited_section()
    if "mirror" in chosen:
        from girflow.frontends.mirror import demo_main as mirror_demo

        print("\n== Mirror: questions to SQL with the embedded model ==")
        mirror_demo()
    return 0
