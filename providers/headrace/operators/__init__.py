"""Airflow operators of the Headrace provider."""
