#!/usr/bin/env bash
# The tools tests/test_helm.py renders and checks the Helm chart with, none of which Debian
# packages: helm itself, built from the Go module proxy into .tools/bin (about 7 minutes on
# 2 cores the first time, nothing after), and the custom resource definitions of the
# Prometheus Operator (ServiceMonitor, PrometheusRule) and KEDA (ScaledObject,
# TriggerAuthentication), read from their modules' zips as the Go proxy serves them (the go
# command checks each zip against sum.golang.org; the hashes below pin them again).
# Core kinds are checked against the Kubernetes schemas that kubernetes-validate ships
# (the dev extra). CI runs this before `make test`; without it the chart tests skip.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v4.3.2
TOOLS=.tools
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

command -v go >/dev/null 2>&1 || { echo "error: the Go toolchain is needed to build helm" \
  "(Debian: golang-go)" >&2; exit 1; }
mkdir -p "$TOOLS/bin" "$TOOLS/crds"

# (a helm built by `go install` reports only its minor version, so a stamp says which it is)
if [ ! -x "$TOOLS/bin/helm" ] || [ "$(cat "$TOOLS/bin/helm.version" 2>/dev/null)" != "$HELM_VERSION" ]; then
  say "building helm $HELM_VERSION from the Go module proxy (once; 4-7 min on 2 cores)"
  GOBIN="$PWD/$TOOLS/bin" GOFLAGS="-trimpath -buildvcs=false" \
    go install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
  echo "$HELM_VERSION" > "$TOOLS/bin/helm.version"
fi
echo "helm $HELM_VERSION: $TOOLS/bin/helm"

# module@version, its go.sum hash, and the CRD files the chart's custom resources follow
fetch() {
  local module=$1 version=$2 want=$3; shift 3
  local zip got
  zip=$(go mod download -json "$module@$version" | sed -n 's/^\t"Zip": "\(.*\)",$/\1/p')
  [ -f "$zip" ] || { echo "error: go mod download $module@$version gave no zip" >&2; exit 1; }
  got=$(cat "${zip%.zip}.ziphash")
  if [ "$got" != "$want" ]; then
    echo "error: $module@$version hashes to $got, pinned $want" >&2; exit 1
  fi
  python3 - "$zip" "$module@$version" "$TOOLS/crds" "$@" <<'PY'
import sys, zipfile, pathlib
zip_path, prefix, out, *paths = sys.argv[1:]
with zipfile.ZipFile(zip_path) as z:
    for path in paths:
        (pathlib.Path(out) / pathlib.Path(path).name).write_bytes(z.read(f"{prefix}/{path}"))
PY
  printf '%s@%s %s\n' "$module" "$version" "$got" >> "$TOOLS/crds/SOURCES.tmp"
}
say "custom resource definitions for the chart's ServiceMonitor, PrometheusRule and ScaledObject"
: > "$TOOLS/crds/SOURCES.tmp"
fetch github.com/prometheus-operator/prometheus-operator v0.85.0 \
  'h1:M5xLCLEoaW2IJfnuCwFzzpL+jSVQu3KGT84Pye+fW8s=' \
  example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml \
  example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml
# (v2.21 needs Go 1.27 even to be downloaded by this machine's Go 1.26)
fetch github.com/kedacore/keda/v2 v2.20.2 \
  'h1:SR60v8uIcelbveS8n/1jcl8tLdBBIbHMxmdOHw8tKqA=' \
  config/crd/bases/keda.sh_scaledobjects.yaml \
  config/crd/bases/keda.sh_triggerauthentications.yaml
mv "$TOOLS/crds/SOURCES.tmp" "$TOOLS/crds/SOURCES"
ls "$TOOLS/crds"
say "chart tools ready in $TOOLS/: tests/test_helm.py renders and checks the chart"
