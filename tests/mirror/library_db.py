"""A database no Mirror rule was written for: a lending library in CamelCase (Branch, Member, Author, Book,
Loan, Staff), with real author and book names, numbers stored as text (Staff.Salary, as exported
spreadsheets do), and 22 questions whose gold SQL was written before Mirror was run on them.

`write_spider_folder(dir)` lays it out in Spider's format, so `girflow mirror eval --spider dir` measures
it like any other held-out database:

    python -c "import sys; sys.path.insert(0, 'tests/mirror'); import library_db; \
               library_db.write_spider_folder('/tmp/library')"
    girflow mirror eval --spider /tmp/library
"""
from __future__ import annotations

import random
from pathlib import Path

import spider_folder

SCHEMA = """
CREATE TABLE Branch (BranchId INTEGER PRIMARY KEY, BranchName TEXT, City TEXT, OpenedYear INTEGER);
CREATE TABLE Author (AuthorId INTEGER PRIMARY KEY, FullName TEXT, Country TEXT, BirthYear INTEGER);
CREATE TABLE Book (BookId INTEGER PRIMARY KEY, Title TEXT, AuthorId INTEGER REFERENCES Author(AuthorId),
                   Genre TEXT, PublishedYear INTEGER, PageCount INTEGER, Price REAL);
CREATE TABLE Member (MemberId INTEGER PRIMARY KEY, FirstName TEXT, LastName TEXT, BirthYear INTEGER,
                     JoinDate TEXT, HomeBranchId INTEGER REFERENCES Branch(BranchId));
CREATE TABLE Staff (StaffId INTEGER PRIMARY KEY, Name TEXT, Role TEXT, Salary TEXT,
                    BranchId INTEGER REFERENCES Branch(BranchId));
CREATE TABLE Loan (LoanId INTEGER PRIMARY KEY, BookId INTEGER REFERENCES Book(BookId),
                   MemberId INTEGER REFERENCES Member(MemberId), BranchId INTEGER REFERENCES Branch(BranchId),
                   LoanDate TEXT, ReturnDate TEXT, LateFee REAL);
"""

BRANCHES = [(1, "Central Library", "Springfield", 1962), (2, "Riverside", "Springfield", 2014),
            (3, "Oak Hill", "Shelbyville", 1998), (4, "Harbor Point", "Capital City", 2011),
            (5, "Maple Grove", "Shelbyville", 1987)]
AUTHORS = [(1, "Ursula K. Le Guin", "USA", 1929), (2, "Terry Pratchett", "UK", 1948),
           (3, "Margaret Atwood", "Canada", 1939), (4, "Agatha Christie", "UK", 1890),
           (5, "Haruki Murakami", "Japan", 1949), (6, "Toni Morrison", "USA", 1931),
           (7, "Alice Munro", "Canada", 1931), (8, "Gabriel Garcia Marquez", "Colombia", 1927)]
