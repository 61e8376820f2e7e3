"""GitLab audit event -> one OCSF 1.7.0 event: a pure function of the stored event.

The class and activity come from the table (``relay.formats.table``); the objects each class
requires are built from the event's facts (``relay.formats.facts``). When an event lacks what
its class requires (a member change without the member, a sign-in without a user), it becomes
an API Activity event instead, which can always be built: the mapping never fails, whatever
the event holds. What has no OCSF home goes to ``unmapped``; the original event is ``raw_data``.

Every event this can produce is validated against the OCSF 1.7.0 schema in the tests
(tests/relay/ocsf_schema.py), fields invented here included.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson

from auditstream.journal import StoredEvent
from auditstream.relay.formats.facts import Author, Facts, Thing, facts_for
from auditstream.relay.formats.table import Placement, mapping_table, placement

OCSF_VERSION = "1.7.0"
PRODUCT_NAME = VENDOR_NAME = "GitLab"
UNKNOWN_ENDPOINT_NAME = "unknown"  # API Activity requires a source; GitLab gave none
UNMAPPED_TOO_DEEP = "the event's other fields nest too deep to encode; see raw_data"
_USER_TYPES = {"User": 1}  # else Other (99) with GitLab's author_class as the type
_OTHER = 99

Objects = dict[str, Any]
_NO_FACTS = Facts(event_type=None, author=None, ip=None, entity=None, target=None, message=None,
                  change=(None, None, None), rest={})
log = logging.getLogger("auditstream.relay")


def to_ocsf(event: StoredEvent, *, raw_data: bool = True,
            facts: Facts | None = None) -> dict[str, Any]:
    """The OCSF event for ``event``; ``raw_data`` keeps the original body in it. ``facts``:
    the event's, when the caller has them already."""
    place, rest = _mapped(event, raw_data, facts)
    return {**_head(place), **rest}


def encode_ocsf(event: StoredEvent, *, raw_data: bool = True,
                facts: Facts | None = None) -> bytes:
    """``to_ocsf`` as bytes, whatever the event holds. Should the mapping ever fail (a bug: the
    tests give it every shape of event they can think of), the event still goes out as a bare
    API Activity with its raw_data, and the failure is logged: the relay must not stop.

    The attributes that depend on the class, activity, severity and status only are encoded
    once per combination and spliced in, not encoded again for every event."""
    try:
        place, rest = _mapped(event, raw_data, facts)
    except Exception:
        log.exception("OCSF mapping failed; sending a bare API Activity event",
                      extra={"event_id": event.event_id, "seq": event.seq})
        place = _fallback(placement(None), None)
        rest = _rest(event, _NO_FACTS, _api_activity(_NO_FACTS, place), raw_data)
    try:
        tail = orjson.dumps(rest)
    except orjson.JSONEncodeError:
        # orjson writes at most 254 levels of nesting; GitLab's details may nest deeper than
        # that. The fields without a home are then left out (raw_data, if on, keeps them).
        rest["unmapped"] = {"left_out": UNMAPPED_TOO_DEEP}
        tail = orjson.dumps(rest)
    return _head_bytes(*_head_key(place)) + tail[1:]


def _mapped(event: StoredEvent, raw_data: bool,
            facts: Facts | None) -> tuple[Placement, dict[str, Any]]:
    if facts is None:
        facts = facts_for(event)
    place = placement(facts.event_type)
    objects = _BUILDERS[place.ocsf_class.key](facts, place)
    if objects is None:  # the class's required objects cannot be built from this event
        place = _fallback(place, facts.event_type)
        objects = _api_activity(facts, place)
    return place, _rest(event, facts, objects, raw_data)


def _head_key(place: Placement) -> tuple[int, str, int, str, int, str, int, str, int, str]:
    cls = place.ocsf_class
    return (cls.class_uid, cls.class_name, cls.category_uid, cls.category_name,
            place.activity_id, place.activity_name, place.severity_id, place.severity,
            place.status_id, place.status)


