"""The Helm chart (deploy/helm/llmwatch). Always: every `.Values` path its templates read
exists in values.yaml, and its rules are the tested rules. With the chart tools
(`bash scripts/chart_tools.sh`: helm built from the Go module proxy, the Prometheus
Operator's and KEDA's CRDs from their modules; CI runs it and sets
LLMWATCH_REQUIRE_CHART_TOOLS=1, so there a missing tool fails instead of skipping):
`helm lint --strict`, then `helm template` with the defaults and with every option on, read
back as Kubernetes objects — probes, secrets by reference, the init Job's hooks, KEDA's lag
trigger and its credentials, the ServiceMonitor and the same rules as
deploy/prometheus/alerts.yml — and every rendered object checked against a schema: core
kinds against Kubernetes' own (kubernetes-validate, strict: an unknown field is an error)
for the oldest and newest Kubernetes the chart supports, custom resources against their
CRD's openAPIV3Schema, where an unknown field would be pruned silently by the API server
and so is an error here too."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "deploy" / "helm" / "llmwatch"
TOOLS = ROOT / ".tools"
KUBERNETES = ("1.29", "1.37")  # the oldest and newest Kubernetes the chart is checked for


def helm() -> str | None:
    built = TOOLS / "bin" / "helm"
    return str(built) if built.exists() else shutil.which("helm")


def chart_tools_missing() -> str | None:
    if helm() is None:
        return "helm is neither in .tools/bin nor on the PATH"
    if not (TOOLS / "crds" / "SOURCES").exists():
        return "the CRDs are not in .tools/crds"
    return None


@pytest.fixture
def chart_tools() -> None:
    missing = chart_tools_missing()
    if missing is None:
        return
    why = f"{missing}: `bash scripts/chart_tools.sh` builds helm and fetches the CRDs"
    if os.environ.get("LLMWATCH_REQUIRE_CHART_TOOLS") == "1":
        pytest.fail(why)
    pytest.skip(why)


def render(*sets: str) -> list[dict[str, Any]]:
    args = [str(helm()), "template", "llmwatch", str(CHART), "--namespace", "llmwatch"]
    for s in sets:
        args += ["--set", s]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


ALL_ON = ("autoscaling.enabled=true", "serviceMonitor.enabled=true",
          "prometheusRule.enabled=true", "secrets.slackToken.name=slack",
          "kafka.saslSecret.name=kafka-user", "kafka.securityProtocol=SASL_SSL",
          "kafka.saslMechanism=SCRAM-SHA-512", "image.tag=1.2.3")


@pytest.mark.usefixtures("chart_tools")
def test_the_chart_lints_and_renders_what_a_cluster_needs() -> None:
    lint = subprocess.run([str(helm()), "lint", "--strict", str(CHART),
                           "--set", "autoscaling.enabled=true",
                           "--set", "serviceMonitor.enabled=true",
                           "--set", "prometheusRule.enabled=true"],
                          capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    plain = {d["kind"] for d in render()}
    assert plain == {"Deployment", "Service", "Job"}

    docs = render(*ALL_ON)
    kinds = {d["kind"]: d for d in docs}
    assert set(kinds) == {"Deployment", "Service", "Job", "ScaledObject",
                          "TriggerAuthentication", "ServiceMonitor", "PrometheusRule"}

    deployment = kinds["Deployment"]
    assert "replicas" not in deployment["spec"]  # KEDA owns the count
    [worker] = deployment["spec"]["template"]["spec"]["containers"]
    assert worker["image"].endswith(":1.2.3") and worker["args"] == ["llmwatch", "worker"]
    assert worker["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert worker["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert worker["securityContext"]["readOnlyRootFilesystem"] is True
    env = {e["name"]: e for e in worker["env"]}
    for secret in ("LLMWATCH_STORAGE__URL", "LLMWATCH_ALERTS__SLACK_TOKEN",
                   "LLMWATCH_KAFKA__SASL_PASSWORD"):
        assert "value" not in env[secret] and env[secret]["valueFrom"]["secretKeyRef"]
    assert env["LLMWATCH_KAFKA__SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"

    job = kinds["Job"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["llmwatch", "init"]

    scaled = kinds["ScaledObject"]["spec"]
    [trigger] = scaled["triggers"]
    assert trigger["type"] == "kafka" and trigger["metadata"]["topic"] == "llmwatch.events"
    # KEDA reads the lag over the workers' TLS and SASL, with their Secret by reference
    assert trigger["metadata"]["tls"] == "enable"
    assert trigger["metadata"]["sasl"] == "scram_sha512"
    auth = kinds["TriggerAuthentication"]
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    assert {(r["parameter"], r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]} \
        == {("username", "kafka-user", "username"), ("password", "kafka-user", "password")}
    assert scaled["maxReplicaCount"] <= 6  # never more workers than partitions

    # KEDA cannot read the lag over SASL without knowing the mechanism: say so at install
    args = [str(helm()), "template", "llmwatch", str(CHART), "--set", "autoscaling.enabled=true",
            "--set", "kafka.securityProtocol=SASL_SSL", "--set", "kafka.saslSecret.name=u"]
    refused = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "kafka.saslMechanism must be" in refused.stderr

    monitor = kinds["ServiceMonitor"]["spec"]
    assert monitor["endpoints"][0]["port"] == "metrics"
    assert monitor["selector"]["matchLabels"] == kinds["Service"]["spec"]["selector"]

    shipped = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    assert kinds["PrometheusRule"]["spec"] == shipped


def test_the_charts_rules_are_the_tested_rules() -> None:
    assert (CHART / "files" / "alerts.yml").read_text() == \
        (ROOT / "deploy" / "prometheus" / "alerts.yml").read_text()


def test_every_value_the_templates_read_is_in_values_yaml() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    read = {m for t in (CHART / "templates").glob("*") for m in re.findall(
        r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", t.read_text())}
    assert len(read) >= 20
    for path in sorted(read):
        node: Any = values
        for part in path.strip(".").split("."):
            if isinstance(node, dict) and part.startswith("LLMWATCH_"):
                node = None  # an optional env entry, read with `default`
                break
            assert isinstance(node, dict) and part in node, f".Values{path} is not in values"
            node = node[part]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "llmwatch"


def strict(schema: Any) -> Any:
    """A CRD's structural schema as the API server applies it: an object that lists its
    properties takes no others (the server would prune them without a word), unless it says
    x-kubernetes-preserve-unknown-fields."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "properties":
            out[key] = {name: strict(sub) for name, sub in value.items()}
        else:
            out[key] = strict(value)
    if "properties" in out and "additionalProperties" not in out \
            and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) → the strict openAPIV3Schema of each served version of each CRD
    scripts/chart_tools.sh fetched."""
    schemas = {}
    for path in sorted((TOOLS / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                schemas[(f"{group}/{version['name']}", kind)] = \
                    strict(version["schema"]["openAPIV3Schema"])
    return schemas


def schema_errors(doc: dict[str, Any], crds: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """What a schema says is wrong with one rendered object, for every Kubernetes version
    checked (core kinds) or against its CRD (custom resources); an unknown kind is an error."""
    import kubernetes_validate

    where = f"{doc['kind']} {doc['metadata']['name']}"
    key = (doc["apiVersion"], doc["kind"])
    if key in crds:
        validator = jsonschema.Draft7Validator(crds[key])
        return [f"{where}: {'.'.join(map(str, e.absolute_path))}: {e.message}"
                for e in validator.iter_errors(doc)]
    errors = []
    for version in KUBERNETES:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            errors.append(f"{where} (Kubernetes {version}): "
                          f"{'.'.join(map(str, e.path))}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            errors.append(f"{where}: no schema: {e.message}")
    return errors


@pytest.mark.usefixtures("chart_tools")
def test_every_rendered_object_passes_its_schema() -> None:
    crds = crd_schemas()
    assert {k for _, k in crds} >= {"ServiceMonitor", "PrometheusRule", "ScaledObject",
                                    "TriggerAuthentication"}
    for sets in ((), ALL_ON, ("autoscaling.enabled=true", "kafka.securityProtocol=SSL"),
                 ("initJob.enabled=false", "worker.nodeSelector.pool=llm")):
        docs = render(*sets)
        assert docs
        for doc in docs:
            assert schema_errors(doc, crds) == [], sets

    # the check can fail: a misspelt field in a core kind and in a custom resource
    kinds = {d["kind"]: d for d in render(*ALL_ON)}
    worker = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    worker["readinessprobe"] = worker.pop("readinessProbe")
    assert any("readinessprobe" in e for e in schema_errors(kinds["Deployment"], crds))
    trigger = kinds["ScaledObject"]["spec"]["triggers"][0]
    trigger["metdata"] = trigger.pop("metadata")
    assert any("metdata" in e for e in schema_errors(kinds["ScaledObject"], crds))
    kinds["ServiceMonitor"]["spec"]["endpoints"][0]["interval"] = 30
    assert schema_errors(kinds["ServiceMonitor"], crds)
