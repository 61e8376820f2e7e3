"""GitLab's audit event types, as GitLab publishes them (``gitlab_audit_event_types.json``).

The list is data shipped with the package: its ``source`` names the GitLab document and commit it
was taken from. Each type says whether GitLab keeps it in its database (so reconcile can list it
over REST) and whether it can be streamed.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

DATA_FILE = "gitlab_audit_event_types.json"


@dataclass(frozen=True, slots=True)
class GitLabEventType:
    name: str
    category: str
    saved_to_database: bool
    streamed: bool


@dataclass(frozen=True, slots=True)
class GitLabEventTypes:
    source: str
    gitlab_version: str
    types: tuple[GitLabEventType, ...]

    def names(self) -> frozenset[str]:
        return frozenset(event_type.name for event_type in self.types)


@functools.cache
def gitlab_event_types() -> GitLabEventTypes:
    """The published list, read once from the package."""
    text = resources.files("auditstream.common").joinpath(DATA_FILE).read_text("utf-8")
    data = json.loads(text)
    return GitLabEventTypes(
        source=data["source"], gitlab_version=data["gitlab_version"],
        types=tuple(GitLabEventType(name=t["name"], category=t["category"],
                                    saved_to_database=t["saved_to_database"],
                                    streamed=t["streamed"]) for t in data["types"]))
