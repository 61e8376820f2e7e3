"""What reconcile needs of a destination: written by --write-config and sync, read from the
file with errors that name the key, the GitLab token read only when reconcile runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditstream.client.audit_events import AuditScope
from auditstream.config.app import load_config
from auditstream.config.errors import ConfigError
from auditstream.config.write import sync_destinations, write_destination
from auditstream.reconcile.errors import NotConfigured
from tests.client.test_gitlab_ids_and_config_write import destination

ENV = {"STREAM": "stream-token-0123456789"}


def write(tmp_path: Path, extra: str) -> Path:
    config = tmp_path / "auditstream.toml"
    config.write_text('[[receiver.destinations]]\nname = "siem"\ntoken_env = "STREAM"\n'
                      + extra)
    return config


def test_write_config_fills_in_what_reconcile_needs_and_no_secret(tmp_path: Path) -> None:
    config = tmp_path / "auditstream.toml"
    write_destination(config, destination(7, "siem"), "gitlab.example.com",
                      "https://gitlab.example.com")
    text = config.read_text()
    assert 'gitlab_url = "https://gitlab.example.com"' in text
    assert 'group = "acme"' in text
    assert 'gitlab_token_env = "GITLAB_TOKEN"' in text
    [settings] = load_config(config, {}).reconcile  # starts without GITLAB_TOKEN set
    target = settings.target({"GITLAB_TOKEN": "glpat-secret-000000"})
    assert (target.destination, target.instance, target.scope, target.gitlab_url) == (
        "siem", "gitlab.example.com", AuditScope("group", "acme"), "https://gitlab.example.com")
    assert target.token.reveal() == "glpat-secret-000000"
    assert target.destination_id == destination(7, "siem").id


def test_sync_keeps_a_users_gitlab_token_file(tmp_path: Path) -> None:
    config = tmp_path / "auditstream.toml"
    write_destination(config, destination(1, "siem"), "gl", "https://gl.example")
    config.write_text(config.read_text().replace('gitlab_token_env = "GITLAB_TOKEN"',
                                                 'gitlab_token_file = "gl.token"'))
    sync_destinations(config, [destination(1, "siem")], "group:acme", "gl",
                      "https://gl.example")
    text = config.read_text()
    assert 'gitlab_token_file = "gl.token"' in text
    assert "gitlab_token_env" not in text


@pytest.mark.parametrize(("extra", "scope"), [
    ('group = "acme"', AuditScope("group", "acme")),
    ('project = "acme/website"', AuditScope("project", "acme/website")),
    ("instance_events = true", AuditScope("instance")),
    ('gitlab_scope = "group:acme"', AuditScope("group", "acme")),
])
def test_what_a_destination_streams_is_read_from_one_key(tmp_path: Path, extra: str,
                                                         scope: AuditScope) -> None:
    [settings] = load_config(write(tmp_path, extra), ENV).reconcile
    assert settings.scope == scope


@pytest.mark.parametrize(("extra", "words"), [
    ('group = "acme"\nproject = "acme/x"', "give one of group, project"),
    ('gitlab_url = "gitlab.example.com"', "gitlab_url: expected an http"),
    ('gitlab_token_env = "A"\ngitlab_token_file = "b"', "give one of gitlab_token_env"),
    ('gitlab_token = "glpat-inline"', "gitlab_token: unknown key"),
])
def test_bad_reconcile_keys_are_refused_naming_them(tmp_path: Path, extra: str,
                                                    words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_config(write(tmp_path, extra), ENV)


@pytest.mark.parametrize(("extra", "words"), [
    ('group = "acme"\ngitlab_token_env = "GL"', "gitlab_url: reconcile needs"),
    ('gitlab_url = "https://gl.example"\ngitlab_token_env = "GL"', "group: reconcile needs"),
    ('gitlab_url = "https://gl.example"\ngroup = "acme"', "gitlab_token_env: reconcile needs"),
    ('gitlab_url = "https://gl.example"\ngroup = "acme"\ngitlab_token_env = "GL"',
     "GL is not set"),
    ('gitlab_url = "https://gl.example"\ngroup = "acme"\ngitlab_token_file = "none"',
     "cannot read"),
])
def test_what_reconcile_lacks_is_named_when_it_runs(tmp_path: Path, extra: str,
                                                   words: str) -> None:
    [settings] = load_config(write(tmp_path, extra), ENV).reconcile
    with pytest.raises(NotConfigured, match=words):
        settings.target(ENV)


def test_continuous_reconcile_is_opt_in_per_destination(tmp_path: Path) -> None:
    [off] = load_config(write(tmp_path, 'group = "acme"'), ENV).reconcile
    assert off.schedule is None
    [on] = load_config(write(tmp_path, "reconcile_every_minutes = 5\n"
                                       "reconcile_overlap_minutes = 2"), ENV).reconcile
    assert on.schedule is not None
    assert (on.schedule.every_seconds, on.schedule.overlap_seconds) == (300, 120)
    with pytest.raises(ConfigError, match="reconcile_every_minutes: must be a number more than 0"):
        load_config(write(tmp_path, "reconcile_every_minutes = 0"), ENV)
    with pytest.raises(ConfigError, match="only with reconcile_every_minutes"):
        load_config(write(tmp_path, "reconcile_overlap_minutes = 2"), ENV)
