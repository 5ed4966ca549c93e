"""Operations: the REST API's request statistics and what this host's operating system reports.

Domain code (no Flask, no Airflow ORM): the request statistics live in Headrace's tables of the
metadata database, so every api-server worker counts into and reports the same figures; host and
process figures come from ``psutil`` and only describe processes on this host.
"""
