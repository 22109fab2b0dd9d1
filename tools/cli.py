"""The `girflow` command: one entry point, one subcommand per product part.

Each subcommand lives in its own module exposing `configure(parser)` and `run(args) -> int`; modules
are imported only when their subcommand runs, so `girflow mirror` never loads MLIR and vice versa.
"""
from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = {
    "demo": ("girflow.tools.demo", "set up nothing, run the main job: compile GIR operators, check, benchmark, ask Mirror"),
    "trace": ("girflow.tools.trace_cmd", "print the GIR of a built-in operator (or the IR after each pass)"),
    "tune": ("girflow.tools.tune_cmd", "time the cost model's best schedules per operator and shape; fill the tuning cache"),
    "bench": ("girflow.tools.bench", "benchmark GIR operators against torch eager, torch.compile and a plain copy"),
    "gpu": ("girflow.tools.gpu_cmd", "NVIDIA kernels built here and run on a GPU elsewhere: bundle, check, bench"),
    "fiited": ("girflow.frontends.fiited.cli", "FIITED embeddings: train DLRM, sweep memory budgets"),
    "mirror": ("girflow.frontends.mirror.cli", "Mirror: natural-language questions to SQL"),
}


from girflow.errors import UserError  # noqa: E402  (re-exported: `girflow.tools.cli.UserError`)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="girflow", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            mod = importlib.import_module(module)
            mod.configure(p)
            p.set_defaults(_run=mod.run)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except UserError as e:
        print(f"girflow {args.command}: error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 2)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
