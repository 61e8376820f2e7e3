"""``auditstream run | receive | relay``: the main job, and each half alone for scaling out."""

from __future__ import annotations

import asyncio
import functools
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from auditstream.config.app import (
    AppConfig,
    Parts,
    load_config,
    parse_listen,
    parse_receiver_listen,
    secret_from_env,
    secret_from_file,
)
from auditstream.config.errors import ConfigError
from auditstream.config.relay import check_hec_url, default_sourcetype
from auditstream.config.section import check_count
from auditstream.config.write import TOKENS_DIR
from auditstream.journal import JournalConfig, JournalError
from auditstream.receiver.config import (
    DEFAULT_DESTINATION,
    DEFAULT_INSTANCE,
    MAX_TOKENS_PER_DESTINATION,
    DestinationConfig,
    ReceiverConfig,
)
from auditstream.relay.config import FileSinkConfig, HecSinkConfig, RelayConfig, SinkConfig
from auditstream.relay.envelope import EnvelopeSettings
from auditstream.relay.formats import FORMATS, OCSF, RAW
from auditstream.wiring.errors import StartupError
from auditstream.wiring.process import Reloader, serve

DEFAULT_ARCHIVE_NAME = "events.jsonl"


def receiver_options(command: Any) -> Any:
    for option in reversed([
        click.option("--config", "config_path", envvar="AUDITSTREAM_CONFIG",
                     type=click.Path(path_type=Path, dir_okay=False),
                     help="The TOML config file."),
        click.option("--listen", help="HOST:PORT to listen on (default 127.0.0.1:8080), or "
                                      "fd:N for a socket inherited open (systemd socket "
                                      "activation: fd:3); overrides the config file."),
        click.option("--journal", "journal_path", type=click.Path(path_type=Path, dir_okay=False),
                     help="The journal file (default auditstream.db); overrides the config."),
        click.option("--token-env", multiple=True,
                     help="Environment variable holding the destination's verification token "
                          "(twice while rotating). Without --config: one destination, "
                          "'default'."),
        click.option("--token-file", type=click.Path(path_type=Path, dir_okay=False),
                     multiple=True, help="File holding the verification token."),
        click.option("--gitlab-instance", "instance", default=DEFAULT_INSTANCE,
                     show_default=True, metavar="NAME",
                     help="Without --config: the GitLab instance's name, which scopes dedup "
                          "(the config file's destination key 'instance')."),
        # The old name of --gitlab-instance, kept for one release: the GitLab commands'
        # --instance means instance-level destinations, a different thing.
        click.option("--instance", "deprecated_instance", hidden=True, metavar="NAME"),
    ]):
        command = option(command)
    return command


def _deprecated_instance(command: Any) -> Any:
    """``--instance NAME`` still works for one release, says so on stderr, and stands for
    ``--gitlab-instance NAME``."""
    @functools.wraps(command)
    def wrapper(*args: Any, deprecated_instance: str | None, **kwargs: Any) -> Any:
        if deprecated_instance is not None:
            click.echo("warning: --instance is deprecated for run and receive (and removed "
                       "in the next release); use --gitlab-instance NAME", err=True)
            if kwargs["instance"] != DEFAULT_INSTANCE and \
                    kwargs["instance"] != deprecated_instance:
                raise click.UsageError("give --gitlab-instance only (--instance is its old "
                                       "name)")
            kwargs["instance"] = deprecated_instance
        return command(*args, **kwargs)

    return wrapper


def sink_options(command: Any) -> Any:
    for option in reversed([
        click.option("--hec-url", help="HEC collector base URL (https://splunk:8088); a URL "
                                       "with a path is used as given."),
        click.option("--hec-token-env", help="Environment variable holding the HEC token."),
        click.option("--hec-index", help="Splunk index for the events (default: the token's)."),
        click.option("--hec-ack/--no-hec-ack", default=False,
                     help="Use indexer acknowledgement (the token must have it on)."),
        click.option("--file-sink", type=click.Path(path_type=Path, dir_okay=False),
                     help="Also (or only) write events as JSON lines to this file."),
        click.option("--format", "sink_format", type=click.Choice(FORMATS), default=RAW,
                     show_default=True, envvar="AUDITSTREAM_FORMAT",
                     help="What the sinks given here receive: raw (GitLab's event as sent, in "
                          "a HEC envelope) or ocsf (one OCSF 1.7.0 event per GitLab event; "
                          "the file sink writes bare OCSF lines)."),
        click.option("--cim-fields/--no-cim-fields", default=False,
                     help="Send Splunk CIM fields (action, object, user, src, ...) as indexed "
                          "fields to the HEC sink given here."),
    ]):
        command = option(command)
    return command


