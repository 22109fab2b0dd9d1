"""Mirror on every engine, side by side (not a test: it reads ../shared data and takes minutes).

    python -m girflow.tools.mirror_engines gold  --spider DIR           # gold SQL: runs and agrees on each engine
    python -m girflow.tools.mirror_engines eval  --spider DIR --every 5 # embedded model: accuracy per engine
    python -m girflow.tools.mirror_engines parquet --rows 10000000      # scale: aggregate over a big Parquet table
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def spider_items(spider: Path, every: int, dbs: list[str] | None):
    items = json.loads((spider / "questions.json").read_text())
    items = [q for q in items if not dbs or q["db_id"] in dbs]
    return items[::every]


def cmd_gold(args) -> int:
    from girflow.frontends.mirror.engines.parity import ENGINE_NAMES, Replicas, same_rows
    from girflow.frontends.mirror.engines.pg_cluster import PrivateCluster
    from girflow.frontends.mirror.errors import MirrorError

    spider = Path(args.spider)
    items = spider_items(spider, args.every, args.db)
    names = sorted({q["db_id"] for q in items})
    with PrivateCluster() as pg:
        reps = Replicas({n: spider / "database" / f"{n}.sqlite" for n in names}, pg)
        engines = {(n, e): reps.engine(n, e) for n in names for e in ENGINE_NAMES}
        stats = {e: {"runs": 0, "same": 0} for e in ENGINE_NAMES}
        for q in items:
            base = engines[(q["db_id"], "sqlite")].run(q["query"]).rows
            for e in ENGINE_NAMES:
                eng = engines[(q["db_id"], e)]
                try:
                    rows = eng.run(eng.translate(q["query"])).rows
                except MirrorError as err:
                    print(f"[{e} FAIL] {q['db_id']}: {q['query']}\n    {err}")
                    continue
                stats[e]["runs"] += 1
                if same_rows(rows, base, q["query"]):
                    stats[e]["same"] += 1
                elif args.verbose:
                    print(f"[{e} DIFF] {q['db_id']}: {q['query']}\n    {eng.translate(q['query'])}\n"
                          f"    sqlite {base[:3]}  {e} {rows[:3]}")
    n = len(items)
    print(f"\ngold SQL of {n} questions ({len(names)} databases), translated from SQLite and run on each engine:")
    for e, s in stats.items():
        print(f"  {e:10}  runs {s['runs']}/{n} ({s['runs'] / n:.1%})  same rows as SQLite {s['same']}/{n} ({s['same'] / n:.1%})")
    return 0


def cmd_eval(args) -> int:
    """The embedded model on every engine: the same questions, each answer compared with the gold SQL's rows
    on that engine (gold translated from SQLite)."""
    from girflow.frontends.mirror.demo_db import build_demo_db
    from girflow.frontends.mirror.engines.parity import ENGINE_NAMES, Replicas, same_rows
    from girflow.frontends.mirror.engines.pg_cluster import PrivateCluster
    from girflow.frontends.mirror.errors import MirrorError
    from girflow.frontends.mirror.eval_questions import QUESTIONS
    from girflow.frontends.mirror.models import make_model
    from girflow.frontends.mirror.pipeline import Mirror

    work = Path(args.work or "/tmp/mirror_engines_eval")
    items = [("demo", q, gold) for _, q, gold in QUESTIONS[:: args.demo_every]]
    dbs = {"demo": build_demo_db(work / "demo.db")}
    if args.spider:
        spider = Path(args.spider)
        for q in spider_items(spider, args.every, args.db):
            items.append((q["db_id"], q["question"], q["query"]))
            dbs[q["db_id"]] = spider / "database" / f"{q['db_id']}.sqlite"
    model = make_model(args.model)
    stats: dict[str, dict[str, Any]] = {e: {"n": 0, "runs": 0, "correct": 0, "by_db": {}} for e in ENGINE_NAMES}
    agree = 0
    with PrivateCluster() as pg:
        reps = Replicas(dbs, pg, work / "replicas")
        mirrors = {}
        for db in dbs:
            for e in ENGINE_NAMES:
                mirrors[(db, e)] = Mirror(reps.source(db, e), model=model, engine=e, out_dir=work / "out",
                                          charts=False, model_summary=False)
        for db, question, gold in items:
            answers = {}
            for e in ENGINE_NAMES:
                m = mirrors[(db, e)]
                s = stats[e]
                s["n"] += 1
                d = s["by_db"].setdefault(db, [0, 0])
                d[1] += 1
                try:
                    gold_rows = m.guard.run(m.engine.translate(gold)).rows
                except MirrorError as err:
                    print(f"  gold fails on {e}: {err}")
                    gold_rows = None
                try:
                    a = m.ask(question)
                except MirrorError as err:
                    answers[e] = ("error", str(err).splitlines()[0])
                    continue
                s["runs"] += 1
                ok = gold_rows is not None and same_rows(a.rows, gold_rows, gold)
                s["correct"] += ok
                d[0] += ok
                answers[e] = ("ok" if ok else "wrong", a.sql)
            same = len({v[0] for v in answers.values()}) == 1
            agree += same
            print(f"[{' '.join(f'{e}:{answers[e][0]}' for e in ENGINE_NAMES)}] {db}: {question}")
            if not same or args.verbose:
                for e in ENGINE_NAMES:
                    print(f"      {e}: {answers[e][1]}")
    n = len(items)
    print(f"\nembedded model, {n} questions ({len(dbs)} databases), same pipeline on each engine:")
    for e, s in stats.items():
        print(f"  {e:10}  execution accuracy {s['correct']}/{n} ({s['correct'] / n:.1%})   SQL runs "
              f"{s['runs']}/{n} ({s['runs'] / n:.1%})   " +
              " ".join(f"{db} {c}/{t}" for db, (c, t) in s["by_db"].items()))
    print(f"  same verdict on all three engines: {agree}/{n}")
    return 0


def cmd_parquet(args) -> int:
    """A generated N-row Parquet table, an aggregate question over it through DuckDB, timed, peak RSS."""

    import duckdb

    work = Path(args.work or "/tmp/mirror_engines_parquet")
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"sales_{args.rows}.parquet"
    if not path.exists():
        t0 = time.perf_counter()
        con = duckdb.connect()
        con.execute("SET memory_limit = '1GB'")
        con.execute(f"""COPY (SELECT i AS id, (i * 7919) % 100000 AS customer_id,
                           ['North', 'South', 'East', 'West', 'Central'][1 + (i * 31) % 5] AS region,
                           ['Books', 'Toys', 'Garden', 'Kitchen', 'Electronics', 'Sports'][1 + (i * 17) % 6] AS category,
                           round(((i * 2654435761) % 100000) / 100.0, 2) AS amount,
                           DATE '2020-01-01' + CAST(i % 1800 AS INTEGER) AS sold_on
                    FROM range({args.rows}) t(i)) TO '{path}' (FORMAT parquet)""")
        con.close()
        print(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")
    queries = [
        f"SELECT region, SUM(amount) FROM sales_{args.rows} GROUP BY region ORDER BY region",
        f"SELECT category, AVG(amount), COUNT(*) FROM sales_{args.rows} WHERE sold_on >= '2023-01-01' GROUP BY category",
        f"SELECT strftime('%Y', sold_on), COUNT(DISTINCT customer_id) FROM sales_{args.rows} GROUP BY 1 ORDER BY 1",
    ]
    size = path.stat().st_size / 1e6
    print(f"{args.rows:,} rows, {size:.0f} MB of Parquet (about {args.rows * 48 / 1e6:.0f} MB as raw columns); "
          f"each configuration in its own process, same machine, same run")
    configs = [("Mirror/DuckDB in place, memory_limit 2GB", "2GB", False),
               ("Mirror/DuckDB in place, memory_limit 256MB", "256MB", False),
               ("baseline: table loaded into DuckDB memory first", "4GB", True)]
    for label, limit, load in configs:
        out = _parquet_child(path, work, queries, limit, load, args.ask and not load)
        if out is None:
            return 1
        print(f"\n{label}: open + schema (after imports) {out['open_s']:.2f} s, peak RSS {out['peak_rss_mb']:.0f} MB")
        for sql, secs, rows in out["queries"]:
            print(f"  {secs:6.2f} s  {sql}\n           -> {rows}")
        if "ask" in out:
            print(f"  ask 'What is the total amount per region?' (embedded model, warm): {out['ask'][1]:.2f} s\n"
                  f"           {out['ask'][0]} -> {out['ask'][2]}")
    return 0


def _parquet_child(path: Path, work: Path, queries: list[str], memory_limit: str, load: bool, ask: bool):
    """One configuration in a fresh process, so its peak RSS is its own."""
    import subprocess

    code = f"""
