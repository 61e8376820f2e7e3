"""The optional allow-list of client networks, and who the client is behind a reverse proxy."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import aiohttp
import orjson
import pytest

from auditstream.config.app import load_config
from auditstream.config.errors import ConfigError
from auditstream.receiver.network import allowed, client_address, parse_networks
from tests.conftest import TOKEN, StartReceiver, receiver_config

# GitLab.com's published egress ranges look like this; none is ever contacted here.
GITLAB_COM = parse_networks(["34.74.90.64/28", "34.74.226.0/24"])
LOOPBACK = parse_networks(["127.0.0.0/8", "::1/128"])
HEADERS = {"X-Gitlab-Event-Streaming-Token": TOKEN}


def address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() -> None:
    assert client_address("203.0.113.9", ["34.74.90.70"], ()) == address("203.0.113.9")


def test_behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client() -> None:
    proxies = parse_networks(["10.0.0.0/24"])
    # the client may write anything on the left; the proxies append on the right
    assert client_address("10.0.0.5", ["6.6.6.6, 34.74.90.70"], proxies) \
        == address("34.74.90.70")
    assert client_address("10.0.0.5", ["34.74.90.70, 10.0.0.7"], proxies) \
        == address("34.74.90.70")
    assert client_address("10.0.0.5", ["34.74.90.70", "10.0.0.7"], proxies) \
        == address("34.74.90.70")
    assert client_address("10.0.0.5", [], proxies) == address("10.0.0.5")


def test_garbage_from_a_trusted_proxy_means_the_client_is_unknown() -> None:
    proxies = parse_networks(["10.0.0.0/24"])
    assert client_address("10.0.0.5", ["not-an-address"], proxies) is None
    assert not allowed(None, GITLAB_COM)
    assert allowed(None, ())  # no allow-list: only the token decides


def test_ipv4_mapped_ipv6_peers_are_their_ipv4_address() -> None:
    assert client_address("::ffff:34.74.90.70", [], ()) == address("34.74.90.70")
    assert allowed(client_address("::ffff:34.74.90.70", [], ()), GITLAB_COM)


def test_networks_with_host_bits_or_garbage_are_refused() -> None:
    for bad in ("34.74.90.70/28", "gitlab.com", "10.0.0.0/33"):
        with pytest.raises(ValueError, match="is not a network"):
            parse_networks([bad])


async def post(url: str, headers: dict[str, str] | None = None,
               path: str = "/") -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as session, session.post(
            url + path, data=orjson.dumps({"id": 1}),
            headers={**HEADERS, **(headers or {})}) as response:
        return response.status, await response.json()


async def test_a_client_outside_the_allow_list_gets_403_with_a_reason_and_nothing_is_stored(
        start_receiver_on_journal: StartReceiver) -> None:
    receiver = await start_receiver_on_journal(receiver_config(allow_networks=GITLAB_COM))
    status, answer = await post(receiver.url)
    assert status == 403
    assert "allow_networks" in str(answer["error"])
    assert await receiver.journal.tail(10) == []
    async with aiohttp.ClientSession() as session, \
            session.get(receiver.url + "/healthz") as response:
        assert response.status == 200  # probes come from the infrastructure, not GitLab


async def test_a_client_inside_the_allow_list_is_served(
        start_receiver_on_journal: StartReceiver) -> None:
    receiver = await start_receiver_on_journal(receiver_config(
        allow_networks=GITLAB_COM + LOOPBACK))
    assert (await post(receiver.url))[0] == 200


async def test_a_forged_x_forwarded_for_is_ignored_from_an_untrusted_peer(
        start_receiver_on_journal: StartReceiver) -> None:
    receiver = await start_receiver_on_journal(receiver_config(allow_networks=GITLAB_COM))
    status, _ = await post(receiver.url, {"X-Forwarded-For": "34.74.90.70"})
    assert status == 403


async def test_behind_a_trusted_proxy_the_forwarded_client_is_checked(
        start_receiver_on_journal: StartReceiver) -> None:
    receiver = await start_receiver_on_journal(receiver_config(
        allow_networks=GITLAB_COM, trusted_proxies=parse_networks(["127.0.0.1/32"])))
    assert (await post(receiver.url, {"X-Forwarded-For": "34.74.90.70"}))[0] == 200
    assert (await post(receiver.url, {"X-Forwarded-For": "6.6.6.6"}))[0] == 403
    assert (await post(receiver.url, {"X-Forwarded-For": "34.74.90.70, 6.6.6.6"}))[0] == 403
    assert (await post(receiver.url, {"X-Forwarded-For": "garbage"}))[0] == 403
    assert (await post(receiver.url))[0] == 403  # the proxy itself is not GitLab


def write(tmp_path: Path, lines: str) -> Path:
    path = tmp_path / "auditstream.toml"
    path.write_text(f'[receiver]\n{lines}\n[[receiver.destinations]]\nname = "a"\n'
                    'token_env = "T"\n')
    return path


def test_the_config_keys_reach_the_receiver(tmp_path: Path) -> None:
    path = write(tmp_path, 'allow_networks = ["34.74.90.64/28", "2600:1900::/28"]\n'
                           'trusted_proxies = ["10.0.0.5/32"]')
    receiver = load_config(path, {"T": TOKEN}).receiver
    assert receiver is not None
    assert [str(n) for n in receiver.allow_networks] == ["34.74.90.64/28", "2600:1900::/28"]
    assert [str(n) for n in receiver.trusted_proxies] == ["10.0.0.5/32"]


@pytest.mark.parametrize(("lines", "message"), [
    ('allow_networks = "34.74.90.64/28"', "receiver.allow_networks: must be a list"),
    ('allow_networks = ["34.74.90.70/28"]', "receiver.allow_networks: '34.74.90.70/28' is not"),
    ("trusted_proxies = [10]", "receiver.trusted_proxies: must be a list"),
])
def test_config_errors_name_the_key_and_the_file(tmp_path: Path, lines: str,
                                                 message: str) -> None:
    path = write(tmp_path, lines)
    with pytest.raises(ConfigError) as error:
        load_config(path, {"T": TOKEN})
    assert str(error.value).startswith(f"{path}: {message}")
