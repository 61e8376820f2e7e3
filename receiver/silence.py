"""Is GitLab still streaming? Silence and token drift, decided from times and counts.

GitLab says nothing when it stops sending (a lapsed licence, a destination deleted or set
inactive, a token rotated on one side, its circuit breaker, a proxy that refuses), so the
receiver watches for it:

- **silence**: each destination's last accepted event; past its ``expect_event_within`` the
  destination is *silent* (a warning, a metric, the status JSON; never a failed /readyz,
  which would take a healthy receiver out of its load balancer).
- **token drift**: 401s for a token we do not hold, counted per destination path; several
  within the interval on a path means GitLab sends with a token this receiver lacks, and the
  fix is ``destinations sync``. It clears once that path's destination accepts events again.

The decisions are pure functions; ``StreamWatch`` holds the state. The hot path only writes
``last_event[name] = received_at`` (one dict store); everything else runs on refusals, on the
periodic check and on scrapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditstream.receiver.auth import normalise_path
from auditstream.receiver.config import (
    DEFAULT_DRIFT_INTERVAL_SECONDS,
    DEFAULT_DRIFT_REFUSALS,
    DestinationConfig,
)

# The label of refusals on a path no destination is bound to (bounded label cardinality).
OTHER_PATH = "other"
WRONG_TOKEN = "wrong_token"  # noqa: S105 (a reason, not a token)
MISSING_TOKEN = "missing_token"  # noqa: S105

LIKELY_CAUSES = (
    "GitLab's licence lapsed (streaming needs Ultimate)",
    "the destination was deleted or set inactive in GitLab",
    "its token was rotated on one side only (see token_drift in GET /status)",
    "GitLab's circuit breaker skips it (5 failures in 5 minutes: 15 minutes without events)",
    "a proxy between GitLab and this receiver refuses or drops the requests",
    "its event type or namespace filters exclude what happens now, or nothing happened",
)


# --- pure decisions -------------------------------------------------------------------------

def silent_since(last_event_at: float | None, watching_since: float) -> float:
    """From when a destination counts as quiet: its last event (read from the journal at
    start-up, so a restart during a silence does not reset it), else when watching began."""
    return watching_since if last_event_at is None else last_event_at


def is_silent(now: float, last_event_at: float | None, watching_since: float,
              expect_within: float | None) -> bool:
    """Quiet for longer than expected (never, without an expectation)."""
    if expect_within is None:
        return False
    return now - silent_since(last_event_at, watching_since) > expect_within


@dataclass(frozen=True, slots=True)
class DriftWindow:
    """Refusals of a token we do not hold on one path, counted from ``first_at``."""

    first_at: float
    count: int


def after_refusal(window: DriftWindow | None, now: float, interval: float,
                  accepted_at: float | None) -> DriftWindow:
    """The window once one more such refusal arrived: a fresh one when the last was older
    than ``interval`` or the path's destination accepted an event since it began."""
    if window is None or now - window.first_at > interval or \
            (accepted_at is not None and accepted_at >= window.first_at):
        return DriftWindow(now, 1)
    return DriftWindow(window.first_at, window.count + 1)


def is_drifting(window: DriftWindow | None, threshold: int, accepted_at: float | None) -> bool:
    """Enough refusals in the window, and no event accepted on that path since."""
    return window is not None and window.count >= threshold and \
        (accepted_at is None or accepted_at < window.first_at)


def should_log(logged_at: float | None, now: float, interval: float) -> bool:
    """Once per interval."""
    return logged_at is None or now - logged_at >= interval


def fix_command(destinations: tuple[DestinationConfig, ...], config_path: str | None) -> str:
    """The command that brings the receiver's tokens in line with GitLab's."""
    scopes = {d.gitlab_scope for d in destinations if d.gitlab_scope}
    scope = scopes.pop() if len(scopes) == 1 else None
    where = ("--instance" if scope == "instance" else
             f"--group {scope.removeprefix('group:')}" if scope else "--group PATH")
    instances = {d.instance for d in destinations} - {"default"}
    gitlab = f" --gitlab-url https://{instances.pop()}" if len(instances) == 1 else ""
    return (f"auditstream destinations sync {where}{gitlab} "
            f"--config {config_path or 'CONFIG'}")


# --- state ----------------------------------------------------------------------------------

@dataclass(slots=True)
class PathWatch:
    """Refusals on one path label, and the drift they make."""

    destinations: tuple[DestinationConfig, ...]
    window: DriftWindow | None = None
    logged_at: float | None = None


@dataclass(frozen=True, slots=True)
class SilenceChange:
    """A destination fell silent (``silent``) or received again."""

    destination: str
    silent: bool
    quiet_seconds: float
    expect_within: float


@dataclass(frozen=True, slots=True)
class DriftNotice:
    """What to log about drift on a path (never the token)."""

    path: str
    destinations: tuple[str, ...]
    refusals: int
    seconds: float
    command: str


