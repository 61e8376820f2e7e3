"""Pure parts of the GitLab client: global ids, masking, and writing the receiver's config."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from auditstream.client.ids import GROUP_DESTINATION, BadId, short_id, to_gid
from auditstream.client.models import Destination, mask
from auditstream.config.app import load_config
from auditstream.config.errors import ConfigError
from auditstream.config.write import (
    receiver_path,
    remove_destination,
    sync_destinations,
    write_destination,
)


def test_numbers_and_gids_both_become_gids() -> None:
    gid = f"gid://gitlab/{GROUP_DESTINATION}/12"
    assert to_gid(12, GROUP_DESTINATION) == gid
    assert to_gid(" 12 ", GROUP_DESTINATION) == gid
    assert to_gid(gid, GROUP_DESTINATION) == gid
    assert short_id(gid) == "12"


@pytest.mark.parametrize("value", ["abc", "gid://gitlab/AuditEvents::Streaming::Header/3", "-1"])
def test_wrong_ids_are_refused_with_a_reason(value: str) -> None:
    with pytest.raises(BadId):
        to_gid(value, GROUP_DESTINATION)


def test_tokens_are_masked_to_their_last_four_characters() -> None:
    assert mask("4aX9jT2pQw8ZrM6vKb1cYd3e") == "****Yd3e"
    assert mask("short") == "****"


def destination(number: int, name: str, url: str = "https://receiver.example.com/acme",
                token: str = "tok-0123456789abcdef") -> Destination:
    return Destination(id=f"gid://gitlab/{GROUP_DESTINATION}/{number}", name=name, url=url,
                       verification_token=token, event_type_filters=(), headers=(),
                       scope="group:acme")


def test_receiver_path_comes_from_the_destination_url() -> None:
    assert receiver_path("https://r.example.com/acme/") == "/acme"
    assert receiver_path("https://r.example.com") is None
    assert receiver_path("https://r.example.com/") is None


def test_written_destination_is_a_valid_receiver_config_with_a_private_token_file(
        tmp_path: Path) -> None:
    config = tmp_path / "auditstream.toml"
    token_file = write_destination(config, destination(7, "Acme SIEM"), "gitlab.example.com")
    loaded = load_config(config, {})
    assert loaded.receiver is not None
    [entry] = loaded.receiver.destinations
    assert (entry.name, entry.instance, entry.path) == ("Acme SIEM", "gitlab.example.com",
                                                        "/acme")
    assert [t.reveal() for t in entry.tokens] == ["tok-0123456789abcdef"]
    assert "tok-0123456789abcdef" not in config.read_text()
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600


def test_a_new_config_file_listens_where_gitlab_can_reach_it_and_names_the_journal(
        tmp_path: Path) -> None:
    config = tmp_path / "auditstream.toml"
    write_destination(config, destination(7, "acme"), "gitlab.example.com")
    loaded = load_config(config, {})
    assert loaded.receiver is not None
    assert (loaded.receiver.host, loaded.receiver.port) == ("0.0.0.0", 8080)
    assert loaded.journal.path == tmp_path / "auditstream.db"
    text = config.read_text()
    before_listen = text.split("listen =", 1)[0].splitlines()[-1]
    before_journal = text.split("[journal]", 1)[1].splitlines()[1]
    assert before_listen.startswith("#")
    assert before_journal.startswith("#")


def test_a_new_config_file_listens_on_the_port_the_destination_url_names(
        tmp_path: Path) -> None:
    config = tmp_path / "auditstream.toml"
    report = sync_destinations(config, [destination(1, "a", "https://r.example.com:9443/a")],
                               "group:acme", "gitlab.example.com")
    assert report.added == ("a",)
    loaded = load_config(config, {})
    assert loaded.receiver is not None
    assert (loaded.receiver.host, loaded.receiver.port) == ("0.0.0.0", 9443)


def test_an_existing_config_file_keeps_its_own_listen_and_journal(tmp_path: Path) -> None:
    config = tmp_path / "auditstream.toml"
    config.write_text('[receiver]\nlisten = "127.0.0.1:9000"\n')
    write_destination(config, destination(7, "acme"), "gitlab.example.com")
    loaded = load_config(config, {})
    assert loaded.receiver is not None
    assert (loaded.receiver.host, loaded.receiver.port) == ("127.0.0.1", 9000)
    assert "[journal]" not in config.read_text()


def test_writing_keeps_the_users_comments_and_settings(tmp_path: Path) -> None:
    config = tmp_path / "auditstream.toml"
    config.write_text('# our receiver\n[receiver]\nlisten = "0.0.0.0:9000"  # behind nginx\n')
    write_destination(config, destination(1, "a"), "gitlab.com")
    text = config.read_text()
    assert "# our receiver" in text
    assert 'listen = "0.0.0.0:9000"  # behind nginx' in text


def test_a_hand_written_destination_of_the_same_name_is_not_overwritten(
        tmp_path: Path) -> None:
    config = tmp_path / "auditstream.toml"
    config.write_text('[[receiver.destinations]]\nname = "a"\ntoken_env = "X"\n')
    with pytest.raises(ConfigError, match="already configured by hand"):
        write_destination(config, destination(1, "a"), "gitlab.com")


def test_sync_adds_refreshes_and_removes_only_its_own_scope(tmp_path: Path) -> None:
    config = tmp_path / "auditstream.toml"
    config.write_text('[[receiver.destinations]]\nname = "manual"\ntoken_env = "X"\n')
    write_destination(config, destination(1, "old"), "gitlab.com")
    write_destination(config, destination(2, "kept", token="tok-before-0123456789"), "gitlab.com")
    report = sync_destinations(config, [destination(2, "kept", token="tok-after-01234567890"),
                                        destination(3, "new")], "group:acme", "gitlab.com")
    assert (report.added, report.updated, report.removed) == (("new",), ("kept",), ("old",))
    loaded = load_config(config, {"X": "manual-token-0123456789"})
    assert loaded.receiver is not None
    by_name = {d.name: d for d in loaded.receiver.destinations}
    assert sorted(by_name) == ["kept", "manual", "new"]
    assert by_name["kept"].tokens[0].reveal() == "tok-after-01234567890"
    assert not list((tmp_path / "tokens").glob("old-*"))


def test_remove_drops_the_entry_and_its_token_file(tmp_path: Path) -> None:
    config = tmp_path / "auditstream.toml"
    token_file = write_destination(config, destination(4, "gone"), "gitlab.com")
    assert remove_destination(config, f"gid://gitlab/{GROUP_DESTINATION}/4")
    assert not token_file.exists()
    assert not remove_destination(config, f"gid://gitlab/{GROUP_DESTINATION}/4")
