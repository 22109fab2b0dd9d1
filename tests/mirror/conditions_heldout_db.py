"""A held-out database for CONDITIONS (session 8): every restricting phrase of a question must become a
predicate, and nothing else may. Written, with its questions and gold SQL, before any change to Mirror made
in this session, and used only to measure (never to develop rules on).

`servicedesk`: an IT service desk exported from a JavaScript app (camelCase tables and columns, declared
keys), with yes/no facts in three encodings (INTEGER 0/1 `escalated`, TEXT 'true'/'false'
`isContractor`, TEXT 'Y'/'N' `underWarranty`), nullable columns whose NULL means "not given" or "not yet"
(`phoneNumber`, `email`, `assignedTo`, `resolvedAt`, `leftOn`, `retiredOn`), statuses in mixed case and
hyphenated (`On-Hold`), a category lookup table (`ticketCategory.label`), money, hours, and floors.

    python -c "import sys; sys.path.insert(0, 'tests/mirror'); import conditions_heldout_db as s; s.write_spider_folder('/tmp/cond')"
    girflow mirror eval --spider /tmp/cond
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import spider_folder

SCHEMA = """
CREATE TABLE department (departmentId INTEGER PRIMARY KEY, departmentName TEXT NOT NULL, floorNumber INTEGER);
CREATE TABLE staffMember (staffId INTEGER PRIMARY KEY, fullName TEXT NOT NULL, email TEXT, phoneNumber TEXT,
                          departmentId INTEGER REFERENCES department(departmentId), isContractor TEXT NOT NULL,
                          startDate TEXT NOT NULL, leftOn TEXT);
CREATE TABLE ticketCategory (categoryId INTEGER PRIMARY KEY, label TEXT NOT NULL);
CREATE TABLE ticket (ticketId INTEGER PRIMARY KEY, subject TEXT NOT NULL,
                     categoryId INTEGER REFERENCES ticketCategory(categoryId),
                     reportedBy INTEGER REFERENCES staffMember(staffId), assignedTo INTEGER REFERENCES staffMember(staffId),
                     priority TEXT NOT NULL, state TEXT NOT NULL, openedAt TEXT NOT NULL, resolvedAt TEXT,
                     escalated INTEGER NOT NULL, estimateHours REAL, loggedHours REAL, costUsd REAL);
CREATE TABLE asset (assetId INTEGER PRIMARY KEY, tag TEXT NOT NULL, model TEXT, ownerId INTEGER REFERENCES staffMember(staffId),
                    purchaseCost INTEGER, purchasedOn TEXT, underWarranty TEXT NOT NULL, retiredOn TEXT);
