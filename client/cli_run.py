"""``auditstream receive``: the receiver alone, GitLab's events into the journal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

import click

from client.config import AppConfig, load_config, parse_listen, secret_from_env, secret_from_file
from client.errors import ConfigError
from journal import JournalConfig, JournalError, open_journal
from receiver.config import DEFAULT_DESTINATION, DestinationConfig, ReceiverConfig
from receiver.service import purge_periodically, start_receiver

log = logging.getLogger("auditstream.cli")


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              envvar="AUDITSTREAM_CONFIG", help="The TOML config file.")
@click.option("--listen", help="HOST:PORT to listen on (default 127.0.0.1:8080); "
                               "overrides the config file.")
@click.option("--journal", "journal_path", type=click.Path(path_type=Path, dir_okay=False),
              help="The journal file (default auditstream.db); overrides the config file.")
@click.option("--token-env", multiple=True,
              help="Environment variable holding the destination's verification token "
                   "(twice while rotating). Without --config: one destination, 'default'.")
@click.option("--token-file", type=click.Path(path_type=Path, dir_okay=False), multiple=True,
              help="File holding the verification token, instead of --token-env.")
@click.option("--instance", default="default", show_default=True,
              help="Without --config: the GitLab instance name that scopes deduplication.")
def receive(config_path: Path | None, listen: str | None, journal_path: Path | None,
            token_env: tuple[str, ...], token_file: tuple[Path, ...], instance: str) -> None:
    """Receive GitLab's audit event stream and keep every event in the journal."""
    try:
        config = receive_config(config_path, listen, journal_path, token_env, token_file, instance)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        asyncio.run(serve_receiver(config))
    except (JournalError, OSError) as exc:
        raise click.ClickException(f"receiver stopped: {exc}") from exc


def receive_config(config_path: Path | None, listen: str | None, journal_path: Path | None,
                   token_env: tuple[str, ...], token_file: tuple[Path, ...],
                   instance: str) -> AppConfig:
    """Options (and the file, if any) as one validated config; options win over the file."""
    if config_path is not None:
        if token_env or token_file:
            raise ConfigError("--token-env/--token-file go without --config; "
                              "put tokens in the config file's destinations")
        config = load_config(config_path)
    else:
        tokens = [*(secret_from_env(name, "--token-env", os.environ) for name in token_env),
                  *(secret_from_file(path, "--token-file") for path in token_file)]
        if not tokens:
            raise ConfigError("give --config FILE, or --token-env NAME for a single destination")
        if len(tokens) > 2:
            raise ConfigError("--token-env/--token-file: at most two tokens (old and new)")
        destination = DestinationConfig(name=DEFAULT_DESTINATION, tokens=tuple(tokens),
                                        instance=instance)
        config = AppConfig(receiver=ReceiverConfig(destinations=(destination,)),
                           journal=JournalConfig())
    return _override(config, listen, journal_path)


def _override(config: AppConfig, listen: str | None, journal_path: Path | None) -> AppConfig:
    receiver, journal = config.receiver, config.journal
    if listen is not None:
        host, port = parse_listen(listen, "--listen")
        receiver = replace(receiver, host=host, port=port)
    if journal_path is not None:
        journal = replace(journal, path=journal_path)
    return AppConfig(receiver=receiver, journal=journal)


async def serve_receiver(config: AppConfig) -> None:
    """Run until SIGTERM or SIGINT, then finish in-flight requests and close the journal."""
    stop = _stop_on_signals()
    journal = await open_journal(config.journal)
    try:
        receiver = await start_receiver(config.receiver, journal)
        names = ", ".join(d.name for d in config.receiver.destinations)
        click.echo(f"auditstream receiver listening on {receiver.url} "
                   f"(destinations: {names}; journal: {config.journal.path})")
        sys.stdout.flush()
        purge = asyncio.create_task(purge_periodically(journal, config.journal))
        await stop.wait()
        log.info("stopping: finishing in-flight requests")
        await receiver.stop()
        purge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purge
    finally:
        await journal.close()
    log.info("stopped")


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop
