"""The event log: one store for everything that runs (see docs/events.md).

Events come in (job-monitoring ingest and the sidecar, Airflow's own runs, the binary job queue),
are stored once (``headrace_event``, unique per site and idempotency key), fold into the jobs and
subjobs they describe (``headrace_tracked_entity``), and go out: queries, SSE, the WebSocket and
webhooks. No Flask and no Airflow ORM here.
"""
