"""Two more databases in styles Spider does not use, written (with their questions and gold SQL) in session 7
after the rules for `styles_db` were built and before Mirror ever ran on them; they were run only to
measure, never to develop:

- `fleet`: a Rails-style app (plural snake_case tables, `x_id` keys with no FOREIGN KEY, a `vehicle_types`
  lookup table, money in integer cents, statuses as lowercase text, a `supervisor_id` self-reference, two
  role keys `origin_depot_id` / `destination_depot_id` into one table, `schema_migrations` beside them).
- `BoxOffice`: a PascalCase ticketing schema (singular tables, `<Table>ID` keys, none declared), lookup
  tables `EventCategory` and `BookingStatus` holding the English values, a bridge `EventPerformer`, and a
  measure (`Amount`) in `Payment`, two tables away from the customer.

    python -c "import sys; sys.path.insert(0, 'tests/mirror'); import styles_heldout_db as s; s.write_spider_folder('/tmp/heldout')"
    girflow mirror eval --spider /tmp/heldout
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import spider_folder

FLEET_SCHEMA = """
CREATE TABLE schema_migrations (version TEXT PRIMARY KEY);
CREATE TABLE depots (id INTEGER PRIMARY KEY, name TEXT, city TEXT, opened_on TEXT);
CREATE TABLE vehicle_types (id INTEGER PRIMARY KEY, name TEXT, capacity_kg INTEGER);
CREATE TABLE vehicles (id INTEGER PRIMARY KEY, plate TEXT, vehicle_type_id INTEGER, depot_id INTEGER, bought_on TEXT,
                       purchase_price_cents INTEGER, retired_at TEXT);
CREATE TABLE drivers (id INTEGER PRIMARY KEY, full_name TEXT, licence_class TEXT, hired_on TEXT, supervisor_id INTEGER,
                      home_depot_id INTEGER);
CREATE TABLE trips (id INTEGER PRIMARY KEY, vehicle_id INTEGER, driver_id INTEGER, origin_depot_id INTEGER,
                    destination_depot_id INTEGER, started_at TEXT, distance_km REAL, status TEXT);
CREATE TABLE fuel_purchases (id INTEGER PRIMARY KEY, vehicle_id INTEGER, purchased_at TEXT, litres REAL,
                             cost_cents INTEGER);
