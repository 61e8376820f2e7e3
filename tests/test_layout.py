"""The parts depend on each other one way: command line -> wiring -> {receiver, relay, journal,
reconcile}, command line -> client; receiver, relay and journal share only ``common``, never
each other; reconcile reaches GitLab through client and appends through journal."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What each part may import of auditstream (besides itself).
ALLOWED = {
    "common": set(),
    "journal": {"common"},
    "receiver": {"common", "journal"},
    "relay": {"common", "journal"},
    "client": {"common"},
    "server": {"common"},
    "reconcile": {"common", "journal", "client"},
    # The config file describes every part; writing it takes GitLab's destinations.
    "config": {"common", "journal", "receiver", "relay", "client", "reconcile"},
    "wiring": {"common", "config", "journal", "receiver", "relay", "reconcile"},
    "cli": {"common", "config", "journal", "receiver", "relay", "client", "server", "wiring",
            "reconcile"},
}


def imported_parts(part: str) -> dict[str, set[str]]:
    """Each other part this part imports, with the files that do."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / part).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                pieces = name.split(".")
                if pieces[0] == "auditstream" and len(pieces) > 1 and pieces[1] != part:
                    found.setdefault(pieces[1], set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_part_imports_only_what_it_may() -> None:
    wrong = {f"{part} -> {other}": sorted(files)
             for part, allowed in ALLOWED.items()
             for other, files in imported_parts(part).items() if other not in allowed}
    assert wrong == {}


def test_every_top_level_package_folder_is_a_known_part() -> None:
    folders = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert folders == set(ALLOWED)
