"""Models shared by every namespace: strict request base, messages and the three error shapes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The largest ``offset`` a list accepts: what a database integer holds (beyond it a query fails).
MAX_OFFSET = 2**31 - 1


class FieldValueError(ValueError):
    """Raised by model-level validators so that the error still names the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class StrictModel(BaseModel):
    """Request models refuse unknown fields: nothing a client sends is silently dropped."""

    model_config = ConfigDict(extra="forbid")


class MessageResponse(BaseModel):
    """A success answer that only carries a message."""

    success: Literal[True] = True
    message: str


class FieldError(BaseModel):
    """One invalid field of a request and what is wrong with it."""

    field: str = Field(description="Dotted path of the bad field, e.g. `target.catalog`.")
    message: str


class EnvelopeError(BaseModel):
    """Error shape of the lakehouse-api namespaces (health, auth, catalog, upload, ingestion, ...)."""

    success: Literal[False] = False
    error: str
    code: str
    request_id: str
    errors: list[str] | None = Field(None, description="Validation errors, one `field: message` each.")
    details: Any = None


class ErrorObject(BaseModel):
    """The error object inside the pipelines-api and workflows-api error shape."""

    code: str
    message: str
    details: Any = None
    timestamp: str
    request_id: str


class ObjectError(BaseModel):
    """Error shape of the pipelines-api and workflows-api namespaces."""

    error: ErrorObject
    success: Literal[False] = False
    code: str
    request_id: str


class ContextError(BaseModel):
    """Error shape of the job-queue and monitoring-events namespaces."""

    error: str
    context: dict[str, Any]
    success: Literal[False] = False
    code: str
    request_id: str
