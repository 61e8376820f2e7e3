"""What GitLab says is not trusted as a path (issue 21): ids, names and URLs GitLab answers
never write or delete a file outside ``tokens/``, nor leave a config the receiver refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditstream.client.ids import GROUP_DESTINATION, GROUP_HEADER
from auditstream.client.models import Destination
from auditstream.config.app import load_config
from auditstream.config.errors import ConfigError
from auditstream.config.write import (
    remove_destination,
    serves,
    sync_destinations,
    write_destination,
)


def answered(destination_id: str, name: str = "siem",
             url: str = "https://receiver.example.com/acme") -> Destination:
    return Destination(id=destination_id, name=name, url=url,
                       verification_token="tok-0123456789abcdef", event_type_filters=(),
                       headers=(), scope="group:acme")


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("destination_id", [
    "../../escape", "gid://gitlab/AuditEvents::ExternalAuditEventDestination/../../escape",
    f"gid://gitlab/{GROUP_HEADER}/7", "7/../../escape", ""])
def test_a_destination_id_that_is_not_a_destination_gid_writes_nothing(
        tmp_path: Path, destination_id: str) -> None:
    config = tmp_path / "conf" / "auditstream.toml"
    with pytest.raises(ConfigError, match="not a streaming destination's global id"):
        write_destination(config, answered(destination_id), "gitlab.com")
    with pytest.raises(ConfigError, match="not a streaming destination's global id"):
        sync_destinations(config, [answered(destination_id)], "group:acme", "gitlab.com")
    assert files_under(tmp_path) == []


def test_the_token_file_is_named_from_the_gid_number_inside_tokens(tmp_path: Path) -> None:
    config = tmp_path / "auditstream.toml"
    token = write_destination(config, answered(f"gid://gitlab/{GROUP_DESTINATION}/12",
                                               name="../../a/b"), "gitlab.com")
    assert token.parent == (tmp_path / "tokens").resolve()
    assert token.name == "..-..-a-b-12.token"
    assert files_under(tmp_path) == ["auditstream.toml", "tokens/..-..-a-b-12.token"]


def test_removing_an_entry_never_deletes_a_file_outside_tokens(tmp_path: Path) -> None:
    config = tmp_path / "auditstream.toml"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (tmp_path / "tokens").mkdir()  # as after any destination written
    gid = f"gid://gitlab/{GROUP_DESTINATION}/4"
    config.write_text(f'[[receiver.destinations]]\nname = "x"\ntoken_file = '
                      f'"tokens/../victim.txt"\ngitlab_destination_id = "{gid}"\n')
    assert remove_destination(config, gid)
    assert victim.read_text() == "keep me\n"
    assert "victim" not in config.read_text()


@pytest.mark.parametrize(("destination_url", "ours"), [
    ("https://receiver.example.com/acme", True),
    ("https://receiver.example.com/acme/", True),
    ("https://receiver.example.com/acme/sub", True),
    ("https://RECEIVER.example.com:443/acme", True),
    ("https://receiver.example.com/acme-other", False),
    ("https://receiver.example.com.evil.net/acme", False),
    ("https://receiver.example.com:8443/acme", False),
    ("http://receiver.example.com/acme", False),
    ("https://receiver.example.com@evil.net/acme", False),
    ("https://receiver.example.com/", False),
    ("not a url", False),
    ("https://receiver.example.com:99999/acme", False),
])
def test_receiver_url_matches_scheme_host_port_then_whole_path_segments(
        destination_url: str, ours: bool) -> None:
    assert serves("https://receiver.example.com/acme", destination_url) is ours


def test_a_receiver_url_that_is_no_url_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"--receiver-url: 'receiver\.example\.com'"):
        serves("receiver.example.com", "https://receiver.example.com/acme")


@pytest.mark.parametrize("name", ["   ", ""])
def test_a_name_the_receiver_would_refuse_is_never_saved(tmp_path: Path, name: str) -> None:
    config = tmp_path / "auditstream.toml"
    write_destination(config, answered(f"gid://gitlab/{GROUP_DESTINATION}/1", name="a"),
                      "gitlab.com")
    before = files_under(tmp_path), config.read_text()
    with pytest.raises(ConfigError, match=r"receiver\.destinations\[1\]\.name"):
        write_destination(config, answered(f"gid://gitlab/{GROUP_DESTINATION}/2", name=name),
                          "gitlab.com")
    assert (files_under(tmp_path), config.read_text()) == before
    assert load_config(config, {}).receiver is not None  # still what the receiver reads


def test_two_gitlab_destinations_of_one_name_are_never_saved(tmp_path: Path) -> None:
    config = tmp_path / "auditstream.toml"
    twins = [answered(f"gid://gitlab/{GROUP_DESTINATION}/{n}", name="siem") for n in (1, 2)]
    with pytest.raises(ConfigError, match="'siem' is already configured for GitLab's gid"):
        sync_destinations(config, twins, "group:acme", "gitlab.com")
    assert files_under(tmp_path) == []
