"""A second database no Mirror rule was written for, kept out of development: a trading company in the
CamelCase style of classic sample databases (Customers, Employees, Categories, Products, Orders,
OrderDetails), generated with a fixed seed, and 22 questions whose gold SQL was written before Mirror ran
on it. Mirror's answers on it were looked at only for the final measurement.

    python -c "import sys; sys.path.insert(0, 'tests/mirror'); import store_db; store_db.write_spider_folder('/tmp/store')"
    girflow mirror eval --spider /tmp/store
"""
from __future__ import annotations

import random
from pathlib import Path

import spider_folder

SCHEMA = """
CREATE TABLE Customers (CustomerID INTEGER PRIMARY KEY, CompanyName TEXT, ContactName TEXT, City TEXT, Country TEXT);
CREATE TABLE Employees (EmployeeID INTEGER PRIMARY KEY, FirstName TEXT, LastName TEXT, Title TEXT, BirthDate TEXT,
                        HireDate TEXT);
CREATE TABLE Categories (CategoryID INTEGER PRIMARY KEY, CategoryName TEXT, Description TEXT);
CREATE TABLE Products (ProductID INTEGER PRIMARY KEY, ProductName TEXT,
                       CategoryID INTEGER REFERENCES Categories(CategoryID), UnitPrice REAL, UnitsInStock INTEGER);
CREATE TABLE Orders (OrderID INTEGER PRIMARY KEY, CustomerID INTEGER REFERENCES Customers(CustomerID),
                     EmployeeID INTEGER REFERENCES Employees(EmployeeID), OrderDate TEXT, ShipCountry TEXT, Freight REAL);
CREATE TABLE OrderDetails (OrderID INTEGER REFERENCES Orders(OrderID), ProductID INTEGER REFERENCES Products(ProductID),
                           Quantity INTEGER, Discount REAL, PRIMARY KEY (OrderID, ProductID));
"""

CUSTOMERS = [("Alfreds Futterkiste", "Maria Anders", "Berlin", "Germany"),
             ("Blauer See Delikatessen", "Hanna Moos", "Mannheim", "Germany"),
             ("Koniglich Essen", "Philip Cramer", "Brandenburg", "Germany"),
             ("Lehmanns Marktstand", "Renate Messner", "Frankfurt", "Germany"),
             ("Bon app", "Laurence Lebihan", "Marseille", "France"), ("Du monde entier", "Janine Labrune", "Nantes", "France"),
             ("Folies gourmandes", "Martine Rance", "Lille", "France"), ("Around the Horn", "Thomas Hardy", "London", "UK"),
             ("Eastern Connection", "Ann Devon", "London", "UK"), ("Island Trading", "Helen Bennett", "Cowes", "UK"),
             ("Great Lakes Food Market", "Howard Snyder", "Eugene", "USA"), ("Lazy K Kountry Store", "John Steel", "Walla Walla", "USA"),
             ("Rattlesnake Canyon Grocery", "Paula Wilson", "Albuquerque", "USA"), ("Save-a-lot Markets", "Jose Pavarotti", "Boise", "USA"),
             ("Wolski Zajazd", "Zbyszek Piestrzeniewicz", "Warszawa", "Poland"), ("Santé Gourmet", "Jonas Bergulfsen", "Stavern", "Norway"),
             ("Berglunds snabbkop", "Christina Berglund", "Lulea", "Sweden"), ("Drachenblut Delikatessen", "Sven Ottlieb", "Aachen", "Germany")]
EMPLOYEES = [("Nancy", "Davolio", "Sales Representative", "1968-12-08", "2012-05-01"),
             ("Andrew", "Fuller", "Vice President, Sales", "1962-02-19", "2010-08-14"),
             ("Janet", "Leverling", "Sales Representative", "1973-08-30", "2016-04-01"),
             ("Margaret", "Peacock", "Sales Representative", "1957-09-19", "2013-05-03"),
             ("Steven", "Buchanan", "Sales Manager", "1975-03-04", "2017-10-17"),
             ("Michael", "Suyama", "Sales Representative", "1983-07-02", "2018-10-17"),
             ("Laura", "Callahan", "Inside Sales Coordinator", "1978-01-09", "2014-03-05")]
CATEGORIES = [("Beverages", "Soft drinks, coffees, teas, beers, and ales"), ("Condiments", "Sweet and savory sauces"),
              ("Confections", "Desserts, candies, and sweet breads"), ("Dairy Products", "Cheeses"),
              ("Seafood", "Seaweed and fish")]
PRODUCTS = [("Chai", 1, 18.0, 39), ("Chang", 1, 19.0, 17), ("Ipoh Coffee", 1, 46.0, 17), ("Cote de Blaye", 1, 263.5, 17),
            ("Aniseed Syrup", 2, 10.0, 13), ("Chef Anton's Cajun Seasoning", 2, 22.0, 53),
            ("Chef Anton's Gumbo Mix", 2, 21.35, 0), ("Grandma's Boysenberry Spread", 2, 25.0, 120),
            ("Pavlova", 3, 17.45, 29), ("Teatime Chocolate Biscuits", 3, 9.2, 25), ("Sir Rodney's Scones", 3, 10.0, 3),
            ("Queso Cabrales", 4, 21.0, 22), ("Mascarpone Fabioli", 4, 32.0, 9), ("Gorgonzola Telino", 4, 12.5, 0),
            ("Ikura", 5, 31.0, 31), ("Konbu", 5, 6.0, 24), ("Carnarvon Tigers", 5, 62.5, 42),
            ("Boston Crab Meat", 5, 18.4, 123)]

