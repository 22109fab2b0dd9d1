"""A held-out database for THE SHAPE OF THE QUERY (session 9): negation (rows that have no related row),
"A but not B", counting entities through a join (COUNT DISTINCT), and comparisons to a nested aggregate
that must keep the outer restriction inside. Written, with its questions and gold SQL, by mirror9b before
any change to Mirror made in this session, and used only to measure (never to develop rules on).

`stagehouse`: a community theatre company in a legacy style no other test database uses: every column
carries its table's three-letter prefix (`prf_first`, `cst_prd_id`, `tks_qty`), tables are short
singular nouns (`prf` is not used: `performer`, `casting`, `ticket_sale`), keys are declared only in part,
a performer may have a mentor (a self reference, NULL for most), and money is REAL.

    python -c "import sys; sys.path.insert(0, 'tests/mirror'); import shape_heldout_db as s; s.write_spider_folder('/tmp/shape')"
    girflow mirror eval --spider /tmp/shape
"""
from __future__ import annotations

import random
from pathlib import Path

import spider_folder

SCHEMA = """
CREATE TABLE venue (ven_id INTEGER PRIMARY KEY, ven_name TEXT NOT NULL, ven_seats INTEGER, ven_town TEXT);
CREATE TABLE production (prd_id INTEGER PRIMARY KEY, prd_title TEXT NOT NULL, prd_season INTEGER,
                         prd_ven_id INTEGER REFERENCES venue(ven_id), prd_budget REAL);
CREATE TABLE performer (prf_id INTEGER PRIMARY KEY, prf_first TEXT, prf_last TEXT, prf_birth_yr INTEGER,
                        prf_mentor_id INTEGER REFERENCES performer(prf_id));
CREATE TABLE casting (cst_prd_id INTEGER REFERENCES production(prd_id), cst_prf_id INTEGER,
                      cst_role TEXT, cst_fee REAL, PRIMARY KEY (cst_prd_id, cst_prf_id));
CREATE TABLE patron (pat_id INTEGER PRIMARY KEY, pat_name TEXT NOT NULL, pat_town TEXT, pat_since TEXT);
CREATE TABLE ticket_sale (tks_id INTEGER PRIMARY KEY, tks_prd_id INTEGER, tks_pat_id INTEGER REFERENCES patron(pat_id),
                          tks_qty INTEGER, tks_amount REAL, tks_sold_on TEXT);
CREATE TABLE donation (don_id INTEGER PRIMARY KEY, don_pat_id INTEGER, don_amount REAL, don_date TEXT);
CREATE TABLE crew (crw_id INTEGER PRIMARY KEY, crw_name TEXT NOT NULL, crw_trade TEXT);
CREATE TABLE crew_call (ccl_crw_id INTEGER REFERENCES crew(crw_id), ccl_prd_id INTEGER REFERENCES production(prd_id),
                        ccl_shifts INTEGER);
"""

VENUES = [("Riverside Hall", 320, "Ashford"), ("Old Mill Theatre", 140, "Brackley"), ("Corn Exchange", 480, "Ashford"),
          ("St Bride's Studio", 60, "Copley")]  # St Bride's Studio never hosts a production
PRODUCTIONS = [("Hamlet", 2023, 1, 18500.0), ("The Tempest", 2023, 2, 9200.0), ("Blithe Spirit", 2023, 3, 12800.0),
               ("Our Town", 2024, 1, 7600.0), ("Arcadia", 2024, 2, 11000.0), ("Noises Off", 2024, 3, 21400.0),
               ("Twelfth Night", 2025, 1, 15300.0), ("Pygmalion", 2025, 2, 8800.0)]
PERFORMERS = [("Maya", "Okafor", 1988, None), ("Tom", "Hargreaves", 1961, None), ("Priya", "Nair", 1995, 1),
              ("Lewis", "Dunmore", 2002, 2), ("Grace", "Whitfield", 1974, None), ("Oskar", "Lindqvist", 1999, 5),
              ("Hannah", "Pryce", 2004, 1), ("Idris", "Baptiste", 1983, None), ("Chloe", "Ferrand", 1992, None),
              ("Rafael", "Soto", 1969, None), ("Nell", "Gwynne", 2001, 8)]  # Nell and Rafael are never cast
