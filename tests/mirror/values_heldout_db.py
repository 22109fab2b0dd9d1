"""A held-out database for VALUES STORED DIFFERENTLY FROM HOW THE QUESTION SAYS THEM (session 9): dates kept
as epoch seconds, epoch milliseconds, YYYYMMDD integers, ISO text with 'T'/'Z', 'DD/MM/YYYY' text and Julian
day numbers; short codes the question says as words ('SWE' for Swedish, 'G' for goalie, 'OT' for overtime,
'P' for pending, 'F' for female); a season code that looks like a date ('2023-24'); and measure words that
name a money column indirectly ("paid", "cost", "take in"). Written, with its questions and gold SQL, before
any change to Mirror made in this session, and used only to measure (never to develop rules on).

`icehockey`: a hockey league's stats export (lower snake_case, short upper-case codes, no declared foreign
keys: `team_id` -> `team.team_id` by name).

    python -c "import sys; sys.path.insert(0, 'tests/mirror'); import values_heldout_db as s; s.write_spider_folder('/tmp/vals')"
    girflow mirror eval --spider /tmp/vals
"""
from __future__ import annotations

import calendar
import datetime as dt
import random
from pathlib import Path

import spider_folder

SCHEMA = """
CREATE TABLE team (team_id INTEGER PRIMARY KEY, team_name TEXT NOT NULL, city TEXT NOT NULL);
CREATE TABLE player (player_id INTEGER PRIMARY KEY, full_name TEXT NOT NULL, team_id INTEGER, nationality TEXT NOT NULL,
                     pos TEXT NOT NULL, birth_ts INTEGER NOT NULL);
CREATE TABLE game (game_id INTEGER PRIMARY KEY, home_team_id INTEGER NOT NULL, away_team_id INTEGER NOT NULL,
                   game_date INTEGER NOT NULL, season TEXT NOT NULL, decided_in TEXT NOT NULL, attendance INTEGER);
CREATE TABLE goal (goal_id INTEGER PRIMARY KEY, game_id INTEGER NOT NULL, player_id INTEGER NOT NULL,
                   period INTEGER NOT NULL, scored_ms INTEGER NOT NULL);
CREATE TABLE contract (contract_id INTEGER PRIMARY KEY, player_id INTEGER NOT NULL, signed TEXT NOT NULL,
                       salary_usd INTEGER NOT NULL, years INTEGER NOT NULL);
CREATE TABLE injury (injury_id INTEGER PRIMARY KEY, player_id INTEGER NOT NULL, body_part TEXT NOT NULL,
                     reported_utc TEXT NOT NULL, review TEXT NOT NULL);
CREATE TABLE ticket_sale (sale_id INTEGER PRIMARY KEY, game_id INTEGER NOT NULL, sold_jd REAL NOT NULL,
                          price REAL NOT NULL, seat_section TEXT NOT NULL);
CREATE TABLE referee (referee_id INTEGER PRIMARY KEY, ref_name TEXT NOT NULL, sex TEXT NOT NULL, since_year INTEGER);
"""

TEAMS = [("Ice Wolves", "Malmo"), ("North Stars", "Tampere"), ("Harbor Kings", "Halifax"), ("Red Pines", "Denver"),
         ("Steel Hawks", "Pittsburgh"), ("Lake Bears", "Duluth")]
FIRST = ["Erik", "Mikko", "Liam", "Noah", "Oskar", "Juho", "Ethan", "Lucas", "Viktor", "Aleksi", "Mason", "Owen",
         "Anton", "Sami", "Logan", "Jack", "Filip", "Ville", "Carter", "Ryan", "Hugo", "Eetu", "Dylan", "Cole"]
LAST = ["Lindqvist", "Virtanen", "Tremblay", "Roy", "Berg", "Korhonen", "Miller", "Gagnon", "Nyberg", "Laine", "Smith",
        "Martin", "Holm", "Makela", "Wilson", "Brown", "Sundin", "Heikkinen", "Kelly", "Murphy", "Ek", "Salo", "Jones",
        "Davis"]
