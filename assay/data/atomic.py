"""Write output files atomically: readers see the old file or the complete new one, never half of it.

The new content goes to a temporary file in the target's directory (so the final rename stays on one file system),
is flushed to disk, and is renamed over the target with :func:`os.replace`. On any error the temporary file is
removed and the target is left as it was.

Permissions are those of a plain write: a new file gets ``0o666`` filtered by the umask (the temporary file is
created with that mode, not the private ``0o600`` of :func:`tempfile.mkstemp`), and a file that is replaced keeps
its mode. The mode is set on the temporary file just before the rename, so a writer that re-creates the temporary
file (pyarrow's Parquet writer) cannot change it.

>>> import pathlib, tempfile
>>> with tempfile.TemporaryDirectory() as folder:
...     atomic_write(pathlib.Path(folder, "report.json"), '{"ok": true}')
...     print(pathlib.Path(folder, "report.json").read_text(), sorted(p.name for p in pathlib.Path(folder).iterdir()))
{"ok": true} ['report.json']
"""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["AtomicFile", "atomic_path", "atomic_write"]


class AtomicFile:
    """A temporary file beside ``path`` that :meth:`commit` moves over ``path`` and :meth:`discard` removes.

    For writers that outlive one ``with`` block (the per-item sidecar, written batch by batch); otherwise use
    :func:`atomic_path`. The temporary file ``tmp`` exists (empty) once the object is made.

    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     pending = AtomicFile(pathlib.Path(folder, "items.bin"))
    ...     _ = pending.tmp.write_bytes(b"rows")
    ...     pending.commit()
    ...     print(sorted(p.name for p in pathlib.Path(folder).iterdir()))
    ['items.bin']
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            # 0o666 filtered by the umask, as for any new file: the mode a new target gets
            fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:  # name the file the user asked for, not the temporary one
            raise OSError(exc.errno, exc.strerror, os.fspath(path)) from None
        try:
            self._new_mode = stat.S_IMODE(os.fstat(fd).st_mode)
        finally:
            os.close(fd)

    def commit(self) -> None:
        """Flush the temporary file to disk, give it the target's mode (or a new file's) and rename it over the
        target; on failure, remove it and raise."""
        try:
            _fsync(self.tmp)
            try:
                mode = stat.S_IMODE(os.stat(self.path).st_mode)
            except FileNotFoundError:
                mode = self._new_mode
            os.chmod(self.tmp, mode)
            os.replace(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise
        _fsync_directory(self.path.parent)

    def discard(self) -> None:
        """Remove the temporary file (if it is still there); the target is untouched."""
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds, move it over ``path``.

    The temporary file exists (empty) when the block starts. When it is moved into place it gets the permissions
    of a plain write: those of the file it replaces, else ``0o666`` filtered by the umask. If the block raises,
    the temporary file is removed and ``path`` is untouched.

    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     target = pathlib.Path(folder, "out.txt")
    ...     with atomic_path(target) as tmp:
    ...         _ = tmp.write_text("done")
    ...     print(target.read_text())
    done
    """
    pending = AtomicFile(path)
    try:
        yield pending.tmp
    except BaseException:
        pending.discard()
        raise
    pending.commit()


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
