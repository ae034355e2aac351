"""The development issuer as a process of its own: ``interlocality up`` supervises it.

``python -m interlocality.operator.dev_issuer --url URL --key PEM --port PORT --accounts VAR``
serves the discovery document and key set of the issuer ``URL`` whose key is kept in ``PEM``,
and signs browsers in as the accounts the demo seeds write under ``VAR``
(``VAR/<region>/accounts.json``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from interlocality.common.issuer import DevelopmentIssuer, issuer_app

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the development issuer until stopped."""
    parser = argparse.ArgumentParser(prog="python -m interlocality.operator.dev_issuer")
    parser.add_argument("--url", required=True, help="the issuer's URL (its tokens' 'iss')")
    parser.add_argument("--key", required=True, type=Path, help="its signing key (PEM)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument(
        "--accounts", type=Path, help="the var directory whose regions' accounts sign in"
    )
    args = parser.parse_args(argv)
    app = issuer_app(DevelopmentIssuer(args.url, args.key), args.accounts)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
