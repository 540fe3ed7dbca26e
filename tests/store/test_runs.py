"""The run store: one contract suite run against every backend (the in-memory double and SQLite), then what only
SQLite has to show (persistence, its folder, WAL, concurrent writers), then ``diff``."""

from __future__ import annotations

import ast
import copy
import json
import sqlite3
import subprocess
import sys
import threading
import types
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import assay
import assay.store
from assay.errors import ConfigError, InputError
from assay.store import MemoryStore, RunStore, SQLiteStore, StoreError, current_git_commit, diff, open_store
from assay.store.runs import store_home

COMMIT = "c0ffee" + "0" * 34
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def make_run(model: str | None = "fraud", *, seed: int = 0, n: int = 40, version: str | None = None,
             run_id: str | None = None, created: datetime | None = None) -> dict[str, Any]:
    """A real run document of a small binary evaluation; ``seed`` changes the labels (and so the fingerprint)."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.array([0, 1] * (n // 2)))
    s = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, n), 0, 1)
    doc = assay.evaluate({"y": y, "s": s, "id": np.arange(n)}, task="binary", label="y", score="s",
                         model_name=model, model_version=version, id="id", dataset_name=f"holdout-{seed}",
                         now=created or T0).to_dict()
    if run_id is not None:
        doc["run_id"] = run_id
    return doc


class Clock:
    """A clock that ticks one second per call, so that every stored time is distinct and known."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> datetime:
        self.calls += 1
        return T0 + timedelta(days=1, seconds=self.calls)


def _memory(tmp_path: Path) -> MemoryStore:
    return MemoryStore(now=Clock(), git_commit=lambda: COMMIT)


def _sqlite(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "home" / "runs.sqlite", now=Clock(), git_commit=lambda: COMMIT)


BACKENDS: dict[str, Callable[[Path], Any]] = {"memory": _memory, "sqlite": _sqlite}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return BACKENDS[request.param](tmp_path)


# -- the contract --------------------------------------------------------------------------------------------------


def test_both_backends_satisfy_the_protocol(store: Any) -> None:
    typed: RunStore = store
    assert isinstance(typed.location, str)
    assert store.list() == []


def test_add_returns_the_run_id_and_get_returns_the_same_document(store: Any) -> None:
    doc = make_run()
    original = copy.deepcopy(doc)
    assert store.add(doc) == doc["run_id"]
    assert doc == original  # the caller's document is not touched
    got = store.get(doc["run_id"])
    assert got == doc
    assert list(got["metrics"]) == list(doc["metrics"])  # the metrics keep their order
    got["metrics"].clear()
    assert store.get(doc["run_id"]) == doc  # a fresh copy each time


def test_adding_the_same_document_again_changes_nothing(store: Any) -> None:
    doc = make_run()
    store.add(doc, source="a.json")
    reordered = dict(reversed(list(copy.deepcopy(doc).items())))
    assert store.add(reordered, source="b.json") == doc["run_id"]
    [info] = store.list()
    assert info.source == "a.json"  # the first add's record stays


def test_a_different_document_under_a_known_run_id_is_refused(store: Any) -> None:
    doc = make_run()
    store.add(doc)
    other = make_run(seed=1, run_id=doc["run_id"])
    with pytest.raises(StoreError, match="different document") as err:
        store.add(other, source="other.json")
    assert doc["run_id"] in str(err.value) and "other.json" in str(err.value)
    assert store.get(doc["run_id"]) == doc


def _without(path: str) -> Callable[[dict[str, Any]], Any]:
    def edit(doc: dict[str, Any]) -> dict[str, Any]:
        *parents, last = path.split(".")
        target = doc
        for key in parents:
            target = target[key]
        del target[last]
        return doc

    return edit


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda doc: doc | {key: value}


