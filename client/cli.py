"""The ``auditstream`` command: one root group, a sub-group per noun."""

from __future__ import annotations

import click

from client.cli_demo import demo
from client.cli_gitlab import destinations
from client.cli_gitlab_settings import filters, headers
from client.cli_journal import journal
from client.cli_run import receive, relay, run
from client.cli_serve import serve
from client.logs import configure_logging


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


def main() -> None:
    cli(prog_name="auditstream")
