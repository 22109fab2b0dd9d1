"""The Mirror pipeline: question -> linked schema -> prompt -> constrained SQL -> validation/repair ->
guarded execution -> summary -> chart. Every stage's output is kept in `trace` (and can be printed as it
happens, like `--mlir-print-ir-after-all`).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from .accounting import most_accounted
from .aliases import readable_aliases
from .beam import BEAM_WIDTH
from .candidates import MAX_RANKED, MAX_SCORED, Candidate, choose, enumerate_language
from .chart import draw_chart
from .column_facts import engine_facts
from .conditions import plain_numbers
from .coordination import combined, split_coordinated
from .engines import open_engine
from .engines.base import statement_text
from .errors import MirrorError
from .grammar import build_grammar
from .guard import Result
from .joins import ident
from .key_labels import with_key_labels
from .linking import Link, link
from .lookups import rows_pointing_at
from .models import make_model
from .prompt import prompt_prefix, prompt_tail
from .schema import Schema
from .shape import numbers_as_digits
from .summary import summarise
from .tidy import without_repeated_items

MAX_REPAIRS = 2
MAX_RUN = 6  # of those, the likeliest run against the database
# Questions that ask for rows or a count of them ("how many hotels ...", "list the guests ..."): when no
# name or value links such a question, the model picks the table; any other question is refused.
ASKS_FOR_ROWS = re.compile(r"\s*(how many|list|show|display|give me|count|what are the|which \w+ (are|have|has|is|were|was))\b",
                           re.I)
CANDIDATE_TIME_S = 1.0  # time limit of each candidate's run (the chosen query then runs under the user's limit)


NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])")


def as_digits(question: str) -> str:
    """The question with its numbers in digits: "more than one pet" compares with 1, "$40,000" with 40000."""
    return numbers_as_digits(plain_numbers(question))


def numbers_in(question: str) -> list[str]:
    """The numbers of a question (after `as_digits`) that its queries may use as literals."""
    return NUMBER.findall(question)


def linkable_schema(engine) -> Schema:
    """The engine's schema with what linking reads from the data: the index of its text values and the
    facts (NULLs, distinct values) of the columns a question names."""
    schema = engine.schema
    schema.value_index = engine.value_index([(t.name, c.name) for t in schema.tables for c in t.columns
                                             if not c.is_numeric])
    schema.column_facts = engine_facts(engine)
    return schema


def allowed_queries(schema: Schema, question: str, limit: int) -> list[str]:
    """Up to `limit` queries the grammar allows for `question`, as the pipeline builds them before any
    model is involved (linking by names and values only)."""
    q = as_digits(question)
    return enumerate_language(build_grammar(schema, link(q, schema)), numbers_in(q), limit=limit)


@dataclass
class Stage:
    name: str
    output: str
    seconds: float = 0.0


@dataclass
class Answer:
    question: str | None
    sql: str
    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    summary: str = ""
    chart: str | None = None
    trace: list[Stage] = field(default_factory=list)
    truncated: bool = False
    error: str | None = None

    def stage(self, name: str) -> str | None:
        return next((s.output for s in self.trace if s.name == name), None)


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "girflow" / "mirror"


class Mirror:
    """Ask questions of one database: a SQLite file, a PostgreSQL URL, or CSV/Parquet files (small CSVs
    imported into SQLite, the rest read in place by DuckDB); see `engines`."""

    def __init__(self, source, model=None, *, model_name: str | None = None, out_dir=None, row_cap: int = 1000,
                 time_limit_s: float = 5.0, print_stages: bool = False, model_summary: bool = True,
                 charts: bool = True, chart_format: str = "png", engine: str = "auto", candidates: int = MAX_SCORED):
        self.source = source
        self.out_dir = Path(out_dir) if out_dir else cache_dir()
        self.engine = open_engine(source, self.out_dir, engine=engine, time_limit_s=time_limit_s, row_cap=row_cap)
        self.guard = self.engine  # the only way SQL reaches the data: explain() and run(), read-only
        self.db_path = self.engine.location
        self.schema: Schema = linkable_schema(self.engine)
        self.model = make_model(model, model_name)
        self.print_stages = print_stages
        self.max_scored = candidates  # 0: the greedy decode alone, no candidate scoring or voting
        self.beam_width = BEAM_WIDTH if candidates else 0  # larger grammars: a beam over their queries (0: greedy)
        self.model_summary = model_summary
        self.charts = charts
        self.chart_format = chart_format
        self.prefix = prompt_prefix(self.schema)
        self.column_names = {c.name.lower() for t in self.schema.tables for c in t.columns}

    def warm_up(self, plotting: bool = True) -> None:
        """One-time session costs, paid before the first question rather than inside it: load the model,
        compute the KV cache of the static prompt head, import the charting libraries (`plotting=False`
        for a single question: they are imported only if its result gets a chart)."""
        if hasattr(self.model, "prefill"):
            self.model.prefill(self.prefix)
        if self.charts and plotting:
            from .chart import import_plotting

            import_plotting()

    # -- stages -----------------------------------------------------------------------------------
    def _record(self, trace: list[Stage], name: str, output: str, t0: float) -> None:
        stage = Stage(name, output, time.perf_counter() - t0)
        trace.append(stage)
        if self.print_stages:
            print(f"// ----- {name} ({stage.seconds * 1000:.0f} ms) -----\n{output}\n", flush=True)

    def prompt(self, question: str, linked: Link) -> str:
        return self.prefix + prompt_tail(question, linked, self.schema)

    def compile(self, question: str, trace: list[Stage] | None = None) -> str:
        return self._compile(question, trace)[0]

    def _compile(self, question: str, trace: list[Stage] | None = None,
                 split_sets: bool = True) -> tuple[str, str | None]:
        """Question -> SQL that SQLite accepts (EXPLAIN), with a repair loop; each stage into `trace`. Also
        returns the prompt the model read for it (None when no model call was needed), which the summary
        continues."""
        trace = [] if trace is None else trace
        if not question or not question.strip():
            raise MirrorError("empty question")
        question = as_digits(question)
        split = split_coordinated(question, self.schema) if split_sets else None
        if split:
            combined = self._compile_set_operation(split, trace)
            if combined:
                return combined
        t0 = time.perf_counter()
        self._record(trace, "schema", self.schema.describe(), t0)
        t0 = time.perf_counter()
        try:
            linked = link(question, self.schema)
        except MirrorError as refusal:
            guess = self.table_by_model(question) if "does not seem to be about" in str(refusal) else None
            if guess is None:
                raise
            linked = link(question, self.schema, hint=[guess])
            self._record(trace, "table-by-model", f"no name or value matched; the model reads it as {guess}", t0)
        pointing = rows_pointing_at(question, self.schema, linked)  # "how many grants": whose record type?
        guess = self.table_by_model(question, pointing) if pointing else None
        if guess:
            linked = link(question, self.schema, hint=[guess])
            self._record(trace, "table-by-model", f"a lookup value names rows of {', '.join(pointing)}; the model "
                                                  f"reads them as {guess}", t0)
        self._record(trace, "schema-linking", linked.describe(), t0)
        t0 = time.perf_counter()
        grammar = build_grammar(self.schema, linked)
        self._record(trace, "grammar", grammar, t0)
        t0 = time.perf_counter()
        prompt = self.prompt(question, linked)
        self._record(trace, "prompt", "[static head: instruction, examples, tables]" + prompt[len(self.prefix):]
                     if prompt.startswith(self.prefix) else prompt, t0)
        t0 = time.perf_counter()
        numbers = numbers_in(question)
        limit = self.max_scored if hasattr(self.model, "score") else 1
        enumerated = enumerate_language(grammar, numbers, limit=limit + 1) if self.max_scored > 0 else []
        if len(enumerated) <= self.max_scored:  # the whole language: drop queries leaving a restricting word unused
            enumerated = most_accounted(question, enumerated)
        lead: str | None = prompt  # what the summary sentence continues: the prompt the model has read
        if len(enumerated) == 1:  # the question fixes the whole query: nothing for the model to choose
            sql = enumerated[0]
            lead = None  # the model never read this prompt's tail (a large schema's tables): the summary gets
            # the cached head and the question alone, not hundreds of tokens it would read for nothing
            self._record(trace, "generation", f"{sql}\n(the only query the grammar allows; no decoding)", t0)
        elif 1 < len(enumerated) <= self.max_scored and hasattr(self.model, "score"):
            # every query the grammar allows is scored, so a greedy decode (one of them) would add nothing
            sql, report = self.select_candidate(prompt, [Candidate(q) for q in enumerated])
            self._record(trace, "candidates", report, t0)
        else:
            sql = without_repeated_items(self.model.sql(prompt, grammar))
            self._record(trace, "generation", sql, t0)
            if len(enumerated) > self.max_scored and self.beam_width and hasattr(self.model, "rank"):
                sql = self._unless_empty(sql, grammar, numbers, prompt, trace)
        sql = self._with_key_labels(sql, question, trace)
        for attempt in range(MAX_REPAIRS + 1):
            t0 = time.perf_counter()
            try:
                engine_sql = self.engine.translate(sql)  # the grammar writes SQLite; the engine may speak another
                error = self.guard.explain(engine_sql)
                named = readable_aliases(sql, self.column_names)
                if error is None and named != sql:  # headers a person can read, if the database agrees
                    with contextlib.suppress(MirrorError):
                        named_sql = self.engine.translate(named)
                        if self.guard.explain(named_sql) is None:
                            engine_sql = named_sql
            except MirrorError as e:
                error = str(e)
            self._record(trace, "validation" if attempt == 0 else f"validation-{attempt}", error or
                         ("ok (EXPLAIN)" if engine_sql == sql else f"ok (EXPLAIN on {self.engine.name}): {engine_sql}"), t0)
            if error is None:
                return statement_text(engine_sql), lead
            if attempt == MAX_REPAIRS:
                break
            t0 = time.perf_counter()
            sql = self.model.sql(prompt + f"{sql}\nSQLite error: {error}\nCorrected SQL: ", grammar)
            lead = prompt
            self._record(trace, f"repair-{attempt + 1}", sql, t0)
        raise MirrorError(f"could not produce a valid query for this question; last attempt was:\n{sql}\n"
                          f"{self.engine.name} said: {error}")

    def _with_key_labels(self, sql: str, question: str, trace: list[Stage]) -> str:
        """A foreign key in the SELECT list shown by the referenced row's label (key_labels.py), if the
        database accepts the rewritten query; else the query as it was."""
        t0 = time.perf_counter()
        try:
            labelled = with_key_labels(sql, self.schema, question)
        except Exception as e:  # a display rewrite never costs the question its answer
            self._record(trace, "key-labels", f"not used: {type(e).__name__}: {e}", t0)
            return sql
        if labelled == sql:
            return sql
        try:
            error = self.guard.explain(self.engine.translate(labelled))
        except MirrorError as e:
            error = str(e)
        self._record(trace, "key-labels", f"not used: {error}" if error else labelled, t0)
        return sql if error else labelled

    def table_by_model(self, question: str, among: list[str] | None = None) -> str | None:
        """The table a question is about when none of its words names one ("hotels" for a table
        `properties`, "guests" for `customers`): the model's likelihood of `SELECT * FROM <table>` after the
        question, with the schema (and its example values) in the cached prompt head. None without a model
        that can score, or for a schema of one table."""
        if not hasattr(self.model, "score") or len(self.schema.tables) < 2 or not ASKS_FOR_ROWS.match(question):
            return None  # "who won the world cup in 1998": a question of fact, not about this data's rows
        from .joins import JoinGraph

        graph = JoinGraph(self.schema)  # a table no key joins (`schema_migrations`, an ETL log) is bookkeeping
        names = among or [t.name for t in self.schema.tables if graph.edges.get(t.name)] or [
            t.name for t in self.schema.tables]
        scores = self.model.score(self.prefix + f"\nQuestion: {' '.join(question.split())}\nSQL: ",
                                  [f"SELECT * FROM {ident(n)}" for n in names])
        return max(zip(scores, names))[1] if scores and max(scores) > float("-inf") else None

    def _unless_empty(self, sql: str, grammar: str, numbers: list[str], prompt: str,
                      trace: list[Stage]) -> str:
        """Execution-guided decoding for a grammar too large to score whole: the greedy query stands when it
        runs and returns rows; when it fails or returns nothing, a beam over the grammar's queries (beam.py)
        gives the likeliest others, which are run, and the one whose result most agree on is kept."""
        t0 = time.perf_counter()
        greedy = Candidate(sql, 0.0, "greedy")
        self._try(greedy)
        if greedy.runs and greedy.rows and not all(v is None for r in greedy.rows for v in r):
            return sql
        many = enumerate_language(grammar, numbers, limit=MAX_RANKED)
        ranked = self.model.rank(prompt, many, width=self.beam_width, keep=MAX_RUN)
        if not ranked:
            return sql
        chosen, report = self.select_candidate(prompt, [Candidate(q, s, "beam") for q, s in ranked])
        why = greedy.error or "no rows"
        self._record(trace, "candidates", f"greedy query gave {why}; beam of {self.beam_width} over {len(many)} "
                                          f"queries\n{report}", t0)
        return chosen

    def _try(self, c: Candidate) -> None:
        """Run one candidate under the short candidate time limit, keeping its rows or its error."""
        limit = self.engine.time_limit_s
        self.engine.time_limit_s = min(limit, CANDIDATE_TIME_S)  # a slow candidate is dropped, not waited for
        try:
            engine_sql = self.engine.translate(c.sql)
            c.error = self.guard.explain(engine_sql)
            if c.error is None:
                result = self.guard.run(engine_sql)
                c.rows, c.columns = result.rows, result.columns
        except MirrorError as e:
            c.error = str(e).splitlines()[0]
        finally:
            self.engine.time_limit_s = limit

    def _compile_set_operation(self, split, trace: list[Stage]) -> tuple[str, str | None] | None:
        """Both halves planned as questions of their own, joined by the set operator; None (and the question
        is planned whole) when either half fails or the database refuses the combination."""
        t0 = time.perf_counter()
        try:
            first, prompt = self._compile(split.first, [], split_sets=False)
            second, _ = self._compile(split.second, [], split_sets=False)
            sql = combined(split, first, second)
            error = self.guard.explain(sql)
        except MirrorError as e:
            error = str(e).splitlines()[0]
        self._record(trace, "set-operation", f"{split.operator} of\n  {split.first}\n  {split.second}\n"
                     + (f"not used: {error}" if error else sql), t0)
        return None if error else (sql, prompt)

    def select_candidate(self, prompt: str, cands: list[Candidate]) -> tuple[str, str]:
        """The queries the grammar allows, scored by the model's likelihood; the likeliest are run and the one
        whose result has most support is kept (see candidates.py). Returns the chosen SQL and a report for the
        trace."""
        if any(c.source != "beam" for c in cands):  # a beam's queries come scored
            for c, score in zip(cands, self.model.score(prompt, [c.sql for c in cands])):
                c.score = score
        cands.sort(key=lambda c: -c.score)
        for c in cands[:MAX_RUN]:
            self._try(c)
        chosen = choose(cands[:MAX_RUN], wants_rows=True) or cands[0]
        lines = [f"{'*' if c is chosen else ' '} {c.score:8.2f} {c.source:9} "
                 f"{c.error or ('not run' if c.rows is None else f'{len(c.rows)} rows')}: {c.sql}" for c in cands]
        return chosen.sql, "\n".join(lines)

    def run(self, sql: str, question: str | None = None, trace: list[Stage] | None = None,
            prompt: str | None = None, chart: bool = True) -> Answer:
        """Run SQL (the model's or the user's) through the guard, then summarise and chart the result.
        `prompt` is the one the SQL was written from; the summary continues it (cheap: it is cached).
        `chart=False` leaves the chart to `add_chart`, so a caller can show the answer first."""
        trace = [] if trace is None else trace
        t0 = time.perf_counter()
        result: Result = self.guard.run(sql)
        self._record(trace, "execution", f"{len(result.rows)} rows{' (capped)' if result.truncated else ''}, "
                                         f"columns {result.columns}", t0)
        t0 = time.perf_counter()
        lead = (prompt or self.prefix + f"Question: {question or 'What does this query return?'}\nSQL: ") + sql
        summary = summarise(self.model if self.model_summary else None, question or sql, result, lead=lead)
        self._record(trace, "summary", summary, t0)
        answer = Answer(question, statement_text(sql), result.columns, result.rows, summary, None, trace,
                        result.truncated)
        return self.add_chart(answer, sql) if chart else answer

    def add_chart(self, answer: Answer, sql: str | None = None) -> Answer:
        """Draw the answer's chart, if charts are on and one suits its rows (the plotting libraries are
        imported here, on first use)."""
        if self.charts and answer.chart is None:
            t0 = time.perf_counter()
            name = hashlib.sha1(f"{self.db_path}\n{sql or answer.sql}".encode()).hexdigest()[:16]
            result = Result(answer.columns, answer.rows, answer.truncated, 0.0)
            with stage_errors(answer.trace):
                chart = draw_chart(result, self.out_dir / "charts" / f"{name}.{self.chart_format}",
                                   title=answer.question or "")
            self._record(answer.trace, "chart", str(chart) if chart else "no chart suits this result", t0)
            answer.chart = str(chart) if chart else None
        return answer

    def ask(self, question: str, chart: bool = True) -> Answer:
        trace: list[Stage] = []
        with stage_errors(trace):
            sql, prompt = self._compile(question, trace)
            return self.run(sql, question, trace, prompt=prompt, chart=chart)


@contextlib.contextmanager
def stage_errors(trace: list[Stage]):
    """The last line of defence: an unexpected exception in any stage becomes a MirrorError that names the
    stage, so no question, on any schema, ends in a traceback (the cause stays chained for debugging)."""
    try:
        yield
    except MirrorError:
        raise
    except Exception as e:
        stage = trace[-1].name if trace else "schema"
        raise MirrorError(f"Mirror failed after the {stage} stage ({type(e).__name__}: {e}); try rephrasing the "
                          "question, or run your own SQL with --sql") from e
