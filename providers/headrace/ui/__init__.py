"""Headrace's pages in the Airflow UI: server-rendered shells whose data comes from the REST API.

Airflow 3 shows a plugin's external view with a ``url_route`` inside its own UI (an iframe of the
same origin, see plugin.py), so the pages share the UI's login (the ``_token`` cookie) and theme.
The pages fetch everything from ``/pluginsv2/headrace/api/v1`` like any other client: there is no
second code path for data, and every write is checked by the API whatever the page shows.
"""
