"""``auditstream headers`` and ``auditstream filters``: what GitLab sends, and which events.

DESTINATION_ID and HEADER_ID are the numbers in the ``id`` column of ``destinations list`` and
``headers list`` (or the full ``gid://gitlab/...`` ids their ``--output json`` shows)."""

from __future__ import annotations

import click

from auditstream.cli.gitlab_options import GitLabTarget, call, gitlab_options
from auditstream.cli.output import OUTPUT_OPTION, echo_json, echo_table
from auditstream.client.api import StreamingApi
from auditstream.client.ids import short_id
from auditstream.client.models import Destination, StreamingHeader
from auditstream.common.printable import printable


@click.group()
def headers() -> None:
    """Custom HTTP headers GitLab sends with each event to a destination.

    DESTINATION_ID is the number in the id column of `destinations list` (or its gid)."""


@headers.command("list")
@gitlab_options
@click.argument("destination_id")
@OUTPUT_OPTION
def list_headers(where: GitLabTarget, destination_id: str, output: str) -> None:
    """The headers of one destination.

    DESTINATION_ID: the number in the id column of `destinations list`, or its gid."""
    found = find_destination(where, call(where, lambda api: api.destinations()), destination_id)
    if output == "json":
        echo_json([header_json(h) for h in found.headers])
    elif found.headers:
        echo_table(["id", "key", "value"],
                   [[short_id(h.id), h.key, h.value] for h in found.headers])
    else:
        click.echo("no headers")


@headers.command("add")
@gitlab_options
@click.argument("destination_id")
@click.argument("key")
@click.argument("value")
@OUTPUT_OPTION
def add_header(where: GitLabTarget, destination_id: str, key: str, value: str,
               output: str) -> None:
    """Send KEY: VALUE with every event to the destination.

    DESTINATION_ID: the number in the id column of `destinations list`, or its gid."""
    header = call(where, lambda api: api.add_header(destination_id, key, value))
    _show_header("added", header, output)


@headers.command("update")
@gitlab_options
@click.argument("header_id")
@click.argument("key")
@click.argument("value")
@OUTPUT_OPTION
def update_header(where: GitLabTarget, header_id: str, key: str, value: str,
                  output: str) -> None:
    """Change a header's key and value (HEADER_ID: the id column of `headers list`)."""
    header = call(where, lambda api: api.update_header(header_id, key, value))
    _show_header("updated", header, output)


@headers.command("delete")
@gitlab_options
@click.argument("header_id")
@OUTPUT_OPTION
def delete_header(where: GitLabTarget, header_id: str, output: str) -> None:
    """Stop sending a header (HEADER_ID: the id column of `headers list`)."""
    call(where, lambda api: api.delete_header(header_id))
    if output == "json":
        echo_json({"deleted": header_id})
    else:
        click.echo(f"deleted header {header_id}")


def header_json(header: StreamingHeader) -> dict[str, object]:
    return {"id": header.id, "key": header.key, "value": header.value, "active": header.active}


def _show_header(done: str, header: StreamingHeader, output: str) -> None:
    if output == "json":
        echo_json(header_json(header))
    else:
        click.echo(f"{done} header {short_id(header.id)}: {printable(header.key)}")


@click.group()
def filters() -> None:
    """Which events a destination receives (all of them when it has no filter).

    DESTINATION_ID is the number in the id column of `destinations list` (or its gid)."""


@filters.command("list")
@gitlab_options
@click.argument("destination_id", required=False)
@OUTPUT_OPTION
def list_filters(where: GitLabTarget, destination_id: str | None, output: str) -> None:
    """The event type and namespace filters of one destination, or of all of them.

    DESTINATION_ID: the number in the id column of `destinations list`, or its gid."""
    found = call(where, lambda api: api.destinations())
    if destination_id is not None:
        found = [find_destination(where, found, destination_id)]
    show_filters(found, output)


@filters.command("add")
@gitlab_options
@click.argument("destination_id")
@click.option("--event-type", "event_types", multiple=True,
              help="An audit event type to stream, e.g. repository_git_operation (repeatable).")
@click.option("--namespace", help="Stream only events of this subgroup or project (full path).")
@click.option("--namespace-kind", type=click.Choice(["group", "project"]), default="group",
              show_default=True, help="Whether --namespace is a group or a project.")
@OUTPUT_OPTION
def add_filters(where: GitLabTarget, destination_id: str, event_types: tuple[str, ...],
                namespace: str | None, namespace_kind: str, output: str) -> None:
    """Narrow what the destination receives: by event type (added to those already there)
    and/or to one namespace of the group's tree. Shows the filters it then has.

    DESTINATION_ID: the number in the id column of `destinations list`, or its gid."""
    if not event_types and not namespace:
        raise click.UsageError("give --event-type TYPE (repeatable) and/or --namespace PATH")

    async def change(api: StreamingApi) -> list[Destination]:
        if event_types:
            await api.add_event_types(destination_id, list(event_types))
        if namespace:
            await api.set_namespace_filter(destination_id, namespace, namespace_kind)
        return await api.destinations()

    show_filters([find_destination(where, call(where, change), destination_id)], output)


@filters.command("remove")
@gitlab_options
@click.argument("destination_id")
@click.option("--event-type", "event_types", multiple=True,
              help="An event type filter to remove (repeatable).")
@click.option("--namespace", "remove_namespace", is_flag=True,
              help="Remove the destination's namespace filter.")
@OUTPUT_OPTION
def remove_filters(where: GitLabTarget, destination_id: str, event_types: tuple[str, ...],
                   remove_namespace: bool, output: str) -> None:
    """Remove filters; with none left, the destination gets every event of the group.
    Shows the filters it then has.

    DESTINATION_ID: the number in the id column of `destinations list`, or its gid."""
    if not event_types and not remove_namespace:
        raise click.UsageError("give --event-type TYPE (repeatable) and/or --namespace")

    async def change(api: StreamingApi) -> list[Destination]:
        if event_types:
            await api.remove_event_types(destination_id, list(event_types))
        if remove_namespace:
            await api.remove_namespace_filter(destination_id)
        return await api.destinations()

    show_filters([find_destination(where, call(where, change), destination_id)], output)


def show_filters(found: list[Destination], output: str) -> None:
    if output == "json":
        echo_json([{"id": d.id, "name": d.name,
                    "event_type_filters": list(d.event_type_filters),
                    "namespace_filter": d.namespace_filter} for d in found])
    elif not found:
        click.echo("no streaming destinations")
    else:
        echo_table(["id", "name", "event types", "namespace"],
                   [[short_id(d.id), d.name, ",".join(d.event_type_filters) or "all",
                     d.namespace_filter or "all"] for d in found])


def find_destination(where: GitLabTarget, found: list[Destination],
                     destination_id: str) -> Destination:
    """The destination ``destination_id`` (its number or gid) names, or a clear error."""
    wanted = {destination_id, short_id(destination_id)}
    for destination in found:
        if destination.id in wanted or short_id(destination.id) in wanted:
            return destination
    raise click.ClickException(f"GitLab: no destination {destination_id} in "
                      f"{'group ' + where.group if where.group else 'the instance'}")
