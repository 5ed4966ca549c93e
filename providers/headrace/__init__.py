"""Headrace: a self-service data platform for Apache Airflow."""

__version__ = "0.4.0"
