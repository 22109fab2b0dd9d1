"""Stage 3b, few-shot examples: worked question -> SQL pairs, chosen by similarity to the question.

The examples use a small made-up schema (employees, departments, sales), not the user's database, so they
teach SQL shapes (count, group by, join, nested) without leaking answers to the evaluation questions.
"""
from __future__ import annotations

from .linking import stem, words

EXAMPLE_SCHEMA = ("employees(id INTEGER PK; name TEXT; department_id INTEGER -> departments.id; salary REAL; "
                  "hire_date TEXT)\ndepartments(id INTEGER PK; name TEXT; city TEXT)\n"
                  "sales(id INTEGER PK; employee_id INTEGER -> employees.id; total REAL; sale_date TEXT; region TEXT)")

EXAMPLES = [
    ("How many employees are there?", "SELECT COUNT(*) FROM employees"),
    ("How many sales were made in the North region?", "SELECT COUNT(*) FROM sales WHERE region = 'North'"),
    ("List the names of departments in Boston.", "SELECT name FROM departments WHERE city = 'Boston'"),
    ("What is the average salary?", "SELECT AVG(salary) FROM employees"),
    ("What is the highest sale total?", "SELECT MAX(total) FROM sales"),
    ("What is the total of all sales?", "SELECT SUM(total) FROM sales"),
    ("Which employees earn more than 50000?", "SELECT name FROM employees WHERE salary > 50000"),
    ("Show the 5 best paid employees.", "SELECT name, salary FROM employees ORDER BY salary DESC LIMIT 5"),
    ("Which sale had the lowest total?", "SELECT id, total FROM sales ORDER BY total ASC LIMIT 1"),
    ("How many sales are there in each region?", "SELECT region, COUNT(*) FROM sales GROUP BY region"),
    ("What is the total sales amount per region?", "SELECT region, SUM(total) FROM sales GROUP BY region"),
    ("Which regions have more than 100 sales?",
     "SELECT region, COUNT(*) FROM sales GROUP BY region HAVING COUNT(*) > 100"),
    ("Which region has the most sales?",
     "SELECT region, COUNT(*) FROM sales GROUP BY region ORDER BY COUNT(*) DESC LIMIT 1"),
    ("How many distinct cities have departments?", "SELECT COUNT(DISTINCT city) FROM departments"),
    ("List the different regions.", "SELECT DISTINCT region FROM sales"),
    ("How many employees were hired in 2021?", "SELECT COUNT(*) FROM employees WHERE strftime('%Y', hire_date) = '2021'"),
    ("What is the average salary in each department?",
     "SELECT departments.name, AVG(employees.salary) FROM employees JOIN departments ON "
     "employees.department_id = departments.id GROUP BY departments.name"),
    ("How many employees work in the Sales department?",
     "SELECT COUNT(*) FROM employees JOIN departments ON employees.department_id = departments.id "
     "WHERE departments.name = 'Sales'"),
    ("What is the total of sales made by employees of the Boston departments?",
     "SELECT SUM(sales.total) FROM sales JOIN employees ON sales.employee_id = employees.id JOIN departments ON "
     "employees.department_id = departments.id WHERE departments.city = 'Boston'"),
    ("Which employees earn more than the average salary?",
     "SELECT name FROM employees WHERE salary > (SELECT AVG(salary) FROM employees)"),
    ("Which employees made no sale?",
     "SELECT name FROM employees WHERE id NOT IN (SELECT employee_id FROM sales)"),
    ("Total sales per month", "SELECT strftime('%Y-%m', sale_date), SUM(total) FROM sales GROUP BY strftime('%Y-%m', sale_date)"),
    ("Which employee has the highest total of sales?",
     "SELECT employees.name, SUM(sales.total) FROM sales JOIN employees ON sales.employee_id = employees.id "
     "GROUP BY employees.name ORDER BY SUM(sales.total) DESC LIMIT 1"),
]

# A few examples also show a result and a one-sentence answer, so the summary can be asked for as a
# continuation of the SQL prompt (the model has seen the pattern; nothing is re-read).
ANSWERS = {
    "How many employees are there?": ("COUNT(*)\n42", "There are 42 employees."),
    "How many sales are there in each region?": ("region | COUNT(*)\nNorth | 120\nSouth | 95",
                                                 "North has the most sales (120), South has 95."),
    "Show the 5 best paid employees.": ("name | salary\nAda | 91000.00\nBen | 87000.00",
                                        "Ada is the best paid employee, earning 91,000."),
}


def example_text(question: str, sql: str) -> str:
    text = f"Question: {question}\nSQL: {sql}"
    if question in ANSWERS:
        result, answer = ANSWERS[question]
        text += f"\nResult:\n{result}\nAnswer: {answer}"
    return text


SHAPE_WORDS = {"how", "many", "average", "total", "each", "per", "most", "least", "highest", "lowest", "more",
               "than", "distinct", "different", "list", "which", "top", "best", "month", "year", "no", "not"}


def _features(text: str) -> set[str]:
    ws = words(text)
    feats = {stem(w) for w in ws}
    feats |= {f"#{w}" for w in ws if w in SHAPE_WORDS}  # shape words count twice
    feats |= {f"#{a}_{b}" for a, b in zip(ws, ws[1:]) if a in SHAPE_WORDS or b in SHAPE_WORDS}
    return feats


def choose_examples(question: str, k: int = 4) -> list[tuple[str, str]]:
    """The k examples most similar to the question (Jaccard on words and shape words), most similar last."""
    q = _features(question)
    scored = sorted(EXAMPLES, key=lambda ex: len(q & _features(ex[0])) / (len(q | _features(ex[0])) or 1))
    return scored[-k:]
