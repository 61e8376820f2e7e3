"""The receiver over real HTTP on an ephemeral port, with a real SQLite journal behind it."""

from __future__ import annotations

import asyncio
import gzip
import random
import sqlite3
from collections.abc import AsyncIterator

import aiohttp
import pytest

from auditstream.journal.sqlite import SqliteJournal
from auditstream.receiver.config import DEFAULT_MAX_CONNECTIONS_PER_CLIENT
from tests.conftest import (
    OTHER_TOKEN,
    TOKEN,
    ReceiverUnderTest,
    StartReceiver,
    destination,
    receiver_config,
)
from tests.helpers.bodies import gitlab_body, gitlab_headers
from tests.helpers.http import post


async def stored_ids(receiver: ReceiverUnderTest) -> list[str]:
    return [event.event_id for event in await receiver.journal.tail(100_000)]


async def test_valid_event_is_accepted_and_stored_byte_for_byte(
        receiver: ReceiverUnderTest, http: aiohttp.ClientSession) -> None:
    body = gitlab_body(1)
    status, answer, _ = await post(http, receiver.url + "/", body, gitlab_headers(TOKEN))
    assert (status, answer) == (200, {"accepted": 1, "duplicates": 0})
    [stored] = await receiver.journal.tail(10)
    assert stored.body == body
    assert (stored.event_id, stored.destination, stored.event_type) == (
        "1", "default", "audit_operation")


async def test_same_id_again_is_a_duplicate_stored_once(
        receiver: ReceiverUnderTest, http: aiohttp.ClientSession) -> None:
    await post(http, receiver.url, gitlab_body(1), gitlab_headers(TOKEN))
    status, answer, _ = await post(http, receiver.url, gitlab_body(1), gitlab_headers(TOKEN))
    assert (status, answer) == (200, {"accepted": 0, "duplicates": 1})
    assert await stored_ids(receiver) == ["1"]


async def test_same_id_under_another_gitlab_instance_is_stored(
        start_receiver_on_journal: StartReceiver, http: aiohttp.ClientSession) -> None:
    receiver = await start_receiver_on_journal(receiver_config(
        destination("one", TOKEN, instance="gitlab-one"),
        destination("two", OTHER_TOKEN, instance="gitlab-two")))
    for token in (TOKEN, OTHER_TOKEN):
        status, answer, _ = await post(http, receiver.url, gitlab_body(9), gitlab_headers(token))
        assert (status, answer) == (200, {"accepted": 1, "duplicates": 0})
    stored = await receiver.journal.tail(10)
    assert [(e.instance, e.event_id, e.destination) for e in stored] == [
        ("gitlab-one", "9", "one"), ("gitlab-two", "9", "two")]


@pytest.mark.parametrize("token", [None, "", "wrong-token-0123456789", TOKEN[:-1], TOKEN + "x"])
async def test_missing_or_wrong_token_is_refused_with_401_and_nothing_stored(
        receiver: ReceiverUnderTest, http: aiohttp.ClientSession, token: str | None) -> None:
    status, answer, _ = await post(http, receiver.url, gitlab_body(1), gitlab_headers(token))
    assert status == 401
    assert "X-Gitlab-Event-Streaming-Token" in str(answer["error"])
    assert await stored_ids(receiver) == []


async def test_token_bound_to_another_path_is_refused(
        start_receiver_on_journal: StartReceiver, http: aiohttp.ClientSession) -> None:
    receiver = await start_receiver_on_journal(receiver_config(
        destination("acme", TOKEN, path="/acme"),
        destination("globex", OTHER_TOKEN, path="/globex/")))
    assert (await post(http, receiver.url + "/acme", gitlab_body(1),
                       gitlab_headers(TOKEN)))[0] == 200
    assert (await post(http, receiver.url + "/globex", gitlab_body(2),
                       gitlab_headers(TOKEN)))[0] == 401
    assert (await post(http, receiver.url + "/other", gitlab_body(3),
                       gitlab_headers(TOKEN)))[0] == 401
    assert (await post(http, receiver.url + "/globex", gitlab_body(4),
                       gitlab_headers(OTHER_TOKEN)))[0] == 200
    assert await stored_ids(receiver) == ["1", "4"]