BOOKS = [  # Title, AuthorId, Genre, PublishedYear, PageCount, Price
    ("A Wizard of Earthsea", 1, "Fantasy", 1968, 183, 9.99), ("The Left Hand of Darkness", 1, "Science Fiction", 1969, 304, 12.50),
    ("The Dispossessed", 1, "Science Fiction", 1974, 387, 13.25), ("The Tombs of Atuan", 1, "Fantasy", 1971, 180, 8.75),
    ("Guards! Guards!", 2, "Fantasy", 1989, 416, 10.99), ("Small Gods", 2, "Fantasy", 1992, 400, 11.49),
    ("Mort", 2, "Fantasy", 1987, 272, 9.49), ("The Handmaid's Tale", 3, "Science Fiction", 1985, 311, 14.99),
    ("Alias Grace", 3, "Historical", 1996, 470, 15.75), ("Oryx and Crake", 3, "Science Fiction", 2003, 376, 13.99),
    ("Murder on the Orient Express", 4, "Mystery", 1934, 256, 8.99), ("And Then There Were None", 4, "Mystery", 1939, 272, 7.99),
    ("The Murder of Roger Ackroyd", 4, "Mystery", 1926, 312, 8.49), ("Norwegian Wood", 5, "Literary", 1987, 296, 12.99),
    ("Kafka on the Shore", 5, "Literary", 2002, 505, 16.49), ("1Q84", 5, "Literary", 2009, 1184, 24.99),
    ("Beloved", 6, "Literary", 1987, 324, 13.49), ("Song of Solomon", 6, "Literary", 1977, 337, 12.75),
    ("Runaway", 7, "Short Stories", 2004, 335, 11.99), ("Dear Life", 7, "Short Stories", 2012, 319, 12.25),
    ("One Hundred Years of Solitude", 8, "Literary", 1967, 417, 15.49), ("Love in the Time of Cholera", 8, "Literary", 1985, 348, 14.25),
]
STAFF = [("Dana Whitfield", "Librarian", "52000", 1), ("Omar Haddad", "Clerk", "31000", 1),
         ("Grace Liu", "Manager", "68000", 1), ("Peter Novak", "Clerk", "29500", 2),
         ("Lena Fischer", "Librarian", "49000", 2), ("Samuel Okoye", "Manager", "71000", 3),
         ("Rita Moreno", "Clerk", "30500", 3), ("Ivan Petrov", "Librarian", "9800", 3),  # a part-timer: text "9800" > "52000"
         ("Chloe Martin", "Librarian", "55500", 4), ("Hugo Brandt", "Manager", "64000", 5)]
FIRST = ["Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Sofia", "Mason", "Isla", "Leo",
         "Zoe", "Aarav", "Nora", "Mateo", "Hana", "Felix"]
LAST = ["Moreau", "Nguyen", "Schmidt", "Garcia", "Kowalski", "Murphy", "Tanaka", "Okafor", "Rossi",
        "Lindqvist", "Mehta", "Dubois", "Morales", "Young", "Silva", "Kim", "Walsh", "Berg"]

QUESTIONS = [  # (question, gold SQL), written before Mirror ran on this database
    ("How many books are there?", "SELECT COUNT(*) FROM Book"),
    ("How many members were born after 1990?", "SELECT COUNT(*) FROM Member WHERE BirthYear > 1990"),
    ("List the titles of books in the genre 'Fantasy'.", "SELECT Title FROM Book WHERE Genre = 'Fantasy'"),
    ("What is the average page count of all books?", "SELECT AVG(PageCount) FROM Book"),
    ("Which author has written the most books?",
     "SELECT a.FullName FROM Author a JOIN Book b ON a.AuthorId = b.AuthorId GROUP BY a.AuthorId "
     "ORDER BY COUNT(*) DESC LIMIT 1"),
    ("How many books does each genre have?", "SELECT Genre, COUNT(*) FROM Book GROUP BY Genre"),
    ("What is the title of the book with the most pages?", "SELECT Title FROM Book ORDER BY PageCount DESC LIMIT 1"),
    ("What are the first and last names of the youngest member?",
     "SELECT FirstName, LastName FROM Member ORDER BY BirthYear DESC LIMIT 1"),
    ("List the names of staff with a salary above 50000.", "SELECT Name FROM Staff WHERE CAST(Salary AS REAL) > 50000"),
    ("Which branches have at least 3 staff?",
     "SELECT b.BranchName FROM Branch b JOIN Staff s ON b.BranchId = s.BranchId GROUP BY b.BranchId "
     "HAVING COUNT(*) >= 3"),
    ("Show the title and price of the 3 most expensive books.",
     "SELECT Title, Price FROM Book ORDER BY Price DESC LIMIT 3"),
    ("How many loans were made at branches in Shelbyville?",
     "SELECT COUNT(*) FROM Loan l JOIN Branch b ON l.BranchId = b.BranchId WHERE b.City = 'Shelbyville'"),
    ("What are the names of authors from Canada?", "SELECT FullName FROM Author WHERE Country = 'Canada'"),
    ("List the first names of members who have never borrowed a book.",
     "SELECT FirstName FROM Member WHERE MemberId NOT IN (SELECT MemberId FROM Loan)"),
    ("What is the total late fee for each branch?",
     "SELECT b.BranchName, SUM(l.LateFee) FROM Loan l JOIN Branch b ON l.BranchId = b.BranchId GROUP BY b.BranchId"),
    ("Find the titles of books published before 1950, sorted by published year.",
     "SELECT Title FROM Book WHERE PublishedYear < 1950 ORDER BY PublishedYear"),
    ("What is the maximum and minimum salary of the staff?",
     "SELECT MAX(CAST(Salary AS REAL)), MIN(CAST(Salary AS REAL)) FROM Staff"),
    ("Which cities have a branch opened before 1990 and a branch opened after 2010?",
     "SELECT City FROM Branch WHERE OpenedYear < 1990 INTERSECT SELECT City FROM Branch WHERE OpenedYear > 2010"),
    ("How many different genres are there?", "SELECT COUNT(DISTINCT Genre) FROM Book"),
    ("What is the name of the branch with the most loans?",
     "SELECT b.BranchName FROM Branch b JOIN Loan l ON b.BranchId = l.BranchId GROUP BY b.BranchId "
     "ORDER BY COUNT(*) DESC LIMIT 1"),
    ("List the titles of books written by Terry Pratchett.",
     "SELECT b.Title FROM Book b JOIN Author a ON b.AuthorId = a.AuthorId WHERE a.FullName = 'Terry Pratchett'"),
    ("What is the average price of books in each genre?", "SELECT Genre, AVG(Price) FROM Book GROUP BY Genre"),
]


