"""``auditstream serve``: the stand-in servers, for demos and for tests from the shell."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

import click
import orjson

from auditstream.config.app import parse_listen, secret_from_env
from auditstream.config.errors import ConfigError
from auditstream.server.gitlab import (
    DEFAULT_SEED,
    DEFAULT_TYPES,
    KINDS,
    GitLabConfig,
    GitLabStandInError,
    Knobs,
    RunningGitLab,
    Seed,
    SeedUser,
    load_seed,
    start_gitlab,
)
from auditstream.server.gitlab.config import DEFAULT_DELIVERY_TIMEOUT_SECONDS
from auditstream.server.hec import HecConfig, HecConfigError, HecToken, start_hec
from auditstream.server.hec.config import DEFAULT_INDEX, DEFAULT_MAX_CONTENT_LENGTH
from auditstream.wiring.gctune import settle_after_startup

log = logging.getLogger("auditstream.cli")

DEFAULT_HEC_LISTEN = "127.0.0.1:8088"  # Splunk's HEC port, on loopback
DEFAULT_GITLAB_LISTEN = "127.0.0.1:3000"  # the GitLab Development Kit's port, on loopback


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

    Prints "... listening on URL", then runs until SIGTERM or SIGINT. Clients send
    "Authorization: Splunk TOKEN" with the token in --token-env's variable.

    What it received, its scripted faults and its pending acks are under URL/_stand-in/:
    GET URL/_stand-in/ lists those endpoints (method, path, what each does) as JSON.
    """
    try:
        config = hec_config(listen, token_env, ack, indexes, max_content_length)
    except (ConfigError, HecConfigError) as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        asyncio.run(serve_hec(config))
    except OSError as exc:
        raise click.ClickException(os_problem(listen, exc)) from exc


def os_problem(listen: str, exc: OSError) -> str:
    """What went wrong, naming its real cause: a file (with its name) or the address."""
    if exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    return f"cannot serve on {listen}: {exc.strerror or exc}"


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
    settle_after_startup()  # here, not in server/hec: a test process keeps its own GC
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
                               "envelopes": running.received.envelope_count})


@serve.command("gitlab")
@click.option("--listen", default=DEFAULT_GITLAB_LISTEN, show_default=True,
              help="HOST:PORT to listen on; port 0 picks a free one (the URL is printed).")
@click.option("--seed", "seed_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Users, groups, projects (and destinations) to start with, as TOML or "
                   "JSON (see server/gitlab/seed.py). Default: the built-in demo seed, "
                   "whose users' tokens are printed.")
@click.option("--strict-urls", is_flag=True,
              help="Refuse localhost and private destination URLs, as GitLab does; by "
                   "default loopback is allowed so everything can run on one machine.")
@click.option("--no-legacy-api", "no_legacy_api", is_flag=True,
              help="Serve only the consolidated streaming API, as GitLab 20.0 does.")
@click.option("--delivery-timeout", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULT_DELIVERY_TIMEOUT_SECONDS, show_default=True,
              help="Seconds GitLab waits for a destination before giving up (no retry).")
@click.option("--knobs", "knobs_json", metavar="JSON",
              help='Streaming knobs, e.g. \'{"duplicate_rate": 0.1, "seed": 7}\' (keys: '
                   "duplicate_rate, fresh_uuid_rate, drop_rate, reorder, job_retry_rate, "
                   "job_retries, seed); also settable at URL/_stand-in/knobs.")
@click.option("--activity", type=click.IntRange(min=0), default=0, show_default=True,
              help="Make this many audit events once listening (and every "
                   "--activity-every seconds if given).")
@click.option("--activity-every", type=click.FloatRange(min=0.1),
              help="Repeat --activity at this interval, in seconds.")
@click.option("--event-type", "event_types", multiple=True,
              help="Event type for --activity (repeat for more; default: "
                   f"{', '.join(DEFAULT_TYPES)}).")
@click.option("--on", "on", multiple=True,
              help="Group or project full path for --activity (repeat; default: every "
                   "project).")
