"""Two databases in styles Spider does not use, with questions whose gold SQL was written before Mirror ran
on them (session 7), to check that Mirror's mechanisms carry over to schemas nobody tuned on:

- `webshop`: an ORM-generated schema (Django style `app_model` tables, `x_id` keys with no FOREIGN KEY
  declared, money in integer cents, an order-status lookup table, guest orders with a NULL user, a
  self-reference `referred_by_id`; products are `catalog_item` with a `label`, categories have a `title`).
- `hr_legacy`: a legacy UPPER_SNAKE abbreviated schema (`EMP_MSTR`, `EMP_FRST_NM`, `BASE_SAL_AMT`), code
  tables holding the English values (`DEPT_CD_REF`, `EMP_STAT_REF` in upper case, `PRJ_STAT_REF`), a bridge
  table `EMP_PRJ_XREF`, a manager self-reference `MGR_EMP_NO`, a role key `LEAD_EMP_NO`, pay in another
  table (`PAY_HIST`), and only one declared foreign key.

    python -c "import sys; sys.path.insert(0, 'tests/mirror'); import styles_db; styles_db.write_spider_folder('/tmp/styles')"
    girflow mirror eval --spider /tmp/styles
"""
from __future__ import annotations

import random
from pathlib import Path

import spider_folder

WEBSHOP_SCHEMA = """
CREATE TABLE auth_user (id INTEGER PRIMARY KEY, username TEXT, first_name TEXT, last_name TEXT, email TEXT,
                        date_joined TEXT, is_active INTEGER, referred_by_id INTEGER);
CREATE TABLE catalog_category (id INTEGER PRIMARY KEY, title TEXT, slug TEXT);
CREATE TABLE catalog_item (id INTEGER PRIMARY KEY, sku TEXT, label TEXT, category_id INTEGER, unit_price_cents INTEGER);
CREATE TABLE sales_orderstatus (id INTEGER PRIMARY KEY, code TEXT, label TEXT);
CREATE TABLE sales_order (id INTEGER PRIMARY KEY, user_id INTEGER, status_id INTEGER, created_at TEXT,
                          total_cents INTEGER, coupon_code TEXT);
CREATE TABLE sales_orderline (id INTEGER PRIMARY KEY, order_id INTEGER, item_id INTEGER, qty INTEGER, price_cents INTEGER);
CREATE TABLE django_migrations (id INTEGER PRIMARY KEY, app TEXT, name TEXT, applied TEXT);
"""

USERS = ["alice", "bob", "carol", "dmitri", "erin", "farah", "gustavo", "hana", "ivan", "julia", "kofi", "lena"]
FIRST = ["Alice", "Bob", "Carol", "Dmitri", "Erin", "Farah", "Gustavo", "Hana", "Ivan", "Julia", "Kofi", "Lena"]
LAST = ["Moreau", "Lindqvist", "Osei", "Petrov", "Walsh", "Haddad", "Ribeiro", "Sato", "Novak", "Keller", "Mensah", "Vogel"]
CATEGORIES = ["Garden", "Kitchen", "Toys", "Books"]
ITEMS = [("Garden Hose", 0, 2499), ("Rake", 0, 1899), ("Flower Pot", 0, 799), ("Lawn Mower", 0, 18999),
         ("Chef Knife", 1, 5999), ("Frying Pan", 1, 3499), ("Kettle", 1, 2999), ("Toaster", 1, 4599),
         ("Puzzle", 2, 1299), ("Kite", 2, 1599), ("Robot Kit", 2, 8999),
         ("Atlas", 3, 3999), ("Cookbook", 3, 2299), ("Novel", 3, 1499)]
STATUSES = [("new", "New"), ("paid", "Paid"), ("shipped", "Shipped"), ("cancelled", "Cancelled"), ("refunded", "Refunded")]


