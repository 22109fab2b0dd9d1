"""`girflow trace`: show the GIR of a built-in operator and, optionally, the IR after every pass.

    girflow trace softmax --shape 8192x4096
    girflow trace layernorm --shape 64x1000 --print-stages          # the CPU pipeline, pass by pass
    girflow trace rmsnorm --shape 4x128 --pipeline 'gir-dataflow,gir-schedule{target=cpu}'
    girflow trace softmax --shape 1024x4096 --target nvidia_sm90    # compile and report the kernel
"""
from __future__ import annotations


def configure(p):
    p.add_argument("operator", help="a built-in operator (see --list)", nargs="?")
    p.add_argument("--shape", default="4x64", help="ROWSxCOLS of the main input (default: %(default)s)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    p.add_argument("--pipeline", default=None, help="run this pipeline and print the result")
    p.add_argument("--print-stages", action="store_true", help="print the IR after each pass of the CPU pipeline")
    p.add_argument("--list", action="store_true", help="list the built-in operators")
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

    ctx = make_context()
    with ctx, ir.Location.unknown():
        module = ir.Module.parse(traced.mlir)
        pipeline = args.pipeline or PIPELINES["gir-cpu-pipeline"]
        pm = build_pass_manager(pipeline, ctx, print_ir_after_all=args.print_stages)
        try:
            pm.run(module.operation)
        except ir.MLIRError as e:
            raise UserError(str(e))
        if not args.print_stages:
            print(module)
    return 0
