"""Splunk's token and channel rules, pure. No sockets."""

from __future__ import annotations

import base64

import pytest

from auditstream.server.hec.auth import AuthForm, authenticate, check_channel
from auditstream.server.hec.config import HecToken
from auditstream.server.hec.errors import HecRefusal

PLAIN = HecToken("plain", name="plain")
QUERY = HecToken("query", name="query", query_auth=True)
OFF = HecToken("off", name="off", disabled=True)
ACKED = HecToken("acked", name="acked", ack=True)
TOKENS = (PLAIN, QUERY, OFF, ACKED)
GUID = "0f2b7c1e-6d8a-4b1c-9e3f-5a7d2c4b6e80"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(("header", "query", "expected"), [
    ("Splunk plain", None, (PLAIN, AuthForm.SPLUNK)),
    ("splunk plain", None, (PLAIN, AuthForm.SPLUNK)),
    ("SPLUNK   plain  ", None, (PLAIN, AuthForm.SPLUNK)),
    (basic("anyone", "plain"), None, (PLAIN, AuthForm.BASIC)),
    (basic("", "plain"), None, (PLAIN, AuthForm.BASIC)),
    (None, "query", (QUERY, AuthForm.QUERY)),
    ("Splunk plain", "query", (PLAIN, AuthForm.SPLUNK)),
])
def test_each_accepted_form_finds_its_token(header: str | None, query: str | None,
                                            expected: tuple[HecToken, AuthForm]) -> None:
    assert authenticate(header, query, TOKENS) == expected


@pytest.mark.parametrize(("header", "query", "code", "status"), [
    (None, None, 2, 401),
    ("", "", 2, 401),
    ("Bearer plain", None, 3, 401),
    ("Splunk", None, 3, 401),
    ("Basic not-base64!", None, 3, 401),
    (basic("user", ""), None, 3, 401),
    ("Splunk wrong", None, 4, 403),
    (None, "wrong", 4, 403),
    ("Splunk off", None, 1, 403),
    (None, "plain", 16, 400),
])
def test_each_refused_form_gets_splunks_code(header: str | None, query: str | None,
                                             code: int, status: int) -> None:
    with pytest.raises(HecRefusal) as caught:
        authenticate(header, query, TOKENS)
    assert (caught.value.code, caught.value.status) == (code, status)


def test_channel_is_optional_and_unchecked_without_ack() -> None:
    assert check_channel(None, PLAIN) is None
    assert check_channel("not-a-guid", PLAIN) == "not-a-guid"


def test_channel_is_required_and_must_be_a_guid_with_ack() -> None:
    assert check_channel(GUID, ACKED) == GUID
    assert check_channel(GUID.upper(), ACKED) == GUID.upper()
    for channel, code in ((None, 10), ("", 10), ("not-a-guid", 11), (GUID + "0", 11)):
        with pytest.raises(HecRefusal) as caught:
            check_channel(channel, ACKED)
        assert (caught.value.code, caught.value.status) == (code, 400)