@pytest.mark.parametrize(("edit", "found"), [
    (lambda doc: [doc], "a JSON array"),
    (_without("schema"), "no 'schema'"),
    (_set("schema", "assay.run/2"), "schema 'assay.run/2'"),
    (_without("run_id"), "no 'run_id'"),
    (_without("dataset.fingerprint"), "no 'dataset.fingerprint'"),
    (_without("metrics"), "no 'metrics'"),
    (_set("model", "fraud"), "'model' as a JSON string"),
    (_set("run_id", "@latest"), "'run_id' '@latest'"),
    (_set("run_id", ""), "'run_id' ''"),
    (_set("metrics", {"auc": 0.9}), "'metrics' that is not an object of metric objects"),
    (_set("created_at", "yesterday"), "'created_at' 'yesterday'"),
])
def test_a_document_that_is_not_a_run_is_refused_naming_the_file_and_what_is_wrong(
        store: Any, edit: Callable[[dict[str, Any]], Any], found: str) -> None:
    with pytest.raises(StoreError) as err:
        store.add(edit(make_run()), source="runs/bad.json")
    text = str(err.value)
    assert text.startswith("runs/bad.json: expected an assay run document (schema 'assay.run/1')")
    assert found in text and "Fix:" in text
    assert isinstance(err.value, InputError)
    assert store.list() == []


def test_a_document_with_values_json_cannot_hold_is_refused(store: Any) -> None:
    doc = make_run()
    doc["metrics"]["accuracy"]["value"] = float("nan")
    with pytest.raises(StoreError, match="JSON values"):
        store.add(doc)


def test_list_is_newest_first_by_creation_time_then_by_order_of_adding(store: Any) -> None:
    old = make_run(run_id="old-run", created=T0)
    new = make_run(run_id="new-run", created=T0 + timedelta(hours=2))
    # the same instant written with another offset sorts as the same instant
    mid = make_run(run_id="mid-run", created=T0 + timedelta(hours=1))
    mid["created_at"] = (T0 + timedelta(hours=1)).astimezone(timezone(timedelta(hours=5))).isoformat()
    tie = make_run(run_id="tie-run", created=T0)
    for doc in (new, old, mid, tie):
        store.add(doc)
    assert [r.run_id for r in store.list()] == ["new-run", "mid-run", "tie-run", "old-run"]
    assert [r.run_id for r in store.list(limit=2)] == ["new-run", "mid-run"]
    assert store.get("@latest")["run_id"] == "new-run"


def test_list_filters_by_model_and_describes_each_run(store: Any) -> None:
    store.add(make_run("fraud", version="7", run_id="fraud-7", created=T0), source="/runs/f.json")
    store.add(make_run("churn", run_id="churn-1", seed=3, created=T0 + timedelta(hours=1)))
    [info] = store.list(model="fraud")
    assert info.run_id == "fraud-7"
    assert (info.model_name, info.model_version, info.dataset_name, info.task) == ("fraud", "7", "holdout-0",
                                                                                   "binary")
    assert info.fingerprint.startswith("sha256:") and len(info.fingerprint) == 71
    assert info.created_at == "2025-01-01T00:00:00.000000+00:00"
    assert info.added_at == "2025-01-02T00:00:01.000000+00:00"
    assert (info.git_commit, info.source, info.promoted) == (COMMIT, "/runs/f.json", False)
    assert info.to_dict()["run_id"] == "fraud-7"
    assert store.list(model="nobody") == []


@pytest.mark.parametrize("limit", [0, -1, True, 2.5])
def test_a_limit_below_one_is_refused(store: Any, limit: Any) -> None:
    with pytest.raises(ConfigError, match="limit"):
        store.list(limit=limit)


def test_references_by_id_prefix(store: Any) -> None:
    for run_id in ("abcdef0001", "abcdef0002", "abcdeg0003", "r1"):
        store.add(make_run(run_id=run_id))
    assert store.get("abcdef0001")["run_id"] == "abcdef0001"
    assert store.get("abcdeg")["run_id"] == "abcdeg0003"  # a unique prefix of 6 characters
    assert store.get("r1")["run_id"] == "r1"  # an exact id may be short
    assert store.get("  abcdef0002 ")["run_id"] == "abcdef0002"
    with pytest.raises(StoreError) as err:
        store.get("abcdef")
    assert "abcdef0001" in str(err.value) and "abcdef0002" in str(err.value) and "more characters" in str(err.value)
    with pytest.raises(StoreError, match="too few for a prefix"):
        store.get("abcde")
    with pytest.raises(StoreError, match="assay runs list"):
        store.get("zzzzzz")


def test_an_exact_id_wins_over_a_longer_id_it_prefixes(store: Any) -> None:
    store.add(make_run(run_id="abcdef"))
    store.add(make_run(run_id="abcdef0001"))
    assert store.get("abcdef")["run_id"] == "abcdef"


