"""Driving Headrace's pages inside the real Airflow UI with Selenium and headless Chromium (Debian's
chromium and chromium-driver): the ``browser`` fixture (in ``tests/e2e/conftest.py``) and the steps
every browser test shares. Import only from a test module that is skipped without selenium.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HEADRACE_NAV = "a[href$='/plugin/headrace']"  # the entry in Airflow's navigation
WAIT = 60  # seconds; the machine is shared, so generous, and never asserted on


def chromium(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def severe(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def login(driver, cluster, username: str) -> None:
    """Through Airflow's own login form, then until its navigation shows the Headrace entry."""
    driver.delete_all_cookies()
    driver.get(f"{cluster.url}/auth/login")
    wait = waiting(driver)
    wait.until(ec.visibility_of_element_located((By.NAME, "username"))).send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(cluster.passwords[username])
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    # The form's redirects may replace the page while it is searched ("aborted by navigation").
    redirecting = WebDriverWait(driver, WAIT, ignored_exceptions=(WebDriverException,))
    redirecting.until(ec.element_to_be_clickable((By.CSS_SELECTOR, HEADRACE_NAV)))
    driver.get_log("browser")  # what the login page logged before there was a session is not ours


def waiting(driver, seconds: float = WAIT) -> WebDriverWait:
    """A wait that reads an element again when a redraw replaced it: the pages redraw their tables on
    every poll and stream event, so any element found a moment ago may be stale by the next call."""
    return WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException,))


def open_headrace(driver) -> WebDriverWait:
    """Click "Headrace" in Airflow's navigation and work inside the page it embeds."""
    wait = waiting(driver)
    driver.switch_to.default_content()
    driver.find_element(By.CSS_SELECTOR, HEADRACE_NAV).click()
    wait.until(ec.url_contains("/plugin/headrace"))
    wait.until(ec.frame_to_be_available_and_switch_to_it((By.CSS_SELECTOR, "iframe[title='Headrace']")))
    return wait


def go(driver, wait: WebDriverWait, nav: str) -> None:
    """A page of the Headrace navigation (inside the iframe)."""
    driver.find_element(By.CSS_SELECTOR, f"a[data-nav='{nav}']").click()
    wait.until(
        lambda d: (
            d.find_element(By.CSS_SELECTOR, f"a[data-nav='{nav}']").get_attribute("aria-current") == "page"
        )
    )


def shot(driver, folder: Path, name: str, publish: bool = False) -> Path:
    """A screenshot of the whole Airflow page, with the embedded one, into ``folder``. The ones marked
    ``publish`` are also copied to ``$HEADRACE_UI_SCREENSHOTS/ui-<name>.png`` when that is set (how the
    pictures in docs/images/ are made)."""
    driver.switch_to.default_content()
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.switch_to.frame(driver.find_element(By.CSS_SELECTOR, "iframe[title='Headrace']"))
    target = os.environ.get("HEADRACE_UI_SCREENSHOTS")
    if publish and target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / f"ui-{name}.png")
    return path


def click(driver, css: str) -> None:
    """Click, reading the element again if a redraw replaced it in between."""

    def clicked(d) -> bool:
        d.find_element(By.CSS_SELECTOR, css).click()
        return True

    waiting(driver).until(clicked)


def text(driver, css: str) -> str:
    """The element's text; the pages redraw their tables on every poll, so a stale element is read again."""
    return waiting(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, css).text)
