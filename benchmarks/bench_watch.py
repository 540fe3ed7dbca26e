#!/usr/bin/env python
"""Benchmark the watch service (``assay serve``): durable ingest while the store grows, the materializer's lag,
acknowledgement latency, range reads over 30 days of windows, bytes stored and the server's peak memory.

Run from the repository root (PostgreSQL scenarios need a server; ``--pg`` names it)::

    .venv/bin/python benchmarks/bench_watch.py                                # everything, 10M events per store
    .venv/bin/python benchmarks/bench_watch.py --events 1000000               # a shorter growth run
    .venv/bin/python benchmarks/bench_watch.py --only sqlite-ordered,query-30d --json /tmp/watch.json

Every scenario starts a real ``assay serve`` subprocess on a fresh store (a SQLite file in a temporary folder, or a
new PostgreSQL database that is dropped afterwards), creates a token with ``assay tokens create``, and drives it with
the load generator ``_watch_load.py`` in its own process: keep-alive HTTP, JSON bodies of 1,000 events, each
acknowledged only once durable. The parent samples the materializer's lag once a second straight from the store
(the cursor against the oldest event past it: O(1) queries, so sampling costs the server nothing) and ``GET status``
every ``--status-every`` seconds (its own figure and how long it took), reads the server's peak resident set size
(``VmHWM``) before stopping it, and measures the bytes each table and its indexes take. It prints a table (PASS/MISS
against the issue's targets) and writes every figure to JSON. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from _harness import _human, finish_report, scenario_names, start_report  # the benchmarks folder is on sys.path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS_DIR = HERE / "results"
LOAD = HERE / "_watch_load.py"
ASSAY = Path(sys.executable).parent / "assay"
SEED = 20_261_201
MODEL = "bench"
CONFIG = """\
store: {store}
window: 5m
models:
  {model}:
    task: binary
    score: score
    label: label
    threshold: 0.5
    segments: [segment]
    features: [amount]
    latency: latency_s
"""


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # ingest | sustained | latency | query
    store: str  # sqlite | postgresql
    ids: str = "uuid7"
    target: float | None = None  # events/s
    about: str = ""


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("sqlite-random", "ingest", "sqlite", "uuid4", 30_000,
             "SQLite, random ids (uuid4): events/s per growth segment up to --events"),
    Scenario("sqlite-ordered", "ingest", "sqlite", "uuid7", 90_000,
             "SQLite, time-ordered ids (UUIDv7): events/s per growth segment up to --events"),
    Scenario("pg-random", "ingest", "postgresql", "uuid4", 60_000,
             "PostgreSQL, random ids (uuid4): events/s per growth segment up to --events"),
    Scenario("pg-ordered", "ingest", "postgresql", "uuid7", 60_000,
             "PostgreSQL, time-ordered ids (UUIDv7): events/s per growth segment up to --events"),
    Scenario("sustained-sqlite", "sustained", "sqlite", "uuid7", None,
             "SQLite: paced steps of increasing rate; the highest at which the materializer's lag stays < 5 s"),
    Scenario("sustained-pg", "sustained", "postgresql", "uuid7", None,
             "PostgreSQL: paced steps of increasing rate; the highest at which the lag stays < 5 s"),
    Scenario("latency-sqlite", "latency", "sqlite", "uuid7", None,
             "SQLite: acknowledgement latency (p50, p99) at 1, 4 and 16 concurrent clients"),
    Scenario("latency-pg", "latency", "postgresql", "uuid7", None,
             "PostgreSQL: acknowledgement latency (p50, p99) at 1, 4 and 16 concurrent clients"),
    Scenario("query-30d", "query", "sqlite", "uuid7", None,
             "SQLite: one model, 10 segments, 30 days of 5-minute windows with labels; GET metrics and step=1h"),
    Scenario("query-30d-pg", "query", "postgresql", "uuid7", None,
             "PostgreSQL: the same 30 days; GET metrics and step=1h"),
)}
LAG_LIMIT = 5.0
METRICS_TARGET, SERIES_TARGET = 0.2, 1.0


# ------------------------------------------------------------------------------------------------ processes

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                for c in fh.read().split():
                    out += [int(c), *_children(int(c))]
    return out


def _status_kib(pid: int, field: str) -> int | None:
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    return None


def _cpu_of(pids: list[int]) -> float:
    """utime + stime of these processes (and their reaped children), seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / tick


