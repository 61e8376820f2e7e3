"""The ``auditstream`` command: one root group, a sub-group per noun."""

from __future__ import annotations

import click

from auditstream.cli.backfill import backfill_command
from auditstream.cli.demo import demo
from auditstream.cli.destinations import destinations
from auditstream.cli.journal import journal
from auditstream.cli.logs import configure_logging
from auditstream.cli.run import receive, relay, run
from auditstream.cli.serve import serve
from auditstream.cli.settings import filters, headers


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-level", default="info", show_default=True, envvar="AUDITSTREAM_LOG_LEVEL",
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              help="Least severe log level written to stderr.")
@click.version_option(package_name="auditstream")
def cli(log_level: str) -> None:
    """auditstream: GitLab audit events into your SIEM, none lost, none doubled."""
    configure_logging(log_level)


cli.add_command(run)
cli.add_command(receive)
cli.add_command(relay)
cli.add_command(journal)
cli.add_command(destinations)
cli.add_command(headers)
cli.add_command(filters)
cli.add_command(demo)
cli.add_command(serve)
cli.add_command(backfill_command, name="backfill")


def main() -> None:
    cli(prog_name="auditstream")