"""

DEPARTMENTS = [("Finance", 2), ("Engineering", 3), ("Sales", 1), ("Legal", 2), ("Operations", 1)]
FIRST = ["Ada", "Bruno", "Chloe", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kira", "Luca",
         "Maya", "Nils", "Olga", "Pablo", "Quinn", "Rosa"]
LAST = ["Moreau", "Silva", "Novak", "Berg", "Costa", "Haddad", "Lind", "Weber", "Ortiz", "Kaur", "Ito", "Rossi",
        "Dubois", "Meyer", "Petrov", "Ruiz", "Walsh", "Vidal"]
CATEGORIES = ["Hardware", "Network", "Software", "Access Request", "Printing"]
PRIORITIES = ["Low", "Normal", "Normal", "High", "Critical"]
STATES = ["Open", "On-Hold", "Resolved", "Resolved", "Closed"]
SUBJECTS = ["Laptop will not boot", "VPN drops", "Licence expired", "Need repo access", "Printer jam",
            "Monitor flickers", "Wi-Fi slow", "App crashes on save", "Badge not working", "Toner empty"]
MODELS = ["ThinkPad T14", "MacBook Air", "Dell U2723", "Surface Pro", "iPhone 14"]


def build(path: str | Path) -> Path:
    rng = random.Random(8)
    con = spider_folder.fresh_database(path, SCHEMA)
    for i, (name, floor) in enumerate(DEPARTMENTS, 1):
        con.execute("INSERT INTO department VALUES (?,?,?)", (i, name, floor))
    for i in range(1, 19):
        name = f"{FIRST[i - 1]} {LAST[i - 1]}"
        email = None if i % 7 == 0 else f"{FIRST[i - 1].lower()}@corp.test"
        phone = None if i % 4 == 0 else f"+44 20 7946 {1000 + i}"
        dept = 1 + (i * 3) % 5 if i != 17 else 2
        contractor = "true" if i % 5 == 0 else "false"
        left = f"2024-{1 + i % 12:02d}-15" if i in (3, 11, 16) else None
        con.execute("INSERT INTO staffMember VALUES (?,?,?,?,?,?,?,?)",
                    (i, name, email, phone, dept, contractor, f"20{15 + i % 9}-0{1 + i % 9}-01", left))
    spider_folder.insert_numbered(con, "ticketCategory", CATEGORIES)
    for i in range(1, 61):
        state = rng.choice(STATES)
        opened = f"202{3 + i % 2}-{1 + i % 12:02d}-{1 + (i * 5) % 28:02d}"
        resolved = None if state in ("Open", "On-Hold") else opened[:8] + f"{min(28, 2 + (i * 5) % 28):02d}"
        assigned = None if i % 6 == 0 else rng.randint(1, 18)
        estimate = rng.choice([1.0, 2.0, 4.0, 8.0])
        logged = round(estimate * rng.uniform(0.5, 1.8), 1)
        con.execute("INSERT INTO ticket VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (i, SUBJECTS[i % 10] + f" #{i}", 1 + (i * 7) % 5, rng.choice([1, 2, 2, 4, 5, 6, 8, 9, 9, 9, 12, 14]),
                     assigned, rng.choice(PRIORITIES), state, opened, resolved, 1 if rng.random() < 0.25 else 0,
                     estimate, logged, round(logged * 65.0, 2)))
    for i in range(1, 26):
        con.execute("INSERT INTO asset VALUES (?,?,?,?,?,?,?,?)",
                    (i, f"IT-{4000 + i}", MODELS[i % 5], 1 + (i * 5) % 18, [1450, 2100, 650, 1700, 999][i % 5] + 10 * i,
                     f"20{20 + i % 5}-{1 + i % 12:02d}-10", "Y" if i % 3 else "N", "2024-11-30" if i % 8 == 0 else None))
    con.commit()
    con.close()
    return Path(path)


QUESTIONS = [  # written before Mirror ran on this database; gold SQL checked against SQLite
    ("How many tickets are there?", "SELECT COUNT(*) FROM ticket"),
    ("How many tickets have been escalated?", "SELECT COUNT(*) FROM ticket WHERE escalated = 1"),
    ("How many tickets were not escalated?", "SELECT COUNT(*) FROM ticket WHERE escalated = 0"),
    ("How many staff members are contractors?", "SELECT COUNT(*) FROM staffMember WHERE isContractor = 'true'"),
    ("List the names of staff members who did not give a phone number.",
     "SELECT fullName FROM staffMember WHERE phoneNumber IS NULL"),
    ("Which staff members have no email address on file?", "SELECT fullName FROM staffMember WHERE email IS NULL"),
    ("How many tickets are still unresolved?", "SELECT COUNT(*) FROM ticket WHERE resolvedAt IS NULL"),
    ("How many tickets have not been assigned to anyone?", "SELECT COUNT(*) FROM ticket WHERE assignedTo IS NULL"),
    ("How many tickets are on hold?", "SELECT COUNT(*) FROM ticket WHERE state = 'On-Hold'"),
    ("How many critical tickets are there?", "SELECT COUNT(*) FROM ticket WHERE priority = 'Critical'"),
    ("How many printing tickets are there?",
     "SELECT COUNT(*) FROM ticket t JOIN ticketCategory c ON t.categoryId = c.categoryId WHERE c.label = 'Printing'"),
    ("How many network tickets are still open?",
     "SELECT COUNT(*) FROM ticket t JOIN ticketCategory c ON t.categoryId = c.categoryId "
     "WHERE c.label = 'Network' AND t.state = 'Open'"),
    ("How many high priority tickets were escalated?",
     "SELECT COUNT(*) FROM ticket WHERE priority = 'High' AND escalated = 1"),
    ("What is the average logged hours of resolved tickets?",
     "SELECT AVG(loggedHours) FROM ticket WHERE state = 'Resolved'"),
    ("Which assets are under warranty?", "SELECT tag FROM asset WHERE underWarranty = 'Y'"),
    ("How many assets were purchased before 2023?", "SELECT COUNT(*) FROM asset WHERE purchasedOn < '2023-01-01'"),
    ("How many assets cost more than $1,700?", "SELECT COUNT(*) FROM asset WHERE purchaseCost > 1700"),
    ("How many assets have been retired?", "SELECT COUNT(*) FROM asset WHERE retiredOn IS NOT NULL"),
    ("How many tickets took more logged hours than estimated?",
     "SELECT COUNT(*) FROM ticket WHERE loggedHours > estimateHours"),
    ("Which tickets cost more than the average ticket?",
     "SELECT subject FROM ticket WHERE costUsd > (SELECT AVG(costUsd) FROM ticket)"),
    ("Which departments have more than 3 staff members?",
     "SELECT d.departmentName FROM department d JOIN staffMember s ON s.departmentId = d.departmentId "
     "GROUP BY d.departmentId HAVING COUNT(*) > 3"),
    ("How many staff members work on floor 2?",
     "SELECT COUNT(*) FROM staffMember s JOIN department d ON s.departmentId = d.departmentId WHERE d.floorNumber = 2"),
    ("How many staff members have left?", "SELECT COUNT(*) FROM staffMember WHERE leftOn IS NOT NULL"),
    ("How many hardware tickets were opened in 2024?",
     "SELECT COUNT(*) FROM ticket t JOIN ticketCategory c ON t.categoryId = c.categoryId "
     "WHERE c.label = 'Hardware' AND t.openedAt LIKE '2024%'"),
    ("What is the average purchase cost of assets?", "SELECT AVG(purchaseCost) FROM asset"),
    ("How many staff members work in Legal?",
     "SELECT COUNT(*) FROM staffMember s JOIN department d ON s.departmentId = d.departmentId "
     "WHERE d.departmentName = 'Legal'"),
]


def write_spider_folder(folder: str | Path) -> Path:
    """The database and its questions in one Spider-format folder."""
    spider_folder.write_spider_folder(folder, "servicedesk", build, QUESTIONS)
    (Path(folder) / "questions.json").write_text(json.dumps(
        [{"db_id": "servicedesk", "question": q, "query": s} for q, s in QUESTIONS], indent=1))
    return Path(folder)
