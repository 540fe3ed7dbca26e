"""OTLP/HTTP trace exports turned into model events: the pure part of ``POST /v1/traces``.

An instrumented LLM application exports its spans (``application/x-protobuf`` or ``application/json``); the spans
that carry GenAI semantic-convention attributes (``gen_ai.*``) and match a ``traces:`` rule of the configuration
become events of the rule's model, one flat dict per span. Everything here is a pure function: bytes in, events and
the OTLP response out; gzip ``Content-Encoding``, size limits and storage are the route's job.

>>> body = b'''{"resourceSpans": [{
...   "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "support-bot"}}]},
...   "scopeSpans": [{"spans": [{
...     "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "chat gpt-4o-mini",
...     "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001500000000",
...     "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
...                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}}]}]}]}]}'''
>>> rules = parse_rules([{"match": {"service.name": "support-bot"}, "model": "chat"}])
>>> batch = spans_to_events(decode_request(body, "application/json"), rules)
>>> event = batch.events["chat"][0]
>>> event["id"]
'5b8efff798038103d269b633813fc60c:eee19b7ec3c1b174'
>>> event["timestamp"], event["latency"], event["status"], event["request_model"], event["input_tokens"]
(1700000000.0, 1.5, 'ok', 'gpt-4o-mini', 12)
>>> partial_success(batch), batch.rejected, batch.ignored
({}, 0, 0)
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from assay.errors import ConfigError, InputError, message

__all__ = [
    "CONTENT_TYPES",
    "EVENT_KEYS",
    "TraceBatch",
    "TraceRule",
    "decode_request",
    "parse_rules",
    "partial_success",
    "response_protobuf",
    "spans_to_events",
]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
CONTENT_TYPES = (PROTOBUF, JSON)

EVENT_KEYS = ("id", "timestamp", "latency", "status", "operation", "provider", "request_model", "response_model",
              "input_tokens", "output_tokens", "version", "prompt", "response")
"""The keys of every event, in order; a missing optional value is None."""

# Span events of the older, event-based GenAI conventions: the prompt side and the response side.
_PROMPT_EVENTS = frozenset({"gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message",
                            "gen_ai.tool.message"})
_RESPONSE_EVENTS = frozenset({"gen_ai.choice"})
_INDEXED = re.compile(r"gen_ai\.(prompt|completion)\.(\d+)\.content")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")
_MAX_REASONS = 3


# ---------------------------------------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class TraceRule:
    """Spans whose attributes equal every item of ``match`` (span attributes first, then resource) go to ``model``."""

    match: Mapping[str, str]
    model: str

    def matches(self, span_attrs: Mapping[str, Any], resource_attrs: Mapping[str, Any]) -> bool:
        for key, want in self.match.items():
            value = span_attrs[key] if key in span_attrs else resource_attrs.get(key)
            if value is None or _scalar_text(value) != want:
                return False
        return True


def parse_rules(section: list[dict] | None, where: str = "traces") -> tuple[TraceRule, ...]:
    """Validate the ``traces:`` section: a list of ``{match: {ATTRIBUTE: VALUE, ...}, model: NAME}``.

    Match values may be strings, numbers or booleans; they are compared as strings (``true``/``false`` for booleans).
    A rule that an earlier rule shadows (every item of the earlier ``match`` is in the later one) is an error, since
    the first matching rule wins and the later one could never apply. An absent section (None) is no rules.

    >>> parse_rules([{"match": {"gen_ai.request.model": "gpt-4o-mini"}, "model": "mini"}])
    (TraceRule(match={'gen_ai.request.model': 'gpt-4o-mini'}, model='mini'),)
    >>> parse_rules([{"match": {}, "model": "chat"}])
    Traceback (most recent call last):
    ...
    assay.errors.ConfigError: traces[0], field 'match': expected a non-empty mapping of attribute names to values, \
