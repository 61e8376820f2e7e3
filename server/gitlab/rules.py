"""GitLab's validation rules for destinations and headers, with GitLab's messages.

Pure functions: each takes the candidate and what it is compared with and returns the full
messages GitLab puts in a payload's ``errors`` array (empty when the candidate is valid), in
the order GitLab's model declares its validations. Messages come from
reference/gitlab-streaming.md and Rails' standard wording ("is too long (maximum is N
characters)"); where GitLab's exact wording is not documented the message is marked ours.
"""

from __future__ import annotations

import ipaddress
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from auditstream.server.gitlab.destinations import TOKEN_HEADER, Api, Destination, Header

MAX_DESTINATIONS = 5
MAX_URL_LENGTH = 255
MAX_NAME_LENGTH = 72
TOKEN_LENGTHS = (16, 24)
MAX_HEADERS = 20
MAX_HEADER_KEY = 255
MAX_HEADER_VALUE = 2000
MAX_EVENT_TYPE_LENGTH = 255
CATEGORIES = ("http", "gcp", "aws")

SUBGROUP = "Group must not be a subgroup"
TOO_MANY = f"Maximum number of external audit event destinations ({MAX_DESTINATIONS}) exceeded"
HEADER_LIMIT = f"Headers are limited to {MAX_HEADERS} per destination"
# Ours: the reference says GitLab refuses the header but not in which words.
RESERVED_HEADER = f"Key cannot be {TOKEN_HEADER}"
# Ours: the stand-in streams http destinations only.
CATEGORY_NOT_SERVED = "Category {category} is not supported by this stand-in (only http)"
CONFIG_INVALID = "Config must be a valid json schema"

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE64 = string.ascii_letters + string.digits + "+/"


@dataclass(frozen=True, slots=True)
class Labels:
    """How an API's messages name the attributes (Rails' ``human_attribute_name``)."""

    url: str
    token: str


LEGACY_LABELS = Labels(url="Destination url", token="Verification token")  # noqa: S106
# Ours: GitLab validates the consolidated config with a JSON schema and its wording for a
# bad URL there is not documented; the token's follows Rails from ``secret_token``.
STREAMING_LABELS = Labels(url="Url", token="Secret token")  # noqa: S106


def labels_for(api: Api) -> Labels:
    return LEGACY_LABELS if api is Api.LEGACY else STREAMING_LABELS


def generate_verification_token() -> str:
    """Rails' ``has_secure_token``: 24 base58 characters."""
    return "".join(secrets.choice(_BASE58) for _ in range(24))


def generate_secret_token() -> str:
    """The consolidated API's default secret token: 24 base64 characters."""
    return "".join(secrets.choice(_BASE64) for _ in range(24))


def destination_errors(candidate: Destination, siblings: Sequence[Destination], *,
                       creating: bool, top_level: bool, strict_urls: bool) -> list[str]:
    """Every rule a destination breaks, given the other destinations of its group."""
    labels = labels_for(candidate.api)
    errors: list[str] = []
    if not top_level:
        errors.append(SUBGROUP)
    if creating and len(siblings) >= MAX_DESTINATIONS:
        errors.append(TOO_MANY)
    errors.extend(url_errors(candidate.url, labels.url, strict=strict_urls))
    if any(s.url == candidate.url for s in siblings):
        errors.append(f"{labels.url} has already been taken")
    errors.extend(_length("Name", candidate.name, maximum=MAX_NAME_LENGTH))
    if any(s.name == candidate.name for s in siblings):
        errors.append("Name has already been taken")
    errors.extend(_length(labels.token, candidate.token, *TOKEN_LENGTHS))
    if any(s.token == candidate.token for s in siblings):
        errors.append(f"{labels.token} has already been taken")
    return errors


def url_errors(url: str, label: str, *, strict: bool) -> list[str]:
    """GitLab's URL rules: present, at most 255 characters, http(s), and in strict mode
    neither localhost nor a private address (GitLab's default outside tests)."""
    if not url.strip():
        return [f"{label} can't be blank"]
    errors = _length(label, url, maximum=MAX_URL_LENGTH)
    blocked = _blocked(url, strict)
    if blocked:
        errors.append(f"{label} is blocked: {blocked}")
    return errors


