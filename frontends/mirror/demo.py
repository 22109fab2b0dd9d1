"""`demo_main()`: what `girflow demo` calls — build the demo database and ask two questions, printing stages."""
from __future__ import annotations

DEMO_QUESTIONS = ["How many customers are there in each country?", "What is the average price of products in the Toys category?"]


def demo_main(db_path=None, questions=None, print_stages: bool = True) -> int:
    from .demo_db import build_demo_db
    from .pipeline import Mirror

    path = build_demo_db(db_path)
    print(f"Mirror demo database: {path}")
    mirror = Mirror(path, print_stages=print_stages)
    for q in questions or DEMO_QUESTIONS:
        print(f"=== {q}")
        answer = mirror.ask(q)
        print(f"SQL: {answer.sql}\nRows: {answer.rows[:5]}{' ...' if len(answer.rows) > 5 else ''}\n"
              f"Summary: {answer.summary}\nChart: {answer.chart}\n")
    return 0
