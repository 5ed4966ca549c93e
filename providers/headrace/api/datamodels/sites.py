"""Bodies and answers of the central job-monitoring API's sites; the API key goes in, never out."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from headrace.api.datamodels.common import StrictModel
from headrace.events.sites import ID_PATTERN, MAX_ENDPOINT, check_endpoint


class SiteCreate(StrictModel):
    """``POST /v1/sites``: a site whose job-monitoring API this central API forwards queries to."""

    id: str = Field(pattern=ID_PATTERN, description="The site id used in `?site=`.")
    endpoint: str = Field(
        max_length=MAX_ENDPOINT,
        description="The site's job-monitoring base URL (http or https, no credentials, query or fragment).",
    )
    api_key: str | None = Field(
        None,
        max_length=1024,
        description="Sent to the site as `X-API-Key`; stored encrypted, never shown back.",
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        problem = check_endpoint(value)
        if problem:
            raise ValueError(problem)
        return value


class SiteView(BaseModel):
    """A site as the API shows it: its id and endpoint, never its key."""

    id: str
    endpoint: str


class SiteList(BaseModel):
    """Every site of the central API, static and added, as the contract's ``GET /v1/sites`` lists them."""

    sites: list[SiteView]
    count: int
