"""A held-out database for what a question asks to see and for multi-part questions, written (with its
questions and gold SQL) in session 8 by mirror8b before any change was tuned; it is run only to measure,
never to develop on.

`seedcoop`: a community seed-library cooperative in a legacy style no other test database uses: tables named
with SQL reserved words (`Group`, `Order`), keys `member_no` / `order_no`, person names `given_nm` /
`family_nm`, label columns that are not called "name" (`common_label`, `descr`, `title`, `plot_code`), two
bridge tables (`GroupMember`, `OrderLine`), a yes/no flag (`is_organic`) beside the label, and measures that
live one or two tables away from the entity asked about (packets sold, hours worked, kilos harvested).
Only some foreign keys are declared.

    python -c "import sys; sys.path.insert(0, 'tests/mirror'); import returns_heldout_db as s; s.write_spider_folder('/tmp/returns')"
    girflow mirror eval --spider /tmp/returns
"""
from __future__ import annotations

import random
from pathlib import Path

import spider_folder

SEEDCOOP_SCHEMA = """
CREATE TABLE Plot (plot_id INTEGER PRIMARY KEY, plot_code TEXT, area_sqm REAL, has_water INTEGER);
CREATE TABLE Member (member_no INTEGER PRIMARY KEY, given_nm TEXT, family_nm TEXT, joined_dt TEXT,
                     plot_id INTEGER REFERENCES Plot(plot_id));
CREATE TABLE Category (category_id INTEGER PRIMARY KEY, descr TEXT);
CREATE TABLE Variety (variety_id INTEGER PRIMARY KEY, common_label TEXT, latin TEXT, category_id INTEGER,
                      is_organic INTEGER, packet_price REAL);
CREATE TABLE "Group" (group_id INTEGER PRIMARY KEY, title TEXT, meets_on TEXT);
CREATE TABLE GroupMember (group_id INTEGER REFERENCES "Group"(group_id), member_no INTEGER REFERENCES Member(member_no),
                          PRIMARY KEY (group_id, member_no));
CREATE TABLE "Order" (order_no INTEGER PRIMARY KEY, member_no INTEGER, placed_on TEXT, is_paid INTEGER);
CREATE TABLE OrderLine (order_no INTEGER, variety_id INTEGER, packets INTEGER, PRIMARY KEY (order_no, variety_id));
CREATE TABLE Harvest (harvest_id INTEGER PRIMARY KEY, member_no INTEGER, variety_id INTEGER, harvested_on TEXT,
                      weight_kg REAL);
CREATE TABLE Shift (shift_id INTEGER PRIMARY KEY, member_no INTEGER, worked_on TEXT, hours REAL);
"""

PLOTS = [("A-01", 24.0, 1), ("A-02", 30.5, 1), ("B-01", 18.0, 0), ("B-02", 42.0, 1), ("C-01", 12.5, 0),
         ("C-02", 36.0, 0)]
MEMBERS = [("Ines", "Carvalho", "2019-03-02", 1), ("Tobias", "Lind", "2020-05-17", 2), ("Amara", "Eze", "2020-09-01", 3),
           ("Declan", "Byrne", "2021-02-14", 4), ("Sofia", "Marino", "2021-06-30", 5), ("Kenji", "Watanabe", "2022-01-09", 6),
           ("Ruth", "Abebe", "2022-04-22", None), ("Pavel", "Novak", "2023-03-11", None),
           ("Elif", "Yilmaz", "2023-08-05", 2), ("Marcus", "Reid", "2024-01-20", None)]
CATEGORIES = ["Tomato", "Bean", "Squash", "Herb", "Leafy green"]
VARIETIES = [("Brandywine", "Solanum lycopersicum", 1, 1, 3.20), ("Sungold", "Solanum lycopersicum", 1, 0, 3.80),
             ("Cherokee Trail of Tears", "Phaseolus vulgaris", 2, 1, 2.50), ("Scarlet Runner", "Phaseolus coccineus", 2, 0, 2.10),
             ("Butternut Waltham", "Cucurbita moschata", 3, 1, 2.90), ("Genovese Basil", "Ocimum basilicum", 4, 1, 1.80),
             ("Lacinato Kale", "Brassica oleracea", 5, 0, 2.40), ("Red Kuri", "Cucurbita maxima", 3, 0, 4.10),
             ("Moss Curled Parsley", "Petroselinum crispum", 4, 0, 1.60)]
GROUPS = [("Seed Savers", "Saturday"), ("Compost Crew", "Wednesday"), ("Youth Garden", "Sunday"),
          ("Orchard Keepers", "Monday")]
