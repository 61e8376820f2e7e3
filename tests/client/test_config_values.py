"""Each kind of value is read one way, with its bounds: a value out of bounds is refused with
the file, the key, what was given and what is allowed (never clamped, never truncated)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditstream.cli import run as run_module
from auditstream.config.app import AppConfig, load_config
from auditstream.config.errors import ConfigError
from auditstream.config.section import Section
from auditstream.receiver.config import DEFAULT_INSTANCE
from auditstream.relay.config import DEFAULT_MAX_PENDING_ACKS, HecSinkConfig

ENV = {"ACME_TOKEN": "acme-token-0123456789", "NEW_TOKEN": "new-token-0123456789ab",
       "OLD_TOKEN": "old-token-0123456789ab", "HEC_TOKEN": "hec-token-0123456789"}
DESTINATION = '[[receiver.destinations]]\nname = "acme"\ntoken_env = "ACME_TOKEN"\n'
HEC_SINK = ('[[sinks]]\nname = "splunk"\nurl = "https://splunk.example.com:8088"\n'
            'token_env = "HEC_TOKEN"\n')


def refusal(tmp_path: Path, text: str) -> str:
    path = tmp_path / "auditstream.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    return message


def section(**data: Any) -> Section:
    return Section(data, "relay.", Path("/etc/auditstream.toml"), {})


def test_a_whole_number_error_names_file_key_given_and_allowed() -> None:
    with pytest.raises(ConfigError) as caught:
        section(gzip_level=10).whole_number("gzip_level", 1, minimum=0, maximum=9)
    assert str(caught.value) == ("/etc/auditstream.toml: relay.gzip_level: must be a whole "
                                 "number from 0 to 9, got 10")


def test_an_absent_whole_number_is_its_default() -> None:
    assert section().whole_number("max_pending_acks", DEFAULT_MAX_PENDING_ACKS) == (
        DEFAULT_MAX_PENDING_ACKS)


@pytest.mark.parametrize(("table", "key"), [
    ("receiver", "max_body_bytes"), ("receiver", "retry_after_seconds"),
    ("relay", "max_pending_acks"), ("journal", "max_size_bytes"),
])
def test_one_and_a_half_is_refused_where_it_was_truncated(tmp_path: Path, table: str,
                                                          key: str) -> None:
    text = f"[{table}]\n{key} = 1.5\n" + DESTINATION
    assert f"{table}.{key}: must be a whole number" in refusal(tmp_path, text)
    assert "got 1.5" in refusal(tmp_path, text)


@pytest.mark.parametrize("key", ["batch_max_events", "batch_max_bytes"])
def test_a_batch_limit_of_zero_is_refused_where_it_was_raised_to_one(tmp_path: Path,
                                                                     key: str) -> None:
    message = refusal(tmp_path, HEC_SINK + f"{key} = 0\n")
    assert f"sinks[0].{key}: must be a whole number of at least 1, got 0" in message


def test_max_pending_acks_of_zero_is_refused_where_it_was_raised_to_one(tmp_path: Path) -> None:
    message = refusal(tmp_path, "[relay]\nmax_pending_acks = 0\n" + HEC_SINK)
    assert "relay.max_pending_acks: must be a whole number of at least 1, got 0" in message


def test_a_gzip_level_outside_zero_to_nine_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path, HEC_SINK + "gzip_level = 10\n")
    assert "sinks[0].gzip_level: must be a whole number from 0 to 9, got 10" in message


def test_a_gzip_level_inside_its_bounds_is_read(tmp_path: Path) -> None:
    path = tmp_path / "auditstream.toml"
    path.write_text(HEC_SINK + "gzip_level = 9\n")
    relay = load_config(path, ENV).relay
    assert relay is not None
    sink = relay.sinks[0]
    assert isinstance(sink, HecSinkConfig)
    assert sink.gzip_level == 9


def test_retry_after_seconds_may_be_zero(tmp_path: Path) -> None:
    path = tmp_path / "auditstream.toml"
    path.write_text("[receiver]\nretry_after_seconds = 0\n" + DESTINATION)
    receiver = load_config(path, ENV).receiver
    assert receiver is not None
    assert receiver.retry_after_seconds == 0


def test_a_third_token_is_refused_with_the_count(tmp_path: Path) -> None:
    text = ('[[receiver.destinations]]\nname = "acme"\n'
            'token_env = ["ACME_TOKEN", "NEW_TOKEN", "OLD_TOKEN"]\n')
    message = refusal(tmp_path, text)
    assert ("receiver.destinations[0].token_env: a destination needs token_env or token_file: "
            "one or two in all, got 3") in message


def test_a_third_token_on_the_command_line_is_refused_as_in_the_file(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(run_module.receive, [
        "--token-env", "ACME_TOKEN", "--token-env", "NEW_TOKEN", "--token-env", "OLD_TOKEN"])
    assert result.exit_code == 2
    assert "--token-env/--token-file: a destination: one or two in all, got 3" in result.output


def served_config(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[AppConfig, str]:
    """The config ``receive`` would serve with these options, and what it said on stderr."""
    served: list[AppConfig] = []
    monkeypatch.setenv("ACME_TOKEN", ENV["ACME_TOKEN"])
    monkeypatch.setattr(run_module, "_serve", lambda config, **_: served.append(config))
    result = CliRunner().invoke(run_module.receive, ["--token-env", "ACME_TOKEN", *args])
    assert result.exit_code == 0, result.output
    return served[0], result.stderr


def test_gitlab_instance_names_the_dedup_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    config, stderr = served_config(monkeypatch, "--gitlab-instance", "gitlab.example.com")
    assert config.receiver is not None
    assert config.receiver.destinations[0].instance == "gitlab.example.com"
    assert stderr == ""


def test_the_old_instance_option_still_works_and_warns_on_stderr(
        monkeypatch: pytest.MonkeyPatch) -> None:
    config, stderr = served_config(monkeypatch, "--instance", "gitlab.example.com")
    assert config.receiver is not None
    assert config.receiver.destinations[0].instance == "gitlab.example.com"
    assert "--instance is deprecated" in stderr
    assert "--gitlab-instance" in stderr


def test_the_old_instance_option_is_hidden_from_the_help() -> None:
    result = CliRunner().invoke(run_module.receive, ["--help"])
    assert "--gitlab-instance NAME" in result.output
    assert "--instance " not in result.output


def test_without_an_instance_option_the_scope_is_the_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    config, _ = served_config(monkeypatch)
    assert config.receiver is not None
    assert config.receiver.destinations[0].instance == DEFAULT_INSTANCE


CANARY = '[canary]\ngitlab_url = "https://gitlab.example.com"\ngroup = "acme"\n'


def test_a_canary_without_a_token_is_refused_with_the_count(tmp_path: Path) -> None:
    message = refusal(tmp_path, DESTINATION + CANARY)
    assert "canary.token_env: the canary" in message
    assert "exactly one in all, got 0" in message


def test_an_unknown_choice_is_refused_with_the_choices(tmp_path: Path) -> None:
    message = refusal(tmp_path, DESTINATION + CANARY + 'token_env = "NEW_TOKEN"\napi = "v5"\n')
    assert "canary.api: must be one of auto, legacy, consolidated, got 'v5'" in message


def test_a_sink_of_an_unknown_type_is_refused_with_the_types(tmp_path: Path) -> None:
    message = refusal(tmp_path, '[[sinks]]\nname = "s"\ntype = "kafka"\n')
    assert "sinks[0].type: must be one of hec, file, got 'kafka'" in message
