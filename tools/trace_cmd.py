"""`girflow trace`: show the GIR of a built-in operator and, optionally, the IR after every pass.

    girflow trace softmax --shape 8192x4096
    girflow trace layernorm --shape 64x1000 --print-stages          # the CPU pipeline, pass by pass
    girflow trace rmsnorm --shape 4x128 --pipeline 'gir-dataflow,gir-schedule{target=cpu}'
    girflow trace softmax --shape 1024x4096 --target nvidia_sm90    # compile and report the kernel
    girflow trace softmax --shape 128x768 --print-stages --tune     # time the schedule candidates first
"""
from __future__ import annotations


def configure(p):
    p.add_argument("operator", help="a built-in operator (see --list)", nargs="?")
    p.add_argument("--shape", default="4x64", help="ROWSxCOLS of the main input (default: %(default)s)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    p.add_argument("--pipeline", default=None, help="run this pipeline and print the result")
    p.add_argument("--print-stages", action="store_true", help="print the IR after each pass of the CPU pipeline")
    p.add_argument("--list", action="store_true", help="list the built-in operators")
    p.add_argument("--tune", action="store_true",
                   help="with --print-stages: time the best schedule candidates now (fills the tuning cache)")
    p.add_argument("--target", default=None,
                   help="also compile for this target description and print the backend's kernel report")


def run(args) -> int:
    import torch

    import girflow
    from girflow.dialects import make_context
    from girflow.errors import UserError
    from girflow.frontends import ops
    from girflow.passes.registry import PIPELINES, build_pass_manager
    from girflow.tools.bench import _parse_shapes

    if args.list or not args.operator:
        print("\n".join(sorted(ops.OPERATORS)))
        return 0
    if args.operator not in ops.OPERATORS:
        raise UserError(f"unknown operator '{args.operator}'; known: {', '.join(sorted(ops.OPERATORS))}")
    (rows, cols), = _parse_shapes(args.shape)
    fn, _ = ops.OPERATORS[args.operator]
    example = ops.example_args(args.operator, rows, cols, dtype=getattr(torch, args.dtype))
    traced = girflow.trace(fn, *example)
    print(traced.mlir)
    if args.target:
        from girflow.dialects import targets
        from girflow.runtime.compiled import kernel_for

        try:
            targets.get(args.target)
        except ValueError as e:
            raise UserError(str(e))
        kernel = kernel_for(traced.mlir, traced, args.target)
        report = kernel.report() if hasattr(kernel, "report") else kernel.kernel_ir
        print(f"// kernel for target '{args.target}':\n{report}")
    if not (args.pipeline or args.print_stages):
        return 0
    from torch_mlir import ir

    if args.print_stages and not args.pipeline:
        _print_candidates(traced, args.tune)
    ctx = make_context()
    with ctx, ir.Location.unknown():
        module = ir.Module.parse(traced.mlir)
        # what runs: a tuned schedule from the cache when there is one, else the model's first choice
        pipeline = args.pipeline or PIPELINES["gir-cpu-pipeline"].replace(
            "gir-schedule{target=cpu}", "gir-schedule{target=cpu from-cache=1}")
        pm = build_pass_manager(pipeline, ctx, print_ir_after_all=args.print_stages)
        try:
            pm.run(module.operation)
        except ir.MLIRError as e:
            raise UserError(str(e))
        if not args.print_stages:
            print(module)
    return 0


def _print_candidates(traced, measure: bool, shown: int = 8) -> None:
    """The schedule search as comments: the model's best candidates, modelled and measured times."""
    from girflow.passes.schedule_space import describe
    from girflow.runtime.tuner import cached, ranked, tune

    entry = tune(traced, "cpu", force=True) if measure else cached(traced)
    measured = {describe(c["schedule"]): c["measured_us"] for c in (entry or {}).get("candidates", [])}
    chosen = describe(entry["schedule"]) if entry else None
    print(f"// schedule candidates on cpu (cost model's best {shown}; measured: tuning cache"
          f"{'' if entry else ' is empty here, run with --tune or girflow tune'}):")
    print(f"// {'modelled µs':>12s} {'measured µs':>12s}  schedule")
    for ns, cand in ranked(traced)[:shown]:
        name = describe(cand)
        got = measured.pop(name, None)
        mark = "  <- chosen" if name == (chosen or describe(ranked(traced)[0][1])) else ""
        print(f"// {ns / 1e3:12.1f} {got if got is not None else float('nan'):12.1f}  {name}{mark}")
    for name, got in measured.items():   # timed candidates the model ranked lower
        mark = "  <- chosen" if name == chosen else ""
        print(f"// {'(lower)':>12s} {got:12.1f}  {name}{mark}")
