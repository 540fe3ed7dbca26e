"""Incoming events: bodies decoded (JSON, NDJSON, Arrow IPC), every event validated against its model's roles,
redacted, and encoded as the rows the store keeps.

A batch is all or nothing: :func:`prepare_predictions` either returns every row or raises :class:`BatchError`
listing every bad event (index, id, field, what was expected, what was found).

What a stored prediction keeps: its id, event time and version as columns; in its JSON payload the configured
columns only (roles, segments, sensitive attributes, features, text), after redaction: a ``redact:`` field is
replaced by a keyed hash (``redaction_key``) or dropped when no key is set, and ``redact_patterns`` replace e-mail
addresses, phone and card numbers in text columns by ``[email]``, ``[phone]``, ``[card]``. Text features (length,
blank, valid JSON, refusal) are computed from the text *before* redaction and stored beside it (``_text``). Other
fields of an event are not stored. The content digest that tells a duplicate from a conflict is taken over what is
stored, so an event without a timestamp (which takes the receive time) is still a duplicate when resent.

>>> from assay.watch.config import parse_config
>>> cfg = parse_config("models:\\n  m: {task: binary, score: s, label: y}\\n").models["m"]
>>> rows = prepare_predictions(cfg, [{"id": "a", "timestamp": 60, "s": 0.9}], now=100.0)
>>> rows[0].id, rows[0].event_time, rows[0].version, rows[0].payload
('a', 60.0, '', b'{"s":0.9}')
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

from assay.drift.text import DEFAULT_REFUSAL_PHRASES, refusal_pattern
from assay.errors import InputError
from assay.store.watch import LabelRow, Row, digest
from assay.watch.config import ModelConfig

_MAX_KEY = 200
PROBA_TOLERANCE = 1e-6  # as assay evaluate checks them
_PATTERNS = {
    "email": (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
    "card": (re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), "[card]"),
    "phone": (re.compile(r"(?<!\w)\+?\d[\d ()./-]{7,}\d(?!\w)"), "[phone]"),
}
_REFUSAL = re.compile(refusal_pattern(DEFAULT_REFUSAL_PHRASES) or "(?!)", re.IGNORECASE)


class BatchError(InputError):
    """A batch with bad events: nothing of it is stored. ``errors`` lists every bad event."""

    def __init__(self, errors: list[dict[str, Any]], what: str = "events") -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(
            f"{len(errors)} bad {what} in the batch (nothing was stored); the first: event {first['index']}"
            f"{'' if first.get('id') is None else ' (id ' + repr(first['id']) + ')'}, field {first['field']!r}: "
            f"expected {first['expected']}, found {first['found']}. Fix: correct those events and resend the batch")


# -- bodies ---------------------------------------------------------------------------------------------------------

def decode_body(body: bytes, content_type: str | None) -> list[Any]:
    """The events of a request body: ``{"events": [...]}`` JSON, NDJSON, or an Arrow IPC stream."""
    kind = (content_type or "application/json").split(";")[0].strip().lower()
    if kind in ("application/x-ndjson", "application/jsonl", "application/ndjson"):
        out = []
        for i, line in enumerate(body.splitlines()):
            if not line.strip():
                continue
            try:
                out.append(orjson.loads(line))
            except (ValueError, RecursionError) as exc:
                raise InputError(f"body line {i + 1}: expected one JSON object per line (NDJSON), found invalid "
                                 f"JSON ({exc}). Fix: write each event as JSON on its own line") from None
        return out
    if kind in ("application/vnd.apache.arrow.stream", "application/vnd.apache.arrow.file"):
        try:
            reader = pa.ipc.open_stream(body) if kind.endswith("stream") else pa.ipc.open_file(body)
            table = reader.read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"body: expected an Arrow IPC {kind.rsplit('.', 1)[-1]}, found bytes that do not "
                             f"decode ({exc}). Fix: write the table with pyarrow.ipc.new_stream") from None
        return [_arrow_plain(r) for r in table.to_pylist()]
    if kind not in ("application/json", "text/json"):
        raise InputError(f"body: expected Content-Type application/json, application/x-ndjson or "
                         f"application/vnd.apache.arrow.stream, found {content_type!r}. Fix: set the header")
    try:
        doc = orjson.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"body: expected JSON {{\"events\": [...]}}, found invalid JSON ({exc}). "
                         "Fix: send a JSON object with an events list") from None
    if isinstance(doc, dict) and isinstance(doc.get("events"), list):
        return list(doc["events"])
    if isinstance(doc, list):
        return doc
    raise InputError("body: expected JSON {\"events\": [...]}, found "
                     f"{type(doc).__name__}{' without an events list' if isinstance(doc, dict) else ''}. "
                     "Fix: put the events in a list under \"events\"")


def _arrow_plain(row: dict[str, Any]) -> dict[str, Any]:
    """Arrow timestamps as epoch seconds; one without a zone is UTC (never the server's local time)."""
    return {k: ((v if v.tzinfo is not None else v.replace(tzinfo=UTC)).timestamp() if isinstance(v, datetime)
                else v) for k, v in row.items()}


# -- fields ---------------------------------------------------------------------------------------------------------

def parse_time(value: Any) -> float | None:
    """Epoch seconds of an RFC 3339 string or a number; ``None`` when it is neither.

    >>> parse_time("2026-12-01T10:00:00Z"), parse_time(1795000000), parse_time("yesterday")
    (1796119200.0, 1795000000.0, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _in_range(float(value))
    if isinstance(value, str):
        text = value.strip()
        try:
            return _in_range(float(text))
        except ValueError:
            pass
        try:
            dt = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            return None  # RFC 3339 needs an offset
        return _in_range(dt.timestamp())
    return None


_FIRST, _LAST = datetime(1, 1, 2, tzinfo=UTC).timestamp(), datetime(9999, 12, 30, tzinfo=UTC).timestamp()


def _in_range(t: float) -> float | None:
    """A time that can be written as a date (years 1 to 9999), else ``None``."""
    return t if math.isfinite(t) and _FIRST <= t <= _LAST else None


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


class _Checker:
    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def bad(self, index: int, id_: Any, field: str, expected: str, found: Any) -> None:
        text = repr(found)
        self.errors.append({"index": index, "id": id_ if _scalar(id_) else None, "field": field,
                            "expected": expected, "found": text if len(text) <= 120 else text[:117] + "..."})


def _key(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and 0 < len(value) <= _MAX_KEY and "\x00" not in value:
        return value
    return None


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def text_features(text: str) -> list[int]:
    """[length, blank, valid JSON object/array, refusal] of one text, as :mod:`assay.drift.text` counts them."""
    trimmed = text.strip()
    valid = 0
    if trimmed[:1] in ("{", "["):
        try:
            json.loads(trimmed)
            valid = 1
        except ValueError:
            valid = 0
    return [len(text), int(not trimmed), valid, int(bool(_REFUSAL.search(text)))]


def _redact_text(text: str, patterns: Sequence[str]) -> str:
    for name, (rx, mark) in _PATTERNS.items():  # cards before phones: a card number also looks like a phone
        if name in patterns:
            text = rx.sub(mark, text)
    return text


def _keyed(value: Any, key: str) -> str:
    return "h:" + hmac.new(key.encode(), json.dumps(value).encode(), hashlib.sha256).hexdigest()[:32]


def _encode(payload: Mapping[str, Any]) -> bytes:
    """The stored form of a row: compact JSON, keys sorted (so that the digest does not depend on field order)."""
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def prepare_predictions(model: ModelConfig, events: Sequence[Any], *, now: float,
                        redaction_key: str | None = None) -> list[Row]:
    """Validate, redact and encode a batch of predictions (all or nothing: :class:`BatchError`).

    Each event goes through a fast check of the usual shapes first (:class:`_Plan`); an event it cannot vouch for
    (a bad one, text to redact, class probabilities...) takes the full check, which names every bad field."""
    plan = _plan(model)
    check = _Checker()
    out: list[Row] = []
    fast = plan.fast
    for i, ev in enumerate(events):
        row = fast(ev, now) if fast is not None else None
        if row is None:
            row = _check_prediction(model, check, i, ev, now, redaction_key)
        if row is not None:
            out.append(row)
    if check.errors:
        raise BatchError(check.errors)
    return out


class _Plan:
    """The columns of a model's predictions, looked up once, and a fast check of an event whose fields all have
    the usual types and ranges: it returns the event's row, or ``None`` to leave the event to the full check."""

    def __init__(self, model: ModelConfig) -> None:
        self.fast = None if (model.text or model.redact or model.proba_prefix is not None
                             or (model.prediction is not None and model.task != "regression")) else self._fast
        self.id, self.timestamp, self.version = model.id, model.timestamp, model.version
        self.score, self.probability = model.score, model.task == "binary"
        self.prediction = model.prediction
        self.amounts = tuple(c for c in (model.latency, model.cost) if c is not None)
        self.status = model.status
        self.groups = (*model.segments, *model.sensitive)
        self.features = tuple(model.features)

    def _fast(self, ev: Any, now: float) -> Row | None:
        if type(ev) is not dict:
            return None
        id_ = ev.get(self.id)
        if type(id_) is str:
            if not 0 < len(id_) <= _MAX_KEY or "\x00" in id_:
                return None
        elif type(id_) is int:
            id_ = str(id_)
        else:
            return None
        ts = ev.get(self.timestamp)
        if ts is None:
            t = now
        elif type(ts) is float or type(ts) is int:
            t = float(ts)
            if not _FIRST <= t <= _LAST:  # NaN fails too
                return None
        else:
            parsed = parse_time(ts)
            if parsed is None:
                return None
            t = parsed
        version = ev.get(self.version)
        if version is None:
            version = ""
        elif type(version) is int:
            version = str(version)
        elif type(version) is not str or not 0 < len(version) <= _MAX_KEY or "\x00" in version:
            return None
        payload: dict[str, Any] = {}
        if self.score is not None:
            v = ev.get(self.score)
            if type(v) is not float and type(v) is not int:
                return None
            if not (0 <= v <= 1 if self.probability else math.isfinite(v)):
                return None
            payload[self.score] = v
        if self.prediction is not None:  # regression: a number
            v = ev.get(self.prediction)
            if (type(v) is not float and type(v) is not int) or not math.isfinite(v):
                return None
            payload[self.prediction] = v
        for col in self.amounts:
            v = ev.get(col)
            if v is not None:
                if (type(v) is not float and type(v) is not int) or not 0 <= v < math.inf:
                    return None
                payload[col] = v
        if self.status is not None and self.status in ev:
            v = ev[self.status]
            if v is not None and type(v) is not str and type(v) is not int and type(v) is not bool:
                return None
            payload[self.status] = v
        for col in self.groups:
            v = ev.get(col)
            if type(v) is str or v is None:
                payload[col] = v
            elif type(v) is int or type(v) is bool or type(v) is float:
                payload[col] = str(v)
            else:
                return None
        for col in self.features:
            if col in payload:
                continue
            v = ev.get(col)
            if type(v) is float:
                if not math.isfinite(v):
                    return None
            elif v is not None and type(v) is not str and type(v) is not int and type(v) is not bool:
                return None
            payload[col] = v
        body = _encode(payload)
        return Row(version, id_, t, digest(body), body)


_PLANS: dict[int, tuple[ModelConfig, _Plan]] = {}


def _plan(model: ModelConfig) -> _Plan:
    got = _PLANS.get(id(model))
    if got is None or got[0] is not model:
        if len(_PLANS) > 1000:
            _PLANS.clear()
        got = _PLANS[id(model)] = (model, _Plan(model))
    return got[1]


def _check_prediction(model: ModelConfig, check: _Checker, i: int, ev: Any, now: float,
                      redaction_key: str | None) -> Row | None:
    """The full check of one event: its row, or ``None`` with every bad field recorded in ``check``."""
    score_is_probability = model.task == "binary"
    values = model.label_values()
    if not isinstance(ev, dict):
        check.bad(i, None, "(event)", "a JSON object (one flat row)", type(ev).__name__)
        return None
    raw_id = ev.get(model.id)
    id_ = _key(raw_id)
    n_before = len(check.errors)
    if id_ is None:
        check.bad(i, raw_id, model.id, f"an id (a string of 1 to {_MAX_KEY} characters, or an integer)",
                  raw_id)
    ts = ev.get(model.timestamp)
    t = now if ts is None else parse_time(ts)
    if t is None:
        check.bad(i, raw_id, model.timestamp, "an RFC 3339 time with an offset or epoch seconds", ts)
    raw_version = ev.get(model.version)
    version = "" if raw_version is None else _key(raw_version)
    if version is None:
        check.bad(i, raw_id, model.version, "a version (a string or an integer)", raw_version)
    payload: dict[str, Any] = {}
    if model.score is not None:
        s = ev.get(model.score)
        if not _number(s) or (score_is_probability and not 0 <= s <= 1):  # type: ignore[operator]
            check.bad(i, raw_id, model.score, "a probability in [0, 1]" if score_is_probability
                      else "a finite number", s)
        payload[model.score] = s
    if model.prediction is not None:
        payload[model.prediction] = _target(model, values, check, i, raw_id, model.prediction, ev,
                                                   "a predicted class")
    if model.proba_prefix is not None:
        wanted = [model.proba_prefix + c for c in model.classes or ()]
        probs = {k: v for k, v in ev.items() if k.startswith(model.proba_prefix)}
        if set(probs) != set(wanted) or not all(_number(v) and 0 <= v <= 1 for v in probs.values()):
            check.bad(i, raw_id, model.proba_prefix + "*", f"probabilities in [0, 1] in the columns "
                      f"{', '.join(wanted)}", probs)
        elif abs(sum(probs.values()) - 1.0) > PROBA_TOLERANCE:
            check.bad(i, raw_id, model.proba_prefix + "*", f"probabilities summing to 1 (within "
                      f"{PROBA_TOLERANCE})", f"a sum of {sum(probs.values())!r}")
        payload.update(probs)
    for col in (model.latency, model.cost):
        if col is not None and ev.get(col) is not None:
            v = ev[col]
            if not _number(v) or v < 0:
                check.bad(i, raw_id, col, "a number >= 0 (or null)", v)
            payload[col] = v
    if model.status is not None and model.status in ev:
        st = ev[model.status]
        if not _scalar(st) or (isinstance(st, float) and not math.isfinite(st)):
            check.bad(i, raw_id, model.status, "a status (a string, number or boolean)", ev[model.status])
        payload[model.status] = ev[model.status]
    for col in (*model.segments, *model.sensitive):
        v = ev.get(col)
        if not _scalar(v):
            check.bad(i, raw_id, col, "a string, number or boolean (or null)", v)
        payload[col] = None if v is None else str(v)
    for col in model.features:
        if col in payload:
            continue
        v = ev.get(col)
        if not _scalar(v) or (isinstance(v, float) and not math.isfinite(v)):
            check.bad(i, raw_id, col, "a flat value: string, finite number, boolean or null", v)
        payload[col] = v
    features: dict[str, list[int]] = {}
    for col in model.text:
        v = ev.get(col)
        if v is not None and not isinstance(v, str):
            check.bad(i, raw_id, col, "text (a string or null)", v)
            continue
        if isinstance(v, str):
            features[col] = text_features(v)
            v = _redact_text(v, model.redact_patterns)
        payload[col] = v
    if features:
        payload["_text"] = features
    for col in model.redact:
        if col in payload:
            if redaction_key:
                payload[col] = None if payload[col] is None else _keyed(payload[col], redaction_key)
            else:
                del payload[col]
    if len(check.errors) > n_before or id_ is None or t is None or version is None:
        return None
    body = _encode(payload)
    return Row(version, id_, float(t), digest(body), body)


def _target(model: ModelConfig, values: Sequence[str] | None, check: _Checker, i: int, raw_id: Any, col: str,
            ev: dict[str, Any], what: str) -> Any:
    """A prediction's or label's value in ``col``, checked: a number for regression, else one of the model's classes
    (true/false stored as 1/0)."""
    v = ev.get(col)
    if model.task == "regression":
        if not _number(v):
            check.bad(i, raw_id, col, "a number", v)
    elif not _in(v, values):
        check.bad(i, raw_id, col, f"{what}, one of {', '.join(values or ())}", v)
    return int(v) if isinstance(v, bool) else v


def _in(value: Any, allowed: Sequence[str] | None) -> bool:
    """Whether a label or predicted class is one of the model's (compared as text; true/false count as 1/0)."""
    if value is None or not _scalar(value) or (isinstance(value, float) and not math.isfinite(value)):
        return False
    if allowed is None:
        return True
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value) in allowed


