"""Seeds: the fixture file (TOML or JSON) read whole, its mistakes named, its destinations
streaming from the start; and the roles inherited down the group tree."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from auditstream.server.gitlab import (
    DEFAULT_SEED,
    GitLabConfigError,
    Role,
    load_seed,
    running_gitlab,
)
from auditstream.server.gitlab.directory import Directory
from tests.server.gitlab.conftest import Collector, GraphQL

SEED = """
[[users]]
username = "root"
token = "root-token-0123456789"
admin = true

[[users]]
username = "ana"
name = "Ana Lyst"
token = "ana-token-0123456789"

[[groups]]
path = "corp"
owners = ["ana"]

[[groups]]
path = "corp/security"

[[projects]]
path = "corp/security/scanner"

[[destinations]]
group = "corp"
url = "{url}"
name = "siem"
token = "seeded-token-0123456"
event_types = ["audit_operation"]
"""


def test_a_toml_seed_is_read_with_ids_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "seed.toml"
    path.write_text(SEED.format(url="http://127.0.0.1:9/x"))
    seed = load_seed(path)
    directory = Directory.from_seed(seed)
    assert [(u.id, u.username, u.name, u.admin) for u in directory.users] == [
        (1, "root", "root", True), (2, "ana", "Ana Lyst", False)]
    assert [(g.id, g.full_path, g.parent_id) for g in directory.groups] == [
        (1, "corp", None), (2, "corp/security", 1)]
    scanner = directory.project_by_path("corp/security/scanner")
    assert scanner is not None
    assert scanner.group_id == 2
    ana = directory.user_named("ana")
    assert ana is not None
    assert directory.role_in(ana, scanner) is Role.OWNER


def test_a_json_seed_takes_the_same_shape(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"users": [{"username": "u", "token": "t" * 20}],
                                "groups": [{"path": "g", "developers": ["u"]}]}))
    directory = Directory.from_seed(load_seed(path))
    group = directory.group_by_path("g")
    assert group is not None
    assert directory.role_in(directory.users[0], group) is Role.DEVELOPER


@pytest.mark.parametrize(("text", "words"), [
    ("[[users]]\nusername = 'a'\n", "token: required"),
    ("[[users]]\nusername='a'\ntoken='t'\n[[users]]\nusername='a'\ntoken='u'\n",
     "username: 'a' appears twice"),
    ("[[groups]]\npath = 'a/b'\n", "parent group 'a' must come first"),
    ("[[groups]]\npath = 'a'\nowners = ['ghost']\n", "member 'ghost' is not among the users"),
    ("[[projects]]\npath = 'nowhere/p'\n", "no group 'nowhere'"),
    ("[[destinations]]\nurl = 'http://127.0.0.1:9/x'\ngroup = 'none'\n", "no group 'none'"),
    ("colour = 'blue'\n", "unknown key(s) colour"),
    ("[[users]]\nusername='a'\ntoken='t'\nrole='owner'\n", "unknown key(s) role"),
    ("users = [", "not valid TOML"),
])
def test_a_wrong_seed_names_the_file_and_the_entry(tmp_path: Path, text: str,
                                                   words: str) -> None:
    path = tmp_path / "seed.toml"
    path.write_text(text)
    with pytest.raises(GitLabConfigError) as caught:
        load_seed(path)
    assert words in str(caught.value)
    assert str(path) in str(caught.value)


async def test_seeded_destinations_stream_from_the_start(tmp_path: Path,
                                                         collector: Collector) -> None:
    path = tmp_path / "seed.toml"
    path.write_text(SEED.format(url=collector.url_for("siem")))
    async with running_gitlab(load_seed(path)) as gitlab, aiohttp.ClientSession() as session:
        await gitlab.make_activity(3, event_types=["audit_operation", "member_created"],
                                   on=["corp/security/scanner"])
        listed = await GraphQL(session, gitlab).run(
            "query Q { group(fullPath: \"corp\") { externalAuditEventDestinations { nodes {"
            " name verificationToken } } } }", as_user="ana")
    assert [a.event["event_type"] for a in collector.to("siem")] == ["audit_operation"] * 2
    assert {a.headers["X-Gitlab-Event-Streaming-Token"] for a in collector.arrivals} == {
        "seeded-token-0123456"}
    assert listed.data["group"]["externalAuditEventDestinations"]["nodes"] == [
        {"name": "siem", "verificationToken": "seeded-token-0123456"}]


async def test_a_seeded_destination_breaking_a_rule_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "seed.toml"
    path.write_text(SEED.format(url="ftp://nowhere"))
    with pytest.raises(GitLabConfigError, match="Only allowed schemes"):
        async with running_gitlab(load_seed(path)):
            pass


def test_the_demo_seed_inherits_roles_down_the_tree() -> None:
    directory = Directory.from_seed(DEFAULT_SEED)
    api = directory.project_by_path("acme/platform/api")
    platform = directory.group_by_path("acme/platform")
    assert api is not None
    assert platform is not None
    roles = {u.username: directory.role_in(u, api) for u in directory.users}
    assert roles == {"admin": None, "owner": Role.OWNER, "maintainer": Role.MAINTAINER,
                     "developer": Role.DEVELOPER, "outsider": None, "globex-owner": None}
    assert not platform.top_level
    outsider = directory.user_named("outsider")
    assert outsider is not None
    assert not directory.can_read(outsider, platform)
