"""`girflow mirror ...` commands and the evaluation harness's comparison rules."""
import io
from types import SimpleNamespace

from mirror_helpers import db_fingerprint, sqlite_rows

from girflow.frontends.mirror import cli
from girflow.frontends.mirror.eval_questions import QUESTIONS
from girflow.frontends.mirror.evaluate import same_result
from girflow.frontends.mirror.guard import Guard
from girflow.frontends.mirror.held_out_questions import HELD_OUT
from girflow.tools.cli import main


def test_build_demo_is_deterministic(tmp_path, capsys):
    assert main(["mirror", "build-demo", str(tmp_path / "a.db")]) == 0
    assert main(["mirror", "build-demo", str(tmp_path / "b.db")]) == 0
    assert db_fingerprint(tmp_path / "a.db") == db_fingerprint(tmp_path / "b.db")
    assert sqlite_rows(tmp_path / "a.db", "SELECT COUNT(*) FROM orders") == [(4000,)]


def test_ask_sql_prints_table_and_refuses_writes(demo_db, tmp_path, capsys):
    rc = main(["mirror", "ask", "--db", str(demo_db), "--out-dir", str(tmp_path), "--sql",
               "SELECT status, COUNT(*) FROM orders GROUP BY status ORDER BY status"])
    out = capsys.readouterr().out
    assert rc == 0
    for status, n in sqlite_rows(demo_db, "SELECT status, COUNT(*) FROM orders GROUP BY status"):
        assert status in out and str(n) in out
    assert "Chart: " in out and ".png" in out
    before = db_fingerprint(demo_db)
    assert main(["mirror", "ask", "--db", str(demo_db), "--sql", "DELETE FROM orders"]) == 1
    assert "refused" in capsys.readouterr().err
    assert db_fingerprint(demo_db) == before
    assert main(["mirror", "ask", "--db", str(tmp_path / "missing.db"), "hello"]) == 1


def test_ask_can_write_the_chart_as_svg(demo_db, tmp_path, capsys):
    rc = main(["mirror", "ask", "--db", str(demo_db), "--out-dir", str(tmp_path), "--chart-format", "svg", "--sql",
               "SELECT category, COUNT(*) FROM products GROUP BY category"])
    assert rc == 0
    chart = capsys.readouterr().out.split("Chart: ")[1].split()[0]
    assert chart.endswith(".svg") and "<svg" in open(chart).read()


def test_shell_lets_the_user_edit_sql(demo_db, tmp_path, capsys):
    args = SimpleNamespace(db=str(demo_db), model="embedded", model_name=None, row_cap=1000, time_limit=5.0,
                           out_dir=str(tmp_path), print_stages=False)
    script = io.StringIO("How many orders were cancelled?\ne\nSELECT COUNT(*) FROM orders WHERE status = 'returned'\n"
                         ":sql DROP TABLE orders\n:quit\n")
    assert cli.run_shell(args, stdin=script) == 0
    out = capsys.readouterr().out
    assert "Proposed SQL: SELECT" in out
    returned = sqlite_rows(demo_db, "SELECT COUNT(*) FROM orders WHERE status = 'returned'")[0][0]
    assert f"The answer is {returned}" in out
    assert "error: refused" in out


def test_eval_set_is_graded_and_gold_sql_runs(demo_db):
    assert len(QUESTIONS) >= 60
    assert {lvl for lvl, _, _ in QUESTIONS} == {1, 2, 3, 4, 5}
    g = Guard(demo_db)
    for _, _, gold in QUESTIONS + HELD_OUT:
        assert g.run(gold).rows, gold
    assert {lvl for lvl, _, _ in HELD_OUT} == {1, 2, 3, 4, 5}
    assert not {q for _, q, _ in HELD_OUT} & {q for _, q, _ in QUESTIONS}


def test_result_comparison_rules():
    assert same_result([(1, "a"), (2, "b")], [(2, "b"), (1, "a")], "SELECT x, y FROM t")
    assert not same_result([(1, "a"), (2, "b")], [(2, "b"), (1, "a")], "SELECT x, y FROM t ORDER BY x DESC")
    assert not same_result([(1,), (1,)], [(1,)], "SELECT x FROM t")
    assert same_result([(0.333333333,)], [(1 / 3,)], "SELECT AVG(x) FROM t")


def test_eval_can_be_limited_to_levels(demo_db, tmp_path, capsys):
    from girflow.frontends.mirror.evaluate import evaluate
    from girflow.frontends.mirror.pipeline import Mirror

    class Gold:  # answers with the gold SQL, so only the harness is under test
        name = "gold"

        def sql(self, prompt, grammar):
            question = prompt.rsplit("Question: ", 1)[1].split("\n")[0]
            return next(g for _, q, g in QUESTIONS + HELD_OUT if q == question)

        def text(self, prompt, max_tokens=20):
            return "A sentence."

    # candidates=0: the stand-in's query is used even where the grammar allows only one
    report = evaluate(Mirror(demo_db, model=Gold(), out_dir=tmp_path, charts=False, candidates=0), levels={5},
                      progress=None)
    assert report["questions"] == sum(lvl == 5 for lvl, _, _ in QUESTIONS)
    assert report["execution_accuracy"] == 1.0 and report["median_cpu_s"] >= 0
    held = evaluate(Mirror(demo_db, model=Gold(), out_dir=tmp_path, charts=False, candidates=0), levels={4}, progress=None,
                    question_set="held-out")
    assert held["questions"] == sum(lvl == 4 for lvl, _, _ in HELD_OUT) and held["execution_accuracy"] == 1.0


def test_one_shot_ask_prints_the_answer_before_plotting(demo_db, tmp_path, monkeypatch, capsys):
    """Plotting's imports cost a one-shot `ask` seconds: the SQL, rows and summary are out before them."""
    import girflow.frontends.mirror.chart as chart

    printed_before = []
    real = chart.import_plotting

    def spy():
        printed_before.append(capsys.readouterr().out)
        return real()

    monkeypatch.setattr(chart, "import_plotting", spy)
    rc = main(["mirror", "ask", "--db", str(demo_db), "--out-dir", str(tmp_path), "--sql",
               "SELECT category, COUNT(*) FROM products GROUP BY category"])
    assert rc == 0 and printed_before
    assert "Summary:" in printed_before[0] and "category" in printed_before[0] and "Chart:" not in printed_before[0]
    assert ".png" in capsys.readouterr().out.split("Chart: ")[1]
