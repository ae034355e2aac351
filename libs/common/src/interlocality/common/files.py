"""Files that several processes of a region share under ``var/``: written whole or not at
all, and, for a key made on first use, made once for all of them.

A reader must never see half a file: the content goes to a temporary file in the same
directory, which is then moved into place (``os.replace``) or, when the first writer must
win, linked there (``os.link`` fails if the name exists). Both are atomic on one file
system, so the name holds the old file, the new one, or none.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["made_once", "write_whole"]

# How long a reader waits for a file that exists but is still empty: one left half-made by
# an older writer that created it first and filled it after.
_EMPTY_WAIT_SECONDS = 2.0


def write_whole(path: Path, content: bytes, *, exclusive: bool = False) -> bool:
    """Write ``content`` to ``path`` (mode 0600) so that a reader sees the old file or the
    new one, never a part. ``exclusive``: a file already there wins and is left alone.

    Returns whether this call's content is the one at ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, 0o600)
        os.write(handle, content)
        os.fsync(handle)
        os.close(handle)
        if not exclusive:
            os.replace(temporary, path)
            return True
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def made_once(path: Path, make: Callable[[], bytes]) -> bytes:
    """The content of ``path``, made by ``make`` when there is none yet.

    Processes that start at once on an empty directory each make one, and the first to put
    it in place wins: every one of them returns that content, whole. A file found empty is
    read again for a moment (a writer of old made the file first and filled it after); one
    still empty then is an error, never an empty key.
    """
    if not path.exists():
        write_whole(path, make(), exclusive=True)
    deadline = time.monotonic() + _EMPTY_WAIT_SECONDS
    while not (content := path.read_bytes()).strip():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} is empty: delete it to have a new one made")
        time.sleep(0.05)
    return content
