"""``auditstream demo`` as a newcomer runs it: one command, a summary that adds up."""

from __future__ import annotations

from tests.processes import run_cli


def test_demo_runs_the_whole_flow_and_the_figures_add_up() -> None:
    result = run_cli("demo", "--events", "80", "--outage-share", "0", timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all figures add up" in result.stdout
    assert "forged requests rejected (401)" in result.stdout
    assert "80 distinct, 80 envelopes" in result.stdout  # no outage: all streamed


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


def test_demo_summary_as_json_for_scripts() -> None:
    import orjson

    result = run_cli("demo", "--events", "20", "--output", "json", timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = orjson.loads(result.stdout)
    outage = summary["outage"]
    assert (outage["made"], summary["problems"]) == (4, [])
    assert summary["distinct"] + len(outage["brought_back"]) == summary["at_sink_distinct"]
    assert summary["forged_rejected"] == summary["forged_sent"]


def test_unknown_sink_fault_is_a_usage_error() -> None:
    result = run_cli("demo", "--sink-faults", "meteor")
    assert result.returncode == 2
    assert "unknown meteor" in result.stderr


def test_keep_running_prints_the_summary_first_then_stays_up_until_interrupted() -> None:
    import signal
    import subprocess
    import threading
    import urllib.request

    from tests.processes import AUDITSTREAM

    demo = subprocess.Popen([AUDITSTREAM, "demo", "--events", "30", "--outage-share", "0",
                             "--keep-running"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []

    def read_until_told_how_to_stop() -> None:
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C to stop"):
                return

    reader = threading.Thread(target=read_until_told_how_to_stop, daemon=True)
    reader.start()
    try:
        reader.join(90)
        text = "".join(lines)
        assert lines, demo.stderr
        assert lines[-1].startswith("Ctrl-C to stop"), text
        assert text.index("all figures add up") < text.index("GitLab stand-in")
        assert "30 distinct, 30 envelopes" in text
        gitlab_url = next(line.split()[2] for line in lines
                          if line.startswith("GitLab stand-in"))
        assert gitlab_url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(gitlab_url + "/_stand-in/", timeout=10) as answer:  # noqa: S310
            assert answer.status == 200  # still up after the summary
        demo.send_signal(signal.SIGINT)
        assert demo.wait(30) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
        for pipe in (demo.stdout, demo.stderr):
            if pipe is not None:
                pipe.close()