@pytest.mark.parametrize("ref", ["", "  ", "@", "@newest", "@latest:", "@promoted: ", "@promoted-fraud"])
def test_malformed_references_say_what_a_reference_is(store: Any, ref: str) -> None:
    store.add(make_run())
    with pytest.raises(StoreError, match="@promoted:MODEL"):
        store.get(ref)


def test_latest_and_promoted_in_an_empty_store(store: Any) -> None:
    with pytest.raises(StoreError, match=r"no runs in .* yet: add one with `assay runs add RUN\.json`"):
        store.get("@latest")
    with pytest.raises(StoreError) as err:
        store.get("@promoted")
    assert str(err.value) == "no promoted run yet: promote one with `assay runs promote <run-id>`"


def test_references_to_an_unknown_model_name_the_models_there_are(store: Any) -> None:
    store.add(make_run("fraud"))
    store.add(make_run("churn"))
    for ref in ("@latest:spam", "@promoted:spam"):
        with pytest.raises(StoreError) as err:
            store.get(ref)
        assert "model 'spam'" in str(err.value) and "'churn', 'fraud'" in str(err.value)
    with pytest.raises(StoreError, match="no promoted run of model 'fraud' yet: promote one with"):
        store.get("@promoted:fraud")


def test_latest_of_a_model(store: Any) -> None:
    store.add(make_run("fraud", run_id="f1", created=T0))
    store.add(make_run("fraud", run_id="f2", created=T0 + timedelta(hours=1)))
    store.add(make_run("churn", run_id="c1", created=T0 + timedelta(hours=2)))
    assert store.get("@latest:fraud")["run_id"] == "f2"
    assert store.get("@latest")["run_id"] == "c1"


def test_promotion_is_per_model_with_history(store: Any) -> None:
    for run_id, model in (("f1", "fraud"), ("f2", "fraud"), ("c1", "churn")):
        store.add(make_run(model, run_id=run_id))
    first = store.promote("f1", note="baseline")
    assert first.promoted and first.run_id == "f1"
    assert store.get("@promoted")["run_id"] == "f1"
    store.promote("c1")
    store.promote("f2", note="better recall")
    assert store.get("@promoted:fraud")["run_id"] == "f2"
    assert store.get("@promoted:churn")["run_id"] == "c1"
    assert store.get("@promoted")["run_id"] == "f2"  # the last promotion of any model
    promoted = {r.run_id: r.promoted for r in store.list()}
    assert promoted == {"f1": False, "f2": True, "c1": True}
    history = store.lineage("f1")["promotions"]
    assert history == [{"promoted_at": "2025-01-02T00:00:04.000000+00:00", "note": "baseline",
                        "superseded_at": "2025-01-02T00:00:06.000000+00:00", "superseded_by": "f2"}]
    assert store.lineage("f2")["promotions"][0]["superseded_by"] is None


def test_promoting_again_brings_a_run_back_and_promoting_the_current_one_is_a_no_op(store: Any) -> None:
    store.add(make_run(run_id="f1"))
    store.add(make_run(run_id="f2"))
    store.promote("f1")
    store.promote("f1", note="again")  # already the promoted run: nothing recorded
    store.promote("f2")
    store.promote("f1", note="rollback")
    assert store.get("@promoted:fraud")["run_id"] == "f1"
    notes = [(p["note"], p["superseded_by"]) for p in store.lineage("f1")["promotions"]]
    assert notes == [(None, "f2"), ("rollback", None)]


def test_promote_takes_any_reference(store: Any) -> None:
    store.add(make_run(run_id="abcdef0001", created=T0))
    store.add(make_run(run_id="abcdef0002", created=T0 + timedelta(hours=1)))
    assert store.promote("@latest").run_id == "abcdef0002"
    assert store.promote("abcdef0001").run_id == "abcdef0001"
    with pytest.raises(StoreError):
        store.promote("abcdef")


def test_a_run_without_a_model_name_cannot_be_promoted(store: Any) -> None:
    store.add(make_run(None, run_id="anon01"))
    with pytest.raises(StoreError, match="--model-name"):
        store.promote("anon01")
    assert store.lineage("anon01")["promotions"] == []


