"""``auditstream serve``: the stand-in servers, for demos and for tests from the shell."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

import click

from client.config import parse_listen, secret_from_env
from client.errors import ConfigError
from server.hec import HecConfig, HecConfigError, HecToken, start_hec
from server.hec.config import DEFAULT_INDEX, DEFAULT_MAX_CONTENT_LENGTH

log = logging.getLogger("auditstream.cli")

DEFAULT_HEC_LISTEN = "127.0.0.1:8088"  # Splunk's HEC port, on loopback


@click.group()
def serve() -> None:
    """Run a stand-in server that behaves as the real one does, faults included."""


@serve.command("hec")
@click.option("--listen", default=DEFAULT_HEC_LISTEN, show_default=True,
              help="HOST:PORT to listen on; port 0 picks a free one (the URL is printed).")
@click.option("--token-env", required=True,
              help="Environment variable holding the HEC token clients must send "
                   "(never printed).")
@click.option("--ack", is_flag=True, help="Turn indexer acknowledgement on for the token "
                                          "(clients must then send a channel).")
@click.option("--index", "indexes", multiple=True,
              help="An index the token may write to (repeat for more); the first is the "
                   f"default. Without it, any index, default {DEFAULT_INDEX!r}.")
@click.option("--max-content-length", type=click.IntRange(min=1),
              default=DEFAULT_MAX_CONTENT_LENGTH, show_default=True,
              help="Largest request body in bytes, measured on the wire (after gzip); "
                   "larger ones get 413.")
def hec(listen: str, token_env: str, ack: bool, indexes: tuple[str, ...],
        max_content_length: int) -> None:
    """A Splunk HTTP Event Collector stand-in that behaves as Splunk does.

    Prints "... listening on URL", then runs until SIGTERM or SIGINT. What it received, its
    scripted faults and its pending acks are under URL/_stand-in/ (received, faults, acks).
    """
    try:
        config = hec_config(listen, token_env, ack, indexes, max_content_length)
    except (ConfigError, HecConfigError) as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        asyncio.run(serve_hec(config))
    except OSError as exc:
        raise click.ClickException(f"cannot serve on {listen}: {exc.strerror or exc}") from exc


def hec_config(listen: str, token_env: str, ack: bool, indexes: tuple[str, ...],
               max_content_length: int) -> HecConfig:
    """The options as one validated config (``ConfigError``/``HecConfigError`` name the option)."""
    host, port = parse_listen(listen, "--listen")
    token = secret_from_env(token_env, "--token-env", os.environ)
    if any(not index.strip() for index in indexes):
        raise ConfigError("--index: an index name cannot be empty")
    return HecConfig(
        tokens=(HecToken(token.reveal(), indexes=indexes,
                         default_index=indexes[0] if indexes else DEFAULT_INDEX, ack=ack),),
        host=host, port=port, max_content_length=max_content_length)


async def serve_hec(config: HecConfig) -> None:
    """Listen, print the URL, and stop cleanly on SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    running = await start_hec(config)
    try:
        # The receiver's wording, so scripts and tests find the URL the same way.
        click.echo(f"auditstream HEC stand-in listening on {running.url}")
        sys.stdout.flush()
        log.info("HEC stand-in listening", extra={"url": running.url,
                                                  "ack": config.tokens[0].ack})
        await stop.wait()
        log.info("stopping")
    finally:
        await running.stop()
    log.info("stopped", extra={"requests": len(running.received.requests),
                               "envelopes": len(running.received.envelopes)})
