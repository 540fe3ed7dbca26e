#!/usr/bin/env python
"""The load generator of ``bench_watch.py``, run as its own process (standard library only).

It posts batches of prediction (or label) events to a running ``assay serve`` over keep-alive HTTP/1.1
connections, one connection per client thread, and records when each batch was sent and when its answer (the
durable acknowledgement) came back. Bodies are built from a few pre-rendered event templates in which only the ids
and the timestamps change, so that building a batch of 1,000 events costs well under a millisecond and the client
takes as little of the machine's two cores as it can.

    python benchmarks/_watch_load.py SPEC_JSON RESULT_PATH

``SPEC_JSON`` fields:

==============  ===================================================================================================
``url``         the server, e.g. ``http://127.0.0.1:8123``
``token``       a bearer token with the ``ingest`` scope
``model``       the model's name
``mode``        ``bulk`` (send ``events`` as fast as the server acknowledges, with ``clients`` connections),
                ``paced`` (steps of ``rates`` events/s, ``step_seconds`` each, open loop: batches are due on a
                schedule and sent by whichever client is free), ``latency`` (``clients`` connections, each sending
                ``batches`` batches back to back) or ``fill`` (predictions and their labels spread over ``days``
                days of event time, ``per_window`` events per 5-minute window)
``ids``         ``uuid4`` (random) or ``uuid7`` (time-ordered: UUID version 7 of RFC 9562, made here)
``batch``       events per request (1,000)
``clients``     concurrent connections
``events``      events in all (``bulk``)
``progress``    a file to which the number of acknowledged events is written about once a second (optional)
==============  ===================================================================================================

The result is JSON: per batch ``[t_sent, t_acked, events, accepted]`` (``time.monotonic`` seconds, relative to the
start), the errors seen, and the CPU seconds this process used.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import resource
import signal
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

SEGMENTS = 10
TEMPLATES = 16


# -------------------------------------------------------------------------------------------------------- ids

def uuid4_ids(n: int) -> list[str]:
    """``n`` random UUIDs (version 4) as canonical strings, from one ``os.urandom`` call."""
    raw = bytearray(os.urandom(16 * n))
    out = []
    for i in range(n):
        b = raw[16 * i: 16 * i + 16]
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        h = b.hex()
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


class UUID7:
    """Time-ordered ids: UUID version 7 (48-bit Unix milliseconds, a 12-bit counter, 62 random bits), strictly
    increasing across the threads of this process (the same layout as ``assay.watch.ids.uuid7``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last_ms = -1
        self.counter = 0

    def ids(self, n: int) -> list[str]:
        rand = int.from_bytes(os.urandom(8 * n), "big")
        out = []
        with self.lock:
            ms = time.time_ns() // 1_000_000
            if ms > self.last_ms:
                self.last_ms, self.counter = ms, random.getrandbits(11)
            for _ in range(n):
                self.counter += 1
                if self.counter > 0xFFF:
                    self.last_ms += 1
                    self.counter = random.getrandbits(11)
                r = rand & ((1 << 62) - 1)
                rand >>= 64
                value = (self.last_ms << 80) | (0x7 << 76) | (self.counter << 64) | (0b10 << 62) | r
                h = f"{value:032x}"
                out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
        return out


# ------------------------------------------------------------------------------------------------------ bodies

def templates(batch: int, seed: int) -> list[str]:
    """Pre-rendered batches (``%s`` where the id and the timestamp go): a score, a segment of 10, a latency and an
    amount per event; scores are the same mixture of two Beta-like bumps the label generator below draws from."""
    rng = random.Random(seed)
    out = []
    for _ in range(TEMPLATES):
        events = []
        for _ in range(batch):
            score = min(max(rng.betavariate(2, 5) if rng.random() < 0.8 else rng.betavariate(5, 2), 1e-6), 1 - 1e-6)
            events.append('{"id":"%s","timestamp":%s,"score":' + f"{score:.6f}"
                          + f',"segment":"s{rng.randrange(SEGMENTS)}","latency_s":{rng.expovariate(50):.5f},'
                          + f'"amount":{rng.lognormvariate(3, 1):.2f}}}')
        out.append('{"events":[' + ",".join(events) + "]}")
    return out


def label_body(ids: list[str], rng: random.Random) -> bytes:
    return ('{"events":[' + ",".join(f'{{"id":"{i}","label":{int(rng.random() < 0.3)}}}' for i in ids)
            + "]}").encode()


# ------------------------------------------------------------------------------------------------------ client

class Client:
    """One keep-alive connection; ``post`` returns the answer's status and JSON."""

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes) -> tuple[int, Any]:
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
                self.conn.request("POST", path, body, self.headers)
                resp = self.conn.getresponse()
                data = resp.read()
                return resp.status, (json.loads(data) if data else None)
            except (ConnectionError, http.client.HTTPException, OSError):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2)
        raise AssertionError("unreachable")


