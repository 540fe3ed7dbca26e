"""UUIDv7 (RFC 9562): the layout's fixed bits, the timestamp, order within one process, uniqueness."""

from __future__ import annotations

import random
import time
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assay.watch.ids import UUID7Generator, timestamp_ms, uuid7


def _fixed_clock(ms: int):  # type: ignore[no-untyped-def]
    return lambda: ms * 1_000_000


def test_version_and_variant_bits() -> None:
    for _ in range(1000):
        u = uuid.UUID(uuid7())
        assert u.version == 7
        assert u.variant == uuid.RFC_4122
        assert (u.int >> 76) & 0xF == 0b0111
        assert (u.int >> 62) & 0b11 == 0b10


def test_canonical_lowercase_string() -> None:
    text = uuid7()
    assert text == str(uuid.UUID(text)) and len(text) == 36 and text == text.lower()


def test_timestamp_is_now_and_parses_back() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= timestamp_ms(value) <= after + 1  # +1: a rollover may move the timestamp ahead


@given(st.integers(min_value=0, max_value=(1 << 48) - 2))
def test_explicit_timestamp_round_trips(ms: int) -> None:
    new_id = UUID7Generator(rng=random.Random(ms))
    value = new_id(ms)
    assert timestamp_ms(value) == ms
    assert timestamp_ms(uuid.UUID(value)) == ms
    assert uuid.UUID(value).version == 7


def test_successive_ids_are_increasing() -> None:
    ids = [uuid7() for _ in range(20_000)]
    assert ids == sorted(ids)
    assert [uuid.UUID(i).int for i in ids] == sorted(uuid.UUID(i).int for i in ids)
    stamps = [timestamp_ms(i) for i in ids]
    assert stamps == sorted(stamps)


def test_hundred_thousand_ids_are_distinct() -> None:
    ids = [uuid7() for _ in range(100_000)]
    assert len(set(ids)) == 100_000


def test_same_millisecond_uses_the_counter_and_rolls_over_ahead() -> None:
    new_id = UUID7Generator(rng=random.Random(0), clock=_fixed_clock(1_700_000_000_000))
    ids = [new_id() for _ in range(5000)]  # more than one counter's worth in one millisecond
    assert ids == sorted(ids) and len(set(ids)) == 5000
    stamps = [timestamp_ms(i) for i in ids]
    assert stamps[0] == 1_700_000_000_000
    assert 1_700_000_000_000 < stamps[-1] <= 1_700_000_000_000 + 5  # moved ahead on rollover, not far
    counter = (uuid.UUID(ids[0]).int >> 64) & 0xFFF
    assert counter < 0x800  # seeded with the top bit left 0 (RFC 9562 §6.2 rollover guard)
    assert (uuid.UUID(ids[1]).int >> 64) & 0xFFF == counter + 1


def test_clock_stepping_back_keeps_the_order() -> None:
    times = iter([5_000, 5_000, 4_000, 4_999, 5_001])
    new_id = UUID7Generator(clock=lambda: next(times) * 1_000_000)
    ids = [new_id() for _ in range(5)]
    assert ids == sorted(ids)
    assert [timestamp_ms(i) for i in ids] == [5_000, 5_000, 5_000, 5_000, 5_001]


def test_an_explicit_past_timestamp_is_used_as_given() -> None:
    new_id = UUID7Generator(clock=_fixed_clock(10_000))
    later = new_id()
    past = new_id(1_000)
    assert timestamp_ms(past) == 1_000
    assert new_id() > later  # the sequence is unaffected


def test_seeded_rng_is_reproducible() -> None:
    a = UUID7Generator(rng=random.Random(7))(1_234)
    b = UUID7Generator(rng=random.Random(7))(1_234)
    assert a == b


@pytest.mark.parametrize("bad", [-1, 1 << 48, 1.5, True, "5"])
def test_bad_timestamps_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match="now_ms"):
        uuid7(bad)  # type: ignore[arg-type]


def test_timestamp_of_another_version_is_rejected() -> None:
    with pytest.raises(ValueError, match="version 7"):
        timestamp_ms(str(uuid.uuid4()))