def test_lineage(store: Any) -> None:
    doc = make_run("fraud", version="7", run_id="f1")
    store.add(doc, source="/runs/f1.json")
    store.promote("f1", note="ship it")
    lineage = store.lineage("f1")
    assert lineage == {
        "run_id": "f1",
        "model": {"name": "fraud", "version": "7"},
        "task": "binary",
        "dataset": {"name": "holdout-0", "fingerprint": doc["dataset"]["fingerprint"], "rows": 40},
        "git_commit": COMMIT,
        "config": doc["config"],
        "assay_version": assay.__version__,
        "created_at": doc["created_at"],
        "added_at": "2025-01-02T00:00:01.000000+00:00",
        "source": "/runs/f1.json",
        "promoted": True,
        "promotions": [{"promoted_at": "2025-01-02T00:00:02.000000+00:00", "note": "ship it",
                        "superseded_at": None, "superseded_by": None}],
    }


def test_the_commit_in_the_document_wins_over_the_checked_out_one(store: Any) -> None:
    doc = make_run(run_id="f1")
    doc["config"]["git_commit"] = "1234abcd"
    store.add(doc)
    store.add(make_run(run_id="f2"))
    assert store.lineage("f1")["git_commit"] == "1234abcd"
    assert store.lineage("f2")["git_commit"] == COMMIT


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_no_git_lookup_records_no_commit(tmp_path: Path, backend: str) -> None:
    store = MemoryStore(git_commit=None) if backend == "memory" else SQLiteStore(tmp_path / "r.sqlite",
                                                                                  git_commit=None)
    store.add(make_run(run_id="f1"))
    assert store.lineage("f1")["git_commit"] is None


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_the_default_git_lookup_is_current_git_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      backend: str) -> None:
    monkeypatch.setattr("assay.store._base.current_git_commit", lambda: "f" * 40)
    store = MemoryStore() if backend == "memory" else SQLiteStore(tmp_path / "r.sqlite")
    store.add(make_run(run_id="f1"))
    assert store.lineage("f1")["git_commit"] == "f" * 40


# -- what only SQLite has to show ----------------------------------------------------------------------------------


def test_runs_and_promotions_persist_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    first = SQLiteStore(path, git_commit=lambda: COMMIT)
    doc = make_run(run_id="f1")
    first.add(doc, source="f1.json")
    first.promote("f1", note="keep")
    again = SQLiteStore(path, git_commit=None)
    assert again.get("@promoted:fraud") == doc
    lineage = again.lineage("f1")
    assert (lineage["git_commit"], lineage["source"], lineage["promotions"][0]["note"]) == (COMMIT, "f1.json",
                                                                                         "keep")


def test_the_file_is_created_at_the_first_write_only(tmp_path: Path) -> None:
    home = tmp_path / "nested" / "home"
    store = open_store(home)
    assert store.location == str(home / "runs.sqlite")
    assert store.list() == []
    with pytest.raises(StoreError, match="no promoted run yet"):
        store.get("@promoted")
    assert not home.exists()  # reading created nothing
    store.add(make_run())
    assert (home / "runs.sqlite").is_file()


def test_assay_home_is_honoured_and_the_default_is_dot_assay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ASSAY_HOME", raising=False)
    assert store_home() == tmp_path / ".assay"
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "elsewhere"))
    store = open_store()
    store.add(make_run(run_id="f1"))
    assert (tmp_path / "elsewhere" / "runs.sqlite").is_file()
    assert not (tmp_path / ".assay").exists()
    assert open_store(tmp_path / "elsewhere").get("f1")["run_id"] == "f1"
    assert open_store(tmp_path / "explicit").list() == []  # an explicit home wins over ASSAY_HOME


def test_the_schema_and_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    SQLiteStore(path, git_commit=None).add(make_run())
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        runs = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
        promotions = {row[1] for row in conn.execute("PRAGMA table_info(promotions)")}
        pk = [row[1] for row in conn.execute("PRAGMA table_info(runs)") if row[5]]
    conn.close()
    assert runs == {"run_id", "model_name", "model_version", "dataset_name", "fingerprint", "task", "created_at",
                    "added_at", "git_commit", "source", "document", "sha256"}
    assert {"run_id", "model_name", "promoted_at", "note"} <= promotions
    assert pk == ["run_id"]


