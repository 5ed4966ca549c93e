"""The README's and docs' code blocks are each run by tests/e2e/test_readme.py or marked why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.readme_blocks import RUNNABLE, blocks, missing_output

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_every_shell_and_python_block_runs_or_says_why_not(path: Path) -> None:
    for block in blocks(path):
        if block.language in RUNNABLE and block.marker:
            assert block.reason, f"{block.where()} is marked {block.marker} without a reason"
        placeholder = "<" in block.code.split("#")[0]
        assert block.language != "python" or block.marker or not placeholder, block.where()


def test_the_readme_keeps_two_setup_commands_and_shows_what_each_step_prints() -> None:
    readme = blocks(REPO / "README.md")
    (setup,) = [b for b in readme if "make test" in b.code]
    assert [line.split("#")[0].strip() for line in setup.code.splitlines()] == ["make run", "make test"]
    runnable = [b for b in readme if b.runnable]
    assert all(b.expected for b in runnable if "curl" in b.code and "kill" not in b.code.splitlines()[-1])
    assert not [b.where() for b in runnable if "<" in b.code.replace("<<", "").replace("< ", "")]


def test_expected_output_matches_in_order_with_trimmed_parts() -> None:
    assert missing_output('{"a":1,...,"c":3}', '{"a":1,"b":2,"c":3}') is None
    assert missing_output('"c":3...{"a":1', '{"a":1,"b":2,"c":3}') == '{"a":1'  # order counts
