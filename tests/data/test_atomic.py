"""Atomic writes: the target holds the old content or the whole new content, and no temporary file stays behind."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assay.data.atomic import AtomicFile, atomic_path, atomic_write


class Boom(Exception):
    pass


def test_atomic_write_text_and_bytes(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    atomic_write(target, "é\n")
    assert target.read_bytes() == "é\n".encode()
    atomic_write(str(target), b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert os.listdir(tmp_path) == ["report.json"]


def test_atomic_path_is_a_temporary_file_beside_the_target(tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.exists() and tmp != target
        assert not target.exists()
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["out.parquet"]


@pytest.mark.parametrize("existing", [True, False])
@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_failure_leaves_the_target_as_it_was_and_no_temporary_file(
    tmp_path: Path, existing: bool, error: type[BaseException]
) -> None:
    target = tmp_path / "out.txt"
    if existing:
        target.write_text("old")
    with pytest.raises(error), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise error()
    assert os.listdir(tmp_path) == (["out.txt"] if existing else [])
    if existing:
        assert target.read_text() == "old"


def test_block_that_removes_the_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with pytest.raises(FileNotFoundError), atomic_path(target) as tmp:
        tmp.unlink()
    assert os.listdir(tmp_path) == []


def test_missing_directory_raises_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "missing" / "out.txt", "x")
    assert os.listdir(tmp_path) == []


posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


@pytest.fixture(params=[0o022, 0o027], ids=["umask-022", "umask-027"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """The process umask set for the test (and restored after it): 0o022 gives new files 0o644, 0o027 gives 0o640."""
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _write_with_atomic_write(target: Path) -> None:
    atomic_write(target, "x")


def _write_with_atomic_path(target: Path) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text("x")


def _write_with_a_writer_that_recreates_the_file(target: Path) -> None:
    """As pyarrow's Parquet writer may: the temporary file is removed and made again, here with 0o600."""
    with atomic_path(target) as tmp:
        tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"x")
        os.close(fd)


def _write_with_atomic_file(target: Path) -> None:
    pending = AtomicFile(target)
    pending.tmp.write_text("x")
    pending.commit()


WRITERS = [_write_with_atomic_write, _write_with_atomic_path, _write_with_a_writer_that_recreates_the_file,
           _write_with_atomic_file]


@posix_only
@pytest.mark.parametrize("write", WRITERS, ids=lambda f: f.__name__.removeprefix("_write_with_"))
def test_a_new_file_gets_0666_filtered_by_the_umask(tmp_path: Path, umask: int, write: Any) -> None:
    target = tmp_path / "out.txt"
    write(target)
    assert _mode(target) == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["out.txt"]


@posix_only
@pytest.mark.parametrize("existing", [0o640, 0o600, 0o444], ids=oct)
@pytest.mark.parametrize("write", WRITERS, ids=lambda f: f.__name__.removeprefix("_write_with_"))
def test_a_replaced_file_keeps_its_mode(tmp_path: Path, umask: int, write: Any, existing: int) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    target.chmod(existing)
    write(target)
    assert target.read_text() == "x"
    assert _mode(target) == existing


@posix_only
def test_discard_removes_the_temporary_file_and_leaves_the_target(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    pending = AtomicFile(target)
    pending.tmp.write_text("new")
    pending.discard()
    pending.discard()  # twice is harmless
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]