def build_webshop(path: str | Path) -> Path:
    rng = random.Random(7)
    con = spider_folder.fresh_database(path, WEBSHOP_SCHEMA)
    for i, u in enumerate(USERS, 1):
        referred = {3: 1, 4: 1, 7: 2, 9: 1}.get(i)  # carol, dmitri, julia referred by alice; gustavo by bob
        con.execute("INSERT INTO auth_user VALUES (?,?,?,?,?,?,?,?)",
                    (i, u, FIRST[i - 1], LAST[i - 1], f"{u}@example.org", f"{2022 + i % 4}-{1 + i % 12:02d}-{3 + i:02d}",
                     int(i % 5 != 0), referred))
    for i, c in enumerate(CATEGORIES, 1):
        con.execute("INSERT INTO catalog_category VALUES (?,?,?)", (i, c, c.lower()))
    for i, (label, cat, cents) in enumerate(ITEMS, 1):
        con.execute("INSERT INTO catalog_item VALUES (?,?,?,?,?)", (i, f"SKU-{1000 + i}", label, cat + 1, cents))
    for i, (code, label) in enumerate(STATUSES, 1):
        con.execute("INSERT INTO sales_orderstatus VALUES (?,?,?)", (i, code, label))
    # users 11 and 12 never order; some orders are guests' (NULL user); bob (2) orders most
    buyers = [1, 2, 2, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 2, 1, 3, None, None, 5, 6, 9, 2, 4, None, 8, 1]
    line_id = 0
    for oid, user in enumerate(buyers, 1):
        status = rng.choice([1, 2, 3, 3, 3, 4, 5])
        lines = []
        for _ in range(rng.randint(1, 3)):
            item = rng.randint(1, len(ITEMS))
            qty = rng.randint(1, 4)
            lines.append((item, qty, ITEMS[item - 1][2]))
        total = sum(q * p for _, q, p in lines)
        con.execute("INSERT INTO sales_order VALUES (?,?,?,?,?,?)",
                    (oid, user, status, f"2024-{1 + oid % 12:02d}-{1 + oid % 27:02d} 10:{oid:02d}:00.000000",
                     total, "SPRING10" if oid % 7 == 0 else None))
        for item, qty, price in lines:
            line_id += 1
            con.execute("INSERT INTO sales_orderline VALUES (?,?,?,?,?)", (line_id, oid, item, qty, price))
    con.execute("INSERT INTO django_migrations VALUES (1, 'sales', '0001_initial', '2022-01-01 00:00:00')")
    con.commit()
    con.close()
    return Path(path)


WEBSHOP_QUESTIONS = [  # written before Mirror ran on this database
    ("How many users are there?", "SELECT COUNT(*) FROM auth_user"),
    ("How many orders have the status 'Shipped'?",
     "SELECT COUNT(*) FROM sales_order o JOIN sales_orderstatus s ON o.status_id = s.id WHERE s.label = 'Shipped'"),
    ("List the items in the category 'Garden'.",
     "SELECT i.label FROM catalog_item i JOIN catalog_category c ON i.category_id = c.id WHERE c.title = 'Garden'"),
    ("Which 3 items have the highest unit price?", "SELECT label FROM catalog_item ORDER BY unit_price_cents DESC LIMIT 3"),
    ("How many orders did each user place?",
     "SELECT u.username, COUNT(*) FROM auth_user u JOIN sales_order o ON o.user_id = u.id GROUP BY u.id"),
    ("Which user placed the most orders?",
     "SELECT u.username FROM auth_user u JOIN sales_order o ON o.user_id = u.id GROUP BY u.id ORDER BY COUNT(*) DESC LIMIT 1"),
    ("What is the total quantity sold of the item 'Garden Hose'?",
     "SELECT SUM(l.qty) FROM sales_orderline l JOIN catalog_item i ON l.item_id = i.id WHERE i.label = 'Garden Hose'"),
    ("Which user has the highest total of order amounts?",
     "SELECT u.username FROM auth_user u JOIN sales_order o ON o.user_id = u.id GROUP BY u.id "
     "ORDER BY SUM(o.total_cents) DESC LIMIT 1"),
    ("Which users have never placed an order?",
     "SELECT username FROM auth_user u WHERE NOT EXISTS (SELECT 1 FROM sales_order o WHERE o.user_id = u.id)"),
    ("List the users referred by the user 'alice'.",
     "SELECT u.username FROM auth_user u JOIN auth_user r ON u.referred_by_id = r.id WHERE r.username = 'alice'"),
    ("What is the average unit price of items in each category?",
     "SELECT c.title, AVG(i.unit_price_cents) FROM catalog_item i JOIN catalog_category c ON i.category_id = c.id "
     "GROUP BY c.id"),
    ("How many orders were cancelled?",
     "SELECT COUNT(*) FROM sales_order o JOIN sales_orderstatus s ON o.status_id = s.id WHERE s.code = 'cancelled'"),
    ("List the emails of users who joined in 2024.", "SELECT email FROM auth_user WHERE date_joined LIKE '2024%'"),
    ("How many different items did the user 'bob' order?",
     "SELECT COUNT(DISTINCT l.item_id) FROM sales_orderline l JOIN sales_order o ON l.order_id = o.id "
     "JOIN auth_user u ON o.user_id = u.id WHERE u.username = 'bob'"),
]