def test_two_writers_creating_the_store_at_once_both_succeed(tmp_path: Path) -> None:
    """Switching a new file to WAL does not wait for another connection's lock (SQLite returns busy at once); the
    switch is retried, so neither writer fails. Many fresh stores, both writers opening their write transaction at
    the same moment: without the retry the race was lost about one time in ten."""
    for trial in range(100):
        path = tmp_path / f"runs-{trial}.sqlite"
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def writer(name: str, path: Path = path, barrier: threading.Barrier = barrier,
                   errors: list[BaseException] = errors) -> None:
            store = SQLiteStore(path, git_commit=None)
            try:
                barrier.wait()
                with store._connection(write=True):  # the step that raced: creating the schema in WAL mode
                    pass
                store.add(make_run(run_id=name))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [], trial
        assert {r.run_id for r in SQLiteStore(path, git_commit=None).list()} == {"a", "b"}


def test_concurrent_adds_from_two_connections_keep_every_run(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    base = make_run()
    shared = make_run(run_id="shared")
    per_writer = 25
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        store = SQLiteStore(path, git_commit=None)  # its own connections
        try:
            barrier.wait()
            for i in range(per_writer):
                store.add(base | {"run_id": f"{name}-{i:03d}"})
                store.add(shared)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = SQLiteStore(path, git_commit=None)
    assert len(store.list(limit=1000)) == 2 * per_writer + 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_a_file_that_is_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    path.write_text("not a database, " * 100)
    for action in (lambda s: s.list(), lambda s: s.add(make_run())):
        with pytest.raises(StoreError, match="SQLite cannot use"):
            action(SQLiteStore(path, git_commit=None))


def test_a_store_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    SQLiteStore(path, git_commit=None).add(make_run())
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="newer assay"):
        SQLiteStore(path).list()


def test_a_home_that_is_a_file_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "file"
    home.write_text("")
    with pytest.raises(StoreError, match="expected a folder"):
        open_store(home)


# -- the git lookup --------------------------------------------------------------------------------------------------


@pytest.fixture
def fake_git(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    outcomes: list[Any] = []
    calls: list[Any] = []

    def run(cmd: list[str], **kwargs: Any) -> Any:
        calls.append((cmd, kwargs))
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return subprocess.CompletedProcess(cmd, outcome[0], stdout=outcome[1], stderr="")

    monkeypatch.setattr("assay.store._base.subprocess.run", run)
    yield outcomes
    assert all(call[0] == ["git", "rev-parse", "HEAD"] and call[1]["timeout"] > 0 for call in calls)


def test_current_git_commit(fake_git: list[Any]) -> None:
    fake_git.extend([
        (0, "a" * 40 + "\n"),
        (128, "fatal: not a git repository"),
        FileNotFoundError("git"),
        subprocess.TimeoutExpired("git", 2),
        (0, "not a hash"),
    ])
    assert current_git_commit() == "a" * 40
    assert [current_git_commit() for _ in range(4)] == [None] * 4


# -- diff ------------------------------------------------------------------------------------------------------------


def test_diff_compares_each_metric_in_both_by_its_direction() -> None:
    a, b = make_run(run_id="a", seed=0), make_run(run_id="b", seed=0)
    b["metrics"]["accuracy"]["value"] = a["metrics"]["accuracy"]["value"] + 0.1
    b["metrics"]["log_loss"]["value"] = a["metrics"]["log_loss"]["value"] + 0.2
    del b["metrics"]["brier"]
    rows = {r["metric"]: r for r in diff(a, b)}
    assert "brier" not in rows
    assert list(rows) == [m for m in a["metrics"] if m != "brier"]
    acc = rows["accuracy"]
    assert acc["difference"] == pytest.approx(0.1) and acc["higher_is_better"] is True and acc["better"] == "b"
    assert rows["log_loss"]["higher_is_better"] is False and rows["log_loss"]["better"] == "a"
    assert rows["roc_auc"]["better"] == "=" and rows["roc_auc"]["difference"] == 0
    assert set(acc) == {"metric", "a", "b", "difference", "higher_is_better", "better"}


def test_diff_of_undefined_values_and_unknown_directions() -> None:
    a, b = make_run(run_id="a"), make_run(run_id="b")
    b["metrics"]["precision"] = {"value": None, "reason": "no predicted positives", "n": 0}
    a["metrics"]["custom"] = {"value": 1.0}
    b["metrics"]["custom"] = {"value": 2.0}
    rows = {r["metric"]: r for r in diff(a, b)}
    assert rows["precision"]["difference"] is None and rows["precision"]["better"] is None
    assert rows["custom"]["difference"] == 1.0
    assert rows["custom"]["higher_is_better"] is None and rows["custom"]["better"] is None
    for entry in (a, b):  # without the flag in the documents, the registry gives the direction
        del entry["metrics"]["fpr"]["higher_is_better"]
    assert {r["metric"]: r for r in diff(a, b)}["fpr"]["higher_is_better"] is False


def test_diff_refuses_runs_on_different_data_unless_allowed() -> None:
    a, b = make_run(run_id="a", seed=0), make_run(run_id="b", seed=1)
    with pytest.raises(StoreError) as err:
        diff(a, b)
    text = str(err.value)
    for part in (a["dataset"]["fingerprint"], b["dataset"]["fingerprint"], "'holdout-0'", "'holdout-1'",
                 "--allow-different-data"):
        assert part in text
    assert len(diff(a, b, allow_different_data=True)) == len(a["metrics"])


def test_diff_checks_its_inputs() -> None:
    with pytest.raises(StoreError, match="no 'schema'"):
        diff({}, make_run())


# -- the public surface ----------------------------------------------------------------------------------------------


def test_public_names_are_sorted_and_complete() -> None:
    assert assay.store.__all__ == sorted(assay.store.__all__)
    public = {name for name, value in vars(assay.store).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType)}  # submodules others imported
    assert public == set(assay.store.__all__)