async def test_both_tokens_are_accepted_during_a_rotation(
        start_receiver_on_journal: StartReceiver, http: aiohttp.ClientSession) -> None:
    receiver = await start_receiver_on_journal(receiver_config(
        destination("acme", "new-token-0123456789", previous_token="old-token-0123456789")))
    for number, token in enumerate(["old-token-0123456789", "new-token-0123456789"]):
        status, _, _ = await post(http, receiver.url, gitlab_body(number), gitlab_headers(token))
        assert status == 200


@pytest.mark.parametrize(("body", "reason"), [
    (b"", "empty body"),
    (b'{"id": 1,', "malformed JSON"),
    (b"[1, 2]", "event 0: expected a JSON object"),
    (b'"text"', "expected a JSON object"),
    (b'{"event_type": "x"}', "missing id"),
    (b'[{"id": 1}, {"no_id": 2}]', "event 1: missing id"),
])
async def test_bad_body_is_refused_with_400_naming_the_problem_and_nothing_stored(
        receiver: ReceiverUnderTest, http: aiohttp.ClientSession, body: bytes,
        reason: str) -> None:
    status, answer, _ = await post(http, receiver.url, body, gitlab_headers(TOKEN))
    assert status == 400
    assert reason in str(answer["error"])
    assert await stored_ids(receiver) == []


async def test_body_over_the_limit_is_refused_with_413(
        receiver: ReceiverUnderTest, http: aiohttp.ClientSession) -> None:
    big = gitlab_body(1, padding="x" * 70_000)
    status, answer, _ = await post(http, receiver.url, big, gitlab_headers(TOKEN))
    assert status == 413
    assert "limit" in str(answer["error"])


async def test_chunked_body_over_the_limit_is_refused_with_413(
        receiver: ReceiverUnderTest, http: aiohttp.ClientSession) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"id": 1, "padding": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    async with http.post(receiver.url, data=chunks(), headers=gitlab_headers(TOKEN)) as response:
        assert response.status == 413
    assert await stored_ids(receiver) == []


async def test_gzip_body_is_accepted_and_stored_decoded(
        receiver: ReceiverUnderTest, http: aiohttp.ClientSession) -> None:
    body = gitlab_body(5)
    status, _, _ = await post(http, receiver.url, gzip.compress(body),
                              gitlab_headers(TOKEN, **{"Content-Encoding": "gzip"}))
    assert status == 200
    assert [e.body for e in await receiver.journal.tail(10)] == [body]


async def test_gzip_bomb_is_refused_with_413(
        receiver: ReceiverUnderTest, http: aiohttp.ClientSession) -> None:
    bomb = gzip.compress(b'{"id": 1, "x": "' + b"a" * 20_000_000 + b'"}')
    status, _, _ = await post(http, receiver.url, bomb,
                              gitlab_headers(TOKEN, **{"Content-Encoding": "gzip"}))
    assert status == 413


async def test_unknown_content_encoding_is_refused_with_400(
        receiver: ReceiverUnderTest, http: aiohttp.ClientSession) -> None:
    status, answer, _ = await post(http, receiver.url, gitlab_body(1),
                                   gitlab_headers(TOKEN, **{"Content-Encoding": "br"}))
    assert status == 400
    assert "Content-Encoding" in str(answer["error"])


async def test_batched_array_and_ndjson_bodies_store_each_event(
        receiver: ReceiverUnderTest, http: aiohttp.ClientSession) -> None:
    array = b"[" + gitlab_body(1) + b", " + gitlab_body(2) + b"]"
    ndjson = gitlab_body(2) + b"\n" + gitlab_body("c3d4-uuid") + b"\n"
    assert (await post(http, receiver.url, array, gitlab_headers(TOKEN)))[:2] == (
        200, {"accepted": 2, "duplicates": 0})
    assert (await post(http, receiver.url, ndjson, gitlab_headers(TOKEN)))[:2] == (
        200, {"accepted": 1, "duplicates": 1})
    stored = await receiver.journal.tail(10)
    assert [e.body for e in stored] == [gitlab_body(1), gitlab_body(2), gitlab_body("c3d4-uuid")]


