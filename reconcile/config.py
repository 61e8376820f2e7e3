"""What reconcile needs to know of a destination: frozen, built by ``config.app``.

    [[receiver.destinations]]
    name = "acme"
    instance = "gitlab.example.com"
    token_env = "ACME_STREAM_TOKEN"
    gitlab_url = "https://gitlab.example.com"   # which GitLab to ask
    group = "acme"                              # what it streams: group = PATH,
                                                # project = PATH, or instance_events = true
    gitlab_token_env = "GITLAB_TOKEN"           # or gitlab_token_file: never inline
    gitlab_destination_id = "gid://..."         # optional: read the filters from GitLab
    reconcile_every_minutes = 10                # optional: reconcile continuously in run and
    reconcile_overlap_minutes = 5               # receive (off without it)

The token is looked up only when reconcile runs (``target``), so a receiver starts whether or
not the GitLab token is in its environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from auditstream.client.audit_events import AuditScope
from auditstream.common.secrets import Secret
from auditstream.reconcile.errors import NotConfigured
from auditstream.reconcile.schedule import Schedule


@dataclass(frozen=True, slots=True)
class ReconcileTarget:
    """One destination as reconcile sees it: which GitLab, which tree, as whom.

    ``instance`` and ``destination`` are the journal's dedup scope and destination name (the
    same as the receiver's, so a streamed and a backfilled copy are one event).
    ``destination_id`` (GitLab's id, written by ``--write-config``) lets reconcile read the
    destination's event-type and namespace filters from GitLab itself.
    """

    destination: str
    instance: str
    gitlab_url: str
    scope: AuditScope
    token: Secret
    destination_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReconcileSettings:
    """A destination's reconcile keys as written in the file (the token not yet read)."""

    destination: str
    instance: str
    gitlab_url: str | None
    scope: AuditScope | None
    token_env: str | None = None
    token_file: Path | None = None
    destination_id: str | None = None
    schedule: Schedule | None = None  # continuous reconcile; None: only 'backfill'
    where: str = field(default="", compare=False)  # "file: receiver.destinations[i]."

    def target(self, environ: Mapping[str, str] | None = None) -> ReconcileTarget:
        """The target, with the GitLab token read now; ``NotConfigured`` names what lacks."""
        environ = os.environ if environ is None else environ
        if self.gitlab_url is None:
            raise NotConfigured(f"{self.where}gitlab_url: reconcile needs GitLab's URL")
        if self.scope is None:
            raise NotConfigured(f"{self.where}group: reconcile needs what the destination "
                                "streams: group = PATH, project = PATH or "
                                "instance_events = true")
        return ReconcileTarget(destination=self.destination, instance=self.instance,
                               gitlab_url=self.gitlab_url, scope=self.scope,
                               token=self._token(environ), destination_id=self.destination_id)

    def _token(self, environ: Mapping[str, str]) -> Secret:
        if self.token_env is not None:
            value = environ.get(self.token_env, "").strip()
            if not value:
                raise NotConfigured(f"{self.where}gitlab_token_env: environment variable "
                                    f"{self.token_env} is not set or empty")
            return Secret(value)
        if self.token_file is not None:
            try:
                value = self.token_file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise NotConfigured(f"{self.where}gitlab_token_file: cannot read "
                                    f"{self.token_file}: {exc}") from exc
            if not value:
                raise NotConfigured(f"{self.where}gitlab_token_file: {self.token_file} is "
                                    "empty")
            return Secret(value)
        raise NotConfigured(f"{self.where}gitlab_token_env: reconcile needs a GitLab token "
                            "(gitlab_token_env or gitlab_token_file) of a group Owner, a "
                            "project Maintainer or an administrator")
