"""``auditstream destinations | headers | filters``: set up GitLab's streaming from the shell."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import click

from auditstream.cli.canary import DEFAULT_CANARY_TIMEOUT_SECONDS
from auditstream.cli.gitlab_options import GitLabTarget, call, gitlab_options
from auditstream.cli.output import OUTPUT_OPTION, echo_json, echo_table
from auditstream.client import ids
from auditstream.client.ids import short_id
from auditstream.client.models import Destination, mask
from auditstream.common.printable import printable
from auditstream.config.app import load_journal_config
from auditstream.config.compare import expectations
from auditstream.config.errors import ConfigError
from auditstream.config.write import (
    DEFAULT_JOURNAL_FILE,
    check_receiver_url,
    listen_for,
    remove_destination,
    serves,
    sync_destinations,
    write_destination,
)

SHOW_TOKEN = click.option("--show-token", is_flag=True,
                          help="Show verification tokens in full (masked by default).")


@click.group()
def destinations() -> None:
    """List, create, update and delete streaming destinations."""


@destinations.command("list")
@gitlab_options
@OUTPUT_OPTION
@SHOW_TOKEN
@click.option("--page-size", type=click.IntRange(1, 100), default=100, show_default=True,
              help="Destinations asked for per request; every page is read either way.")
def list_destinations(where: GitLabTarget, output: str, show_token: bool, page_size: int) -> None:
    """Every destination of the group (or instance), all pages."""
    where = replace(where, page_size=page_size)
    found = call(where, lambda api: api.destinations())
    show(found, output, show_token)


@destinations.command("create")
@gitlab_options
@click.option("--url", "destination_url", required=True,
              help="Where GitLab sends the events: this receiver's public URL.")
@click.option("--name", help="A name (GitLab makes one up if absent).")
@click.option("--verification-token-env", metavar="NAME",
              help="Environment variable holding a token of your choice (16-24 characters); "
                   "GitLab generates one if absent.")
@click.option("--write-config", type=click.Path(path_type=Path, dir_okay=False),
              help="Add the destination and its token (to a file beside it) to this receiver "
                   "config file, so the token is never copied by hand.")
@OUTPUT_OPTION
@SHOW_TOKEN
def create_destination(where: GitLabTarget, destination_url: str, name: str | None,
                       verification_token_env: str | None, write_config: Path | None,
                       output: str, show_token: bool) -> None:
    """Create a destination; GitLab starts streaming to it at once."""
    chosen = _chosen_token(verification_token_env)
    if chosen and where.group is None:
        raise click.UsageError("instance destinations always get their token from GitLab")
    created = call(where, lambda api: api.create_destination(destination_url, name, chosen))
    show([created], output, show_token)
    if write_config is not None:
        _write(write_config, created, where)


@destinations.command("update")
@gitlab_options
@click.argument("destination_id")
@click.option("--url", "destination_url", help="A new destination URL.")
@click.option("--name", help="A new name.")
@OUTPUT_OPTION
@SHOW_TOKEN
def update_destination(where: GitLabTarget, destination_id: str, destination_url: str | None,
                       name: str | None, output: str, show_token: bool) -> None:
    """Change a destination's URL or name (GitLab never changes its token).

    DESTINATION_ID: the number in the id column of `destinations list`, or its gid."""
    if not destination_url and not name:
        raise click.UsageError("nothing to change: give --url or --name")
    updated = call(where, lambda api: api.update_destination(destination_id, destination_url,
                                                             name))
    show([updated], output, show_token)


@destinations.command("delete")
@gitlab_options
@click.argument("destination_id")
@click.option("--write-config", type=click.Path(path_type=Path, dir_okay=False),
              help="Also remove it (and its token file) from this receiver config file.")
@OUTPUT_OPTION
def delete_destination(where: GitLabTarget, destination_id: str, write_config: Path | None,
                       output: str) -> None:
    """Delete a destination; GitLab stops streaming to it at once.

    DESTINATION_ID is the number in the id column of `destinations list` (or its gid)."""
    call(where, lambda api: api.delete_destination(destination_id))
    removed = write_config is not None and _remove(write_config,
                                                   _full_id(where, destination_id))
    if output == "json":
        echo_json({"deleted": destination_id,
                   "removed_from_config": str(write_config) if removed else None})
        return
    click.echo(f"deleted destination {destination_id}")
    if removed:
        click.echo(f"removed it from {write_config}", err=True)


@destinations.command("sync")
@gitlab_options
@click.option("--config", "config_path", required=True,
              type=click.Path(path_type=Path, dir_okay=False),
              help="The receiver config file to bring in line with GitLab.")
@click.option("--receiver-url", help="Only destinations that send to this receiver (its "
                                     "public URL: the same scheme, host and port, and its "
                                     "path as whole leading segments); default: all of them.")
@OUTPUT_OPTION
def sync(where: GitLabTarget, config_path: Path, receiver_url: str | None, output: str) -> None:
    """Write the tokens of GitLab's destinations into the receiver's config, and drop the
    entries of destinations GitLab no longer has."""
    try:
        if receiver_url is not None:
            check_receiver_url(receiver_url)  # before anything is asked of GitLab
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    found = call(where, lambda api: api.destinations())
    ours = [d for d in found if receiver_url is None or serves(receiver_url, d.url)]
    scope = f"group:{where.group}" if where.group else "instance"
    new = not config_path.exists()
    try:
        report = sync_destinations(config_path, ours, scope, where.instance_name, where.url)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if new:
        _say_new_file(config_path, ours)
    if output == "json":
        echo_json({"config": str(config_path), "added": list(report.added),
                   "refreshed": list(report.updated), "removed": list(report.removed)})
        return
    click.echo(f"{config_path}: {len(report.added)} added, {len(report.updated)} refreshed, "
               f"{len(report.removed)} removed")
    for label, names in (("added", report.added), ("refreshed", report.updated),
                         ("removed", report.removed)):
        for name in names:
            click.echo(f"  {label}: {printable(name)}")


@destinations.command("check")
@gitlab_options
@click.option("--config", "config_path", required=True,
              type=click.Path(path_type=Path, dir_okay=False),
              help="The receiver config file to compare with GitLab (its journal is where "
                   "--canary looks).")
@click.option("--canary", is_flag=True,
              help="Also make GitLab emit a harmless audit event to each destination (a "
                   "custom header added and removed at once) and wait for it in the journal.")
@click.option("--canary-timeout", type=click.FloatRange(min=0.1), show_default=True,
              default=DEFAULT_CANARY_TIMEOUT_SECONDS,
              help="Seconds to wait for each canary event.")
@OUTPUT_OPTION
def check(where: GitLabTarget, config_path: Path, canary: bool, canary_timeout: float,
          output: str) -> None:
    """Compare GitLab's destinations with the receiver's config: URL path, token (by digest,
    never shown), active, event type and namespace filters, headers, and destinations only
    one side has. Exit 0 when everything agrees (and, with --canary, every canary arrived),
    1 otherwise: fit for cron or a monitoring check."""
    from auditstream.cli.check import run_check  # the journal only for this command

    try:
        expected = expectations(config_path)
        journal_config = load_journal_config(config_path) if canary else None
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    scope = f"group:{where.group}" if where.group else "instance"
    report = call(where, lambda api: run_check(api, expected, scope, journal_config,
                                               canary_timeout))
    report.show(output)
    if not report.agrees:
        raise click.exceptions.Exit(1)


def show(found: list[Destination], output: str, show_token: bool) -> None:
    if output == "json":
        echo_json([d.as_json(show_token=show_token) for d in found])
        return
    if not found:
        click.echo("no streaming destinations")
        return
    echo_table(["id", "name", "url", "token", "event types", "namespace", "headers"], [
        [short_id(d.id), d.name, d.url,
         d.verification_token if show_token else mask(d.verification_token),
         ",".join(d.event_type_filters) or "all", d.namespace_filter or "all",
         ",".join(h.key for h in d.headers) or "-"] for d in found])


def _chosen_token(env_name: str | None) -> str | None:
    if env_name is None:
        return None
    value = os.environ.get(env_name, "").strip()
    if not value:
        raise click.UsageError(f"--verification-token-env: {env_name} is not set or empty")
    return value


def _write(config_path: Path, created: Destination, where: GitLabTarget) -> None:
    new = not config_path.exists()
    try:
        token_file = write_destination(config_path, created, where.instance_name,
                                       where.url)
    except ConfigError as exc:
        raise click.ClickException(f"created in GitLab, but not written: {exc}") from exc
    # On stderr: stdout may be JSON for a script.
    click.echo(f"added destination {created.name!r} to {config_path} "
               f"(token in {token_file}, owner-only)", err=True)
    if new:
        _say_new_file(config_path, [created])


def _say_new_file(config_path: Path, written: list[Destination]) -> None:
    click.echo(f"{config_path} is new: the receiver will listen on {listen_for(written)} and "
               f"keep its journal in {DEFAULT_JOURNAL_FILE} beside it; edit them to suit",
               err=True)


def _remove(config_path: Path, full_id: str) -> bool:
    try:
        return remove_destination(config_path, full_id)
    except ConfigError as exc:
        raise click.ClickException(f"deleted in GitLab, but not removed: {exc}") from exc


def _full_id(where: GitLabTarget, destination_id: str) -> str:
    return ids.to_gid(destination_id, ids.INSTANCE_DESTINATION if where.group is None
                      else ids.GROUP_DESTINATION)
