"""Files shared by a region's processes: made once for all of them, and never read half
written."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from interlocality.common.files import made_once, write_whole
from interlocality.common.issuer import DevelopmentIssuer
from interlocality.common.testing import processes_at_once

PROCESSES = 12


def make_and_read(path: Path, start: object, seen: object) -> None:
    """One process: a megabyte of its own, offered at the same moment as the others'."""
    start.wait(timeout=30)  # type: ignore[attr-defined]
    content = made_once(path, lambda: os.urandom(1 << 20))
    seen.put((len(content), hashlib.sha256(content).hexdigest()))  # type: ignore[attr-defined]


def start_issuer(path: Path, start: object, seen: object) -> None:
    start.wait(timeout=30)  # type: ignore[attr-defined]
    seen.put(DevelopmentIssuer("http://127.0.0.1:8009", path).key_id)  # type: ignore[attr-defined]


def test_processes_making_a_file_at_once_all_read_the_first_whole(tmp_path: Path) -> None:
    path = tmp_path / "region" / "shared.bin"
    found = processes_at_once(make_and_read, [path], PROCESSES)
    kept = path.read_bytes()
    assert found == [(1 << 20, hashlib.sha256(kept).hexdigest())] * PROCESSES
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["shared.bin"], "a temporary file stayed"


def test_issuers_starting_at_once_sign_with_one_key(tmp_path: Path) -> None:
    found = processes_at_once(start_issuer, [tmp_path / "issuer.pem"], PROCESSES)
    assert len(set(found)) == 1


def test_a_file_made_empty_first_and_filled_after_is_read_once_filled(tmp_path: Path) -> None:
    path = tmp_path / "notifications.key"
    path.touch()  # as a writer that creates the file first and fills it after leaves it
    filler = threading.Timer(0.2, path.write_bytes, args=(b"the key",))
    filler.start()
    try:
        assert made_once(path, lambda: b"another key") == b"the key"
    finally:
        filler.join()


def test_a_file_that_stays_empty_is_an_error_not_an_empty_key(tmp_path: Path) -> None:
    path = tmp_path / "notifications.key"
    path.touch()
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="is empty"):
        made_once(path, lambda: b"another key")
    assert time.monotonic() - started < 5


def test_a_whole_write_replaces_the_file_unless_the_first_must_win(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    assert write_whole(path, b"one")
    assert write_whole(path, b"two")
    assert not write_whole(path, b"three", exclusive=True)
    assert path.read_bytes() == b"two"
