"""The same data on every engine, and the same answers: load SQLite databases into a private PostgreSQL
cluster and into Parquet folders, then run SQL (gold queries, or Mirror's own answers) on each.

Used by tests/mirror/test_engines.py and `python -m girflow.tools.mirror_engines`.
"""
from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from ..errors import MirrorError
from . import open_engine
from .export import sqlite_to_parquet, sqlite_to_postgres

ENGINE_NAMES = ("sqlite", "postgresql", "duckdb")


class Replicas:
    """One SQLite database per name, also as a PostgreSQL database and as a folder of Parquet files."""

    def __init__(self, sqlite_files: dict[str, Path], cluster=None, work_dir: Path | None = None):
        self.sqlite = dict(sqlite_files)
        self.cluster = cluster
        self.work = Path(work_dir or tempfile.mkdtemp(prefix="mirror_replicas_"))
        self.postgres: dict[str, str] = {}
        self.parquet: dict[str, Path] = {}
        for name, path in self.sqlite.items():
            if cluster is not None:
                url = cluster.create_database(name)
                sqlite_to_postgres(path, url)
                self.postgres[name] = url
            self.parquet[name] = self.work / name
            sqlite_to_parquet(path, self.parquet[name])

    def source(self, name: str, engine: str):
        if engine == "sqlite":
            return self.sqlite[name]
        if engine == "postgresql":
            if name not in self.postgres:
                raise MirrorError("no PostgreSQL cluster for these replicas")
            return self.postgres[name]
        return self.parquet[name]

    def engine(self, name: str, engine: str, **kw):
        return open_engine(self.source(name, engine), self.work / "out", engine=engine, **kw)


def normalise(rows, ordered: bool):
    norm = [tuple(round(v, 4) if isinstance(v, float) else v for v in r) for r in rows]
    return norm if ordered else Counter(norm)


def same_rows(a, b, sql: str) -> bool:
    ordered = "ORDER BY" in sql.upper()
    return normalise(a, ordered) == normalise(b, ordered)