GROUP_MEMBERS = [(1, 1), (1, 2), (1, 4), (1, 9), (2, 2), (2, 3), (2, 5), (2, 9), (2, 10), (3, 6), (3, 1), (3, 7)]


def build_seedcoop(path: str | Path) -> Path:
    rng = random.Random(23)
    con = spider_folder.fresh_database(path, SEEDCOOP_SCHEMA)
    spider_folder.insert_numbered(con, "Plot", PLOTS)
    spider_folder.insert_numbered(con, "Member", MEMBERS)
    spider_folder.insert_numbered(con, "Category", CATEGORIES)
    spider_folder.insert_numbered(con, "Variety", VARIETIES)
    spider_folder.insert_numbered(con, "Group", GROUPS)
    con.executemany("INSERT INTO GroupMember VALUES (?,?)", GROUP_MEMBERS)
    for o in range(1, 23):
        member = rng.choice([1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 9])  # Ruth, Pavel and Marcus never order
        con.execute('INSERT INTO "Order" VALUES (?,?,?,?)',
                    (o, member, f"2024-{5 if o % 7 == 0 else 1 + o % 12:02d}-{3 + o % 25:02d}", 0 if o % 5 == 0 else 1))
        for variety in rng.sample([1, 2, 3, 4, 5, 6, 7, 8], rng.randint(1, 3)):  # Moss Curled Parsley is never ordered
            con.execute("INSERT INTO OrderLine VALUES (?,?,?)", (o, variety, rng.randint(1, 6)))
    for h in range(1, 31):
        member = rng.choice([1, 2, 2, 3, 4, 4, 5, 7, 8, 9])
        variety = rng.choice([1, 2, 3, 4, 5, 5, 7, 8, 9])  # Genovese Basil is never harvested
        con.execute("INSERT INTO Harvest VALUES (?,?,?,?,?)",
                    (h, member, variety, f"2024-{6 + h % 5:02d}-{1 + h % 27:02d}", round(rng.uniform(0.4, 6.5), 1)))
    for s in range(1, 36):
        member = rng.choice([1, 2, 2, 3, 3, 3, 4, 5, 6, 8, 9, 9])  # Ruth and Marcus never work a shift
        con.execute("INSERT INTO Shift VALUES (?,?,?,?)",
                    (s, member, f"2024-{1 + s % 12:02d}-{1 + s % 28:02d}", rng.choice([1.5, 2.0, 2.5, 3.0, 4.0])))
    con.commit()
    con.close()
    return Path(path)


