"""``page``/``per_page`` pagination headers (pipelines-api): totals and RFC 8288 ``Link`` relations."""

from __future__ import annotations

from urllib.parse import urlencode


def page_headers(base_url: str, *, total: int, page: int, per_page: int) -> dict[str, str]:
    """``X-Total-Count``, ``X-Page``, ``X-Per-Page`` and ``Link`` (next, prev, first, last)."""
    last = max(1, -(-total // per_page))
    relations = {"first": 1, "last": last}
    if page < last:
        relations["next"] = page + 1
    if page > 1:
        relations["prev"] = min(page - 1, last)
    links = ", ".join(
        f'<{base_url}?{urlencode({"page": number, "per_page": per_page})}>; rel="{rel}"'
        for rel, number in relations.items()
    )
    return {"X-Total-Count": str(total), "X-Page": str(page), "X-Per-Page": str(per_page), "Link": links}
