"""Mirror on every engine, side by side (not a test: it reads ../shared data and takes minutes).

    python -m girflow.tools.mirror_engines gold  --spider DIR           # gold SQL: runs and agrees on each engine
    python -m girflow.tools.mirror_engines eval  --spider DIR --every 5 # embedded model: accuracy per engine
    python -m girflow.tools.mirror_engines parquet --rows 10000000      # scale: aggregate over a big Parquet table
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path


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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m girflow.tools.mirror_engines", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gold", help="gold SQL on every engine")
    g.add_argument("--spider", required=True)
    g.add_argument("--every", type=int, default=1)
    g.add_argument("--db", action="append")
    g.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    return {"gold": cmd_gold}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
