"""gir-opt: an mlir-opt style driver for girflow dialects and passes (plus every upstream pass).

  gir-opt in.mlir --pass-pipeline='builtin.module(gir-verify,gir-dataflow,canonicalize)' -o out.mlir
  gir-opt in.mlir --gir-schedule='target=cpu' --canonicalize
  gir-opt bad.mlir --verify-diagnostics --split-input-file
User errors (parse failures, verifier and pass errors) print MLIR diagnostics and exit 1.
"""
from __future__ import annotations

import argparse
import re
import sys

from torch_mlir import ir

from girflow.dialects import make_context
from girflow.passes.options import describe
from girflow.passes.registry import all_passes, build_pass_manager, pipeline_elements
from girflow.tools.diagnostics import DiagnosticCollector, to_diag

SPLIT_MARKER = re.compile(r"^// -----\s*$", re.M)
EXPECTED = re.compile(r"//\s*expected-(error|warning|remark|note)\s*(@[+-]?\d+|@above|@below)?\s*\{\{(.*?)\}\}")
IMPLICIT_VERIFY = "gir-verify"


def pass_listing() -> str:
    """Every girflow pass with its summary and typed options (name: type = default  help)."""
    lines = []
    for name, info in sorted(all_passes().items()):
        lines.append(f"  --{name:28s} {info.summary}")
        lines += [f"      {opt}: {kind}  {help_text}" for opt, kind, help_text in describe(info.options)]
    return "\n".join(lines)


def _parse_args(argv):
    p = argparse.ArgumentParser(prog="gir-opt", description=__doc__, epilog="girflow passes:\n" + pass_listing(),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="?", default="-", help="input .mlir file ('-' for stdin)")
    p.add_argument("-o", dest="output", default="-", help="output file")
    p.add_argument("--pass-pipeline", default=None, help="textual pipeline, e.g. 'builtin.module(gir-verify,cse)'")
    p.add_argument("--mlir-print-ir-after-all", action="store_true")
    p.add_argument("--verify-diagnostics", action="store_true",
                   help="check `// expected-error {{...}}` annotations instead of printing diagnostics")
    p.add_argument("--split-input-file", action="store_true", help="process chunks separated by `// -----`")
    p.add_argument("--no-implicit-verify", action="store_true", help="do not run gir-verify after parsing")
    p.add_argument("--mlir-print-op-generic", action="store_true")
    p.add_argument("--list-passes", action="store_true", help="list girflow passes and exit")
    args, rest = p.parse_known_args(argv)
    # Every other `--name` / `--name=opts` flag is a pass, in order (mlir-opt's shorthand).
    shorthand = []
    for flag in rest:
        if not flag.startswith("-") or flag in ("-", "--"):
            p.error(f"unexpected argument '{flag}'")
        name, _, opts = flag.lstrip("-").partition("=")
        opts = opts.strip("'\"")
        shorthand.append(f"{name}{{{opts}}}" if opts else name)
    if shorthand and args.pass_pipeline:
        p.error("use either --pass-pipeline or per-pass flags, not both")
    args.pipeline = args.pass_pipeline or (",".join(shorthand))
    return args


def _expected(chunk: str):
    exp = []
    for lineno, line in enumerate(chunk.splitlines(), start=1):
        for m in EXPECTED.finditer(line):
            sev, where, msg = m.group(1), m.group(2), m.group(3)
            target = lineno
            if where in ("@above",):
                target -= 1
            elif where in ("@below",):
                target += 1
            elif where:
                target += int(where[1:])
            exp.append((sev, target, msg.strip()))
    return exp


def _check_expected(chunk: str, diags, filename: str, offset: int) -> list[str]:
    failures = []
    expected = _expected(chunk)
    remaining = list(expected)
    for d in diags:
        hit = next((e for e in remaining if e[0] == d.severity and e[1] == d.line and e[2] in d.message), None)
        if hit:
            remaining.remove(hit)
        elif d.severity in ("error", "warning"):
            failures.append(f"{filename}:{(d.line or 0) + offset}:{d.col}: error: unexpected {d.severity}: {d.message}")
    for sev, line, msg in remaining:
        failures.append(f"{filename}:{line + offset}: error: expected {sev} \"{msg}\" was not produced")
    return failures


def _dedupe(diags):
    seen, out = set(), []
    for d in diags:
        key = (d.severity, d.message, d.line, d.col)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def process_chunk(chunk: str, args, filename: str, offset: int):
    """Returns (output text or None, diagnostics, ok)."""
    ctx = make_context()
    pipeline = args.pipeline
    if not args.no_implicit_verify:
        pipeline = ",".join([IMPLICIT_VERIFY] + (pipeline_elements(pipeline) if pipeline else []))
    with DiagnosticCollector(ctx) as coll, ctx, ir.Location.unknown():
        try:
            pm = build_pass_manager(pipeline, ctx, print_ir_after_all=args.mlir_print_ir_after_all)
        except ValueError as e:
            raise SystemExit(f"gir-opt: error: {e}")
        try:
            module = ir.Module.parse(chunk)
        except ir.MLIRError as e:
            return None, _dedupe(coll.diags + [to_diag(d) for d in e.error_diagnostics]), False
        try:
            pm.run(module.operation)
        except ir.MLIRError as e:
            return None, _dedupe(coll.diags + [to_diag(d) for d in e.error_diagnostics]), False
        text = module.operation.get_asm(print_generic_op_form=args.mlir_print_op_generic)
        return text, coll.diags, True


def main(argv=None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    if args.list_passes:
        print(pass_listing())
        return 0
    filename = "<stdin>" if args.input == "-" else args.input
    try:
        source = sys.stdin.read() if args.input == "-" else open(args.input).read()
    except OSError as e:
        print(f"gir-opt: error: cannot read '{filename}': {e.strerror}", file=sys.stderr)
        return 1
    chunks = SPLIT_MARKER.split(source) if args.split_input_file else [source]
    outputs, ok, offset = [], True, 0
    for chunk in chunks:
        text, diags, chunk_ok = process_chunk(chunk, args, filename, offset)
        if args.verify_diagnostics:
            failures = _check_expected(chunk, diags, filename, offset)
            for f in failures:
                print(f, file=sys.stderr)
            ok &= not failures
        else:
            for d in diags:
                print(d.format(filename, offset), file=sys.stderr)
            ok &= chunk_ok
        if text is not None:
            outputs.append(text)
        offset += chunk.count("\n") + 1
    out = "\n// -----\n".join(outputs)
    if args.output == "-":
        sys.stdout.write(out)
    else:
        with open(args.output, "w") as fh:
            fh.write(out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
