"""OTLP/HTTP trace exports into model events: real exports of the OpenTelemetry SDK (protobuf), the same request in
OTLP/JSON (a hand-written fixture), the older GenAI attribute names, the rules, rejected spans and bad bodies."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as PbResource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, StatusCode

from assay.errors import ConfigError, InputError
from assay.watch.otlp import (
    EVENT_KEYS,
    TraceBatch,
    TraceRule,
    decode_request,
    parse_rules,
    partial_success,
    response_protobuf,
    spans_to_events,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "otlp"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z in ns
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
PARENT_ID, CHAT_ID, FAILED_ID = 0x00F067AA0BA902B7, 0x53995C3F42CD8AD8, 0x1C6BD2A5F1E8C7B4

INPUT_MESSAGES = [
    {"role": "user", "parts": [{"type": "text", "content": "My order #1234 has not arrived."}]},
    {"role": "assistant", "parts": [{"type": "text", "content": "Sorry to hear that. What is your postcode?"}]},
    {"role": "user", "parts": [{"type": "text", "content": "SW1A 1AA"}]},
]
OUTPUT_MESSAGES = [
    {"role": "assistant", "parts": [
        {"type": "tool_call", "id": "call_1", "name": "track_parcel", "arguments": {"postcode": "SW1A 1AA"}},
        {"type": "text", "content": "Thanks! Your parcel is out for delivery today."}], "finish_reason": "stop"},
]
SUPPORT_BOT = [{"match": {"service.name": "support-bot"}, "model": "chat"}]


# --------------------------------------------------------------------------------------- a real SDK export


class FixedIds(IdGenerator):
    """The SDK's ids, fixed so the OTLP/JSON fixture can carry the same ones."""

    def __init__(self, trace_ids: Sequence[int], span_ids: Sequence[int]) -> None:
        self._trace_ids: Iterator[int] = iter(trace_ids)
        self._span_ids: Iterator[int] = iter(span_ids)

    def generate_trace_id(self) -> int:
        return next(self._trace_ids)

    def generate_span_id(self) -> int:
        return next(self._span_ids)


