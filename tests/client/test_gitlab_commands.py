"""The destinations/headers/filters commands as a user runs them, against server/gitlab."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditstream.server.gitlab import RunningGitLab, running_gitlab
from tests.helpers.ports import port_of
from tests.processes import run_cli, serve_held


@pytest.fixture
async def gitlab() -> AsyncIterator[RunningGitLab]:
    async with running_gitlab() as running:
        yield running


async def cli(gitlab: RunningGitLab, *args: str, user: str = "owner",
              token: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run one command in a thread: the stand-in in this loop must stay free to answer."""
    env = {"GITLAB_URL": gitlab.url, "GITLAB_TOKEN": token or gitlab.token_for(user)}
    return await asyncio.to_thread(run_cli, *args, env=env)


async def create(gitlab: RunningGitLab, url: str, *extra: str) -> dict[str, object]:
    result = await cli(gitlab, "destinations", "create", "--group", "acme", "--url", url,
                       "--output", "json", *extra)
    assert result.returncode == 0, result.stderr
    [created] = orjson.loads(result.stdout)
    assert isinstance(created, dict)
    return created


async def test_create_then_list_in_table_and_json(gitlab: RunningGitLab) -> None:
    created = await create(gitlab, "https://siem.example.com/acme", "--name", "SIEM")
    assert str(created["verification_token"]).startswith("****")
    table = await cli(gitlab, "destinations", "list", "--group", "acme")
    assert table.returncode == 0, table.stderr
    assert "SIEM" in table.stdout
    assert "https://siem.example.com/acme" in table.stdout
    shown = await cli(gitlab, "destinations", "list", "--group", "acme", "--output", "json",
                      "--show-token")
    [listed] = orjson.loads(shown.stdout)
    assert len(listed["verification_token"]) == 24  # GitLab's generated base58 token
    assert listed["verification_token"] not in table.stdout


async def test_list_follows_every_page(gitlab: RunningGitLab) -> None:
    for number in range(5):
        await create(gitlab, f"https://siem.example.com/{number}", "--name", f"d{number}")
    result = await cli(gitlab, "destinations", "list", "--group", "acme", "--output", "json",
                       "--page-size", "2")
    assert result.returncode == 0, result.stderr
    assert sorted(d["name"] for d in orjson.loads(result.stdout)) == [f"d{n}" for n in range(5)]


async def test_update_and_delete_a_destination_by_its_number(gitlab: RunningGitLab) -> None:
    created = await create(gitlab, "https://siem.example.com/a")
    number = str(created["id"]).rsplit("/", 1)[1]
    updated = await cli(gitlab, "destinations", "update", number, "--group", "acme",
                        "--name", "renamed", "--output", "json")
    assert updated.returncode == 0, updated.stderr
    assert orjson.loads(updated.stdout)[0]["name"] == "renamed"
    deleted = await cli(gitlab, "destinations", "delete", number, "--group", "acme")
    assert deleted.returncode == 0, deleted.stderr
    listed = await cli(gitlab, "destinations", "list", "--group", "acme")
    assert "no streaming destinations" in listed.stdout


async def test_headers_add_list_update_delete(gitlab: RunningGitLab) -> None:
    created = await create(gitlab, "https://siem.example.com/h")
    destination = str(created["id"])
    added = await cli(gitlab, "headers", "add", destination, "X-Env", "prod", "--group", "acme")
    assert added.returncode == 0, added.stderr
    header = added.stdout.split()[2].rstrip(":")
    listed = await cli(gitlab, "headers", "list", destination, "--group", "acme",
                       "--output", "json")
    assert orjson.loads(listed.stdout)[0]["key"] == "X-Env"
    updated = await cli(gitlab, "headers", "update", header, "X-Env", "staging",
                        "--group", "acme")
    assert updated.returncode == 0, updated.stderr
    deleted = await cli(gitlab, "headers", "delete", header, "--group", "acme")
    assert deleted.returncode == 0, deleted.stderr
    assert "no headers" in (await cli(gitlab, "headers", "list", destination,
                                      "--group", "acme")).stdout