def build_library_db(path: str | Path, seed: int = 7) -> Path:
    """The library database at `path` (rebuilt), with fixed-seed members and loans."""
    rng = random.Random(seed)
    con = spider_folder.fresh_database(path, SCHEMA)
    con.executemany("INSERT INTO Branch VALUES (?, ?, ?, ?)", BRANCHES)
    con.executemany("INSERT INTO Author VALUES (?, ?, ?, ?)", AUTHORS)
    con.executemany("INSERT INTO Book VALUES (?, ?, ?, ?, ?, ?, ?)", [(i + 1, *b) for i, b in enumerate(BOOKS)])
    con.executemany("INSERT INTO Staff VALUES (?, ?, ?, ?, ?)", [(i + 1, *s) for i, s in enumerate(STAFF)])
    years = rng.sample(range(1950, 2007), 40)  # distinct birth years: one youngest member
    members = [(i + 1, rng.choice(FIRST), rng.choice(LAST), years[i],
                f"{rng.randint(2015, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", rng.randint(1, 5))
               for i in range(40)]
    con.executemany("INSERT INTO Member VALUES (?, ?, ?, ?, ?, ?)", members)
    borrowers = [m[0] for m in members[:32]]  # members 33-40 never borrowed
    branch_weights = [30, 12, 20, 8, 15]  # Central Library lends the most
    loans = []
    for i in range(180):
        year, month, day = rng.randint(2021, 2025), rng.randint(1, 12), rng.randint(1, 28)
        late = rng.choice([0.0] * 6 + [0.5, 1.0, 1.5, 2.25, 3.0])
        loans.append((i + 1, rng.randint(1, len(BOOKS)), rng.choice(borrowers),
                      rng.choices(range(1, 6), branch_weights)[0], f"{year}-{month:02d}-{day:02d}",
                      f"{year}-{month:02d}-{min(28, day + rng.randint(3, 20)):02d}", late))
    con.executemany("INSERT INTO Loan VALUES (?, ?, ?, ?, ?, ?, ?)", loans)
    con.commit()
    con.close()
    return Path(path)


def write_spider_folder(folder: str | Path) -> Path:
    """The database and its questions in Spider's layout (questions.json, database/library.sqlite)."""
    return spider_folder.write_spider_folder(folder, "library", build_library_db, QUESTIONS)
