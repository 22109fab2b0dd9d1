"""The DuckDB engine: CSV and Parquet files queried in place, never copied.

Each file of a folder is a table, each subfolder of Parquet/CSV files is one table (hive partitions
become columns), and a glob is one table of every file it matches. The tables are views in a small
catalog file in girflow's cache; the guard opens that catalog read-only, allows the engine to read only
the user's files (enable_external_access off, allowed_paths / allowed_directories, configuration
locked), caps memory (spilling to the cache) and stops a query at the time limit with
connection.interrupt() from a timer (DuckDB has no statement timeout). SQL must parse as one SELECT
before it reaches DuckDB.

Keys come from the files: Parquet key-value metadata `girflow.keys` (written by `export_parquet`) when
present, otherwise inferred: an `id`-like unique column is a key, and a column named like another
table's key whose values all occur there is a foreign key.
"""
from __future__ import annotations

import glob as globlib
import hashlib
import json
import os
import re
import threading
import time
from pathlib import Path

from girflow.runtime.cache_dir import cache_dir

from ..errors import MirrorError
from ..guard import Result
from ..schema import Column, ForeignKey, Schema, Table
from .base import Engine, canonical_type, distinct_values_sql, fill_values, plain_rows, sql_ident, text_values_sql, wants_values
from .sqlcheck import parse_select, statement_text

FILE_SUFFIXES = (".parquet", ".csv", ".tsv", ".csv.gz", ".tsv.gz")
KEYS_METADATA = "girflow.keys"
INTROSPECT_TIME_S = 5.0
UNIQUE_CHECK_ROWS = 1_000_000  # larger tables take an id-named column as their key without scanning it


def is_glob(source: str) -> bool:
    return any(ch in str(source) for ch in "*?[")


def data_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(FILE_SUFFIXES))


def table_name(path: Path) -> str:
    stem = path.name
    for suffix in sorted(FILE_SUFFIXES, key=len, reverse=True):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    name = re.sub(r"\W+", "_", stem).strip("_") or "data"
    return ("t_" + name) if name[0].isdigit() else name


def _reader(files: list[Path], hive: bool = False) -> str:
    """DuckDB table function over these files (one format per table)."""
    names = "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
    if all(f.name.lower().endswith(".parquet") for f in files):
        return f"read_parquet({names}{', hive_partitioning = true' if hive else ''})"
    if all(not f.name.lower().endswith(".parquet") for f in files):
        return f"read_csv({names}, union_by_name = true{', hive_partitioning = true' if hive else ''})"
    raise MirrorError(f"{files[0].parent}: mixes Parquet and CSV files in one table; keep one format per table")


def plan_tables(source) -> tuple[dict[str, tuple[list[Path], bool]], list[Path]]:
    """table name -> (its files, hive-partitioned?) and the folders the engine may read."""
    src = str(source)
    tables: dict[str, tuple[list[Path], bool]] = {}
    if is_glob(src):
        files = sorted(Path(p).resolve() for p in globlib.glob(src, recursive=True)
                       if p.lower().endswith(FILE_SUFFIXES) and os.path.isfile(p))
        if not files:
            raise MirrorError(f"{src}: the pattern matches no CSV or Parquet files")
        fixed = Path(re.split(r"[*?\[]", src)[0] or ".")
        name = table_name(fixed) if fixed.name and not str(fixed).endswith(os.sep) else table_name(files[0])
        tables[name] = (files, "**" in src)
        return tables, []
    path = Path(src).resolve()
    if not path.exists():
        raise MirrorError(f"{source}: no such file or folder")
    if path.is_file():
        if not path.name.lower().endswith(FILE_SUFFIXES):
            raise MirrorError(f"{source}: not a CSV or Parquet file")
        return {table_name(path): ([path], False)}, []
    dirs = []
    for f in data_files(path):
        tables.setdefault(table_name(f), ([f], False))
    for sub in sorted(p for p in path.iterdir() if p.is_dir()):
        files = sorted(f for f in sub.rglob("*") if f.is_file() and f.name.lower().endswith(FILE_SUFFIXES))
        if files:
            tables.setdefault(table_name(sub), (files, True))
            dirs.append(sub)
    if not tables:
        raise MirrorError(f"{source}: the folder holds no CSV or Parquet files")
    return tables, dirs


