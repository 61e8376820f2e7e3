"""The pure core of streaming, without sockets: who receives what, the headers, the plan the
knobs make, and Relay pagination."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from auditstream.server.gitlab import ArgumentError, AuditEvent, Destination, Knobs, Reason
from auditstream.server.gitlab.destinations import Api, Header, NamespaceFilter, Scope
from auditstream.server.gitlab.directory import Directory
from auditstream.server.gitlab.events import Entity, Target, now
from auditstream.server.gitlab.pagination import decode_cursor, encode_cursor, paginate
from auditstream.server.gitlab.seed import DEFAULT_SEED
from auditstream.server.gitlab.streaming import plan, receives, request_headers

DIRECTORY = Directory.from_seed(DEFAULT_SEED)


def event(path: str | None, event_type: str = "audit_operation", *,
          stored: bool = True, number: int = 1) -> AuditEvent:
    user = DIRECTORY.users[1]
    found = DIRECTORY.namespace_by_path(path) if path else None
    entity = Entity.of(found) if found is not None else Entity.instance()
    return AuditEvent(id=number if stored else f"uuid-{number}", event_type=event_type,
                      author=user, entity=entity, target=Target(1, "Project", "x"),
                      created_at=now(), stored=stored)


ACME = Destination(Api.LEGACY, Scope.GROUP, 1, "acme", "http://127.0.0.1:9/a", "t" * 20,
                   group_id=1)
INSTANCE = Destination(Api.LEGACY, Scope.INSTANCE, 1, "all", "http://127.0.0.1:9/i", "i" * 20)


@pytest.mark.parametrize(("path", "acme", "instance"), [
    ("acme", True, True), ("acme/platform", True, True), ("acme/platform/api", True, True),
    ("acme/website", True, True), ("globex", False, True), ("globex/portal", False, True),
    (None, False, True),
])
def test_group_destinations_get_their_tree_and_instance_ones_everything(
        path: str | None, acme: bool, instance: bool) -> None:
    assert receives(ACME, event(path), DIRECTORY) is acme
    assert receives(INSTANCE, event(path), DIRECTORY) is instance


def test_filters_and_the_active_flag_narrow_what_is_received() -> None:
    filtered = replace(ACME, event_type_filters=("member_created",))
    assert not receives(filtered, event("acme"), DIRECTORY)
    assert receives(filtered, event("acme", "member_created"), DIRECTORY)
    platform = DIRECTORY.group_by_path("acme/platform")
    assert platform is not None
    narrowed = replace(ACME, namespace_filters=(NamespaceFilter(1, platform, 1),))
    assert receives(narrowed, event("acme/platform/api"), DIRECTORY)
    assert not receives(narrowed, event("acme/website"), DIRECTORY)
    assert not receives(replace(ACME, active=False), event("acme"), DIRECTORY)


def test_headers_in_gitlabs_order_with_the_default_content_type() -> None:
    destination = replace(ACME, headers=(Header(1, "X-A", "a"), Header(2, "X-B", "b", False)))
    assert request_headers(destination, event("acme", "member_created")) == (
        ("X-Gitlab-Event-Streaming-Token", "t" * 20), ("X-A", "a"),
        ("X-Gitlab-Audit-Event-Type", "member_created"),
        ("Content-Type", "application/x-www-form-urlencoded"))


def test_a_plan_without_knobs_is_one_delivery_per_event_and_receiver() -> None:
    events = [event("acme", number=1), event("globex", number=2)]
    planned = plan(events, [ACME, INSTANCE], DIRECTORY, Knobs(), random.Random(1))
    assert [(p.event.id, p.destination.name, p.reason) for p in planned] == [
        (1, "acme", Reason.EVENT), (1, "all", Reason.EVENT), (2, "all", Reason.EVENT)]
    assert not any(p.dropped for p in planned)


def test_a_seeded_plan_repeats_exactly() -> None:
    events = [event("acme", number=n, stored=n % 2 == 0) for n in range(30)]
    knobs = Knobs(duplicate_rate=0.3, fresh_uuid_rate=0.3, drop_rate=0.2, reorder=True,
                  job_retry_rate=0.2, seed=9)

    def run() -> list[tuple[str, str, int, bool]]:
        planned = plan(events, [ACME, INSTANCE], DIRECTORY, knobs, random.Random(knobs.seed))
        return [(p.destination.name, p.reason.value, p.job_attempt, p.dropped)
                for p in planned]

    first = run()
    assert first == run()
    assert {reason for _, reason, _, _ in first} == {"event", "duplicate", "fresh_uuid",
                                                     "job_retry"}


def test_a_duplicate_of_a_dropped_delivery_is_still_sent() -> None:
    planned = plan([event("acme")], [ACME], DIRECTORY,
                   Knobs(drop_rate=1.0, duplicate_rate=1.0), random.Random(0))
    assert [(p.reason, p.dropped) for p in planned] == [(Reason.EVENT, True),
                                                        (Reason.DUPLICATE, False)]


def test_cursors_look_like_gitlabs_and_round_trip() -> None:
    assert encode_cursor(1) == "eyJpZCI6IjEifQ"
    assert decode_cursor(encode_cursor(1234)) == 1234
    with pytest.raises(ArgumentError):
        decode_cursor("not-a-cursor")


def test_pages_are_capped_at_100_and_say_what_lies_either_side() -> None:
    items = list(range(1, 251))
    page = paginate(items, lambda n: n)
    assert (len(page.edges), page.has_next, page.has_previous) == (100, True, False)
    page = paginate(items, lambda n: n, first=500, after=encode_cursor(200))
    assert [n for _, n in page.edges] == list(range(201, 251))
    assert (page.has_next, page.has_previous) == (False, True)
    page = paginate(items, lambda n: n, last=3)
    assert [n for _, n in page.edges] == [248, 249, 250]
    with pytest.raises(ArgumentError):
        paginate(items, lambda n: n, first=-1)
