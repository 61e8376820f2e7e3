"""Relay connections as GitLab pages them: ``first``/``after``/``last``/``before``, at most
100 nodes a page, opaque cursors (base64 of ``{"id":"12"}``, as GitLab's keyset cursors).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from auditstream.server.gitlab.errors import ArgumentError

T = TypeVar("T")

MAX_PAGE_SIZE = 100  # GitLab's default_max_page_size
INVALID_CURSOR = "Please provide a valid cursor"


def encode_cursor(number: int) -> str:
    text = json.dumps({"id": str(number)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return int(value["id"])
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise ArgumentError(INVALID_CURSOR) from None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """The nodes of one page with their cursors, and whether there is more either side."""

    edges: list[tuple[str, T]]
    has_next: bool
    has_previous: bool


def paginate(items: Sequence[T], key: Callable[[T], int], *, first: int | None = None,
             after: str | None = None, last: int | None = None,
             before: str | None = None) -> Page[T]:
    """One page of ``items`` (ordered by ``key``), as Relay's algorithm cuts it."""
    for name, count in (("first", first), ("last", last)):
        if count is not None and count < 0:
            raise ArgumentError(f"Argument '{name}' must be greater than or equal to 0")
    ordered = sorted(items, key=key)
    start, end = 0, len(ordered)
    if after is not None:
        cut = decode_cursor(after)
        start = next((i for i, item in enumerate(ordered) if key(item) > cut), end)
    if before is not None:
        cut = decode_cursor(before)
        end = next((i for i, item in enumerate(ordered) if key(item) >= cut), end)
    end = max(start, end)
    if first is None and last is None:
        first = MAX_PAGE_SIZE
    if first is not None:
        end = min(end, start + min(first, MAX_PAGE_SIZE))
    if last is not None:
        start = max(start, end - min(last, MAX_PAGE_SIZE))
    window = ordered[start:end]
    return Page([(encode_cursor(key(item)), item) for item in window],
                has_next=end < len(ordered), has_previous=start > 0)


def connection(items: Sequence[T], key: Callable[[T], int],
               arguments: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL connection (``nodes``, ``edges``, ``pageInfo``) from a field's arguments."""
    page = paginate(items, key, first=arguments.get("first"), after=arguments.get("after"),
                    last=arguments.get("last"), before=arguments.get("before"))
    cursors = [cursor for cursor, _ in page.edges]
    return {
        "nodes": [node for _, node in page.edges],
        "edges": [{"cursor": cursor, "node": node} for cursor, node in page.edges],
        "pageInfo": {"hasNextPage": page.has_next, "hasPreviousPage": page.has_previous,
                     "startCursor": cursors[0] if cursors else None,
                     "endCursor": cursors[-1] if cursors else None},
    }
