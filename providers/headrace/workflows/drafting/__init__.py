"""Draft a workflow definition from one sentence ("Load sales data from PostgreSQL to ClickHouse daily").

A fixed grammar of regular expressions, not a model: the same sentence always gives the same draft,
and every rule can be read here. Each rule marks the characters it used; whatever meaningful text no
rule used comes back as a ``could not place "..."`` warning, so nothing the user wrote is dropped
silently. Nothing is invented either: hosts, connection ids and SQL come only from the sentence or
from the :class:`Vocabulary` (what exists in Airflow and Headrace). When a value is missing, the
draft says so in ``warnings``: a table becomes a run parameter of type ``identifier`` (quoted into
the SQL by the ``identifier`` filter); a connection id never does (whoever triggers a run must not
pick the database), so it is Airflow's conventional ``<type>_default``, to create, or to replace in
the sentence (``from PostgreSQL connection pg_prod``) or when deploying.

Rules, in the order they run (earlier rules take their words first):

1. quoted text: SQL (```SELECT ...```) makes a transform step of its clause; a quoted cron is the schedule;
2. file locations ``s3://bucket/prefix/*.csv`` (file type from the extension);
3. check clauses (``check``/``verify``/``ensure``/``make sure`` ...): unique, not null, accepted
   values, row count and freshness;
4. file type words (csv, json, parquet, avro, orc, tsv) and write modes (overwrite, append, merge on);
5. databases by name (``from PostgreSQL``, ``to ClickHouse table analytics.sales``,
   ``from PostgreSQL connection pg_prod``);
6. lakehouse tables (``into catalog.schema.table``, ``into table schema.table``);
7. the subject (``Load sales data`` names the table ``sales``);
8. the schedule (daily, every 15 minutes, at 2am, every monday, cron ...).

The package: :mod:`.vocabulary` (the words for systems), :mod:`.grammar` (the phrase patterns),
:mod:`.parser` (the rules), :mod:`.schedule_words` (rule 8) and :mod:`.definition` (the definition
builder). Plain Python (no Flask, no Airflow ORM), so the REST API and the command line can both use it.
"""

from __future__ import annotations

from headrace.workflows.drafting.definition import GENERIC_TRANSFER, Draft, DraftError, build
from headrace.workflows.drafting.parser import Parser
from headrace.workflows.drafting.vocabulary import Vocabulary, default_vocabulary

__all__ = ["GENERIC_TRANSFER", "Draft", "DraftError", "Vocabulary", "default_vocabulary", "draft"]


def draft(
    description: str, vocabulary: Vocabulary, *, project: str | None = None, workflow_id: str | None = None
) -> Draft:
    """A workflow definition drafted from ``description``; DraftError when no step can be made."""
    if not isinstance(description, str) or not description.strip():
        raise DraftError("The description is empty: describe a source, a target and optionally a schedule")
    parser = Parser(description.strip(), vocabulary)
    parser.parse()
    return build(parser, project=project, workflow_id=workflow_id)
