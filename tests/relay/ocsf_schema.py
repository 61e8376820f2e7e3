"""Validating OCSF events against the published OCSF 1.7.0 schema, as strictly as we can.

pydantic-ocsf (3.x) carries the OCSF schema export of 1.0 to 1.7 and pydantic models built from
it; it is maintained, and stricter than the alternatives on PyPI (ocsf-lib validates schema
definitions, not events; py-ocsf-models covers a handful of classes). Its models check types,
required attributes, enums, and the uid siblings (type_uid = class_uid x 100 + activity_id,
severity/severity_id, ...). They accept what they do not know, though (``extra="allow"``), and
leave the schema's ``at_least_one``/``just_one`` constraints and IP formats alone. So here:

- the event is validated as JSON in pydantic's strict mode (no "1" for 1), as a sink gets it;
- every model in it must have no extra attribute: a field the mapping invents fails;
- each object's constraints (``at_least_one``, ``just_one``), from the bundled schema export
  and the objects it extends, must hold;
- ``activity_name``, ``class_name`` and ``category_name`` must be the schema's captions (for
  Other, 99, "Other"), ``metadata.version`` the pinned version, and IP addresses addresses.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from importlib import resources
from typing import Any

import orjson
from ocsf.v1_7_0 import events
from pydantic import BaseModel, ValidationError

OCSF_VERSION = "1.7.0"
SCHEMA_FILE = "v1_7_0.json"
# class_uid -> (schema event name, pydantic model)
CLASSES: dict[int, tuple[str, type[BaseModel]]] = {
    3001: ("account_change", events.AccountChange),
    3002: ("authentication", events.Authentication),
    3003: ("authorize_session", events.AuthorizeSession),
    3004: ("entity_management", events.EntityManagement),
    3005: ("user_access", events.UserAccess),
    3006: ("group_management", events.GroupManagement),
    6003: ("api_activity", events.ApiActivity),
}
CATEGORIES = {3: "Identity & Access Management", 6: "Application Activity"}


class OcsfInvalid(AssertionError):
    """The event is not a valid OCSF event of the pinned version."""


@functools.cache
def schema() -> dict[str, Any]:
    text = resources.files("ocsf").joinpath("schemas", SCHEMA_FILE).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    assert data["version"] == OCSF_VERSION
    return data


def validate(event: dict[str, Any] | bytes) -> BaseModel:
    """The event as its pydantic model; raises ``OcsfInvalid`` saying every problem found."""
    data = event if isinstance(event, bytes) else orjson.dumps(event)
    as_dict = orjson.loads(data)
    found = CLASSES.get(as_dict.get("class_uid"))
    if found is None:
        raise OcsfInvalid(f"class_uid {as_dict.get('class_uid')!r} is not a class we map to")
    name, model_class = found
    try:
        model = model_class.model_validate_json(data, strict=True)
    except ValidationError as exc:
        raise OcsfInvalid(f"{name}: {exc}") from exc
    problems = [*_extras(model, name), *_constraints(model, name, name),
                *_captions(as_dict, name)]
    if as_dict.get("metadata", {}).get("version") != OCSF_VERSION:
        problems.append(f"metadata.version is not {OCSF_VERSION}")
    problems += _ips(as_dict)
    if problems:
        raise OcsfInvalid(f"{name}: " + "; ".join(problems))
    return model


def _extras(value: Any, path: str) -> list[str]:
    """Attributes the schema does not have, anywhere in the model tree."""
    found: list[str] = []
    if isinstance(value, BaseModel) and _schema_name(type(value)) == "object":
        return found  # OCSF's free-form object (unmapped): any key is allowed there
    if isinstance(value, BaseModel):
        found += [f"{path}.{key}: not an attribute of OCSF {_schema_name(type(value))}"
                  for key in (value.model_extra or {})]
        for field in type(value).model_fields:
            found += _extras(getattr(value, field), f"{path}.{field}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _extras(item, f"{path}[{i}]")
    return found


def _constraints(value: Any, path: str, event_name: str | None = None) -> list[str]:
    found: list[str] = []
    if isinstance(value, BaseModel):
        rules = (schema()["events"][event_name].get("constraints", {}) if event_name
                 else _object_constraints(type(value)))
        present: set[str] = set()
        for field_name, field in type(value).model_fields.items():
            if getattr(value, field_name) is not None:
                present.update((field_name, field.alias or field_name))
        for kind, names in rules.items():
            count = sum(1 for n in names if n in present)
            if (kind == "at_least_one" and count < 1) or (kind == "just_one" and count != 1):
                found.append(f"{path}: {kind} of {names} (has {count})")
        for child in type(value).model_fields:
            found += _constraints(getattr(value, child), f"{path}.{child}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _constraints(item, f"{path}[{i}]")
    return found


def _object_constraints(model: type) -> dict[str, list[str]]:
    objects = schema()["objects"]
    rules: dict[str, list[str]] = {}
    for klass in model.__mro__:
        name = _schema_name(klass)
        for key in (name, "_" + name):
            for kind, names in objects.get(key, {}).get("constraints", {}).items():
                rules.setdefault(kind, names)
    return rules


def _schema_name(klass: type) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", klass.__name__).lower()


def _captions(event: dict[str, Any], name: str) -> list[str]:
    spec = schema()["events"][name]
    found = []
    activities = {int(k): v["caption"] for k, v in spec["attributes"]["activity_id"]["enum"]
                  .items()} | {99: "Other"}
    if activities.get(event.get("activity_id", -1)) != event.get("activity_name"):
        found.append(f"activity_name {event.get('activity_name')!r} is not the caption of "
                     f"activity_id {event.get('activity_id')!r}")
    if event.get("class_name") != spec["caption"]:
        found.append(f"class_name {event.get('class_name')!r} is not {spec['caption']!r}")
    if CATEGORIES.get(event.get("category_uid", -1)) != event.get("category_name"):
        found.append(f"category_name {event.get('category_name')!r} does not match")
    return found


def _ips(event: dict[str, Any]) -> list[str]:
    found = []
    for key in ("src_endpoint", "dst_endpoint"):
        ip = (event.get(key) or {}).get("ip")
        if ip is not None:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                found.append(f"{key}.ip {ip!r} is not an IP address")
    return found
