"""What a user gets from ``pip install .``: the wheel, installed (not editable) in a fresh venv.

CI's own environment is an editable install that reads from the source tree, so it cannot see
a file the wheel forgot or a module name that only resolves in a checkout. These tests build the
wheel, install it into a new virtual environment outside the checkout, and run the commands a
newcomer runs first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
# The repository's top-level folders that install as auditstream.<folder>.
PARTS = ("receiver", "journal", "relay", "client", "server", "common", "config", "wiring", "cli",
         "reconcile")
INSTALL_TIMEOUT_SECONDS = 420

pytestmark = [pytest.mark.slow, pytest.mark.timeout(INSTALL_TIMEOUT_SECONDS + 120)]


@dataclass(frozen=True, slots=True)
class Installed:
    wheel: Path
    bin: Path
    home: Path  # a folder outside the checkout: nothing of the source tree is importable there

    def run(self, *args: str, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / args[0]), *args[1:]], capture_output=True,
                              text=True, timeout=timeout, cwd=self.home, check=False,
                              env={**_clean_env(), **(env or {})})


def _clean_env() -> dict[str, str]:
    # Nothing may point back into the checkout or this test run's environment.
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    # A copy without build/: setuptools packs whatever an earlier build left in build/lib.
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(base / "dist"),
         str(source)], capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS,
        env=_clean_env(), check=False)
    assert built.returncode == 0, built.stderr
    (wheel,) = (base / "dist").glob("auditstream-*.whl")
    venv.create(base / "venv", with_pip=True)
    bin_dir = base / "venv" / "bin"
    installed = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS, env=_clean_env(),
        check=False)
    assert installed.returncode == 0, installed.stderr
    home = base / "home"
    home.mkdir()
    return Installed(wheel, bin_dir, home)


def _fetch(url: str, data: bytes | None = None,
           headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One request to a loopback server the test started."""
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return int(answer.status), answer.read()


def _wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_the_wheel_installs_one_top_level_name(installed: Installed) -> None:
    names = _wheel_names(installed.wheel)
    tops = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert tops == {"auditstream"}
    assert not [name for name in names if name.startswith(("tests/", "bench/"))]


def test_the_wheel_carries_every_module_and_data_file_of_the_parts(installed: Installed) -> None:
    names = set(_wheel_names(installed.wheel))
    shipped = [path for part in PARTS for path in (ROOT / part).rglob("*")
               if path.is_file() and path.suffix in (".py", ".graphql", ".typed")
               and "__pycache__" not in path.parts]
    assert len(shipped) > 100
    missing = [str(p.relative_to(ROOT)) for p in shipped
               if f"auditstream/{p.relative_to(ROOT).as_posix()}" not in names]
    assert missing == []


def test_the_old_bare_package_names_are_not_importable(installed: Installed) -> None:
    for bare in ("client", "receiver", "journal", "relay", "server"):
        result = installed.run("python", "-c", f"import {bare}")
        assert result.returncode != 0, f"import {bare} worked in a clean install"
        assert "ModuleNotFoundError" in result.stderr
    assert installed.run("python", "-c", "import auditstream.cli.main").returncode == 0


def test_demo_exits_0_from_an_installed_wheel(installed: Installed) -> None:
    result = installed.run("auditstream", "demo", "--events", "40")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all figures add up" in result.stdout


def test_serve_gitlab_starts_and_answers_graphql(installed: Installed) -> None:
    with ServerProcess("serve", "gitlab", "--listen", "127.0.0.1:0",
                       command=str(installed.bin / "auditstream"), cwd=installed.home) as gitlab:
        _, body = _fetch(f"{gitlab.url}/api/graphql",
                         json.dumps({"query": "{ __typename }"}).encode(),
                         {"Content-Type": "application/json"})
        assert json.loads(body) == {"data": {"__typename": "Query"}}


def test_serve_hec_starts_and_answers_health(installed: Installed) -> None:
    env = {"HEC_TOKEN": "wheel-test-hec-token"}
    with ServerProcess("serve", "hec", "--listen", "127.0.0.1:0", "--token-env", "HEC_TOKEN",
                       env=env, command=str(installed.bin / "auditstream"),
                       cwd=installed.home) as hec:
        status, _ = _fetch(f"{hec.url}/services/collector/health")
        assert status == 200


def test_the_quick_start_run_takes_an_event_from_an_installed_wheel(installed: Installed) -> None:
    token = "quick-start-token-0123456789"
    with ServerProcess("run", "--listen", "127.0.0.1:0", "--journal", "auditstream.db",
                       "--token-env", "GITLAB_STREAM_TOKEN",
                       env={"GITLAB_STREAM_TOKEN": token},
                       command=str(installed.bin / "auditstream"), cwd=installed.home) as run:
        _, body = _fetch(run.url, b'{"id": 1, "event_type": "user_created"}',
                         {"X-Gitlab-Event-Streaming-Token": token,
                          "Content-Type": "application/x-www-form-urlencoded"})
        assert json.loads(body) == {"accepted": 1, "duplicates": 0}
        assert run.terminate() == 0
    assert (installed.home / "auditstream.db").exists()