NATIONS = ["SWE", "FIN", "CAN", "CAN", "SWE", "FIN", "USA", "CAN", "SWE", "FIN", "USA", "CAN"]
POSITIONS = ["G", "D", "D", "C", "LW", "RW", "C", "D", "LW", "RW", "C", "D"]
BODY = ["knee", "shoulder", "ankle", "wrist", "groin", "head"]
REFS = [("Anna Holm", "F"), ("Peter Graf", "M"), ("Lena Ortiz", "F"), ("Marc Duval", "M"), ("Sofie Lund", "F"),
        ("Tom Reilly", "M"), ("Ivan Petrov", "M")]


def _epoch(day: dt.date, hour: int = 0) -> int:
    return calendar.timegm((day.year, day.month, day.day, hour, 0, 0))


def _julian(day: dt.date, hour: int) -> float:
    return round(_epoch(day, hour) / 86400.0 + 2440587.5, 4)


def build(path: str | Path) -> Path:
    rng = random.Random(9)
    con = spider_folder.fresh_database(path, SCHEMA)
    spider_folder.insert_numbered(con, "team", TEAMS)
    for i in range(1, 25):
        born = dt.date(1988 + (i * 7) % 14, 1 + (i * 5) % 12, 1 + (i * 3) % 27)
        con.execute("INSERT INTO player VALUES (?,?,?,?,?,?)",
                    (i, f"{FIRST[i - 1]} {LAST[i - 1]}", 1 + i % 6, NATIONS[i % 12], POSITIONS[i % 12],
                     _epoch(born, 6)))
    start = dt.date(2022, 10, 8)
    for i in range(1, 81):
        day = start + dt.timedelta(days=(i * 9) % 560)
        season = f"{day.year}-{(day.year + 1) % 100:02d}" if day.month >= 9 else f"{day.year - 1}-{day.year % 100:02d}"
        home = 1 + i % 6
        away = 1 + (i * 5 + 1) % 6
        away = away if away != home else 1 + home % 6
        decided = "OT" if i % 7 == 0 else "SO" if i % 11 == 0 else "REG"
        con.execute("INSERT INTO game VALUES (?,?,?,?,?,?,?)",
                    (i, home, away, int(day.strftime("%Y%m%d")), season, decided, 4000 + (i * 311) % 9000))
    goal_id = 0
    for game, day_int in con.execute("SELECT game_id, game_date FROM game").fetchall():
        day = dt.datetime.strptime(str(day_int), "%Y%m%d").date()
        for _ in range(rng.randint(1, 6)):
            goal_id += 1
            period = rng.choice([1, 2, 3])
            ms = _epoch(day, 19) * 1000 + (period - 1) * 1_200_000 + rng.randint(0, 1_199_000)
            con.execute("INSERT INTO goal VALUES (?,?,?,?,?)", (goal_id, game, rng.randint(1, 24), period, ms))
    for i in range(1, 31):
        day = dt.date(2020 + i % 5, 1 + (i * 7) % 12, 1 + (i * 11) % 28)
        con.execute("INSERT INTO contract VALUES (?,?,?,?,?)",
                    (i, 1 + (i * 5) % 24, day.strftime("%d/%m/%Y"), 750_000 + 125_000 * ((i * 13) % 29), 1 + i % 5))
    for i in range(1, 23):
        day = dt.date(2023 + i % 2, 1 + (i * 5) % 12, 1 + (i * 7) % 28)
        con.execute("INSERT INTO injury VALUES (?,?,?,?,?)",
                    (i, 1 + (i * 7) % 24, BODY[i % 6], f"{day.isoformat()}T{8 + i % 12:02d}:15:00Z",
                     "P" if i % 4 == 0 else "C"))
    for i in range(1, 121):
        game = 1 + (i * 13) % 80
        (day_int,) = con.execute("SELECT game_date FROM game WHERE game_id = ?", (game,)).fetchone()
        day = dt.datetime.strptime(str(day_int), "%Y%m%d").date() - dt.timedelta(days=(i * 3) % 20)
        con.execute("INSERT INTO ticket_sale VALUES (?,?,?,?,?)",
                    (i, game, _julian(day, 10 + i % 10), [35.0, 49.5, 62.0, 89.0, 120.0][i % 5], "ABCD"[i % 4]))
    spider_folder.insert_numbered(con, "referee", [(name, sex, 2007 + i * 2) for i, (name, sex) in enumerate(REFS)])
    con.commit()
    con.close()
    return Path(path)


