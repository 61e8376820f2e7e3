"""The table from GitLab event type to OCSF class: it covers GitLab's published list, and its
classes and activities are the OCSF 1.7.0 schema's."""

from __future__ import annotations

import pytest

from auditstream.common.event_types import gitlab_event_types
from auditstream.relay.errors import MappingTableError
from auditstream.relay.formats.ocsf import to_ocsf
from auditstream.relay.formats.table import mapping_table, parse_table, placement
from tests.relay.ocsf_events import full_body, stored
from tests.relay.ocsf_schema import CATEGORIES, CLASSES, OCSF_VERSION, schema, validate

PUBLISHED = sorted(gitlab_event_types().names())


def test_the_published_list_names_its_source_and_flags_each_type() -> None:
    listed = gitlab_event_types()
    assert "audit_event_types.md" in listed.source
    assert "0079cb93" in listed.source
    assert len(listed.types) >= 500
    assert len(listed.names()) == len(listed.types)  # no type twice
    stream_only = {t.name for t in listed.types if not t.saved_to_database}
    assert {"repository_git_operation", "merge_request_create"} <= stream_only
    assert "member_created" not in stream_only
    assert all(t.streamed for t in listed.types)


def test_every_published_event_type_is_placed_by_an_entry_or_a_rule_never_by_default() -> None:
    fell_through = [name for name in PUBLISHED if placement(name).matched_by == "unknown"]
    assert fell_through == []


def test_the_table_is_pinned_to_the_schema_version_the_tests_validate_against() -> None:
    assert mapping_table().ocsf_version == OCSF_VERSION


def test_the_table_classes_and_activities_are_the_schema_s() -> None:
    for ocsf_class in mapping_table().classes.values():
        name, _ = CLASSES[ocsf_class.class_uid]
        spec = schema()["events"][name]
        assert ocsf_class.class_name == spec["caption"]
        assert ocsf_class.category_name == CATEGORIES[ocsf_class.category_uid]
        captions = {v["caption"]: int(k) for k, v in spec["attributes"]["activity_id"]["enum"]
                    .items()} | {"Other": 99}
        assert dict(ocsf_class.activities) == captions


@pytest.mark.parametrize("event_type", PUBLISHED)
def test_every_published_event_type_becomes_a_valid_ocsf_event(event_type: str) -> None:
    full = to_ocsf(stored(full_body(event_type)))
    validate(full)
    assert full["metadata"]["event_code"] == event_type
    # The least GitLab may send: an id and the type.
    validate(to_ocsf(stored({"id": 1, "event_type": event_type})))


@pytest.mark.parametrize(("event_type", "class_name", "activity"), [
    ("member_created", "Group Management", "Add User"),
    ("member_destroyed", "Group Management", "Remove User"),
    ("member_updated", "User Access Management", "Assign Privileges"),
    ("custom_admin_role_assigned_to_user", "User Access Management", "Assign Privileges"),
    ("personal_access_token_created", "Entity Management", "Create"),
    ("personal_access_token_revoked", "Entity Management", "Disable"),
    ("group_access_token_deleted", "Entity Management", "Delete"),
    ("add_ssh_key", "Entity Management", "Create"),
    ("user_disable_two_factor", "Account Change", "MFA Factor Disable"),
    ("authenticated_with_group_saml", "Authentication", "Logon"),
    ("login_failed_with_otp_authentication", "Authentication", "Logon"),
    ("user_impersonation", "Authentication", "Account Switch"),
    ("user_enable_admin_mode", "Authorize Session", "Assign Privileges"),
    ("project_visibility_level_updated", "Entity Management", "Update"),
    ("protected_branch_removed", "Entity Management", "Delete"),
    ("approval_rule_deleted", "Entity Management", "Delete"),
    ("destroy_event_streaming_destination", "Entity Management", "Delete"),
    ("repository_git_operation", "API Activity", "Read"),
])
def test_what_detections_care_most_about_lands_in_its_class(
        event_type: str, class_name: str, activity: str) -> None:
    event = to_ocsf(stored(full_body(event_type)))
    assert (event["class_name"], event["activity_name"]) == (class_name, activity)


def test_failed_sign_ins_are_failures_and_two_factor_ones_say_mfa() -> None:
    event = to_ocsf(stored(full_body("login_failed_with_otp_authentication")))
    assert (event["status"], event["status_id"], event["is_mfa"]) == ("Failure", 2, True)
    assert to_ocsf(stored(full_body("group_access_token_creation_failed")))["status"] == "Failure"


def test_a_table_naming_an_activity_its_class_lacks_is_refused() -> None:
    data = {"ocsf_version": "1.7.0", "verbs": {},
            "classes": {"api_activity": {"class_uid": 6003, "class_name": "API Activity",
                                         "category_uid": 6, "category_name": "x",
                                         "activities": {"Read": 2, "Other": 99}}},
            "unknown": {"class": "api_activity"}, "rules": [],
            "types": {"member_created": {"class": "api_activity", "activity": "Add User"}}}
    with pytest.raises(MappingTableError, match="member_created"):
        parse_table(data)


@pytest.mark.parametrize("family", [
    "member_*", "*_role_*", "*_token_*", "*_key*", "*two_factor*", "*saml*", "*impersonation*",
    "*visibility*", "protected_branch_*", "*approv*", "*streaming*", "*namespace_filter",
    "event_type_filters_*", "authenticated_with_*", "login_failed_*",
])
def test_what_detections_care_most_about_has_explicit_entries_not_just_rules(
        family: str) -> None:
    import fnmatch

    listed = [name for name in PUBLISHED if fnmatch.fnmatchcase(name, family)]
    assert listed, family
    assert [name for name in listed if placement(name).matched_by != "type"] == []