@dataclass(slots=True)
class StreamWatch:
    """The receiver's view of whether GitLab still streams to each destination."""

    destinations: tuple[DestinationConfig, ...]
    watching_since: float
    drift_refusals: int = DEFAULT_DRIFT_REFUSALS
    drift_interval: float = DEFAULT_DRIFT_INTERVAL_SECONDS
    config_path: str | None = None
    last_event: dict[str, float] = field(default_factory=dict)  # written on the hot path
    refusals: dict[tuple[str, str], int] = field(default_factory=dict)  # by path, reason
    silent: set[str] = field(default_factory=set)
    paths: dict[str, PathWatch] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.configure(self.destinations, self.drift_refusals, self.drift_interval,
                       self.config_path)

    def configure(self, destinations: tuple[DestinationConfig, ...], drift_refusals: int,
                  drift_interval: float, config_path: str | None) -> None:
        """New destinations (a reload): paths no longer configured are forgotten."""
        self.destinations = destinations
        self.drift_refusals, self.drift_interval = drift_refusals, drift_interval
        self.config_path = config_path
        bound: dict[str, list[DestinationConfig]] = {}
        for destination in destinations:
            label = OTHER_PATH if destination.path is None else normalise_path(destination.path)
            bound.setdefault(label, []).append(destination)
        old = self.paths
        self.paths = {label: PathWatch(tuple(ds), *(
            (old[label].window, old[label].logged_at) if label in old else ()))
            for label, ds in bound.items()}
        self.silent &= {d.name for d in destinations}

    def remember(self, newest: dict[str, float]) -> None:
        """Last events read from the journal at start-up (newer ones seen since are kept)."""
        for name, at in newest.items():
            if at > self.last_event.get(name, 0.0):
                self.last_event[name] = at

    def path_label(self, path: str) -> str:
        """A configured destination path, or ``other``: labels stay few whatever is sent."""
        label = normalise_path(path)
        return label if label in self.paths and label != OTHER_PATH else OTHER_PATH

    def _accepted_at(self, watch: PathWatch) -> float | None:
        times = [self.last_event[d.name] for d in watch.destinations if d.name in self.last_event]
        return max(times) if times else None

    def refused(self, path: str, reason: str, now: float) -> DriftNotice | None:
        """Count a refusal; what to log when it makes (or keeps up) drift, once per interval."""
        label = self.path_label(path)
        key = (label, reason)
        self.refusals[key] = self.refusals.get(key, 0) + 1
        watch = self.paths.get(label)
        if reason != WRONG_TOKEN or watch is None:
            return None
        accepted_at = self._accepted_at(watch)
        watch.window = after_refusal(watch.window, now, self.drift_interval, accepted_at)
        if not is_drifting(watch.window, self.drift_refusals, accepted_at) or \
                not should_log(watch.logged_at, now, self.drift_interval):
            return None
        watch.logged_at = now
        return DriftNotice(label, tuple(d.name for d in watch.destinations), watch.window.count,
                           now - watch.window.first_at,
                           fix_command(watch.destinations, self.config_path))

    def drifting(self) -> dict[str, PathWatch]:
        return {label: watch for label, watch in self.paths.items()
                if is_drifting(watch.window, self.drift_refusals, self._accepted_at(watch))}

    def check(self, now: float) -> list[SilenceChange]:
        """Which destinations fell silent or received again since the last check."""
        changes = []
        for destination in self.destinations:
            expect = destination.expect_event_within_seconds
            if expect is None:
                continue
            last = self.last_event.get(destination.name)
            silent = is_silent(now, last, self.watching_since, expect)
            if silent != (destination.name in self.silent):
                (self.silent.add if silent else self.silent.discard)(destination.name)
                changes.append(SilenceChange(destination.name, silent,
                                             now - silent_since(last, self.watching_since),
                                             expect))
        return changes

    def status(self, now: float) -> dict[str, Any]:
        """The JSON of GET /status: per destination, and drift per path."""
        destinations: dict[str, Any] = {}
        for destination in self.destinations:
            last = self.last_event.get(destination.name)
            expect = destination.expect_event_within_seconds
            destinations[destination.name] = {
                "path": destination.path,
                "last_event_at": last,
                "seconds_since_last_event": None if last is None else round(now - last, 3),
                "expect_event_within_seconds": expect,
                "silent": is_silent(now, last, self.watching_since, expect),
            }
        drift = {label: {"destinations": [d.name for d in watch.destinations],
                         "refusals": watch.window.count if watch.window else 0,
                         "since": watch.window.first_at if watch.window else None,
                         "fix": fix_command(watch.destinations, self.config_path)}
                 for label, watch in self.drifting().items()}
        silent = sorted(name for name, d in destinations.items() if d["silent"])
        return {"status": "attention" if silent or drift else "ok",
                "silent": silent, "destinations": destinations, "token_drift": drift,
                "refusals": [{"path": p, "reason": r, "count": c}
                             for (p, r), c in sorted(self.refusals.items())]}


def silence_message(change: SilenceChange) -> str:
    if change.silent:
        return (f"destination {change.destination!r} is silent: no event for "
                f"{change.quiet_seconds:.0f} s (expected one within "
                f"{change.expect_within:g} s). Likely causes: " + "; ".join(LIKELY_CAUSES))
    return (f"destination {change.destination!r} receives events again")


def drift_message(notice: DriftNotice) -> str:
    names = ", ".join(repr(n) for n in notice.destinations)
    return (f"token drift on path {notice.path} (destination {names}): GitLab keeps sending "
            f"with a token this receiver does not hold ({notice.refusals} refused in "
            f"{notice.seconds:.0f} s); those events are lost. The token was probably "
            f"rotated on one side only. Fix: {notice.command}")
