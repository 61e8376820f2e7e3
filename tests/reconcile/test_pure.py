"""The pure core of reconcile: REST answers as decisions, Link headers, windows, the REST
entity as the streamed event, and the destination's filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from auditstream.client.audit_events import windows
from auditstream.client.errors import GitLabAuthError, NotFound, PermissionDenied
from auditstream.client.rest import Done, Fail, Wait, decide, next_link, same_origin, wait_seconds
from auditstream.reconcile.convert import REST_KEY, incoming, streamed_shape
from auditstream.reconcile.select import DestinationFilter
from auditstream.server.gitlab import RunningGitLab

NOW = 1_800_000_000.0


def test_a_429_waits_what_retry_after_says_capped() -> None:
    decision = decide(429, {"Retry-After": "7"}, b"Retry later\n", what="x", role="r",
                      attempt=0, now=NOW)
    assert decision == Wait(7.0, "rate limited (HTTP 429)")
    capped = decide(429, {"Retry-After": "3600"}, b"", what="x", role="r", attempt=0, now=NOW,
                    max_wait_seconds=60)
    assert isinstance(capped, Wait)
    assert capped.seconds == 60


def test_retry_after_as_a_date_and_ratelimit_reset_are_understood() -> None:
    assert wait_seconds({"Retry-After": "Fri, 15 Jan 2027 08:00:05 GMT"},
                        datetime(2027, 1, 15, 8, 0, 0, tzinfo=UTC).timestamp(), 1, 60) == 5
    assert wait_seconds({"RateLimit-Reset": str(int(NOW) + 12)}, NOW, 1, 60) == 12
    assert wait_seconds({}, NOW, 2.5, 60) == 2.5


@pytest.mark.parametrize(("status", "error", "words"), [
    (401, GitLabAuthError, "refused the access token"),
    (403, PermissionDenied, "needs the Owner role"),
    (404, NotFound, "group acme: not found"),
])
def test_refusals_name_what_is_missing(status: int, error: type[Exception],
                                       words: str) -> None:
    decision = decide(status, {}, b'{"message": "x"}', what="group acme",
                      role="the Owner role", attempt=0, now=NOW)
    assert isinstance(decision, Fail)
    assert isinstance(decision.error, error)
    assert words in str(decision.error)


def test_a_redirect_is_refused_naming_where_it_pointed() -> None:
    decision = decide(301, {"Location": "https://gl.example/api/v4/x"}, b"", what="x",
                      role="r", attempt=0, now=NOW)
    assert isinstance(decision, Fail)
    assert "https://gl.example/api/v4/x" in str(decision.error)
    assert "not followed" in str(decision.error)


def test_a_2xx_is_done_and_a_503_is_retried() -> None:
    assert decide(200, {}, b"[]", what="x", role="r", attempt=0, now=NOW) == Done()
    assert isinstance(decide(503, {}, b"", what="x", role="r", attempt=1, now=NOW), Wait)


def test_the_next_link_is_found_among_others() -> None:
    header = ('<https://gl.example/api/v4/x?page=1>; rel="first", '
              '<https://gl.example/api/v4/x?cursor=abc>; rel="next"')
    assert next_link(header) == "https://gl.example/api/v4/x?cursor=abc"
    assert next_link('<https://gl.example/x>; rel="prev"') is None
    assert next_link(None) is None


def test_a_next_link_off_gitlabs_origin_is_not_the_same_origin() -> None:
    assert same_origin("https://gl.example/api/v4/x", "https://gl.example:443")
    assert not same_origin("https://evil.example/api/v4/x", "https://gl.example")
    assert not same_origin("http://gl.example/api/v4/x", "https://gl.example")


def test_ranges_are_cut_in_windows_of_30_days_sharing_their_edges() -> None:
    start = datetime(2026, 1, 1, 0, 0, 0, 250_000, tzinfo=UTC)
    cuts = windows(start, start + timedelta(days=65))
    assert [b - a for a, b in cuts][:2] == [timedelta(days=30)] * 2
    assert cuts[0][0] == start.replace(microsecond=0)  # widened to whole seconds
    assert all(cuts[i][1] == cuts[i + 1][0] for i in range(len(cuts) - 1))
    assert cuts[-1][1] == (start + timedelta(days=65, seconds=1)).replace(microsecond=0)


REST_ITEM = {
    "id": 41, "author_id": 2, "entity_id": 6, "entity_type": "Project",
    "event_name": "member_created",
    "details": {"author_name": "Olivia", "author_email": "o@example.com",
                "author_class": "User", "target_id": 9, "target_type": "User",
                "target_details": "user9", "ip_address": "203.0.113.9",
                "entity_path": "acme/website", "add": "user_access"},
    "created_at": "2026-01-02T03:04:05.678Z",
}


def test_the_rest_entity_becomes_the_streamed_shape_field_by_field() -> None:
    event = streamed_shape(REST_ITEM)
    assert {k: v for k, v in event.items() if k not in ("details", REST_KEY)} == {
        "id": 41, "author_id": 2, "author_name": "Olivia", "entity_id": 6,
        "entity_type": "Project", "entity_path": "acme/website", "ip_address": "203.0.113.9",
        "target_id": 9, "target_type": "User", "target_details": "user9",
        "created_at": "2026-01-02T03:04:05.678Z", "event_type": "member_created"}
    assert event["details"] == REST_ITEM["details"]
    assert event[REST_KEY] == REST_ITEM  # the REST body is kept whole


def test_what_the_rest_entity_lacks_is_not_invented() -> None:
    bare = {"id": 5, "entity_type": "Group", "details": {}, "created_at": "2026-01-02T00:00Z"}
    event = streamed_shape(bare)
    assert set(event) == {"id", "entity_type", "details", "created_at", REST_KEY}


def test_a_backfilled_event_has_the_streams_dedup_key_and_origin_backfill() -> None:
    event = incoming(REST_ITEM, instance="gitlab.example.com", destination="siem",
                     received_at=NOW)
    assert (event.event_id, event.dedup_keys, event.origin) == ("41", ("id:41",), "backfill")
    assert (event.event_type, event.entity_type, event.entity_path) == (
        "member_created", "Project", "acme/website")
    assert event.created_at == datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC).timestamp()
    assert orjson.loads(event.body)["id"] == 41


async def test_converted_rest_items_match_what_the_stand_in_streams(
        gitlab: RunningGitLab) -> None:
    made = await gitlab.make_activity(6, event_types=("member_created", "audit_operation"),
                                      on=("acme", "acme/website"), wait=False)
    for event in made:
        streamed, converted = event.payload(), streamed_shape(event.rest_item())
        assert {k: converted[k] for k in streamed if k != "details"} == {
            k: v for k, v in streamed.items() if k != "details"}


@pytest.mark.parametrize(("rules", "admitted"), [
    (DestinationFilter(), True),
    (DestinationFilter(event_types=("member_created",)), True),
    (DestinationFilter(event_types=("audit_operation",)), False),
    (DestinationFilter(namespace="acme"), True),
    (DestinationFilter(namespace="acme/website"), True),
    (DestinationFilter(namespace="acme/web"), False),  # a prefix of a name is not a parent
    (DestinationFilter(namespace="acme/platform"), False),
])
def test_filters_admit_what_gitlab_would_have_streamed(rules: DestinationFilter,
                                                      admitted: bool) -> None:
    assert rules.admits(REST_ITEM) is admitted


def test_stream_only_types_are_narrowed_by_the_type_filter() -> None:
    assert "repository_git_operation" in DestinationFilter().stream_only_types()
    assert DestinationFilter(event_types=("member_created",)).stream_only_types() == ()
