# The two commands of the README, and their set-up.
.PHONY: setup demo test lint bench train clean

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
	$(VENV)/bin/python bench/pipeline_throughput.py
	$(VENV)/bin/python bench/drift_eval.py
	$(VENV)/bin/python bench/quality_eval.py
	$(VENV)/bin/python bench/flood.py
	$(VENV)/bin/python bench/redaction_eval.py

# Rebuild the shipped artifacts from their pinned sources (each writes a provenance file).
train: setup
	$(VENV)/bin/pip install -q -e ".[train]"
	$(VENV)/bin/python -m training.name_lexicon
	$(VENV)/bin/python -m training.minilm_onnx

clean:
	rm -rf .llmwatch .pytest_cache reports test-artifacts
