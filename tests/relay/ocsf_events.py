"""GitLab audit events for the format tests: stored as the receiver stores them."""

from __future__ import annotations

from typing import Any

import orjson

from auditstream.journal import StoredEvent
from auditstream.receiver.parse import epoch_seconds

RECEIVED_AT = 1_795_000_000.5

# GitLab's documented payload (doc/user/compliance/audit_event_schema.md, "Example: audit event
# payloads for Git over SSH events with deploy key"), byte for byte as the docs show it.
DOCUMENTED_DEPLOY_KEY_FETCH = b"""{
  "id": "1",
  "author_id": -3,
  "entity_id": 29,
  "entity_type": "Project",
  "details": {
    "author_name": "deploy-key-name",
    "author_class": "DeployKey",
    "target_id": 29,
    "target_type": "Project",
    "target_details": "example-project",
    "custom_message": {
      "protocol": "ssh",
      "action": "git-upload-pack"
    },
    "ip_address": "127.0.0.1",
    "entity_path": "example-group/example-project"
  },
  "ip_address": "127.0.0.1",
  "author_name": "deploy-key-name",
  "entity_path": "example-group/example-project",
  "target_details": "example-project",
  "created_at": "2022-07-26T05:43:53.662Z",
  "target_type": "Project",
  "target_id": 29,
  "event_type": "repository_git_operation"
}"""

# The streaming docs' other examples (audit_event_streaming.md of GitLab 15.x-16.x), retyped from
# memory of those docs, not byte for byte: a runner assigned to a project, and a merge request
# approval (stream-only: a UUID id).
DOCUMENTED_RUNNER_ASSIGNED = orjson.dumps({
    "id": 1, "author_id": 1, "entity_id": 6, "entity_type": "Project",
    "details": {"author_name": "example_username", "target_id": 29,
                "target_type": "Ci::Runner", "target_details": "2bd3d1dc",
                "custom_message": "Assigned CI runner to project", "ip_address": "127.0.0.1",
                "entity_path": "example-group/example-project"},
    "ip_address": "127.0.0.1", "author_name": "example_username",
    "entity_path": "example-group/example-project", "target_details": "2bd3d1dc",
    "created_at": "2022-02-23T06:21:05.283Z", "target_type": "Ci::Runner", "target_id": 29,
    "event_type": "ci_runner_assigned_to_project"})
DOCUMENTED_MR_APPROVAL = orjson.dumps({
    "id": "4ea54d4e-e42a-4c4e-b4b9-48cd77cb4d8b", "author_id": 1, "entity_id": 6,
    "entity_type": "Project",
    "details": {"author_name": "example_username", "author_class": "User",
                "target_id": 20, "target_type": "MergeRequest",
                "target_details": "merge request title",
                "custom_message": "Approved merge request", "ip_address": "127.0.0.1",
                "entity_path": "example-group/example-project"},
    "ip_address": "127.0.0.1", "author_name": "example_username",
    "entity_path": "example-group/example-project", "target_details": "merge request title",
    "created_at": "2022-03-09T06:53:11.181Z", "target_type": "MergeRequest", "target_id": 20,
    "event_type": "merge_request_approval_operation"})
DOCUMENTED = {"deploy_key_fetch": DOCUMENTED_DEPLOY_KEY_FETCH,
              "runner_assigned": DOCUMENTED_RUNNER_ASSIGNED,
              "mr_approval": DOCUMENTED_MR_APPROVAL}


def full_body(event_type: str, **changes: Any) -> dict[str, Any]:
    """An event with every field GitLab sends: a member change of ``bob`` on ``acme/app``."""
    body: dict[str, Any] = {
        "id": 7, "author_id": 1, "author_name": "Ada", "author_email": "ada@example.com",
        "entity_id": 6, "entity_type": "Project", "entity_path": "acme/app",
        "target_id": 9, "target_type": "User", "target_details": "bob",
        "ip_address": "10.1.2.3",
        "details": {"change": "access_level", "from": "Developer", "to": "Maintainer",
                    "author_class": "User", "custom_message": "Changed access level",
                    "ip_address": "10.1.2.3", "entity_path": "acme/app"},
        "created_at": "2026-11-29T10:00:00.123Z", "event_type": event_type}
    body.update(changes)
    return body


def stored(body: bytes | dict[str, Any], event_type: str | None = None,
           header_type: str | None = None) -> StoredEvent:
    """``body`` as the journal keeps it (event type from the header, else the body)."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    fields = value if isinstance(value, dict) else {}
    found_type = header_type or event_type or fields.get("event_type")
    event_id = fields.get("id", "x")
    return StoredEvent(
        seq=1, instance="gitlab.example.com", event_id=str(event_id), destination="acme",
        received_at=RECEIVED_AT, body=raw,
        event_type=found_type if isinstance(found_type, str) else None,
        created_at=epoch_seconds(fields.get("created_at")),
        entity_type=fields.get("entity_type") if isinstance(fields.get("entity_type"), str)
        else None,
        entity_path=fields.get("entity_path") if isinstance(fields.get("entity_path"), str)
        else None)