def prepare_labels(model: ModelConfig, events: Sequence[Any]) -> list[LabelRow]:
    """Validate and encode a batch of labels: rows of the model's id and label (and outcome) columns."""
    values = model.label_values()
    check = _Checker()
    out: list[LabelRow] = []
    for i, ev in enumerate(events):
        if not isinstance(ev, dict):
            check.bad(i, None, "(event)", "a JSON object with the id and the label", type(ev).__name__)
            continue
        raw_id = ev.get(model.id)
        id_ = _key(raw_id)
        n_before = len(check.errors)
        if id_ is None:
            check.bad(i, raw_id, model.id, f"the id of a prediction (a string of 1 to {_MAX_KEY} characters)",
                      raw_id)
        payload: dict[str, Any] = {}
        if model.labeled:
            payload[model.label] = _target(model, values, check, i, raw_id, model.label, ev, "a class label")
        for col in model.outcomes:
            v = ev.get(col)
            if v is not None and not _number(v) and not isinstance(v, bool):
                check.bad(i, raw_id, col, "a number or boolean outcome (or null)", v)
            payload[col] = float(v) if v is not None else None
        if not payload or all(v is None for v in payload.values()):
            if not model.labeled and len(check.errors) == n_before:
                check.bad(i, raw_id, ",".join(model.outcomes) or "(outcomes)", "at least one outcome", None)
        if len(check.errors) > n_before or id_ is None:
            continue
        body = _encode(payload)
        out.append(LabelRow(id_, digest(body), body))
    if check.errors:
        raise BatchError(check.errors, "labels")
    return out
