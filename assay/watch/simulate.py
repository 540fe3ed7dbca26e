"""Synthetic traffic for a model of a running service, with scheduled injections (``assay watch simulate``): a game
day for the alerts, drift tickets and dashboards.

Events are generated from the model's roles in the config (its score, label, features, segments, text, latency),
sent at ``rate`` events per second with the wall clock as their time, each batch's labels right after it. At the
scheduled offsets the traffic changes:

============  ===========================================================================================
injection     what changes from then on
============  ===========================================================================================
``shift``     every numeric feature moves by three standard deviations (a covariate shift: drift)
``prompts``   text columns become five times longer (an LLM's prompts or responses)
``missing``   40% of the feature values go missing
``accuracy``  the predictions turn wrong for nine events in ten (the labels stay true)
============  ===========================================================================================
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.errors import InputError
from assay.watch.config import ModelConfig, parse_duration

INJECTIONS = ("shift", "prompts", "missing", "accuracy")


@dataclass(frozen=True)
class Injection:
    kind: str
    at: float  # seconds after the start


def parse_schedule(text: str) -> list[Injection]:
    """``"shift@30s,accuracy@2m"`` as injections; a bad entry is an error naming it."""
    out = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        kind, sep, at = item.partition("@")
        if kind not in INJECTIONS or not sep:
            raise InputError(f"--inject {item!r}: expected KIND@OFFSET with KIND one of {', '.join(INJECTIONS)}, e.g. "
                             "accuracy@2m")
        try:
            seconds = parse_duration(at, "--inject offset")
        except Exception:
            raise InputError(f"--inject {item!r}: expected an offset such as 30s, 2m or 1h after '@'") from None
        out.append(Injection(kind, seconds))
    return sorted(out, key=lambda i: i.at)


class Traffic:
    """Events of one model: ``batch(n, now, active)`` -> (predictions, labels)."""

    def __init__(self, model: ModelConfig, seed: int = 0) -> None:
        self.m = model
        self.rng = np.random.default_rng(seed)
        self.i = 0
        # ids unique to this run: a second run against the same store sends new events, not conflicting repeats
        self.prefix = f"sim-{uuid.uuid4().hex[:8]}-"

    def batch(self, n: int, now: float, active: set[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        m, rng = self.m, self.rng
        x = rng.normal(50.0, 10.0, n)
        p_true = 1 / (1 + np.exp(-(x - 50.0) / 0.5))  # a good model: about 98% of its predictions right
        y = (rng.random(n) < p_true).astype(int)
        score = np.clip(p_true + rng.normal(0, 0.02, n), 0.001, 0.999)
        if "accuracy" in active:
            wrong = rng.random(n) < 0.9
            score = np.where(wrong, 1 - score, score)
        if "shift" in active:
            x = x + 30.0
        preds, labels = [], []
        for k in range(n):
            self.i += 1
            e: dict[str, Any] = {m.id: f"{self.prefix}{self.i}", m.timestamp: now - (n - k) * 0.001}
            if m.score is not None:
                e[m.score] = round(float(score[k]), 4)
            if m.prediction is not None and m.task != "regression":
                e[m.prediction] = int(score[k] >= 0.5)
            if m.task == "regression" and m.prediction is not None:
                e[m.prediction] = float(x[k] + rng.normal(0, 1))
            for j, col in enumerate(c for c in m.features if c not in m.segments):
                value: Any = round(float(x[k] + j), 3)
                if "missing" in active and rng.random() < 0.4:
                    value = None
                e[col] = value
            for col in m.segments:
                e[col] = str(rng.choice(["DE", "FR", "US"]))
            for col in m.text:
                words = 60 if "prompts" in active else 12
                e[col] = " ".join(rng.choice(["the", "model", "answers", "a", "question", "about", "fraud"],
                                             words).tolist())
            if m.latency is not None:
                e[m.latency] = round(float(rng.gamma(2.0, 0.03)), 4)
            preds.append(e)
            if m.labeled:
                label: Any = float(x[k]) if m.task == "regression" else int(y[k])
                if m.task == "multiclass":
                    label = (m.classes or ["0"])[int(y[k]) % len(m.classes or ["0"])]
                labels.append({m.id: e[m.id], m.label: label})
        return preds, labels


def run(send: Callable[[list[dict[str, Any]], list[dict[str, Any]]], None], model: ModelConfig, *, rate: float,
        duration: float, schedule: list[Injection], seed: int = 0, batch_seconds: float = 1.0,
        say: Callable[[str], None] = lambda _: None, clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Send ``rate`` events/s for ``duration`` seconds through ``send(predictions, labels)``, applying the
    injections at their offsets; a summary of what was sent and when each injection began."""
    if rate <= 0 or duration <= 0:
        raise InputError(f"--rate and --duration: expected positive numbers, found {rate} and {duration}")
    traffic = Traffic(model, seed)
    start = clock()
    active: set[str] = set()
    began: dict[str, float] = {}
    sent = 0
    pending = list(schedule)
    while True:
        elapsed = clock() - start
        if elapsed >= duration:
            break
        while pending and pending[0].at <= elapsed:
            inj = pending.pop(0)
            active.add(inj.kind)
            began[inj.kind] = clock()
            say(f"injecting {inj.kind} at +{elapsed:.0f} s")
        n = max(1, int(rate * batch_seconds))
        preds, labels = traffic.batch(n, clock(), active)
        send(preds, labels)
        sent += n
        target = start + sent / rate
        wait = target - clock()
        if wait > 0:
            sleep(min(wait, batch_seconds))
    return {"sent": sent, "seconds": round(clock() - start, 1), "injections": began}
