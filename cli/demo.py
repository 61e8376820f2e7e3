"""``auditstream demo``: see the whole flow work within a minute, with no configuration."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from dataclasses import asdict

import click

from auditstream.cli.demo_run import SINK_FAULTS, DemoOptions, DemoSummary, DemoWorld, run_demo
from auditstream.cli.output import OUTPUT_OPTION, echo_json


@click.command()
@click.option("--events", type=click.IntRange(1, 100_000), default=300, show_default=True,
              help="How many audit events GitLab makes.")
@click.option("--sink-faults", default="", metavar="LIST",
              help=f"Faults the HEC sink injects, comma-separated: {', '.join(SINK_FAULTS)}.")
@click.option("--duplicate-rate", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Share of deliveries GitLab sends twice (same id).")
@click.option("--outage-share", type=click.FloatRange(0, 0.9), default=0.2, show_default=True,
              help="Share of the events GitLab makes while the receiver is down (reconcile "
                   "brings the stored ones back).")
@click.option("--keep-running", is_flag=True,
              help="Print the summary, then leave everything up and print the URLs and tokens "
                   "to play with, until Ctrl-C.")
@OUTPUT_OPTION
def demo(events: int, sink_faults: str, duplicate_rate: float, outage_share: float,
         keep_running: bool, output: str) -> None:
    """Run GitLab and Splunk stand-ins with auditstream between them, then say what happened.

    Exits 1 if the figures do not add up."""
    faults = tuple(f.strip() for f in sink_faults.split(",") if f.strip())
    unknown = [f for f in faults if f not in SINK_FAULTS]
    if unknown:
        raise click.UsageError(f"--sink-faults: unknown {', '.join(unknown)}; "
                               f"known: {', '.join(SINK_FAULTS)}")
    options = DemoOptions(events=events, sink_faults=faults, duplicate_rate=duplicate_rate,
                          outage_share=outage_share)
    if logging.getLogger().level > logging.DEBUG:
        # The forged requests and sink faults are the point of the demo: their warnings
        # would only break up the progress bar. --log-level debug shows everything.
        logging.getLogger("auditstream").setLevel(logging.ERROR)
    if output == "json":
        summary = asyncio.run(run_demo(options, _no_progress,
                                       _stay_up_json if keep_running else None))
        if not keep_running:
            echo_json(asdict(summary))
    else:
        summary = _run_with_progress_bar(options, keep_running)
    if summary.problems:
        raise click.ClickException("the figures do not add up: " + "; ".join(summary.problems))


def _run_with_progress_bar(options: DemoOptions, keep_running: bool) -> DemoSummary:
    with click.progressbar(length=options.events, label="events at the sink",
                           show_pos=True) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        def stay_up(world: DemoWorld, summary: DemoSummary) -> asyncio.Future[None]:
            # The summary first, while everything is still up: its figures are those of
            # the demo's own events, not of what is played with afterwards.
            bar.render_finish()
            bar.hidden = True
            _print(summary)
            return _stay_up(world)

        summary = asyncio.run(run_demo(options, progress, stay_up if keep_running else None))
    if not keep_running:
        _print(summary)
    return summary


def _no_progress(done: int, total: int) -> None:
    """--output json: no progress bar to draw."""


def _stay_up_json(world: DemoWorld, summary: DemoSummary) -> asyncio.Future[None]:
    """The summary and what is running as one JSON object; how to stop on stderr."""
    echo_json({**asdict(summary), "running": {
        "gitlab_url": world.gitlab_url, "gitlab_owner_token": world.owner_token,
        "receiver_url": world.receiver_url, "hec_url": world.hec_url,
        "hec_token": world.hec_token, "config": str(world.config_path),
        "journal": str(world.journal_path)}})
    click.echo("Ctrl-C to stop.", err=True)
    sys.stdout.flush()
    return _until_signalled()


def _print(summary: DemoSummary) -> None:
    rows = [
        ("streamed by GitLab (POSTs to the receiver)", summary.streamed),
        ("answered 200 by the receiver", summary.answered_200),
        ("not answered (receiver down; GitLab never retries)",
         summary.streamed - summary.answered_200),
        ("distinct events among them", summary.distinct),
        ("accepted into the journal", summary.accepted),
        ("duplicates refused", summary.duplicates_refused),
        ("forged requests rejected (401)", f"{summary.forged_rejected} of {summary.forged_sent}"),
        ("made while the receiver was down", summary.outage.made),
        ("brought back by reconcile (GitLab's stored events)",
         len(summary.outage.brought_back)),
        ("could not come back (stream-only types, never stored)",
         summary.outage.stream_only),
        ("delivered to the HEC sink", f"{summary.at_sink_distinct} distinct, "
                                      f"{summary.at_sink} envelopes"),
        ("dead letters", summary.dead_letters),
        ("time", f"{summary.seconds:.1f} s"),
    ]
    width = max(len(label) for label, _ in rows)
    click.echo()
    for label, value in rows:
        click.echo(f"  {label.ljust(width)}  {value}")
    click.echo("  all figures add up" if not summary.problems else "  PROBLEMS:")
    for problem in summary.problems:
        click.echo(f"    - {problem}")


def _stay_up(world: DemoWorld) -> asyncio.Future[None]:
    click.echo(f"\nGitLab stand-in   {world.gitlab_url}  (owner token {world.owner_token})")
    click.echo(f"receiver          {world.receiver_url}")
    click.echo(f"HEC stand-in      {world.hec_url}  (token {world.hec_token})")
    click.echo(f"config, journal   {world.config_path}, {world.journal_path}")
    click.echo("Ctrl-C to stop.")
    sys.stdout.flush()  # a script or a pipe reads this now, not when the demo ends
    return _until_signalled()


def _until_signalled() -> asyncio.Future[None]:
    loop = asyncio.get_running_loop()
    stopped: asyncio.Future[None] = loop.create_future()

    def stop() -> None:
        if not stopped.done():
            stopped.set_result(None)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)
    return stopped