HR_SCHEMA = """
CREATE TABLE DEPT_CD_REF (DEPT_CD TEXT PRIMARY KEY, DEPT_DESC TEXT);
CREATE TABLE EMP_STAT_REF (STAT_CD TEXT PRIMARY KEY, STAT_DESC TEXT);
CREATE TABLE EMP_MSTR (EMP_NO INTEGER PRIMARY KEY, EMP_FRST_NM TEXT, EMP_LAST_NM TEXT, DEPT_CD TEXT, MGR_EMP_NO INTEGER,
                       HIRE_DT TEXT, BASE_SAL_AMT REAL, STAT_CD TEXT);
CREATE TABLE PRJ_STAT_REF (PRJ_STAT_CD TEXT PRIMARY KEY, PRJ_STAT_DESC TEXT);
CREATE TABLE PRJ_MSTR (PRJ_NO INTEGER PRIMARY KEY, PRJ_NM TEXT, PRJ_STAT_CD TEXT, BUDG_AMT REAL, LEAD_EMP_NO INTEGER);
CREATE TABLE EMP_PRJ_XREF (EMP_NO INTEGER REFERENCES EMP_MSTR(EMP_NO), PRJ_NO INTEGER, ALLOC_PCT INTEGER, HRS_QTY REAL,
                           PRIMARY KEY (EMP_NO, PRJ_NO));
CREATE TABLE PAY_HIST (EMP_NO INTEGER, PAY_DT TEXT, GROSS_AMT REAL, PRIMARY KEY (EMP_NO, PAY_DT));
CREATE TABLE ETL_RUN_LOG (RUN_ID INTEGER PRIMARY KEY, RUN_TS TEXT, ROWS_LOADED INTEGER);
"""

DEPTS = [("ENG", "Engineering"), ("FIN", "Finance"), ("MKT", "Marketing"), ("OPS", "Operations"), ("HR", "Human Resources")]
EMP_STATUS = [("A", "ACTIVE"), ("T", "TERMINATED"), ("L", "ON LEAVE")]
PRJ_STATUS = [("PLN", "Planned"), ("ACT", "In Progress"), ("CMP", "Completed")]
EMPLOYEES = [  # first, last, dept, manager, hired, salary, status
    ("Amara", "Okafor", "ENG", None, "2015-03-02", 152000.0, "A"), ("Ben", "Hughes", "ENG", 1, "2019-06-17", 118000.0, "A"),
    ("Chen", "Wei", "ENG", 1, "2021-01-11", 121500.0, "A"), ("Dana", "Ruiz", "ENG", 1, "2022-09-05", 97000.0, "L"),
    ("Eli", "Brandt", "FIN", None, "2014-11-20", 140000.0, "A"), ("Fay", "Moreno", "FIN", 5, "2020-02-03", 88000.0, "A"),
    ("Gil", "Tanaka", "FIN", 5, "2023-04-24", 79000.0, "T"), ("Hugo", "Lambert", "MKT", None, "2016-07-01", 131000.0, "A"),
    ("Ines", "Costa", "MKT", 8, "2021-10-18", 84500.0, "L"), ("Jon", "Berg", "OPS", None, "2018-05-14", 126000.0, "A"),
    ("Kira", "Ivanova", "OPS", 10, "2022-03-28", 91000.0, "A"), ("Luis", "Mendes", "OPS", 10, "2019-08-09", 93500.0, "T"),
    ("Maya", "Patel", "HR", None, "2017-01-23", 110000.0, "A"), ("Noor", "Aziz", "ENG", 2, "2023-11-06", 102000.0, "A"),
]
PROJECTS = [("Apollo", "ACT", 500000.0, 1), ("Zephyr", "ACT", 250000.0, 10), ("Borealis", "PLN", 120000.0, 8),
            ("Cascade", "CMP", 310000.0, 5), ("Dynamo", "ACT", 75000.0, 2)]
ASSIGNMENTS = [(1, 1, 50, 420.0), (2, 1, 100, 880.0), (3, 1, 80, 610.0), (14, 1, 100, 300.0), (10, 2, 40, 150.0),
               (11, 2, 100, 720.0), (8, 3, 30, 90.0), (9, 3, 60, 200.0), (5, 4, 20, 60.0), (6, 4, 100, 540.0),
               (2, 5, 0, 12.0), (3, 5, 20, 75.0)]


def build_hr_legacy(path: str | Path) -> Path:
    con = spider_folder.fresh_database(path, HR_SCHEMA)
    con.executemany("INSERT INTO DEPT_CD_REF VALUES (?,?)", DEPTS)
    con.executemany("INSERT INTO EMP_STAT_REF VALUES (?,?)", EMP_STATUS)
    con.executemany("INSERT INTO PRJ_STAT_REF VALUES (?,?)", PRJ_STATUS)
    spider_folder.insert_numbered(con, "EMP_MSTR", EMPLOYEES)
    spider_folder.insert_numbered(con, "PRJ_MSTR", PROJECTS)
    con.executemany("INSERT INTO EMP_PRJ_XREF VALUES (?,?,?,?)", ASSIGNMENTS)
    for i, e in enumerate(EMPLOYEES, 1):  # monthly pay; the leavers stop early
        months = 6 if e[6] == "T" else 12
        for m in range(1, months + 1):
            con.execute("INSERT INTO PAY_HIST VALUES (?,?,?)", (i, f"2024-{m:02d}-28", round(e[5] / 12 + 10 * i, 2)))
    con.executemany("INSERT INTO ETL_RUN_LOG VALUES (?,?,?)", [(1, "2024-12-31T23:00:00", 168), (2, "2025-01-31T23:00:00", 14)])
    con.commit()
    con.close()
    return Path(path)


