"""``auditstream journal stats|tail``: read-only views of a real journal file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from auditstream.journal import IncomingEvent, JournalConfig
from auditstream.journal.sqlite import SqliteJournal
from tests.processes import run_cli

BODY = b'{"id":1,"event_type":"user_created","entity_path":"acme"}'


def make_journal(path: Path) -> None:
    async def fill() -> None:
        journal = await SqliteJournal.open(JournalConfig(path=path))
        try:
            events = [IncomingEvent(instance="default", event_id=str(i), dedup_keys=(f"id:{i}",),
                                    destination="acme", received_at=1_700_000_000.0 + i,
                                    body=BODY.replace(b'"id":1', b'"id":%d' % i),
                                    event_type="user_created") for i in (1, 2, 3, 2)]
            await journal.append(events)
            await journal.ack("hec", 1)
        finally:
            await journal.close()

    asyncio.run(fill())


def test_stats_as_json_counts_events_duplicates_and_backlog(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    make_journal(path)
    result = run_cli("journal", "stats", "--journal", str(path), "--output", "json")
    assert result.returncode == 0, result.stderr
    stats = orjson.loads(result.stdout)
    assert (stats["events"], stats["duplicates_refused"], stats["dead_letters"]) == (3, 1, 0)
    assert stats["sinks"] == [{"sink": "hec", "cursor": 1, "backlog": 2, "pending": None}]


def test_stats_show_an_id_collision_between_destinations(tmp_path: Path) -> None:
    path = tmp_path / "j.db"

    async def fill() -> None:
        journal = await SqliteJournal.open(JournalConfig(path=path))
        try:
            await journal.append([
                IncomingEvent("default", "5000", ("id:5000",), name, 1.0, body)
                for name, body in (("forger", b'{"id":5000}'), ("acme", BODY))])
        finally:
            await journal.close()

    asyncio.run(fill())
    result = run_cli("journal", "stats", "--journal", str(path), "--output", "json")
    assert result.returncode == 0, result.stderr
    stats = orjson.loads(result.stdout)
    assert (stats["events"], stats["duplicates_refused"], stats["collisions"]) == (2, 0, 1)
    table = run_cli("journal", "stats", "--journal", str(path))
    assert "collisions" in table.stdout


def test_stats_as_a_table_for_people(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    make_journal(path)
    result = run_cli("journal", "stats", "--journal", str(path))
    assert result.returncode == 0, result.stderr
    assert "duplicates refused" in result.stdout
    assert "hec" in result.stdout


def test_tail_shows_the_latest_events_with_their_original_body(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    make_journal(path)
    result = run_cli("journal", "tail", "--journal", str(path), "-n", "2", "--output", "json")
    assert result.returncode == 0, result.stderr
    events = orjson.loads(result.stdout)
    assert [e["event_id"] for e in events] == ["2", "3"]
    assert events[1]["body_text"] == BODY.replace(b'"id":1', b'"id":3').decode()
    text = run_cli("journal", "tail", "--journal", str(path), "-n", "1")
    assert '"id":3' in text.stdout


def test_missing_journal_is_an_error_not_a_new_file(tmp_path: Path) -> None:
    result = run_cli("journal", "stats", "--journal", str(tmp_path / "none.db"))
    assert result.returncode == 1
    assert "no journal at" in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_a_file_that_is_not_a_journal_is_named(tmp_path: Path) -> None:
    other = tmp_path / "notes.db"
    other.write_text("hello")
    result = run_cli("journal", "tail", "--journal", str(other))
    assert result.returncode == 1
    assert "not an auditstream journal" in result.stderr
    assert "Traceback" not in result.stderr


def test_tail_in_ocsf_shows_what_an_ocsf_sink_would_get(tmp_path: Path) -> None:
    from tests.relay.ocsf_schema import validate

    path = tmp_path / "j.db"
    make_journal(path)
    result = run_cli("journal", "tail", "--journal", str(path), "--format", "ocsf",
                     "--output", "json")
    assert result.returncode == 0, result.stderr
    events = orjson.loads(result.stdout)
    assert [e["metadata"]["original_event_uid"] for e in events] == ["1", "2", "3"]
    for event in events:
        validate(event)
        # No user in these bodies: Account Change cannot name one, so API Activity it is.
        assert (event["class_name"], event["activity_name"]) == ("API Activity", "Create")
    text = run_cli("journal", "tail", "--journal", str(path), "--format", "ocsf", "-n", "1")
    assert text.returncode == 0, text.stderr
    assert '"class_uid":6003' in text.stdout
