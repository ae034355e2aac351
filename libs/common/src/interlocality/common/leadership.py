"""One active replica for the work only one replica may do at a time.

A service whose state lives partly in memory (matching's index of every student and
vacancy, fed by its own consumer) cannot split its topics' partitions between replicas:
each would see part of the region and miss the matches between the parts. Such a service
runs one active replica, which consumes, and keeps the others on standby, serving requests
from the shared database and ready to take over. The active one is the replica holding a
PostgreSQL session-level advisory lock named by the service, on a connection of its own:
the lock goes with that connection, so a replica that dies, or loses its database, lets a
standby in at its next try. On SQLite (one process per database file) the one process is
always active.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from interlocality.common.db import advisory_key

__all__ = ["Leadership"]

logger = logging.getLogger(__name__)


class Leadership:
    """Whether this replica is the active one of service ``name`` (blocking calls: run them
    in a worker thread)."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self.key = advisory_key(f"interlocality active replica {name}")
        self._connection: Connection | None = None

    @property
    def shared(self) -> bool:
        """Whether other replicas may share the database (PostgreSQL)."""
        return self.engine.dialect.name == "postgresql"

    def try_acquire(self) -> bool:
        """Become the active replica if none is; whether this one is now."""
        if not self.shared:
            return True
        if self._connection is not None:
            return self.held()
        connection = self.engine.connect()
        try:
            taken = bool(
                connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
                ).scalar_one()
            )
            connection.commit()  # the lock is the session's: no transaction stays open
        except BaseException:
            connection.close()
            raise
        if not taken:
            connection.close()
            return False
        self._connection = connection
        logger.info("active replica", extra={"service": self.name})
        return True

    def held(self) -> bool:
        """Whether this replica is still the active one: its lock's connection answers."""
        if not self.shared:
            return True
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
        except DBAPIError:
            logger.error("the active replica's lock connection is lost", exc_info=True)
            self._forget(lost=True)
            return False
        return True

    def release(self) -> None:
        """Let another replica become active (at stop)."""
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            self._connection.commit()
        except DBAPIError:
            logger.warning("could not release the active replica's lock", exc_info=True)
        finally:
            self._forget()

    def _forget(self, lost: bool = False) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if lost:
                connection.invalidate()  # never back to the pool: it may hold the lock
            connection.close()
        except DBAPIError:
            pass
