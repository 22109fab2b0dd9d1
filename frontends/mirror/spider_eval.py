"""`girflow mirror eval --spider DIR`: execution accuracy on a Spider-format folder.

The folder holds `questions.json` (a list of {"db_id", "question", "query"}) and `database/<db_id>.sqlite`
(or `database/<db_id>/<db_id>.sqlite`, Spider's own layout). Each predicted query and the gold query run on
the same database; results match when they hold the same rows (as multisets, or in order when the gold
query orders them). Extra predicted columns are allowed: the gold columns may be any subset of them.
Results are reported per database and per SQL shape of the gold query (join, group, nested, order, set op).
"""
from __future__ import annotations

import itertools
import json
import sqlite3
import statistics
import time
from collections import Counter
from pathlib import Path

from .errors import MirrorError

SHAPES = ("join", "group", "nested", "order", "set-op", "simple")
MAX_EXTRA_COLUMNS = 6  # beyond this many predicted columns only same-width results are compared


def load_spider(folder: str | Path) -> list[dict]:
    folder = Path(folder)
    qfile = folder / "questions.json"
    if not qfile.is_file():
        found = sorted(folder.glob("*.json"))
        if not found:
            raise MirrorError(f"{folder}: no questions.json (a list of {{db_id, question, query}}) in this folder")
        qfile = found[0]
    try:
        items = json.loads(qfile.read_text())
    except (OSError, ValueError) as e:
        raise MirrorError(f"{qfile}: cannot read it as JSON ({e})") from None
    if not isinstance(items, list) or not all(isinstance(i, dict) and {"db_id", "question", "query"} <= set(i)
                                              for i in items):
        raise MirrorError(f"{qfile}: expected a list of objects with db_id, question and query")
    return items


def database_path(folder: str | Path, db_id: str) -> Path:
    base = Path(folder) / "database"
    for p in (base / f"{db_id}.sqlite", base / db_id / f"{db_id}.sqlite", base / f"{db_id}.db"):
        if p.is_file():
            return p
    raise MirrorError(f"{folder}: no database file for {db_id!r} (looked for database/{db_id}.sqlite)")