def _blocked(url: str, strict: bool) -> str | None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        return "URI is invalid"
    if parts.scheme not in ("http", "https"):
        return "Only allowed schemes are http, https"
    if not host:
        return "URI is invalid"
    if not strict:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return "Requests to localhost are not allowed"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: GitLab resolves it; the stand-in never looks names up
    if address.is_loopback or address.is_unspecified:
        return "Requests to localhost are not allowed"
    if address.is_private or address.is_link_local or address.is_reserved:
        return "Requests to the local network are not allowed"
    return None


def header_errors(key: str, value: str, others: Sequence[Header], *,
                  creating: bool) -> list[str]:
    """A header's rules, given the destination's other headers."""
    errors: list[str] = []
    if creating and len(others) >= MAX_HEADERS:
        errors.append(HEADER_LIMIT)
    if not key.strip():
        errors.append("Key can't be blank")
    errors.extend(_length("Key", key, maximum=MAX_HEADER_KEY))
    if key.lower() == TOKEN_HEADER.lower():
        errors.append(RESERVED_HEADER)
    if any(h.key == key for h in others):
        errors.append("Key has already been taken")
    if not value.strip():
        errors.append("Value can't be blank")
    errors.extend(_length("Value", value, maximum=MAX_HEADER_VALUE))
    return errors


def event_type_errors(wanted: Sequence[str], existing: Sequence[str]) -> list[str]:
    """Adding filters: each type at most 255 characters and not already there (GitLab's
    service reports the first failing record, as ``RecordInvalid`` words it)."""
    for event_type in wanted:
        if not event_type.strip():
            return ["Validation failed: Audit event type can't be blank"]
        if len(event_type) > MAX_EVENT_TYPE_LENGTH:
            return ["Validation failed: Audit event type is too long (maximum is "
                    f"{MAX_EVENT_TYPE_LENGTH} characters)"]
        if event_type in existing or list(wanted).count(event_type) > 1:
            return ["Validation failed: Audit event type has already been taken"]
    return []


def missing_event_types(wanted: Sequence[str], existing: Sequence[str]) -> list[str]:
    """Removing filters that are not there: GitLab's message names them."""
    missing = [t for t in wanted if t not in existing]
    if not missing:
        return []
    return ["Couldn't find event type filters where audit event type(s): "
            + ", ".join(missing)]


def config_headers(config: object) -> tuple[str, list[tuple[str, str, bool]]] | None:
    """An http ``config`` as (url, [(key, value, active)]), or None when it is not the shape
    GitLab's JSON schema allows: ``{"url": str, "headers": {key: {"value", "active"}}}``."""
    if not isinstance(config, dict) or not isinstance(config.get("url"), str):
        return None
    if set(config) - {"url", "headers"}:
        return None
    headers = config.get("headers", {})
    if not isinstance(headers, dict):
        return None
    parsed: list[tuple[str, str, bool]] = []
    for key, spec in headers.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("value"), str):
            return None
        active = spec.get("active", True)
        if not isinstance(active, bool) or set(spec) - {"value", "active"}:
            return None
        parsed.append((str(key), spec["value"], active))
    return config["url"], parsed


def config_header_errors(headers: Sequence[tuple[str, str, bool]]) -> list[str]:
    """The header rules applied to a consolidated destination's config."""
    errors: list[str] = []
    if len(headers) > MAX_HEADERS:
        errors.append(HEADER_LIMIT)
    for key, value, _active in headers:
        errors.extend(e for e in header_errors(key, value, (), creating=False)
                      if e not in errors)
    return errors


def _length(label: str, value: str, minimum: int | None = None,
            maximum: int | None = None) -> list[str]:
    if minimum is not None and len(value) < minimum:
        return [f"{label} is too short (minimum is {minimum} characters)"]
    if maximum is not None and len(value) > maximum:
        return [f"{label} is too long (maximum is {maximum} characters)"]
    return []
