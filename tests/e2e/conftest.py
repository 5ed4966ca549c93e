"""The end-to-end tests share the session's ``airflow_cluster`` fixture of ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    """Headless Chromium driven by Selenium (see ``tests/e2e/ui_browser.py``); closed after the test."""
    from tests.e2e import ui_browser  # skips the test where selenium is missing

    yield from ui_browser.chromium(tmp_path)