_YEAR_MS = "strftime('%Y', scored_ms / 1000, 'unixepoch')"
QUESTIONS = [  # written before Mirror ran on this database; gold SQL checked against SQLite
    ("How many games were played in 2023?", "SELECT COUNT(*) FROM game WHERE game_date BETWEEN 20230101 AND 20231231"),
    ("How many goals were scored in 2024?", f"SELECT COUNT(*) FROM goal WHERE {_YEAR_MS} = '2024'"),
    ("How many players were born before 1995?",
     "SELECT COUNT(*) FROM player WHERE birth_ts < strftime('%s', '1995-01-01')"),
    ("How many contracts were signed in 2022?", "SELECT COUNT(*) FROM contract WHERE signed LIKE '%/2022'"),
    ("How many injuries were reported in 2024?", "SELECT COUNT(*) FROM injury WHERE reported_utc LIKE '2024%'"),
    ("How many tickets were sold in 2023?", "SELECT COUNT(*) FROM ticket_sale WHERE strftime('%Y', sold_jd) = '2023'"),
    ("How many games were played in each year?",
     "SELECT substr(game_date, 1, 4), COUNT(*) FROM game GROUP BY 1"),
    ("How many goals were scored per month in 2023?",
     f"SELECT strftime('%m', scored_ms / 1000, 'unixepoch'), COUNT(*) FROM goal WHERE {_YEAR_MS} = '2023' "
     "GROUP BY 1"),
    ("How much did ticket sales take in each year?",
     "SELECT strftime('%Y', sold_jd), SUM(price) FROM ticket_sale GROUP BY 1"),
    ("When was the most recent game played?", "SELECT MAX(game_date) FROM game"),
    ("How many games were played before March 2023?", "SELECT COUNT(*) FROM game WHERE game_date < 20230301"),
    ("How many Swedish players are there?", "SELECT COUNT(*) FROM player WHERE nationality = 'SWE'"),
    ("How many goalies are on the rosters?", "SELECT COUNT(*) FROM player WHERE pos = 'G'"),
    ("List the names of the Finnish defensemen.", "SELECT full_name FROM player WHERE nationality = 'FIN' AND pos = 'D'"),
    ("How many games went to overtime?", "SELECT COUNT(*) FROM game WHERE decided_in = 'OT'"),
    ("How many games were decided by a shootout?", "SELECT COUNT(*) FROM game WHERE decided_in = 'SO'"),
    ("How many injuries are pending review?", "SELECT COUNT(*) FROM injury WHERE review = 'P'"),
    ("How many female referees are there?", "SELECT COUNT(*) FROM referee WHERE sex = 'F'"),
    ("How many games were played in the 2023-24 season?", "SELECT COUNT(*) FROM game WHERE season = '2023-24'"),
    ("What was the average attendance in the 2022-23 season?", "SELECT AVG(attendance) FROM game WHERE season = '2022-23'"),
    ("How much was the most expensive ticket?", "SELECT MAX(price) FROM ticket_sale"),
    ("What is the most a player has been paid in one contract?", "SELECT MAX(salary_usd) FROM contract"),
    ("How much are contracts worth on average?", "SELECT AVG(salary_usd) FROM contract"),
    ("How many goals did American players score?",
     "SELECT COUNT(*) FROM goal g JOIN player p ON g.player_id = p.player_id WHERE p.nationality = 'USA'"),
    ("Which players have a shoulder injury?",
     "SELECT p.full_name FROM player p JOIN injury i ON i.player_id = p.player_id WHERE i.body_part = 'shoulder'"),
    ("How many tickets were sold for section B?", "SELECT COUNT(*) FROM ticket_sale WHERE seat_section = 'B'"),
]


def write_spider_folder(folder: str | Path) -> Path:
    """The database and its questions in one Spider-format folder."""
    return spider_folder.write_spider_folder(folder, "icehockey", build, QUESTIONS)
