"""Engines Mirror can ask: a SQLite file (CSV files small enough are imported into one), a PostgreSQL
server, and CSV/Parquet files queried in place through DuckDB. `open_engine` picks one from the source.

    open_engine("shop.db")                       # SQLite
    open_engine("postgresql://reader@host/shop") # PostgreSQL (any server speaking its protocol)
    open_engine("events/*.parquet")              # DuckDB: one table of every matching file
    open_engine("exports/")                      # DuckDB if it holds Parquet or large CSVs, else SQLite import
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import MirrorError
from .base import Engine

ENGINES = ("auto", "sqlite", "postgresql", "duckdb")
SMALL_CSV_BYTES = 20 * 1024 * 1024  # CSV folders below this are imported into SQLite (as before)


def is_postgres_url(source) -> bool:
    return isinstance(source, str) and source.split("://", 1)[0] in ("postgresql", "postgres")


def choose_engine(source) -> str:
    """The engine a source goes to when the user does not say."""
    from .duckdb_files import FILE_SUFFIXES, is_glob

    if is_postgres_url(source):
        return "postgresql"
    text = str(source)
    if is_glob(text) and not Path(text).exists():
        return "duckdb"
    path = Path(text)
    if path.is_file():
        name = path.name.lower()
        if name.endswith(".parquet"):
            return "duckdb"
        if name.endswith(FILE_SUFFIXES):
            return "duckdb" if path.stat().st_size > SMALL_CSV_BYTES or not name.endswith(".csv") else "sqlite"
        return "sqlite"
    if path.is_dir():
        files = [p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(FILE_SUFFIXES)]
        top_csv_only = all(p.parent == path and p.name.lower().endswith(".csv") for p in files)
        if files and (not top_csv_only or sum(p.stat().st_size for p in files) > SMALL_CSV_BYTES):
            return "duckdb"
    return "sqlite"


def open_engine(source, cache_dir: Path, *, engine: str = "auto", time_limit_s: float = 5.0,
                row_cap: int = 1000) -> Engine:
    """The engine for `source`; `engine` forces one ("sqlite" imports CSVs, "duckdb" reads files in place)."""
    if engine not in ENGINES:
        raise MirrorError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    kind = choose_engine(source) if engine == "auto" else engine
    if kind == "postgresql":
        if not is_postgres_url(source):
            raise MirrorError(f"{source}: a PostgreSQL source is a URL like postgresql://user@host:5432/dbname")
        from .postgres import PostgresEngine

        return PostgresEngine(source, time_limit_s=time_limit_s, row_cap=row_cap)
    if is_postgres_url(source):
        raise MirrorError(f"{engine}: cannot read a PostgreSQL URL; use engine 'postgresql' or 'auto'")
    if kind == "duckdb":
        from .duckdb_files import DuckDBEngine

        return DuckDBEngine(source, time_limit_s=time_limit_s, row_cap=row_cap)
    from ..schema import open_source
    from .sqlite import SQLiteEngine

    return SQLiteEngine(open_source(os.fspath(source), cache_dir), time_limit_s=time_limit_s, row_cap=row_cap)


__all__ = ["Engine", "open_engine", "choose_engine", "ENGINES"]
