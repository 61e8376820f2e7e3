"""The ``auditstream`` command: one root group, a sub-group per noun.

Sub-commands are imported when they run (see ``lazy.py``): ``auditstream --help`` and any one
command import only what they need."""

from __future__ import annotations

import click

from auditstream.cli.lazy import LazyCommand, LazyGroup
from auditstream.cli.logs import configure_logging

# name -> where it lives, and its line in `auditstream --help` (the first sentence of its
# docstring; a test holds the two together).
COMMANDS = {
    "run": LazyCommand("auditstream.cli.run:run",
                       "Receive GitLab's stream and relay it to the sinks: the main job, in "
                       "one process."),
    "receive": LazyCommand("auditstream.cli.run:receive",
                           "Receive GitLab's audit event stream and keep every event in the "
                           "journal."),
    "relay": LazyCommand("auditstream.cli.run:relay",
                         "Relay the journal to the sinks (with the receiver running "
                         "elsewhere)."),
    "journal": LazyCommand("auditstream.cli.journal:journal",
                           "Inspect the journal: counts, cursors, the latest events."),
    "deadletters": LazyCommand("auditstream.cli.deadletters:deadletters",
                               "The events a sink refused for good: list them, retry them once "
                               "fixed, or drop them."),
    "replay": LazyCommand("auditstream.cli.replay:replay",
                          "Send a range of the journal to one sink again, through the sink's "
                          "usual pipeline."),
    "destinations": LazyCommand("auditstream.cli.destinations:destinations",
                                "List, create, update and delete streaming destinations."),
    "headers": LazyCommand("auditstream.cli.settings:headers",
                           "Custom HTTP headers GitLab sends with each event to a "
                           "destination."),
    "filters": LazyCommand("auditstream.cli.settings:filters",
                           "Which events a destination receives (all of them when it has no "
                           "filter)."),
    "status": LazyCommand("auditstream.cli.status:status",
                          "One screen: the receiver, the journal, each sink, dead letters, "
                          "destinations."),
    "demo": LazyCommand("auditstream.cli.demo:demo",
                        "Run GitLab and Splunk stand-ins with auditstream between them, then "
                        "say what happened."),
    "backfill": LazyCommand("auditstream.cli.backfill:backfill_command",
                            "Fetch what the stream missed from GitLab's stored audit "
                            "events."),
    "serve": LazyCommand("auditstream.cli.serve:serve",
                         "Run a stand-in server that behaves as the real one does, faults "
                         "included."),
}


@click.group(cls=LazyGroup, lazy_commands=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-level", default="info", show_default=True, envvar="AUDITSTREAM_LOG_LEVEL",
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              help="Least severe log level written to stderr.")
@click.version_option(package_name="auditstream")
def cli(log_level: str) -> None:
    """auditstream: GitLab audit events into your SIEM, none lost, none doubled."""
    configure_logging(log_level)


def main() -> None:
    cli(prog_name="auditstream")
