"""Candidate queries (grammar enumeration, likelihood, execution, agreement), set operations and LIKE
patterns, and the no-crash sweep over every question of the in-repo Spider copy."""
import json
import re
import sqlite3
from pathlib import Path

import pytest
from mirror_helpers import answered_share

from girflow.frontends.mirror.candidates import Candidate, choose, enumerate_language
from girflow.frontends.mirror.grammar_text import parse_grammar, to_gbnf
from girflow.frontends.mirror.setops import split_set_question
from girflow.frontends.mirror.shape import read_like

SPIDER = Path(__file__).parent / "data" / "spider"  # Spider dev databases, CC BY-SA 4.0 (README there)


def test_grammar_language_is_enumerated():
    g = ('start: query\nquery: q0 | q1\nq0: "SELECT " col " FROM t" (" WHERE x" cmp number)?\n'
         'q1: "SELECT COUNT(*) FROM u"\ncol: "a" | "b"\ncmp: " > " | " < "\nnumber: /[0-9]{1,6}/\n')
    assert parse_grammar(g)["q1"] == ("lit", "SELECT COUNT(*) FROM u")
    langs = set(enumerate_language(g, ["5"]))
    assert langs == {"SELECT COUNT(*) FROM u", "SELECT a FROM t", "SELECT b FROM t", "SELECT a FROM t WHERE x > 5",
                     "SELECT b FROM t WHERE x > 5", "SELECT a FROM t WHERE x < 5", "SELECT b FROM t WHERE x < 5"}
    assert "SELECT a FROM t WHERE x > 5" not in enumerate_language(g, [])  # a free number needs one from the question
    assert len(enumerate_language(g, ["5"], limit=3)) == 3


def test_grammar_is_written_as_gbnf_for_endpoints():
    g = 'start: query\nquery: "SELECT " col (" LIMIT " /[1-9][0-9]{0,3}/)?\ncol: "a" | "b_c"\n'
    assert to_gbnf(g) == ('root ::= r-query\nr-query ::= "SELECT " r-col (" LIMIT " [1-9][0-9]{0,3})?\n'
                          'r-col ::= ("a" | "b_c")\n')


def test_execution_and_agreement_choose_among_candidates():
    likeliest_fails = [Candidate("q1", -1.0, error="no such column"), Candidate("q2", -2.0, rows=[(3,)]),
                       Candidate("q3", -2.5, rows=[(4,)])]
    assert choose(likeliest_fails).sql == "q2"
    empty = [Candidate("q1", -1.0, rows=[]), Candidate("q2", -3.0, rows=[("x",)])]
    assert choose(empty).sql == "q2"  # nothing returned where something was asked for
    agree = [Candidate("q1", -1.0, rows=[(1,)]), Candidate("q2", -1.2, rows=[(2,)]), Candidate("q3", -1.3, rows=[(2,)])]
    assert choose(agree).sql == "q2"  # two likely queries agree on a result: more mass than the likeliest alone
    assert choose([Candidate("q1", -1.0, error="x")]) is None


@pytest.mark.parametrize("question, operator, first, second", [
    ("Which stadiums had concerts in both 2014 and 2015?", "INTERSECT",
     "Which stadiums had concerts in 2014?", "Which stadiums had concerts in 2015?"),
    ("Find the owners who have both cats and dogs as pets.", "INTERSECT",
     "Find the owners who have cats as pets.", "Find the owners who have dogs as pets."),
    ("Find all airlines with flights from both airports 'APG' and 'CVO'.", "INTERSECT",
     "Find all airlines with flights from airports 'APG'.", "Find all airlines with flights from airports 'CVO'."),
    ("Which airlines fly from 'CVO' but not from 'APG'?", "EXCEPT",
     "Which airlines fly from 'CVO'?", "Which airlines fly from 'APG'?"),
    ("Show names of all stadiums except for stadiums having a concert in 2014.", "EXCEPT",
     "Show names of all stadiums.", "Show names of stadiums having a concert in 2014."),
])
def test_coordinated_questions_split_into_set_operations(question, operator, first, second):
    split = split_set_question(question)
    assert (split.operator, split.first, split.second) == (operator, first, second)


@pytest.mark.parametrize("question", ["How many singers are there?", "What is the total of all orders except "
                                      "cancelled ones?", "Which singers are older than 30 and younger than 50?"])
def test_no_set_operation_without_coordination(question):
    assert split_set_question(question) is None


@pytest.mark.parametrize("question, like", [
    ("Which notes contain the substring 'East'?", ("%East%", "East")),
    ("List the documents whose description contains the letter w.", ("%w%", "w")),
    ("Which singers have a name starting with the letter B?", ("B%", "B")),
    ('Show names that end with "son".', ("%son", "son")),
    ("Find owners with 3 pets.", None), ("Which students have a name?", None),
])
def test_text_patterns_are_read(question, like):
    assert read_like(question) == like


def test_set_operation_and_like_run_on_spider(tmp_path):
    """With the embedded model: INTERSECT and LIKE planned end to end; results checked against SQLite."""
    from girflow import Mirror

    db = SPIDER / "database" / "concert_singer.sqlite"
    m = Mirror(db, out_dir=tmp_path, model_summary=False, charts=False)
    both = m.ask("What are the names of the stadiums that had concerts in both 2014 and 2015?")
    assert "INTERSECT" in both.sql
    gold = sqlite3.connect(db).execute(
        "SELECT name FROM stadium WHERE stadium_id IN (SELECT stadium_id FROM concert WHERE year = 2014) "
        "AND stadium_id IN (SELECT stadium_id FROM concert WHERE year = 2015)").fetchall()
    assert sorted(r[:1] for r in both.rows) == sorted(gold)
    like = m.ask("Which singers have a name containing the letter 'a'?")
    assert "LIKE '%a%'" in like.sql and like.rows
    assert all("a" in str(r[0]).lower() for r in like.rows)


class GrammarFollower:
    """A stand-in for the LLM in the sweep below: it checks that llguidance accepts every grammar Mirror
    builds and answers with a query of that grammar, so all 105 questions pass through linking, planning,
    set operations, candidate scoring, the guard and the answer in seconds (the model path itself is
    covered by the every-3rd-question test with SmolLM2)."""
    name = "grammar-follower"

    def sql(self, prompt, grammar, max_tokens=80):
        import llguidance

        problem = llguidance.LLMatcher.validate_grammar(llguidance.grammar_from("lark", grammar))
        assert not problem, f"llguidance refuses the grammar: {problem}\n{grammar}"
        found = enumerate_language(grammar, re.findall(r"\d+", prompt.rsplit("Question:", 1)[-1]) or ["1"], limit=1)
        return found[0] if found else "SELECT"

    def score(self, prompt, texts):
        return [-len(t) / 10 for t in texts]

    def text(self, prompt, max_tokens=60):
        return "A sentence."


def test_every_development_question_passes_every_stage_without_a_crash(tmp_path):
    """All 105 questions: an answer whose SQL ran, or a MirrorError; never any other exception."""
    items = json.loads((SPIDER / "questions.json").read_text())
    assert answered_share(SPIDER, items, tmp_path, model=GrammarFollower()) >= 0.9
