"""Source paths to concrete objects: globs, folders, relative keys, misses."""

from __future__ import annotations

import pytest

from headrace.ingestion.files import glob_regex, resolve_files
from headrace.ingestion.results import IngestionFailed
from headrace.ingestion.spec import Source
from tests.unit.ingestion.helpers import put

KEYS = [
    "data/2024/a.json",
    "data/2024/b.json",
    "data/2024/c.csv",
    "data/2024/deep/d.json",
    "data/2025/e.json",
    "data/_SUCCESS",
    "data/.hidden.json",
    "other/x.json",
]


@pytest.fixture
def keys(store):
    for key in KEYS:
        put(store, key, b'{"a": 1}\n')
    return KEYS


def uris(store, paths, **source) -> list[str]:
    spec = Source.model_validate({"file_paths": paths, "file_type": "json", **source})
    return [f.uri for f in resolve_files(spec, store)]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("s3://raw/data/2024/*.json", ["data/2024/a.json", "data/2024/b.json"]),
        ("s3://raw/data/*/*.json", ["data/2024/a.json", "data/2024/b.json", "data/2025/e.json"]),
        # fnmatch semantics: a leading dot is not special (unlike a shell)
        ("s3://raw/data/**/*.json", [k for k in KEYS if k.endswith(".json") and k.startswith("data/")]),
        ("s3://raw/data/2024/?.json", ["data/2024/a.json", "data/2024/b.json"]),
        ("s3://raw/data/2024/[ab].*", ["data/2024/a.json", "data/2024/b.json"]),
        ("s3://raw/data/2024/[!a].*", ["data/2024/b.json", "data/2024/c.csv"]),
        ("s3://raw/data/.*.json", ["data/.hidden.json"]),
    ],
)
def test_globs_match_within_segments(store, keys, pattern, expected):
    assert uris(store, pattern) == [f"s3://raw/{k}" for k in sorted(expected)]


def test_a_folder_means_every_object_below_it_but_hidden_ones(store, keys):
    assert uris(store, "s3://raw/data/2024/") == [
        "s3://raw/data/2024/a.json",
        "s3://raw/data/2024/b.json",
        "s3://raw/data/2024/c.csv",
        "s3://raw/data/2024/deep/d.json",
    ]
    assert "s3://raw/data/_SUCCESS" not in uris(store, "s3://raw/data/")


def test_duplicates_removed_and_sorted(store, keys):
    paths = ["s3://raw/other/x.json", "s3://raw/data/2024/*.json", "s3://raw/data/2024/a.json"]
    assert uris(store, paths) == [
        "s3://raw/data/2024/a.json",
        "s3://raw/data/2024/b.json",
        "s3://raw/other/x.json",
    ]


def test_keys_inside_the_source_bucket(store, keys):
    files = resolve_files(
        Source.model_validate(
            {
                "file_paths": ["data/2025/e.json", "/other/*.json"],
                "file_type": "json",
                "bucket_details": {"bucket_name": "raw"},
            }
        ),
        store,
    )
    assert [(f.bucket, f.key, f.size) for f in files] == [
        ("raw", "data/2025/e.json", 9),
        ("raw", "other/x.json", 9),
    ]
    assert files[0].etag_or_mtime.startswith("20")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("s3://raw/data/nope.json", "File not found: s3://raw/data/nope.json"),
        ("s3://raw/data/*.parquet", "No file matches s3://raw/data/*.parquet"),
        ("s3://raw/empty/", "No file matches s3://raw/empty/"),
        (
            "s3://missing-bucket/a.json",
            "File not found: s3://missing-bucket/a.json (bucket 'missing-bucket' does not exist)",
        ),
        ("data/a.json", "Invalid source path 'data/a.json'"),
        ("s3://raw/../etc/passwd", "Invalid source path 's3://raw/../etc/passwd'"),
    ],
)
def test_misses_name_the_path(store, keys, path, message):
    with pytest.raises(IngestionFailed) as failure:
        uris(store, ["s3://raw/other/x.json", path])
    assert str(failure.value).startswith(message)
    assert failure.value.file is not None


def test_glob_regex_rules():
    assert glob_regex("a/**/x.json").fullmatch("a/x.json")
    assert glob_regex("a/**/x.json").fullmatch("a/b/c/x.json")
    assert not glob_regex("a/*.json").fullmatch("a/b/x.json")
    assert glob_regex("a/[]x].json").fullmatch("a/].json")  # a leading ] is part of the class
    assert glob_regex("a/[x.json").fullmatch("a/[x.json")  # an unclosed [ is literal
    assert glob_regex("a/x+(1).json").fullmatch("a/x+(1).json")