QUESTIONS = [  # (question, gold SQL), written before Mirror ran on this database
    ("How many customers are there?", "SELECT COUNT(*) FROM Customers"),
    ("How many orders were shipped to Germany?", "SELECT COUNT(*) FROM Orders WHERE ShipCountry = 'Germany'"),
    ("List the names of products in the category 'Beverages'.",
     "SELECT p.ProductName FROM Products p JOIN Categories c ON p.CategoryID = c.CategoryID "
     "WHERE c.CategoryName = 'Beverages'"),
    ("What is the average unit price of products?", "SELECT AVG(UnitPrice) FROM Products"),
    ("Which customer placed the most orders?",
     "SELECT c.CompanyName FROM Customers c JOIN Orders o ON c.CustomerID = o.CustomerID GROUP BY c.CustomerID "
     "ORDER BY COUNT(*) DESC LIMIT 1"),
    ("How many products are in each category?",
     "SELECT c.CategoryName, COUNT(*) FROM Categories c JOIN Products p ON p.CategoryID = c.CategoryID "
     "GROUP BY c.CategoryID"),
    ("What is the name of the most expensive product?",
     "SELECT ProductName FROM Products ORDER BY UnitPrice DESC LIMIT 1"),
    ("What are the first and last names of the oldest employee?",
     "SELECT FirstName, LastName FROM Employees ORDER BY BirthDate ASC LIMIT 1"),
    ("List the names of products with more than 50 units in stock.",
     "SELECT ProductName FROM Products WHERE UnitsInStock > 50"),
    ("Which countries have more than 3 customers?",
     "SELECT Country FROM Customers GROUP BY Country HAVING COUNT(*) > 3"),
    ("Show the names and unit prices of the 5 cheapest products.",
     "SELECT ProductName, UnitPrice FROM Products ORDER BY UnitPrice ASC LIMIT 5"),
    ("What is the total freight of orders shipped to France?",
     "SELECT SUM(Freight) FROM Orders WHERE ShipCountry = 'France'"),
    ("List the company names of customers who have never placed an order.",
     "SELECT CompanyName FROM Customers WHERE CustomerID NOT IN (SELECT CustomerID FROM Orders)"),
    ("What is the total quantity ordered for each product?",
     "SELECT p.ProductName, SUM(d.Quantity) FROM Products p JOIN OrderDetails d ON p.ProductID = d.ProductID "
     "GROUP BY p.ProductID"),
    ("How many employees were hired after 2015?",
     "SELECT COUNT(*) FROM Employees WHERE strftime('%Y', HireDate) > '2015'"),
    ("What are the first names of employees whose title is 'Sales Representative'?",
     "SELECT FirstName FROM Employees WHERE Title = 'Sales Representative'"),
    ("How many different countries do customers come from?", "SELECT COUNT(DISTINCT Country) FROM Customers"),
    ("Which employee handled the most orders? Give the first and last name.",
     "SELECT e.FirstName, e.LastName FROM Employees e JOIN Orders o ON e.EmployeeID = o.EmployeeID "
     "GROUP BY e.EmployeeID ORDER BY COUNT(*) DESC LIMIT 1"),
    ("List the company names of customers located in Berlin.", "SELECT CompanyName FROM Customers WHERE City = 'Berlin'"),
    ("What is the highest freight of any order?", "SELECT MAX(Freight) FROM Orders"),
    ("Show the names of products whose name contains 'Chef'.",
     "SELECT ProductName FROM Products WHERE ProductName LIKE '%Chef%'"),
    ("What is the average freight for each ship country?",
     "SELECT ShipCountry, AVG(Freight) FROM Orders GROUP BY ShipCountry"),
]


def build_store_db(path: str | Path, seed: int = 11) -> Path:
    rng = random.Random(seed)
    con = spider_folder.fresh_database(path, SCHEMA)
    con.executemany("INSERT INTO Customers VALUES (?, ?, ?, ?, ?)", [(i + 1, *c) for i, c in enumerate(CUSTOMERS)])
    con.executemany("INSERT INTO Employees VALUES (?, ?, ?, ?, ?, ?)", [(i + 1, *e) for i, e in enumerate(EMPLOYEES)])
    con.executemany("INSERT INTO Categories VALUES (?, ?, ?)", [(i + 1, *c) for i, c in enumerate(CATEGORIES)])
    con.executemany("INSERT INTO Products VALUES (?, ?, ?, ?, ?)", [(i + 1, *p) for i, p in enumerate(PRODUCTS)])
    buyers = list(range(1, 16))  # customers 16-18 never ordered
    customer_weights = [9 if c == 8 else 3 for c in buyers]  # Around the Horn orders the most
    employee_weights = [5, 2, 4, 9, 2, 3, 3]  # Margaret Peacock handles the most
    for oid in range(1, 121):
        cust = rng.choices(buyers, customer_weights)[0]
        country = CUSTOMERS[cust - 1][3]
        date = f"{rng.randint(2021, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        con.execute("INSERT INTO Orders VALUES (?, ?, ?, ?, ?, ?)",
                    (oid, cust, rng.choices(range(1, 8), employee_weights)[0], date, country,
                     round(rng.uniform(1, 250), 2)))
        for pid in rng.sample(range(1, len(PRODUCTS) + 1), rng.randint(1, 4)):
            con.execute("INSERT INTO OrderDetails VALUES (?, ?, ?, ?)",
                        (oid, pid, rng.randint(1, 40), rng.choice([0, 0, 0, 0.05, 0.1])))
    con.commit()
    con.close()
    return Path(path)


def write_spider_folder(folder: str | Path) -> Path:
    """The database and its questions in Spider's layout (questions.json, database/store.sqlite)."""
    return spider_folder.write_spider_folder(folder, "store", build_store_db, QUESTIONS)
