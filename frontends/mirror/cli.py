"""`girflow mirror ...`: ask (one shot), shell (accept or edit the SQL before it runs), serve (web page),
eval (accuracy/latency harness), build-demo (write the demo database)."""
from __future__ import annotations

import argparse
import sys

from .candidates import MAX_SCORED
from .errors import MirrorError


def _user_error(e: Exception):
    """Printed by the `girflow` entry point without a traceback; Mirror's failures exit with status 1."""
    from girflow.errors import UserError

    err = UserError(str(e))
    err.exit_code = 1
    return err


def _add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help="SQLite file, postgresql://user@host/db URL, CSV/Parquet file, folder or glob "
                                "(default: the demo database, built if missing)")
    p.add_argument("--engine", choices=("auto", "sqlite", "postgresql", "duckdb"), default="auto",
                   help="who runs the SQL: auto (by source), sqlite (CSVs imported), duckdb (files read in place)")
    p.add_argument("--model", default="embedded", help="'embedded' (SmolLM2-135M), a .gguf path, or an OpenAI-compatible URL")
    p.add_argument("--model-name", help="model name for an OpenAI-compatible endpoint")
    p.add_argument("--row-cap", type=int, default=1000, help="at most this many rows are returned")
    p.add_argument("--time-limit", type=float, default=5.0, help="seconds a query may run")
    p.add_argument("--out-dir", help="where charts (and imported CSV databases) go")
    p.add_argument("--print-stages", action="store_true", help="print every pipeline stage's output as it runs")
    p.add_argument("--candidates", type=int, default=MAX_SCORED, metavar="N",
                   help="score up to N candidate queries of the question's grammar with the model, run the likeliest "
                        "and keep the one whose result most agree on (0: the model's first query only; default %(default)s)")


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="mirror_command", metavar="ACTION")
    ask = sub.add_parser("ask", help="answer one question and print SQL, table, summary and chart path")
    _add_source_args(ask)
    ask.add_argument("question", nargs="+")
    ask.add_argument("--sql", action="store_true", help="treat the text as SQL and run it through the guard")
    ask.add_argument("--chart-format", choices=("png", "svg"), default="png", help="chart file format (default png)")
    shell = sub.add_parser("shell", help="interactive: ask, then accept or edit the SQL before it runs")
    _add_source_args(shell)
    serve = sub.add_parser("serve", help="serve the Mirror web page")
    _add_source_args(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    ev = sub.add_parser("eval", help="execution accuracy, parse/run rate and latency on the demo questions")
    _add_source_args(ev)
    ev.add_argument("--limit", type=int, help="only the first N questions (after --levels)")
    ev.add_argument("--levels", type=lambda v: {int(x) for x in v.split(",")},
                    help="only these difficulty levels, e.g. 4,5 (1 single table .. 5 nested)")
    ev.add_argument("--json", help="also write per-question results to this JSON file")
    ev.add_argument("--spider", metavar="DIR", help="a Spider-format folder (questions.json, database/<db_id>.sqlite): "
                    "accuracy per database and per SQL shape instead of the demo questions")
    ev.add_argument("--databases", type=lambda v: [x for x in v.split(",") if x],
                    help="with --spider: only these db_ids, comma-separated")
    ev.add_argument("--every", type=int, default=1, help="with --spider: every N-th question only")
    ev.add_argument("--questions", choices=("tuned", "held-out"), default="tuned",
                    help="'tuned': the set the wording rules were developed on; 'held-out': questions never used for tuning")
    demo = sub.add_parser("build-demo", help="build the demo database")
    demo.add_argument("path", nargs="?", help="where to write it (default: ~/.cache/girflow/mirror_demo.db)")
    demo.add_argument("--force", action="store_true", help="rebuild even if it exists")
    parser.set_defaults(mirror_parser=parser)


def make_mirror(args):
    from .demo_db import build_demo_db
    from .pipeline import Mirror

    source = args.db or build_demo_db()
    return Mirror(source, model=args.model, model_name=args.model_name, row_cap=args.row_cap,
                  time_limit_s=args.time_limit, out_dir=args.out_dir, print_stages=args.print_stages,
                  chart_format=getattr(args, "chart_format", "png"), engine=getattr(args, "engine", "auto"),
                  candidates=getattr(args, "candidates", MAX_SCORED))


def format_table(columns, rows, max_rows: int = 20) -> str:
    from .display import display_rows

    cells = [list(map(str, columns))] + display_rows(rows[:max_rows])
    widths = [min(40, max(len(row[i]) for row in cells)) for i in range(len(columns))]
    lines = [" | ".join(c[:40].ljust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    if len(rows) > max_rows:
        lines.append(f"... {len(rows) - max_rows} more rows")
    return "\n".join(lines)


def print_answer(answer, chart: bool = True) -> None:
    print(f"SQL: {answer.sql}\n")
    print(format_table(answer.columns, answer.rows))
    if answer.truncated:
        print("(result cut at the row cap)")
    print(f"\nSummary: {answer.summary}", flush=True)
    if chart:
        print_chart(answer)


def print_chart(answer) -> None:
    print(f"Chart: {answer.chart or 'none (no chart suits this result)'}")


def run_ask(args) -> int:
    mirror = make_mirror(args)
    text = " ".join(args.question)
    if not args.sql:
        mirror.warm_up(plotting=False)  # the prompt head's KV cache comes from disk when this database was
        # asked before; plotting libraries only if the answer gets a chart
    # the answer is printed before the chart is drawn: plotting's imports cost a one-shot ~3 s
    answer = mirror.run(text, chart=False) if args.sql else mirror.ask(text, chart=False)
    print_answer(answer, chart=False)
    print_chart(mirror.add_chart(answer))
    return 0


def run_shell(args, stdin=None) -> int:
    """Question -> proposed SQL -> [Enter] run it, 'e' edit it, 's' skip; ':sql ...' runs SQL directly."""
    stdin = stdin or sys.stdin
    mirror = make_mirror(args)
    mirror.warm_up()  # model, cached prompt head, plotting: before the prompt, not inside the first answer
    print("Mirror shell. Type a question (or ':sql SELECT ...', ':quit').")
    while True:
        print("question> ", end="", flush=True)
        line = stdin.readline()
        if not line or line.strip() in (":quit", ":q", "exit"):
            return 0
        line = line.strip()
        if not line:
            continue
        try:
            if line.startswith(":sql "):
                sql, question = line[5:], None
            else:
                question = line
                sql = mirror.compile(line)
                print(f"Proposed SQL: {sql}")
                print("[Enter] run / e: edit / s: skip > ", end="", flush=True)
                choice = stdin.readline().strip().lower()
                if choice == "s":
                    continue
                if choice == "e":
                    print("SQL> ", end="", flush=True)
                    sql = stdin.readline().strip() or sql
            print_answer(mirror.run(sql, question))
        except MirrorError as e:
            print(f"error: {e}")


def run_spider_eval(args) -> int:
    from .pipeline import Mirror
    from .spider_eval import evaluate_spider, print_report

    def make(path):
        return Mirror(path, model=args.model, model_name=args.model_name, row_cap=args.row_cap,
                      time_limit_s=args.time_limit, out_dir=args.out_dir, print_stages=args.print_stages,
                      engine=getattr(args, "engine", "auto"), candidates=getattr(args, "candidates", MAX_SCORED))

    report = evaluate_spider(args.spider, make, databases=args.databases, every=args.every, limit=args.limit)
    print_report(report, args.spider, args.model)
    if args.json:
        import json

        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, default=str)
    return 0


def run(args) -> int:
    try:
        cmd = getattr(args, "mirror_command", None)
        if cmd is None:
            args.mirror_parser.print_help()
            return 2
        if cmd == "build-demo":
            from .demo_db import build_demo_db

            print(build_demo_db(args.path, force=args.force))
            return 0
        if cmd == "ask":
            return run_ask(args)
        if cmd == "shell":
            return run_shell(args)
        if cmd == "serve":
            from .web import serve

            mirror = make_mirror(args)
            mirror.warm_up()
            return serve(mirror, args.host, args.port)
        if cmd == "eval":
            from .evaluate import run_eval

            if args.spider:
                return run_spider_eval(args)
            return run_eval(make_mirror(args), limit=args.limit, json_path=args.json, levels=args.levels,
                            question_set=args.questions)
    except MirrorError as e:
        raise _user_error(e) from None
    return 2
