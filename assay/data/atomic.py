"""Write output files atomically: readers see the old file or the complete new one, never half of it.

The new content goes to a temporary file in the target's directory (so the final rename stays on one file system),
is flushed to disk, and is renamed over the target with :func:`os.replace`. On any error the temporary file is
removed and the target is left as it was.

>>> import pathlib, tempfile
>>> with tempfile.TemporaryDirectory() as folder:
...     atomic_write(pathlib.Path(folder, "report.json"), '{"ok": true}')
...     print(pathlib.Path(folder, "report.json").read_text(), sorted(p.name for p in pathlib.Path(folder).iterdir()))
{"ok": true} ['report.json']
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds, move it over ``path``.

    The temporary file exists (empty) when the block starts and gets the permissions a newly created file would.
    If the block raises, the temporary file is removed and ``path`` is untouched.

    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     target = pathlib.Path(folder, "out.txt")
    ...     with atomic_path(target) as tmp:
    ...         _ = tmp.write_text("done")
    ...     print(target.read_text())
    done
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    # Mode 0o666 filtered by the umask, as for any new file (tempfile.mkstemp would make it 0o600).
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:  # name the file the user asked for, not the temporary one
        raise OSError(exc.errno, exc.strerror, os.fspath(path)) from None
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_directory(target.parent)


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write ``data`` (``str`` as UTF-8) to ``path`` atomically, replacing any file there."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    """Persist the rename itself; not possible on every platform (Windows), where it is skipped."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