def gitlab(listen: str, seed_file: Path | None, strict_urls: bool, no_legacy_api: bool,
           delivery_timeout: float,
           knobs_json: str | None, activity: int, activity_every: float | None,
           event_types: tuple[str, ...], on: tuple[str, ...]) -> None:
    """A GitLab stand-in: GitLab's GraphQL streaming API, REST audit events, and streaming
    that behaves as GitLab's does, faults included.

    Prints "... listening on URL", then runs until SIGTERM or SIGINT. GraphQL is at
    URL/api/graphql, the REST audit events under URL/api/v4.

    What was streamed, the knobs and on-demand activity are under URL/_stand-in/:
    GET URL/_stand-in/ lists those endpoints (method, path, what each does) as JSON.
    """
    try:
        host, port = parse_listen(listen, "--listen")
        seed = load_seed(seed_file) if seed_file is not None else DEFAULT_SEED
        knobs = Knobs.from_json(orjson.loads(knobs_json)) if knobs_json else Knobs()
        config = GitLabConfig(host=host, port=port, strict_urls=strict_urls,
                              legacy_api=not no_legacy_api,
                              delivery_timeout_seconds=delivery_timeout, knobs=knobs)
        _check_activity(seed, event_types, on)
    except orjson.JSONDecodeError as exc:
        raise click.UsageError(f"--knobs: not JSON: {exc}") from exc
    except (ConfigError, GitLabStandInError) as exc:
        raise click.UsageError(str(exc)) from exc
    activity_plan = (activity, activity_every, event_types or DEFAULT_TYPES, on)
    try:
        asyncio.run(serve_gitlab(seed, config, activity_plan))
    except OSError as exc:
        raise click.ClickException(os_problem(listen, exc)) from exc
    except GitLabStandInError as exc:
        raise click.ClickException(str(exc)) from exc


ActivityPlan = tuple[int, float | None, tuple[str, ...], tuple[str, ...]]


def _check_activity(seed: Seed, event_types: tuple[str, ...], on: tuple[str, ...]) -> None:
    """Refuse unknown event types and paths now, not after the server is up."""
    for event_type in event_types:
        if event_type not in KINDS:
            raise ConfigError(f"--event-type: unknown type {event_type!r}; known: "
                              + ", ".join(sorted(KINDS)))
    paths = {n.path for n in (*seed.groups, *seed.projects)}
    for path in on:
        if path not in paths:
            raise ConfigError(f"--on: no group or project {path!r} in the seed")


async def serve_gitlab(seed: Seed, config: GitLabConfig, activity: ActivityPlan) -> None:
    """Listen, print the URL (and the demo tokens), make activity, stop on a signal."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    running = await start_gitlab(seed, config)
    maker = asyncio.create_task(_make_activity(running, activity, stop))
    try:
        _announce_gitlab(running, seed)
        await stop.wait()
        log.info("stopping")
    finally:
        maker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await maker
        await running.stop()
    log.info("stopped", extra={"events": len(running.events.made),
                               "deliveries": len(running.deliveries)})


def _announce_gitlab(running: RunningGitLab, seed: Seed) -> None:
    # The receiver's wording, so scripts and tests find the URL the same way.
    click.echo(f"auditstream GitLab stand-in listening on {running.url}")
    if seed is DEFAULT_SEED:
        # Demo tokens only: they are fixed, public and good for nothing but this stand-in.
        click.echo("demo users (built-in seed):")
        for user in seed.users:
            click.echo(f"  {user.username:<13} token {user.token}  {_roles(seed, user)}")
    else:
        click.echo(f"seed: {seed.source} ({len(seed.users)} users, {len(seed.groups)} groups, "
                   f"{len(seed.projects)} projects)")
    sys.stdout.flush()
    log.info("GitLab stand-in listening", extra={"url": running.url,
                                                 "strict_urls": running.config.strict_urls})


def _roles(seed: Seed, user: SeedUser) -> str:
    held = [f"{role.name.lower()} of {namespace.path}"
            for namespace in (*seed.groups, *seed.projects)
            for username, role in namespace.members if username == user.username]
    return ", ".join((["administrator"] if user.admin else []) + held) or "no membership"


async def _make_activity(running: RunningGitLab, activity: ActivityPlan,
                         stop: asyncio.Event) -> None:
    count, every, event_types, on = activity
    while count:
        try:
            await running.make_activity(count, event_types=event_types, on=on)
        except GitLabStandInError as exc:
            log.error("cannot make activity: %s", exc)
            stop.set()
            return
        if every is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
