"""The background worker: the materializer and retention, on a thread of the service or in a process of its own.

``assay serve`` runs it in a process of its own by default (``--materializer process``): folding events into
windows is CPU work in Python, and on a thread it would take the interpreter lock from the requests; as a process
it runs on the other core. The process follows its parent: it stops when the service stops, exits by itself when
the service dies (even by ``kill -9``), and the service starts a new one should it crash. Whichever runs it, it folds
only while it holds the store's materializer lock, so any number of service processes share one store safely.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.watch.monitor import Monitor

log = logging.getLogger("assay.service")
INTERVAL = 0.25  # the idle wait between passes; acknowledged events are readable well within 5 s
EXPIRE_EVERY = 600.0
RESTART_AFTER = 1.0


class Worker:
    """Folding and retention in a loop on a thread; ``wake`` starts the next pass at once."""

    def __init__(self, monitor: Monitor, *, parent: int | None = None) -> None:
        self.monitor = monitor
        self.parent = parent  # in a process of its own: the service's pid, to stop when it is gone
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="assay-materializer", daemon=True)
        self.holder = False
        self.last_error: str | None = None
        self.alerts: Any = None
        # the alert evaluator runs where the materializer runs (one notifier per store), for SLOs and for the drift
        # tickets of an `alerting:` section without SLOs
        if monitor.config.slos or monitor.config.alerting is not None:
            from assay.slo.alerts import AlertEvaluator

            self.alerts = AlertEvaluator(monitor)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.wake.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)

    def _orphaned(self) -> bool:
        if self.parent is not None and os.getppid() != self.parent:
            self.stop.set()
            return True
        return False

    def run(self) -> None:
        store = self.monitor.store
        while not self.stop.is_set() and not self._orphaned():
            try:
                with store.materializer_lock() as held:
                    self.holder = held
                    if not held:
                        self.stop.wait(2.0)
                        continue
                    self._hold()
            except Exception as exc:  # the store went away: back off, then take the lock again
                self.last_error = str(exc)
                log.warning("materializer: %s", exc)
                self.holder = False
                self.stop.wait(1.0)

    def _hold(self) -> None:
        last_expire = 0.0
        while not self.stop.is_set() and not self._orphaned():
            self.wake.wait(INTERVAL)
            self.wake.clear()
            self.monitor.materialize(drain=False)
            self.monitor.store.checkpoint()
            self.last_error = None
            if self.alerts is not None:
                try:
                    self.alerts.maybe_evaluate()
                except Exception as exc:  # an evaluation that fails is retried at the next interval
                    log.warning("alerts: evaluation failed: %s", exc)
            if time.monotonic() - last_expire > EXPIRE_EVERY:
                self.monitor.expire()
                last_expire = time.monotonic()


def tune_interpreter() -> None:
    """Collect garbage less often in the service: ingest allocates thousands of short-lived objects per batch (no
    cycles among them), and with the default thresholds the collector ran every 700 allocations, each time also
    walking the long-lived objects; freezing what is alive at start-up keeps those out of every collection. And
    hand the interpreter lock over every 1 ms instead of 5: a thread coming back from the database (which runs
    without the lock) waits for it behind the threads decoding other requests."""
    import gc
    import sys

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    sys.setswitchinterval(0.001)


# -- in a process of its own -----------------------------------------------------------------------------------------

def _process_main(config_path: str, store_url: str | None, parent: int) -> None:
    """The materializer process: its own monitor over the same config and store."""
    from assay.watch.config import load_config
    from assay.watch.monitor import Monitor

    _die_with(parent)
    logging.basicConfig(level=logging.WARNING, format="assay materializer: %(message)s")
    monitor = Monitor(load_config(config_path), store_url=store_url)
    worker = Worker(monitor, parent=parent)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop.set())
    signal.signal(signal.SIGINT, lambda *_: worker.stop.set())
    tune_interpreter()
    try:
        worker.run()
    finally:
        monitor.close()


def _die_with(parent: int) -> None:
    """On Linux, ask for SIGTERM when the parent dies (``prctl(PR_SET_PDEATHSIG)``); the loop checks the parent
    between passes anyway."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        raise SystemExit(0)


class MaterializerProcess:
    """The service's materializer process, started again (after a second) should it ever exit by itself."""

    def __init__(self, config_path: str, store_url: str | None) -> None:
        self.args = (os.path.abspath(config_path), store_url, os.getpid())
        self.ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or connections inherited
        self.proc: Any = None
        self.closing = threading.Event()
        self.watch = threading.Thread(target=self._supervise, name="assay-materializer-supervisor", daemon=True)

    def start(self) -> None:
        self._spawn()
        self.watch.start()

    def _spawn(self) -> None:
        self.proc = self.ctx.Process(target=_process_main, args=self.args, name="assay-materializer", daemon=True)
        self.proc.start()

    def _supervise(self) -> None:
        while not self.closing.is_set():
            self.proc.join(timeout=0.5)
            if self.proc.exitcode is not None and not self.closing.is_set():
                log.warning("materializer process exited (code %s); starting it again", self.proc.exitcode)
                if self.closing.wait(RESTART_AFTER):
                    return
                self._spawn()

    def close(self, timeout: float = 10.0) -> None:
        self.closing.set()
        if self.proc is not None and self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(timeout)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join(2)
        if self.watch.is_alive():
            self.watch.join(2)
