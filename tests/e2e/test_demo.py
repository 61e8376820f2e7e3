"""``auditstream demo`` as a newcomer runs it: one command, a summary that adds up."""

from __future__ import annotations

from tests.processes import run_cli


def test_demo_runs_the_whole_flow_and_the_figures_add_up() -> None:
    result = run_cli("demo", "--events", "80", "--outage-share", "0", timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all figures add up" in result.stdout
    assert "forged requests rejected (401)" in result.stdout
    # The set-up's own audit event went out before the receiver was up: reconcile brings it.
    assert "81 distinct, 81 envelopes" in result.stdout


def test_demo_outage_is_closed_by_reconcile_except_stream_only_events() -> None:
    result = run_cli("demo", "--events", "80", "--outage-share", "0.5", timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all figures add up" in result.stdout  # every stored event came back, once
    rows = [line.strip().rsplit("  ", 1) for line in result.stdout.splitlines()
            if "  " in line.strip()]
    lines = {label.strip(): value.strip() for label, value in rows}
    made = int(lines["made while the receiver was down"])
    lost = int(lines["could not come back (stream-only types, never stored)"])
    back = int(lines["brought back by reconcile (GitLab's stored events)"])
    assert made == 40
    assert 0 < lost < made
    assert back == made - lost + 1  # and the set-up's event


def test_demo_with_sink_faults_still_delivers_everything() -> None:
    result = run_cli("demo", "--events", "60", "--sink-faults", "busy,errors,resets,bad-event",
                     timeout=110)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all figures add up" in result.stdout
    assert "dead letters" in result.stdout


def test_unknown_sink_fault_is_a_usage_error() -> None:
    result = run_cli("demo", "--sink-faults", "meteor")
    assert result.returncode == 2
    assert "unknown meteor" in result.stderr
