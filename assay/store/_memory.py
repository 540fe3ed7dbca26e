"""The in-memory run store: the test double of the SQLite store, held to the same contract tests."""

from __future__ import annotations

import json
import threading
from typing import Any

from assay.store._base import Clock, GitLookup, Promotion, Record, RunInfo, StoreBase, git_commit_here


class MemoryStore(StoreBase):
    """Runs in a dictionary, for tests and short-lived sessions; nothing is written anywhere.

    ``now`` and ``git_commit`` are those of :class:`~assay.store._base.StoreBase`.
    """

    def __init__(self, *, now: Clock | None = None, git_commit: GitLookup | None = git_commit_here) -> None:
        super().__init__(now=now, git_commit=git_commit)
        self._lock = threading.RLock()
        self._records: dict[str, tuple[int, Record]] = {}  # run id -> (order of adding, record)
        self._promotions: list[Promotion] = []  # oldest first

    @property
    def location(self) -> str:
        return "memory"

    def _put(self, record: Record) -> str | None:
        with self._lock:
            present = self._records.get(record.run_id)
            if present is not None:
                return present[1].sha256
            self._records[record.run_id] = (len(self._records), record)
            return None

    def _is_promoted(self, record: Record) -> bool:
        current = self._current_promotion(record.model_name) if record.model_name is not None else None
        return current is not None and current.run_id == record.run_id

    def _matching(self, text: str, *, prefix: bool, limit: int) -> list[RunInfo]:
        with self._lock:
            found = sorted(run_id for run_id in self._records
                           if (run_id.startswith(text) if prefix else run_id == text))[:limit]
            return [self._records[run_id][1].info(promoted=self._is_promoted(self._records[run_id][1]))
                    for run_id in found]

    def _runs(self, *, model: str | None, limit: int) -> list[RunInfo]:
        with self._lock:
            rows = [(order, r) for order, r in self._records.values() if model is None or r.model_name == model]
            rows.sort(key=lambda row: (row[1].created_at or row[1].added_at, row[0]), reverse=True)
            return [r.info(promoted=self._is_promoted(r)) for _, r in rows[:limit]]

    def _load(self, run_id: str) -> tuple[RunInfo, dict[str, Any]]:
        with self._lock:
            record = self._records[run_id][1]
            return record.info(promoted=self._is_promoted(record)), json.loads(record.document)

    def _current_promotion(self, model: str | None) -> Promotion | None:
        with self._lock:
            for promotion in reversed(self._promotions):
                if model is None or promotion.model_name == model:
                    return promotion
            return None

    def _history(self, model: str) -> list[Promotion]:
        with self._lock:
            return [p for p in self._promotions if p.model_name == model]

    def _promote(self, promotion: Promotion) -> None:
        with self._lock:
            current = self._current_promotion(promotion.model_name)
            if current is None or current.run_id != promotion.run_id:
                self._promotions.append(promotion)

    def _models(self) -> list[str]:
        with self._lock:
            return sorted({r.model_name for _, r in self._records.values() if r.model_name is not None})
