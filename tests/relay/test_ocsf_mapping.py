"""A GitLab event as OCSF: GitLab's documented payloads, the fields each part lands in, and odd
input that must still become a valid event (never an error the relay would stop on)."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditstream.relay.formats.ocsf import encode_ocsf, to_ocsf
from tests.relay.ocsf_events import (
    DOCUMENTED,
    DOCUMENTED_DEPLOY_KEY_FETCH,
    RECEIVED_AT,
    full_body,
    stored,
)
from tests.relay.ocsf_schema import OcsfInvalid, validate


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_gitlab_s_documented_payloads_become_valid_ocsf_events(name: str) -> None:
    event = to_ocsf(stored(DOCUMENTED[name]))
    validate(event)
    assert event["raw_data"] == DOCUMENTED[name].decode()


def test_the_documented_deploy_key_fetch_maps_field_by_field() -> None:
    event = to_ocsf(stored(DOCUMENTED_DEPLOY_KEY_FETCH))
    assert (event["class_uid"], event["activity_name"], event["type_uid"]) == (
        6003, "Read", 600302)
    assert event["time"] == 1_658_814_233_662  # created_at, in epoch milliseconds
    assert event["actor"] == {"user": {"uid": "-3", "name": "deploy-key-name",
                                       "type_id": 99, "type": "DeployKey"}}
    assert event["src_endpoint"] == {"ip": "127.0.0.1"}
    assert event["api"]["operation"] == "repository_git_operation"
    assert {"uid": "29", "name": "example-group/example-project",
            "type": "Project"} in event["resources"]
    metadata = event["metadata"]
    assert metadata["product"] == {"name": "GitLab", "vendor_name": "GitLab"}
    assert metadata["version"] == "1.7.0"
    assert metadata["event_code"] == "repository_git_operation"
    assert metadata["original_event_uid"] == "1"
    assert metadata["uid"] == "gitlab.example.com:1"
    assert "destination:acme" in metadata["labels"]
    assert metadata["logged_time"] == round(RECEIVED_AT * 1000)
    # What OCSF has no place for is kept, and only that.
    assert event["unmapped"] == {"details": {"custom_message": {
        "protocol": "ssh", "action": "git-upload-pack"}}}


def test_a_member_change_names_the_member_the_group_and_the_new_role() -> None:
    event = to_ocsf(stored(full_body("member_updated")))
    assert event["class_name"] == "User Access Management"
    assert event["user"] == {"uid": "9", "name": "bob"}
    assert event["privileges"] == ["Maintainer"]
    assert event["actor"]["user"] == {"uid": "1", "name": "Ada", "email_addr": "ada@example.com",
                                      "type_id": 1, "type": "User"}
    assert event["message"] == "Changed access level"
    added = to_ocsf(stored(full_body("member_created")))
    assert added["group"] == {"uid": "6", "name": "acme/app", "type": "Project"}
    assert added["user"] == {"uid": "9", "name": "bob"}


def test_raw_data_can_be_left_out() -> None:
    assert "raw_data" not in to_ocsf(stored(DOCUMENTED_DEPLOY_KEY_FETCH), raw_data=False)


def test_a_field_the_mapping_would_invent_fails_validation() -> None:
    good = to_ocsf(stored(full_body("member_created")))
    inventions: list[Callable[[dict[str, Any]], None]] = [
        lambda e: e.update(gitlab_project="acme/app"),
        lambda e: e["actor"]["user"].update(role="owner"),
        lambda e: e["metadata"]["product"].update(edition="ee")]
    for invent in inventions:
        bad = copy.deepcopy(good)
        invent(bad)
        with pytest.raises(OcsfInvalid, match="not an attribute"):
            validate(bad)


def test_an_empty_endpoint_or_a_wrong_activity_name_fails_validation() -> None:
    good = to_ocsf(stored(DOCUMENTED_DEPLOY_KEY_FETCH))
    with pytest.raises(OcsfInvalid, match="at_least_one"):
        validate({**good, "src_endpoint": {}})
    with pytest.raises(OcsfInvalid):
        validate({**good, "activity_name": "Create"})


@pytest.mark.parametrize(("case", "body"), [
    ("no author", {"id": 5, "event_type": "member_created", "entity_id": 6,
                   "entity_type": "Group", "entity_path": "acme"}),
    ("uuid id", {"id": str(uuid.UUID(int=7)), "event_type": "repository_git_operation",
                 "author_id": 1, "author_name": "Ada"}),
    ("unknown event type", {"id": 5, "event_type": "brand_new_thing_created", "author_id": 1}),
    ("created_at without milliseconds", {"id": 5, "event_type": "user_created",
                                         "created_at": "2026-11-29T10:00:00Z",
                                         "entity_type": "User", "entity_id": 3}),
    ("created_at not a date", {"id": 5, "event_type": "user_created", "created_at": "soon"}),
    ("details a list", {"id": 5, "event_type": "member_updated", "details": [1, 2]}),
    ("details a string", {"id": 5, "event_type": "user_impersonation", "details": "x"}),
    ("odd types", {"id": 5, "event_type": "login_failed_with_standard_authentication",
                   "author_id": True, "author_name": 3, "ip_address": "not an ip",
                   "entity_id": {"a": 1}, "target_details": ["x"]}),
    ("no type at all", {"id": 5}),
    ("not an object", [1, 2, 3]),
])
def test_odd_input_still_becomes_a_valid_ocsf_event(case: str, body: Any) -> None:
    event = stored(orjson.dumps(body))
    mapped = to_ocsf(event)
    validate(mapped)
    assert mapped["raw_data"] == orjson.dumps(body).decode()


def test_an_event_missing_what_its_class_requires_becomes_api_activity() -> None:
    mapped = to_ocsf(stored({"id": 5, "event_type": "member_created"}))
    assert (mapped["class_name"], mapped["activity_name"]) == ("API Activity", "Create")
    assert mapped["actor"] == {"app_name": "GitLab"}
    assert mapped["severity"] == "Low"  # the entry's severity is kept


def test_an_unparseable_ip_and_a_missing_created_at_are_left_out_not_guessed() -> None:
    body = {"id": 5, "event_type": "repository_git_operation", "author_id": 1,
            "ip_address": "999.1.1.1"}
    mapped = to_ocsf(stored(body))
    assert mapped["src_endpoint"] == {"name": "unknown"}
    assert mapped["unmapped"]["ip_address"] == "999.1.1.1"
    assert mapped["time"] == round(RECEIVED_AT * 1000)  # received time when created_at is absent


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1),
                     st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
_JSON = st.recursive(_SCALARS, lambda children: st.one_of(
    st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)),
    max_leaves=8)
_KEYS = ["id", "author_id", "author_name", "author_email", "entity_id", "entity_type",
         "entity_path", "target_id", "target_type", "target_details", "ip_address",
         "created_at", "event_type", "details"]
_TYPES = st.one_of(st.sampled_from(["member_created", "member_updated", "user_impersonation",
                                    "user_enable_admin_mode", "login_failed_with_otp_"
                                    "authentication", "user_created", "repository_git_operation",
                                    "personal_access_token_created", "project_group_link_created"]),
                   st.text(max_size=30))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.dictionaries(st.sampled_from(_KEYS), _JSON, max_size=10),
       details=st.dictionaries(st.sampled_from([*_KEYS, "change", "from", "to", "as",
                                                "custom_message", "author_class"]), _JSON,
                               max_size=8),
       event_type=_TYPES)
def test_any_gitlab_shaped_event_becomes_a_valid_ocsf_event(
        body: dict[str, Any], details: dict[str, Any], event_type: str) -> None:
    body = {**body, "details": details} if "details" not in body else body
    raw = json.dumps(body).encode()  # the standard encoder: integers past 64 bits too
    event = stored(raw, header_type=event_type or None)
    validate(to_ocsf(event))
    validate(encode_ocsf(event))


def test_numbers_orjson_cannot_hold_and_deep_nesting_still_encode() -> None:
    body = (b'{"id":1,"event_type":"member_created","author_id":1,"n":1e400,'
            b'"m":123456789012345678901234567890,"details":' + b"[" * 300 + b"]" * 300 + b"}")
    mapped = orjson.loads(encode_ocsf(stored(body)))
    validate(mapped)
    assert mapped["raw_data"] == body.decode()
    assert "left_out" in mapped["unmapped"]
    shallow = b'{"id":1,"event_type":"member_created","n":1e400,"m":123456789012345678901234567}'
    assert to_ocsf(stored(shallow))["unmapped"] == {"n": "1e400",
                                                    "m": "123456789012345678901234567"}


def test_a_mapping_that_fails_still_sends_a_valid_event_and_says_so(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from auditstream.relay.formats import ocsf

    def broken(*_: object) -> None:
        raise RuntimeError("a bug in a builder")

    monkeypatch.setitem(ocsf._BUILDERS, "group_management", broken)
    body = orjson.dumps(full_body("member_created"))
    mapped = orjson.loads(encode_ocsf(stored(body)))
    validate(mapped)
    assert (mapped["class_name"], mapped["raw_data"]) == ("API Activity", body.decode())
    assert "OCSF mapping failed" in caplog.text


def test_a_backfilled_event_maps_as_its_streamed_twin_with_the_rest_entity_kept() -> None:
    from auditstream.reconcile.convert import incoming

    item = {"id": 77, "author_id": 1, "entity_id": 6, "entity_type": "Project",
            "event_name": "member_created", "created_at": "2026-11-29T10:00:00.123Z",
            "details": {"author_name": "Ada", "target_id": 9, "target_type": "User",
                        "target_details": "bob", "entity_path": "acme/app",
                        "ip_address": "10.1.2.3", "as": "Developer", "event_name":
                        "member_created"}}
    came = incoming(item, instance="gitlab.example.com", destination="acme",
                    received_at=RECEIVED_AT)
    event = stored(came.body, header_type=came.event_type)._replace(origin=came.origin)
    mapped = to_ocsf(event)
    validate(mapped)
    assert (mapped["class_name"], mapped["activity_name"]) == ("Group Management", "Add User")
    assert mapped["user"] == {"uid": "9", "name": "bob"}
    assert "origin:backfill" in mapped["metadata"]["labels"]
    assert mapped["unmapped"]["rest_entity"] == item