async def test_event_type_filters_add_and_remove(gitlab: RunningGitLab) -> None:
    destination = str((await create(gitlab, "https://siem.example.com/f"))["id"])
    added = await cli(gitlab, "filters", "add", destination, "--group", "acme",
                      "--event-type", "repository_git_operation", "--event-type", "user_created")
    assert added.returncode == 0, added.stderr
    assert "repository_git_operation" in added.stdout
    removed = await cli(gitlab, "filters", "remove", destination, "--group", "acme",
                        "--event-type", "user_created")
    assert removed.returncode == 0, removed.stderr
    listed = await cli(gitlab, "destinations", "list", "--group", "acme", "--output", "json")
    assert orjson.loads(listed.stdout)[0]["event_type_filters"] == ["repository_git_operation"]


async def test_namespace_filter_is_shown_by_filters_list_and_destinations_list(
        gitlab: RunningGitLab) -> None:
    destination = str((await create(gitlab, "https://siem.example.com/n", "--name", "n"))["id"])
    number = destination.rsplit("/", 1)[1]
    added = await cli(gitlab, "filters", "add", number, "--group", "acme",
                      "--namespace", "acme/platform", "--event-type", "user_created")
    assert added.returncode == 0, added.stderr
    assert "acme/platform" in added.stdout
    listed = await cli(gitlab, "filters", "list", "--group", "acme", "--output", "json")
    assert orjson.loads(listed.stdout) == [{"id": destination, "name": "n",
                                            "event_type_filters": ["user_created"],
                                            "namespace_filter": "acme/platform"}]
    one = await cli(gitlab, "filters", "list", number, "--group", "acme")
    assert "acme/platform" in one.stdout
    assert "user_created" in one.stdout
    as_json = await cli(gitlab, "destinations", "list", "--group", "acme", "--output", "json")
    assert orjson.loads(as_json.stdout)[0]["namespace_filter"] == "acme/platform"
    table = await cli(gitlab, "destinations", "list", "--group", "acme")
    assert "namespace" in table.stdout.splitlines()[0]
    assert "acme/platform" in table.stdout
    removed = await cli(gitlab, "filters", "remove", number, "--group", "acme", "--namespace",
                        "--output", "json")
    assert removed.returncode == 0, removed.stderr
    assert orjson.loads(removed.stdout)[0]["namespace_filter"] is None


async def test_filters_list_names_an_unknown_destination(gitlab: RunningGitLab) -> None:
    result = await cli(gitlab, "filters", "list", "999", "--group", "acme")
    assert result.returncode == 1
    assert "no destination 999 in group acme" in result.stderr
    assert "Traceback" not in result.stderr


async def test_every_command_that_reports_something_takes_output_json(
        gitlab: RunningGitLab, tmp_path: Path) -> None:
    destination = str((await create(gitlab, "https://siem.example.com/j", "--name", "j"))["id"])

    async def json_of(*args: str) -> Any:
        result = await cli(gitlab, *args, "--group", "acme", "--output", "json")
        assert result.returncode == 0, result.stderr
        return orjson.loads(result.stdout)

    header = await json_of("headers", "add", destination, "X-Env", "prod")
    assert isinstance(header, dict)
    assert (header["key"], header["value"]) == ("X-Env", "prod")
    updated = await json_of("headers", "update", str(header["id"]), "X-Env", "staging")
    assert updated == {**header, "value": "staging"}
    assert await json_of("headers", "delete", str(header["id"])) == {"deleted": header["id"]}
    [filtered] = await json_of("filters", "add", destination, "--event-type", "user_created")
    assert filtered["event_type_filters"] == ["user_created"]
    [unfiltered] = await json_of("filters", "remove", destination, "--event-type",
                                 "user_created")
    assert unfiltered["event_type_filters"] == []
    config = tmp_path / "auditstream.toml"
    synced = await json_of("destinations", "sync", "--config", str(config))
    assert 'listen = "0.0.0.0:8080"' in config.read_text()
    assert synced == {"config": str(config), "added": ["j"], "refreshed": [], "removed": []}
    deleted = await json_of("destinations", "delete", destination, "--write-config",
                            str(config))
    assert deleted == {"deleted": destination, "removed_from_config": str(config)}


