"""Check every GraphQL operation the client sends against GitLab's real schema.

Usage: python scripts/check_client_operations.py ../shared/reference/gitlab-16.3-schema.graphql

The project's tests cannot carry GitLab's 1.3 MB schema (a user's clone does not have it), so
this is run by hand (and by CI when the reference is beside the clone).
"""

from __future__ import annotations

import sys
from pathlib import Path

from graphql import build_schema, parse, validate

from client.gitlab.documents import LEGACY_OPERATIONS


def main(schema_path: str) -> int:
    schema = build_schema(Path(schema_path).read_text(encoding="utf-8"),
                          assume_valid_sdl=True)
    failures = 0
    for name, document in LEGACY_OPERATIONS.items():
        errors = validate(schema, parse(document))
        status = "ok" if not errors else "INVALID: " + "; ".join(e.message for e in errors)
        failures += bool(errors)
        print(f"{name}: {status}")
    print(f"{len(LEGACY_OPERATIONS) - failures} of {len(LEGACY_OPERATIONS)} operations valid")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
