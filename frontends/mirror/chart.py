"""Stage 7, chart: a seaborn picture whose kind follows the result's shape.

category + number -> bar; date + number -> line; two numbers -> scatter; one number column -> histogram.
"""
from __future__ import annotations

import re
from pathlib import Path

from .guard import Result

DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def _is_num(values) -> bool:
    vals = [v for v in values if v is not None]
    return bool(vals) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)


def _is_date(values) -> bool:
    vals = [v for v in values if v is not None]
    return bool(vals) and all(isinstance(v, str) and DATE_RE.match(v) for v in vals)


def chart_kind(result: Result) -> str | None:
    """Which chart suits the result, or None (single value, no rows, only text)."""
    if len(result.rows) < 2:
        return None
    cols = list(zip(*result.rows))
    num = [_is_num(c) for c in cols]
    if len(cols) == 1:
        return "hist" if num[0] else None
    x = cols[0]
    if num[-1] and _is_date(x):
        return "line"
    if num[-1] and not num[0]:
        return "bar"
    if num[0] and num[-1]:
        return "scatter"
    return None


def import_plotting():
    """matplotlib (Agg), pandas and seaborn: about a second to import, so a session does it once, early."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    return plt, pd, sns


def draw_chart(result: Result, path: str | Path, title: str = "") -> Path | None:
    """Save the chart (PNG or SVG, by suffix) and return its path; None when no chart suits the result."""
    kind = chart_kind(result)
    if kind is None:
        return None
    plt, pd, sns = import_plotting()
    df = pd.DataFrame(result.rows, columns=[f"{c}" if list(result.columns).count(c) == 1 else f"{c}_{i}"
                                            for i, c in enumerate(result.columns)])
    x, y = df.columns[0], df.columns[-1]
    fig, ax = plt.subplots(figsize=(7, 4))
    if kind == "hist":
        sns.histplot(df, x=x, ax=ax)
    elif kind == "bar":
        top = df.head(30)
        top = top.assign(**{x: top[x].astype(str)})
        sns.barplot(top, x=x, y=y, ax=ax, errorbar=None)
        ax.tick_params(axis="x", rotation=45 if len(top) > 5 else 0)
    elif kind == "line":
        sns.lineplot(df.sort_values(x), x=x, y=y, ax=ax, marker="o")
        ax.tick_params(axis="x", rotation=45)
        if len(df) > 12:
            ax.set_xticks(ax.get_xticks()[:: max(1, len(df) // 12)])
    else:
        sns.scatterplot(df, x=x, y=y, ax=ax)
    ax.set_title(title[:80])
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
