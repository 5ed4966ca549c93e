"""Airflow triggers of the Headrace provider: they run in the triggerer, waiting without a worker slot."""