async def test_write_config_says_where_a_new_file_makes_the_receiver_listen(
        gitlab: RunningGitLab, tmp_path: Path) -> None:
    config = tmp_path / "auditstream.toml"
    result = await cli(gitlab, "destinations", "create", "--group", "acme", "--url",
                       "https://audit.example.com:8443/acme", "--write-config", str(config))
    assert result.returncode == 0, result.stderr
    assert "will listen on 0.0.0.0:8443" in result.stderr
    assert "auditstream.db" in result.stderr
    assert 'listen = "0.0.0.0:8443"' in config.read_text()


async def test_permission_failure_says_which_role_is_needed(gitlab: RunningGitLab) -> None:
    result = await cli(gitlab, "destinations", "create", "--group", "acme", "--url",
                       "https://siem.example.com/x", user="maintainer")
    assert result.returncode == 1
    assert "don't have permission" in result.stderr
    assert "Owner role" in result.stderr
    assert "Traceback" not in result.stderr


async def test_validation_failure_shows_gitlabs_message(gitlab: RunningGitLab) -> None:
    await create(gitlab, "https://siem.example.com/same")
    result = await cli(gitlab, "destinations", "create", "--group", "acme", "--url",
                       "https://siem.example.com/same")
    assert result.returncode == 1
    assert "Destination url has already been taken" in result.stderr


async def test_subgroup_is_refused_with_gitlabs_message(gitlab: RunningGitLab) -> None:
    result = await cli(gitlab, "destinations", "create", "--group", "acme/platform", "--url",
                       "https://siem.example.com/sub")
    assert result.returncode == 1
    assert "GitLab:" in result.stderr


async def test_wrong_access_token_is_named(gitlab: RunningGitLab) -> None:
    result = await cli(gitlab, "destinations", "list", "--group", "acme",
                       token="glpat-nobody-has-this-0000")
    assert result.returncode == 1
    assert "refused the access token" in result.stderr


async def test_unknown_group_is_a_clear_error(gitlab: RunningGitLab) -> None:
    result = await cli(gitlab, "destinations", "list", "--group", "no-such-group")
    assert result.returncode == 1
    assert "Group 'no-such-group' does not exist" in result.stderr


async def test_malformed_id_is_a_usage_error(gitlab: RunningGitLab) -> None:
    result = await cli(gitlab, "destinations", "delete", "not-an-id", "--group", "acme")
    assert result.returncode == 2
    assert "not an id" in result.stderr


def test_unreachable_gitlab_is_a_clear_error() -> None:
    result = run_cli("destinations", "list", "--group", "acme", "--gitlab-url",
                     "http://127.0.0.1:9", "--token", "x")
    assert result.returncode == 1
    assert "cannot reach http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def test_group_or_instance_is_required() -> None:
    result = run_cli("destinations", "list", "--token", "x")
    assert result.returncode == 2
    assert "--group PATH or --instance" in result.stderr


async def test_instance_destinations_need_an_administrator(gitlab: RunningGitLab) -> None:
    refused = await cli(gitlab, "destinations", "list", "--instance")
    assert refused.returncode == 1
    assert "administrator" in refused.stderr
    created = await cli(gitlab, "destinations", "create", "--instance", "--url",
                        "https://siem.example.com/all", "--output", "json", user="admin")
    assert created.returncode == 0, created.stderr
    listed = await cli(gitlab, "destinations", "list", "--instance", "--output", "json",
                       user="admin")
    assert [d["url"] for d in orjson.loads(listed.stdout)] == ["https://siem.example.com/all"]


