"""Errors of reconcile.

    ReconcileError               base
    └── NotConfigured            the destination lacks what reconcile needs (gitlab_url, what it
                                 streams, a GitLab token); fix the config, retrying cannot help

GitLab's own refusals come as ``client.errors.GitLabError`` and journal failures as
``journal.JournalError``, unchanged: each already says whether retrying helps.
"""

from __future__ import annotations


class ReconcileError(Exception):
    """Base of reconcile's own errors."""


class NotConfigured(ReconcileError):
    """The destination's config lacks what reconcile needs; the message names the key."""
