"""The run store: evaluation runs kept by id, listed, promoted per model name, and compared.

::

    open_store(home) -> RunStore          SQLite at <home or $ASSAY_HOME or ./.assay>/runs.sqlite
    MemoryStore()                         the in-memory double, held to the same contract
    store.add(doc, source=path) -> id     idempotent for the same document; another under a known id is refused
    store.get(ref) -> doc                 ref: run id, id prefix (6+), @latest[:MODEL], @promoted[:MODEL]
    store.list(model=, limit=)            RunInfo rows, newest first
    store.promote(ref, note=)             the promoted run of its model name, with history
    store.lineage(ref)                    model, dataset, git commit, config, times, promotions
    diff(a, b) -> rows                    metric by metric, refused across different evaluation data

Errors are :class:`StoreError`, an :class:`~assay.errors.InputError`.

Modules, each importing only those below it (a test parses the imports and refuses a cycle)::

    runs        diff, store_home, open_store
    _sqlite     SQLiteStore          _memory     MemoryStore
    _base       StoreBase (validation, references, lineage), RunStore, Record, RunInfo, StoreError, check_run
"""

from assay.store._base import Promotion, RunInfo, RunStore, StoreError, check_run, current_git_commit
from assay.store._memory import MemoryStore
from assay.store._sqlite import SQLiteStore
from assay.store.runs import diff, open_store, store_home

__all__ = [
    "MemoryStore",
    "Promotion",
    "RunInfo",
    "RunStore",
    "SQLiteStore",
    "StoreError",
    "check_run",
    "current_git_commit",
    "diff",
    "open_store",
    "store_home",
]