class DuckDBEngine(Engine):
    name = "DuckDB"
    dialect = "duckdb"

    def __init__(self, source, *, time_limit_s: float = 5.0, row_cap: int = 1000, memory_limit: str = "2GB",
                 threads: int | None = None):
        super().__init__(time_limit_s=time_limit_s, row_cap=row_cap)
        self.location = str(source)
        self.memory_limit = memory_limit
        self.threads = threads
        self._lock = threading.Lock()
        self.tables, self._dirs = plan_tables(source)
        self.catalog = self._build_catalog()
        self._con = self._open()

    # -- catalog and connection ------------------------------------------------------------------------
    def _files(self) -> list[Path]:
        return [f for files, _ in self.tables.values() for f in files]

    def _build_catalog(self) -> Path:
        import duckdb

        digest = hashlib.sha256()
        for name, (files, hive) in sorted(self.tables.items()):
            digest.update(f"{name}|{hive}".encode())
            for f in files:
                st = f.stat()
                digest.update(f"|{f}|{st.st_size}|{st.st_mtime_ns}".encode())
        path = cache_dir("mirror", "duckdb") / f"views_{digest.hexdigest()[:20]}.duckdb"
        if path.exists():
            return path
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        con = duckdb.connect(str(tmp))
        try:
            for name, (files, hive) in self.tables.items():
                con.execute(f"CREATE VIEW {sql_ident(name)} AS SELECT * FROM {_reader(files, hive)}")
                keys = _file_keys(con, files)
                if keys:
                    con.execute(f"COMMENT ON VIEW {sql_ident(name)} IS {_sql_str(json.dumps(keys))}")
        except duckdb.Error as e:
            con.close()
            tmp.unlink(missing_ok=True)
            raise MirrorError(f"{self.location}: DuckDB cannot read these files: {_first_line(e)}") from None
        con.close()
        os.replace(tmp, path)
        return path

    def _open(self):
        import duckdb

        config = {"memory_limit": self.memory_limit, "temp_directory": str(cache_dir("mirror", "duckdb", "spill")),
                  "max_temp_directory_size": "20GB", "autoinstall_known_extensions": False,
                  "autoload_known_extensions": False}
        if self.threads:
            config["threads"] = self.threads
        try:
            con = duckdb.connect(str(self.catalog), read_only=True, config=config)
            if con.execute("SELECT current_setting('lock_configuration')").fetchone()[0]:
                # the same catalog opened again in this process shares DuckDB's instance, already locked down
                if con.execute("SELECT current_setting('enable_external_access')").fetchone()[0]:
                    raise MirrorError(f"{self.location}: DuckDB's configuration is locked with file access on")
                return con
            con.execute("SET enable_progress_bar = false")  # a library prints nothing on the user's terminal
            con.execute("SET allowed_paths = " + "[" + ", ".join(_sql_str(str(f)) for f in self._files()) + "]")
            if self._dirs:
                con.execute("SET allowed_directories = [" + ", ".join(_sql_str(str(d) + os.sep) for d in self._dirs) + "]")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
        except duckdb.Error as e:
            raise MirrorError(f"cannot open {self.location} with DuckDB: {_first_line(e)}") from None
        return con

    def close(self) -> None:
        self._con.close()

    # -- guarded statements ----------------------------------------------------------------------------
    def _timed(self, fn, limit_s: float):
        """fn() with the connection interrupted after limit_s seconds; returns (value, timed_out)."""
        fired = threading.Event()  # set by the timer itself: on a busy machine the clock read here could lag

        def stop():
            fired.set()
            self._con.interrupt()

        timer = threading.Timer(limit_s, stop)
        timer.daemon = True
        timer.start()
        try:
            return fn()
        except Exception as e:
            if fired.is_set() and "INTERRUPT" in str(e).upper():
                raise TimeoutError from None
            raise
        finally:
            timer.cancel()

    def explain(self, sql: str) -> str | None:
        import duckdb

        parse_select(sql, self.dialect)
        try:
            with self._lock:
                self._timed(lambda: self._con.execute("EXPLAIN " + statement_text(sql)).fetchall(), self.time_limit_s)
            return None
        except TimeoutError:
            return f"EXPLAIN ran longer than {self.time_limit_s:g} s"
        except duckdb.Error as e:
            return f"DuckDB error: {_first_line(e)}"

    def run(self, sql: str) -> Result:
        import duckdb

        parse_select(sql, self.dialect)
        text = statement_text(sql)
        start = time.monotonic()

        def go():
            cur = self._con.execute(text)
            if cur.description is None:
                raise MirrorError("this statement returns no rows; Mirror only runs queries that read data")
            return [d[0] for d in cur.description], cur.fetchmany(self.row_cap + 1)

        try:
            with self._lock:
                columns, rows = self._timed(go, self.time_limit_s)
        except TimeoutError:
            raise MirrorError(f"the query ran longer than {self.time_limit_s:g} s and was stopped") from None
        except duckdb.OutOfMemoryException:
            raise MirrorError(f"the query needs more than the memory limit ({self.memory_limit}) and was stopped") from None
        except duckdb.PermissionException as e:
            raise MirrorError(f"refused: {_first_line(e)}") from None
        except duckdb.Error as e:
            raise MirrorError(f"DuckDB error: {_first_line(e)}") from None
        truncated = len(rows) > self.row_cap
        return Result(columns, plain_rows(rows[: self.row_cap]), truncated, time.monotonic() - start)

    def text_values(self, table: str, column: str, limit: int, max_chars: int) -> list[str]:
        t = next((t for t in self.schema.tables if t.name == table), None)
        col = t.column(column) if t is not None else None
        if t is None or col is None or col.type == "BLOB":
            return []
        got = self._rows(text_values_sql(sql_ident(table), column, limit, max_chars))
        if got is None:
            raise MirrorError(f"cannot read the values of {table}.{column}")
        return [r[0] for r in got]

    def _rows(self, sql: str) -> list | None:
        import duckdb

        try:
            with self._lock:
                return self._timed(lambda: self._con.execute(sql).fetchall(), INTROSPECT_TIME_S)
        except (TimeoutError, duckdb.Error):
            return None

    # -- schema ----------------------------------------------------------------------------------------
    def introspect(self) -> Schema:
        described = self._rows("SELECT table_name, column_name, data_type FROM information_schema.columns "
                               "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position") or []
        comments = dict(self._rows("SELECT view_name, comment FROM duckdb_views() WHERE NOT internal") or [])
        tables, declared = [], {}
        by_table: dict[str, list] = {}
        for t, c, ty in described:
            by_table.setdefault(t, []).append((c, ty))
        position = {n: json.loads(comments[n]).get("position", 1 << 30) if comments.get(n) else 1 << 30
                    for n in self.tables}
        for name in sorted(self.tables, key=lambda n: (position[n], n)):
            keys = json.loads(comments[name]) if comments.get(name) else {}
            declared[name] = keys
            pk = set(keys.get("primary_key", []))
            cols = []
            for cname, ctype in by_table.get(name, []):
                canon = canonical_type(ctype)
                cols.append(Column(cname, canon, is_pk=cname in pk and canon == "INTEGER"))
            count = self._rows(f"SELECT COUNT(*) FROM {sql_ident(name)}")
            tables.append(Table(name, cols, count[0][0] if count else 0))
        fks = []
        by_lower = {t.name.lower(): t for t in tables}
        for t in tables:
            for col, other, other_col in declared[t.name].get("foreign_keys", []):
                o = by_lower.get(other.lower())
                mine = next((c.name for c in t.columns if c.name.lower() == col.lower()), None)
                theirs = next((c.name for c in o.columns if c.name.lower() == other_col.lower()), None) if o else None
                if o is not None and mine and theirs:
                    fks.append(ForeignKey(t.name, mine, o.name, theirs))
        if not any(declared.values()) and len(tables) > 1:  # keys only matter for joins
            fks = self._infer_keys(tables)
        for t in tables:
            for c in t.columns:
                if wants_values(c):
                    got = self._rows(distinct_values_sql(t.name, c.name))
                    fill_values(c, [r[0] for r in got] if got else [])
        return Schema(tables, fks)

    def _infer_keys(self, tables: list[Table]) -> list[ForeignKey]:
        """Keys for files that declare none: an id-like column whose values are unique is the table's
        key; a column of another table named like that key (`customer_id` for customers.id, or the
        key's own name) whose values all occur in it is a foreign key."""
        keys = {}
        for t in tables:
            stem = _singular(t.name.lower())
            for c in t.columns:
                low = c.name.lower()
                if c.type == "INTEGER" and low in ("id", f"{stem}_id", f"{stem}id", f"{t.name.lower()}_id"):
                    if t.row_count > UNIQUE_CHECK_ROWS:  # the name alone: a uniqueness scan costs a hash table
                        c.is_pk = True
                        keys[t.name] = c.name
                        break
                    got = self._rows(f"SELECT COUNT(DISTINCT {sql_ident(c.name)}) = COUNT(*) AND COUNT(*) = "
                                     f"COUNT({sql_ident(c.name)}) FROM {sql_ident(t.name)}")
                    if got and got[0][0]:
                        c.is_pk = True
                        keys[t.name] = c.name
                        break
        fks = []
        for t in tables:
            for c in t.columns:
                if c.type != "INTEGER" or c.is_pk:
                    continue
                for other, key in keys.items():
                    if other == t.name:
                        continue
                    stem = _singular(other.lower())
                    if c.name.lower() not in (key.lower(), f"{stem}_{key}".lower(), f"{stem}{key}".lower(),
                                              f"{other.lower()}_{key}".lower()):
                        continue
                    got = self._rows(f"SELECT COUNT(*) FROM (SELECT DISTINCT {sql_ident(c.name)} AS v FROM "
                                     f"{sql_ident(t.name)} WHERE v IS NOT NULL) WHERE v NOT IN (SELECT "
                                     f"{sql_ident(key)} FROM {sql_ident(other)})")
                    if got and got[0][0] == 0:
                        fks.append(ForeignKey(t.name, c.name, other, key))
                        break
        return fks


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _file_keys(con, files: list[Path]) -> dict:
    """Keys a Parquet file declares in its key-value metadata (None for CSV or files without them)."""
    f = files[0]
    if not f.name.lower().endswith(".parquet"):
        return {}
    try:
        rows = con.execute("SELECT key, value FROM parquet_kv_metadata(?)", [str(f)]).fetchall()
    except Exception:
        return {}
    for key, value in rows:
        if bytes(key).decode(errors="replace") == KEYS_METADATA:
            try:
                return json.loads(bytes(value).decode())
            except ValueError:
                return {}
    return {}


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
