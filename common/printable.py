"""Text from outside (a request path, a sink's answer, an event's fields, GitLab's names) as it
may be shown on a terminal or in a log line.

Control characters are written as escapes (``\\n``, ``\\r``, ``\\x1b``): a CR or an ANSI escape
in an unauthenticated request's path could otherwise rewrite a log line on a terminal into a
fake ``INFO ... request stored``, and a newline forge a line of its own. JSON output needs
none of this (its encoder escapes them already).
"""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# C0 controls, DEL and the C1 controls (0x80-0x9f: a terminal may read 0x9b as an escape).
_ESCAPES = {code: _NAMED.get(chr(code), f"\\x{code:02x}")
            for code in (*range(0x20), *range(0x7f, 0xa0))}


def printable(text: str) -> str:
    """``text`` with every control character escaped; unchanged (the same object) when it
    holds none, which is nearly always."""
    if text.isprintable():
        return text
    return text.translate(_ESCAPES)
