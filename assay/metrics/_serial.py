"""Compact, versioned bytes for states: a magic line, a JSON header, then the arrays in NumPy's ``.npz`` format."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np

from assay.errors import StateError

MAGIC = b"ASSAYSTATE\n"


def dump(kind: str, version: int, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """Serialise a state of ``kind`` at ``version``: ``header`` must be JSON-able, ``arrays`` numeric."""
    head = json.dumps({"kind": kind, "version": version, **header}, separators=(",", ":")).encode()
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    return MAGIC + len(head).to_bytes(4, "little") + head + buf.getvalue()


def load(data: bytes, kind: str, version: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Inverse of :func:`dump`; raises :class:`StateError` when the bytes are not a ``kind`` state of ``version``."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise StateError(f"state bytes: expected an assay {kind} state, found bytes without the assay header")
    start = len(MAGIC) + 4
    size = int.from_bytes(data[len(MAGIC) : start], "little")
    try:
        header = json.loads(data[start : start + size])
        found_kind, found_version = header.pop("kind"), header.pop("version")
    except (ValueError, KeyError) as exc:
        raise StateError(f"state bytes: expected an assay {kind} state, found a corrupt header ({exc})") from None
    if found_kind != kind or found_version != version:
        raise StateError(
            f"state bytes: expected a {kind} state of version {version}, found {found_kind} version {found_version}"
        )
    try:
        with np.load(io.BytesIO(data[start + size :]), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise StateError(f"state bytes: the arrays of the {kind} state do not decode ({exc})") from None
    return header, arrays


def keys_to_json(keys: tuple[Any, ...]) -> list[Any]:
    """Group keys as JSON values (they are already str, int, float, bool or None)."""
    return list(keys)


def keys_from_json(keys: list[Any]) -> tuple[Any, ...]:
    """Group keys back from JSON: lists (JSON's tuples) become tuples again."""

    def back(k: Any) -> Any:
        return tuple(back(v) for v in k) if isinstance(k, list) else k

    return tuple(back(k) for k in keys)
