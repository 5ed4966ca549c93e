"""Airflow hooks of the Headrace provider."""