"""

DEPOTS = [("North Yard", "Leeds", "2012-04-01"), ("Harbour", "Hull", "2015-09-15"), ("Central", "York", "2010-01-10"),
          ("Ridge", "Sheffield", "2019-06-30")]
TYPES = [("van", 1200), ("rigid truck", 8000), ("articulated lorry", 24000), ("pickup", 900)]
DRIVERS = [("Grace Okoye", "C+E", "2014-02-03", None, 3), ("Tom Reilly", "C", "2016-07-11", 1, 1),
           ("Priya Nair", "C+E", "2017-03-20", 1, 2), ("Sam Doyle", "B", "2020-10-05", 2, 1),
           ("Lucia Ferri", "C", "2021-01-18", 2, 3), ("Omar Shah", "B", "2022-05-09", 3, 4),
           ("Hannah Brooks", "C+E", "2013-08-26", None, 2), ("Yusuf Demir", "C", "2023-02-27", 7, 2)]


def build_fleet(path: str | Path) -> Path:
    rng = random.Random(11)
    con = spider_folder.fresh_database(path, FLEET_SCHEMA)
    con.executemany("INSERT INTO schema_migrations VALUES (?)", [("20190101000000",), ("20230315120000",)])
    spider_folder.insert_numbered(con, "depots", DEPOTS)
    spider_folder.insert_numbered(con, "vehicle_types", TYPES)
    vehicles = [(f"YK{10 + i} ABC", 1 + i % 4, 1 + i % 3, f"20{15 + i % 8}-0{1 + i % 9}-1{i % 10}",
                 [3100000, 8900000, 14500000, 2800000][i % 4] + 1000 * i, "2024-06-30" if i in (3, 9) else None)
                for i in range(1, 13)]
    spider_folder.insert_numbered(con, "vehicles", vehicles)
    spider_folder.insert_numbered(con, "drivers", DRIVERS)
    for i in range(1, 61):
        o = rng.randint(1, 4)
        dest = rng.choice([d for d in range(1, 5) if d != o])
        driver = rng.choice([1, 2, 2, 3, 3, 3, 4, 5, 7, 8])  # Omar Shah (6) never drives
        con.execute("INSERT INTO trips VALUES (?,?,?,?,?,?,?,?)",
                    (i, rng.randint(1, 12), driver, o, dest, f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T0{i % 10}:15:00Z",
                     round(rng.uniform(20, 400), 1), rng.choice(["completed"] * 5 + ["cancelled", "in_progress"])))
    for i in range(1, 41):
        litres = round(rng.uniform(30, 300), 1)
        con.execute("INSERT INTO fuel_purchases VALUES (?,?,?,?,?)",
                    (i, 1 + (i * 7) % 12, f"2024-{1 + i % 12:02d}-{1 + (i * 3) % 28:02d}", litres, int(litres * 152)))
    con.commit()
    con.close()
    return Path(path)


FLEET_QUESTIONS = [  # written before Mirror ran on this database
    ("How many drivers are there?", "SELECT COUNT(*) FROM drivers"),
    ("How many vehicles are vans?",
     "SELECT COUNT(*) FROM vehicles v JOIN vehicle_types t ON v.vehicle_type_id = t.id WHERE t.name = 'van'"),
    ("How many trips were cancelled?", "SELECT COUNT(*) FROM trips WHERE status = 'cancelled'"),
    ("Which depot is in Hull?", "SELECT name FROM depots WHERE city = 'Hull'"),
    ("Which driver made the most trips?",
     "SELECT d.full_name FROM drivers d JOIN trips t ON t.driver_id = d.id GROUP BY d.id ORDER BY COUNT(*) DESC LIMIT 1"),
    ("What is the total distance of the trips driven by Priya Nair?",
     "SELECT SUM(t.distance_km) FROM trips t JOIN drivers d ON t.driver_id = d.id WHERE d.full_name = 'Priya Nair'"),
    ("Which drivers have never made a trip?",
     "SELECT full_name FROM drivers d WHERE NOT EXISTS (SELECT 1 FROM trips t WHERE t.driver_id = d.id)"),
    ("Which drivers are supervised by Grace Okoye?",
     "SELECT d.full_name FROM drivers d JOIN drivers s ON d.supervisor_id = s.id WHERE s.full_name = 'Grace Okoye'"),
    ("How many trips started from the depot North Yard?",
     "SELECT COUNT(*) FROM trips t JOIN depots d ON t.origin_depot_id = d.id WHERE d.name = 'North Yard'"),
    ("Which vehicle had the highest total fuel cost?",
     "SELECT v.plate FROM vehicles v JOIN fuel_purchases f ON f.vehicle_id = v.id GROUP BY v.id "
     "ORDER BY SUM(f.cost_cents) DESC LIMIT 1"),
    ("How many vehicles does each depot have?",
     "SELECT d.name, COUNT(*) FROM depots d JOIN vehicles v ON v.depot_id = d.id GROUP BY d.id"),
    ("What are the plates of the 3 most expensive vehicles?",
     "SELECT plate FROM vehicles ORDER BY purchase_price_cents DESC LIMIT 3"),
    ("List the drivers hired after 2020.", "SELECT full_name FROM drivers WHERE hired_on > '2020-12-31'"),
]

BOX_SCHEMA = """
CREATE TABLE Venue (VenueID INTEGER PRIMARY KEY, VenueName TEXT, City TEXT, Capacity INTEGER);
CREATE TABLE EventCategory (EventCategoryID INTEGER PRIMARY KEY, CategoryName TEXT);
CREATE TABLE Event (EventID INTEGER PRIMARY KEY, Title TEXT, VenueID INTEGER, EventCategoryID INTEGER, EventDate TEXT,
                    BasePrice REAL);
CREATE TABLE Performer (PerformerID INTEGER PRIMARY KEY, StageName TEXT, Genre TEXT);
CREATE TABLE EventPerformer (EventID INTEGER, PerformerID INTEGER, BillingOrder INTEGER, PRIMARY KEY (EventID, PerformerID));
CREATE TABLE Customer (CustomerID INTEGER PRIMARY KEY, FirstName TEXT, LastName TEXT, Email TEXT, JoinedDate TEXT);
CREATE TABLE BookingStatus (BookingStatusID INTEGER PRIMARY KEY, StatusName TEXT);
CREATE TABLE Booking (BookingID INTEGER PRIMARY KEY, CustomerID INTEGER, EventID INTEGER, BookingStatusID INTEGER,
                      Seats INTEGER, BookedAt TEXT);
CREATE TABLE Payment (PaymentID INTEGER PRIMARY KEY, BookingID INTEGER, Amount REAL, PaidAt TEXT, Method TEXT);
"""

VENUES = [("Apollo Hall", "Manchester", 3500), ("Riverside Arena", "Glasgow", 12000), ("The Vault", "Bristol", 450),
          ("Civic Theatre", "Leeds", 1100)]
CATEGORIES = ["Concert", "Comedy", "Theatre", "Sport"]
EVENTS = [("Spring Jazz Night", 1, 1, "2024-04-12", 35.0), ("Laugh Riot", 3, 2, "2024-05-03", 18.0),
          ("Hamlet", 4, 3, "2024-06-20", 42.0), ("Cup Final Screening", 2, 4, "2024-05-25", 12.0),
          ("Indie Summer", 2, 1, "2024-07-14", 55.0), ("Open Mic", 3, 2, "2024-08-02", 8.0),
          ("The Tempest", 4, 3, "2024-09-10", 39.0), ("Symphony Gala", 1, 1, "2024-10-05", 75.0)]
PERFORMERS = [("The Blue Notes", "jazz"), ("Mo Khan", "comedy"), ("Northern Players", "drama"),
              ("Static Kites", "indie"), ("City Philharmonic", "classical"), ("Jess Ray", "comedy")]
LINEUP = [(1, 1, 1), (2, 2, 1), (2, 6, 2), (3, 3, 1), (5, 4, 1), (5, 1, 2), (6, 6, 1), (7, 3, 1), (8, 5, 1)]
CUSTOMERS = [("Ava", "Thompson"), ("Noah", "Clarke"), ("Isla", "Murray"), ("Leo", "Patel"), ("Mia", "Fraser"),
             ("Oscar", "Wright"), ("Ruby", "Evans"), ("Finn", "Doherty"), ("Zara", "Hussain"), ("Jack", "Kerr")]
STATUSES = ["Confirmed", "Cancelled", "Refunded", "Pending"]


def build_box_office(path: str | Path) -> Path:
    rng = random.Random(5)
    con = spider_folder.fresh_database(path, BOX_SCHEMA)
    spider_folder.insert_numbered(con, "Venue", VENUES)
    spider_folder.insert_numbered(con, "EventCategory", CATEGORIES)
    spider_folder.insert_numbered(con, "Event", EVENTS)
    spider_folder.insert_numbered(con, "Performer", PERFORMERS)
    con.executemany("INSERT INTO EventPerformer VALUES (?,?,?)", LINEUP)
    for i, (f, last) in enumerate(CUSTOMERS, 1):
        con.execute("INSERT INTO Customer VALUES (?,?,?,?,?)",
                    (i, f, last, f"{f.lower()}.{last.lower()}@mail.test", f"202{i % 4}-0{1 + i % 9}-15"))
    spider_folder.insert_numbered(con, "BookingStatus", STATUSES)
    pay_id = 0
    for b in range(1, 41):
        cust = rng.choice([1, 1, 2, 3, 3, 3, 4, 5, 6, 7, 8, 9])  # Jack Kerr (10) never books
        event = rng.randint(1, 8)
        status = rng.choice([1, 1, 1, 1, 2, 3, 4])
        seats = rng.randint(1, 6)
        con.execute("INSERT INTO Booking VALUES (?,?,?,?,?,?)",
                    (b, cust, event, status, seats, f"2024-0{1 + b % 9}-{10 + b % 18} 12:00:00"))
        if status in (1, 3):
            pay_id += 1
            con.execute("INSERT INTO Payment VALUES (?,?,?,?,?)",
                        (pay_id, b, round(seats * EVENTS[event - 1][4], 2), f"2024-0{1 + b % 9}-{10 + b % 18} 12:05:00",
                         rng.choice(["card", "card", "paypal"])))
    con.commit()
    con.close()
    return Path(path)


BOX_QUESTIONS = [  # written before Mirror ran on this database
    ("How many events are there?", "SELECT COUNT(*) FROM Event"),
    ("List the titles of comedy events.",
     "SELECT e.Title FROM Event e JOIN EventCategory c ON e.EventCategoryID = c.EventCategoryID "
     "WHERE c.CategoryName = 'Comedy'"),
    ("How many bookings were cancelled?",
     "SELECT COUNT(*) FROM Booking b JOIN BookingStatus s ON b.BookingStatusID = s.BookingStatusID "
     "WHERE s.StatusName = 'Cancelled'"),
    ("Which venue has the largest capacity?", "SELECT VenueName FROM Venue ORDER BY Capacity DESC LIMIT 1"),
    ("Which events take place at the Apollo Hall?",
     "SELECT e.Title FROM Event e JOIN Venue v ON e.VenueID = v.VenueID WHERE v.VenueName = 'Apollo Hall'"),
    ("Which performers appear in the event Laugh Riot?",
     "SELECT p.StageName FROM Performer p JOIN EventPerformer ep ON ep.PerformerID = p.PerformerID "
     "JOIN Event e ON ep.EventID = e.EventID WHERE e.Title = 'Laugh Riot'"),
    ("Which customer made the most bookings?",
     "SELECT c.FirstName, c.LastName FROM Customer c JOIN Booking b ON b.CustomerID = c.CustomerID "
     "GROUP BY c.CustomerID ORDER BY COUNT(*) DESC LIMIT 1"),
    ("Which customer has paid the highest total amount?",
     "SELECT c.FirstName, c.LastName FROM Customer c JOIN Booking b ON b.CustomerID = c.CustomerID "
     "JOIN Payment p ON p.BookingID = b.BookingID GROUP BY c.CustomerID ORDER BY SUM(p.Amount) DESC LIMIT 1"),
    ("Which customers have never made a booking?",
     "SELECT FirstName, LastName FROM Customer c WHERE NOT EXISTS "
     "(SELECT 1 FROM Booking b WHERE b.CustomerID = c.CustomerID)"),
    ("How many events are there in each category?",
     "SELECT c.CategoryName, COUNT(*) FROM Event e JOIN EventCategory c ON e.EventCategoryID = c.EventCategoryID "
     "GROUP BY c.EventCategoryID"),
    ("What is the average base price of theatre events?",
     "SELECT AVG(e.BasePrice) FROM Event e JOIN EventCategory c ON e.EventCategoryID = c.EventCategoryID "
     "WHERE c.CategoryName = 'Theatre'"),
    ("What is the total amount paid by card?", "SELECT SUM(Amount) FROM Payment WHERE Method = 'card'"),
    ("List the 2 cheapest events by base price.", "SELECT Title FROM Event ORDER BY BasePrice ASC LIMIT 2"),
]


def write_spider_folder(folder: str | Path) -> Path:
    """Both databases and their 26 questions in one Spider-format folder."""
    spider_folder.write_spider_folder(folder, "fleet", build_fleet, FLEET_QUESTIONS)
    spider_folder.write_spider_folder(folder, "BoxOffice", build_box_office, BOX_QUESTIONS)
    questions = [{"db_id": "fleet", "question": q, "query": s} for q, s in FLEET_QUESTIONS]
    questions += [{"db_id": "BoxOffice", "question": q, "query": s} for q, s in BOX_QUESTIONS]
    (Path(folder) / "questions.json").write_text(json.dumps(questions, indent=1))
    return Path(folder)
