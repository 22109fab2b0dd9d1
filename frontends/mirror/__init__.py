"""Mirror: natural-language questions to SQL over SQLite or CSV, run safely, summarised and charted.

    from girflow import Mirror
    answer = Mirror("shop.db").ask("How many orders were cancelled?")
    answer.sql, answer.rows, answer.summary, answer.chart, answer.trace
"""
from .demo import demo_main
from .errors import MirrorError
from .pipeline import Answer, Mirror, Stage

__all__ = ["Mirror", "Answer", "Stage", "MirrorError", "demo_main"]
