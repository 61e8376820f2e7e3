"""``destinations check``'s comparison, as a pure function of GitLab's destinations and the
config's entries (the end-to-end runs are in tests/e2e/test_still_streaming.py)."""

from __future__ import annotations

import hashlib

from auditstream.client.models import Destination, StreamingHeader
from auditstream.config.compare import Expected, compare

TOKEN = "gitlab-token-0123456789"
DIGEST = hashlib.sha256(TOKEN.encode()).digest()
GID = "gid://gitlab/AuditEvents::ExternalAuditEventDestination/"


def in_gitlab(number: int, name: str, **changes: object) -> Destination:
    values: dict[str, object] = {
        "id": f"{GID}{number}", "name": name, "url": f"https://r.example.com/{name}",
        "verification_token": TOKEN, "event_type_filters": (), "headers": (),
        "scope": "group:acme", **changes}
    return Destination(**values)  # type: ignore[arg-type]


def entry(name: str, number: int | None, scope: str | None = "group:acme",
          **changes: object) -> Expected:
    values: dict[str, object] = {
        "name": name, "gitlab_id": f"{GID}{number}" if number else None, "scope": scope,
        "path": f"/{name}", "token_digests": (DIGEST,), **changes}
    return Expected(**values)  # type: ignore[arg-type]


def test_an_entry_is_matched_by_id_even_after_a_rename_in_gitlab() -> None:
    [result] = compare([in_gitlab(1, "renamed", url="https://r.example.com/acme")],
                       [entry("acme", 1)], "group:acme")
    assert result.expected is not None
    assert result.agrees


def test_an_entry_written_by_hand_is_matched_by_name() -> None:
    [result] = compare([in_gitlab(1, "acme")], [entry("acme", None, scope=None)], "group:acme")
    assert result.agrees


def test_entries_of_another_group_are_not_this_checks() -> None:
    assert compare([], [entry("globex", 7, scope="group:globex")], "group:acme") == []


def test_inactive_headers_are_not_expected_and_header_names_ignore_case() -> None:
    headers = (StreamingHeader("1", "X-Proxy-Auth", "v"),
               StreamingHeader("2", "X-Old", "v", active=False))
    [result] = compare([in_gitlab(1, "acme", headers=headers)],
                       [entry("acme", 1, headers=("x-proxy-auth",))], "group:acme")
    assert result.agrees


def test_a_token_difference_never_shows_the_token() -> None:
    [result] = compare([in_gitlab(1, "acme", verification_token="other-token-0123456789")],
                       [entry("acme", 1)], "group:acme")
    assert [d.what for d in result.differences] == ["token"]
    assert "other-token" not in repr(result.differences)
