"""What GitLab would have streamed to a destination, and what it never stores. No I/O here.

A destination with event-type filters receives only those types; with a namespace filter,
only events whose entity is that group or project or below it. Backfill applies the same
rules to what GitLab lists, so it adds nothing the stream would not have brought.

Stream-only types: GitLab's audit event type list (doc/user/compliance/audit_event_types.md)
has a "Saved to database" column; these types say "no" there, so they are streamed but never
listed over REST and cannot be backfilled. The table holds the common ones (GitLab's list has
hundreds of types and grows every release: extend it from there); the stand-in's
``server.gitlab.activity.KINDS`` marks the same ones ``stored=False``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditstream.reconcile.convert import entity_path_of, event_type_of

STREAM_ONLY_TYPES = frozenset({
    "repository_git_operation",     # git clone/fetch/push over HTTP and SSH
    "merge_request_create",
    "project_fork_operation",
})


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
