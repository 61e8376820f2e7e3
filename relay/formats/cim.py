"""Splunk Common Information Model fields for a GitLab event: flat strings, sent as HEC indexed
``fields`` (HEC refuses nested values, code 15), so GitLab's events answer Change (and, for
sign-ins, Authentication) searches without a technology add-on.

Change (``All_Changes``/``Account_Management``): ``action`` (created, deleted, modified, read),
``change_type`` (AAA for identity classes, else application), ``object``, ``object_category``,
``object_id``, ``object_path``, ``object_attrs``, ``user`` (for account changes the account
changed, with ``src_user`` the one who changed it), ``src``, ``status``, ``vendor_product``,
``command`` (the event type), ``result`` (GitLab's message), ``dest`` (the GitLab instance).
Authentication: ``action`` (success, failure), ``app``, ``signature``, ``authentication_method``.
"""

from __future__ import annotations

from auditstream.journal import StoredEvent
from auditstream.relay.formats.facts import Facts, facts_for
from auditstream.relay.formats.table import placement

VENDOR_PRODUCT = "GitLab"
_ACTIONS = {"Create": "created", "Delete": "deleted", "Read": "read"}  # else modified
_IDENTITY_CLASSES = frozenset({"account_change", "user_access", "group_management",
                               "authorize_session"})
_ACCOUNT_CLASSES = frozenset({"account_change", "user_access"})


def cim_fields(event: StoredEvent, facts: Facts | None = None) -> dict[str, str]:
    """The CIM fields of ``event`` that it has values for (all strings). ``facts``: the
    event's, when the caller has them already."""
    if facts is None:
        facts = facts_for(event)
    place = placement(facts.event_type)
    key = place.ocsf_class.key
    status = "success" if place.status == "Success" else "failure"
    actor = _actor_name(facts)
    fields: dict[str, str | None] = {
        "vendor_product": VENDOR_PRODUCT, "app": VENDOR_PRODUCT, "status": status,
        "command": facts.event_type, "src": facts.ip, "dest": event.instance,
        "result": facts.message, "user": actor,
    }
    if key == "authentication":
        fields.update(action=status, signature=facts.event_type,
                      authentication_method=_method(facts.event_type or ""))
    else:
        fields["action"] = _ACTIONS.get(place.activity_name, "modified")
        fields["change_type"] = "AAA" if key in _IDENTITY_CLASSES else "application"
        fields.update(_object_fields(facts))
        if key in _ACCOUNT_CLASSES and _subject(facts) is not None:
            fields.update(user=_subject(facts), src_user=actor)
    return {name: value for name, value in fields.items() if value}


def _actor_name(facts: Facts) -> str | None:
    if facts.author is None:
        return None
    return facts.author.name or facts.author.uid


def _subject(facts: Facts) -> str | None:
    for thing in (facts.target, facts.entity):
        if thing is not None and thing.type == "User":
            return thing.name or thing.uid
    return None


def _object_fields(facts: Facts) -> dict[str, str | None]:
    changed = facts.target or facts.entity
    if changed is None:
        return {}
    return {"object": changed.name or changed.uid,
            "object_category": (changed.type or "").lower() or None,
            "object_id": changed.uid,
            "object_path": facts.entity.name if facts.entity else None,
            "object_attrs": facts.change[0]}


def _method(event_type: str) -> str | None:
    """``authenticated_with_ldap`` -> ``ldap``; ``login_failed_with_otp_authentication`` ->
    ``otp``."""
    if "_with_" not in event_type:
        return None
    method = event_type.rsplit("_with_", 1)[1]
    return method.removesuffix("_authentication") or None