found an empty mapping. Fix: write e.g. {match: {service.name: support-bot}, model: chat}
    """
    example = "{match: {service.name: support-bot}, model: chat}"
    if section is None:
        return ()
    if not isinstance(section, list):
        raise ConfigError(message(where=f"section '{where}'", expected="a list of rules", found=_kind(section),
                                  fix=f"write each rule as '- {example}'"))
    rules: list[TraceRule] = []
    for i, entry in enumerate(section):
        at = f"{where}[{i}]"
        if not isinstance(entry, Mapping):
            raise ConfigError(message(where=at, expected=f"a rule like {example}", found=_kind(entry),
                                      fix="write each rule as a mapping with 'match' and 'model'"))
        for key in entry:
            if key not in ("match", "model"):
                raise ConfigError(message(where=f"{at}, field {str(key)!r}", expected="only the fields match, model",
                                          found=f"the unknown field {str(key)!r}", fix="remove or rename the field"))
        match = entry.get("match")
        if not isinstance(match, Mapping) or not match:
            found = "none" if match is None else "an empty mapping" if isinstance(match, Mapping) else _kind(match)
            raise ConfigError(message(where=f"{at}, field 'match'",
                                      expected="a non-empty mapping of attribute names to values", found=found,
                                      fix=f"write e.g. {example}"))
        items: dict[str, str] = {}
        for key, value in match.items():
            if not isinstance(key, str) or not key:
                raise ConfigError(message(where=f"{at}, field 'match'", expected="attribute names as strings",
                                          found=f"the key {key!r}", fix="quote the attribute name"))
            text = None if isinstance(value, (list, dict, bytes)) else _scalar_text(value)
            if text is None:
                raise ConfigError(message(where=f"{at}, field 'match.{key}'",
                                          expected="a string, number or boolean to compare with",
                                          found=_kind(value), fix=f"write e.g. {{{key}: VALUE}}"))
            items[key] = text
        model = entry.get("model")
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(message(where=f"{at}, field 'model'", expected="the name of a model",
                                      found="none" if model is None else repr(model),
                                      fix="name one of the models of the configuration, e.g. model: chat"))
        for j, earlier in enumerate(rules):
            if earlier.match.items() <= items.items():
                raise ConfigError(message(where=f"{at}, field 'match'", expected="a rule that can match",
                                          found=f"{where}[{j}] matches every span this rule matches (the first "
                                                "matching rule wins)",
                                          fix=f"put the more specific rule before {where}[{j}], or remove it"))
        rules.append(TraceRule(match=items, model=model))
    return tuple(rules)


def _kind(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"{type(value).__name__} {value!r}"


# --------------------------------------------------------------------------------------------------------- decode


def decode_request(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """Decode an OTLP/HTTP trace export, protobuf or OTLP/JSON, into an ``ExportTraceServiceRequest``.

    The media type is compared without its parameters and case (``application/json; charset=utf-8`` is JSON). OTLP/JSON
    ids are hex strings (not the base64 of the protobuf JSON mapping); unknown fields are ignored, as the spec asks.

    >>> decode_request(b"", "application/x-protobuf").resource_spans
    []
    >>> decode_request(b"{}", "text/plain")
    Traceback (most recent call last):
    ...
    assay.errors.InputError: Content-Type of the OTLP trace export: expected application/x-protobuf or \
application/json, found 'text/plain'. Fix: send OTLP/HTTP with one of those content types
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == PROTOBUF:
        return _decode_protobuf(bytes(body))
    if media == JSON:
        return _decode_json(bytes(body))
    raise InputError(message(where="Content-Type of the OTLP trace export", expected=" or ".join(CONTENT_TYPES),
                             found=repr(content_type) if content_type else "none",
                             fix="send OTLP/HTTP with one of those content types"))