import json, resource, time
from pathlib import Path
import duckdb
from girflow.frontends.mirror.engines.duckdb_files import DuckDBEngine
t0 = time.perf_counter()
if {load!r}:
    con = duckdb.connect(config={{"memory_limit": {memory_limit!r}}})
    con.execute("SET enable_progress_bar = false")
    con.execute("CREATE TABLE sales_{path.stem.split('_')[-1]} AS SELECT * FROM read_parquet({str(path)!r})")
    run = lambda sql: con.execute(sql.replace("strftime('%Y', sold_on)", "strftime(sold_on, '%Y')")).fetchall()
else:
    e = DuckDBEngine({str(path)!r}, time_limit_s=120, memory_limit={memory_limit!r})
    e.schema
    run = lambda sql: e.run(e.translate(sql)).rows
out = {{"open_s": time.perf_counter() - t0, "queries": []}}
for sql in {queries!r}:
    t = time.perf_counter()
    rows = run(sql)
    out["queries"].append([sql, time.perf_counter() - t, rows[:3]])
if {ask!r}:
    from girflow.frontends.mirror.pipeline import Mirror
    m = Mirror({str(path)!r}, charts=False, model_summary=False, time_limit_s=120)
    m.warm_up()
    t = time.perf_counter()
    a = m.ask("What is the total amount per region?")
    out["ask"] = [a.sql, time.perf_counter() - t, a.rows[:5]]
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out, default=str))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if r.returncode:
        print(r.stderr[-3000:])
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m girflow.tools.mirror_engines", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gold", help="gold SQL on every engine")
    g.add_argument("--spider", required=True)
    g.add_argument("--every", type=int, default=1)
    g.add_argument("--db", action="append")
    g.add_argument("-v", "--verbose", action="store_true")
    ev = sub.add_parser("eval", help="embedded model accuracy on every engine")
    ev.add_argument("--spider")
    ev.add_argument("--every", type=int, default=10)
    ev.add_argument("--demo-every", type=int, default=1)
    ev.add_argument("--db", action="append")
    ev.add_argument("--model", default="embedded")
    ev.add_argument("--work")
    ev.add_argument("-v", "--verbose", action="store_true")
    pq = sub.add_parser("parquet", help="aggregate questions over a big generated Parquet table")
    pq.add_argument("--rows", type=int, default=10_000_000)
    pq.add_argument("--ask", action="store_true", help="also ask through the pipeline with the embedded model")
    pq.add_argument("--work")
    args = p.parse_args(argv)
    return {"gold": cmd_gold, "eval": cmd_eval, "parquet": cmd_parquet}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
