"""``auditstream --help`` imports no sub-command: the list comes from ``cli/main.py`` alone."""

from __future__ import annotations

import subprocess
import sys

import pytest

from auditstream.cli.main import COMMANDS, cli

HEAVY = ("aiohttp", "gql", "graphql", "redis", "auditstream.server", "auditstream.wiring",
         "auditstream.client", "auditstream.receiver", "auditstream.relay",
         "auditstream.journal")


def imported_by(*argv: str) -> set[str]:
    """The modules a fresh interpreter has imported after running ``auditstream ARGV``."""
    script = ("import sys\n"
              "from auditstream.cli.main import cli\n"
              f"try:\n    cli({list(argv)!r}, prog_name='auditstream')\n"
              "except SystemExit:\n    pass\n"
              "print('\\n'.join(sorted(sys.modules)))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, check=True)
    return {line for line in result.stdout.splitlines() if line and " " not in line}


def test_help_imports_no_server_client_or_wiring_module() -> None:
    modules = imported_by("--help")
    assert "auditstream.cli.main" in modules
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY))
    assert loaded == []


def test_help_lists_every_command_with_its_own_first_sentence() -> None:
    for name, lazy in COMMANDS.items():
        command = lazy.load()
        assert command.get_short_help_str(limit=1000) == lazy.short_help, name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_loads_when_asked_for(name: str) -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert f" {name} [OPTIONS]" in result.output.splitlines()[0]
