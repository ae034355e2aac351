"""``make migration``: a service's schema revisions, written from its models or checked.

python -m interlocality.operator.migrations revision SERVICE "what changed"
python -m interlocality.operator.migrations check SERVICE
"""

from __future__ import annotations

import argparse
import sys

from interlocality.common.migrations import (
    missing_from_revisions,
    service_migrations,
    write_revision,
)
from interlocality.operator.services import SERVICES, store_module

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Write a new revision from the models, or check that none is missing."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["revision", "check"])
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument("message", nargs="?", default="schema change")
    args = parser.parse_args(argv)
    versions, tables = service_migrations(store_module(args.service))
    versions.mkdir(parents=True, exist_ok=True)
    if args.action == "check":
        differences = missing_from_revisions(versions, tables)
        for difference in differences:
            print(f"{args.service}: not in a migration: {difference}", file=sys.stderr)
        return 1 if differences else 0
    write_revision(versions, tables, args.message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
