"""auditstream.server.gitlab: a GitLab stand-in that manages audit event streaming destinations
through GitLab's own GraphQL API and streams audit events as GitLab does, faults included.

The in-process API for tests and demos::

    from auditstream.server.gitlab import GitLabConfig, Knobs, running_gitlab

    async with running_gitlab() as gitlab:                  # the built-in demo seed
        gitlab.url, gitlab.graphql_url                      # --gitlab-url, POST /api/graphql
        gitlab.token_for("owner"), gitlab.headers_for("owner")
        await gitlab.make_activity(10, event_types=("repository_git_operation",),
                                   on=("acme/website",))    # returns when delivered
        gitlab.deliveries.to(url)                           # every attempt: headers, body,
        await gitlab.deliveries.wait_for(3)                 # result (delivered, refused,
                                                            # timeout, connection_error, dropped)
        gitlab.knobs = Knobs(duplicate_rate=1.0, seed=7)    # realism knobs
        gitlab.events.stored, gitlab.events.made            # the audit trail
        await gitlab.settle()                               # every delivery finished

``running_gitlab(seed, GitLabConfig(strict_urls=True, delivery_timeout_seconds=0.5))`` takes
a ``Seed`` (``load_seed(path)`` reads one) and settings. Over HTTP the same controls are under
``/_stand-in/`` (see ``server.gitlab.admin``); from the shell, ``auditstream serve gitlab``.

The built-in seed (``DEFAULT_SEED``; tokens are ``glpat-demo-<role>-0...`` and printed by
``serve gitlab``): users ``admin`` (administrator), ``owner`` (Owner of ``acme``),
``maintainer`` and ``developer`` (Maintainer and Developer of ``acme``), ``outsider`` (no
membership), ``globex-owner`` (Owner of ``globex``). Groups ``acme`` (id 1), its subgroup
``acme/platform`` (2), ``globex`` (3); projects ``acme/website`` (1), ``acme/platform/api``
(2), ``globex/portal`` (3). Roles are inherited down the tree, as in GitLab.

GraphQL served (``POST /api/graphql``; introspection needs no token), with GitLab's names:

- 16.3 (the SDL in ``schema.graphql`` is copied from GitLab's; ``check_schema`` proves it):
  ``currentUser``; ``group(fullPath) { id fullPath name path parent
  externalAuditEventDestinations(first after last before) }``;
  ``instanceExternalAuditEventDestinations``; ``externalAuditEventDestinationCreate/Update/
  Destroy``; ``auditEventsStreamingHeadersCreate/Update/Destroy``;
  ``auditEventsStreamingDestinationEventsAdd/Remove``; the instance ones:
  ``instanceExternalAuditEventDestinationCreate/Update/Destroy``,
  ``auditEventsStreamingInstanceHeadersCreate/Update/Destroy``,
  ``auditEventsStreamingDestinationInstanceEventsAdd/Remove``.
- Newer (``schema_newer.graphql``, from GitLab's docs): ``active`` on headers and
  destinations; ``namespaceFilter`` and ``auditEventsStreamingHttpNamespaceFiltersAdd/
  Delete``; the consolidated API: ``group { externalAuditEventStreamingDestinations }``,
  ``auditEventsInstanceStreamingDestinations``, ``groupAuditEventStreamingDestinations
  Create/Update/Delete``, ``instanceAuditEventStreamingDestinationsCreate/Update/Delete``,
  ``auditEventsGroupDestinationEventsAdd/Delete``, ``auditEventsGroupDestination
  NamespaceFilterCreate/Delete``, ``auditEventsInstanceDestinationEventsAdd/Delete``.

Errors land where GitLab puts them: validation failures as messages in the payload's
``errors`` (object null, HTTP 200); a missing object or permission as the top-level error
"The resource that you are attempting to access does not exist or you don't have permission
to perform this action" (data null); malformed IDs, empty filter lists and bad cursors as
top-level errors; a token nobody holds as HTTP 401 ``{"errors": [{"message": "Invalid
token"}]}`` before anything runs (no token is anonymous: groups read as null, mutations fail
with the permission error). A group's destinations read as null for non-owners.

REST: ``GET /api/v4/groups/:id/audit_events`` (Owner; the group's own events),
``/projects/:id/audit_events`` (Maintainer), ``/audit_events`` (administrator; at most 30 days
per query), stored events only (``activity.KINDS`` says which types are stored), with
``created_after``/``created_before``, offset pages or keyset ones (``pagination=keyset``, the
``Link`` rel="next" URL); ``/groups/:id``, ``/groups/:id/descendant_groups`` and
``/groups/:id/projects?include_subgroups=true`` to walk a tree. ``gitlab.state.throttle``
(``refuse_next``, ``let_through``, ``retry_after_seconds``) answers requests with 429 and
GitLab's ``Retry-After`` / ``RateLimit-*`` headers.
"""

from auditstream.server.gitlab.activity import DEFAULT_TYPES, KINDS, ActivitySpec
from auditstream.server.gitlab.config import GitLabConfig
from auditstream.server.gitlab.deliveries import Deliveries, Delivery, Result
from auditstream.server.gitlab.destinations import (
    EVENT_TYPE_HEADER,
    TOKEN_HEADER,
    Api,
    Destination,
    Header,
    NamespaceFilter,
    Scope,
)
from auditstream.server.gitlab.errors import (
    RESOURCE_NOT_AVAILABLE,
    ArgumentError,
    GitLabConfigError,
    GitLabRefusal,
    GitLabStandInError,
    ResourceNotAvailable,
    RestError,
    StandInRequestError,
    UnknownToken,
)
from auditstream.server.gitlab.events import AuditEvent, EventLog
from auditstream.server.gitlab.schema import gitlab_schema, schema_sdl
from auditstream.server.gitlab.seed import DEFAULT_SEED, Role, Seed, SeedUser, load_seed, seed_from
from auditstream.server.gitlab.service import RunningGitLab, running_gitlab, start_gitlab
from auditstream.server.gitlab.streaming import Knobs, Reason

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_TYPES",
    "EVENT_TYPE_HEADER",
    "KINDS",
    "RESOURCE_NOT_AVAILABLE",
    "TOKEN_HEADER",
    "ActivitySpec",
    "Api",
    "ArgumentError",
    "AuditEvent",
    "Deliveries",
    "Delivery",
    "Destination",
    "EventLog",
    "GitLabConfig",
    "GitLabConfigError",
    "GitLabRefusal",
    "GitLabStandInError",
    "Header",
    "Knobs",
    "NamespaceFilter",
    "Reason",
    "ResourceNotAvailable",
    "RestError",
    "Result",
    "Role",
    "RunningGitLab",
    "Scope",
    "Seed",
    "SeedUser",
    "StandInRequestError",
    "UnknownToken",
    "gitlab_schema",
    "load_seed",
    "running_gitlab",
    "schema_sdl",
    "seed_from",
    "start_gitlab",
]
