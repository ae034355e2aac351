"""Runs a service's app under uvicorn: ``python -m interlocality.<service>``; or only its
schema migrations: ``python -m interlocality.<service> migrate``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import uvicorn
from fastapi import FastAPI

from interlocality.common.settings import SettingsT, load_settings

__all__ = ["MIGRATE", "serve"]

MIGRATE = "migrate"


def serve(
    settings_class: type[SettingsT],
    create_app: Callable[[SettingsT], FastAPI],
    argv: Sequence[str] | None = None,
) -> None:
    """Build the app from the environment's settings and serve it until SIGINT/SIGTERM.

    With the argument ``migrate``, bring the service's database to the newest schema
    revision and exit, connecting to nothing else: a region's deployment runs this once per
    release (a Kubernetes Job), before its replicas find the schema current at their start.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments not in ([], [MIGRATE]):
        raise SystemExit(
            f"usage: python -m {settings_class.__module__.rsplit('.', 1)[0]} [migrate]"
        )
    settings = load_settings(settings_class)
    app = create_app(settings)
    if arguments == [MIGRATE]:
        runtime = app.state.runtime
        try:
            runtime.migrate()
        finally:
            runtime.engine.dispose()
        return
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
