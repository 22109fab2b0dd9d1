"""`girflow mirror eval`: execution accuracy, parse/run rate and latency over the graded demo questions.

Execution accuracy compares result sets exactly as SQLite returns them: as multisets of rows, or as
ordered lists when the gold query has ORDER BY. Floats are rounded to 4 decimals.
"""
from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from typing import Any

from .errors import MirrorError
from .eval_questions import QUESTIONS
from .held_out_questions import HELD_OUT

QUESTION_SETS = {"tuned": QUESTIONS, "held-out": HELD_OUT}

LATENCY_TARGET_S = 2.0


def normalise(rows, ordered: bool):
    norm = [tuple(round(v, 4) if isinstance(v, float) else v for v in r) for r in rows]
    return norm if ordered else Counter(norm)


def same_result(pred_rows, gold_rows, gold_sql: str) -> bool:
    ordered = "ORDER BY" in gold_sql.upper()
    return normalise(pred_rows, ordered) == normalise(gold_rows, ordered)


def evaluate(mirror, limit: int | None = None, progress=print, levels=None, question_set: str = "tuned") -> dict:
    """Each question timed end to end as a user's session sees it: `ask` with the model loaded and the
    session warmed up (static prompt head cached, plotting imported), SQL through summary and chart."""
    items = [q for q in QUESTION_SETS[question_set] if not levels or q[0] in levels]
    items = items[:limit] if limit else items
    mirror.warm_up()
    results: list[dict[str, Any]] = []  # one JSON record per question
    for level, question, gold in items:
        gold_rows = mirror.guard.run(mirror.engine.translate(gold)).rows  # gold SQL is SQLite's dialect
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        rec: dict[str, Any] = {"level": level, "question": question, "gold": gold, "sql": None, "runs": False, "correct": False}
        try:
            answer = mirror.ask(question)
            rec.update(sql=answer.sql, runs=True, correct=same_result(answer.rows, gold_rows, gold),
                       repairs=sum(s.name.startswith("repair") for s in answer.trace))
        except MirrorError as e:
            rec["error"] = str(e).splitlines()[0]
        rec["seconds"] = time.perf_counter() - t0
        rec["cpu_seconds"] = time.process_time() - cpu0
        results.append(rec)
        if progress:
            progress(f"[{'ok' if rec['correct'] else 'runs' if rec['runs'] else 'FAIL':4}] {rec['seconds']:5.2f}s L{level} "
                     f"{question}\n        -> {rec['sql'] or rec.get('error')}")
    lat = [r["seconds"] for r in results]
    report = {
        "questions": len(results),
        "execution_accuracy": sum(r["correct"] for r in results) / len(results),
        "parse_run_rate": sum(r["runs"] for r in results) / len(results),
        "median_latency_s": statistics.median(lat),
        "p90_latency_s": sorted(lat)[int(0.9 * (len(lat) - 1))],
        "median_cpu_s": statistics.median(r["cpu_seconds"] for r in results),
        "by_level": {lvl: {"n": sum(r["level"] == lvl for r in results),
                           "accuracy": sum(r["correct"] for r in results if r["level"] == lvl) /
                           max(1, sum(r["level"] == lvl for r in results))}
                     for lvl in sorted({r["level"] for r in results})},
        "results": results,
    }
    return report


def run_eval(mirror, limit: int | None = None, json_path: str | None = None, levels=None,
             question_set: str = "tuned") -> int:
    report = evaluate(mirror, limit, levels=levels, question_set=question_set)
    print(f"\nMirror eval ({question_set} questions) on {mirror.db_path} ({mirror.engine.name}) with model {getattr(mirror.model, 'name', mirror.model)}")
    print(f"  questions:            {report['questions']}")
    print(f"  execution accuracy:   {report['execution_accuracy']:.1%}")
    print(f"  SQL parses and runs:  {report['parse_run_rate']:.1%}   (target 100%)")
    print(f"  median latency:       {report['median_latency_s']:.2f} s (target <= {LATENCY_TARGET_S:g} s: "
          f"{'met' if report['median_latency_s'] <= LATENCY_TARGET_S else 'NOT met'}), p90 {report['p90_latency_s']:.2f} s")
    print(f"  median CPU time:      {report['median_cpu_s']:.2f} s   (all threads; steadier than wall time on a busy machine)")
    for lvl, d in report["by_level"].items():
        print(f"  level {lvl}: {d['accuracy']:.0%} of {d['n']}")
    if json_path:
        with open(json_path, "w") as f:
            json.dump(report, f, indent=1, default=str)
    return 0
