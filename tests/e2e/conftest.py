"""The end-to-end tests share the session's ``airflow_cluster`` fixture of ``tests/conftest.py``."""
