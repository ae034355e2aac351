"""Runs a service's app under uvicorn: ``python -m interlocality.<service>``."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from interlocality.common.settings import SettingsT, load_settings

__all__ = ["serve"]


def serve(settings_class: type[SettingsT], create_app: Callable[[SettingsT], FastAPI]) -> None:
    """Build the app from the environment's settings and serve it until SIGINT/SIGTERM."""
    settings = load_settings(settings_class)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