def _head(place: Placement) -> dict[str, Any]:
    return _head_dict(*_head_key(place))


def _head_dict(class_uid: int, class_name: str, category_uid: int, category_name: str,
               activity_id: int, activity_name: str, severity_id: int, severity: str,
               status_id: int, status: str) -> dict[str, Any]:
    return {"class_uid": class_uid, "class_name": class_name,
            "category_uid": category_uid, "category_name": category_name,
            "activity_id": activity_id, "activity_name": activity_name,
            "type_uid": class_uid * 100 + activity_id,
            "type_name": f"{class_name}: {activity_name}",
            "severity_id": severity_id, "severity": severity,
            "status_id": status_id, "status": status}


@functools.lru_cache(maxsize=1024)
def _head_bytes(*key: Any) -> bytes:
    """``{"class_uid":..,"status":"..",`` (open: the rest of the event follows)."""
    return orjson.dumps(_head_dict(*key))[:-1] + b","


def _rest(event: StoredEvent, facts: Facts, objects: Objects,
          raw_data: bool) -> dict[str, Any]:
    """Everything after the head: time, metadata, actor, source, the class's objects, what
    has no home, and the original event."""
    when = event.created_at if event.created_at is not None else event.received_at
    out: dict[str, Any] = {"time": round(when * 1000), "metadata": _metadata(event, facts)}
    if facts.author is not None and "actor" not in objects:
        out["actor"] = {"user": _user(facts.author)}
    if facts.ip is not None and "src_endpoint" not in objects:
        out["src_endpoint"] = {"ip": facts.ip}
    if facts.message is not None:
        out["message"] = facts.message
    out.update(objects)
    unmapped = facts.rest
    if facts.entity is not None and not _placed(facts.entity, objects):
        # The GitLab entity (the group or project in scope) has no attribute in this class.
        unmapped = {"entity": _thing_as(facts.entity), **unmapped}
    if unmapped:
        out["unmapped"] = unmapped
    if raw_data:
        out["raw_data"] = event.body.decode("utf-8", "replace")
    return out


def _placed(thing: Thing, objects: Objects) -> bool:
    """Is ``thing`` one of the class's objects (by uid, else by name)?"""
    for value in objects.values():
        for candidate in (value if isinstance(value, list) else (value,)):
            if isinstance(candidate, dict) and (
                    (thing.uid is not None and candidate.get("uid") == thing.uid
                     and candidate.get("type", thing.type) == thing.type)
                    or (thing.uid is None and candidate.get("name") == thing.name)):
                return True
    return False


def _metadata(event: StoredEvent, facts: Facts) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "version": OCSF_VERSION,
        "product": {"name": PRODUCT_NAME, "vendor_name": VENDOR_NAME},
        "uid": f"{event.instance}:{event.event_id}",
        "original_event_uid": event.event_id,
        "logged_time": round(event.received_at * 1000),
        "labels": [f"destination:{event.destination}", f"instance:{event.instance}",
                   f"origin:{event.origin}"],
    }
    if facts.event_type:
        metadata["event_code"] = facts.event_type
    return metadata


def _fallback(place: Placement, event_type: str | None) -> Placement:
    """API Activity with the activity the name's verb gives (Create, Read, Update, Delete,
    Other), keeping the entry's severity and status."""
    table = mapping_table()
    unknown = table.placement_of(table.unknown, event_type or "", "fallback")
    return replace(unknown, severity=place.severity, severity_id=place.severity_id,
                   status=place.status, status_id=place.status_id)


# -- the objects of each class (None: what the class requires is not in the event) ------------

def _user(author: Author) -> dict[str, Any]:
    user: dict[str, Any] = {}
    if author.uid is not None:
        user["uid"] = author.uid
    if author.name is not None:
        user["name"] = author.name
    if author.email is not None:
        user["email_addr"] = author.email
    if author.kind is not None:
        user["type_id"] = _USER_TYPES.get(author.kind, _OTHER)
        user["type"] = author.kind
    return user


