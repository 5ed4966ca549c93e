"""Plugins-folder shim for the Headrace plugin (the code lives in the ``headrace`` package).

When the package is installed with its ``airflow.plugins`` entry point, Airflow loads the plugin from
there and this file exposes nothing, so the plugin is loaded once.
"""

from headrace.plugin import HeadracePlugin, entry_point_installed

if entry_point_installed():
    del HeadracePlugin
