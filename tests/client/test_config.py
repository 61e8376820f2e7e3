"""The config file is validated whole at start-up; every error names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditstream.config.app import load_config
from auditstream.config.errors import ConfigError

ENV = {"ACME_TOKEN": "acme-token-0123456789", "NEW_TOKEN": "new-token-0123456789ab"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "auditstream.toml"
    path.write_text(text)
    return path


def test_full_config_is_read(tmp_path: Path) -> None:
    (tmp_path / "globex.token").write_text("globex-token-01234567\n")
    config = load_config(write(tmp_path, """
[receiver]
listen = "0.0.0.0:9000"
max_body_bytes = 2048
body_timeout_seconds = 2.5
idle_timeout_seconds = 75
[[receiver.destinations]]
name = "acme"
instance = "gitlab.example.com"
token_env = ["ACME_TOKEN", "NEW_TOKEN"]
[[receiver.destinations]]
name = "globex"
token_file = "globex.token"
path = "/globex"
content_hash_dedup = true
[journal]
path = "var/journal.db"
dedup_window_days = 10
retention_days = 1
"""), ENV)
    receiver = config.receiver
    assert receiver is not None
    assert (receiver.host, receiver.port, receiver.max_body_bytes) == ("0.0.0.0", 9000, 2048)
    assert (receiver.body_timeout_seconds, receiver.idle_timeout_seconds) == (2.5, 75.0)
    acme, globex = receiver.destinations
    assert [t.reveal() for t in acme.tokens] == [ENV["ACME_TOKEN"], ENV["NEW_TOKEN"]]
    assert (acme.instance, acme.path) == ("gitlab.example.com", None)
    assert [t.reveal() for t in globex.tokens] == ["globex-token-01234567"]
    assert (globex.instance, globex.path, globex.content_hash_dedup) == (
        "default", "/globex", True)
    assert config.journal.path == tmp_path / "var/journal.db"
    assert config.journal.dedup_window_seconds == 10 * 86400


def test_tokens_never_show_in_reprs(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[[receiver.destinations]]\nname = "a"\n'
                                         'token_env = "ACME_TOKEN"\n'), ENV)
    assert ENV["ACME_TOKEN"] not in repr(config)


@pytest.mark.parametrize(("text", "message"), [
    ("[receiver]\nlisten = 8080\n", "receiver.listen: must be a non-empty string"),
    ('[receiver]\nlisten = "localhost"\n', "receiver.listen: expected HOST:PORT"),
    ("[receiver]\n", "receiver.destinations: [receiver] needs at least one"),
    ('[[receiver.destinations]]\nname = "a"\n', "receiver.destinations[0].token_env: a "
                                                "destination needs token_env or token_file"),
    ('[[receiver.destinations]]\nname = "a"\ntoken_env = "UNSET_VAR"\n',
     "receiver.destinations[0].token_env: environment variable UNSET_VAR is not set"),
    ('[[receiver.destinations]]\nname = "a"\ntoken_file = "missing.token"\n',
     "receiver.destinations[0].token_file: cannot read token file"),
    ('[[receiver.destinations]]\ntoken_env = "ACME_TOKEN"\n',
     "receiver.destinations[0].name: is required"),
    ('[[receiver.destinations]]\nname = "a"\ntoken_env = "ACME_TOKEN"\npath = "acme"\n',
     "receiver.destinations[0].path: must start with '/'"),
    ('[[receiver.destinations]]\nname = "a"\ntoken_env = "ACME_TOKEN"\n'
     '[[receiver.destinations]]\nname = "a"\ntoken_env = "NEW_TOKEN"\n',
     "destination name 'a' is used twice"),
    ('[[receiver.destinations]]\nname = "a"\ntoken_env = "ACME_TOKEN"\n'
     '[[receiver.destinations]]\nname = "b"\ntoken_env = "ACME_TOKEN"\n',
     "two destinations share a token"),
    ('[[receiver.destinations]]\nname = "a"\ntoken_env = "ACME_TOKEN"\ntoken = "inline"\n',
     "receiver.destinations[0].token: unknown key"),
    ('[[receiver.destinations]]\nname = "a"\ntoken_env = "ACME_TOKEN"\n'
     '[journal]\nretention_days = -1\n', "journal.retention_days: must be a non-negative"),
    ('[[receiver.destinations]]\nname = "a"\ntoken_env = "ACME_TOKEN"\n'
     '[journal]\nbackend = "postgres"\n',
     "journal.backend: must be one of sqlite, redis, got 'postgres'"),
    ('[receiver]\nbody_timeout_seconds = 0\n[[receiver.destinations]]\nname = "a"\n'
     'token_env = "ACME_TOKEN"\n',
     "receiver.body_timeout_seconds: must be a number more than 0, got 0"),
    ('[receiver]\nbody_timeout_seconds = "soon"\n[[receiver.destinations]]\nname = "a"\n'
     'token_env = "ACME_TOKEN"\n',
     "receiver.body_timeout_seconds: must be a number more than 0, got 'soon'"),
    ('[receiver]\nidle_timeout_seconds = 0\n[[receiver.destinations]]\nname = "a"\n'
     'token_env = "ACME_TOKEN"\n',
     "receiver.idle_timeout_seconds: must be a number more than 0, got 0"),
    ("[receiver\n", "not valid TOML"),
    ("[surprise]\n", "surprise: unknown key"),
])
def test_bad_config_names_the_key_and_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read config file .*nope\.toml"):
        load_config(tmp_path / "nope.toml", ENV)


FILE_SINK = '[[sinks]]\nname = "archive"\ntype = "file"\npath = "out.jsonl"\n'


def test_relay_sends_two_requests_per_sink_at_once_unless_told(tmp_path: Path) -> None:
    default = load_config(write(tmp_path, FILE_SINK), ENV).relay
    one = load_config(write(tmp_path, "[relay]\nmax_requests_in_flight = 1\n" + FILE_SINK),
                      ENV).relay
    assert default is not None
    assert one is not None
    assert (default.max_requests_in_flight, one.max_requests_in_flight) == (2, 1)


@pytest.mark.parametrize("value", ["0", "-1", "1.5", '"2"', "true"])
def test_max_requests_in_flight_below_one_or_not_whole_is_refused_by_name(
        tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"[relay]\nmax_requests_in_flight = {value}\n" + FILE_SINK)
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    assert str(caught.value).startswith(str(path))
    assert "relay.max_requests_in_flight: must be a whole number of at least 1" in str(
        caught.value)


def test_a_sink_s_format_raw_data_and_cim_fields_are_read(tmp_path: Path) -> None:
    text = ('[[sinks]]\nname = "splunk"\nurl = "https://splunk.example.com:8088"\n'
            'token_env = "ACME_TOKEN"\nformat = "ocsf"\nraw_data = false\ncim_fields = true\n'
            '[[sinks]]\nname = "archive"\ntype = "file"\npath = "o.jsonl"\nformat = "ocsf"\n'
            '[[sinks]]\nname = "raw"\ntype = "file"\npath = "r.jsonl"\n')
    relay = load_config(write(tmp_path, text), ENV).relay
    assert relay is not None
    hec, archive, raw = (sink.envelope for sink in relay.sinks)
    assert (hec.format, hec.raw_data, hec.cim_fields, hec.bare, hec.sourcetype) == (
        "ocsf", False, True, False, "gitlab:audit:ocsf")
    assert (archive.format, archive.bare, archive.raw_data) == ("ocsf", True, True)
    assert (raw.format, raw.bare, raw.cim_fields, raw.sourcetype) == (
        "raw", False, False, "gitlab:audit")


@pytest.mark.parametrize(("extra", "message"), [
    ('format = "ecs"\n', "sinks[0].format: must be one of raw, ocsf, got 'ecs'"),
    ('format = "ocsf"\ncim_fields = true\n', "sinks[0].cim_fields: a file sink with format"),
])
def test_a_bad_format_setting_is_refused_by_name(tmp_path: Path, extra: str,
                                                 message: str) -> None:
    path = write(tmp_path, FILE_SINK + extra)
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    assert message in str(caught.value)