async def test_content_hash_option_catches_a_resend_with_a_fresh_uuid(
        start_receiver_on_journal: StartReceiver, http: aiohttp.ClientSession) -> None:
    receiver = await start_receiver_on_journal(receiver_config(
        destination("acme", TOKEN, content_hash_dedup=True)))
    first = gitlab_body("9b1c-first-uuid", event_type="repository_git_operation")
    resent = gitlab_body("77aa-fresh-uuid", event_type="repository_git_operation")
    await post(http, receiver.url, first, gitlab_headers(TOKEN))
    status, answer, _ = await post(http, receiver.url, resent, gitlab_headers(TOKEN))
    assert (status, answer) == (200, {"accepted": 0, "duplicates": 1})


async def test_concurrent_posts_with_repeated_ids_store_exactly_the_distinct_ids(
        receiver: ReceiverUnderTest) -> None:
    rng = random.Random(7)
    distinct = list(range(1, 1601))
    ids = distinct + [rng.choice(distinct) for _ in range(400)]  # 2,000 POSTs, 20% repeats
    rng.shuffle(ids)
    # As many connections at once as one client may hold (max_connections_per_client).
    connector = aiohttp.TCPConnector(limit=DEFAULT_MAX_CONNECTIONS_PER_CLIENT)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=60)) as session:
        answers = await asyncio.gather(*(post(session, receiver.url, gitlab_body(i),
                                              gitlab_headers(TOKEN)) for i in ids))
    assert {status for status, _, _ in answers} == {200}
    assert sum(int(str(a["accepted"])) for _, a, _ in answers) == len(distinct)
    assert sum(int(str(a["duplicates"])) for _, a, _ in answers) == 400
    assert sorted(map(int, await stored_ids(receiver))) == distinct


async def test_unwritable_journal_answers_503_with_retry_after_then_recovers(
        start_receiver_on_sqlite: StartReceiver, sqlite_journal: SqliteJournal,
        http: aiohttp.ClientSession) -> None:
    receiver = await start_receiver_on_sqlite(receiver_config())
    blocker = sqlite3.connect(sqlite_journal.path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
        status, answer, headers = await post(http, receiver.url, gitlab_body(1),
                                             gitlab_headers(TOKEN))
        assert (status, headers["Retry-After"]) == (503, "7")
        assert "journal" in str(answer["error"])
        for path in ("/readyz", "/readyz/receiver"):  # the balancer's too: it cannot take
            async with http.get(receiver.url + path) as response:
                assert response.status == 503
                assert (await response.json())["components"]["journal"]["ok"] is False
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    status, answer, _ = await post(http, receiver.url, gitlab_body(1), gitlab_headers(TOKEN))
    assert (status, answer) == (200, {"accepted": 1, "duplicates": 0})
    async with http.get(receiver.url + "/readyz") as response:
        assert response.status == 200


async def test_health_and_metrics_endpoints_answer(
        receiver: ReceiverUnderTest, http: aiohttp.ClientSession) -> None:
    await post(http, receiver.url, gitlab_body(1), gitlab_headers(TOKEN))
    await post(http, receiver.url, gitlab_body(1), gitlab_headers(TOKEN))
    await post(http, receiver.url, gitlab_body(2), gitlab_headers("bad-token-0123456789"))
    async with http.get(receiver.url + "/healthz") as response:
        assert (response.status, await response.json()) == (200, {"status": "alive"})
    async with http.get(receiver.url + "/readyz") as response:
        assert response.status == 200
    async with http.get(receiver.url + "/metrics") as response:
        text = await response.text()
    assert 'auditstream_receiver_requests_total{outcome="ok"} 2.0' in text
    assert 'auditstream_receiver_requests_total{outcome="unauthorized"} 1.0' in text
    assert ('auditstream_receiver_events_total{destination="default",outcome="accepted"} 1.0'
            in text)
    assert ('auditstream_receiver_events_total{destination="default",outcome="duplicate"} 1.0'
            in text)
    assert "auditstream_receiver_append_seconds_count 2.0" in text


async def test_other_methods_get_a_json_error(
        receiver: ReceiverUnderTest, http: aiohttp.ClientSession) -> None:
    async with http.get(receiver.url + "/events") as response:
        assert response.status == 405
        assert "error" in await response.json()
    async with http.put(receiver.url + "/", data=b"{}") as response:
        assert (response.status, response.headers.get("Allow")) == (405, "POST")
        assert "error" in await response.json()
