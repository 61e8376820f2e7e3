"""Realistic GitLab audit events for the journal prefill: the shapes ``wrk_post.lua`` sends.

Four event types seen in GitLab's stream, ~700 bytes each, with the fields of the reference
(id, author_id, author_name, entity_id, entity_type, entity_path, details with custom_message,
ip_address and target_*, created_at with milliseconds, event_type). Pure functions, no I/O.
"""

from __future__ import annotations

import functools
import time

import orjson

PEOPLE = ("Alice Lindqvist-Okafor", "Bartholomew Quigley", "Chen Xiaoming")
GROUPS = ("acme/platform-engineering", "acme/payments", "acme/security/incident-response",
          "acme/mobile-apps")
PROJECTS = ("payments-service-backend", "infrastructure-terraform-modules",
            "customer-portal-frontend", "internal-developer-tooling")
EVENT_TYPES = ("repository_git_operation", "merge_request_create", "member_created",
               "audit_operation")
# The same sequence variable as wrk_post.lua, so both vary their shapes along the ids.
_VARIETY_STRIDE = 64


def event_body(event_id: int, created_at: float) -> tuple[str, bytes]:
    """The event type and JSON body of the event with this id, created at ``created_at``."""
    n = event_id // _VARIETY_STRIDE + event_id % _VARIETY_STRIDE
    event_type = EVENT_TYPES[n % 4]
    who = PEOPLE[n % 3]
    group = GROUPS[(n // 4) % 4]
    path = f"{group}/{PROJECTS[(n // 16) % 4]}"
    ip = f"203.0.{event_id % 251}.{event_id % 239 + 1}"
    target_id = 50_000 + event_id % 9973
    entity_type, target_type, target_details = "Project", "Project", path
    details: dict[str, object] = {"author_name": who, "author_class": "User",
                                  "target_id": target_id}
    if event_type == "repository_git_operation":
        details["custom_message"] = {"protocol": "ssh", "action": "git-upload-pack"}
    elif event_type == "merge_request_create":
        target_type, target_details = "MergeRequest", f"{path}!{event_id % 4096}"
        details["custom_message"] = "Added merge request"
    elif event_type == "member_created":
        entity_type, target_type, target_details, path = "Group", "User", who, group
        details.update({"custom_message": "Added member", "add": "user_access",
                        "as": "Developer", "member_id": target_id})
    else:
        details.update({"custom_message": "Changed visibility level from private to internal",
                        "change": "visibility_level", "from": "private", "to": "internal"})
    details.update({"target_type": target_type, "target_details": target_details,
                    "ip_address": ip, "entity_path": path})
    event = {
        "id": event_id, "author_id": 1000 + event_id % 997, "entity_id": target_id,
        "entity_type": entity_type, "details": details, "ip_address": ip, "author_name": who,
        "entity_path": path, "target_details": target_details,
        "created_at": iso_millis(created_at), "target_type": target_type,
        "target_id": target_id, "event_type": event_type,
    }
    return event_type, orjson.dumps(event)


def iso_millis(epoch: float) -> str:
    """``2022-02-23T06:21:05.283Z``, as GitLab writes ``created_at``."""
    millis_total = int(epoch * 1000)
    minute, millis = divmod(millis_total, 60_000)
    return f"{_minute_prefix(minute)}{millis // 1000:02d}.{millis % 1000:03d}Z"


@functools.lru_cache(maxsize=1024)
def _minute_prefix(minute: int) -> str:
    # strftime is a fifth of the prefill's time when called per event; a minute's prefix repeats.
    return time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(minute * 60))
