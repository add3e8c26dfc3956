"""The Helm chart (deploy/helm/llmwatch). Always: every `.Values` path its templates read
exists in values.yaml, and its rules are the tested rules. Where `helm` is on the PATH (this
machine has no Debian package of it; built from the Go module proxy it takes longer than the
rest of CI, so CI does not build it): `helm lint --strict`, then `helm template` with the
defaults and with every option on, read back as Kubernetes objects — probes, secrets by
reference, the init Job's hooks, KEDA's lag trigger, the ServiceMonitor and the same rules
as deploy/prometheus/alerts.yml."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "deploy" / "helm" / "llmwatch"


def helm() -> str:
    found = shutil.which("helm")
    assert found
    return found


needs_helm = pytest.mark.skipif(shutil.which("helm") is None, reason=(
    "helm is not on the PATH (GOBIN=$PWD/.venv/bin go install "
    "helm.sh/helm/v4/cmd/helm@v4.3.2 builds it)"))


def render(*sets: str) -> list[dict[str, Any]]:
    args = [helm(), "template", "llmwatch", str(CHART), "--namespace", "llmwatch"]
    for s in sets:
        args += ["--set", s]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@needs_helm
def test_the_chart_lints_and_renders_what_a_cluster_needs() -> None:
    lint = subprocess.run([helm(), "lint", "--strict", str(CHART),
                           "--set", "autoscaling.enabled=true",
                           "--set", "serviceMonitor.enabled=true",
                           "--set", "prometheusRule.enabled=true"],
                          capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    plain = {d["kind"] for d in render()}
    assert plain == {"Deployment", "Service", "Job"}

    docs = render("autoscaling.enabled=true", "serviceMonitor.enabled=true",
                  "prometheusRule.enabled=true", "secrets.slackToken.name=slack",
                  "kafka.saslSecret.name=kafka-user", "kafka.securityProtocol=SASL_SSL",
                  "kafka.saslMechanism=SCRAM-SHA-512", "image.tag=1.2.3")
    kinds = {d["kind"]: d for d in docs}
    assert set(kinds) == {"Deployment", "Service", "Job", "ScaledObject", "ServiceMonitor",
                          "PrometheusRule"}

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
    assert scaled["maxReplicaCount"] <= 6  # never more workers than partitions

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
