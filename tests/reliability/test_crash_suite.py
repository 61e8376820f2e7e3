"""SIGKILL `auditstream run` at random moments under a steady GitLab stream while the HEC sink
throws 503s, 500s, timeouts, resets and a long outage: nothing answered 200 is lost.

The figures are printed (``pytest -s``); the longer soak is ``python -m bench.crash_soak``.
Set AUDITSTREAM_CRASH_SEED to replay another schedule.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability.crash import DEFAULT_CRASH_SEED, CrashPlan, CrashRun


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_sigkill_under_load_and_sink_faults_loses_nothing_answered_200(
        tmp_path: Path) -> None:
    plan = CrashPlan(seed=int(os.environ.get("AUDITSTREAM_CRASH_SEED", DEFAULT_CRASH_SEED)))
    report = await CrashRun(tmp_path, plan, say=print).run()
    figures = "\n".join(report.lines())
    print(figures)
    assert report.kills >= 10, figures
    assert report.answered_200 > 500, figures  # a real load, not a trickle
    assert report.lost == [], figures
    assert report.foreign == [], figures
    assert report.duplicates <= report.duplicate_bound, figures
    assert report.integrity == "ok", figures
    assert report.last_exit_code == 0, figures
