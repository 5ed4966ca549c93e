"""The fenced code blocks of the README and ``docs/*.md``, as a reader meets them, in order.

A ``bash``/``sh``/``python`` block is run by ``tests/e2e/test_readme.py`` unless an HTML comment right
before it says otherwise: ``<!-- readme-test: skip (why) -->`` for a command that must not run there
(e.g. ``make run``, which the test starts itself) and ``<!-- readme-test: fragment (why) -->`` for a
shape that is not a command (a task of a DAG file, a call with ``<id>`` placeholders). A ``text``
block right after a block is what that block prints: every line of it, ``...`` marking trimmed text,
must appear in the output, in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

RUNNABLE = {"bash", "sh", "python"}
_FENCE = re.compile(r"^```(\S*)\s*$")
_MARKER = re.compile(r"<!--\s*readme-test:\s*(skip|fragment)\s*(?:\((.*)\))?\s*-->")


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    marker: str | None = None  # "skip" or "fragment"
    reason: str = ""
    expected: str | None = None  # the text block that follows, if any

    @property
    def runnable(self) -> bool:
        return self.language in RUNNABLE and self.marker is None

    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``; a ``text`` block is attached to the block before it."""
    lines = path.read_text().splitlines()
    found: list[Block] = []
    marker: tuple[str, str] | None = None
    previous_end = -10
    i = 0
    while i < len(lines):
        if m := _MARKER.search(lines[i]):
            marker = (m.group(1), (m.group(2) or "").strip())
        fence = _FENCE.match(lines[i])
        if not fence:
            if lines[i].strip() and not _MARKER.search(lines[i]):
                marker = None  # a marker applies to the block right after it only
            i += 1
            continue
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        language = fence.group(1)
        code = "\n".join(body) + "\n"
        between = lines[previous_end + 1 : start] if previous_end >= 0 else ["x"]
        if language == "text" and found and not any(line.strip() for line in between):
            found[-1].expected = code
        else:
            block = Block(path, start + 1, language, code)
            if marker:
                block.marker, block.reason = marker
            found.append(block)
        marker = None
        previous_end = i
        i += 1
    return found


def missing_output(expected: str, output: str) -> str | None:
    """The first line of ``expected`` (split at ``...``) that ``output`` lacks, in order; else None."""
    position = 0
    for line in expected.splitlines():
        for piece in (p.strip() for p in line.split("...")):
            if not piece:
                continue
            found = output.find(piece, position)
            if found < 0:
                return piece
            position = found + len(piece)
    return None