def _decode_protobuf(body: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, ValueError, RecursionError) as exc:
        hint = (" (the body looks like JSON: send it with Content-Type: application/json)"
                if body.lstrip()[:1] in (b"{", b"[") else "")
        raise InputError(message(where="OTLP/protobuf trace export",
                                 expected="a serialized ExportTraceServiceRequest",
                                 found=f"bytes that do not decode: {_short(exc)}{hint}",
                                 fix="send the body the OTLP exporter encodes, uncompressed or with "
                                     "Content-Encoding: gzip")) from None
    return request


def _decode_json(body: bytes) -> ExportTraceServiceRequest:
    where = "OTLP/JSON trace export"
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InputError(message(where=where, expected="a JSON object", found=f"invalid JSON: {_short(exc)}",
                                 fix="send the body the OTLP/JSON exporter encodes (UTF-8)")) from None
    if not isinstance(data, dict):
        raise InputError(message(where=where, expected='a JSON object like {"resourceSpans": [...]}',
                                 found=f"a JSON {type(data).__name__}", fix="send an ExportTraceServiceRequest"))
    _hex_ids_to_base64(data, where)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(data, request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise InputError(message(where=where, expected="an ExportTraceServiceRequest in the OTLP/JSON encoding",
                                 found=_short(exc), fix="check the body against the OTLP/JSON specification")) from None
    return request


def _hex_ids_to_base64(data: dict[str, Any], where: str) -> None:
    """Rewrite, in place, the hex trace and span ids of OTLP/JSON into the base64 the protobuf JSON parser expects.

    A part of the wrong shape is left alone (the parser then says what is wrong with it).
    """
    for r, resource_spans in _dicts(_field(data, "resourceSpans", "resource_spans")):
        for s, scope_spans in _dicts(_field(resource_spans, "scopeSpans", "scope_spans")):
            for n, span in _dicts(_field(scope_spans, "spans")):
                path = f"resourceSpans[{r}].scopeSpans[{s}].spans[{n}]"
                _rewrite_ids(span, ("traceId", "spanId", "parentSpanId"), where, path)
                for k, link in _dicts(_field(span, "links")):
                    _rewrite_ids(link, ("traceId", "spanId"), where, f"{path}.links[{k}]")


def _field(obj: dict[str, Any], camel: str, snake: str | None = None) -> Any:
    return obj.get(camel, obj.get(snake) if snake else None)


def _dicts(value: Any) -> list[tuple[int, dict[str, Any]]]:
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)] if isinstance(value, list) else []


def _rewrite_ids(obj: dict[str, Any], names: Sequence[str], where: str, path: str) -> None:
    for camel in names:
        snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)
        for key in (camel, snake):
            value = obj.get(key)
            if not isinstance(value, str):
                continue
            if not _HEX.fullmatch(value):
                raise InputError(message(where=f"{where}, field '{path}.{camel}'", expected="a hex string",
                                         found=repr(value[:40]),
                                         fix="encode trace and span ids as hex in OTLP/JSON (not base64)"))
            obj[key] = base64.b64encode(binascii.unhexlify(value)).decode("ascii")


def _short(exc: BaseException, limit: int = 200) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------------------- events


@dataclass
class TraceBatch:
    """The events of one export, by model, and the count of spans rejected (malformed) and ignored (not for us)."""

    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rejected: int = 0
    error_message: str = ""
    ignored: int = 0


class _Rejected(Exception):
    """A GenAI span that cannot become an event; the message says why."""


