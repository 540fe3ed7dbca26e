"""Fixtures of the watch tests: real stores (a SQLite file, a fresh PostgreSQL database) and a real `assay serve`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

PG_ADMIN = os.environ.get("ASSAY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ASSAY = str(Path(sys.executable).with_name("assay"))


def _pg_admin_engine() -> sa.Engine:
    url = sa.make_url(PG_ADMIN).set(drivername="postgresql+psycopg")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


def _pg_available() -> bool:
    try:
        with _pg_admin_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_available() -> bool:
    ok = _pg_available()
    if not ok and os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN}; scripts/start-postgres.sh starts one")
    return ok


@pytest.fixture
def pg_url(pg_available: bool) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    if not pg_available:
        pytest.skip(f"no PostgreSQL at {PG_ADMIN} (scripts/start-postgres.sh starts one)")
    name = f"assay_test_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store backend in turn: the one contract suite runs against both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'watch.sqlite'}"
    return str(request.getfixturevalue("pg_url"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


BINARY_CONFIG = """store: {store}
window: 5m
retention: {{events: 3650d, windows: 3650d}}
models:
  fraud:
    task: binary
    score: score
    label: is_fraud
    segments: [country]
    features: [amount, country]
    latency: latency_s
{extra}"""


@dataclass
class Server:
    """A real `assay serve` process on a loopback port."""

    config: Path
    cwd: Path
    store: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Server:
        self.log = self.cwd / f"serve-{self.port}-{int(time.time() * 1000)}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([ASSAY, "serve", "--config", str(self.config), "--port", str(self.port),
                                          "--store", self.store], cwd=self.cwd, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"assay serve exited with {self.proc.returncode}: {self.log.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"assay serve did not answer /healthz in {timeout} s: {self.log.read_text()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(15)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def make_token(config: Path, store: str, name: str, *scopes: str) -> str:
    args = [ASSAY, "tokens", "create", name, "--config", str(config), "--store", store]
    for s in scopes:
        args += ["--scope", s]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``serve(store_url, extra_yaml="") -> Server`` started; every server is stopped at the end."""
    servers: list[Server] = []

    def start(store: str, extra: str = "", config_text: str | None = None) -> Server:
        cfg = tmp_path / f"watch-{len(servers)}.yaml"
        cfg.write_text(config_text if config_text is not None else BINARY_CONFIG.format(store=store, extra=extra))
        server = Server(cfg, tmp_path, store)
        servers.append(server)
        return server.start()

    yield start
    for s in servers:
        s.stop()

