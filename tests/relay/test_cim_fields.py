"""Splunk CIM fields: flat strings (HEC's indexed fields refuse anything nested), with the Change
data model's names for changes and the Authentication model's for sign-ins."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from auditstream.relay.formats.cim import cim_fields
from tests.relay.ocsf_events import DOCUMENTED_DEPLOY_KEY_FETCH, full_body, stored


def test_a_member_change_is_a_change_of_the_member_s_account_by_the_author() -> None:
    fields = cim_fields(stored(full_body("member_updated")))
    assert fields == {
        "action": "modified", "change_type": "AAA", "object": "bob", "object_category": "user",
        "object_id": "9", "object_path": "acme/app", "object_attrs": "access_level",
        "user": "bob", "src_user": "Ada", "src": "10.1.2.3", "status": "success",
        "vendor_product": "GitLab", "app": "GitLab", "command": "member_updated",
        "dest": "gitlab.example.com", "result": "Changed access level"}


def test_a_failed_sign_in_speaks_the_authentication_model() -> None:
    body = full_body("login_failed_with_otp_authentication", target_type="Project")
    fields = cim_fields(stored(body))
    assert (fields["action"], fields["status"], fields["signature"],
            fields["authentication_method"], fields["user"]) == (
        "failure", "failure", "login_failed_with_otp_authentication", "otp", "Ada")
    assert "change_type" not in fields


def test_a_git_fetch_is_a_read_of_the_project() -> None:
    fields = cim_fields(stored(DOCUMENTED_DEPLOY_KEY_FETCH))
    assert (fields["action"], fields["change_type"], fields["object"], fields["user"]) == (
        "read", "application", "example-project", "deploy-key-name")


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["author_id", "author_name", "entity_id", "entity_type",
                                        "target_type", "target_details", "ip_address",
                                        "event_type", "details"]),
                       st.one_of(st.none(), st.integers(), st.text(max_size=10),
                                 st.lists(st.integers(), max_size=2),
                                 st.dictionaries(st.text(max_size=3), st.text(max_size=3),
                                                 max_size=2))))
def test_cim_fields_are_always_non_empty_strings(body: dict[str, Any]) -> None:
    fields = cim_fields(stored(json.dumps(body).encode()))
    assert all(isinstance(v, str) and v for v in fields.values())


def test_the_example_in_docs_detections_is_what_the_mapping_makes() -> None:
    from pathlib import Path

    from auditstream.relay.formats.ocsf import to_ocsf
    from tests.relay.ocsf_schema import validate

    text = (Path(__file__).resolve().parents[2] / "docs" / "detections.md").read_text()
    blocks = [block.split("```", 1)[0] for block in text.split("```json\n")[1:]]
    raw, ocsf, cim = (json.loads(block) for block in blocks[:3])
    event = stored(json.dumps(raw).encode())
    assert to_ocsf(event, raw_data=False) == ocsf
    validate(ocsf)
    assert cim_fields(event) == cim
