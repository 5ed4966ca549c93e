"""Submission rules (every bad field named at once) and the 1 MB output cap, without a database."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from headrace.jobs import MAX_OUTPUT_BYTES, truncate
from headrace.jobs.validation import BulkSubmission, problems, validate_submission
from tests.unit.jobs.conftest import SHA, spec

ALLOW = ["https://artifacts.example.com/", "https://example.com/"]


def fields_of(data, *, allowlist=ALLOW, model=None) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        if model is None:
            validate_submission(data, allowlist=allowlist)
        else:
            model.model_validate(data, context={"allowlist": allowlist})
    return {p["field"]: p["message"] for p in problems(caught.value)}


def test_a_good_submission_is_normalised():
    job = validate_submission(spec(binary_sha256="AB" * 32, env_variables={"_X1": "y"}), allowlist=ALLOW)

    assert job.binary_sha256 == "ab" * 32 and job.arguments == [] and job.priority.rank == 1


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("type", "has space", "no spaces"),
        ("type", "", "no spaces"),
        ("type", "x" * 101, "1 to 100"),
        ("binary_url", "file:///bin/true", "http(s) URL"),
        ("binary_url", "ftp://example.com/b", "http(s) URL"),
        ("binary_url", "https://evil.example.org/b", "allowed prefixes: https://artifacts.example.com/"),
        ("binary_url", "http://example.com/b", "allowed prefixes"),
        ("binary_sha256", "abc123...", "64 hexadecimal"),
        ("binary_sha256", "g" * 64, "64 hexadecimal"),
        ("priority", "urgent", "foreground"),
        ("env_variables", {"1BAD": "x", "OK": "y"}, "'1BAD'"),
        ("env_variables", {"A-B": "x"}, "'A-B'"),
    ],
)
def test_each_rule_names_its_field(field, value, says):
    found = fields_of(spec(**{field: value}))

    assert list(found) == [field]
    assert says in found[field] and found[field].startswith(f"{field}: ")


def test_every_bad_field_is_reported_at_once():
    found = fields_of(
        {
            "type": "a b",
            "binary_url": "file:///x",
            "binary_sha256": "1",
            "arguments": ["ok", 2],
            "env_variables": {"K": 3},
            "priority": "now",
            "unknown": 1,
        }
    )

    assert sorted(found) == [
        "arguments[1]",
        "binary_sha256",
        "binary_url",
        "env_variables.K",
        "priority",
        "type",
        "unknown",
    ]


def test_missing_fields_are_named():
    assert sorted(fields_of({})) == ["binary_sha256", "binary_url", "priority", "type"]


def test_an_empty_allowlist_refuses_every_url():
    assert "job_binary_url_allowlist is empty" in fields_of(spec(), allowlist=[])["binary_url"]


def test_bulk_errors_carry_the_index():
    found = fields_of([spec(), spec(binary_sha256="x"), spec(priority="no")], model=BulkSubmission)

    assert sorted(found) == ["[1].binary_sha256", "[2].priority"]
    assert "root" not in str(found)
    assert list(fields_of([], model=BulkSubmission)) == ["body"]


def test_short_output_is_kept_as_is():
    assert truncate("héllo") == "héllo" and truncate(None) is None
    exactly = "x" * MAX_OUTPUT_BYTES
    assert truncate(exactly) == exactly


def test_long_output_keeps_the_head_and_marks_the_cut():
    text = "HEAD" + "é" * MAX_OUTPUT_BYTES  # 2 bytes a character: 2 MB + 4

    cut = truncate(text)

    assert len(cut.encode()) <= MAX_OUTPUT_BYTES
    assert cut.startswith("HEADé") and "output truncated" in cut
    kept = cut[: cut.index("\n[headrace")]
    assert kept.endswith("é")  # no character cut in two
    total = len(text.encode())
    assert f"{total - len(kept.encode())} of {total} bytes not kept" in cut


def test_sha_of_the_fixture_is_valid():
    assert validate_submission(spec(binary_sha256=SHA), allowlist=ALLOW).binary_sha256 == SHA
