"""What GitLab has against what the receiver's config expects, destination by destination.

For ``destinations check``. The config's entries (``[[receiver.destinations]]``) say what
each destination should be: its URL path (``path``), its token (compared as SHA-256 digests,
never shown), active, and three keys only this check reads; absent, each means "none":

    event_type_filters = ["audit_operation"]   # GitLab's event type filters
    namespace_filter = "acme/website"          # GitLab's namespace filter
    headers = ["X-Proxy-Auth"]                 # names of the active custom headers

An entry is GitLab's destination of the same ``gitlab_destination_id`` (written by
``destinations create --write-config`` and ``sync``), else of the same name. Pure: the file
is read by ``expectations``, GitLab by the caller.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from auditstream.client.models import Destination
from auditstream.config.app import Parts, load_config
from auditstream.config.errors import ConfigError
from auditstream.config.section import Section
from auditstream.config.write import receiver_path
from auditstream.receiver.auth import normalise_path


@dataclass(frozen=True, slots=True)
class Expected:
    """One configured destination, as the check compares it."""

    name: str
    gitlab_id: str | None
    scope: str | None
    path: str | None
    token_digests: tuple[bytes, ...]
    event_type_filters: tuple[str, ...] = ()
    namespace_filter: str | None = None
    headers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Difference:
    """One thing that differs: what, and each side's value (tokens as "matches" or not)."""

    what: str
    gitlab: str
    config: str


@dataclass(frozen=True, slots=True)
class Comparison:
    """One destination: in GitLab (``gitlab``), in the config (``expected``), or both."""

    gitlab: Destination | None
    expected: Expected | None
    differences: tuple[Difference, ...]

    @property
    def name(self) -> str:
        return self.expected.name if self.expected else self.gitlab.name if self.gitlab else ""

    @property
    def agrees(self) -> bool:
        return not self.differences


def expectations(path: Path, environ: Mapping[str, str] | None = None) -> list[Expected]:
    """The config file's destinations (tokens read as the receiver reads them)."""
    config = load_config(path, environ, parts=Parts.RECEIVER)
    if config.receiver is None:
        raise ConfigError(f"{path}: no [receiver] with destinations to check")
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    entries = Section(document, "", path, {}).table("receiver").tables("destinations")
    found = []
    for entry, destination in zip(entries, config.receiver.destinations, strict=True):
        found.append(Expected(
            name=destination.name, gitlab_id=entry.optional_string("gitlab_destination_id"),
            scope=destination.gitlab_scope, path=destination.path,
            token_digests=tuple(token.digest for token in destination.tokens),
            event_type_filters=tuple(_names(entry, "event_type_filters")),
            namespace_filter=entry.optional_string("namespace_filter"),
            headers=tuple(_names(entry, "headers"))))
    return found


def _names(entry: Section, key: str) -> list[str]:
    value = entry.data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise entry.error(key, 'must be a list of strings such as ["audit_operation"]')
    return value


def compare(found: Sequence[Destination], expected: Sequence[Expected],
            scope: str) -> list[Comparison]:
    """Each of GitLab's destinations with its entry, then the entries of ``scope`` GitLab
    lacks (entries of another scope are not this check's)."""
    ours = [e for e in expected if e.scope in (None, scope)]
    matched: set[str] = set()
    comparisons = []
    for destination in found:
        entry = next((e for e in ours if e.gitlab_id == destination.id), None) or next(
            (e for e in ours if e.gitlab_id is None and e.name == destination.name), None)
        if entry is None:
            comparisons.append(Comparison(destination, None, (Difference(
                "presence", "present", "missing: run destinations sync"),)))
            continue
        matched.add(entry.name)
        comparisons.append(Comparison(destination, entry, differences(destination, entry)))
    comparisons.extend(
        Comparison(None, e, (Difference("presence", "missing (deleted?)", "present"),))
        for e in ours if e.name not in matched and e.scope == scope)
    return comparisons


def differences(destination: Destination, expected: Expected) -> tuple[Difference, ...]:
    """What differs between GitLab's destination and the config's entry."""
    found: list[Difference] = []
    gitlab_path = receiver_path(destination.url)
    if expected.path is not None and normalise_path(expected.path) != \
            normalise_path(gitlab_path or "/"):
        found.append(Difference("url", destination.url, f"path {expected.path}"))
    digest = hashlib.sha256(destination.verification_token.encode()).digest()
    if digest not in expected.token_digests:
        found.append(Difference("token", "a token the config does not hold",
                                "other token(s): run destinations sync"))
    if not destination.active:
        found.append(Difference("active", "false", "true"))
    if set(destination.event_type_filters) != set(expected.event_type_filters):
        found.append(Difference("event_type_filters",
                                _listed(destination.event_type_filters),
                                _listed(expected.event_type_filters)))
    if destination.namespace_filter != expected.namespace_filter:
        found.append(Difference("namespace_filter", destination.namespace_filter or "none",
                                expected.namespace_filter or "none"))
    active = {h.key.lower(): h.key for h in destination.headers if h.active}
    if set(active) != {h.lower() for h in expected.headers}:
        found.append(Difference("headers", _listed(sorted(active.values())),
                                _listed(expected.headers)))
    return tuple(found)


def _listed(values: Sequence[str]) -> str:
    return ", ".join(values) if values else "none"