def gold_shapes(sql: str) -> set[str]:
    """The SQL shapes of a gold query, read from its syntax tree (sqlglot), not from keywords in strings."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except Exception:
        return {"unparsed"}
    shapes = set()
    if tree.find(exp.Union, exp.Intersect, exp.Except):
        shapes.add("set-op")
    if tree.find(exp.Join):
        shapes.add("join")
    if tree.find(exp.Group):
        shapes.add("group")
    if tree.find(exp.Order):
        shapes.add("order")
    if any(s.find_ancestor(exp.Select) is not None for s in tree.find_all(exp.Select)):
        shapes.add("nested")
    return shapes or {"simple"}


def _norm(v):
    if isinstance(v, float):
        return round(v, 4) if v != int(v) else int(v)
    return v


def same_rows(pred_cols: int, pred_rows: list, gold_rows: list, ordered: bool) -> bool:
    """True when the gold rows equal the predicted rows projected on some choice of its columns."""
    gold = [tuple(map(_norm, r)) for r in gold_rows]
    pred = [tuple(map(_norm, r)) for r in pred_rows]
    if len(pred) != len(gold):
        return False
    width = len(gold[0]) if gold else pred_cols
    if not gold:
        return True
    if pred_cols < width:
        return False
    choices = (itertools.permutations(range(pred_cols), width) if pred_cols <= MAX_EXTRA_COLUMNS
               else [tuple(range(width))] if pred_cols == width else [])
    want = gold if ordered else Counter(gold)
    for cols in choices:
        proj = [tuple(r[i] for i in cols) for r in pred]
        if (proj if ordered else Counter(proj)) == want:
            return True
    return False


def run_gold(db_path: Path, sql: str, row_cap: int = 100000):
    con = sqlite3.connect(f"file:{db_path.resolve()}?mode=ro", uri=True)
    con.text_factory = lambda b: b.decode(errors="replace")
    try:
        return con.execute(sql).fetchmany(row_cap)
    finally:
        con.close()


def evaluate_spider(folder, make_mirror, databases=None, every: int = 1, limit: int | None = None,
                    progress=print) -> dict:
    """Ask every (every-th) question of the folder with a Mirror made per database by `make_mirror(path)`."""
    items = load_spider(folder)
    if databases:
        unknown = set(databases) - {i["db_id"] for i in items}
        if unknown:
            raise MirrorError(f"no questions for database(s) {', '.join(sorted(unknown))} in {folder}")
        items = [i for i in items if i["db_id"] in databases]
    items = items[::max(1, every)][:limit] if limit else items[::max(1, every)]
    results, mirrors = [], {}
    for item in items:
        db_id = item["db_id"]
        rec = {"db_id": db_id, "question": item["question"], "gold": item["query"], "sql": None, "runs": False,
               "correct": False, "shapes": sorted(gold_shapes(item["query"]))}
        try:
            path = database_path(folder, db_id)
            if db_id not in mirrors:
                mirrors[db_id] = make_mirror(path)
                mirrors[db_id].warm_up()
            mirror = mirrors[db_id]
            gold_rows = run_gold(path, item["query"])
        except (MirrorError, sqlite3.Error) as e:
            rec["error"] = f"setup: {e}"
            results.append(rec)
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            answer = mirror.ask(item["question"])
            rec.update(sql=answer.sql, runs=True, correct=same_rows(len(answer.columns), answer.rows, gold_rows,
                                                                    "ORDER BY" in item["query"].upper()))
        except MirrorError as e:
            rec["error"] = str(e).splitlines()[0]
        except Exception as e:  # a bug, not a user error: counted and shown, so one question cannot end the run
            rec["error"] = f"CRASH {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            rec["crash"] = True
        rec["seconds"] = time.perf_counter() - t0
        rec["cpu_seconds"] = time.process_time() - c0  # this process's CPU: less sensitive to a shared machine
        results.append(rec)
        if progress:
            progress(f"[{'ok' if rec['correct'] else 'runs' if rec['runs'] else 'FAIL':4}] {rec['seconds']:5.2f}s "
                     f"{db_id}: {item['question']}\n        -> {rec['sql'] or rec.get('error')}\n"
                     f"        gold {item['query']}")
    return summarise_results(results)


def _acc(rs):
    return {"n": len(rs), "accuracy": sum(r["correct"] for r in rs) / max(1, len(rs)),
            "runs": sum(r["runs"] for r in rs) / max(1, len(rs))}


def summarise_results(results: list[dict]) -> dict:
    if not results:
        raise MirrorError("no questions to evaluate")
    lat = [r["seconds"] for r in results if "seconds" in r] or [0.0]
    return {
        "questions": len(results),
        "execution_accuracy": sum(r["correct"] for r in results) / len(results),
        "parse_run_rate": sum(r["runs"] for r in results) / len(results),
        "crashes": sum(bool(r.get("crash")) for r in results),
        "median_latency_s": statistics.median(lat),
        "median_cpu_s": statistics.median([r.get("cpu_seconds", 0.0) for r in results]),
        "p90_latency_s": sorted(lat)[int(0.9 * (len(lat) - 1))],
        "by_database": {d: _acc([r for r in results if r["db_id"] == d])
                        for d in sorted({r["db_id"] for r in results})},
        "by_shape": {s: _acc([r for r in results if s in r["shapes"]])
                     for s in SHAPES if any(s in r["shapes"] for r in results)},
        "results": results,
    }


def print_report(report: dict, folder, model_name: str) -> None:
    print(f"\nMirror eval on Spider-format folder {folder} with model {model_name}")
    print(f"  questions:            {report['questions']}")
    print(f"  execution accuracy:   {report['execution_accuracy']:.1%}")
    print(f"  SQL parses and runs:  {report['parse_run_rate']:.1%}   (target 100%)")
    print(f"  crashes (not a MirrorError): {report['crashes']}")
    print(f"  median latency:       {report['median_latency_s']:.2f} s wall, p90 {report['p90_latency_s']:.2f} s; "
          f"median {report['median_cpu_s']:.2f} s CPU")
    print("  by database:")
    for d, a in report["by_database"].items():
        print(f"    {d:32} {a['accuracy']:6.1%} of {a['n']:3}   runs {a['runs']:.0%}")
    print("  by SQL shape (of the gold query):")
    for s, a in report["by_shape"].items():
        print(f"    {s:32} {a['accuracy']:6.1%} of {a['n']:3}   runs {a['runs']:.0%}")
