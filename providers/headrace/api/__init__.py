"""The Headrace REST API: a Flask blueprint served by the Airflow api-server under /pluginsv2."""
