"""`girflow gpu`: NVIDIA kernels built ahead of time and run elsewhere.

    girflow gpu bundle --out DIR [--cases tests/gpu/gpu_cases.py] [--ops ..] [--shapes ..] [--candidates K]
        compile (no GPU needed) the benchmark's kernels, each with the launch model's K first launch
        shapes and girflow's default, plus the cases of any --cases file, into a kernel bundle
    girflow gpu check DIR        load and validate a bundle without running anything (no GPU needed)
    girflow gpu launch DIR IDS   launch the named cases once each (to profile them, e.g. under ncu)
    girflow gpu bench DIR [--csv F] [--summary F] [--budget-s S] [--no-inductor] [--ops ..]
        on a GPU: every launch candidate against torch eager, torch.compile and a copy (CUDA graphs)

`check` and `bench` import nothing of the compiler: they run where only torch and cuda-python are
installed (`python -m girflow.tools.cli gpu bench DIR`).
"""
from __future__ import annotations


def configure(p):
    sub = p.add_subparsers(dest="gpu_command", metavar="ACTION", required=True)
    b = sub.add_parser("bundle", help="compile kernels into a bundle folder (no GPU needed)")
    b.add_argument("--out", required=True, help="bundle folder (replaced if it holds a bundle)")
    b.add_argument("--cases", action="append", default=[], help="a Python file defining bundle_cases() (repeatable)")
    b.add_argument("--ops", default=None, help="benchmark operators (default: %(default)s = the standard set)")
    b.add_argument("--shapes", default="8192x4096,4096x1024,1024x1000", help="benchmark shapes ROWSxCOLS")
    b.add_argument("--candidates", type=int, default=4, help="launch-model candidates per benchmark case")
    b.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"],
                   help="storage type of the benchmark cases (default: %(default)s)")
    b.add_argument("--also", action="append", default=[], metavar="DTYPE:OPS",
                   help="more benchmark cases in another storage type, e.g. bfloat16:softmax,layernorm (repeatable)")
    b.add_argument("--no-bench", action="store_true", help="only the --cases kernels")
    b.add_argument("--target", default="nvidia_sm90", help="NVIDIA target description (default: %(default)s)")
    c = sub.add_parser("check", help="load and validate a bundle (no GPU needed)")
    c.add_argument("bundle")
    r = sub.add_parser("bench", help="time a bundle's benchmark kernels on a CUDA GPU")
    r.add_argument("bundle")
    r.add_argument("--csv", default="gpu_bench.csv", help="every contender of every case (written as it goes)")
    r.add_argument("--summary", default="gpu_bench_summary.csv", help="one row per case")
    r.add_argument("--budget-s", type=float, default=240.0, help="stop starting new cases after this long")
    r.add_argument("--no-inductor", action="store_true", help="skip torch.compile")
    r.add_argument("--ops", default=None, help="only these operators (comma-separated)")
    n = sub.add_parser("launch", help="launch bundle cases once each on a CUDA GPU (e.g. under ncu)")
    n.add_argument("bundle")
    n.add_argument("cases", help="comma-separated case ids (see manifest.json)")


def run(args) -> int:
    from girflow.errors import UserError
    from girflow.runtime.cuda_bundle import BundleError, load_bundle

    if args.gpu_command == "bundle":
        return _bundle(args)
    try:
        bundle = load_bundle(args.bundle)
    except BundleError as e:
        raise UserError(str(e))
    if args.gpu_command == "check":
        groups: dict = {}
        for case in bundle.cases:
            groups[case.group] = groups.get(case.group, 0) + 1
        _check_references(bundle)
        print(f"{args.bundle}: {len(bundle.cases)} kernels for {bundle.manifest['target']} "
              f"({', '.join(f'{g}: {n}' for g, n in groups.items())}); manifest, files and references valid")
        return 0
    from girflow.runtime.cuda_launch import gpu_available

    ok, why = gpu_available()
    if not ok:
        raise UserError(f"the GPU benchmark needs a CUDA GPU: {why}")
    if args.gpu_command == "launch":
        return _launch(bundle, args.cases.split(","))
    from girflow.tools.gpu_bench import bench_bundle

    ops = [o.strip() for o in args.ops.split(",")] if args.ops else None
    bench_bundle(bundle, args.csv, args.budget_s, not args.no_inductor, ops, summary_path=args.summary)
    return 0


def _launch(bundle, ids) -> int:
    """Each case once, on fresh inputs (a profiler such as ncu attaches to these launches)."""
    import torch

    from girflow.errors import UserError

    for cid in ids:
        try:
            case = bundle.by_id(cid.strip())
        except KeyError:
            raise UserError(f"no case {cid!r} in the bundle")
        launch = case.launcher()
        xs = [x.reshape(v) for x, v in zip(case.make_inputs(), case.input_views)]
        launch(*xs)
        torch.cuda.synchronize()
        print(f"launched {case.id}: {case.kernel} grid={tuple(case.grid)} block={tuple(case.block)}")
    return 0


def _check_references(bundle) -> None:
    """Every operator reference names a built-in operator (test-table references are the tests' job)."""
    from girflow.errors import UserError
    from girflow.frontends import ops

    for case in bundle.cases:
        ref = case.reference
        if ref["kind"] == "operator" and ref["name"] not in ops.OPERATORS:
            raise UserError(f"case {case.id}: unknown operator reference {ref['name']!r}")


def _bundle(args) -> int:
    from girflow.errors import UserError
    from girflow.tools.bench import _parse_shapes
    from girflow.tools.gpu_bundle import BENCH_OPS, bench_cases, build_bundle, load_case_file

    cases = []
    for path in args.cases:
        try:
            cases += load_case_file(path)
        except (FileNotFoundError, ValueError) as e:
            raise UserError(str(e))
    if not args.no_bench:
        from girflow.frontends import ops

        names = [o.strip() for o in args.ops.split(",")] if args.ops else list(BENCH_OPS)
        unknown = [n for n in names if n not in ops.OPERATORS]
        if unknown:
            raise UserError(f"unknown operator(s) {unknown}; known: {', '.join(sorted(ops.OPERATORS))}")
        shapes = _parse_shapes(args.shapes)
        cases += bench_cases(names, shapes, args.candidates, args.dtype)
        for spec in args.also:
            dtype, _, more = spec.partition(":")
            if dtype not in ("float32", "float16", "bfloat16") or not more:
                raise UserError(f"--also {spec!r}: write DTYPE:OP,OP (DTYPE float32, float16 or bfloat16)")
            extra = [o.strip() for o in more.split(",")]
            unknown = [n for n in extra if n not in ops.OPERATORS]
            if unknown:
                raise UserError(f"unknown operator(s) {unknown}; known: {', '.join(sorted(ops.OPERATORS))}")
            cases += bench_cases(extra, shapes, args.candidates, dtype)
    if not cases:
        raise UserError("nothing to build: give --cases or leave out --no-bench")
    try:
        manifest = build_bundle(args.out, cases, args.target)
    except (ValueError, FileExistsError) as e:
        raise UserError(str(e))
    size = sum(p.stat().st_size for p in __import__("pathlib").Path(args.out).rglob("*") if p.is_file())
    print(f"{args.out}: {len(manifest['cases'])} kernels for {manifest['target']}, {size / 2**20:.1f} MiB")
    return 0
