"""The LLM backend: any OpenAI-compatible chat-completions endpoint (``POST <endpoint>/chat/completions``).

The model is given the dialect, the allowed tables with their columns and keys, and the question, and
asked for one SQL query. Its answer is only text to the caller: :func:`headrace.nlq.translate` runs it
through the same validation as the built-in engine's SQL before anything uses it. The API key is the
password of the Airflow connection ``[headrace] llm_conn_id``; it goes in the ``Authorization``
header and nowhere else (never into logs or errors).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import httpx

from headrace.nlq.schema import Schema

_FENCE = re.compile(r"```(?:sql)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


class LlmError(RuntimeError):
    """The endpoint could not be used: unreachable, timed out, an HTTP error, or an answer without SQL."""


@dataclass(frozen=True)
class LlmSettings:
    endpoint: str  # base URL, e.g. https://llm.example.com/v1
    model: str
    api_key: str | None
    timeout: float

    def __repr__(self) -> str:  # never show the key
        return f"LlmSettings(endpoint={self.endpoint!r}, model={self.model!r}, timeout={self.timeout})"


def chat(settings: LlmSettings, messages: list[dict[str, str]], *, json_mode: bool = False) -> str:
    """The content of the first choice of one chat completion."""
    headers = {"Content-Type": "application/json"}
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"
    body: dict[str, Any] = {"model": settings.model, "messages": messages, "temperature": 0}
    if json_mode:
        body["response_format"] = {"type": "json_object"}
    try:
        response = httpx.post(
            f"{settings.endpoint}/chat/completions", json=body, headers=headers, timeout=settings.timeout
        )
    except httpx.TimeoutException:
        raise LlmError(f"no answer within {settings.timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise LlmError(f"endpoint not reachable ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise LlmError(f"endpoint answered HTTP {response.status_code}")
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise LlmError("the answer is not a chat completion") from None
    if not isinstance(content, str) or not content.strip():
        raise LlmError("the answer is empty")
    return content


def describe_schema(schema: Schema) -> str:
    lines = []
    for table in schema.tables.values():
        columns = ", ".join(f"{c.name} {c.type}".strip() for c in table.columns) or "(columns unknown)"
        keys = f"; primary key ({', '.join(table.primary_key)})" if table.primary_key else ""
        fks = "".join(f"; {c} references {t}({r})" for c, t, r in table.foreign_keys)
        lines.append(f"- {table.name}: {columns}{keys}{fks}")
    return "\n".join(lines)


def ask_for_sql(settings: LlmSettings, question: str, schema: Schema, dialect: str) -> tuple[str, str]:
    """``(sql, explanation)`` from the model (not yet validated)."""
    system = (
        f"You translate questions into one read-only SQL query in the {dialect} dialect. Use only these "
        f'tables:\n{describe_schema(schema)}\nAnswer with a JSON object {{"sql": "...", "explanation": '
        '"..."}} and nothing else.'
    )
    content = chat(settings, [{"role": "system", "content": system}, {"role": "user", "content": question}])
    return parse_answer(content)


def parse_answer(content: str) -> tuple[str, str]:
    text = content.strip()
    try:
        document = json.loads(_FENCE.sub(lambda m: m.group(1), text) if text.startswith("```") else text)
        if isinstance(document, dict) and isinstance(document.get("sql"), str):
            return document["sql"], str(document.get("explanation") or "")
    except ValueError:
        pass
    fenced = _FENCE.search(text)
    if fenced:
        return fenced.group(1).strip(), ""
    if re.match(r"^\s*(select|with)\b", text, re.IGNORECASE):
        return text, ""
    raise LlmError("the answer holds no SQL")
