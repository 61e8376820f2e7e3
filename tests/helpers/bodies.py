"""GitLab's audit event as it streams it: the one builder of bodies and headers for tests."""

from __future__ import annotations

from typing import Any

import orjson

STREAM_TOKEN_HEADER = "X-Gitlab-Event-Streaming-Token"
FORM = "application/x-www-form-urlencoded"


def gitlab_event(event_id: int | str, **fields: Any) -> dict[str, Any]:
    """A repository_git_operation on acme/app as GitLab streams it; ``fields`` replace or
    add keys (``event_type="user_created"``, ``details=...``)."""
    return {"id": event_id, "author_id": 1, "author_name": "Ada", "entity_id": 6,
            "entity_type": "Project", "entity_path": "acme/app",
            "details": {"custom_message": {"protocol": "web", "action": "git-receive-pack"}},
            "created_at": "2026-11-29T10:00:00.123Z", "event_type": "repository_git_operation",
            **fields}


def gitlab_body(event_id: int | str, **fields: Any) -> bytes:
    """``gitlab_event`` as the bytes of a request body."""
    return orjson.dumps(gitlab_event(event_id, **fields))


def gitlab_headers(token: str | None, event_type: str = "audit_operation",
                   **extra: str) -> dict[str, str]:
    """What GitLab sends: the token, the type, and a form content type for a JSON body."""
    headers = {"Content-Type": FORM, "X-Gitlab-Audit-Event-Type": event_type, **extra}
    if token is not None:
        headers[STREAM_TOKEN_HEADER] = token
    return headers