def test_documents_round_trip_through_json_files(tmp_path: Path) -> None:
    doc = make_run()
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))
    store = _sqlite(tmp_path)
    store.add(json.loads(path.read_text()), source=str(path))
    assert store.get(doc["run_id"][:6]) == doc


# -- imports -------------------------------------------------------------------------------------------------------

STORE_PACKAGE = Path(assay.store.__file__).parent


def store_imports(root: Path = STORE_PACKAGE, package: str = "assay.store") -> dict[str, set[str]]:
    """Module name -> the modules of ``package`` it imports (at the top or inside functions), parsed with ``ast``.

    ``from assay.store import X`` counts as an import of the submodule X when there is one, else of the package
    (its ``__init__``). The package a submodule sits in is not counted: Python imports it first, always.
    """
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join((package, *parts[:-1])) if parts[-1] == "__init__" else ".".join((package, *parts))
        modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                    base = f"{anchor}.{base}" if base else anchor
                subs = {f"{base}.{alias.name}" for alias in node.names} & modules.keys()
                targets |= subs or {base}
        graph[name] = {t for t in targets & modules.keys() if t != name}
    return graph


def import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (``[a, b, ..., a]``), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)) is not None:
            return found
    return None


def test_no_store_module_imports_a_module_that_imports_it_back() -> None:
    """Imports inside assay.store run one way (the backends and runs import _base, runs imports _sqlite): _sqlite
    took StoreBase from runs, whose open_store took SQLiteStore from _sqlite."""
    graph = store_imports()
    assert {"assay.store._sqlite", "assay.store._base"} <= graph["assay.store.runs"]  # the parser sees imports
    assert graph["assay.store._sqlite"] >= {"assay.store._base"}
    assert graph["assay.store._base"] == set()
    assert import_cycle(graph) is None


def test_the_cycle_finder_finds_a_cycle_inside_a_function(tmp_path: Path) -> None:
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "a.py").write_text("from pkg.b import B\n")
    (tmp_path / "b.py").write_text("def f():\n    from pkg.a import A\n")
    (tmp_path / "c.py").write_text("from . import a\n")
    graph = store_imports(tmp_path, "pkg")
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}, "pkg.c": {"pkg.a"}}
    assert import_cycle(graph) == ["pkg.a", "pkg.b", "pkg.a"]


@pytest.mark.parametrize("module", ["assay.store._sqlite", "assay.store._memory", "assay.store._base",
                                    "assay.store.runs"])
def test_each_store_module_imports_first_in_a_fresh_interpreter(module: str, tmp_path: Path) -> None:
    store_file = str(tmp_path / "r.sqlite")
    script = (f"import {module}\n"
              "from assay.store import SQLiteStore, open_store\n"
              f"print(type(open_store({str(tmp_path)!r})).__name__, SQLiteStore({store_file!r}).list())")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["SQLiteStore", "[]"]