def spans_to_events(request: ExportTraceServiceRequest, rules: Sequence[TraceRule]) -> TraceBatch:
    """Turn the GenAI spans of ``request`` that a rule matches into events (see :data:`EVENT_KEYS`).

    A span without ``gen_ai.*`` attributes, or that no rule matches, is ignored. A matched span that is malformed (an
    invalid id, no start time, an end before its start, a token count that is negative or not a whole number) is
    rejected and counted for the OTLP partial-success response.
    """
    batch = TraceBatch()
    reasons: list[str] = []
    for resource_spans in request.resource_spans:
        resource_attrs = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                span_attrs = _attributes(span.attributes)
                if not any(key.startswith("gen_ai.") for key in span_attrs):
                    batch.ignored += 1
                    continue
                rule = next((r for r in rules if r.matches(span_attrs, resource_attrs)), None)
                if rule is None:
                    batch.ignored += 1
                    continue
                try:
                    event = _event(span, span_attrs, resource_attrs)
                except _Rejected as exc:
                    batch.rejected += 1
                    reasons.append(f"span {span.trace_id.hex()}:{span.span_id.hex()} {exc}")
                    continue
                batch.events.setdefault(rule.model, []).append(event)
    if batch.rejected:
        shown = "; ".join(reasons[:_MAX_REASONS])
        more = f"; and {batch.rejected - _MAX_REASONS} more" if batch.rejected > _MAX_REASONS else ""
        batch.error_message = f"rejected {batch.rejected} GenAI span{'s' if batch.rejected > 1 else ''}: {shown}{more}"
    return batch


