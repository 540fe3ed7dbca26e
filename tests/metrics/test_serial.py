"""The bytes of states: integral arrays are stored narrow and come back bit for bit; older layouts still load."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from assay.errors import StateError
from assay.metrics import _serial
from assay.metrics.table import SortedTable

LAWS = settings(max_examples=60, deadline=None, derandomize=True)

floats = st.one_of(st.sampled_from([0.0, -0.0, 1.0, 255.0, 256.0, -129.0, 65535.0, 2.0**31, 2.0**32, -(2.0**31),
                                    0.5, np.nan, np.inf, -np.inf]),
                   st.integers(-(2**33), 2**33).map(float), st.floats(allow_nan=True))
ints = st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-300, 70_000))


@LAWS
@given(a=st.one_of(hnp.arrays(np.float64, st.integers(0, 300), elements=floats),
                   hnp.arrays(np.int64, st.integers(0, 300), elements=ints),
                   hnp.arrays(np.float64, st.tuples(st.integers(0, 80), st.integers(1, 3)),
                              elements=st.integers(0, 500).map(float))))
def test_arrays_come_back_bit_for_bit(a: np.ndarray) -> None:
    _, back = _serial.load(_serial.dump("test", 1, {}, {"a": a}), "test", 1)
    out = back["a"]
    assert out.dtype == a.dtype and out.shape == a.shape
    assert out.tobytes() == a.tobytes()  # -0.0, NaN payloads and all


def test_integral_arrays_are_stored_in_the_smallest_type_that_holds_them() -> None:
    def stored(a: np.ndarray) -> str:
        blob = _serial.dump("test", 1, {}, {"a": a})
        import json

        size = int.from_bytes(blob[len(_serial.MAGIC):len(_serial.MAGIC) + 4], "little")
        return json.loads(blob[len(_serial.MAGIC) + 4:len(_serial.MAGIC) + 4 + size])["arrays"][0][1]

    n = 100
    assert stored(np.arange(n, dtype=np.float64)) == "|u1"
    assert stored(np.arange(n, dtype=np.int64) - 50) == "|i1"
    assert stored(np.full(n, 60_000.0)) == "<u2"
    assert stored(np.full(n, 3e9)) == "<u4"
    assert stored(np.full(n, -3e9)) == "<f8"  # below int32
    assert stored(np.full(n, 0.5)) == "<f8"  # fractions stay floats
    assert stored(np.array([-0.0] + [1.0] * (n - 1))) == "<f8"  # -0.0 would come back as 0.0
    assert stored(np.array([np.nan] + [1.0] * (n - 1))) == "<f8"
    assert stored(np.arange(10, dtype=np.float64)) == "<f8"  # short arrays as they are


def test_bytes_of_the_earlier_layout_and_sorted_table_version_1_still_load(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    table = SortedTable.empty(2).update(rng.random(500), rng.integers(0, 2, 500), codes=rng.integers(0, 3, 500),
                                        group_keys=("a", "b", "c"))
    monkeypatch.setattr(_serial, "_NARROW_FROM", 1 << 62)  # the layout before narrowing: [name, dtype, shape]
    header = {"n_mass": 2, "groups": list(table.groups), "shift": 0, "cap": None}
    v1 = _serial.dump("sorted-table", 1, header, {"group": table.group, "key": table.key, "mass": table.mass,
                                                  "sq": table.sq})
    monkeypatch.undo()
    for blob in (v1, table.to_bytes()):
        back = SortedTable.from_bytes(blob)
        assert back.groups == table.groups
        for name in ("group", "key", "mass", "sq"):
            np.testing.assert_array_equal(getattr(back, name), getattr(table, name))
    assert len(table.to_bytes()) < len(v1)  # keys as differences, masses narrow
    with pytest.raises(StateError, match="version 1 or 2, found sorted-table version 3"):
        SortedTable.from_bytes(_serial.dump("sorted-table", 3, header, {}))