CASTING = [(1, 1, "Hamlet", 900), (1, 2, "Claudius", 750), (1, 5, "Gertrude", 750), (1, 4, "Horatio", 400),
           (2, 2, "Prospero", 800), (2, 3, "Miranda", 500), (2, 6, "Ariel", 450), (3, 5, "Madame Arcati", 700),
           (3, 8, "Charles", 650), (3, 9, "Elvira", 600), (4, 7, "Emily Webb", 350), (4, 4, "George Gibbs", 350),
           (4, 2, "Stage Manager", 600), (5, 3, "Thomasina", 550), (5, 8, "Septimus", 600), (5, 1, "Hannah Jarvis", 650),
           (6, 9, "Dotty", 700), (6, 6, "Garry", 650), (6, 8, "Lloyd", 700), (7, 3, "Viola", 600), (7, 4, "Sebastian", 450),
           (7, 1, "Olivia", 700), (7, 2, "Malvolio", 800), (1, 8, "Laertes", 500)]  # Pygmalion (8) has no cast yet
PATRONS = [("Ada Brennan", "Ashford", "2019-04-01"), ("Bill Osei", "Brackley", "2020-01-15"),
           ("Carmen Ruiz", "Ashford", "2020-06-30"), ("Derek Mayhew", "Copley", "2021-02-11"),
           ("Esther Kovacs", "Ashford", "2021-09-09"), ("Farid Haddad", "Brackley", "2022-03-03"),
           ("Gwen Tallis", "Copley", "2022-11-20"), ("Hugo Lamb", "Ashford", "2023-05-05"),
           ("Iris Moreau", "Brackley", "2023-08-18"), ("Jonah Pike", "Ashford", "2024-01-07")]
CREW = [("Sam Achebe", "lighting"), ("Rita Bloom", "sound"), ("Kofi Mensah", "carpentry"), ("Lena Vogel", "costume"),
        ("Mo Farrant", "lighting"), ("Bea Quint", "props")]  # Bea Quint is never called
CREW_CALLS = [(1, 1, 12), (2, 1, 10), (3, 1, 8), (1, 2, 9), (4, 2, 6), (2, 3, 7), (5, 3, 11), (3, 4, 5), (1, 5, 10),
              (4, 5, 8), (5, 6, 14), (2, 6, 12), (3, 6, 9), (4, 7, 7), (1, 7, 9)]  # Pygmalion (8) has no crew yet


def build(path: str | Path) -> Path:
    rng = random.Random(9)
    con = spider_folder.fresh_database(path, SCHEMA)
    spider_folder.insert_numbered(con, "venue", VENUES)
    spider_folder.insert_numbered(con, "production", PRODUCTIONS)
    spider_folder.insert_numbered(con, "performer", PERFORMERS)
    con.executemany("INSERT INTO casting VALUES (?,?,?,?)", CASTING)
    spider_folder.insert_numbered(con, "patron", PATRONS)
    spider_folder.insert_numbered(con, "crew", CREW)
    con.executemany("INSERT INTO crew_call VALUES (?,?,?)", CREW_CALLS)
    sale = 0
    for prd in range(1, 8):  # Pygmalion (8) is not on sale yet
        for _ in range(rng.randint(3, 6)):
            sale += 1
            patron = rng.choice([1, 1, 2, 3, 3, 4, 5, 6, 7, 8])  # Iris Moreau and Jonah Pike never buy a ticket
            qty = rng.choice([1, 2, 2, 2, 3, 4, 6])
            season = PRODUCTIONS[prd - 1][1]
            con.execute("INSERT INTO ticket_sale VALUES (?,?,?,?,?,?)",
                        (sale, prd, patron, qty, round(qty * rng.choice([14.0, 16.5, 18.0, 22.0]), 2),
                         f"{season}-{rng.randint(2, 11):02d}-{rng.randint(1, 28):02d}"))
    for d in range(1, 15):
        patron = rng.choice([1, 3, 3, 5, 6, 9, 10])  # Bill, Derek, Gwen and Hugo never donate
        con.execute("INSERT INTO donation VALUES (?,?,?,?)",
                    (d, patron, rng.choice([25.0, 50.0, 75.0, 100.0, 250.0, 500.0]),
                     f"{rng.choice([2023, 2024, 2025])}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"))
    con.commit()
    con.close()
    return Path(path)