HR_QUESTIONS = [  # written before Mirror ran on this database
    ("How many employees are there?", "SELECT COUNT(*) FROM EMP_MSTR"),
    ("How many employees are in the Engineering department?",
     "SELECT COUNT(*) FROM EMP_MSTR e JOIN DEPT_CD_REF d ON e.DEPT_CD = d.DEPT_CD WHERE d.DEPT_DESC = 'Engineering'"),
    ("List the last names of employees who are on leave.",
     "SELECT e.EMP_LAST_NM FROM EMP_MSTR e JOIN EMP_STAT_REF s ON e.STAT_CD = s.STAT_CD WHERE s.STAT_DESC = 'ON LEAVE'"),
    ("What are the names of the projects in progress?",
     "SELECT p.PRJ_NM FROM PRJ_MSTR p JOIN PRJ_STAT_REF s ON p.PRJ_STAT_CD = s.PRJ_STAT_CD "
     "WHERE s.PRJ_STAT_DESC = 'In Progress'"),
    ("Which project has the largest budget?", "SELECT PRJ_NM FROM PRJ_MSTR ORDER BY BUDG_AMT DESC LIMIT 1"),
    ("Show the last names of the 3 employees with the highest salary.",
     "SELECT EMP_LAST_NM FROM EMP_MSTR ORDER BY BASE_SAL_AMT DESC LIMIT 3"),
    ("How many employees does each department have?",
     "SELECT d.DEPT_DESC, COUNT(*) FROM EMP_MSTR e JOIN DEPT_CD_REF d ON e.DEPT_CD = d.DEPT_CD GROUP BY d.DEPT_CD"),
    ("List the last names of employees whose manager is Okafor.",
     "SELECT e.EMP_LAST_NM FROM EMP_MSTR e JOIN EMP_MSTR m ON e.MGR_EMP_NO = m.EMP_NO WHERE m.EMP_LAST_NM = 'Okafor'"),
    ("Which employees are not assigned to any project?",
     "SELECT e.EMP_LAST_NM FROM EMP_MSTR e WHERE NOT EXISTS (SELECT 1 FROM EMP_PRJ_XREF x WHERE x.EMP_NO = e.EMP_NO)"),
    ("What are the last names of the employees working on the project Apollo?",
     "SELECT e.EMP_LAST_NM FROM EMP_MSTR e JOIN EMP_PRJ_XREF x ON x.EMP_NO = e.EMP_NO JOIN PRJ_MSTR p ON x.PRJ_NO = p.PRJ_NO "
     "WHERE p.PRJ_NM = 'Apollo'"),
    ("Which employee was paid the most in total?",
     "SELECT e.EMP_LAST_NM FROM EMP_MSTR e JOIN PAY_HIST p ON p.EMP_NO = e.EMP_NO GROUP BY e.EMP_NO "
     "ORDER BY SUM(p.GROSS_AMT) DESC LIMIT 1"),
    ("What is the total number of hours on each project?",
     "SELECT p.PRJ_NM, SUM(x.HRS_QTY) FROM PRJ_MSTR p JOIN EMP_PRJ_XREF x ON x.PRJ_NO = p.PRJ_NO GROUP BY p.PRJ_NO"),
    ("Who leads the project Zephyr?",
     "SELECT e.EMP_LAST_NM FROM PRJ_MSTR p JOIN EMP_MSTR e ON p.LEAD_EMP_NO = e.EMP_NO WHERE p.PRJ_NM = 'Zephyr'"),
    ("What is the average salary of employees hired after 2020?",
     "SELECT AVG(BASE_SAL_AMT) FROM EMP_MSTR WHERE HIRE_DT >= '2021-01-01'"),
]


def write_spider_folder(folder: str | Path) -> Path:
    """Both databases and their 28 questions in one Spider-format folder."""
    spider_folder.write_spider_folder(folder, "webshop", build_webshop, WEBSHOP_QUESTIONS)
    questions = [{"db_id": "webshop", "question": q, "query": s} for q, s in WEBSHOP_QUESTIONS]
    spider_folder.write_spider_folder(folder, "hr_legacy", build_hr_legacy, HR_QUESTIONS)
    import json

    questions += [{"db_id": "hr_legacy", "question": q, "query": s} for q, s in HR_QUESTIONS]
    (Path(folder) / "questions.json").write_text(json.dumps(questions, indent=1))
    return Path(folder)
