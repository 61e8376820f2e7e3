"""``destinations check``: GitLab against the receiver's config, and optional canaries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import click

from auditstream.cli.canary import CanaryResult, send_canary
from auditstream.cli.output import echo_json, echo_table
from auditstream.client.api import StreamingApi
from auditstream.client.ids import short_id
from auditstream.client.models import Destination
from auditstream.config.compare import Comparison, Expected, compare
from auditstream.journal import Journal, JournalConfig, JournalError
from auditstream.journal.open import open_journal_readonly


@dataclass(frozen=True, slots=True)
class CheckReport:
    scope: str
    comparisons: tuple[Comparison, ...]
    canaries: dict[str, CanaryResult]  # by configured destination name
    canary: bool

    @property
    def agrees(self) -> bool:
        return all(c.agrees for c in self.comparisons) and \
            all(result.arrived for result in self.canaries.values())

    def as_json(self) -> dict[str, object]:
        return {"scope": self.scope, "agrees": self.agrees, "destinations": [{
            "name": c.name,
            "gitlab_id": c.gitlab.id if c.gitlab else None,
            "in_gitlab": c.gitlab is not None, "in_config": c.expected is not None,
            "differences": [{"what": d.what, "gitlab": d.gitlab, "config": d.config}
                            for d in c.differences],
            "canary": self.canaries[c.name].as_json() if c.name in self.canaries else None,
        } for c in self.comparisons]}

    def show(self, output: str) -> None:
        if output == "json":
            echo_json(self.as_json())
            return
        if not self.comparisons:
            click.echo(f"no destinations in GitLab ({self.scope}) nor in the config")
            return
        headers = ["destination", "id", "state", "differences"]
        if self.canary:
            headers.append("canary")
        rows = []
        for c in self.comparisons:
            row = [c.name, short_id(c.gitlab.id) if c.gitlab else "-",
                   "agrees" if c.agrees else "differs",
                   "; ".join(f"{d.what}: GitLab {d.gitlab}, config {d.config}"
                             for d in c.differences) or "-"]
            if self.canary:
                result = self.canaries.get(c.name)
                row.append("-" if result is None else f"arrived in {result.seconds} s"
                           if result.arrived else f"MISSING: {result.reason}")
            rows.append(row)
        echo_table(headers, rows)


async def run_check(api: StreamingApi, expected: Sequence[Expected], scope: str,
                    journal_config: JournalConfig | None, wait_seconds: float) -> CheckReport:
    """Compare; with a journal config, send a canary to each destination both sides have."""
    comparisons = tuple(compare(await api.destinations(), expected, scope))
    canaries: dict[str, CanaryResult] = {}
    if journal_config is not None:
        both = [(c.name, c.gitlab) for c in comparisons
                if c.gitlab is not None and c.expected is not None]
        try:
            journal = await open_journal_readonly(journal_config)
        except (JournalError, OSError) as exc:
            reason = f"cannot read the journal ({journal_config.describe()}): {exc}"
            canaries = {name: CanaryResult(name, False, reason=reason) for name, _ in both}
        else:
            canaries = await _canaries(api, both, journal, wait_seconds)
    return CheckReport(scope, comparisons, canaries, journal_config is not None)


async def _canaries(api: StreamingApi, both: Sequence[tuple[str, Destination]],
                    journal: Journal, wait_seconds: float) -> dict[str, CanaryResult]:
    try:
        results = {}
        for name, destination in both:  # one at a time: each canary reaches every destination
            results[name] = await send_canary(api, destination, journal, name, wait_seconds)
        return results
    finally:
        await journal.close()
