"""Time-ordered event ids: UUID version 7 (RFC 9562), strictly increasing within one process.

Layout of the 128 bits (RFC 9562 §5.7)::

    unix_ts_ms (48) | ver = 0111 (4) | rand_a (12) | var = 10 (2) | rand_b (62)

``rand_a`` is a counter (RFC 9562 §6.2, method 1, "fixed bit-length dedicated counter"): at each new millisecond it
is seeded with 11 random bits (its top bit left 0, the rollover guard of §6.2), and within the same millisecond it is
incremented, so ids made one after the other sort in the order they were made, as strings and as integers. When the
counter would pass 0xFFF (more than 2,048 ids in one millisecond), the timestamp is moved one millisecond ahead and
the counter seeded again (§6.2, "counter rollover handling"); when the system clock steps back, the last timestamp is
kept. ``rand_b`` is 62 fresh random bits per id.

>>> import random
>>> a = uuid7(now_ms=1_700_000_000_000, rng=random.Random(0))
>>> a[:15], a[19] in "89ab"
('018bcfe5-6800-7', True)
>>> timestamp_ms(a)
1700000000000
>>> ids = [uuid7() for _ in range(1000)]
>>> ids == sorted(ids) and len(set(ids)) == 1000
True
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Protocol

__all__ = ["UUID7Generator", "timestamp_ms", "uuid7"]

_MAX_MS = (1 << 48) - 1
_COUNTER_MAX = 0xFFF
_VERSION = 0x7 << 76
_VARIANT = 0b10 << 62


class RandomBits(Protocol):
    """Anything with ``getrandbits(k)``, such as :class:`random.Random` or :class:`secrets.SystemRandom`."""

    def getrandbits(self, k: int, /) -> int: ...


def _urandom_bits(k: int) -> int:
    return int.from_bytes(os.urandom((k + 7) // 8), "big") >> (-k % 8)


class UUID7Generator:
    """A source of UUIDv7 strings, strictly increasing from one call to the next (thread-safe).

    ``rng`` supplies the random bits (``os.urandom`` by default); ``clock`` returns Unix time in nanoseconds
    (:func:`time.time_ns` by default). Calling the generator with ``now_ms`` uses that timestamp instead of the
    clock; a ``now_ms`` earlier than the last timestamp used gives an id with exactly that timestamp, outside the
    increasing sequence (the generator's state is left as it was).

    >>> import random
    >>> new_id = UUID7Generator(rng=random.Random(1), clock=lambda: 1_700_000_000_000_000_000)
    >>> ids = [new_id() for _ in range(3)]
    >>> ids == sorted(ids), {timestamp_ms(i) for i in ids}
    (True, {1700000000000})
    """

    def __init__(self, rng: RandomBits | None = None, clock: Callable[[], int] = time.time_ns) -> None:
        self._rng = rng
        self._clock = clock
        self._lock = threading.Lock()
        self._last_ms = -1
        self._counter = 0

    def __call__(self, now_ms: int | None = None, rng: RandomBits | None = None) -> str:
        source = rng if rng is not None else self._rng
        bits = source.getrandbits if source is not None else _urandom_bits
        if now_ms is None:
            ms = self._clock() // 1_000_000
        else:
            if isinstance(now_ms, bool) or not isinstance(now_ms, int) or not 0 <= now_ms <= _MAX_MS:
                raise ValueError(f"now_ms: expected an integer count of milliseconds in [0, 2**48), found {now_ms!r}")
            ms = now_ms
        with self._lock:
            if now_ms is not None and ms < self._last_ms:
                counter = bits(11)  # an explicit past timestamp: used as given, outside the sequence
            elif ms > self._last_ms:
                counter = bits(11)
                self._last_ms, self._counter = ms, counter
            else:  # the same millisecond, or the clock stepped back: continue the sequence
                ms = self._last_ms
                counter = self._counter + 1
                if counter > _COUNTER_MAX:
                    ms = min(ms + 1, _MAX_MS)
                    counter = bits(11)
                self._last_ms, self._counter = ms, counter
        value = (ms << 80) | _VERSION | (counter << 64) | _VARIANT | bits(62)
        return str(uuid.UUID(int=value))


_default = UUID7Generator()


def uuid7(now_ms: int | None = None, rng: RandomBits | None = None) -> str:
    """A new UUIDv7 as a canonical lowercase string, greater than the last one this function made in this process
    (unless ``now_ms`` is earlier than that one's timestamp: see :class:`UUID7Generator`).

    ``now_ms`` replaces the current Unix time in milliseconds; ``rng`` (anything with ``getrandbits``) replaces
    ``os.urandom`` as the source of the random bits, for this call only.

    >>> import uuid
    >>> u = uuid.UUID(uuid7())
    >>> u.version, u.variant == uuid.RFC_4122
    (7, True)
    """
    return _default(now_ms, rng)


def timestamp_ms(value: str | uuid.UUID) -> int:
    """The Unix time in milliseconds a UUIDv7 carries.

    >>> timestamp_ms("018bcfe5-6800-7000-8000-000000000000")
    1700000000000
    """
    u = value if isinstance(value, uuid.UUID) else uuid.UUID(value)
    if u.version != 7:
        raise ValueError(f"expected a UUID of version 7, found version {u.version}: {value}")
    return u.int >> 80
