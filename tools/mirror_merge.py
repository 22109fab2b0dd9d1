"""Larger schemas from a Spider-format folder: several databases copied into one SQLite file, each with its
questions, so Mirror's accuracy and latency can be measured as the schema grows while the questions and
gold SQL stay the same (the gold queries name their own tables, which keep their names).

    python -m girflow.tools.mirror_merge --spider DIR --out OUT --group big=db1,db2,db3 [--group ...]

Writes OUT/questions.json and OUT/database/<group>.sqlite. Table names must not clash (case-insensitive)
inside a group. The merged schema has one connected part per source database, as a company's database that
grew by modules often does.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path


def merge_databases(sources: list[Path], target: Path) -> list[str]:
    """Copy every table (schema, rows, indexes) of `sources` into a new SQLite file `target`; returns the
    table names. Raises ValueError on a table name that two sources share."""
    if target.exists():
        target.unlink()
    out = sqlite3.connect(target)
    names: dict[str, Path] = {}
    try:
        for src in sources:
            con = sqlite3.connect(f"file:{src.resolve()}?mode=ro", uri=True)
            con.text_factory = bytes
            rows = con.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                               "AND name NOT LIKE 'sqlite_%' ORDER BY type = 'index'").fetchall()
            for kind, name, sql in rows:
                kind, name, sql = kind.decode(), name.decode(), sql.decode()
                if kind == "table":
                    if name.lower() in names:
                        raise ValueError(f"table {name!r} is in both {names[name.lower()]} and {src}")
                    names[name.lower()] = src
                out.execute(sql)
                if kind == "table":
                    data = con.execute(f'SELECT * FROM "{name}"').fetchall()
                    if data:
                        marks = ",".join("?" * len(data[0]))
                        out.executemany(f'INSERT INTO "{name}" VALUES ({marks})',
                                        [tuple(v.decode(errors="replace") if isinstance(v, bytes) else v
                                               for v in r) for r in data])
            con.close()
        out.commit()
    finally:
        out.close()
    return list(names)


def merge_folder(spider: Path, out: Path, groups: dict[str, list[str]]) -> Path:
    """A Spider-format folder at `out` with one merged database per group and the groups' questions."""
    from girflow.frontends.mirror.spider_eval import database_path, load_spider

    items = load_spider(spider)
    (out / "database").mkdir(parents=True, exist_ok=True)
    questions = []
    for group, dbs in groups.items():
        merge_databases([database_path(spider, d) for d in dbs], out / "database" / f"{group}.sqlite")
        questions += [dict(i, db_id=group, source_db=i["db_id"]) for i in items if i["db_id"] in dbs]
    (out / "questions.json").write_text(json.dumps(questions, indent=1))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spider", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--group", action="append", required=True, help="NAME=db1,db2,...")
    args = ap.parse_args(argv)
    groups = {}
    for g in args.group:
        name, _, dbs = g.partition("=")
        groups[name] = [d for d in dbs.split(",") if d]
    merge_folder(args.spider, args.out, groups)
    print(f"wrote {args.out}: " + ", ".join(f"{g} ({len(d)} databases)" for g, d in groups.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
