"""What GitLab would have streamed to a destination, and what it never stores. No I/O here.

A destination with event-type filters receives only those types; with a namespace filter,
only events whose entity is that group or project or below it. Backfill applies the same
rules to what GitLab lists, so it adds nothing the stream would not have brought.

Stream-only types: GitLab's audit event type list (doc/user/compliance/audit_event_types.md)
has a "Saved to database" column; the types that say "no" there are streamed but never listed
over REST and cannot be backfilled. The list ships with the package
(``common.event_types``, 501 types of GitLab 18.7, 36 of them stream-only); the stand-in's
``server.gitlab.activity.KINDS`` takes its ``stored`` flags from the same list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditstream.common.event_types import gitlab_event_types
from auditstream.reconcile.convert import entity_path_of, event_type_of

STREAM_ONLY_TYPES = frozenset(
    t.name for t in gitlab_event_types().types if t.streamed and not t.saved_to_database)


@dataclass(frozen=True, slots=True)
class DestinationFilter:
    """The destination's filters as GitLab has them; empty: everything."""

    event_types: tuple[str, ...] = ()
    namespace: str | None = None

    def admits(self, item: dict[str, Any]) -> bool:
        """Whether GitLab would have streamed this REST item to the destination."""
        if self.event_types and event_type_of(item) not in self.event_types:
            return False
        if self.namespace is not None:
            path = entity_path_of(item) or ""
            return path == self.namespace or path.startswith(self.namespace + "/")
        return True

    def stream_only_types(self) -> tuple[str, ...]:
        """The stream-only types this destination receives: what backfill cannot know."""
        wanted = STREAM_ONLY_TYPES if not self.event_types else (
            STREAM_ONLY_TYPES & set(self.event_types))
        return tuple(sorted(wanted))
