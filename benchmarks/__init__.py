"""Benchmarks run on demand (``.venv/bin/python -m benchmarks.<name>``); not part of the test suite."""