def record_support_bot() -> tuple[list[ReadableSpan], ExportTraceServiceRequest]:
    """An HTTP request span with two GenAI client spans below it (one answered, one timed out), as the SDK records
    and the OTLP exporter encodes them."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "support-bot", "service.version": "3"}),
                              id_generator=FixedIds([TRACE_ID], [PARENT_ID, CHAT_ID, FAILED_ID]))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("support_bot.llm", "1.4.0")

    parent = tracer.start_span("POST /chat", kind=SpanKind.SERVER, start_time=T0,
                               attributes={"http.request.method": "POST", "http.route": "/chat"})
    context = trace.set_span_in_context(parent)
    chat = tracer.start_span("chat gpt-4o-mini", context=context, kind=SpanKind.CLIENT, start_time=T0 + 250_000_000,
                             attributes={"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                         "gen_ai.request.model": "gpt-4o-mini", "gen_ai.request.temperature": 0.2,
                                         "server.address": "api.openai.com"})
    chat.set_attribute("gen_ai.system_instructions",
                       json.dumps([{"type": "text", "content": "You are a courteous support agent."}]))
    chat.set_attribute("gen_ai.input.messages", json.dumps(INPUT_MESSAGES))
    chat.set_attribute("gen_ai.response.model", "gpt-4o-mini-2024-07-18")
    chat.set_attribute("gen_ai.response.id", "chatcmpl-9fGk2")
    chat.set_attribute("gen_ai.response.finish_reasons", ["stop"])
    chat.set_attribute("gen_ai.usage.input_tokens", 41)
    chat.set_attribute("gen_ai.usage.output_tokens", 17)
    chat.set_attribute("gen_ai.output.messages", json.dumps(OUTPUT_MESSAGES))
    chat.end(end_time=T0 + 1_750_000_000)

    failed = tracer.start_span("chat gpt-4o-mini", context=context, kind=SpanKind.CLIENT,
                               start_time=T0 + 1_800_000_000,
                               attributes={"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                           "gen_ai.request.model": "gpt-4o-mini"})
    failed.set_attribute("gen_ai.input.messages", json.dumps(
        [{"role": "user", "parts": [{"type": "text", "content": "Can I change the delivery address?"}]}]))
    failed.set_attribute("error.type", "timeout")
    failed.set_status(trace.Status(StatusCode.ERROR, "Request timed out"))
    failed.end(end_time=T0 + 1_950_000_000)

    parent.set_attribute("http.response.status_code", 200)
    parent.end(end_time=T0 + 2_000_000_000)

    spans = list(exporter.get_finished_spans())
    provider.shutdown()
    return spans, encode_spans(spans)


def span_id(span: ReadableSpan) -> str:
    ctx = span.get_span_context()
    assert ctx is not None
    return f"{ctx.trace_id:032x}:{ctx.span_id:016x}"


EXPECTED = [
    {"id": "4bf92f3577b34da6a3ce929d0e0e4736:53995c3f42cd8ad8", "timestamp": 1767225600.25, "latency": 1.5,
     "status": "ok", "operation": "chat", "provider": "openai", "request_model": "gpt-4o-mini",
     "response_model": "gpt-4o-mini-2024-07-18", "input_tokens": 41, "output_tokens": 17, "version": "3",
     "prompt": "My order #1234 has not arrived.\nSorry to hear that. What is your postcode?\nSW1A 1AA",
     "response": "Thanks! Your parcel is out for delivery today."},
    {"id": "4bf92f3577b34da6a3ce929d0e0e4736:1c6bd2a5f1e8c7b4", "timestamp": 1767225601.8, "latency": 0.15,
     "status": "error", "operation": "chat", "provider": "openai", "request_model": "gpt-4o-mini",
     "response_model": None, "input_tokens": None, "output_tokens": None, "version": "3",
     "prompt": "Can I change the delivery address?", "response": None},
]


def test_sdk_protobuf_export_becomes_events() -> None:
    spans, request = record_support_bot()
    body = request.SerializeToString()
    batch = spans_to_events(decode_request(body, PROTOBUF), parse_rules(SUPPORT_BOT))

    assert set(batch.events) == {"chat"}
    events = batch.events["chat"]
    assert [tuple(e) for e in events] == [EVENT_KEYS, EVENT_KEYS]
    # The ids are the SDK's own span contexts, as 32 and 16 hex digits.
    chat, failed = (s for s in spans if s.name.startswith("chat"))
    assert [e["id"] for e in events] == [span_id(chat), span_id(failed)]
    # Times are the SDK's nanoseconds, as seconds.
    assert chat.start_time is not None and chat.end_time is not None
    assert events[0]["timestamp"] == chat.start_time / 10**9  # correctly rounded (ns / 1e9 would not be)
    assert events[0]["latency"] == (chat.end_time - chat.start_time) / 10**9
    assert events == EXPECTED
    assert (batch.rejected, batch.ignored, batch.error_message) == (0, 1, "")  # the HTTP span has no gen_ai.*
    assert partial_success(batch) == {}
    assert response_protobuf(batch) == b""
    assert not ExportTraceServiceResponse.FromString(response_protobuf(batch)).HasField("partial_success")


def test_the_json_fixture_is_the_same_request() -> None:
    _, request = record_support_bot()
    body = (FIXTURES / "support_bot_chat.json").read_bytes()
    decoded = decode_request(body, "application/json; charset=utf-8")
    # The fixture says exactly what the SDK encodes (ids, times, attributes, status, parents).
    assert decoded == request
    batch = spans_to_events(decoded, parse_rules(SUPPORT_BOT))
    assert batch.events == {"chat": EXPECTED}
    assert (batch.rejected, batch.ignored) == (0, 1)


def otlp_json(request: ExportTraceServiceRequest) -> dict[str, Any]:
    """``request`` in the OTLP/JSON encoding: the protobuf JSON mapping with the ids as hex instead of base64."""
    data = json_format.MessageToDict(request)
    for resource_spans in data.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for obj in (span, *span.get("links", [])):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in obj:
                            obj[key] = base64.b64decode(obj[key]).hex()
    return data


def test_json_round_trip_of_the_sdk_export() -> None:
    _, request = record_support_bot()
    data = otlp_json(request)
    span = data["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["traceId"] == f"{TRACE_ID:032x}" and span["parentSpanId"] == f"{PARENT_ID:016x}"
    # Upper-case hex is as good, snake_case names and unknown fields are accepted.
    span["traceId"] = span["traceId"].upper()
    span["span_id"] = span.pop("spanId")
    span["someFutureField"] = {"x": 1}
    assert decode_request(json.dumps(data).encode(), "Application/JSON") == request


# --------------------------------------------------------------------------------------- hand-built requests


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[any_value(v) for v in value]))
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=key_values(value)))
    return AnyValue(string_value=value)


def key_values(attrs: Mapping[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in attrs.items()]


_next_id = iter(range(1, 1 << 30))


def make_span(attrs: Mapping[str, Any], *, start: int = T0, end: int | None = None, error: bool = False,
              events: Sequence[tuple[str, Mapping[str, Any]]] = (), trace_id: bytes | None = None,
              span_id: bytes | None = None) -> Span:
    n = next(_next_id)
    span = Span(trace_id=trace_id if trace_id is not None else n.to_bytes(16, "big"),
                span_id=span_id if span_id is not None else n.to_bytes(8, "big"), name="chat",
                start_time_unix_nano=start, end_time_unix_nano=start + 500_000_000 if end is None else end,
                attributes=key_values(attrs))
    for name, event_attrs in events:
        span.events.add(name=name, time_unix_nano=start, attributes=key_values(event_attrs))
    if error:
        span.status.code = Status.STATUS_CODE_ERROR
    return span


def make_request(*resources: tuple[Mapping[str, Any], Sequence[Span]]) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(resource_spans=[
        ResourceSpans(resource=PbResource(attributes=key_values(attrs)), scope_spans=[ScopeSpans(spans=list(spans))])
        for attrs, spans in resources])


BOT = {"service.name": "support-bot"}
CATCH_ALL = parse_rules([{"match": {"service.name": "support-bot"}, "model": "m"}])


def one_event(span: Span, resource: Mapping[str, Any] = BOT) -> dict[str, Any]:
    batch = spans_to_events(make_request((resource, [span])), CATCH_ALL)
    assert (batch.rejected, batch.ignored) == (0, 0), batch
    (event,) = batch.events["m"]
    return event


def test_older_attribute_names_are_accepted() -> None:
    event = one_event(make_span({"gen_ai.system": "anthropic", "gen_ai.request.model": "claude-3-5-haiku",
                                 "gen_ai.usage.prompt_tokens": 30, "gen_ai.usage.completion_tokens": 9,
                                 "gen_ai.prompt": "Summarise the ticket.", "gen_ai.completion": "A late parcel."}))
    assert (event["provider"], event["input_tokens"], event["output_tokens"]) == ("anthropic", 30, 9)
    assert (event["prompt"], event["response"]) == ("Summarise the ticket.", "A late parcel.")
    assert (event["operation"], event["response_model"], event["version"]) == (None, None, None)


def test_current_names_win_over_older_ones() -> None:
    event = one_event(make_span({"gen_ai.provider.name": "aws.bedrock", "gen_ai.system": "anthropic",
                                 "gen_ai.usage.input_tokens": 5, "gen_ai.usage.prompt_tokens": 50,
                                 "gen_ai.input.messages": json.dumps(INPUT_MESSAGES[:1]),
                                 "gen_ai.prompt": "older"}))
    assert (event["provider"], event["input_tokens"], event["prompt"]) == ("aws.bedrock", 5,
                                                                           "My order #1234 has not arrived.")


def test_older_per_message_span_events() -> None:
    span = make_span({"gen_ai.system": "openai"}, events=[
        ("gen_ai.system.message", {"gen_ai.system": "openai", "content": "You are terse."}),
        ("gen_ai.user.message", {"gen_ai.system": "openai", "content": "Where is my parcel?"}),
        ("gen_ai.choice", {"index": 0, "finish_reason": "stop", "message": {"content": "In transit."}}),
        ("gen_ai.choice", {"index": 1, "content": "On its way."}),
        ("exception", {"exception.message": "ignored"}),
    ])
    event = one_event(span)
    assert event["prompt"] == "You are terse.\nWhere is my parcel?"
    assert event["response"] == "In transit.\nOn its way."


def test_older_content_events_and_json_prompts() -> None:
    openai_style = json.dumps([{"role": "user", "content": "Hi"}, {"role": "user", "content": [
        {"type": "text", "text": "there"}, {"type": "image_url", "image_url": {"url": "x"}}]}])
    span = make_span({"gen_ai.system": "openai"}, events=[
        ("gen_ai.content.prompt", {"gen_ai.prompt": openai_style}),
        ("gen_ai.content.completion", {"gen_ai.completion": "Hello!"}),
    ])
    event = one_event(span)
    assert (event["prompt"], event["response"]) == ("Hi\nthere", "Hello!")


def test_indexed_prompt_attributes() -> None:
    span = make_span({"gen_ai.system": "openai", "gen_ai.prompt.1.content": "second",
                      "gen_ai.prompt.0.content": "first", "gen_ai.prompt.0.role": "user",
                      "gen_ai.completion.0.content": "reply"})
    event = one_event(span)
    assert (event["prompt"], event["response"]) == ("first\nsecond", "reply")


def test_structured_messages_and_any_values() -> None:
    # gen_ai.input.messages as an AnyValue array of kvlists rather than a JSON string; numbers as other AnyValues.
    span = make_span({"gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "a"},
                                                                           {"type": "text", "content": "b"}]}],
                      "gen_ai.output.messages": "plain text, not JSON",
                      "gen_ai.usage.input_tokens": "12", "gen_ai.usage.output_tokens": 3.0,
                      "gen_ai.request.model": 7})
    event = one_event(span, {**BOT, "service.version": 2})
    assert (event["prompt"], event["response"]) == ("a\nb", "plain text, not JSON")
    assert (event["input_tokens"], event["output_tokens"]) == (12, 3)
    assert (event["request_model"], event["version"]) == ("7", "2")


def test_messages_without_text_fall_back_and_otherwise_are_none() -> None:
    tool_only = json.dumps([{"role": "assistant", "parts": [{"type": "tool_call", "name": "f", "arguments": {}}]}])
    event = one_event(make_span({"gen_ai.output.messages": tool_only}))
    assert event["response"] is None and event["prompt"] is None
    event = one_event(make_span({"gen_ai.output.messages": tool_only, "gen_ai.completion": "fallback"}))
    assert event["response"] == "fallback"


# --------------------------------------------------------------------------------------------------- rules

RULES = [
    {"match": {"service.name": "support-bot"}, "model": "chat"},
    {"match": {"gen_ai.request.model": "gpt-4o-mini"}, "model": "mini"},
    {"match": {"deployment.environment.name": "canary", "gen_ai.request.stream": True}, "model": "canary"},
]


def test_rules_route_spans_first_match_wins() -> None:
    bot_mini = make_span({"gen_ai.request.model": "gpt-4o-mini"})
    billing_mini = make_span({"gen_ai.request.model": "gpt-4o-mini"})
    billing_other = make_span({"gen_ai.request.model": "gpt-4o"})
    http = make_span({"http.route": "/chat"})
    canary = make_span({"gen_ai.request.model": "gpt-4o", "gen_ai.request.stream": True})
    # The span's own attribute wins over the resource's of the same name.
    not_canary = make_span({"gen_ai.request.model": "gpt-4o", "gen_ai.request.stream": True,
                            "deployment.environment.name": "prod"})
    request = make_request((BOT, [bot_mini, http]), ({"service.name": "billing-bot"}, [billing_mini, billing_other]),
                           ({"service.name": "search", "deployment.environment.name": "canary"}, [canary, not_canary]))
    batch = spans_to_events(request, parse_rules(RULES))
    ids = {model: [e["id"] for e in events] for model, events in batch.events.items()}

    def eid(span: Span) -> str:
        return f"{span.trace_id.hex()}:{span.span_id.hex()}"

    assert ids == {"chat": [eid(bot_mini)], "mini": [eid(billing_mini)], "canary": [eid(canary)]}
    assert (batch.ignored, batch.rejected) == (3, 0)  # the HTTP span, the unmatched gpt-4o and the prod span


def test_no_rules_ignores_everything() -> None:
    batch = spans_to_events(make_request((BOT, [make_span({"gen_ai.system": "x"})])), ())
    assert batch == TraceBatch(events={}, rejected=0, error_message="", ignored=1)


def test_parse_rules_values_are_strings() -> None:
    rules = parse_rules(RULES)
    assert rules[2] == TraceRule(match={"deployment.environment.name": "canary", "gen_ai.request.stream": "true"},
                                 model="canary")
    assert parse_rules(None) == () and parse_rules([]) == ()
    assert parse_rules([{"match": {"service.version": 3}, "model": "v3"}])[0].match == {"service.version": "3"}


@pytest.mark.parametrize(("section", "where"), [
    ({"match": {}}, "section 'traces': expected a list of rules"),
    (["chat"], "traces[0]: expected a rule like"),
    ([{"model": "chat"}], "traces[0], field 'match': expected a non-empty mapping of attribute names to values, "
                          "found none"),
    ([SUPPORT_BOT[0], {"match": {}, "model": "x"}], "traces[1], field 'match': expected a non-empty mapping"),
    ([{"match": ["service.name"], "model": "x"}], "traces[0], field 'match': expected a non-empty mapping"),
    ([{"match": {"service.name": ["a", "b"]}, "model": "x"}], "traces[0], field 'match.service.name': expected a "
                                                              "string, number or boolean"),
    ([{"match": {"service.name": None}, "model": "x"}], "traces[0], field 'match.service.name'"),
    ([{"match": {1: "a"}, "model": "x"}], "traces[0], field 'match': expected attribute names as strings"),
    ([{"match": {"service.name": "a"}}], "traces[0], field 'model': expected the name of a model, found none"),
    ([{"match": {"service.name": "a"}, "model": " "}], "traces[0], field 'model': expected the name of a model"),
    ([{"match": {"service.name": "a"}, "model": "x", "modle": "y"}], "traces[0], field 'modle': expected only the "
                                                                     "fields match, model"),
    ([SUPPORT_BOT[0], {"match": {"service.name": "support-bot", "gen_ai.request.model": "m"}, "model": "x"}],
     "traces[1], field 'match': expected a rule that can match, found traces[0] matches every span"),
])
def test_bad_rules_name_the_entry_and_field(section: Any, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_rules(section)
    assert str(info.value).startswith(where)
    assert "Fix: " in str(info.value)


def test_parse_rules_where() -> None:
    with pytest.raises(ConfigError, match=r"^watch.yaml traces\[0\], field 'model'"):
        parse_rules([{"match": {"a": "b"}}], where="watch.yaml traces")


# ------------------------------------------------------------------------------------------------ rejected


def test_malformed_genai_spans_are_rejected_and_reported() -> None:
    good = make_span({"gen_ai.usage.input_tokens": 3})
    backwards = make_span({"gen_ai.system": "openai"}, start=T0, end=T0 - 1)
    negative = make_span({"gen_ai.usage.output_tokens": -4})
    fractional = make_span({"gen_ai.usage.input_tokens": "12.5"})
    short_trace = make_span({"gen_ai.system": "openai"}, trace_id=b"\x01" * 8)
    zero_span = make_span({"gen_ai.system": "openai"}, span_id=bytes(8))
    no_start = make_span({"gen_ai.system": "openai"}, start=0, end=T0)
    unmatched_bad = make_span({"gen_ai.usage.output_tokens": -1})  # matches no rule: ignored, not rejected
    request = make_request((BOT, [good, backwards, negative, fractional, short_trace, zero_span, no_start]),
                           ({"service.name": "other"}, [unmatched_bad]))
    batch = spans_to_events(request, CATCH_ALL)

    assert [e["input_tokens"] for e in batch.events["m"]] == [3]
    assert (batch.rejected, batch.ignored) == (6, 1)
    msg = batch.error_message
    assert msg.startswith("rejected 6 GenAI spans: ")
    assert f"span {backwards.trace_id.hex()}:{backwards.span_id.hex()} ends before it starts" in msg
    assert "has a negative token count gen_ai.usage.output_tokens (-4)" in msg
    assert "gen_ai.usage.input_tokens that is not a whole number ('12.5')" in msg
    assert msg.endswith("; and 3 more")

    assert partial_success(batch) == {"partialSuccess": {"rejectedSpans": "6", "errorMessage": msg}}
    json.dumps(partial_success(batch))  # a JSON body as is
    response = ExportTraceServiceResponse.FromString(response_protobuf(batch))
    assert response.partial_success.rejected_spans == 6
    assert response.partial_success.error_message == msg


@pytest.mark.parametrize(("span", "reason"), [
    (make_span({"gen_ai.system": "x"}, trace_id=b"\x01" * 8),
     "has an invalid trace id (expected 16 non-zero bytes, found 8 bytes)"),
    (make_span({"gen_ai.system": "x"}, span_id=bytes(8)),
     "has an invalid span id (expected 8 non-zero bytes, found all zeros)"),
    (make_span({"gen_ai.system": "x"}, start=0, end=T0), "has no start time"),
    (make_span({"gen_ai.system": "x"}, end=0), "has no end time"),
    (make_span({"gen_ai.usage.input_tokens": True}), "not a whole number (True)"),
    (make_span({"gen_ai.usage.completion_tokens": [1, 2]}), "not a whole number ([1, 2])"),
])
def test_each_rejection_reason(span: Span, reason: str) -> None:
    batch = spans_to_events(make_request((BOT, [span])), CATCH_ALL)
    assert batch.rejected == 1 and batch.events == {}
    assert batch.error_message.startswith("rejected 1 GenAI span: span ") and reason in batch.error_message


# ------------------------------------------------------------------------------------------------ bad bodies


def test_garbage_protobuf_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"^OTLP/protobuf trace export: expected a serialized "
                                         r"ExportTraceServiceRequest, found bytes that do not decode"):
        decode_request(b"\xff\xff\xff not a protobuf", PROTOBUF)
    body = (FIXTURES / "support_bot_chat.json").read_bytes()
    with pytest.raises(InputError, match="the body looks like JSON: send it with Content-Type: application/json"):
        decode_request(body, PROTOBUF)


@pytest.mark.parametrize(("body", "found"), [
    (b"", "invalid JSON"),
    (b'{"resourceSpans": [', "invalid JSON"),
    (b"\xff\xfe{", "invalid JSON"),
    (b"[1, 2]", "found a JSON list"),
    (b'{"resourceSpans": {"no": "list"}}', "expected an ExportTraceServiceRequest in the OTLP/JSON encoding"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}', "OTLP/JSON encoding"),
])
def test_invalid_json_is_an_input_error(body: bytes, found: str) -> None:
    with pytest.raises(InputError, match=r"^OTLP/JSON trace export") as info:
        decode_request(body, JSON)
    assert found in str(info.value)


def test_base64_ids_in_json_are_named() -> None:
    data = otlp_json(record_support_bot()[1])
    data["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["spanId"] = "HGvSpfHox7Q="
    with pytest.raises(InputError, match=r"field 'resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[1\]\.spanId': "
                                         r"expected a hex string, found 'HGvSpfHox7Q='.*not base64"):
        decode_request(json.dumps(data).encode(), JSON)


@pytest.mark.parametrize("content_type", ["text/plain", "application/grpc", "", "application/protobuf"])
def test_unknown_content_type_says_what_is_accepted(content_type: str) -> None:
    with pytest.raises(InputError, match="expected application/x-protobuf or application/json, found"):
        decode_request(b"{}", content_type)


def test_content_type_parameters_and_case() -> None:
    assert decode_request(b"{}", "application/json; charset=utf-8") == ExportTraceServiceRequest()
    assert decode_request(b"", "Application/X-Protobuf ; foo=bar") == ExportTraceServiceRequest()


@given(body=st.binary(max_size=200), content_type=st.sampled_from([PROTOBUF, JSON]))
def test_any_body_decodes_or_is_an_input_error(body: bytes, content_type: str) -> None:
    try:
        request = decode_request(body, content_type)
    except InputError:
        return
    batch = spans_to_events(request, CATCH_ALL)
    assert batch.rejected + batch.ignored + sum(map(len, batch.events.values())) == sum(
        len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
