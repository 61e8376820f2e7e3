"""``auditstream headers`` and ``auditstream filters``: what GitLab sends, and which events."""

from __future__ import annotations

import click

from client.cli_gitlab_common import call, gitlab_options, target
from client.gitlab.ids import short_id
from client.output import OUTPUT_OPTION, echo_json, echo_table


@click.group()
def headers() -> None:
    """Custom HTTP headers GitLab sends with each event to a destination."""


@headers.command("list")
@gitlab_options
@click.argument("destination_id")
@OUTPUT_OPTION
def list_headers(gitlab_url: str, token: str | None, group: str | None, instance: bool,
                 destination_id: str, output: str) -> None:
    """The headers of one destination."""
    where = target(gitlab_url, token, group, instance)
    found = call(where, lambda api: api.destinations())
    wanted = {destination_id, short_id(destination_id)}
    matches = [d for d in found if d.id in wanted or short_id(d.id) in wanted]
    if not matches:
        raise click.ClickException(f"GitLab: no destination {destination_id} in "
                                   f"{group or 'the instance'}")
    rows = [(h.id, h.key, h.value) for h in matches[0].headers]
    if output == "json":
        echo_json([{"id": i, "key": k, "value": v} for i, k, v in rows])
    elif rows:
        echo_table(["id", "key", "value"], [[short_id(i), k, v] for i, k, v in rows])
    else:
        click.echo("no headers")


@headers.command("add")
@gitlab_options
@click.argument("destination_id")
@click.argument("key")
@click.argument("value")
def add_header(gitlab_url: str, token: str | None, group: str | None, instance: bool,
               destination_id: str, key: str, value: str) -> None:
    """Send KEY: VALUE with every event to the destination."""
    where = target(gitlab_url, token, group, instance)
    header = call(where, lambda api: api.add_header(destination_id, key, value))
    click.echo(f"added header {short_id(header.id)}: {header.key}")


@headers.command("update")
@gitlab_options
@click.argument("header_id")
@click.argument("key")
@click.argument("value")
def update_header(gitlab_url: str, token: str | None, group: str | None, instance: bool,
                  header_id: str, key: str, value: str) -> None:
    """Change a header's key and value."""
    where = target(gitlab_url, token, group, instance)
    header = call(where, lambda api: api.update_header(header_id, key, value))
    click.echo(f"updated header {short_id(header.id)}: {header.key}")


@headers.command("delete")
@gitlab_options
@click.argument("header_id")
def delete_header(gitlab_url: str, token: str | None, group: str | None, instance: bool,
                  header_id: str) -> None:
    """Stop sending a header."""
    where = target(gitlab_url, token, group, instance)
    call(where, lambda api: api.delete_header(header_id))
    click.echo(f"deleted header {header_id}")


@click.group()
def filters() -> None:
    """Which events a destination receives (all of them when it has no filter)."""


@filters.command("add")
@gitlab_options
@click.argument("destination_id")
@click.option("--event-type", "event_types", multiple=True, required=True,
              help="An audit event type to stream, e.g. repository_git_operation (repeatable).")
def add_filters(gitlab_url: str, token: str | None, group: str | None, instance: bool,
                destination_id: str, event_types: tuple[str, ...]) -> None:
    """Stream only these event types to the destination (adds to those already there)."""
    where = target(gitlab_url, token, group, instance)
    now = call(where, lambda api: api.add_event_types(destination_id, list(event_types)))
    click.echo("event type filters: " + (", ".join(now) or "none (all events)"))


@filters.command("remove")
@gitlab_options
@click.argument("destination_id")
@click.option("--event-type", "event_types", multiple=True, required=True,
              help="An event type filter to remove (repeatable).")
def remove_filters(gitlab_url: str, token: str | None, group: str | None, instance: bool,
                   destination_id: str, event_types: tuple[str, ...]) -> None:
    """Remove event type filters; with none left, the destination gets every event."""
    where = target(gitlab_url, token, group, instance)
    call(where, lambda api: api.remove_event_types(destination_id, list(event_types)))
    click.echo(f"removed {len(event_types)} event type filter(s)")
