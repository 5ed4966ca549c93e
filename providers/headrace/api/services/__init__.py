"""Business logic behind the routes: no Flask here, only plain values and SQLAlchemy sessions."""