def _postgres_pids() -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError):
                with open(f"/proc/{name}/comm") as fh:
                    if fh.read().strip() in ("postgres", "postmaster"):
                        out.append(int(name))
    return out


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    with open("/proc/stat") as fh:
        f = [int(x) for x in fh.readline().split()[1:]]
    idle = f[3] + f[4]
    return (sum(f[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by the server, the load generator, PostgreSQL and everything else between two points."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.t0 = time.monotonic()
        self.busy0 = _machine_busy()
        self.server0 = _cpu_of(server.pids())
        self.main0 = _cpu_of([server.proc.pid])
        self.pg_pids = _postgres_pids()
        self.pg0 = _cpu_of(self.pg_pids)

    def stop(self, load_cpu: float) -> dict[str, float]:
        wall = time.monotonic() - self.t0
        busy = _machine_busy() - self.busy0
        server = _cpu_of(self.server.pids()) - self.server0
        main = _cpu_of([self.server.proc.pid]) - self.main0  # the HTTP process; the rest: its materializer
        pg = _cpu_of(self.pg_pids) - self.pg0
        others = max(busy - server - pg - load_cpu, 0.0)
        return {"wall": round(wall, 2), "machine_busy_s": round(busy, 1), "server_s": round(server, 1),
                "server_http_s": round(main, 1), "server_other_s": round(server - main, 1),
                "postgres_s": round(pg, 1), "load_generator_s": round(load_cpu, 1), "others_s": round(others, 1),
                "cores_used": round(busy / wall, 2) if wall else 0.0,
                "others_cores": round(others / wall, 2) if wall else 0.0}


class Server:
    """``assay serve`` in its own process group, its output in a log file."""

    def __init__(self, config: Path, store_url: str, workers: int, log: Path, env: dict[str, str],
                 wrapper: str | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        head = [sys.executable, str(wrapper)] if wrapper else [str(ASSAY)]
        cmd = [*head, "serve", "--config", str(config), "--port", str(self.port), "--store", store_url]
        if workers > 1:
            cmd += ["--workers", str(workers)]
        self.cmd = cmd
        self.log = log
        self.fh = open(log, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.fh, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
                                     start_new_session=True)
        self.workers = workers

    def pids(self) -> list[int]:
        return [self.proc.pid, *_children(self.proc.pid)]

    def wait_ready(self, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"assay serve exited with {self.proc.returncode}: {self.tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200 and (self.workers == 1 or len(_children(self.proc.pid)) >= 1):
                    return
            time.sleep(0.2)
        raise RuntimeError(f"assay serve did not answer /readyz within {timeout:.0f} s: {self.tail()}")

    def memory(self) -> dict[str, Any]:
        """Peak resident set size (VmHWM) of the server process and of each worker, MiB."""
        per = {pid: _status_kib(pid, "VmHWM") for pid in self.pids()}
        mib = {str(p): round(v / 1024, 1) for p, v in per.items() if v is not None}
        return {"per_process_mib": mib, "max_mib": max(mib.values(), default=None),
                "sum_mib": round(sum(mib.values()), 1) if mib else None}

    def tail(self, n: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").strip().splitlines()[-n:])
        return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.fh.close()


def get(url: str, path: str, token: str, params: dict[str, Any] | None = None,
        timeout: float = 300.0) -> tuple[int, Any, float, int]:
    """(status, JSON, seconds, bytes) of one GET on a fresh connection."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    full = path + ("?" + urlencode(params) if params else "")
    t0 = time.perf_counter()
    conn.request("GET", full, headers={"Authorization": f"Bearer {token}"})
    resp = conn.getresponse()
    body = resp.read()
    seconds = time.perf_counter() - t0
    conn.close()
    return resp.status, (json.loads(body) if body else None), seconds, len(body)


# --------------------------------------------------------------------------------------------------- stores

class Store:
    """A fresh store for one scenario: a SQLite file in a temporary folder or a new PostgreSQL database."""

    def __init__(self, kind: str, name: str, folder: Path, pg: str) -> None:
        self.kind = kind
        self.folder = folder
        if kind == "sqlite":
            self.path = folder / "watch.sqlite"
            self.url = f"sqlite:///{self.path}"
        else:
            import psycopg

            self.db = f"assay_bench_{name.replace('-', '_')}_{os.getpid()}"
            self.admin = pg.rstrip("/") + "/postgres"
            with psycopg.connect(self.admin, autocommit=True) as c:
                c.execute(f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")
                c.execute(f"CREATE DATABASE {self.db}")
            self.url = pg.rstrip("/") + "/" + self.db
        self._conn: Any = None
        self._lock = threading.Lock()  # the sampler thread and the main thread share the connection

    def _connect(self) -> Any:
        if self._conn is None:
            if self.kind == "sqlite":
                self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            else:
                import psycopg

                self._conn = psycopg.connect(self.url, autocommit=True)
        return self._conn

    def lag(self) -> dict[str, Any] | None:
        """The materializer's lag read straight from the store: events past its cursor and the receive time of the
        oldest one (what ``GET status`` reports, with O(1) index look-ups instead of counts)."""
        try:
            c = self._connect()
            if self.kind == "sqlite":
                c.execute("BEGIN")
                try:
                    cur = c.execute("SELECT pred_seq, label_seq FROM cursors WHERE name = 'materializer'").fetchone()
                    ps, ls = cur if cur else (0, 0)
                    top_p = c.execute("SELECT max(seq) FROM predictions").fetchone()[0] or 0
                    top_l = c.execute("SELECT max(seq) FROM labels").fetchone()[0] or 0
                    old_p = c.execute("SELECT received_at FROM predictions WHERE seq > ? ORDER BY seq LIMIT 1",
                                      (ps,)).fetchone()
                    old_l = c.execute("SELECT received_at FROM labels WHERE seq > ? ORDER BY seq LIMIT 1",
                                      (ls,)).fetchone()
                finally:
                    c.execute("COMMIT")
                behind_p, behind_l = top_p - ps, top_l - ls
            else:
                cur = c.execute("SELECT pred_tx, pred_seq, label_tx, label_seq FROM cursors "
                                "WHERE name = 'materializer'").fetchone()
                pt, ps, lt, ls = cur if cur else (0, 0, 0, 0)
                old_p = c.execute("SELECT received_at FROM predictions WHERE (tx, seq) > (%s, %s) "
                                  "ORDER BY tx, seq LIMIT 1", (pt, ps)).fetchone()
                old_l = c.execute("SELECT received_at FROM labels WHERE (tx, seq) > (%s, %s) "
                                  "ORDER BY tx, seq LIMIT 1", (lt, ls)).fetchone()
                behind_p = c.execute("SELECT count(*) FROM predictions WHERE (tx, seq) > (%s, %s)",
                                     (pt, ps)).fetchone()[0] if old_p else 0
                behind_l = c.execute("SELECT count(*) FROM labels WHERE (tx, seq) > (%s, %s)",
                                     (lt, ls)).fetchone()[0] if old_l else 0
        except Exception as exc:  # a table not created yet, a busy moment: this sample is skipped
            return {"error": str(exc)[:200]}
        oldest = min([r[0] for r in (old_p, old_l) if r], default=None)
        now = time.time()
        return {"t": now, "seconds": 0.0 if oldest is None else max(now - oldest, 0.0),
                "predictions": int(behind_p), "labels": int(behind_l)}

    def sizes(self) -> dict[str, Any]:
        """Bytes per table, its own pages and its indexes separately (SQLite ``dbstat``; PostgreSQL
        ``pg_relation_size`` and ``pg_indexes_size``, TOAST counted with the table)."""
        c = self._connect()
        out: dict[str, dict[str, int]] = {}
        if self.kind == "sqlite":
            owner = dict(c.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"))
            for name, size in c.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
                table = owner.get(name, name)
                entry = out.setdefault(table, {"table": 0, "indexes": 0})
                entry["table" if name == table else "indexes"] += int(size)
            files = {p.name: p.stat().st_size for p in self.folder.glob("watch.sqlite*")}
        else:
            for (table,) in c.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall():
                tsize, isize = c.execute("SELECT pg_table_size(%s), pg_indexes_size(%s)", (table, table)).fetchone()
                out[table] = {"table": int(tsize), "indexes": int(isize)}
            files = {"database": int(c.execute("SELECT pg_database_size(current_database())").fetchone()[0])}
        for entry in out.values():
            entry["total"] = entry["table"] + entry["indexes"]
        return {"tables": out, "files": files}

    def rows(self) -> dict[str, int]:
        c = self._connect()
        return {t: int(c.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                for t in ("predictions", "labels", "windows")}

    def drop(self, keep: bool) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if self.kind == "postgresql" and not keep:
            import psycopg

            with psycopg.connect(self.admin, autocommit=True) as c:
                c.execute(f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")


class Sampler:
    """A thread sampling the store's lag every ``every`` seconds and ``GET status`` every ``status_every``."""

    def __init__(self, store: Store, server: Server, token: str, every: float, status_every: float,
                 progress: Path | None = None) -> None:
        self.store, self.server, self.token = store, server, token
        self.every, self.status_every = every, status_every
        self.progress = progress
        self.lags: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Sampler:
        self.thread.start()
        return self

    def _acked(self) -> int | None:
        if self.progress is None:
            return None
        with contextlib.suppress(OSError, ValueError):
            return int(json.loads(self.progress.read_text())["acked"])
        return None

    def _run(self) -> None:
        next_status = time.monotonic() + self.status_every
        while not self.halt.wait(self.every):
            lag = self.store.lag()
            if lag is not None and "error" not in lag:
                lag["acked"] = self._acked()
                self.lags.append(lag)
            if self.status_every and time.monotonic() >= next_status:
                self.statuses.append(self.status())
                next_status = time.monotonic() + self.status_every

    def status(self) -> dict[str, Any]:
        try:
            code, doc, seconds, _ = get(self.server.url, f"/v1/models/{MODEL}/status", self.token)
        except Exception as exc:
            return {"t": time.time(), "error": str(exc)[:200]}
        out: dict[str, Any] = {"t": time.time(), "http": code, "request_seconds": round(seconds, 3)}
        if code == 200:
            out.update(events=doc["events"], lag=doc["materialization_lag"])
        return out

    def stop(self) -> None:
        self.halt.set()
        self.thread.join(30)


def wait_caught_up(store: Store, timeout: float) -> tuple[float | None, list[dict[str, Any]]]:
    """Poll the lag every 0.2 s until nothing is behind; the seconds it took (``None`` on timeout)."""
    t0 = time.monotonic()
    seen = []
    while time.monotonic() - t0 < timeout:
        lag = store.lag()
        if lag and "error" not in lag:
            seen.append(lag)
            if lag["predictions"] == 0 and lag["labels"] == 0:
                return time.monotonic() - t0, seen
        time.sleep(0.2)
    return None, seen


def run_load(spec: dict[str, Any], folder: Path, env: dict[str, str], timeout: float,
             watch: Any = None) -> dict[str, Any]:
    """Run the load generator; ``watch(proc)`` is called about once a second and may return True to stop it."""
    result = folder / f"load-{spec['mode']}-{time.monotonic_ns()}.json"
    cmd = [sys.executable, str(LOAD), json.dumps(spec), str(result)]
    t_start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stopped = False
    while proc.poll() is None:
        if time.monotonic() - t_start > timeout or (watch is not None and watch(proc)):
            proc.send_signal(signal.SIGTERM)
            stopped = True
            break
        time.sleep(0.5)
    out_, err = proc.communicate()
    if not result.exists():
        return {"error": f"load generator exit {proc.returncode}" + (" (stopped)" if stopped else ""),
                "stderr": (err or out_).strip().splitlines()[-10:], "t_start": t_start, "stopped": stopped}
    out = json.loads(result.read_text())
    out["t_start"] = t_start
    out["stopped"] = stopped
    return out


# ----------------------------------------------------------------------------------------------- analysis

def quantile(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def growth_segments(records: list[list[float]], size: int) -> list[dict[str, Any]]:
    """Acknowledged events/s over each ``size`` events of growth (from the first send to the ack completing it)."""
    acks = sorted((r[1], r[2]) for r in records if r[2] > 0)
    if not acks:
        return []
    out = []
    start_t = min(r[0] for r in records)
    done = 0
    boundary = size
    seg_start_t, seg_start_n = start_t, 0
    for t, n in acks:
        done += n
        if done >= boundary:
            out.append({"from": seg_start_n, "to": done, "seconds": round(t - seg_start_t, 3),
                        "events_per_s": round((done - seg_start_n) / (t - seg_start_t), 1)})
            seg_start_t, seg_start_n = t, done
            boundary += size
    if done > seg_start_n:
        t = acks[-1][0]
        out.append({"from": seg_start_n, "to": done, "seconds": round(t - seg_start_t, 3),
                    "events_per_s": round((done - seg_start_n) / max(t - seg_start_t, 1e-9), 1), "partial": True})
    return out


def latencies(records: list[list[float]]) -> dict[str, Any]:
    lat = [r[1] - r[0] for r in records]
    return {"batches": len(lat), "p50_ms": _ms(quantile(lat, 0.5)), "p90_ms": _ms(quantile(lat, 0.9)),
            "p99_ms": _ms(quantile(lat, 0.99)), "max_ms": _ms(max(lat) if lat else None)}


def _ms(x: float | None) -> float | None:
    return None if x is None else round(1000 * x, 1)


def lag_summary(lags: list[dict[str, Any]], t_from: float | None = None, t_to: float | None = None) -> dict[str, Any]:
    xs = [x["seconds"] for x in lags if (t_from is None or x["t"] >= t_from) and (t_to is None or x["t"] <= t_to)]
    behind = [x["predictions"] + x["labels"] for x in lags
              if (t_from is None or x["t"] >= t_from) and (t_to is None or x["t"] <= t_to)]
    return {"samples": len(xs), "median_s": _r(quantile(xs, 0.5)), "p90_s": _r(quantile(xs, 0.9)),
            "max_s": _r(max(xs) if xs else None), "max_events_behind": max(behind, default=None)}


def _r(x: float | None, nd: int = 2) -> float | None:
    return None if x is None else round(x, nd)


# ----------------------------------------------------------------------------------------------- scenarios

class Context:
    """Everything one scenario has: its folder, store, config, token and server."""

    def __init__(self, sc: Scenario, args: argparse.Namespace, env: dict[str, str], root: Path) -> None:
        self.sc, self.args, self.env = sc, args, env
        self.folder = root / sc.name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.store = Store(sc.store, sc.name, self.folder, args.pg)
        try:
            self._start()
        except BaseException:
            self.store.drop(args.keep)
            raise

    def _start(self) -> None:
        sc, args, env = self.sc, self.args, self.env
        self.config = self.folder / "watch.yaml"
        self.config.write_text(CONFIG.format(store=self.store.url, model=MODEL))
        made = subprocess.run([str(ASSAY), "tokens", "create", "bench", "--scope", "ingest", "--scope", "read",
                               "--config", str(self.config)], capture_output=True, text=True, cwd=ROOT, env=env)
        if made.returncode != 0:
            raise RuntimeError(f"assay tokens create failed: {made.stderr.strip()[-500:]}")
        self.token = made.stdout.strip().splitlines()[-1]
        workers = args.pg_workers if sc.store == "postgresql" else args.sqlite_workers
        self.server = Server(self.config, self.store.url, workers, self.folder / "server.log", env,
                             args.serve_wrapper)
        self.profiler: subprocess.Popen[bytes] | None = None
        try:
            self.server.wait_ready()
        except BaseException:
            self.server.stop()
            raise

    def spec(self, **kw: Any) -> dict[str, Any]:
        return {"url": self.server.url, "token": self.token, "model": MODEL, "ids": self.sc.ids, "batch": 1000,
                "seed": SEED, **kw}

    def start_profile(self) -> None:
        spy = self.args.py_spy
        if not self.args.profile or not spy:
            return
        cmd = [spy, "record", "-r", "100", "-f", "raw", "-o", str(self.profile_path()), "--threads",
               "-p", str(self.server.proc.pid)]
        if self.server.workers > 1:
            cmd.append("--subprocesses")
        if self.args.profile == "gil":
            cmd.append("--gil")
        self.profiler = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def profile_path(self) -> Path:
        return RESULTS_DIR / f"profile-watch-{self.sc.name}-{self.args.profile}.txt"

    def stop_profile(self) -> None:
        if self.profiler is not None:
            self.profiler.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.profiler.wait(60)
            self.profiler = None

    def close(self) -> None:
        self.stop_profile()
        self.server.stop()
        self.store.drop(self.args.keep)


def scenario_ingest(ctx: Context) -> dict[str, Any]:
    args = ctx.args
    n = args.events
    size = args.segment or (1_000_000 if n >= 5_000_000 else max(n // 10, 1000))
    progress = ctx.folder / "progress.json"
    cpu = CpuMeter(ctx.server)
    ctx.start_profile()
    sampler = Sampler(ctx.store, ctx.server, ctx.token, 1.0, args.status_every, progress).start()
    load = run_load(ctx.spec(mode="bulk", events=n, clients=args.clients, progress=str(progress)),
                    ctx.folder, ctx.env, args.timeout)
    ctx.stop_profile()
    t_last_ack = time.time()
    caught, tail = wait_caught_up(ctx.store, args.catch_up_timeout)
    sampler.stop()
    out: dict[str, Any] = {"events": n, "segment": size, "clients": args.clients, "load": _load_brief(load),
                           "cpu": cpu.stop(load.get("cpu_seconds", 0.0))}
    if load.get("error"):
        out["error"] = load["error"]
        return out
    recs = load["records"]
    out["segments"] = growth_segments(recs, size)
    acked = sum(r[2] for r in recs)
    span = max(r[1] for r in recs) - min(r[0] for r in recs)
    out["acked"] = acked
    out["accepted"] = sum(r[3] for r in recs)
    out["overall_events_per_s"] = round(acked / span, 1)
    out["latency"] = latencies(recs)
    out["lag_during"] = lag_summary(sampler.lags)
    out["lag_series"] = [[round(x["t"] - sampler.lags[0]["t"], 1), round(x["seconds"], 2), x["predictions"],
                          x.get("acked")] for x in sampler.lags]
    out["status_samples"] = sampler.statuses
    out["catch_up_after_last_ack_s"] = None if caught is None else round(caught, 2)
    out["catch_up_lag_at_last_ack"] = tail[0] if tail else None
    out["server_memory"] = ctx.server.memory()
    out["rows"] = ctx.store.rows()
    out["sizes"] = ctx.store.sizes()
    out["t_last_ack_wall"] = t_last_ack
    return out


def _load_brief(load: dict[str, Any]) -> dict[str, Any]:
    return {k: load.get(k) for k in ("n_errors", "errors", "cpu_seconds", "wall", "peak_rss_mib", "stopped",
                                     "error", "stderr") if load.get(k) is not None}


def scenario_sustained(ctx: Context) -> dict[str, Any]:
    """Open-loop steps of increasing rate. A step holds when the server acknowledges what is offered (at least 95%
    of the rate, the client's backlog under 1 s) and the materializer's lag stays under 5 s throughout it; the load
    stops after two steps in a row that do not hold."""
    args = ctx.args
    rates = [float(r) for r in args.rates.split(",")]
    step = args.step_seconds
    progress = ctx.folder / "progress.json"
    cpu = CpuMeter(ctx.server)
    sampler = Sampler(ctx.store, ctx.server, ctx.token, 0.5, 0.0, progress).start()
    failed_in_row = [0]
    judged: list[dict[str, Any]] = []
    seen: list[tuple[float, int]] = []  # (wall time, events acknowledged) from the load generator's progress file
    started: list[float] = []

    def judge(proc: Any) -> bool:
        with contextlib.suppress(OSError, ValueError, KeyError):
            doc = json.loads(progress.read_text())
            if not started:
                started.append(float(doc["t0_wall"]))
            seen.append((float(doc["t0_wall"]) + float(doc["t"]), int(doc["acked"])))
        if not started:
            return False
        t0 = started[0]
        while len(judged) < min(int((time.time() - t0) // step), len(rates)):
            i = len(judged)
            lo, hi = t0 + i * step, t0 + (i + 1) * step
            lag = lag_summary(sampler.lags, lo, hi + 1.0)
            acked = [n for t, n in seen if lo - 1.0 <= t <= hi + 1.0]
            rate = (acked[-1] - acked[0]) / step if len(acked) > 1 else 0.0
            ok = rate >= 0.9 * rates[i] and lag["max_s"] is not None and lag["max_s"] < LAG_LIMIT
            judged.append({"rate": rates[i], "acked_rate_from_progress": rate, "lag": lag, "ok": ok})
            failed_in_row[0] = 0 if ok else failed_in_row[0] + 1
        return failed_in_row[0] >= 2

    load = run_load(ctx.spec(mode="paced", rates=rates, step_seconds=step, clients=16, progress=str(progress)),
                    ctx.folder, ctx.env, args.timeout, watch=judge)
    sampler.stop()
    out: dict[str, Any] = {"rates": rates, "step_seconds": step, "load": _load_brief(load),
                           "cpu": cpu.stop(load.get("cpu_seconds", 0.0))}
    if load.get("error"):
        out["error"] = load["error"]
        return out
    recs = load["records"]
    t_wall0 = load["t0_wall"]
    steps = []
    for i, rate in enumerate(rates):
        lo, hi = i * step, (i + 1) * step
        mine = [r for r in recs if lo <= r[4] < hi]  # batches due in this step
        if not mine or (load.get("stopped") and i >= len(judged)):
            break
        achieved = sum(r[2] for r in recs if lo <= r[1] < hi) / step
        late = [r[0] - r[4] for r in mine]  # how late each due batch was sent: the client's backlog
        lag = lag_summary(sampler.lags, t_wall0 + lo, t_wall0 + hi + 1.0)
        keeps_up = achieved >= 0.95 * rate and (quantile(late, 0.99) or 0.0) < 1.0
        lag_ok = lag["max_s"] is not None and lag["max_s"] < LAG_LIMIT
        steps.append({"offered": rate, "achieved": round(achieved, 1), "send_late_p99_s": _r(quantile(late, 0.99)),
                      "ack_latency": latencies(mine), "lag": lag, "keeps_up": keeps_up, "lag_ok": lag_ok,
                      "ok": bool(keeps_up and lag_ok)})
    out["steps"] = steps
    best = None
    for s in steps:
        if not s["ok"]:
            break
        best = s["offered"]
    out["highest_sustained"] = best
    out["first_lag_failure"] = next((s["offered"] for s in steps if not s["lag_ok"]), None)
    out["server_memory"] = ctx.server.memory()
    out["rows"] = ctx.store.rows()
    return out


def scenario_latency(ctx: Context) -> dict[str, Any]:
    levels: dict[str, Any] = {}
    cpu = CpuMeter(ctx.server)
    sampler = Sampler(ctx.store, ctx.server, ctx.token, 1.0, 0.0).start()
    load_cpu = 0.0
    for clients in (1, 4, 16):
        batches = max(ctx.args.latency_batches // clients, 20)
        load = run_load(ctx.spec(mode="latency", clients=clients, batches=batches), ctx.folder, ctx.env,
                        ctx.args.timeout)
        load_cpu += load.get("cpu_seconds", 0.0)
        if load.get("error"):
            levels[str(clients)] = {"error": load["error"], "load": _load_brief(load)}
            continue
        recs = load["records"]
        span = max(r[1] for r in recs) - min(r[0] for r in recs)
        levels[str(clients)] = {"clients": clients, **latencies(recs),
                                "events_per_s": round(sum(r[2] for r in recs) / span, 1),
                                "load": _load_brief(load)}
        wait_caught_up(ctx.store, ctx.args.catch_up_timeout)
    sampler.stop()
    return {"levels": levels, "lag_during": lag_summary(sampler.lags), "cpu": cpu.stop(load_cpu),
            "server_memory": ctx.server.memory(), "rows": ctx.store.rows()}


def scenario_query(ctx: Context) -> dict[str, Any]:
    args = ctx.args
    end = float(int(time.time() // 300 * 300))
    days = args.days
    start = end - days * 86400
    cpu = CpuMeter(ctx.server)
    sampler = Sampler(ctx.store, ctx.server, ctx.token, 1.0, 0.0).start()
    t0 = time.monotonic()
    load = run_load(ctx.spec(mode="fill", per_window=args.per_window, days=days, end=end, clients=2),
                    ctx.folder, ctx.env, args.timeout)
    fill_s = time.monotonic() - t0
    caught, _ = wait_caught_up(ctx.store, args.catch_up_timeout)
    sampler.stop()
    out: dict[str, Any] = {"days": days, "per_window": args.per_window, "load": _load_brief(load),
                           "fill_seconds": round(fill_s, 1),
                           "catch_up_after_fill_s": None if caught is None else round(caught, 1),
                           "lag_during_fill": lag_summary(sampler.lags)}
    if load.get("error"):
        out["error"] = load["error"]
        return out
    recs = load["records"]
    out["predictions_sent"] = sum(r[2] for r in recs)
    out["fill_events_per_s"] = round(out["predictions_sent"] / max(fill_s, 1e-9), 1)
    out["cpu_fill"] = cpu.stop(load.get("cpu_seconds", 0.0))
    path = f"/v1/models/{MODEL}/metrics"
    reads = {"metrics": {"from": int(start), "to": int(end)},
             "series_1h": {"from": int(start), "to": int(end), "step": "1h"},
             "series_1h_segment": {"from": int(start), "to": int(end), "step": "1h", "segment": "segment"},
             "metrics_1d": {"from": int(end - 86400), "to": int(end)}}
    timed: dict[str, Any] = {}
    for name, params in reads.items():
        times, size, code, doc = [], 0, 0, None
        for i in range(args.repeat_reads + 1):  # the first is a warm-up
            code, doc, seconds, size = get(ctx.server.url, path, ctx.token, params)
            if code != 200:
                break
            if i:
                times.append(seconds)
        entry: dict[str, Any] = {"http": code, "params": params, "bytes": size}
        if code == 200:
            entry.update(median_s=round(statistics.median(times), 4), min_s=round(min(times), 4),
                         max_s=round(max(times), 4), times=[round(t, 4) for t in times])
            if "dataset" in doc:
                entry["rows"] = doc["dataset"]["rows"]
                entry["rows_used"] = doc["dataset"]["rows_used"]
                entry["roc_auc"] = (doc.get("metrics", {}).get("roc_auc") or {}).get("value")
            else:
                entry["windows"] = len(doc.get("windows", []))
        else:
            entry["answer"] = str(doc)[:300]
        timed[name] = entry
    out["reads"] = timed
    out["server_memory"] = ctx.server.memory()
    out["rows"] = ctx.store.rows()
    out["sizes"] = ctx.store.sizes()
    return out


RUNNERS = {"ingest": scenario_ingest, "sustained": scenario_sustained, "latency": scenario_latency,
           "query": scenario_query}


# ---------------------------------------------------------------------------------------------------- table

def _rate(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def _bytes(x: float | None) -> str:
    if x is None:
        return "—"
    for unit, k in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if x >= k:
            return f"{x / k:.1f} {unit}"
    return f"{x:.0f} B"


def build_rows(name: str, rec: dict[str, Any]) -> list[list[str]]:
    sc = SCENARIOS[name]
    res = rec["results"].get("run", {})
    checks = rec.setdefault("checks", [])
    rows: list[list[str]] = []

    def check(measure: str, ok: bool | None, target: str, value: Any) -> str:
        checks.append({"measure": measure, "target": target, "value": value, "pass": ok})
        return "info" if ok is None else ("PASS" if ok else "MISS")

    def row(measure: str, value: str, target: str = "—", result: str = "info", peer: str = "—",
            ratio: str = "—") -> None:
        rows.append(["" if rows else name, measure, value, peer, ratio, target, result])

    if res.get("error"):
        row("error", "", result=str(res["error"])[:100])
        return rows
    if sc.kind == "ingest":
        target = sc.target or 0
        for seg in res.get("segments", []):
            label = f"events/s {_human(seg['from']) if seg['from'] else '0'}–{_human(seg['to'])}"
            rows.append(["" if rows else name, label, _rate(seg["events_per_s"]), "—",
                         f"{seg['events_per_s'] / target:.2f}x target", f">= {target:,.0f}",
                         check(label, seg["events_per_s"] >= target, f">= {target}", seg["events_per_s"])])
        row("events/s overall", _rate(res.get("overall_events_per_s")), f">= {target:,.0f}",
            check("events/s overall", res.get("overall_events_per_s", 0) >= target, f">= {target}",
                  res.get("overall_events_per_s")))
        lat = res.get("latency", {})
        row(f"ack latency p50 | p99 ({res.get('clients')} clients)", f"{lat.get('p50_ms')} | {lat.get('p99_ms')} ms")
        lag = res.get("lag_during", {})
        row("materializer lag during (median | max)", f"{lag.get('median_s')} | {lag.get('max_s')} s "
            f"(max {lag.get('max_events_behind'):,} events behind)" if lag.get("samples") else "—")
        row("last ack until lag 0", f"{res.get('catch_up_after_last_ack_s')} s")
        st = [s for s in res.get("status_samples", []) if s.get("http") == 200]
        if st:
            row("GET status: lag reported | request time (max)",
                f"{max(s['lag']['seconds'] for s in st):.1f} s | {max(s['request_seconds'] for s in st):.2f} s")
        sizes = res.get("sizes", {}).get("tables", {})
        n = res.get("rows", {}).get("predictions") or 0
        if n and "predictions" in sizes:
            p = sizes["predictions"]
            row("bytes per event (table + indexes)", f"{p['total'] / n:.0f} ({p['table'] / n:.0f} + "
                f"{p['indexes'] / n:.0f})")
        if "windows" in sizes:
            row("window states stored", f"{_bytes(sizes['windows']['total'])} "
                f"({res.get('rows', {}).get('windows', 0):,} states)")
    elif sc.kind == "sustained":
        for s in res.get("steps", []):
            why = "ok" if s["ok"] else ("lag >= 5 s" if not s["lag_ok"] else "ingest saturated")
            row(f"offered {_rate(s['offered'])}/s", f"acked {_rate(s['achieved'])}/s, lag max {s['lag']['max_s']} s,"
                f" p99 ack {s['ack_latency']['p99_ms']} ms", "acked, lag < 5 s", why)
        best = res.get("highest_sustained")
        row("highest sustained rate (acked, lag < 5 s)", _rate(best) + " events/s" if best else "none of the steps",
            result=check("highest sustained", None, "", best))
        fail = res.get("first_lag_failure")
        row("first offered rate with lag >= 5 s", _rate(fail) + " events/s" if fail else
            "none: the lag stayed under 5 s at every step run")
    elif sc.kind == "latency":
        for c, lv in res.get("levels", {}).items():
            if lv.get("error"):
                row(f"{c} clients", "error", result=lv["error"][:80])
                continue
            row(f"ack latency p50 | p99, {c} client{'s' if c != '1' else ''}",
                f"{lv['p50_ms']} | {lv['p99_ms']} ms", ratio=f"{_rate(lv['events_per_s'])} ev/s")
    elif sc.kind == "query":
        row("fill (predictions + labels)", f"{res.get('predictions_sent', 0):,} predictions in "
            f"{res.get('fill_seconds')} s; lag 0 after {res.get('catch_up_after_fill_s')} s more")
        for key, label, tgt in (("metrics", "GET metrics, 30 days (median)", METRICS_TARGET),
                                ("series_1h", "GET metrics step=1h, 30 days (median)", SERIES_TARGET),
                                ("series_1h_segment", "  step=1h&segment=segment (median)", None),
                                ("metrics_1d", "  GET metrics, last day (median)", None)):
            r = res.get("reads", {}).get(key, {})
            if r.get("http") != 200:
                row(label, f"HTTP {r.get('http')}", result="MISS" if tgt else "info")
                continue
            extra = (f"{r['rows_used']:,} labeled rows" if "rows_used" in r else f"{r.get('windows')} windows")
            row(label, f"{r['median_s'] * 1000:.0f} ms", f"< {tgt * 1000:.0f} ms" if tgt else "—",
                check(label, r["median_s"] < tgt, f"< {tgt}", r["median_s"]) if tgt else "info",
                ratio=f"{extra}, {_bytes(r['bytes'])}")
        sizes = res.get("sizes", {}).get("tables", {})
        days = res.get("days") or 30
        if sizes:
            ev = sizes.get("predictions", {}).get("total", 0) + sizes.get("labels", {}).get("total", 0)
            win = sizes.get("windows", {}).get("total", 0)
            per_day = res.get("per_window", 0) * 288
            row(f"bytes per model-day at {per_day:,} events/day", f"events {_bytes(ev / days)}, "
                f"window states {_bytes(win / days)}")
    mem = res.get("server_memory", {})
    if mem.get("max_mib") is not None:
        row("server peak RSS (VmHWM)", f"{mem['max_mib']:.0f} MiB" + (f" (sum {mem['sum_mib']:.0f})"
                                                                        if len(mem["per_process_mib"]) > 1 else ""))
    cpu = res.get("cpu") or res.get("cpu_fill")
    if cpu:
        row("cpu-s: server (http + materializer) | postgres | client | others",
            f"{cpu['server_s']} ({cpu.get('server_http_s', '?')} + {cpu.get('server_other_s', '?')}) | "
            f"{cpu['postgres_s']} | {cpu['load_generator_s']} | {cpu['others_s']} "
            f"({cpu['cores_used']:.2f} of 2 cores busy)")
    return rows


def summarize_profile(path: Path, top: int = 25) -> list[str]:
    """py-spy raw stacks: the share of samples under each function (inclusive), assay and SQL frames first."""
    import collections
    import re

    incl: collections.Counter[str] = collections.Counter()
    total = 0
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if not n.isdigit():
                continue
            total += int(n)
            for f in {re.sub(r":\d+\)", ")", f) for f in stack.split(";")}:
                incl[f] += int(n)
    if not total:
        return []
    keep = [(f, k) for f, k in incl.most_common() if "assay/" in f or "sqlalchemy/engine/default" in f
            or "json/" in f or "psycopg" in f or "sqlite3" in f]
    return [f"{k / total:6.1%}  {f}" for f, k in keep[:top]]


# ----------------------------------------------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated scenario names: " + ", ".join(SCENARIOS))
    parser.add_argument("--events", type=int, default=10_000_000, help="events per ingest scenario (10M)")
    parser.add_argument("--segment", type=int, default=0,
                        help="growth segment for the per-segment rates (default 1M, or events/10 below 5M)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients of the ingest scenarios (4)")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432",
                        help="PostgreSQL server (a database is created and dropped per scenario)")
    parser.add_argument("--pg-workers", type=int, default=2, help="assay serve --workers on PostgreSQL (2)")
    parser.add_argument("--sqlite-workers", type=int, default=1, help="assay serve --workers on SQLite (1)")
    parser.add_argument("--rates", default="5000,7500,10000,12500,15000,17500,20000,22500,25000,30000,35000,40000,"
                        "50000,60000,70000,80000",
                        help="offered rates (events/s) of the sustained scenarios' steps")
    parser.add_argument("--step-seconds", type=float, default=20.0, help="length of each paced step (20 s)")
    parser.add_argument("--latency-batches", type=int, default=400,
                        help="batches per latency level, split across its clients (at least 20 each)")
    parser.add_argument("--days", type=float, default=30.0, help="days of windows in the query scenarios (30)")
    parser.add_argument("--per-window", type=int, default=300, help="predictions per 5-minute window (300)")
    parser.add_argument("--repeat-reads", type=int, default=7, help="timed repetitions of each read (median)")
    parser.add_argument("--status-every", type=float, default=30.0, help="seconds between GET status samples")
    parser.add_argument("--timeout", type=float, default=4 * 3600.0, help="seconds before a load is stopped")
    parser.add_argument("--catch-up-timeout", type=float, default=1800.0,
                        help="seconds to wait for the materializer after the last ack")
    parser.add_argument("--profile", choices=["wall", "gil"], default=None,
                        help="sample the server with py-spy during the ingest scenarios (wall: threads that are "
                             "running or in C; gil: the thread holding the GIL); needs --py-spy or py-spy on PATH")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or ("/tmp/pyspy/bin/py-spy" if Path(
        "/tmp/pyspy/bin/py-spy").exists() else None), help="the py-spy executable")
    parser.add_argument("--serve-wrapper", default=None, metavar="FILE",
                        help="run `python FILE serve ...` instead of `assay serve ...` (a script that patches the "
                             "service before calling assay.cli.main.main: to measure a proposed change)")
    parser.add_argument("--keep", action="store_true", help="keep the stores (folder and PostgreSQL databases)")
    parser.add_argument("--json", "--out", dest="out", default=None,
                        help="JSON output path (default benchmarks/results/watch-<date>[-scenarios].json)")
    args = parser.parse_args()
    args.quick, args.repeat = False, 1  # fields of the shared report header

    names = scenario_names(parser, args.only, SCENARIOS)
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    _, report = start_report("watch", args, seed=SEED, packages=(
        "assay", "fastapi", "uvicorn", "starlette", "sqlalchemy", "psycopg", "pydantic"), scrubbed={},
        events=args.events, sqlite_version=sqlite3.sqlite_version)
    rows: list[list[str]] = []
    t_all = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="assay-bench-watch-"))
    try:
        for name in names:
            sc = SCENARIOS[name]
            print(f"[{name}] {sc.about} ...", flush=True)
            rec: dict[str, Any] = {"about": sc.about, "kind": sc.kind, "store": sc.store, "ids": sc.ids,
                                   "results": {}}
            load_before = os.getloadavg()[0]
            t0 = time.perf_counter()
            ctx = None
            try:
                ctx = Context(sc, args, env, tmp)
                rec["server_command"] = ctx.server.cmd
                res = RUNNERS[sc.kind](ctx)
            except Exception as exc:
                res = {"error": f"{type(exc).__name__}: {exc}"}
                if ctx is not None:
                    res["server_log"] = ctx.server.tail()
            finally:
                if ctx is not None:
                    log_tail = ctx.server.tail(40)
                    ctx.close()
                    if "Traceback" in log_tail:
                        res.setdefault("server_log", log_tail)
                    if args.profile and ctx.profile_path().exists():
                        res["profile_top"] = summarize_profile(ctx.profile_path())
            res["seconds"] = round(time.perf_counter() - t0, 1)
            res["loadavg_before"], res["loadavg_after"] = load_before, os.getloadavg()[0]
            rec["results"]["run"] = res
            report["scenarios"][name] = rec
            print(f"[{name}] done in {res['seconds']:.0f} s" + (f": ERROR {res['error']}" if res.get("error") else ""),
                  flush=True)
            if res.get("server_log"):
                print("  server log:\n    " + res["server_log"].replace("\n", "\n    "), flush=True)
            for line in res.get("profile_top", []):
                print("    " + line)
            part = build_rows(name, rec)
            print("\n".join("  " + " | ".join(c for c in r[1:3] + r[5:] if c) for r in part), flush=True)
            rows.extend(part)
            cpu = res.get("cpu") or res.get("cpu_fill")
            if cpu and cpu.get("others_cores", 0) > 0.3:
                report.setdefault("warnings", []).append(
                    f"{name}: other processes used {cpu['others_cores']:.2f} cores on average during the run — "
                    "the figures understate what the service does on a quiet machine")
    finally:
        if args.keep:
            print(f"stores kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    report["total_seconds"] = round(time.perf_counter() - t_all, 1)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    suffix = "-" + "+".join(names) if args.only else ""
    finish_report(report, rows, quick=False, out=args.out, default=RESULTS_DIR / f"watch-{stamp}{suffix}.json",
                  root=ROOT)
    for w in report.get("warnings", []):
        print("warning: " + w)
    return 1 if any(r["results"]["run"].get("error") for r in report["scenarios"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
