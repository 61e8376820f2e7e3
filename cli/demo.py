"""``auditstream demo``: see the whole flow work within a minute, with no configuration."""

from __future__ import annotations

import asyncio
import logging
import signal

import click

from auditstream.cli.demo_run import SINK_FAULTS, DemoOptions, DemoSummary, DemoWorld, run_demo


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
              help="Leave everything up afterwards and print the URLs and tokens to play with.")
def demo(events: int, sink_faults: str, duplicate_rate: float, outage_share: float,
         keep_running: bool) -> None:
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
    with click.progressbar(length=events, label="events at the sink",
                           show_pos=True) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        summary = asyncio.run(run_demo(options, progress,
                                       _stay_up if keep_running else None))
    _print(summary)
    if summary.problems:
        raise click.ClickException("the figures do not add up: " + "; ".join(summary.problems))


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
    loop = asyncio.get_running_loop()
    stopped: asyncio.Future[None] = loop.create_future()

    def stop() -> None:
        if not stopped.done():
            stopped.set_result(None)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)
    return stopped