@click.command()
@receiver_options
@sink_options
@_deprecated_instance
def run(config_path: Path | None, listen: str | None, journal_path: Path | None,
        token_env: tuple[str, ...], token_file: tuple[Path, ...], instance: str,
        hec_url: str | None, hec_token_env: str | None, hec_index: str | None, hec_ack: bool,
        file_sink: Path | None, sink_format: str, cim_fields: bool) -> None:
    """Receive GitLab's stream and relay it to the sinks: the main job, in one process.

    SIGHUP (or a change to the config file or its tokens/ folder) reloads the destinations
    and their tokens without a restart."""
    config = _config_or_usage_error(lambda: with_sinks(
        receive_config(config_path, listen, journal_path, token_env, token_file, instance),
        hec_url, hec_token_env, hec_index, hec_ack, file_sink, default_archive=True,
        fmt=sink_format, cim_fields=cim_fields))
    _serve(config, receive=True, relay=True, reloader=_reloader(
        config_path, listen, journal_path, token_env, token_file, instance))


@click.command()
@receiver_options
@_deprecated_instance
def receive(config_path: Path | None, listen: str | None, journal_path: Path | None,
            token_env: tuple[str, ...], token_file: tuple[Path, ...], instance: str) -> None:
    """Receive GitLab's audit event stream and keep every event in the journal.

    Reads only what receiving needs (no sink's secrets). SIGHUP (or a change to the config
    file or its tokens/ folder) reloads the destinations and their tokens."""
    config = _config_or_usage_error(lambda: receive_config(
        config_path, listen, journal_path, token_env, token_file, instance,
        parts=Parts.RECEIVER))
    _serve(config, receive=True, relay=False, reloader=_reloader(
        config_path, listen, journal_path, token_env, token_file, instance))


@click.command()
@click.option("--config", "config_path", envvar="AUDITSTREAM_CONFIG",
              type=click.Path(path_type=Path, dir_okay=False), help="The TOML config file.")
@click.option("--journal", "journal_path", type=click.Path(path_type=Path, dir_okay=False),
              help="The journal file (default auditstream.db); overrides the config.")
@click.option("--listen", help="HOST:PORT for /healthz, /readyz and /metrics (optional).")
@sink_options
def relay(config_path: Path | None, journal_path: Path | None, listen: str | None,
          hec_url: str | None, hec_token_env: str | None, hec_index: str | None, hec_ack: bool,
          file_sink: Path | None, sink_format: str, cim_fields: bool) -> None:
    """Relay the journal to the sinks (with the receiver running elsewhere)."""
    def build() -> AppConfig:
        base = (load_config(config_path, parts=Parts.RELAY) if config_path
                else AppConfig(None, JournalConfig()))
        if journal_path is not None:
            base = replace(base, journal=replace(base.journal, path=journal_path))
        config = with_sinks(base, hec_url, hec_token_env, hec_index, hec_ack, file_sink,
                            default_archive=False, fmt=sink_format, cim_fields=cim_fields)
        if config.relay is None:
            raise ConfigError("no sink: give [[sinks]] in --config, --hec-url or --file-sink")
        return config

    config = _config_or_usage_error(build)
    status = parse_listen(listen, "--listen") if listen else None
    _serve(config, receive=False, relay=True, status_listen=status)


def receive_config(config_path: Path | None, listen: str | None, journal_path: Path | None,
                   token_env: tuple[str, ...], token_file: tuple[Path, ...],
                   instance: str, parts: Parts = Parts.ALL) -> AppConfig:
    """Options (and the file, if any) as one validated config; options win over the file."""
    if config_path is not None:
        if token_env or token_file:
            raise ConfigError("--token-env/--token-file go without --config; "
                              "put tokens in the config file's destinations")
        config = load_config(config_path, parts=parts | Parts.RECEIVER)
        if config.receiver is None:
            raise ConfigError(f"{config_path}: receiver.destinations: at least one "
                              "[[receiver.destinations]] is needed to receive")
    else:
        tokens = [*(secret_from_env(name, "--token-env", os.environ) for name in token_env),
                  *(secret_from_file(path, "--token-file") for path in token_file)]
        if not tokens:
            raise ConfigError("give --config FILE, or --token-env NAME for a single destination")
        check_count(len(tokens), 1, MAX_TOKENS_PER_DESTINATION, "a destination",
                    "--token-env/--token-file")
        destination = DestinationConfig(name=DEFAULT_DESTINATION, tokens=tuple(tokens),
                                        instance=instance)
        config = AppConfig(receiver=ReceiverConfig(destinations=(destination,)),
                           journal=JournalConfig())
    return _override(config, listen, journal_path)


