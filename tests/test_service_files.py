"""The service files the README points to: the systemd unit and the Dockerfile run
``auditstream run --config ...`` as an unprivileged user, stop it gently, and parse."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.processes import AUDITSTREAM

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "docs" / "auditstream.service"
SOCKET_UNIT = ROOT / "docs" / "auditstream.socket"
DOCKERFILE = ROOT / "Dockerfile"
RELAY_GRACE_SECONDS = 10  # what the relay takes on SIGTERM to finish what is in hand


def unit(path: Path = UNIT) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=True, comment_prefixes=("#", ";"),
                                          delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read_string(path.read_text())
    return parser


def test_unit_starts_auditstream_run_with_a_config_file_on_the_units_socket() -> None:
    argv = shlex.split(unit()["Service"]["ExecStart"])
    assert Path(argv[0]).name == "auditstream"
    assert argv[1:3] == ["run", "--config"]
    assert argv[3].endswith(".toml")
    assert argv[4:] == ["--listen", "fd:3"]  # systemd passes the first socket as fd 3


def test_the_socket_unit_holds_the_receivers_port_for_the_service() -> None:
    service, socket_unit = unit(), unit(SOCKET_UNIT)
    assert SOCKET_UNIT.stem == UNIT.stem  # so systemd hands its socket to this service
    assert service["Unit"]["Requires"] == service["Unit"]["After"].split()[-1] == \
        SOCKET_UNIT.name
    host, _, port = socket_unit["Socket"]["ListenStream"].rpartition(":")
    assert (host, port) == ("0.0.0.0", "8080")  # what --write-config puts in [receiver] listen
    assert socket_unit["Install"]["WantedBy"] == "sockets.target"


def test_unit_keeps_its_state_in_its_state_directory_and_nothing_else_writable() -> None:
    service = unit()["Service"]
    config_dir = str(Path(shlex.split(service["ExecStart"])[3]).parent)
    state = "/var/lib/" + service["StateDirectory"]
    assert config_dir == state == service["WorkingDirectory"]
    assert service["ReadWritePaths"] == state
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service.get("DynamicUser") == "yes" or service.get("User") not in (None, "root")


def test_unit_stops_with_sigterm_and_waits_longer_than_the_relays_grace() -> None:
    service = unit()["Service"]
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) > RELAY_GRACE_SECONDS
    assert service["Restart"] == "on-failure"
    assert shlex.split(service["ExecReload"])[1:] == ["-HUP", "$MAINPID"]  # reload: SIGHUP
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (apt-get install systemd)")
def test_systemd_analyze_verify_finds_nothing_to_say_about_the_unit(tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: point it at this checkout's.
    text = UNIT.read_text().replace("/opt/auditstream/bin/auditstream", AUDITSTREAM)
    copy = tmp_path / "auditstream.service"
    copy.write_text(text)
    (tmp_path / SOCKET_UNIT.name).write_text(SOCKET_UNIT.read_text())
    result = subprocess.run(["systemd-analyze", "verify", str(copy),
                             str(tmp_path / SOCKET_UNIT.name)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    about_the_units = [line for line in result.stderr.splitlines()
                       if copy.name in line or SOCKET_UNIT.name in line]
    assert about_the_units == []


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            found.append((instruction.upper(), arguments.strip()))
    return found


def test_container_runs_auditstream_run_with_a_config_on_its_volume_as_a_user() -> None:
    final_stage: list[tuple[str, str]] = []
    for instruction, arguments in dockerfile_instructions():
        final_stage = [] if instruction == "FROM" else final_stage
        final_stage.append((instruction, arguments))
    last = dict(final_stage)  # the last of each instruction wins, as in Docker
    command = json.loads(last["ENTRYPOINT"]) + json.loads(last["CMD"])
    assert command[:3] == ["auditstream", "run", "--config"]
    volume = json.loads(last["VOLUME"])[0]
    assert Path(command[3]).parent == Path(volume) == Path(last["WORKDIR"])
    assert last["USER"] not in ("root", "0")
    assert last["STOPSIGNAL"] == "SIGTERM"
    assert "8080" in last["EXPOSE"].split()


def test_container_build_copies_every_part_of_the_package() -> None:
    import tomllib

    parts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"].values()
    copied = {arguments.split()[0] for instruction, arguments in dockerfile_instructions()
              if instruction == "COPY" and not arguments.startswith("--from")}
    assert set(parts) <= copied
