"""The 1 MB cap on a job's stdout and stderr (the contract's limit), keeping the head of the output.

The head keeps what a binary prints first (its banner, the command line, the first error); the cut is
marked in the text itself, so that whoever reads the output knows it was cut and by how much.
"""

from __future__ import annotations

MAX_OUTPUT_BYTES = 1024 * 1024
_MARKER = "\n[headrace: output truncated, {dropped} of {total} bytes not kept]\n"


def truncate(text: str | None, limit: int = MAX_OUTPUT_BYTES) -> str | None:
    """At most ``limit`` UTF-8 bytes of ``text``, marker included; shorter text is returned as is.

    NUL characters become U+FFFD: PostgreSQL text cannot hold them, and the output must still be kept.
    """
    if text is None:
        return None
    text = text.replace("\x00", "\ufffd")
    encoded = text.encode("utf-8", errors="replace")
    if len(encoded) <= limit:
        return text
    marker = _MARKER.format(dropped=0, total=len(encoded))
    # The marker's length depends on the number it prints; reserve for the longest possible number.
    room = max(0, limit - len(marker.encode()) - len(str(len(encoded))))
    head = encoded[:room].decode("utf-8", errors="ignore")  # never cut a character in two
    kept = len(head.encode("utf-8"))
    return head + _MARKER.format(dropped=len(encoded) - kept, total=len(encoded))
