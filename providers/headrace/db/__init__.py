"""Headrace's own tables in the Airflow metadata database, migrated by ``airflow db migrate``."""
