"""Continuous reconcile: the windows it takes, its state across restarts, its failures."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from auditstream.client.audit_events import AuditScope
from auditstream.journal import Journal
from auditstream.reconcile.config import ReconcileSettings
from auditstream.reconcile.continuous import reconcile_periodically
from auditstream.reconcile.metrics import ReconcileMetrics
from auditstream.reconcile.schedule import Schedule, next_window
from auditstream.reconcile.state import LEGACY_STATE_FILE, read_state_file, take_in_state_file
from auditstream.reconcile.uptime import assume_live, gaps
from auditstream.server.gitlab import RunningGitLab

pytestmark = pytest.mark.timeout(60)
DAY = 86400.0
SCHEDULE = Schedule(every_seconds=600, overlap_seconds=300)


def test_a_pass_starts_where_the_last_one_ended_less_the_overlap() -> None:
    window = next_window(SCHEDULE, done_until=10_000.0, now=10_600.0, dedup_window_seconds=DAY)
    assert (window.since, window.until, window.clipped) == (9_700.0, 10_600.0, False)


def test_the_first_pass_looks_back_one_period_and_the_overlap() -> None:
    window = next_window(SCHEDULE, done_until=None, now=10_000.0, dedup_window_seconds=DAY)
    assert window.since == 10_000.0 - 900


def test_a_pass_never_looks_back_past_the_dedup_window() -> None:
    now = 100 * DAY
    window = next_window(SCHEDULE, done_until=now - 40 * DAY, now=now,
                         dedup_window_seconds=30 * DAY)
    assert window.clipped
    assert now - 30 * DAY < window.since < now - 29 * DAY


async def test_an_old_state_file_is_taken_into_the_journal_once(tmp_path: Path,
                                                                journal: Journal) -> None:
    old = tmp_path / LEGACY_STATE_FILE
    old.write_text('{"siem": {"done_until": 500.0}, "other": {"done_until": 10}}')
    await journal.record_reconcile_progress("siem", 700.0)  # already further: kept
    await take_in_state_file(old, journal)
    assert not old.exists()
    assert (await journal.reconcile_progress("siem"), await journal.reconcile_progress(
        "other")) == (700.0, 10.0)
    await take_in_state_file(old, journal)  # nothing left to take: nothing happens


def test_a_torn_state_file_means_looking_back_further(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text("{half")
    assert read_state_file(tmp_path / "s.json") == {}




class Stop(Exception):
    pass


async def test_passes_add_what_appears_and_a_restart_continues_from_the_journals_progress(
        gitlab: RunningGitLab, journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ReconcileSettings(destination="siem", instance="gl", gitlab_url=gitlab.url,
                                 scope=AuditScope("group", "acme"), token_env="GL",
                                 schedule=SCHEDULE)
    registry = CollectorRegistry()
    metrics = ReconcileMetrics.create(registry)
    passes: list[int] = []

    async def sleep(seconds: float) -> None:
        assert seconds == 600
        passes.append(1)
        if len(passes) == 2:
            raise Stop
        await gitlab.make_activity(5, event_types=("member_created",), on=("acme",))

    monkeypatch.setenv("GL", gitlab.token_for("owner"))
    await gitlab.make_activity(3, event_types=("member_created",), on=("acme/website",))
    with pytest.raises(Stop):
        await reconcile_periodically(settings, journal, DAY, metrics, holder="here",
                                     sleep=sleep)
    assert await journal.reconcile_progress("siem") is not None
    ids = {e.event_id for e in await journal.read("any", 100, after=0)}
    assert ids == {e.key for e in gitlab.events.stored}  # both passes' events, once each
    text = generate_latest(registry).decode()
    assert 'auditstream_reconcile_events_total{destination="siem",outcome="added"} 8.0' in text
    # A restart without the token: two failed passes, counted, the progress unchanged.
    monkeypatch.delenv("GL")
    before = await journal.reconcile_progress("siem")
    passes.clear()
    with pytest.raises(Stop):
        await reconcile_periodically(settings, journal, DAY, metrics, holder="here",
                                     sleep=sleep)
    assert await journal.reconcile_progress("siem") == before
    assert metrics.errors == {"siem": 2}


async def test_receivers_sharing_a_journal_reconcile_a_destination_one_at_a_time(
        gitlab: RunningGitLab, journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ReconcileSettings(destination="siem", instance="gl", gitlab_url=gitlab.url,
                                 scope=AuditScope("group", "acme"), token_env="GL",
                                 schedule=SCHEDULE)
    monkeypatch.setenv("GL", gitlab.token_for("owner"))
    await gitlab.make_activity(3, event_types=("member_created",), on=("acme/website",))
    first, second = ReconcileMetrics(), ReconcileMetrics()

    async def one_pass(seconds: float) -> None:
        raise Stop

    with pytest.raises(Stop):
        await reconcile_periodically(settings, journal, DAY, first, holder="a",
                                     sleep=one_pass)
    assert first.events[("siem", "found")] == 3
    with pytest.raises(Stop):  # within "a"'s turn: "b" runs no pass (none passed or failed)
        await reconcile_periodically(settings, journal, DAY, second, holder="b",
                                     sleep=one_pass)
    assert (second.events, second.errors) == ({}, {})
    # ... but its gauge shows what "a" did: an alert on it means nobody reconciles.
    assert second.last_success["siem"] == await journal.reconcile_progress("siem")
    # "a" stopped: once its turn is over, "b" takes it.
    later = time.time() + 2 * SCHEDULE.every_seconds + 1
    with pytest.raises(Stop):
        await reconcile_periodically(settings, journal, DAY, second, holder="b",
                                     clock=lambda: later, sleep=one_pass)
    assert second.events[("siem", "found")] == 3


def test_gaps_are_what_no_receivers_uptime_covers() -> None:
    spans = [(100.0, 200.0), (150.0, 260.0), (400.0, 500.0)]
    assert gaps(spans, 0.0, 600.0) == [(0.0, 100.0), (260.0, 400.0), (500.0, 600.0)]
    assert gaps(spans, 120.0, 250.0) == []
    assert gaps([], 10.0, 20.0) == [(10.0, 20.0)]
    assert gaps([(0.0, 10.0), (10.5, 20.0)], 0.0, 20.0) == [(10.0, 10.5)]  # a fast restart


def test_a_receiver_heard_from_lately_is_listening_until_now() -> None:
    now = 10_000.0
    spans = [(0.0, now - 20, False), (0.0, now - 600, False), (0.0, now - 20, True)]
    assert assume_live(spans, now) == [(0.0, now), (0.0, now - 600), (0.0, now - 20)]
