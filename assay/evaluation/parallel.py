"""Independent pieces of one evaluation (the states of each grouping, the metrics of each grouping) on the
machine's cores.

The pieces are pure functions of the batch or of merged states, and NumPy releases the interpreter lock in its
sorts, gathers and ufunc loops, so threads overlap the heavy work. Results do not depend on the schedule: each
piece computes what it would alone.

``ASSAY_THREADS`` caps the threads (``ASSAY_THREADS=1`` runs every piece in the calling thread).

>>> run_all([lambda: 1, lambda: 2], parallel=True)
[1, 2]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from assay.errors import ConfigError, message

T = TypeVar("T")

MIN_ROWS = 1 << 17
"""Batches smaller than this run in one thread: starting threads would cost more than it saves."""


def workers() -> int:
    """Threads available to one evaluation: ``ASSAY_THREADS`` if set, else the usable cores (at most 4)."""
    raw = os.environ.get("ASSAY_THREADS", "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ConfigError(message(where="environment variable ASSAY_THREADS", expected="a whole number of "
                                      "threads, at least 1", found=repr(raw),
                                      fix="set ASSAY_THREADS=1 for one thread, or unset it to use the cores"))
        return int(raw)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


def run_all(calls: Sequence[Callable[[], T]], *, parallel: bool) -> list[T]:
    """The results of ``calls`` in order; on threads when ``parallel`` and more than one thread is available. The
    first exception raised by a call is raised here."""
    limit = workers()  # read (and checked) whatever the batch size, so a bad setting fails at once
    threads = min(limit, len(calls)) if parallel else 1
    if threads <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="assay") as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]
