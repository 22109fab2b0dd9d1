"""A foreign key in a query's SELECT list is shown by the label of the row it refers to, whichever stage wrote
the query: checked against SQLite on the permits database of test_returns_columns, without a model."""
import pytest
from test_returns_columns import permits  # noqa: F401  (the fixture's database)

from girflow.frontends.mirror.key_labels import with_key_labels
from girflow.frontends.mirror.spider_eval import same_rows


@pytest.mark.parametrize("question, sql, gold", [
    ("Which job has had the most hours?",
     "SELECT job_id, SUM(hours) FROM timesheet GROUP BY job_id ORDER BY SUM(hours) DESC LIMIT 1",
     "SELECT j.headline, SUM(t.hours) FROM timesheet t JOIN job j ON t.job_id = j.job_id GROUP BY j.job_id "
     "ORDER BY SUM(t.hours) DESC LIMIT 1"),
    ("Which inspector did the most inspections?",
     "SELECT n.inspector_id FROM inspection AS n GROUP BY n.inspector_id ORDER BY COUNT(*) DESC LIMIT 1",
     "SELECT i.first_name, i.last_name FROM inspection n JOIN inspector i ON n.inspector_id = i.inspector_id "
     "GROUP BY i.inspector_id ORDER BY COUNT(*) DESC LIMIT 1"),
    ("Show the jobs of the cases.", 'SELECT job_id FROM "Case"',
     'SELECT j.headline FROM "Case" c JOIN job j ON c.job_id = j.job_id'),
    ("List each job with its contractor.",
     "SELECT job.headline, job.contractor_id FROM job JOIN contractor AS c ON job.contractor_id = c.contractor_id",
     "SELECT j.headline, c.business FROM job j JOIN contractor c ON j.contractor_id = c.contractor_id"),
])
def test_a_key_is_shown_by_the_referenced_label(permits, question, sql, gold):  # noqa: F811
    schema, con = permits
    labelled = with_key_labels(sql, schema, question)
    assert labelled != sql
    cur = con.execute(labelled)
    assert same_rows(len(cur.description), cur.fetchall(), con.execute(gold).fetchall(), "ORDER BY" in gold), labelled


@pytest.mark.parametrize("question, sql", [
    ("Which job ids have the most hours?", "SELECT job_id FROM timesheet GROUP BY job_id"),  # ids asked for
    ("Which jobs have timesheets or cases?", 'SELECT job_id FROM timesheet UNION SELECT job_id FROM "Case"'),
    ("How many timesheets are there?", "SELECT COUNT(*) FROM timesheet"),
    ("List the hours.", "SELECT hours FROM timesheet"),
])
def test_other_queries_are_left_alone(permits, question, sql):  # noqa: F811
    schema, _ = permits
    assert with_key_labels(sql, schema, question) == sql