def _event(span: Span, attrs: Mapping[str, Any], resource_attrs: Mapping[str, Any]) -> dict[str, Any]:
    for what, value, size in (("trace", span.trace_id, 16), ("span", span.span_id, 8)):
        if len(value) != size or not any(value):
            found = f"{len(value)} bytes" if len(value) != size else "all zeros"
            raise _Rejected(f"has an invalid {what} id (expected {size} non-zero bytes, found {found})")
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    if start == 0:
        raise _Rejected("has no start time")
    if end < start:
        raise _Rejected("ends before it starts" if end else "has no end time")
    return {
        "id": f"{span.trace_id.hex()}:{span.span_id.hex()}",
        "timestamp": start / 1_000_000_000,  # int / int is correctly rounded
        "latency": (end - start) / 1_000_000_000,
        "status": "error" if span.status.code == Status.STATUS_CODE_ERROR else "ok",
        "operation": _string(attrs, "gen_ai.operation.name"),
        "provider": _string(attrs, "gen_ai.provider.name", "gen_ai.system"),
        "request_model": _string(attrs, "gen_ai.request.model"),
        "response_model": _string(attrs, "gen_ai.response.model"),
        "input_tokens": _count(attrs, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
        "output_tokens": _count(attrs, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
        "version": _string(resource_attrs, "service.version"),
        "prompt": _content(span, attrs, side="input"),
        "response": _content(span, attrs, side="output"),
    }


def _attributes(key_values: Sequence[KeyValue]) -> dict[str, Any]:
    return {kv.key: _any_value(kv.value) for kv in key_values}


def _any_value(value: AnyValue) -> Any:
    """An OTLP AnyValue as Python: str, bool, int, float, bytes, list, dict, or None when unset."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, kind) if kind else None


def _scalar_text(value: Any) -> str | None:
    """A scalar value as the string rules compare: booleans as true/false, numbers as Python writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return None


def _string(attrs: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        if attrs.get(name) is not None:
            return _scalar_text(attrs[name])
    return None


def _count(attrs: Mapping[str, Any], *names: str) -> int | None:
    """The first present token count of ``names``, as a whole number >= 0 (or None when none is present)."""
    for name in names:
        value = attrs.get(name)
        if value is None:
            continue
        number: int | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            number = int(value)
        if number is None:
            raise _Rejected(f"has a token count {name} that is not a whole number ({_shown(value)})")
        if number < 0:
            raise _Rejected(f"has a negative token count {name} ({number})")
        return number
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


# ----------------------------------------------------------------------------------------------- prompt, response


def _content(span: Span, attrs: Mapping[str, Any], *, side: str) -> str | None:
    """The captured prompt (``side="input"``) or response text of a span, or None when it was not captured.

    In order: the ``gen_ai.input.messages``/``gen_ai.output.messages`` attribute (current conventions), the same
    attributes on a span event, the older per-message span events (``gen_ai.user.message``, ``gen_ai.choice``, ...)
    and ``gen_ai.content.prompt``/``gen_ai.content.completion`` events, the older ``gen_ai.prompt`` and
    ``gen_ai.completion`` attributes, and the indexed ``gen_ai.prompt.0.content`` attributes of some instrumentations.
    """
    messages_key = f"gen_ai.{side}.messages"
    old_key, old_event = ("gen_ai.prompt", "gen_ai.content.prompt") if side == "input" else \
        ("gen_ai.completion", "gen_ai.content.completion")
    message_events = _PROMPT_EVENTS if side == "input" else _RESPONSE_EVENTS

    text = _messages_text(attrs.get(messages_key))
    if text is not None:
        return text
    texts: list[str] = []
    for event in span.events:
        event_attrs = _attributes(event.attributes)
        if messages_key in event_attrs:
            found = _messages_text(event_attrs[messages_key])
        elif event.name in message_events:
            body = event_attrs.get("gen_ai.event.content")
            parsed = _json(body) if isinstance(body, str) else None
            found = _join(_message_texts(parsed if isinstance(parsed, dict) else event_attrs))
        elif event.name == old_event:
            found = _messages_text(event_attrs.get(old_key))
        else:
            found = None
        if found is not None:
            texts.append(found)
    if texts:
        return "\n".join(texts)
    text = _messages_text(attrs.get(old_key))
    if text is not None:
        return text
    prefix = "prompt" if side == "input" else "completion"
    indexed = sorted((int(m.group(2)), value) for key, value in attrs.items()
                     if (m := _INDEXED.fullmatch(key)) and m.group(1) == prefix and isinstance(value, str))
    return "\n".join(value for _, value in indexed) if indexed else None


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _join(texts: list[str]) -> str | None:
    return "\n".join(texts) if texts else None


def _messages_text(value: Any) -> str | None:
    """The text parts of a message list (a JSON string or structured), joined with newlines; plain text as is."""
    if value is None:
        return None
    if isinstance(value, str):
        parsed = _json(value)
        if not isinstance(parsed, (list, dict)):
            return value  # not a JSON message list: the text itself
        value = parsed
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return None
    texts: list[str] = []
    for item in value:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, dict):
            texts.extend(_message_texts(item))
    return _join(texts)


def _message_texts(msg: Mapping[str, Any]) -> list[str]:
    """The texts of one message: ``parts`` of type text (current), else a ``content`` string or list of text parts
    (older and provider shapes), else the ``content`` of a nested ``message`` (the older ``gen_ai.choice`` body)."""
    parts = msg.get("parts")
    if isinstance(parts, list):
        return [p["content"] for p in parts
                if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("content"), str)]
    content = msg.get("content")
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                text = part.get("text", part.get("content"))
                if isinstance(text, str) and part.get("type", "text") == "text":
                    texts.append(text)
        return texts
    nested = msg.get("message")
    if isinstance(nested, str):
        nested = _json(nested)
    if isinstance(nested, dict) and nested is not msg:
        return _message_texts(nested)
    return []


# ------------------------------------------------------------------------------------------------------- response


def partial_success(batch: TraceBatch) -> dict[str, Any]:
    """The OTLP/JSON response body: ``{}`` when every span was accepted, else the partial success (int64 as string).

    >>> partial_success(TraceBatch(rejected=2, error_message="rejected 2 GenAI spans: ..."))
    {'partialSuccess': {'rejectedSpans': '2', 'errorMessage': 'rejected 2 GenAI spans: ...'}}
    """
    if not batch.rejected:
        return {}
    return {"partialSuccess": {"rejectedSpans": str(batch.rejected), "errorMessage": batch.error_message}}


def response_protobuf(batch: TraceBatch) -> bytes:
    """The serialized ``ExportTraceServiceResponse`` for a protobuf request (empty when every span was accepted)."""
    response = ExportTraceServiceResponse()
    if batch.rejected:
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=batch.rejected, error_message=batch.error_message))
    return response.SerializeToString()
