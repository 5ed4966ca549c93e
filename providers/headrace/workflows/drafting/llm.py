"""Drafting with the configured LLM: the same :class:`Draft` as the built-in grammar, or an error.

The model is given the description, the workflow definition's JSON schema and the names it may use
(catalogs, connections, templates), and asked for a definition. Its answer is only a proposal: it
must parse as a :class:`~headrace.workflows.model.WorkflowDefinition` here, and the caller checks
the plan and builds the DAG as a dry run (as for any definition) before anything is written. Any
failure raises :class:`LlmError` or :class:`DraftError`, and the caller drafts with the grammar.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from headrace.nlq.llm import LlmError, LlmSettings, chat
from headrace.workflows.drafting.definition import Draft, DraftError
from headrace.workflows.drafting.vocabulary import Vocabulary
from headrace.workflows.model import WorkflowDefinition

_SCHEMA = json.dumps(WorkflowDefinition.model_json_schema(), separators=(",", ":"))


def _names(vocabulary: Vocabulary) -> str:
    """The catalogs and connections (by type) of this deployment, which the model may name."""
    return json.dumps({"catalogs": sorted(vocabulary.catalogs), "connections": vocabulary.connections})


def draft_with_llm(
    settings: LlmSettings, description: str, vocabulary: Vocabulary, *, project: str | None = None
) -> Draft:
    """A definition proposed by the model for ``description``; LlmError or DraftError when unusable."""
    system = (
        "You write Headrace workflow definitions (Airflow DAGs) from a description. Answer with one JSON "
        'object {"name": "...", "description": "...", "warnings": ["..."], "definition": {...}} and nothing '
        "else. The definition must validate against this JSON schema:\n"
        f"{_SCHEMA}\nUse only these existing names, and list in warnings what the description leaves "
        f"open instead of inventing it: {_names(vocabulary)}"
    )
    content = chat(
        settings, [{"role": "system", "content": system}, {"role": "user", "content": description}]
    )
    try:
        answer = json.loads(content.strip().removeprefix("```json").removeprefix("```").removesuffix("```"))
    except ValueError:
        raise LlmError("the answer is not a JSON object") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("definition"), dict):
        raise LlmError('the answer has no "definition" object')
    data: dict[str, Any] = dict(answer["definition"])
    if project:
        data["project"] = project
    try:
        definition = WorkflowDefinition.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(sorted({".".join(str(p) for p in e["loc"]) or "definition" for e in exc.errors()}))
        raise DraftError(f"the LLM's definition is invalid ({fields})") from None
    warnings = [str(w) for w in answer.get("warnings") or [] if str(w).strip()]
    return Draft(
        definition=definition.model_dump(mode="json", exclude_none=True, exclude_defaults=True, by_alias=True)
        | {"id": definition.id, "steps": data["steps"]},
        name=str(answer.get("name") or definition.display_name),
        description=str(answer.get("description") or description),
        warnings=warnings,
    )
