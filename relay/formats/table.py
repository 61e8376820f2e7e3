"""The table from GitLab event type to OCSF class and activity (``ocsf_table.json``): data, read
once, checked as it is read. Pure lookups: ``placement(event_type)`` says where an event goes.

Lookup order: the exact entry (``types``), then the first matching glob (``rules``), then
``unknown`` (API Activity: a type newer than the table). tests/relay/test_ocsf_table.py proves
that every type of GitLab's published list is placed by an entry or a rule, never by ``unknown``.
"""

from __future__ import annotations

import fnmatch
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from auditstream.relay.errors import MappingTableError

DATA_FILE = "ocsf_table.json"
OTHER = "Other"
OTHER_ID = 99
SEVERITIES = {"Informational": 1, "Low": 2, "Medium": 3, "High": 4, "Critical": 5}
STATUSES = {"Success": 1, "Failure": 2}
_FAILED_WORDS = frozenset({"failed", "fail"})
# Unknown event types come from the network: the cache of placements stays bounded.
_CACHED_TYPES = 4096


@dataclass(frozen=True, slots=True)
class OcsfClass:
    key: str  # the table's name, e.g. "entity_management"
    class_uid: int
    class_name: str
    category_uid: int
    category_name: str
    activities: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the table: the class, and what it fixes (else derived from the name)."""

    class_key: str
    activity: str | None = None
    severity: str = "Informational"
    status: str | None = None
    privileges: tuple[str, ...] = ()
    is_mfa: bool | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one event type goes: everything the mapper needs that depends on the type only."""

    ocsf_class: OcsfClass
    activity_name: str
    activity_id: int
    severity: str
    severity_id: int
    status: str
    status_id: int
    privileges: tuple[str, ...]
    is_mfa: bool | None
    matched_by: str  # "type", "rule:<glob>" or "unknown"


@dataclass(frozen=True, slots=True)
class MappingTable:
    ocsf_version: str
    classes: Mapping[str, OcsfClass]
    verbs: Mapping[str, tuple[str, ...]]
    types: Mapping[str, Entry]
    rules: tuple[tuple[str, Entry], ...]
    unknown: Entry

    def entry(self, event_type: str) -> tuple[Entry, str]:
        found = self.types.get(event_type)
        if found is not None:
            return found, "type"
        for pattern, rule in self.rules:
            if fnmatch.fnmatchcase(event_type, pattern):
                return rule, f"rule:{pattern}"
        return self.unknown, "unknown"

    def place(self, event_type: str) -> Placement:
        entry, matched_by = self.entry(event_type)
        return self.placement_of(entry, event_type, matched_by)

    def placement_of(self, entry: Entry, event_type: str, matched_by: str) -> Placement:
        ocsf_class = self.classes[entry.class_key]
        activity = entry.activity or self._activity_from_verb(ocsf_class, event_type)
        words = set(event_type.split("_"))
        status = entry.status or ("Failure" if words & _FAILED_WORDS else "Success")
        return Placement(
            ocsf_class=ocsf_class, activity_name=activity,
            activity_id=ocsf_class.activities[activity], severity=entry.severity,
            severity_id=SEVERITIES[entry.severity], status=status, status_id=STATUSES[status],
            privileges=entry.privileges, is_mfa=entry.is_mfa, matched_by=matched_by)

    def _activity_from_verb(self, ocsf_class: OcsfClass, event_type: str) -> str:
        """The last word of the name that is a known verb, as the first of its activities the
        class has (``revoked``: Disable where the class has it, else Delete); else Other."""
        for word in reversed(event_type.split("_")):
            for activity in self.verbs.get(word, ()):
                if activity in ocsf_class.activities:
                    return activity
            if word in self.verbs:
                return OTHER
        return OTHER


@functools.cache
def mapping_table() -> MappingTable:
    """The table shipped with the package (read and checked once)."""
    text = resources.files("auditstream.relay.formats").joinpath(DATA_FILE).read_text("utf-8")
    return parse_table(json.loads(text))


@functools.lru_cache(maxsize=_CACHED_TYPES)
def placement(event_type: str | None) -> Placement:
    """Where an event of ``event_type`` goes (no type at all: where an unknown type goes)."""
    table = mapping_table()
    if not event_type:
        return table.placement_of(table.unknown, "", "unknown")
    return table.place(event_type)


def parse_table(data: Mapping[str, Any]) -> MappingTable:
    try:
        classes = {key: OcsfClass(key=key, class_uid=int(c["class_uid"]),
                                  class_name=str(c["class_name"]),
                                  category_uid=int(c["category_uid"]),
                                  category_name=str(c["category_name"]),
                                  activities={str(k): int(v) for k, v in c["activities"].items()})
                   for key, c in data["classes"].items()}
        verbs = {str(word): tuple(str(a) for a in acts) for word, acts in data["verbs"].items()}
        table = MappingTable(
            ocsf_version=str(data["ocsf_version"]), classes=classes, verbs=verbs,
            types={str(name): _entry(raw) for name, raw in data["types"].items()},
            rules=tuple((str(raw["match"]), _entry(raw)) for raw in data["rules"]),
            unknown=_entry(data["unknown"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MappingTableError(f"{DATA_FILE}: unreadable: {exc!r}") from exc
    for where, entry in [*(("types." + n, e) for n, e in table.types.items()),
                         *(("rules." + p, e) for p, e in table.rules),
                         ("unknown", table.unknown)]:
        _check(where, entry, table)
    return table


def _entry(raw: Mapping[str, Any]) -> Entry:
    return Entry(class_key=str(raw["class"]), activity=raw.get("activity"),
                 severity=str(raw.get("severity", "Informational")), status=raw.get("status"),
                 privileges=tuple(str(p) for p in raw.get("privileges", ())),
                 is_mfa=raw.get("is_mfa"))


def _check(where: str, entry: Entry, table: MappingTable) -> None:
    ocsf_class = table.classes.get(entry.class_key)
    if ocsf_class is None:
        raise MappingTableError(f"{DATA_FILE}: {where}: unknown class {entry.class_key!r}")
    if entry.activity is not None and entry.activity not in ocsf_class.activities:
        raise MappingTableError(f"{DATA_FILE}: {where}: {ocsf_class.class_name} has no "
                                f"activity {entry.activity!r}")
    if entry.severity not in SEVERITIES:
        raise MappingTableError(f"{DATA_FILE}: {where}: unknown severity {entry.severity!r}")
    if entry.status is not None and entry.status not in STATUSES:
        raise MappingTableError(f"{DATA_FILE}: {where}: unknown status {entry.status!r}")
