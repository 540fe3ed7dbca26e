"""Group keys of grouped states: every state has a leading group axis whose entries are named by key values.

States are merged by key value, not by position, so that states built on different machines (or chunks that met
their groups in a different order) align.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

GroupKeys = tuple[Hashable, ...]

OVERALL: GroupKeys = (None,)


def align(a: GroupKeys, b: GroupKeys) -> tuple[GroupKeys, np.ndarray, np.ndarray]:
    """Union of two key tuples and the positions of ``a``'s and ``b``'s keys in it.

    >>> keys, ia, ib = align(("x", "y"), ("y", "z"))
    >>> keys, ia.tolist(), ib.tolist()
    (('x', 'y', 'z'), [0, 1], [1, 2])
    """
    if a == b:
        idx = np.arange(len(a), dtype=np.int64)
        return a, idx, idx
    position = {key: i for i, key in enumerate(a)}
    merged = list(a)
    for key in b:
        if key not in position:
            position[key] = len(merged)
            merged.append(key)
    ia = np.arange(len(a), dtype=np.int64)
    ib = np.fromiter((position[key] for key in b), dtype=np.int64, count=len(b))
    return tuple(merged), ia, ib


def scatter(values: np.ndarray, index: np.ndarray, size: int) -> np.ndarray:
    """Place ``values`` (leading axis = groups) at ``index`` of a zero array with ``size`` groups."""
    out = np.zeros((size, *values.shape[1:]), dtype=values.dtype)
    out[index] = values
    return out


def as_keys(keys: Sequence[Hashable]) -> GroupKeys:
    """Normalise group keys to plain Python values (numpy scalars become Python scalars)."""
    return tuple(k.item() if isinstance(k, np.generic) else k for k in keys)