def _thing_as_user(thing: Thing) -> dict[str, Any]:
    return {key: value for key, value in (("uid", thing.uid), ("name", thing.name))
            if value is not None}


def _thing_as(thing: Thing) -> dict[str, Any]:
    """An entity or target as an OCSF object with uid, name and type (managed entity, group,
    resource)."""
    return {key: value for key, value in (("uid", thing.uid), ("name", thing.name),
                                          ("type", thing.type)) if value is not None}


def _subject_user(facts: Facts) -> dict[str, Any] | None:
    """The account an event is about: a User target, else a User entity."""
    for thing in (facts.target, facts.entity):
        if thing is not None and thing.type == "User":
            return _thing_as_user(thing)
    return None


def _changed_thing(facts: Facts) -> Thing | None:
    return facts.target or facts.entity


def _account_change(facts: Facts, place: Placement) -> Objects | None:
    user = _subject_user(facts) or (_user(facts.author) if facts.author else None)
    return {"user": user} if user else None


def _authentication(facts: Facts, place: Placement) -> Objects | None:
    user = (_user(facts.author) if facts.author else None) or _subject_user(facts)
    if not user:
        return None
    objects: Objects = {"user": user, "service": {"name": PRODUCT_NAME}}
    if place.is_mfa is not None:
        objects["is_mfa"] = place.is_mfa
    return objects


def _authorize_session(facts: Facts, place: Placement) -> Objects | None:
    user = (_user(facts.author) if facts.author else None) or _subject_user(facts)
    if not user or not place.privileges:
        return None
    return {"user": user, "privileges": list(place.privileges)}


def _entity_management(facts: Facts, place: Placement) -> Objects | None:
    thing = _changed_thing(facts)
    return {"entity": _thing_as(thing)} if thing is not None else None


def _user_access(facts: Facts, place: Placement) -> Objects | None:
    user = _subject_user(facts)
    granted = place.privileges or tuple(p for p in facts.change[2:] if p)
    if not user or not granted:
        return None
    objects: Objects = {"user": user, "privileges": list(granted)}
    if facts.entity is not None and facts.entity.type != "User":
        objects["resource"] = _thing_as(facts.entity)  # where the privileges apply
    return objects


def _group_management(facts: Facts, place: Placement) -> Objects | None:
    group_thing = facts.target if facts.target and facts.target.type == "Group" else facts.entity
    if group_thing is None:
        return None
    objects: Objects = {"group": _thing_as(group_thing)}
    member = facts.target if facts.target and facts.target.type == "User" else None
    if member is not None:
        objects["user"] = _thing_as_user(member)
    granted = tuple(p for p in facts.change[2:] if p)
    if granted and place.activity_name == "Assign Privileges":
        objects["privileges"] = list(granted)
    if group_thing is not facts.entity and facts.entity is not None:
        objects["resource"] = _thing_as(facts.entity)  # the project a group was invited to
    return objects


def _api_activity(facts: Facts, place: Placement) -> Objects:
    objects: Objects = {
        "actor": ({"user": _user(facts.author)} if facts.author
                  else {"app_name": PRODUCT_NAME}),
        "api": {"operation": facts.event_type or "unknown", "service": {"name": PRODUCT_NAME}},
        "src_endpoint": {"ip": facts.ip} if facts.ip else {"name": UNKNOWN_ENDPOINT_NAME},
    }
    things = [facts.entity] if facts.target == facts.entity else [facts.entity, facts.target]
    resources = [_thing_as(thing) for thing in things if thing]
    if resources:
        objects["resources"] = resources
    return objects


_BUILDERS: dict[str, Callable[[Facts, Placement], Objects | None]] = {
    "account_change": _account_change,
    "authentication": _authentication,
    "authorize_session": _authorize_session,
    "entity_management": _entity_management,
    "user_access": _user_access,
    "group_management": _group_management,
    "api_activity": _api_activity,
}