def with_sinks(config: AppConfig, hec_url: str | None, hec_token_env: str | None,
               hec_index: str | None, hec_ack: bool, file_sink: Path | None, *,
               default_archive: bool, fmt: str = RAW, cim_fields: bool = False) -> AppConfig:
    """Add the sinks given as options (in ``fmt``); with none at all, ``run`` archives beside
    the journal."""
    sinks: list[SinkConfig] = list(config.relay.sinks) if config.relay else []
    hec_envelope = EnvelopeSettings(index=hec_index, format=fmt,
                                    sourcetype=default_sourcetype(fmt), cim_fields=cim_fields)
    file_envelope = EnvelopeSettings(format=fmt, sourcetype=default_sourcetype(fmt),
                                     bare=fmt == OCSF)
    if cim_fields and hec_url is None:
        raise ConfigError("--cim-fields goes with --hec-url (the HEC sink's indexed fields)")
    if hec_url is not None:
        check_hec_url(hec_url, "--hec-url")
        if not hec_token_env:
            raise ConfigError("--hec-url needs --hec-token-env NAME")
        token = secret_from_env(hec_token_env, "--hec-token-env", os.environ)
        sinks.append(HecSinkConfig(name="hec", url=hec_url, token=token, ack=hec_ack,
                                   envelope=hec_envelope))
    elif hec_token_env or hec_index:
        raise ConfigError("--hec-token-env and --hec-index go with --hec-url")
    if file_sink is not None:
        sinks.append(FileSinkConfig(name="file", path=file_sink, envelope=file_envelope))
    if not sinks and default_archive:
        archive = config.journal.path.with_name(DEFAULT_ARCHIVE_NAME)
        click.echo(f"no sink configured: relaying to the JSON-lines file {archive}", err=True)
        sinks.append(FileSinkConfig(name="file", path=archive, envelope=file_envelope))
    if not sinks:
        return config
    relay_config = replace(config.relay, sinks=tuple(sinks)) if config.relay else RelayConfig(
        sinks=tuple(sinks))
    return replace(config, relay=relay_config)


def _override(config: AppConfig, listen: str | None, journal_path: Path | None) -> AppConfig:
    receiver, journal = config.receiver, config.journal
    if listen is not None and receiver is not None:
        host, port, listen_fd = parse_receiver_listen(listen, "--listen")
        receiver = replace(receiver, host=host, port=port, listen_fd=listen_fd)
    if journal_path is not None:
        journal = replace(journal, path=journal_path)
    return replace(config, receiver=receiver, journal=journal)


def _config_or_usage_error(build: Any) -> AppConfig:
    try:
        config: AppConfig = build()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    return config


def _reloader(config_path: Path | None, listen: str | None, journal_path: Path | None,
              token_env: tuple[str, ...], token_file: tuple[Path, ...],
              instance: str) -> Reloader:
    """Read the receiver's settings again exactly as at start-up (the file, then options)."""
    def read() -> ReceiverConfig:
        config = receive_config(config_path, listen, journal_path, token_env, token_file,
                                instance, parts=Parts.RECEIVER)
        assert config.receiver is not None  # receive_config refuses a file without one
        return config.receiver

    watched = (config_path, config_path.parent / TOKENS_DIR) if config_path else ()
    return Reloader(read, watched)


def _serve(config: AppConfig, *, receive: bool, relay: bool,
           status_listen: tuple[str, int] | None = None,
           reloader: Reloader | None = None) -> None:
    companion = None
    if config.canary is not None and receive:
        from auditstream.cli.canary import canary_rounds  # GitLab's client only when asked

        companion = canary_rounds(config.canary)
    try:
        asyncio.run(serve(config, receive=receive, relay=relay, status_listen=status_listen,
                          announce=click.echo, reloader=reloader, companion=companion))
    except StartupError as exc:
        raise click.ClickException(str(exc)) from exc
    except (JournalError, OSError, RuntimeError) as exc:
        raise click.ClickException(f"stopped: {exc}") from exc
