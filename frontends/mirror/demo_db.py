"""Builds the bundled demo database (customers, products, orders) deterministically, on demand.

The .db file is never committed: the same seed always gives the same rows, so eval figures are comparable.
"""
from __future__ import annotations

import datetime as dt
import os
import random
import sqlite3
from pathlib import Path

CITIES = {
    "France": ["Paris", "Lyon", "Marseille"],
    "Germany": ["Berlin", "Munich", "Hamburg"],
    "Spain": ["Madrid", "Barcelona", "Seville"],
    "Italy": ["Rome", "Milan", "Naples"],
    "United Kingdom": ["London", "Manchester", "Leeds"],
}
SEGMENTS = ["Consumer", "Corporate", "Small Business"]
FIRST = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Karin",
         "Leo", "Maria", "Nils", "Olga", "Paul", "Rosa", "Sam", "Tara", "Victor"]
LAST = ["Martin", "Schmidt", "Garcia", "Rossi", "Smith", "Dubois", "Muller", "Lopez", "Bianchi", "Brown"]
CATEGORIES = {
    "Books": ["Novel", "Cookbook", "Atlas", "Poetry Collection", "Biography"],
    "Electronics": ["Headphones", "Keyboard", "Monitor", "Webcam", "Speaker"],
    "Garden": ["Shovel", "Hose", "Planter", "Rake", "Seeds Pack"],
    "Toys": ["Puzzle", "Kite", "Robot Kit", "Board Game", "Teddy Bear"],
    "Kitchen": ["Kettle", "Blender", "Knife Set", "Toaster", "Pan"],
}
STATUSES = ["delivered", "delivered", "delivered", "shipped", "cancelled", "returned"]
SCHEMA = """
CREATE TABLE customers (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL, country TEXT NOT NULL,
  segment TEXT NOT NULL, signup_date TEXT NOT NULL);
CREATE TABLE products (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL, price REAL NOT NULL);
CREATE TABLE orders (
  id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
  product_id INTEGER NOT NULL REFERENCES products(id), quantity INTEGER NOT NULL,
  amount REAL NOT NULL, order_date TEXT NOT NULL, status TEXT NOT NULL);
"""


def default_demo_path() -> Path:
    """Where the demo database lives unless told otherwise (a cache, not the repository)."""
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "girflow"
    return base / "mirror_demo.db"


def build_demo_db(path: str | os.PathLike | None = None, *, force: bool = False, seed: int = 7) -> Path:
    """Create the demo database at `path` (default: the cache) unless it already exists."""
    path = Path(path) if path else default_demo_path()
    if path.exists() and not force:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    if tmp.exists():
        tmp.unlink()
    rng = random.Random(seed)
    con = sqlite3.connect(tmp)
    con.executescript(SCHEMA)
    start = dt.date(2023, 1, 1)
    customers = []
    for cid in range(1, 501):
        country = rng.choice(sorted(CITIES))
        customers.append((cid, f"{rng.choice(FIRST)} {rng.choice(LAST)}", rng.choice(CITIES[country]), country,
                          rng.choice(SEGMENTS), (start + dt.timedelta(days=rng.randrange(730))).isoformat()))
    con.executemany("INSERT INTO customers VALUES (?,?,?,?,?,?)", customers)
    products, pid = [], 0
    for category in sorted(CATEGORIES):
        for base in CATEGORIES[category]:
            for variant in ("Basic", "Plus", "Pro"):
                pid += 1
                price = round(rng.uniform(5, 60) * {"Basic": 1, "Plus": 1.6, "Pro": 2.5}[variant], 2)
                products.append((pid, f"{base} {variant}", category, price))
    con.executemany("INSERT INTO products VALUES (?,?,?,?)", products)
    orders = []
    for oid in range(1, 4001):
        cust = rng.choice(customers[:460])  # the last 40 customers never ordered
        prod = rng.choice(products[:70])  # and 5 products were never sold
        qty = rng.choice([1, 1, 1, 2, 2, 3, 4, 5])
        day = dt.date.fromisoformat(cust[5]) + dt.timedelta(days=rng.randrange(400))
        orders.append((oid, cust[0], prod[0], qty, round(qty * prod[3], 2), day.isoformat(), rng.choice(STATUSES)))
    con.executemany("INSERT INTO orders VALUES (?,?,?,?,?,?,?)", orders)
    con.commit()
    con.close()
    os.replace(tmp, path)
    return path


if __name__ == "__main__":
    print(build_demo_db(force=True))