QUESTIONS = [  # written before Mirror ran on this database; gold SQL checked against SQLite
    ("Which patrons have never bought a ticket?",
     "SELECT pat_name FROM patron WHERE pat_id NOT IN (SELECT tks_pat_id FROM ticket_sale)"),
    ("How many performers have never been cast?",
     "SELECT COUNT(*) FROM performer WHERE prf_id NOT IN (SELECT cst_prf_id FROM casting)"),
    ("List the venues that have not hosted any production.",
     "SELECT ven_name FROM venue WHERE ven_id NOT IN (SELECT prd_ven_id FROM production)"),
    ("Which performers do not have a mentor?",
     "SELECT prf_first, prf_last FROM performer WHERE prf_mentor_id IS NULL"),
    ("Which productions have no crew?",
     "SELECT prd_title FROM production WHERE prd_id NOT IN (SELECT ccl_prd_id FROM crew_call)"),
    ("Which crew members have not been called for any production?",
     "SELECT crw_name FROM crew WHERE crw_id NOT IN (SELECT ccl_crw_id FROM crew_call)"),
    ("How many productions have no ticket sales?",
     "SELECT COUNT(*) FROM production WHERE prd_id NOT IN (SELECT tks_prd_id FROM ticket_sale)"),
    ("Which patrons from Ashford have never made a donation?",
     "SELECT pat_name FROM patron WHERE pat_town = 'Ashford' AND pat_id NOT IN (SELECT don_pat_id FROM donation)"),
    ("Which patrons bought tickets but never donated?",
     "SELECT pat_name FROM patron WHERE pat_id IN (SELECT tks_pat_id FROM ticket_sale) "
     "AND pat_id NOT IN (SELECT don_pat_id FROM donation)"),
    ("Which performers were in Hamlet but not in The Tempest?",
     "SELECT p.prf_first, p.prf_last FROM performer p JOIN casting c ON c.cst_prf_id = p.prf_id "
     "JOIN production d ON d.prd_id = c.cst_prd_id WHERE d.prd_title = 'Hamlet' EXCEPT "
     "SELECT p.prf_first, p.prf_last FROM performer p JOIN casting c ON c.cst_prf_id = p.prf_id "
     "JOIN production d ON d.prd_id = c.cst_prd_id WHERE d.prd_title = 'The Tempest'"),
    ("Which performers have never appeared at the Old Mill Theatre?",
     "SELECT prf_first, prf_last FROM performer WHERE prf_id NOT IN (SELECT c.cst_prf_id FROM casting c "
     "JOIN production d ON d.prd_id = c.cst_prd_id JOIN venue v ON v.ven_id = d.prd_ven_id "
     "WHERE v.ven_name = 'Old Mill Theatre')"),
    ("Which productions have no cast member born after 2000?",
     "SELECT prd_title FROM production WHERE prd_id NOT IN (SELECT c.cst_prd_id FROM casting c "
     "JOIN performer p ON p.prf_id = c.cst_prf_id WHERE p.prf_birth_yr > 2000)"),
    ("Which venues had no production in the 2024 season?",
     "SELECT ven_name FROM venue WHERE ven_id NOT IN (SELECT prd_ven_id FROM production WHERE prd_season = 2024)"),
    ("How many patrons bought tickets for Hamlet?",
     "SELECT COUNT(DISTINCT s.tks_pat_id) FROM ticket_sale s JOIN production d ON d.prd_id = s.tks_prd_id "
     "WHERE d.prd_title = 'Hamlet'"),
    ("How many performers have appeared in a production at the Riverside Hall?",
     "SELECT COUNT(DISTINCT c.cst_prf_id) FROM casting c JOIN production d ON d.prd_id = c.cst_prd_id "
     "JOIN venue v ON v.ven_id = d.prd_ven_id WHERE v.ven_name = 'Riverside Hall'"),
    ("How many different patrons have made a donation?", "SELECT COUNT(DISTINCT don_pat_id) FROM donation"),
    ("How many patrons from Brackley bought tickets?",
     "SELECT COUNT(DISTINCT p.pat_id) FROM patron p JOIN ticket_sale s ON s.tks_pat_id = p.pat_id "
     "WHERE p.pat_town = 'Brackley'"),
    ("How many ticket sales were made for Hamlet?",
     "SELECT COUNT(*) FROM ticket_sale s JOIN production d ON d.prd_id = s.tks_prd_id WHERE d.prd_title = 'Hamlet'"),
    ("How many crew members worked on Noises Off?",
     "SELECT COUNT(DISTINCT k.ccl_crw_id) FROM crew_call k JOIN production d ON d.prd_id = k.ccl_prd_id "
     "WHERE d.prd_title = 'Noises Off'"),
    ("Which donations were larger than the average donation?",
     "SELECT don_id, don_amount FROM donation WHERE don_amount > (SELECT AVG(don_amount) FROM donation)"),
    ("Which productions of the 2024 season had a budget above the average budget of that season?",
     "SELECT prd_title FROM production WHERE prd_season = 2024 AND prd_budget > "
     "(SELECT AVG(prd_budget) FROM production WHERE prd_season = 2024)"),
    ("Which Ashford patrons donated more than the average donation from Ashford patrons?",
     "SELECT DISTINCT p.pat_name FROM patron p JOIN donation d ON d.don_pat_id = p.pat_id WHERE p.pat_town = 'Ashford' "
     "AND d.don_amount > (SELECT AVG(d2.don_amount) FROM donation d2 JOIN patron p2 ON p2.pat_id = d2.don_pat_id "
     "WHERE p2.pat_town = 'Ashford')"),
    ("Which roles paid a fee higher than the average fee in Hamlet?",
     "SELECT c.cst_role FROM casting c JOIN production d ON d.prd_id = c.cst_prd_id WHERE d.prd_title = 'Hamlet' "
     "AND c.cst_fee > (SELECT AVG(c2.cst_fee) FROM casting c2 JOIN production d2 ON d2.prd_id = c2.cst_prd_id "
     "WHERE d2.prd_title = 'Hamlet')"),
    ("Which ticket sales were for more tickets than the average sale?",
     "SELECT tks_id, tks_qty FROM ticket_sale WHERE tks_qty > (SELECT AVG(tks_qty) FROM ticket_sale)"),
    ("Which performers are younger than the average performer?",
     "SELECT prf_first, prf_last FROM performer WHERE prf_birth_yr > (SELECT AVG(prf_birth_yr) FROM performer)"),
    ("Which lighting crew members worked more shifts than the average crew call?",
     "SELECT DISTINCT w.crw_name FROM crew w JOIN crew_call k ON k.ccl_crw_id = w.crw_id WHERE w.crw_trade = 'lighting' "
     "AND k.ccl_shifts > (SELECT AVG(ccl_shifts) FROM crew_call)"),
    ("How many performers have a mentor?", "SELECT COUNT(*) FROM performer WHERE prf_mentor_id IS NOT NULL"),
    ("Which productions at the Old Mill Theatre have no crew?",
     "SELECT d.prd_title FROM production d JOIN venue v ON v.ven_id = d.prd_ven_id WHERE v.ven_name = 'Old Mill Theatre' "
     "AND d.prd_id NOT IN (SELECT ccl_prd_id FROM crew_call)"),
]


def write_spider_folder(folder: str | Path) -> Path:
    """The database and its questions in one Spider-format folder."""
    return spider_folder.write_spider_folder(folder, "stagehouse", build, QUESTIONS)
