"""The README's Quick start stays true: two commands, and CI runs the test one word for word."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_quick_start_has_exactly_two_commands() -> None:
    assert len(quick_start_commands()) == 2


def test_ci_runs_the_readme_test_command_word_for_word() -> None:
    test_command = quick_start_commands()[1]
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_the_main_job_command_runs_auditstream() -> None:
    assert "auditstream run" in quick_start_commands()[0]


def readme_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.+?)```", (ROOT / "README.md").read_text(), re.S)


def test_every_config_example_is_a_valid_config(tmp_path: Path) -> None:
    from auditstream.config.app import load_config
    from tests.security.ca import ThrowawayCA

    issued = ThrowawayCA(tmp_path / "pki").issue("audit.example.com")
    (tmp_path / "receiver.crt").write_bytes(issued.cert.read_bytes())
    (tmp_path / "receiver.key").write_bytes(issued.key.read_bytes())
    env = {"ACME_STREAM_TOKEN": "acme-token-0123456789", "SPLUNK_HEC_TOKEN": "hec-token",
           "REDIS_PASSWORD": "redis-password"}
    examples = readme_blocks("toml")
    assert len(examples) >= 2
    for number, example in enumerate(examples):
        path = tmp_path / f"example-{number}.toml"
        path.write_text(example)
        config = load_config(path, env)
        if "[[sinks]]" in example and "[receiver]" in example:  # the full example
            assert config.receiver is not None
            assert config.relay is not None
            assert [sink.name for sink in config.relay.sinks] == ["splunk", "archive"]


def test_every_command_the_readme_shows_exists() -> None:
    from click.testing import CliRunner

    from auditstream.cli.main import cli

    readme = (ROOT / "README.md").read_text()
    code = readme_blocks("sh") + readme_blocks("") + re.findall(r"`([^`\n]+)`", readme)
    commands: set[tuple[str, ...]] = set()
    for snippet in code:
        for line in snippet.splitlines():
            for match in re.finditer(r"auditstream ((?:[a-z-]+(?:\|[a-z-]+)* ?)+)", line):
                commands.add(tuple(w.split("|")[0] for w in match.group(1).split()
                                   if not w.startswith("-"))[:2])
    assert len(commands) > 8, commands
    runner = CliRunner()
    for command in sorted(commands):
        for depth in (2, 1):  # "destinations list" is two words; "run" one
            result = runner.invoke(cli, [*command[:depth], "--help"])
            if result.exit_code == 0:
                break
        assert result.exit_code == 0, f"auditstream {' '.join(command)}: {result.output}"
