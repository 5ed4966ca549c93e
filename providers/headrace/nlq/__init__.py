"""Natural language to SQL: two engines behind one interface, one validation for both.

:func:`translate` asks the LLM backend when one is configured and falls back to the built-in engine
(:mod:`.builtin`, no network) when it is not, fails, times out or answers SQL that does not pass
:func:`.validate.check`; the built-in engine's SQL passes the same check. The answer names the engine
that wrote the SQL, why the LLM was not used, and the phrases of the question that were not used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from headrace.nlq import validate
from headrace.nlq.builtin import BuiltinEngine, NotUnderstood
from headrace.nlq.llm import LlmError, LlmSettings, ask_for_sql
from headrace.nlq.schema import Column, Schema, Table

__all__ = [
    "Column", "LlmSettings", "NotUnderstood", "Schema", "Table", "Translation", "UnsafeQuery", "translate",
]  # fmt: skip

UnsafeQuery = validate.UnsafeQuery


@dataclass
class Translation:
    sql: str
    explanation: str
    engine: str  # builtin | llm
    unused_phrases: list[str] = field(default_factory=list)
    fallback_reason: str | None = None


def translate(
    question: str, schema: Schema, dialect: str, *, llm: LlmSettings | None = None, today: date | None = None
) -> Translation:
    allowed = set(schema.tables)
    reason = None
    if llm is not None:
        try:
            sql, explanation = ask_for_sql(llm, question, schema, dialect)
            checked = validate.check(sql, dialect, allowed)
            return Translation(checked, explanation or "Written by the configured LLM.", "llm")
        except LlmError as exc:
            reason = f"LLM not used: {exc}"
        except validate.UnsafeQuery as exc:
            reason = f"LLM answer rejected: {exc}"
    answer = BuiltinEngine(schema, dialect, today=today).translate(question)
    checked = validate.check(answer.sql, dialect, allowed)
    return Translation(checked, answer.explanation, "builtin", answer.unused, reason)
