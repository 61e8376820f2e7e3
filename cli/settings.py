"""``auditstream headers`` and ``auditstream filters``: what GitLab sends, and which events."""

from __future__ import annotations

import click

from auditstream.cli.gitlab_options import GitLabTarget, call, gitlab_options
from auditstream.cli.output import OUTPUT_OPTION, echo_json, echo_table
from auditstream.client.ids import short_id


@click.group()
def headers() -> None:
    """Custom HTTP headers GitLab sends with each event to a destination."""


@headers.command("list")
@gitlab_options
@click.argument("destination_id")
@OUTPUT_OPTION
def list_headers(where: GitLabTarget, destination_id: str, output: str) -> None:
    """The headers of one destination."""
    found = call(where, lambda api: api.destinations())
    wanted = {destination_id, short_id(destination_id)}
    matches = [d for d in found if d.id in wanted or short_id(d.id) in wanted]
    if not matches:
        raise click.ClickException(f"GitLab: no destination {destination_id} in "
                                   f"{where.group or 'the instance'}")
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
def add_header(where: GitLabTarget, destination_id: str, key: str, value: str) -> None:
    """Send KEY: VALUE with every event to the destination."""
    header = call(where, lambda api: api.add_header(destination_id, key, value))
    click.echo(f"added header {short_id(header.id)}: {header.key}")


@headers.command("update")
@gitlab_options
@click.argument("header_id")
@click.argument("key")
@click.argument("value")
def update_header(where: GitLabTarget, header_id: str, key: str, value: str) -> None:
    """Change a header's key and value."""
    header = call(where, lambda api: api.update_header(header_id, key, value))
    click.echo(f"updated header {short_id(header.id)}: {header.key}")


@headers.command("delete")
@gitlab_options
@click.argument("header_id")
def delete_header(where: GitLabTarget, header_id: str) -> None:
    """Stop sending a header."""
    call(where, lambda api: api.delete_header(header_id))
    click.echo(f"deleted header {header_id}")


@click.group()
def filters() -> None:
    """Which events a destination receives (all of them when it has no filter)."""


@filters.command("add")
@gitlab_options
@click.argument("destination_id")
@click.option("--event-type", "event_types", multiple=True,
              help="An audit event type to stream, e.g. repository_git_operation (repeatable).")
@click.option("--namespace", help="Stream only events of this subgroup or project (full path).")
@click.option("--namespace-kind", type=click.Choice(["group", "project"]), default="group",
              show_default=True, help="Whether --namespace is a group or a project.")
def add_filters(where: GitLabTarget, destination_id: str, event_types: tuple[str, ...],
                namespace: str | None, namespace_kind: str) -> None:
    """Narrow what the destination receives: by event type (added to those already there)
    and/or to one namespace of the group's tree."""
    if not event_types and not namespace:
        raise click.UsageError("give --event-type TYPE (repeatable) and/or --namespace PATH")
    if event_types:
        now = call(where, lambda api: api.add_event_types(destination_id, list(event_types)))
        click.echo("event type filters: " + (", ".join(now) or "none (all events)"))
    if namespace:
        path = call(where, lambda api: api.set_namespace_filter(destination_id, namespace,
                                                                namespace_kind))
        click.echo(f"namespace filter: {path}")


@filters.command("remove")
@gitlab_options
@click.argument("destination_id")
@click.option("--event-type", "event_types", multiple=True,
              help="An event type filter to remove (repeatable).")
@click.option("--namespace", "remove_namespace", is_flag=True,
              help="Remove the destination's namespace filter.")
def remove_filters(where: GitLabTarget, destination_id: str, event_types: tuple[str, ...],
                   remove_namespace: bool) -> None:
    """Remove filters; with none left, the destination gets every event of the group."""
    if not event_types and not remove_namespace:
        raise click.UsageError("give --event-type TYPE (repeatable) and/or --namespace")
    if event_types:
        call(where, lambda api: api.remove_event_types(destination_id, list(event_types)))
        click.echo(f"removed {len(event_types)} event type filter(s)")
    if remove_namespace:
        call(where, lambda api: api.remove_namespace_filter(destination_id))
        click.echo("removed the namespace filter")
