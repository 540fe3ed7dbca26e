"""Atomic writes: the target holds the old content or the whole new content, and no temporary file stays behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from assay.data.atomic import atomic_path, atomic_write


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


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_new_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "out.txt", "x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == 0o644
