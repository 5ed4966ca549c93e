"""Tests of the Airflow adapter of the event log (listener, tracker, translation)."""
