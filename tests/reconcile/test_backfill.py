"""Backfill against the GitLab stand-in on 127.0.0.1 and a real SQLite journal: the whole
tree, pages, a 429 mid-listing, the 30-day windows, a token without the role, filters, and
one copy whichever of stream and backfill comes first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from auditstream.client.audit_events import AuditScope
from auditstream.client.errors import PermissionDenied
from auditstream.client.legacy import LegacyStreamingApi
from auditstream.client.rest import RestSession
from auditstream.client.session import GitLabSession
from auditstream.common.secrets import Secret
from auditstream.journal import AppendOutcome, IncomingEvent, Journal
from auditstream.reconcile.backfill import BackfillReport, backfill
from auditstream.reconcile.config import ReconcileTarget
from auditstream.reconcile.gitlab_filters import filters_from_gitlab
from auditstream.reconcile.select import DestinationFilter
from auditstream.server.gitlab import AuditEvent, RunningGitLab

pytestmark = pytest.mark.timeout(60)

TREE = ("acme", "acme/platform", "acme/website", "acme/platform/api")
TYPES = ("member_created", "audit_operation", "repository_git_operation")
HOUR = timedelta(hours=1)




def target(gitlab: RunningGitLab, user: str = "owner", scope: AuditScope | None = None,
           destination_id: str | None = None) -> ReconcileTarget:
    return ReconcileTarget(destination="siem", instance="gl", gitlab_url=gitlab.url,
                           scope=scope or AuditScope("group", "acme"),
                           token=Secret(gitlab.token_for(user)), destination_id=destination_id)


def stored_in(gitlab: RunningGitLab, prefix: str = "acme") -> set[str]:
    return {e.key for e in gitlab.events.stored
            if e.entity.path == prefix or e.entity.path.startswith(prefix + "/")}


async def run(gitlab: RunningGitLab, journal: Journal, *, since: timedelta = HOUR,
              rules: DestinationFilter | None = None, session: RestSession | None = None,
              user: str = "owner") -> BackfillReport:
    now = datetime.now(UTC)
    return await backfill(target(gitlab, user), journal, now - since, now + HOUR,
                          rules=rules or DestinationFilter(), session=session)


async def held(journal: Journal) -> list[tuple[str, str]]:
    return [(e.event_id, e.origin) for e in await journal.read("any", 10_000, after=0)]


def as_streamed(event: AuditEvent) -> IncomingEvent:
    """What the receiver appends for an event GitLab streamed."""
    return IncomingEvent(instance="gl", event_id=event.key, dedup_keys=("id:" + event.key,),
                         destination="siem", received_at=1.0,
                         body=orjson.dumps(event.payload()), event_type=event.event_type)


async def test_every_stored_event_of_the_tree_over_several_pages_is_added_once(
        gitlab: RunningGitLab, journal: Journal) -> None:
    await gitlab.make_activity(210, event_types=("member_created",), on=("acme/website",))
    await gitlab.make_activity(60, event_types=TYPES, on=(*TREE, "globex/portal"))
    report = await run(gitlab, journal)
    wanted = stored_in(gitlab)  # acme/website alone has three pages of 100
    assert sorted(i for i, _ in await held(journal)) == sorted(wanted)
    assert {origin for _, origin in await held(journal)} == {"backfill"}
    assert (report.found, report.added, report.already_held) == (len(wanted), len(wanted), 0)
    assert "repository_git_operation" in report.stream_only_types  # reported, not invented
    again = await run(gitlab, journal)
    assert (again.added, again.already_held) == (0, len(wanted))


async def test_a_429_in_the_middle_is_waited_out_as_retry_after_asks(
        gitlab: RunningGitLab, journal: Journal) -> None:
    await gitlab.make_activity(40, event_types=TYPES, on=TREE)
    gitlab.state.throttle.let_through, gitlab.state.throttle.refuse_next = 4, 2
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    session = RestSession(gitlab.url, gitlab.token_for("owner"), sleep=sleep)
    report = await run(gitlab, journal, session=session)
    assert gitlab.state.throttle.refused == 2
    assert (waits, report.rate_limited) == ([1.0, 1.0], 2)
    assert report.added == len(stored_in(gitlab))


async def test_the_instance_is_listed_30_days_at_a_time_and_an_edge_event_kept_once(
        gitlab: RunningGitLab, journal: Journal) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    since = now - timedelta(days=75)
    moments = iter([since + timedelta(days=30), now - timedelta(days=60),
                    now - timedelta(days=31), now - timedelta(days=2)])
    gitlab.core.clock = lambda: next(moments)
    made = await gitlab.make_activity(4, event_types=("audit_operation",),
                                      on=("acme", "globex"))
    report = await backfill(target(gitlab, "admin", AuditScope("instance")), journal, since,
                            now, rules=DestinationFilter())
    assert report.queries == 3  # 75 days: three windows, none over 30
    assert sorted(i for i, _ in await held(journal)) == sorted(e.key for e in made)


async def test_a_token_without_the_owner_role_is_refused_naming_the_role(
        gitlab: RunningGitLab, journal: Journal) -> None:
    await gitlab.make_activity(3, event_types=("member_created",), on=("acme",))
    with pytest.raises(PermissionDenied, match="Owner role"):
        await run(gitlab, journal, user="maintainer")
    assert await held(journal) == []


@pytest.mark.parametrize("stream_first", [True, False], ids=["stream-first", "backfill-first"])
async def test_an_event_both_streamed_and_backfilled_is_held_once(
        gitlab: RunningGitLab, journal: Journal, stream_first: bool) -> None:
    made = await gitlab.make_activity(6, event_types=("member_created",), on=("acme/website",))
    if stream_first:
        await journal.append([as_streamed(e) for e in made[:3]])
        report = await run(gitlab, journal)
        assert (report.already_held, report.added) == (3, 3)
    else:
        await run(gitlab, journal)
        outcomes = await journal.append([as_streamed(e) for e in made[:3]])
        assert outcomes == [AppendOutcome.DUPLICATE] * 3
    kept = await held(journal)
    assert sorted(i for i, _ in kept) == sorted(e.key for e in made)
    first = "stream" if stream_first else "backfill"
    assert {o for i, o in kept if i in {e.key for e in made[:3]}} == {first}


async def test_dry_run_counts_what_it_would_add_and_appends_nothing(
        gitlab: RunningGitLab, journal: Journal) -> None:
    made = await gitlab.make_activity(4, event_types=("member_created",), on=("acme",))
    await journal.append([as_streamed(made[0])])
    now = datetime.now(UTC)
    report = await backfill(target(gitlab), journal, now - HOUR, now + HOUR,
                            rules=DestinationFilter(), dry_run=True)
    assert (report.found, report.already_held, report.added) == (4, 1, 0)
    assert report.as_json()["would_add"] == 3
    assert len(await held(journal)) == 1


async def test_the_destinations_filters_are_read_from_gitlab_and_respected(
        gitlab: RunningGitLab, journal: Journal) -> None:
    async with GitLabSession(gitlab.url, gitlab.token_for("owner")) as session:
        api = LegacyStreamingApi(session, "acme", 20)
        created = await api.create_destination("http://127.0.0.1:9/siem", "siem", None)
        await api.add_event_types(created.id, ["member_created"])
        await api.set_namespace_filter(created.id, "acme/platform", "group")
    made = await gitlab.make_activity(40, event_types=("member_created", "audit_operation"),
                                      on=TREE)
    rules = await filters_from_gitlab(target(gitlab, destination_id=created.id))
    assert rules == DestinationFilter(("member_created",), "acme/platform")
    report = await run(gitlab, journal, rules=rules)
    wanted = {e.key for e in made if e.event_type == "member_created"
              and e.entity.path.startswith("acme/platform")}
    assert sorted(i for i, _ in await held(journal)) == sorted(wanted)
    assert report.filtered_out == report.found - len(wanted)
    assert report.stream_only_types == ()  # none of the filtered types is stream-only
