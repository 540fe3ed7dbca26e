"""examples/kubernetes: valid manifests for a pinned Kubernetes version, a watch.yaml that assay loads and that
holds no secret, probes on routes the service has, and the right flags for `assay serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from assay.watch.config import parse_config

from .conftest import EXAMPLES, parse_assay

K8S = EXAMPLES / "kubernetes"
KUBERNETES_VERSION = "1.33.0"  # the schemas kubernetes-validate ships; offline
FILES = sorted(K8S.glob("*.yaml"))


def _docs() -> list[dict[str, Any]]:
    return [d for f in FILES for d in yaml.safe_load_all(f.read_text()) if d]


def _one(kind: str) -> dict[str, Any]:
    found = [d for d in _docs() if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def test_the_kinds() -> None:
    assert {d["kind"] for d in _docs()} == {"ConfigMap", "Secret", "Deployment", "Service"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_validates_against_the_schema(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def _container() -> dict[str, Any]:
    containers = _one("Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _env() -> dict[str, str]:
    """The environment the Deployment gives the container, with the Secret's (placeholder) values."""
    secret = _one("Secret")["stringData"]
    env = {}
    for var in _container()["env"]:
        ref = var["valueFrom"]["secretKeyRef"]
        assert ref["name"] == _one("Secret")["metadata"]["name"]
        env[var["name"]] = secret[ref["key"]]
    return env


def test_the_watch_yaml_loads_with_assays_loader(tmp_path: Path) -> None:
    text = _one("ConfigMap")["data"]["watch.yaml"]
    secret = _one("Secret")["stringData"]
    # the Secret's admin-token is mounted where admin_token_file points: write it there under tmp_path
    mount = next(m for m in _container()["volumeMounts"] if m["name"] == "secrets")["mountPath"]
    raw = yaml.safe_load(text)
    token_path = Path(raw["admin_token_file"])
    assert token_path.parent == Path(mount)
    (tmp_path / token_path.name).write_text(secret["admin-token"] + "\n")
    text = text.replace(str(token_path), str(tmp_path / token_path.name))
    config = parse_config(text, source="watch.yaml", base_dir=tmp_path, env=_env())
    assert config.store == secret["database-url"]
    assert config.store.startswith("postgresql://")
    assert config.admin_token == secret["admin-token"]
    assert config.redaction_key == secret["redaction-key"]
    assert set(config.models) == {"fraud"}


def test_the_configmap_holds_no_secret() -> None:
    configmap = yaml.safe_dump(_one("ConfigMap"))
    for value in _one("Secret")["stringData"].values():
        assert value not in configmap
    raw = yaml.safe_load(_one("ConfigMap")["data"]["watch.yaml"])
    assert "admin_token" not in raw  # a file, mounted from the Secret
    for key in ("store", "redaction_key"):
        assert raw[key].startswith("${") and raw[key].endswith("}"), key


def test_serve_flags_and_the_mounted_config() -> None:
    c = _container()
    ns = parse_assay([*c["command"], *c["args"]])
    assert ns.command == "serve"
    mount = next(m for m in c["volumeMounts"] if m["name"] == "config")["mountPath"]
    assert Path(ns.config) == Path(mount) / "watch.yaml"
    assert ns.host == "0.0.0.0"  # reachable from the Service, not only the pod's loopback
    port = next(p for p in c["ports"] if p["name"] == "http")["containerPort"]
    assert ns.port == port
    svc = _one("Service")["spec"]
    assert svc["ports"][0]["targetPort"] == "http"
    labels = _one("Deployment")["spec"]["template"]["metadata"]["labels"]
    assert svc["selector"].items() <= labels.items()


def test_resources_and_security() -> None:
    c = _container()
    assert {"cpu", "memory"} <= c["resources"]["requests"].keys()
    assert {"cpu", "memory"} <= c["resources"]["limits"].keys()
    pod = _one("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_probes_point_at_public_routes_of_the_service(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from assay.service.app import create_app
    from assay.watch.monitor import Monitor

    config = parse_config("models: {fraud: {task: binary, score: score, label: is_fraud}}", base_dir=tmp_path)
    monitor = Monitor(config, store_url=f"sqlite:///{tmp_path / 'watch.sqlite'}")
    try:
        app = create_app(monitor, background=False)
        routes = {getattr(r, "path", None): getattr(r, "methods", set()) for r in app.routes}
    finally:
        monitor.close()
    c = _container()
    probes = {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for probe, path in probes.items():
        get = c[probe]["httpGet"]
        assert get["path"] == path
        assert path in routes and "GET" in routes[path]
        assert get["port"] in (p["name"] for p in c["ports"])
