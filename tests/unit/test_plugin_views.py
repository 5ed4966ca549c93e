"""HeadracePlugin.external_views: the entries the Airflow UI adds (its navigation, a DagRun tab).

What plugin.py promises: one top-level "Headrace" navigation entry shown at /plugin/headrace, and a
tab on every DagRun page; each a view Airflow's own plugin listing accepts, under a name and a
url_route of its own, whose href (with the placeholders filled in the way the Airflow UI fills them)
is a page of the plugin's Flask app, mounted at /pluginsv2 by the api-server, and answers a
logged-in user.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse

from headrace.plugin import HeadracePlugin
from tests.conftest import token_for

MOUNT = "/pluginsv2"  # where the api-server mounts the Flask app of plugins (core_api/app.py)
# What the Airflow UI puts in for the placeholders (encodeURIComponent of the run's values).
PLACEHOLDERS = {"{DAG_ID}": "headrace_ingestion", "{RUN_ID}": "manual__2026-01-02T03:04:05+00:00"}
VIEWS = HeadracePlugin.external_views


def filled(href: str) -> str:
    for placeholder, value in PLACEHOLDERS.items():
        href = href.replace(placeholder, quote(value, safe=""))
    return href


def test_airflow_accepts_every_view_and_each_has_its_own_name_and_route():
    parsed = [ExternalViewResponse.model_validate(view) for view in VIEWS]

    assert len({view.name for view in parsed}) == len(parsed)
    assert len({view.url_route for view in parsed}) == len(parsed)
    assert all(view.url_route for view in parsed)  # the UI's /plugin/<url_route> page of the view


def test_one_top_level_headrace_entry_in_the_navigation():
    nav = [view for view in VIEWS if view.get("destination", "nav") == "nav"]

    assert [(view["name"], view["url_route"], view.get("nav_top_level")) for view in nav] == [
        ("Headrace", "headrace", True)
    ]


def test_the_dag_run_tab_names_the_run_it_shows():
    (tab,) = [view for view in VIEWS if view.get("destination") == "dag_run"]

    assert "{DAG_ID}" in tab["href"] and "{RUN_ID}" in tab["href"]


@pytest.mark.parametrize("view", VIEWS, ids=[view["url_route"] for view in VIEWS])
def test_every_href_is_a_page_of_the_plugin(app, client, view):
    href = filled(view["href"])
    assert href.startswith(MOUNT + "/"), href
    path = href.removeprefix(MOUNT)
    endpoint, _ = app.url_map.bind("localhost").match(path, method="GET")
    client.set_cookie("_token", token_for("vic"))  # the Airflow UI's login cookie; a viewer sees pages

    response = client.get(path)

    assert endpoint.startswith("headrace_ui."), endpoint
    assert response.status_code == 200, response.text
    assert response.mimetype == "text/html"


def test_the_dag_run_tab_shows_the_run_airflow_filled_in(client):
    (tab,) = [view for view in VIEWS if view.get("destination") == "dag_run"]
    client.set_cookie("_token", token_for("vic"))

    page = client.get(filled(tab["href"]).removeprefix(MOUNT)).text

    assert f'data-run-id="{PLACEHOLDERS["{RUN_ID}"]}"' in page
    assert 'data-ingestion-run="true"' in page
