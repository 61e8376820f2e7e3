"""Who is sending, and on which channel: Splunk's rules for tokens and channels. Pure.

Token forms, as Splunk takes them: ``Authorization: Splunk <token>`` (scheme in any case),
HTTP Basic with any user and the token as password, and ``?token=`` only for a token that
allows query-string authentication. The header wins when both are given.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Sequence
from enum import StrEnum

from auditstream.server.hec.codes import (
    CHANNEL_MISSING,
    INVALID_AUTHORIZATION,
    INVALID_CHANNEL,
    INVALID_TOKEN,
    QUERY_AUTH_DISABLED,
    TOKEN_DISABLED,
    TOKEN_REQUIRED,
)
from auditstream.server.hec.config import HecToken
from auditstream.server.hec.errors import HecRefusal

CHANNEL_HEADER = "X-Splunk-Request-Channel"
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class AuthForm(StrEnum):
    """How a request presented its token."""

    SPLUNK = "splunk"
    BASIC = "basic"
    QUERY = "query"


def authenticate(authorization: str | None, query_token: str | None,
                 tokens: Sequence[HecToken]) -> tuple[HecToken, AuthForm]:
    """The token a request presents and how, or the ``HecRefusal`` Splunk answers instead."""
    if authorization is not None and authorization.strip():
        presented, form = _from_header(authorization)
    elif query_token is not None and query_token:
        presented, form = query_token, AuthForm.QUERY
    else:
        raise HecRefusal(TOKEN_REQUIRED)
    token = find_token(presented, tokens)
    if token is None:
        raise HecRefusal(INVALID_TOKEN)
    if token.disabled:
        raise HecRefusal(TOKEN_DISABLED)
    if form is AuthForm.QUERY and not token.query_auth:
        raise HecRefusal(QUERY_AUTH_DISABLED)
    return token, form


def find_token(presented: str, tokens: Sequence[HecToken]) -> HecToken | None:
    """The token equal to ``presented``; every candidate is compared, in constant time."""
    wanted = presented.encode("utf-8", "surrogateescape")
    found: HecToken | None = None
    for token in tokens:
        if hmac.compare_digest(wanted, token.value.encode("utf-8", "surrogateescape")):
            found = token
    return found


def _from_header(authorization: str) -> tuple[str, AuthForm]:
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "splunk" and credentials:
        return credentials, AuthForm.SPLUNK
    if scheme.lower() == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise HecRefusal(INVALID_AUTHORIZATION) from None
        _user, colon, password = decoded.partition(":")
        if colon and password:
            return password, AuthForm.BASIC
    raise HecRefusal(INVALID_AUTHORIZATION)


def check_channel(channel: str | None, token: HecToken) -> str | None:
    """The request's channel; with acknowledgement on it must be there and be a GUID."""
    if not channel:
        if token.ack:
            raise HecRefusal(CHANNEL_MISSING)
        return None
    if token.ack and not _GUID.fullmatch(channel):
        raise HecRefusal(INVALID_CHANNEL)
    return channel


def is_guid(value: str) -> bool:
    return _GUID.fullmatch(value) is not None
