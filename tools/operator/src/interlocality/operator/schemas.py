"""``make contracts``: every event's JSON Schema and every service's AsyncAPI document.

    python -m interlocality.operator.schemas [--check] CONTRACTS_DIR

An event whose schema changed incompatibly within its major version is refused (see
:mod:`interlocality.common.schemas`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from interlocality.common.schemas import current_schemas, incompatibilities, write_schemas
from interlocality.common.settings import load_settings
from interlocality.operator.services import SERVICE_SETTINGS, app_module

__all__ = ["main", "write_asyncapi"]


def write_asyncapi(directory: Path) -> list[Path]:
    """Write the AsyncAPI document of every service's FastStream broker."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for service, settings_class in SERVICE_SETTINGS.items():
        settings = load_settings(settings_class, database_url="sqlite://", region="demo")
        app = app_module(service).create_app(settings)
        document = app.state.runtime.asyncapi()
        path = directory / f"{service}.json"
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m interlocality.operator.schemas [--check] CONTRACTS_DIR``."""
    parser = argparse.ArgumentParser(description="Write event JSON Schemas and AsyncAPI documents.")
    parser.add_argument("contracts_dir", type=Path)
    parser.add_argument("--check", action="store_true", help="fail on incompatible changes only")
    args = parser.parse_args(argv)
    schema_dir = args.contracts_dir / "schemas"
    problems = []
    for name, schema in current_schemas().items():
        committed = schema_dir / name
        if committed.exists():
            for reason in incompatibilities(json.loads(committed.read_text()), schema):
                problems.append(f"{name}: {reason}")
    if problems:
        print("incompatible schema changes (publish a new major version instead):", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    if args.check:
        return 0
    for path in write_schemas(schema_dir):
        print(f"wrote {path}")
    for path in write_asyncapi(args.contracts_dir / "asyncapi"):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
