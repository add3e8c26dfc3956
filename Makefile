# The two commands of the README, and their set-up.
.PHONY: setup demo test lint bench train clean chart-tools

VENV ?= .venv

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV)/bin/llmwatch demo

test:
	@bash scripts/setup.sh --test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -ra

bench: setup
	$(VENV)/bin/python -m bench.pipeline_throughput
	$(VENV)/bin/python -m bench.drift_eval
	$(VENV)/bin/python -m bench.quality_eval
	$(VENV)/bin/python -m bench.flood
	$(VENV)/bin/python -m bench.redaction_eval
	$(VENV)/bin/python -m bench.name_probe
	$(VENV)/bin/python -m bench.replay_overhead

# Rebuild every shipped artifact in detectors/data/ from its pinned sources, byte for byte
# (each writes a provenance file; `git status` shows any artifact that came out different).
# The static space comes first: the heads are trained in it.
train: setup
	@bash scripts/setup.sh --test  # Debian's manual pages: the cross-lingual head's negatives
	$(VENV)/bin/pip install -q -e ".[server,minilm,train]"
	$(VENV)/bin/python -m training.name_lexicon
	$(VENV)/bin/python -m training.minilm_onnx
	$(VENV)/bin/python -m training.static_space
	$(VENV)/bin/python -m training.injection_head --backend static --write
	$(VENV)/bin/python -m training.injection_head --cross-lingual --write
	$(VENV)/bin/python -m training.injection_head --backend onnx --write
	$(VENV)/bin/python -m training.harm_head --backend static --write
	$(VENV)/bin/python -m training.harm_head --backend minilm --write
	$(VENV)/bin/llmwatch embedding check

# helm and the CRDs the chart's tests check it with (tests/test_helm.py; CI runs it first)
chart-tools:
	@bash scripts/chart_tools.sh

clean:
	rm -rf .llmwatch .pytest_cache reports test-artifacts
