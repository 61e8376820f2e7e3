"""``auditstream demo`` as a newcomer runs it: one command, a summary that adds up."""

from __future__ import annotations

from tests.processes import run_cli


def test_demo_runs_the_whole_flow_and_the_figures_add_up() -> None:
    result = run_cli("demo", "--events", "80", timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all figures add up" in result.stdout
    assert "forged requests rejected (401)" in result.stdout
    assert "80 distinct, 80 envelopes" in result.stdout


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
