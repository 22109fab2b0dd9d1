"""Eval results over seeds -> one row per method and setting: AUC and its drop against the full
baseline of the same seed (mean, sd, worst), total training memory by kind against the baseline's
values plus Adagrad state (counters), and resident-memory growth against the baseline's (RSS)."""
from __future__ import annotations

import numpy as np

PARTS = ("values", "optimizer_state", "importance", "index", "row_records", "free_chunks")


def _setting(r: dict):
    return r.get("budget") if r["method"] == "fiited" else r.get("pep_init")


def summarize(results: list[dict]) -> list[dict]:
    full = {r.get("seed", 0): r for r in results if r["method"] == "full"}
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["method"], _setting(r)), []).append(r)
    rows = []
    for (method, setting), rs in groups.items():
        auc = np.array([r["auc"] for r in rs])
        drop = np.array([full[r.get("seed", 0)]["auc"] - r["auc"] for r in rs if r.get("seed", 0) in full])
        mem = np.array([r["training_memory_bytes"] for r in rs], np.float64)
        base = np.array([r["baseline_training_memory_bytes"] for r in rs], np.float64)
        values = np.array([r["embedding_bytes"] / r["full_embedding_bytes"] for r in rs])
        live = [r["embedding_bytes"] / r["live_full_embedding_bytes"] for r in rs if r.get("live_full_embedding_bytes")]
        rss = np.array([r.get("rss_growth_bytes", 0) for r in rs], np.float64)
        rss_full = np.array([full[r.get("seed", 0)].get("rss_growth_bytes", 0) for r in rs if r.get("seed", 0) in full],
                            np.float64)
        rss_peak = np.array([r.get("rss_peak_growth_bytes", 0) for r in rs], np.float64)
        rss_peak_full = np.array([full[r.get("seed", 0)].get("rss_peak_growth_bytes", 0) for r in rs
                                  if r.get("seed", 0) in full], np.float64)
        rows.append({
            "method": method, "setting": setting, "seeds": len(rs),
            "auc_mean": float(auc.mean()), "auc_sd": float(auc.std(ddof=1)) if len(rs) > 1 else 0.0,
            "drop_mean": float(drop.mean()) if drop.size else float("nan"),
            "drop_sd": float(drop.std(ddof=1)) if drop.size > 1 else 0.0,
            "drop_max": float(drop.max()) if drop.size else float("nan"),
            "training_memory_mean": float(mem.mean()),
            "total_saved_mean": float(1 - (mem / base).mean()), "total_saved_min": float(1 - (mem / base).max()),
            # the most held at any point of training (growth between adjustments included)
            "peak_saved_mean": float(1 - np.mean([r.get("training_memory_peak_bytes", r["training_memory_bytes"])
                                                  for r in rs] / base)),
            "values_saved_mean": float(1 - values.mean()), "values_saved_min": float(1 - values.max()),
            "live_values_saved_mean": float(1 - np.mean(live)) if live else float("nan"),
            "breakdown_mean": {k: float(np.mean([r["memory"].get(k, 0) for r in rs])) for k in PARTS},
            "rss_growth_mean": float(rss.mean()),
            "rss_saved_mean": float(1 - (rss / rss_full).mean()) if rss_full.size and (rss_full > 0).all() else float("nan"),
            "rss_peak_growth_mean": float(rss_peak.mean()),
            "rss_peak_saved_mean": float(1 - (rss_peak / rss_peak_full).mean())
            if rss_peak_full.size and (rss_peak_full > 0).all() else float("nan"),
        })
    order = {"full": 0, "fiited": 1, "pep": 2}
    return sorted(rows, key=lambda r: (order.get(r["method"], 3), -(r["setting"] or 0)))


def summary_text(rows: list[dict]) -> str:
    mib = 2.0 ** 20
    lines = ["method  setting seeds  AUC mean(sd)        drop mean(sd) max      training MiB  saved total (peak)  "
             "saved values (of live rows)  RSS growth MiB (saved)  RSS peak MiB (saved)  breakdown MiB: " + " ".join(PARTS)]
    for r in rows:
        b = " ".join(f"{r['breakdown_mean'][k] / mib:.1f}" for k in PARTS)
        setting = "-" if r["setting"] is None else f"{r['setting']:g}"
        lines.append(f"{r['method']:>6} {setting:>8} {r['seeds']:>5}  {r['auc_mean']:.5f}({r['auc_sd']:.5f})  "
                     f"{r['drop_mean']:+.5f}({r['drop_sd']:.5f}) {r['drop_max']:+.5f}  {r['training_memory_mean'] / mib:11.1f}  "
                     f"{100 * r['total_saved_mean']:9.1f}% ({100 * r['peak_saved_mean']:4.1f}%)  {100 * r['values_saved_mean']:10.1f}% ({100 * r['live_values_saved_mean']:5.1f}%)       "
                     f"{r['rss_growth_mean'] / mib:10.1f} ({100 * r['rss_saved_mean']:5.1f}%)  "
                     f"{r['rss_peak_growth_mean'] / mib:10.1f} ({100 * r['rss_peak_saved_mean']:5.1f}%)   {b}")
    return "\n".join(lines)