# ------------------------------------------------------------------------------------------------------- modes

class Run:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.batch = int(spec.get("batch", 1000))
        self.path = f"/v1/models/{spec['model']}/predictions"
        self.templates = templates(self.batch, int(spec.get("seed", 7)))
        self.uuid7 = UUID7()
        self.lock = threading.Lock()
        self.records: list[list[float]] = []
        self.errors: list[str] = []
        self.acked = 0
        self.t0 = time.monotonic()
        self.t0_wall = time.time()
        self.progress = spec.get("progress")
        self.stop = threading.Event()  # the run is over (the progress reporter stops)
        self.halt = threading.Event()  # SIGTERM: clients stop taking new batches, the figures so far are written

    def ids(self, n: int) -> list[str]:
        return self.uuid7.ids(n) if self.spec.get("ids") == "uuid7" else uuid4_ids(n)

    def body(self, k: int, ids: list[str], times: list[str]) -> bytes:
        args: list[str] = []
        for i, t in zip(ids, times):
            args += (i, t)
        return (self.templates[k % TEMPLATES] % tuple(args)).encode()

    def live_body(self, k: int) -> bytes:
        now = time.time()
        ids = self.ids(self.batch)
        times = [f"{now - 0.002 * (self.batch - j):.3f}" for j in range(self.batch)]  # the last 2 s, in order
        return self.body(k, ids, times)

    def send(self, client: Client, body: bytes, n: int, t_due: float | None = None, path: str | None = None) -> None:
        t_sent = time.monotonic() - self.t0
        try:
            status, doc = client.post(path or self.path, body)
        except Exception as exc:  # the server went away: recorded, the run goes on without this batch
            with self.lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")
            return
        t_ack = time.monotonic() - self.t0
        with self.lock:
            if status != 200:
                self.errors.append(f"HTTP {status}: {str(doc)[:200]}")
                return
            self.acked += n
            rec = [round(t_sent, 6), round(t_ack, 6), n, int(doc.get("accepted", 0))]
            if t_due is not None:
                rec.append(round(t_due, 6))
            self.records.append(rec)

    def reporter(self) -> None:
        if not self.progress:
            return
        while not self.stop.wait(1.0):
            with open(self.progress + ".tmp", "w") as fh:
                fh.write(json.dumps({"acked": self.acked, "t": time.monotonic() - self.t0, "t0_wall": self.t0_wall}))
            os.replace(self.progress + ".tmp", self.progress)

    def threads(self, target: Any, n: int) -> None:
        rep = threading.Thread(target=self.reporter, daemon=True)
        rep.start()
        workers = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(n)]
        self.t0, self.t0_wall = time.monotonic(), time.time()
        for w in workers:
            w.start()
        for w in workers:
            while w.is_alive():
                w.join(0.5)
        self.stop.set()

    # -- bulk: as fast as the server acknowledges ---------------------------------------------------------------
    def bulk(self) -> None:
        total = int(self.spec["events"]) // self.batch
        counter = iter(range(total))
        take = threading.Lock()
        url, token = self.spec["url"], self.spec["token"]

        def client(_: int) -> None:
            c = Client(url, token)
            while not self.halt.is_set():
                with take:
                    k = next(counter, None)
                if k is None:
                    return
                self.send(c, self.live_body(k), self.batch)

        self.threads(client, int(self.spec.get("clients", 4)))

    # -- latency: C clients, each sending batches back to back --------------------------------------------------
    def latency(self) -> None:
        per = int(self.spec["batches"])
        url, token = self.spec["url"], self.spec["token"]

        def client(_: int) -> None:
            c = Client(url, token)
            for k in range(per):
                if self.halt.is_set():
                    return
                self.send(c, self.live_body(k), self.batch)

        self.threads(client, int(self.spec["clients"]))

    # -- paced: open-loop steps of increasing rate --------------------------------------------------------------
    def paced(self) -> None:
        rates = [float(r) for r in self.spec["rates"]]
        step = float(self.spec["step_seconds"])
        schedule: list[tuple[float, int]] = []  # (due time, step index)
        t = 0.0
        for i, rate in enumerate(rates):
            gap = self.batch / rate
            end = t + step
            while t < end:
                schedule.append((t, i))
                t += gap
            t = end
        nxt = iter(schedule)
        take = threading.Lock()
        url, token = self.spec["url"], self.spec["token"]

        def client(_: int) -> None:
            c = Client(url, token)
            k = 0
            while not self.halt.is_set():
                with take:
                    item = next(nxt, None)
                if item is None:
                    return
                due, _step = item
                wait = due - (time.monotonic() - self.t0)
                if wait > 0 and self.halt.wait(wait):
                    return
                k += 1
                self.send(c, self.live_body(k), self.batch, t_due=due)

        self.threads(client, int(self.spec.get("clients", 16)))

    # -- fill: days of event time, predictions then their labels ------------------------------------------------
    def fill(self) -> None:
        """``days`` days of 5-minute windows ending at ``end`` (epoch seconds), ``per_window`` predictions per
        window; batches walk forward in event time; each prediction batch is followed by its labels (every
        prediction gets one)."""
        per_window, days, end = int(self.spec["per_window"]), float(self.spec["days"]), float(self.spec["end"])
        n = int(days * 288 * per_window)
        start = end - days * 86400
        spacing = (end - start) / n
        total = -(-n // self.batch)
        counter = iter(range(total))
        take = threading.Lock()
        url, token = self.spec["url"], self.spec["token"]
        label_path = f"/v1/models/{self.spec['model']}/labels"

        def client(w: int) -> None:
            c = Client(url, token)
            rng = random.Random(1000 + w)
            while not self.halt.is_set():
                with take:
                    k = next(counter, None)
                if k is None:
                    return
                lo = k * self.batch
                m = min(self.batch, n - lo)
                ids = self.ids(m)
                times = [f"{start + (lo + j) * spacing:.3f}" for j in range(m)]
                if m == self.batch:
                    body = self.body(k, ids, times)
                else:  # the last, shorter batch
                    doc = json.loads(self.body(k, ids + ["x"] * (self.batch - m), times + ["0"] * (self.batch - m)))
                    body = json.dumps({"events": doc["events"][:m]}).encode()
                self.send(c, body, m)
                self.send(c, label_body(ids, rng), 0, path=label_path)

        self.threads(client, int(self.spec.get("clients", 2)))


def main() -> int:
    spec = json.loads(sys.argv[1])
    run = Run(spec)
    signal.signal(signal.SIGTERM, lambda *_: run.halt.set())
    getattr(run, spec["mode"])()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out = {"records": run.records, "errors": run.errors[:50], "n_errors": len(run.errors),
           "cpu_seconds": usage.ru_utime + usage.ru_stime, "wall": time.monotonic() - run.t0, "t0_wall": run.t0_wall,
           "peak_rss_mib": usage.ru_maxrss / 1024}
    with open(sys.argv[2], "w") as fh:
        json.dump(out, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
