-- A tiny shop database for the README's data-source step (SQLite; load it with Python's sqlite3).
CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT);
CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers,
                     amount REAL NOT NULL, ordered_at TEXT NOT NULL);
INSERT INTO customers VALUES (1, 'acme', 'DE'), (2, 'globex', 'FR'), (3, 'initech', 'US');
INSERT INTO orders VALUES (1001, 1, 250.0, '2026-11-03'), (1002, 2, 99.9, '2026-11-12'),
                          (1003, 3, 15.0, '2026-11-20'), (1004, 1, 42.5, '2026-11-28');
