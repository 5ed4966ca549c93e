"""What a job submission must look like; every bad field is reported at once, by name.

The model is the request body of ``POST /jobs`` (and each item of ``POST /jobs/bulk``), so the API,
the OpenAPI document and direct users of the queue share one set of rules. ``binary_url`` is checked
against ``[headrace] job_binary_url_allowlist``, or the ``allowlist`` given in the validation context.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, ValidationInfo, field_validator

from headrace.jobs.models import Priority

TYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"
MAX_TYPE_LENGTH = 100
MAX_URL_LENGTH = 2048
MAX_ARGUMENTS = 1000
MAX_ENV_VARIABLES = 1000
MAX_BULK = 1000
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TYPE = re.compile(TYPE_PATTERN)
_SCHEMES = ("http", "https")


def allowlist_from(info: ValidationInfo) -> list[str]:
    if info.context and "allowlist" in info.context:
        return list(info.context["allowlist"])
    from headrace import config  # Airflow's configuration, only when no allowlist was given

    return config.job_binary_url_allowlist()


def check_binary_url(url: str, allowlist: list[str]) -> str:
    """The URL itself if it is http(s) and starts with an allowed prefix; ValueError otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"at most {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in _SCHEMES or not parts.netloc:
        raise ValueError(f"must be an http(s) URL with a host, not '{parts.scheme or url}'")
    if not any(url.startswith(prefix) for prefix in allowlist):
        allowed = ", ".join(allowlist) or "(none: [headrace] job_binary_url_allowlist is empty)"
        raise ValueError(f"must start with one of the allowed prefixes: {allowed}")
    return url


class JobSubmission(BaseModel):
    """A binary job to queue: what to download, how to check it and how to run it."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="Job type, no spaces (executors may claim only some types).")
    binary_url: str = Field(description="Where to download the binary; must match the allowlist.")
    binary_sha256: str = Field(description="SHA-256 of the binary, 64 hexadecimal characters.")
    arguments: list[str] = Field(default_factory=list, max_length=MAX_ARGUMENTS)
    env_variables: dict[str, str] = Field(default_factory=dict, max_length=MAX_ENV_VARIABLES)
    priority: Priority

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if not value or len(value) > MAX_TYPE_LENGTH or not _TYPE.match(value):
            raise ValueError(
                f"1 to {MAX_TYPE_LENGTH} characters, no spaces: letters, digits and . _ : / - "
                "(starting with a letter or digit)"
            )
        return value

    @field_validator("binary_url")
    @classmethod
    def _binary_url(cls, value: str, info: ValidationInfo) -> str:
        return check_binary_url(value, allowlist_from(info))

    @field_validator("binary_sha256")
    @classmethod
    def _sha256(cls, value: str) -> str:
        if not _SHA256.match(value):
            raise ValueError("must be 64 hexadecimal characters (the SHA-256 of the binary)")
        return value.lower()

    @field_validator("env_variables")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [name for name in value if not _ENV_NAME.match(name)]
        if bad:
            raise ValueError(
                f"invalid variable name(s) {', '.join(repr(n) for n in bad)}: letters, digits and _, "
                "not starting with a digit"
            )
        return value


class BulkSubmission(RootModel[list[JobSubmission]]):
    """``POST /jobs/bulk``: all jobs are valid and queued, or none is."""

    root: list[JobSubmission] = Field(min_length=1, max_length=MAX_BULK)


def problems(exc: ValidationError) -> list[dict[str, str]]:
    """``{"field", "message"}`` per bad field; the message names the field (``[0].binary_url: ...``)."""
    found = []
    for error in exc.errors(include_url=False):
        field = ""
        for part in error["loc"]:
            field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
        field = field or "body"
        message = error["msg"].removeprefix("Value error, ")
        found.append({"field": field, "message": f"{field}: {message}"})
    return found


def validate_submission(data: Any, *, allowlist: list[str] | None = None) -> JobSubmission:
    """Raises :class:`pydantic.ValidationError` naming every bad field."""
    context = {"allowlist": allowlist} if allowlist is not None else None
    return JobSubmission.model_validate(data, context=context)
