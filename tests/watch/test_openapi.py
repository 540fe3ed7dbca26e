"""schemathesis against the generated OpenAPI document of a real ``assay serve``: for every operation, generated
requests (with an admin token, on a store holding data) never get a 5xx, and every response matches what the
document declares for its status code (and the published JSON Schemas where a read returns a document)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from .conftest import Server

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

T0 = 1_800_000_000
SCHEMAS = Path(__file__).parents[2] / "schemas"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 25


def _published(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"assay.{name}-1.schema.json").read_text())


def _document_schema(path: str, query: dict[str, Any]) -> dict[str, Any] | None:
    """The published JSON Schema of a read's 200 answer."""
    if path.endswith("/decision"):
        return _published("decision")
    if not path.startswith("/v1/models/"):  # /metrics is Prometheus text; the others have no published schema
        return None
    if path.endswith("/status"):
        return _published("status")
    if path.endswith("/drift"):
        return _published("drift")
    if path.endswith("/metrics"):
        return _published("series" if query.get("step") is not None else "run")
    return None


def test_every_operation_against_its_documented_schema(serve: Callable[..., Server], tmp_path: Path) -> None:
    import pyarrow as pa

    import assay

    reference = pa.table({"amount": [float(i % 50) for i in range(500)], "country": ["DE", "FR"] * 250})
    assay.profile(reference).save(tmp_path / "ref.profile")
    admin = "adm_" + secrets.token_urlsafe(24)
    store = f"sqlite:///{tmp_path / 'watch.sqlite'}"
    server = serve(store, "    reference: {profile: ref.profile}\n"
                          "  chat: {task: llm, text: [prompt, response], latency: latency_s}\n"
                          f"admin_token: {admin}\n"
                          "traces:\n  - {match: {service.name: support-bot}, model: chat}\n")
    auth = {"Authorization": f"Bearer {admin}"}
    events = [{"id": f"e{i}", "timestamp": T0 + 7 * i, "version": str(i % 2), "score": (i % 10) / 10,
               "country": ["DE", "FR"][i % 2], "amount": float(i % 60)} for i in range(400)]
    with httpx.Client(base_url=server.url, headers=auth, timeout=30) as c:
        assert c.post("/v1/models/fraud/predictions", json={"events": events}).status_code == 200
        labels = [{"id": f"e{i}", "is_fraud": i % 3 == 0} for i in range(0, 400, 2)]
        assert c.post("/v1/models/fraud/labels", json={"events": labels}).status_code == 200
        chat = [{"id": "c1", "timestamp": T0, "prompt": "hi", "response": "hello", "latency_s": 0.2}]
        assert c.post("/v1/models/chat/predictions", json={"events": chat}).status_code == 200

    published = httpx.get(server.url + "/openapi.json").json()
    # invalid parameters are answered 400, so the document promises no FastAPI 422 "Validation Error"
    assert "HTTPValidationError" not in json.dumps(published)
    assert all("422" not in op["responses"] for path in published["paths"].values() for method, op in path.items()
               if method == "get"), "a read documents a 422"
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    failures: dict[str, list[str]] = {}
    statuses: dict[str, set[int]] = {}
    times = st.one_of(st.none(), st.integers(T0 - 3600, T0 + 3600), st.sampled_from(["2027-01-15T08:00:00Z"]))

    def check(op: Any, label: str, seen: set[int], mode: GenerationMode) -> Callable[[], None]:
        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy(generation_mode=mode),
               plan=st.sampled_from(["generated", "steered", "steered", "valid"]),
               model=st.sampled_from(["fraud", "chat"]), start=times, span=times,
               step=st.sampled_from([None, "5m", "1h", "1d"]), event=st.sampled_from(["e2", "c1"]))
        def run(case: Any, plan: str, model: str, start: Any, span: Any, step: str | None, event: str) -> None:
            # steer part of the cases onto configured models, stored ids and valid ranges, so that reads compute
            # documents: "generated" as schemathesis made it, "steered" with some parts replaced, "valid" a known
            # good request (with a generated body, if any)
            params = case.path_parameters or {}
            if plan != "generated":
                if "model" in params:
                    params["model"] = "fraud" if plan == "valid" else model
                if "event_id" in params:
                    params["event_id"] = event
                if case.query is not None and "from" in case.query:
                    if plan == "valid":
                        case.query = {"from": T0, "to": T0 + 3600} | ({"step": step} if step else {})
                    else:
                        if start is not None:
                            case.query["from"] = start
                            if isinstance(span, int):
                                case.query["to"] = start + abs(span - T0) + 600 if isinstance(start, int) else span
                        if "step" in case.query:
                            case.query["step"] = step
            try:
                response = case.call_and_validate(base_url=server.url, headers=auth, checks=CHECKS, timeout=30)
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises its failures as a group
                failures.setdefault(label, []).append(f"{type(exc).__name__}: {str(exc)[:1500]}")
                return
            seen.add(response.status_code)
            document = _document_schema(op.path, case.query or {})
            if response.status_code == 200 and document is not None:
                try:
                    jsonschema.validate(response.json(), document)
                except jsonschema.ValidationError as exc:
                    failures.setdefault(label, []).append(f"{case.path_parameters} {case.query}: {exc.message}")

        return run

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for op in operations:
            label = f"{op.method.upper()} {op.path}"
            if mode is GenerationMode.NEGATIVE and not (op.path_parameters or op.query or op.body):
                continue  # nothing to make invalid
            check(op, label, statuses.setdefault(label, set()), mode)()

    assert not failures, "\n\n".join(f"{label}:\n" + "\n".join(sorted(set(msgs))[:5])
                                     for label, msgs in failures.items())
    # the generated requests reached the real work, not only the refusals
    reads = [label for label in statuses if label.startswith("GET /v1/models/{model}/")]
    assert all(200 in statuses[label] for label in reads), json.dumps({k: sorted(v) for k, v in statuses.items()})
    assert server.proc is not None and server.proc.poll() is None