async def test_created_destination_written_to_config_receives_gitlabs_events(
        gitlab: RunningGitLab, tmp_path: Path, held_listener: socket.socket) -> None:
    port = port_of(held_listener)
    url = f"http://127.0.0.1:{port}/acme"
    config = tmp_path / "auditstream.toml"
    config.write_text(f'[receiver]\nlisten = "127.0.0.1:{port}"\n[journal]\npath = "j.db"\n')
    await create(gitlab, url, "--name", "acme-siem", "--write-config", str(config))
    receiver = await asyncio.to_thread(serve_held, held_listener, "receive", "--config",
                                       str(config))
    try:
        await gitlab.make_activity(3, event_types=("member_created",), on=("acme/website",))
        await gitlab.settle()
        delivered = [d for d in gitlab.deliveries.to(url) if d.result == "delivered"]
        assert len(delivered) == 3
        assert await asyncio.to_thread(receiver.terminate) == 0
    finally:
        await asyncio.to_thread(receiver.kill)
    stats = await asyncio.to_thread(run_cli, "journal", "stats", "--journal",
                                    str(tmp_path / "j.db"), "--output", "json")
    assert orjson.loads(stats.stdout)["events"] == 3
    assert "acme-siem" in config.read_text()


async def test_sync_brings_the_receiver_config_in_line_with_gitlab(
        gitlab: RunningGitLab, tmp_path: Path) -> None:
    config = tmp_path / "auditstream.toml"
    kept = await create(gitlab, "https://receiver.example.com/kept", "--name", "kept")
    await create(gitlab, "https://receiver.example.com/gone", "--name", "gone")
    await create(gitlab, "https://elsewhere.example.com/x", "--name", "not-ours")
    first = await cli(gitlab, "destinations", "sync", "--group", "acme", "--config", str(config),
                      "--receiver-url", "https://receiver.example.com/")
    assert first.returncode == 0, first.stderr
    assert "2 added, 0 refreshed, 0 removed" in first.stdout
    listed = orjson.loads((await cli(gitlab, "destinations", "list", "--group", "acme",
                                     "--output", "json")).stdout)
    gone = next(d["id"] for d in listed if d["name"] == "gone")
    assert (await cli(gitlab, "destinations", "delete", gone, "--group", "acme")).returncode == 0
    second = await cli(gitlab, "destinations", "sync", "--group", "acme", "--config",
                       str(config), "--receiver-url", "https://receiver.example.com/")
    assert "0 added, 1 refreshed, 1 removed" in second.stdout
    text = config.read_text()
    assert 'name = "kept"' in text
    assert "gone" not in text
    assert "not-ours" not in text
    assert str(kept["id"]) in text


async def test_sync_takes_only_destinations_of_this_receivers_origin_and_path(
        gitlab: RunningGitLab, tmp_path: Path) -> None:
    config = tmp_path / "auditstream.toml"
    await create(gitlab, "https://receiver.example.com/acme/x", "--name", "ours")
    await create(gitlab, "https://receiver.example.com/acme-other", "--name", "sibling-path")
    await create(gitlab, "https://receiver.example.com.evil.net/acme", "--name", "look-alike")
    result = await cli(gitlab, "destinations", "sync", "--group", "acme", "--config",
                       str(config), "--receiver-url", "https://receiver.example.com/acme")
    assert result.returncode == 0, result.stderr
    assert "1 added, 0 refreshed, 0 removed" in result.stdout
    assert "added: ours" in result.stdout


def test_sync_with_a_receiver_url_that_is_no_url_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("destinations", "sync", "--group", "acme", "--config",
                     str(tmp_path / "a.toml"), "--receiver-url", "receiver.example.com",
                     "--gitlab-url", "http://127.0.0.1:9", "--token", "x")
    assert result.returncode == 2
    assert "is not an http(s) URL with a host" in result.stderr
    assert "Traceback" not in result.stderr
