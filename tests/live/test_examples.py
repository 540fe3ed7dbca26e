"""The controller examples in examples/rollouts point at routes the service has, with the conditions its answers
meet (the routes themselves are exercised on a real service in tests/watch/test_live_service.py)."""

from __future__ import annotations

from pathlib import Path

import yaml

from assay.service.routes.compare import router

ROOT = Path(__file__).resolve().parents[2] / "examples" / "rollouts"
PATHS = {r.path for r in router.routes}  # type: ignore[attr-defined]


def _route(url: str) -> str:
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    return path.replace("/fraud-canary/", "/{name}/")


def test_argo_analysis_template_reads_the_decision_with_its_conditions() -> None:
    doc = yaml.safe_load((ROOT / "argo-analysis-template.yaml").read_text())
    metric = doc["spec"]["metrics"][0]
    assert metric["successCondition"] == 'result.decision == "promote"'
    assert metric["failureCondition"] == 'result.decision == "rollback"'
    web = metric["provider"]["web"]
    assert _route(web["url"]) in PATHS
    assert web["headers"][0]["key"] == "Authorization"
    rollout = yaml.safe_load((ROOT / "argo-rollout.yaml").read_text())
    names = [s["analysis"]["templates"][0]["templateName"] for s in rollout["spec"]["strategy"]["canary"]["steps"]
             if "analysis" in s]
    assert names and set(names) == {doc["metadata"]["name"]}


def test_flagger_webhooks_use_the_three_hooks_with_the_token_in_metadata() -> None:
    doc = yaml.safe_load((ROOT / "flagger-canary.yaml").read_text())
    hooks = {h["type"]: h for h in doc["spec"]["analysis"]["webhooks"]}
    assert set(hooks) == {"rollout", "confirm-promotion", "rollback"}
    for kind, path in (("rollout", "check"), ("confirm-promotion", "promote"), ("rollback", "rollback")):
        assert hooks[kind]["url"].endswith(f"/flagger/{path}")
        assert "token" in hooks[kind]["metadata"]
        assert _route(hooks[kind]["url"]).replace(
            f"/flagger/{path}", "/flagger/{hook}") in PATHS


def test_kserve_example_is_an_inference_service_with_a_canary() -> None:
    docs = list(yaml.safe_load_all((ROOT / "kserve-canary.yaml").read_text()))
    isvc = docs[0]
    assert isvc["kind"] == "InferenceService" and isvc["spec"]["predictor"]["canaryTrafficPercent"] == 10
