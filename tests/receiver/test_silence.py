"""Knowing that GitLab still streams: silence per destination and token drift per path,
decided by pure functions and shown by a real receiver (log line, metrics, GET /status)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import aiohttp
import orjson
import pytest

from auditstream.config.app import load_config
from auditstream.config.errors import ConfigError
from auditstream.journal import IncomingEvent, Journal
from auditstream.receiver.silence import (
    DriftWindow,
    after_refusal,
    fix_command,
    is_drifting,
    is_silent,
)
from tests.conftest import (
    OTHER_TOKEN,
    TOKEN,
    ReceiverUnderTest,
    StartReceiver,
    destination,
    receiver_config,
)
from tests.helpers.bodies import gitlab_body, gitlab_headers
from tests.waiting import eventually

WRONG = "wrong-token-0123456789ab"


# --- the decisions ---------------------------------------------------------------------------

def test_a_destination_is_silent_only_past_its_expectation() -> None:
    assert not is_silent(100.0, 95.0, 0.0, 10.0)
    assert is_silent(100.0, 89.0, 0.0, 10.0)
    assert not is_silent(100.0, None, 95.0, 10.0)  # never received: counted from the start
    assert is_silent(100.0, None, 80.0, 10.0)
    assert not is_silent(1e9, 0.0, 0.0, None)  # no expectation, no alarm


def test_a_last_event_older_than_the_start_still_counts() -> None:
    # A receiver restarted during a silence: its journal says when the last event came.
    assert is_silent(100.0, 10.0, 99.0, 30.0)


def test_drift_needs_several_refusals_within_the_interval() -> None:
    window = None
    for now in (0.0, 1.0):
        window = after_refusal(window, now, 60.0, None)
    assert not is_drifting(window, 3, None)
    window = after_refusal(window, 2.0, 60.0, None)
    assert is_drifting(window, 3, None)
    assert after_refusal(window, 100.0, 60.0, None) == DriftWindow(100.0, 1)


def test_drift_clears_once_the_path_accepts_an_event() -> None:
    window = DriftWindow(10.0, 5)
    assert not is_drifting(window, 3, 11.0)
    assert after_refusal(window, 12.0, 60.0, 11.0) == DriftWindow(12.0, 1)


def test_the_fix_names_the_group_the_gitlab_and_the_config() -> None:
    acme = replace(destination("acme"), gitlab_scope="group:acme", instance="gitlab.example.com")
    assert fix_command((acme,), "/etc/auditstream.toml") == (
        "auditstream destinations sync --group acme --gitlab-url https://gitlab.example.com "
        "--config /etc/auditstream.toml")
    assert "--instance" in fix_command((replace(acme, gitlab_scope="instance"),), "c.toml")
    assert "--group PATH" in fix_command((destination(),), None)


# --- the config ------------------------------------------------------------------------------

def write_config(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "token").write_text(TOKEN)
    path = tmp_path / "auditstream.toml"
    path.write_text(f'[receiver]\n[[receiver.destinations]]\nname = "acme"\n'
                    f'token_file = "token"\n{extra}\n')
    return path


@pytest.mark.parametrize(("given", "seconds"), [("90", 90.0), ('"30m"', 1800.0),
                                                ('"2h"', 7200.0), ("0.5", 0.5)])
def test_expect_event_within_takes_seconds_or_a_unit(tmp_path: Path, given: str,
                                                     seconds: float) -> None:
    config = load_config(write_config(tmp_path, f"expect_event_within = {given}"))
    assert config.receiver is not None
    assert config.receiver.destinations[0].expect_event_within_seconds == seconds


@pytest.mark.parametrize("given", ['"soon"', "0", '"-5m"', "true"])
def test_a_bad_expect_event_within_names_the_key(tmp_path: Path, given: str) -> None:
    with pytest.raises(ConfigError, match=r"destinations\[0\]\.expect_event_within"):
        load_config(write_config(tmp_path, f"expect_event_within = {given}"))


# --- a real receiver -------------------------------------------------------------------------

async def status_of(receiver: ReceiverUnderTest) -> dict[str, object]:
    async with aiohttp.ClientSession() as http, http.get(receiver.url + "/status") as response:
        assert response.status == 200
        answer: dict[str, object] = await response.json()
        return answer


async def metrics_of(receiver: ReceiverUnderTest) -> str:
    async with aiohttp.ClientSession() as http, http.get(receiver.url + "/metrics") as response:
        return await response.text()


async def send(receiver: ReceiverUnderTest, event_id: int, token: str, path: str = "/") -> int:
    async with aiohttp.ClientSession() as http, http.post(
            receiver.url + path, data=gitlab_body(event_id),
            headers=gitlab_headers(token)) as response:
        return response.status


async def test_a_quiet_destination_is_reported_silent_and_a_busy_one_is_not(
        start_receiver_on_journal: StartReceiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "auditstream.receiver")
    quiet = replace(destination("quiet", path="/quiet"), expect_event_within_seconds=1.0)
    busy = replace(destination("busy", OTHER_TOKEN, path="/busy"),
                   expect_event_within_seconds=1.0)
    receiver = await start_receiver_on_journal(receiver_config(quiet, busy))
    sent = iter(range(1, 10_000))

    async def busy_and_quiet_reported() -> bool:
        assert await send(receiver, next(sent), OTHER_TOKEN, "/busy") == 200
        return (await status_of(receiver))["silent"] == ["quiet"]

    await eventually(busy_and_quiet_reported, within=10)
    status = await status_of(receiver)
    destinations = status["destinations"]
    assert isinstance(destinations, dict)
    assert destinations["busy"]["silent"] is False
    assert destinations["busy"]["last_event_at"] is not None
    assert status["status"] == "attention"

    def silent_warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
                and "is silent" in r.getMessage()]

    # The periodic check logs it; /status decides at once.
    await eventually(lambda: bool(silent_warnings()))
    warnings = silent_warnings()
    assert len(warnings) == 1
    assert "'quiet'" in warnings[0]
    assert "circuit breaker" in warnings[0]
    assert "licence" in warnings[0]
    metrics = await metrics_of(receiver)
    assert 'auditstream_receiver_destination_silent{destination="quiet"} 1.0' in metrics
    assert 'auditstream_receiver_destination_silent{destination="busy"} 0.0' in metrics
    assert 'auditstream_receiver_last_event_timestamp_seconds{destination="busy"}' in metrics
    # Silence is no reason to take the receiver out of its load balancer.
    async with aiohttp.ClientSession() as http, http.get(receiver.url + "/readyz") as response:
        assert response.status == 200
        ready = await response.json()
    assert ready["destinations"]["quiet"]["silent"] is True
    # It receives again: the state clears, and the log says so.
    assert await send(receiver, next(sent), TOKEN, "/quiet") == 200

    async def cleared() -> bool:
        return (await status_of(receiver))["silent"] == []

    await eventually(cleared)
    await eventually(lambda: any("receives events again" in r.getMessage()
                                 for r in caplog.records))


async def test_a_receiver_restarted_during_a_silence_alarms_from_the_journals_last_event(
        journal: Journal, start_receiver_on_journal: StartReceiver) -> None:
    long_ago = 1_000_000.0
    await journal.append([IncomingEvent("default", "1", ("id:1",), "acme", long_ago,
                                        b'{"id": 1}', "audit_operation", None, None, None)])
    acme = replace(destination("acme"), expect_event_within_seconds=3600.0)
    receiver = await start_receiver_on_journal(receiver_config(acme))

    async def silent() -> bool:
        return (await status_of(receiver))["silent"] == ["acme"]

    await eventually(silent)
    destinations = (await status_of(receiver))["destinations"]
    assert isinstance(destinations, dict)
    assert destinations["acme"]["last_event_at"] == long_ago


async def test_unknown_tokens_on_a_destination_path_are_token_drift_until_it_accepts_again(
        start_receiver_on_journal: StartReceiver, caplog: pytest.LogCaptureFixture) -> None:
    acme = replace(destination("acme", path="/acme"), gitlab_scope="group:acme")
    config = receiver_config(acme, token_drift_refusals=3, token_drift_interval_seconds=60.0,
                             config_path="/etc/auditstream.toml")
    receiver = await start_receiver_on_journal(config)
    for event_id in range(1, 6):
        assert await send(receiver, event_id, WRONG, "/acme") == 401
    assert await send(receiver, 9, WRONG, "/probe/../etc") == 401
    status = await status_of(receiver)
    drift = status["token_drift"]
    assert isinstance(drift, dict)
    assert list(drift) == ["/acme"]
    assert drift["/acme"]["destinations"] == ["acme"]
    assert drift["/acme"]["refusals"] == 5
    lines = [r.getMessage() for r in caplog.records if "token drift" in r.getMessage()]
    assert len(lines) == 1, lines  # once per interval
    assert "auditstream destinations sync --group acme --config /etc/auditstream.toml" \
        in lines[0]
    metrics = await metrics_of(receiver)
    assert 'auditstream_receiver_refusals_total{path="/acme",reason="wrong_token"} 5.0' \
        in metrics
    assert 'auditstream_receiver_refusals_total{path="other",reason="wrong_token"} 1.0' \
        in metrics
    assert 'auditstream_receiver_token_drift{path="/acme"} 1.0' in metrics
    assert await send(receiver, 10, TOKEN, "/acme") == 200
    assert (await status_of(receiver))["token_drift"] == {}
    assert 'auditstream_receiver_token_drift{path="/acme"} 0.0' in await metrics_of(receiver)
    assert not any(WRONG in r.getMessage() or TOKEN in r.getMessage()
                   or WRONG in str(r.__dict__) or TOKEN in str(r.__dict__)
                   for r in caplog.records)


async def test_a_missing_token_is_counted_but_is_no_drift(
        start_receiver_on_journal: StartReceiver) -> None:
    receiver = await start_receiver_on_journal(receiver_config(
        destination("acme", path="/acme"), token_drift_refusals=1))
    async with aiohttp.ClientSession() as http, http.post(
            receiver.url + "/acme", data=orjson.dumps({"id": 1}),
            headers=gitlab_headers(None)) as response:
        assert response.status == 401
    status = await status_of(receiver)
    assert status["token_drift"] == {}
    assert status["refusals"] == [{"path": "/acme", "reason": "missing_token", "count": 1}]


def test_token_drift_settings_are_read_and_checked(tmp_path: Path) -> None:
    path = write_config(tmp_path, "")
    path.write_text(path.read_text().replace(
        "[receiver]\n", '[receiver]\ntoken_drift_refusals = 5\ntoken_drift_interval = "2m"\n'))
    config = load_config(path)
    assert config.receiver is not None
    assert (config.receiver.token_drift_refusals,
            config.receiver.token_drift_interval_seconds) == (5, 120.0)
    assert config.receiver.config_path == str(path)
    path.write_text(path.read_text().replace('"2m"', '"often"'))
    with pytest.raises(ConfigError, match="token_drift_interval"):
        load_config(path)


async def test_drift_on_a_destination_without_a_path_is_reported_under_other(
        start_receiver_on_journal: StartReceiver, caplog: pytest.LogCaptureFixture) -> None:
    receiver = await start_receiver_on_journal(receiver_config(
        destination("acme"), token_drift_refusals=2))
    for event_id, path in ((1, "/"), (2, "/anything")):
        assert await send(receiver, event_id, WRONG, path) == 401
    drift = (await status_of(receiver))["token_drift"]
    assert isinstance(drift, dict)
    assert drift["other"]["destinations"] == ["acme"]
    assert any("token drift on path other (destination 'acme')" in r.getMessage()
               for r in caplog.records)