SEEDCOOP_QUESTIONS = [  # written before Mirror ran on this database
    ("How many groups are there?", 'SELECT COUNT(*) FROM "Group"'),
    ("List the titles of all groups.", 'SELECT title FROM "Group"'),
    ("How many orders are unpaid?", 'SELECT COUNT(*) FROM "Order" WHERE is_paid = 0'),
    ("Which variety is the most expensive?", "SELECT common_label FROM Variety ORDER BY packet_price DESC LIMIT 1"),
    ("Which plot is the largest?", "SELECT plot_code FROM Plot ORDER BY area_sqm DESC LIMIT 1"),
    ("List the varieties in the category Bean.",
     "SELECT v.common_label FROM Variety v JOIN Category c ON v.category_id = c.category_id WHERE c.descr = 'Bean'"),
    ("Which members belong to the Seed Savers group?",
     'SELECT m.given_nm, m.family_nm FROM Member m JOIN GroupMember gm ON gm.member_no = m.member_no '
     'JOIN "Group" g ON g.group_id = gm.group_id WHERE g.title = \'Seed Savers\''),
    ("Which member has placed the most orders?",
     'SELECT m.given_nm, m.family_nm FROM Member m JOIN "Order" o ON o.member_no = m.member_no '
     "GROUP BY m.member_no ORDER BY COUNT(*) DESC LIMIT 1"),
    ("Which category has the fewest varieties?",
     "SELECT c.descr FROM Category c JOIN Variety v ON v.category_id = c.category_id GROUP BY c.category_id "
     "ORDER BY COUNT(*) ASC LIMIT 1"),
    ("Which variety has sold the most packets in total?",
     "SELECT v.common_label FROM Variety v JOIN OrderLine l ON l.variety_id = v.variety_id GROUP BY v.variety_id "
     "ORDER BY SUM(l.packets) DESC LIMIT 1"),
    ("Who are the three most dedicated volunteers by hours worked?",
     "SELECT m.given_nm, m.family_nm FROM Member m JOIN Shift s ON s.member_no = m.member_no GROUP BY m.member_no "
     "ORDER BY SUM(s.hours) DESC LIMIT 3"),
    ("Which member has harvested the most kilos in total?",
     "SELECT m.given_nm, m.family_nm FROM Member m JOIN Harvest h ON h.member_no = m.member_no GROUP BY m.member_no "
     "ORDER BY SUM(h.weight_kg) DESC LIMIT 1"),
    ("What is the total weight harvested for each category?",
     "SELECT c.descr, SUM(h.weight_kg) FROM Harvest h JOIN Variety v ON h.variety_id = v.variety_id "
     "JOIN Category c ON v.category_id = c.category_id GROUP BY c.category_id"),
    ("For each group, give its title and the number of members.",
     'SELECT g.title, COUNT(*) FROM "Group" g JOIN GroupMember gm ON gm.group_id = g.group_id GROUP BY g.group_id'),
    ("Which members have never placed an order?",
     'SELECT given_nm, family_nm FROM Member WHERE member_no NOT IN (SELECT member_no FROM "Order")'),
    ("How many members have never worked a shift?",
     "SELECT COUNT(*) FROM Member WHERE member_no NOT IN (SELECT member_no FROM Shift)"),
    ("Which varieties have never been ordered?",
     "SELECT common_label FROM Variety WHERE variety_id NOT IN (SELECT variety_id FROM OrderLine)"),
    ("Which members are in both the Seed Savers and the Compost Crew?",
     'SELECT m.given_nm, m.family_nm FROM Member m JOIN GroupMember gm ON gm.member_no = m.member_no '
     'JOIN "Group" g ON g.group_id = gm.group_id WHERE g.title = \'Seed Savers\' INTERSECT '
     'SELECT m.given_nm, m.family_nm FROM Member m JOIN GroupMember gm ON gm.member_no = m.member_no '
     'JOIN "Group" g ON g.group_id = gm.group_id WHERE g.title = \'Compost Crew\''),
    ("Which members are in the Compost Crew but not in the Seed Savers?",
     'SELECT m.given_nm, m.family_nm FROM Member m JOIN GroupMember gm ON gm.member_no = m.member_no '
     'JOIN "Group" g ON g.group_id = gm.group_id WHERE g.title = \'Compost Crew\' EXCEPT '
     'SELECT m.given_nm, m.family_nm FROM Member m JOIN GroupMember gm ON gm.member_no = m.member_no '
     'JOIN "Group" g ON g.group_id = gm.group_id WHERE g.title = \'Seed Savers\''),
    ("How many varieties were both ordered and harvested?",
     "SELECT COUNT(*) FROM (SELECT variety_id FROM OrderLine INTERSECT SELECT variety_id FROM Harvest)"),
    ("Which members harvested Sungold or belong to the Youth Garden group?",
     "SELECT m.given_nm, m.family_nm FROM Member m JOIN Harvest h ON h.member_no = m.member_no "
     "JOIN Variety v ON v.variety_id = h.variety_id WHERE v.common_label = 'Sungold' UNION "
     'SELECT m.given_nm, m.family_nm FROM Member m JOIN GroupMember gm ON gm.member_no = m.member_no '
     'JOIN "Group" g ON g.group_id = gm.group_id WHERE g.title = \'Youth Garden\''),
    ("Which member works plot B-02?",
     "SELECT m.given_nm, m.family_nm FROM Member m JOIN Plot p ON m.plot_id = p.plot_id WHERE p.plot_code = 'B-02'"),
    ("What is the average harvest weight of Red Kuri?",
     "SELECT AVG(h.weight_kg) FROM Harvest h JOIN Variety v ON h.variety_id = v.variety_id "
     "WHERE v.common_label = 'Red Kuri'"),
    ("How many orders included Sungold?",
     "SELECT COUNT(*) FROM OrderLine l JOIN Variety v ON l.variety_id = v.variety_id WHERE v.common_label = 'Sungold'"),
    ("Which organic varieties cost more than 3?",
     "SELECT common_label FROM Variety WHERE is_organic = 1 AND packet_price > 3"),
    ("In which month were the most orders placed?",
     "SELECT strftime('%m', placed_on) FROM \"Order\" GROUP BY strftime('%m', placed_on) ORDER BY COUNT(*) DESC LIMIT 1"),
]


def write_spider_folder(folder: str | Path) -> Path:
    """The database and its questions in one Spider-format folder."""
    spider_folder.write_spider_folder(folder, "seedcoop", build_seedcoop, SEEDCOOP_QUESTIONS)
    return Path(folder)
