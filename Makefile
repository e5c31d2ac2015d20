# Segment retail customers from invoice lines. `make help` lists the targets.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= data/sample_invoices.csv

.DEFAULT_GOAL := help
.PHONY: help setup run test data sample clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP) ## create .venv with the pinned packages and the project (editable)

run: $(STAMP) ## segment the bundled sample (or DATA=path/to/file) into data/processed/<name>/
	$(BIN)/python -m segmentation $(DATA)

test: $(STAMP) ## run every test
	$(BIN)/python -m pytest

data: $(STAMP) ## download the real UCI Online Retail workbook into data/raw/
	$(BIN)/python -m segmentation.download

sample: $(STAMP) ## regenerate data/sample_invoices.csv from its seed
	$(BIN)/python -m segmentation.synthetic

clean: ## remove .venv, caches and data/processed/
	rm -rf $(VENV) .pytest_cache .hypothesis data/processed
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
