"""Mirror latency, side by side in one process: each question asked with the greedy decode alone and with
candidate scoring and voting (in alternating order, same warm model), then a one-shot `girflow mirror ask`
in a fresh process that starts from the saved prompt state.

    python -m girflow.tools.mirror_latency --spider DIR [--databases a,b] [--every N] [--candidates 12]

Prints medians of wall and CPU seconds per question for both settings and their ratio; wall time depends on
the machine's load, CPU time much less.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spider", required=True)
    ap.add_argument("--databases", type=lambda v: [x for x in v.split(",") if x])
    ap.add_argument("--every", type=int, default=8)
    ap.add_argument("--candidates", type=int, default=12)
    ap.add_argument("--json")
    args = ap.parse_args(argv)

    from girflow.frontends.mirror.errors import MirrorError
    from girflow.frontends.mirror.pipeline import Mirror
    from girflow.frontends.mirror.spider_eval import database_path, load_spider

    items = load_spider(args.spider)
    if args.databases:
        items = [i for i in items if i["db_id"] in args.databases]
    items = items[:: max(1, args.every)]
    mirrors = {}
    times: dict[int, list[tuple[float, float]]] = {0: [], args.candidates: []}
    for n, item in enumerate(items):
        db = item["db_id"]
        if db not in mirrors:
            mirrors[db] = Mirror(database_path(args.spider, db), model_summary=False, charts=False)
            mirrors[db].warm_up()
        m = mirrors[db]
        for setting in ((0, args.candidates) if n % 2 == 0 else (args.candidates, 0)):
            m.max_scored = setting
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                m.ask(item["question"])
            except MirrorError:
                pass
            times[setting].append((time.perf_counter() - t0, time.process_time() - c0))
    report: dict[int | str, Any] = {}  # JSON: per setting (candidates), then the one-shot times
    for setting, ts in times.items():
        report[setting] = {"median_wall_s": statistics.median(t[0] for t in ts),
                           "median_cpu_s": statistics.median(t[1] for t in ts)}
        print(f"candidates={setting:3}: median {report[setting]['median_wall_s']:.2f} s wall, "
              f"{report[setting]['median_cpu_s']:.2f} s CPU per question ({len(ts)} questions)")
    base, cand = report[0], report[args.candidates]
    print(f"ratio (candidates / greedy): wall {cand['median_wall_s'] / base['median_wall_s']:.2f}x, "
          f"CPU {cand['median_cpu_s'] / base['median_cpu_s']:.2f}x")
    # one-shot: a fresh process asking about a database it has seen (prompt state saved by the runs above)
    item = items[0]
    cmd = [sys.executable, "-m", "girflow.tools.cli", "mirror", "ask", "--db",
           str(database_path(args.spider, item["db_id"])), item["question"]]
    shots = []
    for _ in range(2):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, text=True)
        shots.append(time.perf_counter() - t0)
    report["one_shot_ask_s"] = shots
    print(f"one-shot `girflow mirror ask` (fresh process, saved prompt state): {shots[0]:.2f} s, then {shots[1]:.2f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
