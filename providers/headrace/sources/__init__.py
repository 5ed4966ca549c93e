"""Data sources: what Headrace learns from a database behind an Airflow connection.

The service layer turns a connection into a SQLAlchemy engine through the connection's own hook (so a
source registered here is the same thing every DAG uses); this package only ever sees that engine.
It reads the database's catalog (tables, views, sizes, columns, keys, grants), tests a connection step
by step, profiles and previews tables. Table names from a request are looked up in the catalog and used
as SQLAlchemy table objects, whose names the dialect quotes: they are never pasted into SQL text.
No Flask, no Airflow ORM.
"""
