# Segment retail customers from invoice lines. `make help` lists the targets.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.test-installed
DEFAULT_DATA := data/online_retail_II_2009_2010.parquet
NOTEBOOK := notebooks/Project_on_clustering_customer_invoice_data.ipynb
# DATA=path/to/file runs on your own file instead of the bundled 2009-2010 data. Its value is taken
# literally and reaches the commands through the environment ("$$DATA"), so names with spaces, quotes
# or $ work as typed.
DATA ?=
override DATA := $(value DATA)
export DATA

.DEFAULT_GOAL := help
.PHONY: help setup run report check-report test bench data sample clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

setup: $(STAMP) ## create .venv with the pinned packages and the project (editable)

# the forecast's oracles (pymc-marketing, lifetimes' CDNOW data), for the tests only
$(TEST_STAMP): requirements-test.txt $(STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $(TEST_STAMP)

ifeq ($(strip $(DATA)),)
run: $(STAMP) ## run the notebook on the bundled real data (or DATA=file: copy, tables, figures in data/processed/<name>/)
	@# The command line (data/processed/) and the notebook (notebooks/, figures/) share no file: they run
	@# side by side, the command line's report printed after; either failing fails the target.
	@log=$$(mktemp) && echo "$(BIN)/python -m segmentation $(DEFAULT_DATA) & $(BIN)/python -m segmentation.notebook" && \
	{ $(BIN)/python -m segmentation $(DEFAULT_DATA) > "$$log" 2>&1 & cli=$$!; } && \
	{ $(BIN)/python -m segmentation.notebook; notebook=$$?; } ; \
	wait $$cli; cli=$$?; cat "$$log"; rm -f "$$log"; test $$cli -eq 0 && test $$notebook -eq 0
	$(BIN)/python -m segmentation.readme

report: $(STAMP) ## render the executed notebook as one HTML page under data/processed/
	$(BIN)/python -m segmentation.notebook --no-execute --report
else
run: $(STAMP)
	$(BIN)/python -m segmentation "$$DATA"
	$(BIN)/python -m segmentation.notebook --data "$$DATA"

report: $(STAMP)
	$(BIN)/python -m segmentation.notebook --data "$$DATA" --no-execute --report
endif

REPORT_SCREENSHOT := data/processed/report/screenshot.png

check-report: $(STAMP) ## render the report and check it in headless Chromium at 1280 px (needs /usr/bin/chromium)
	$(BIN)/python -m segmentation.notebook --no-execute --report
	SEGMENTATION_REPORT_SCREENSHOT=$(REPORT_SCREENSHOT) $(BIN)/python -m pytest tests/test_report.py
	@echo "screenshot: $(REPORT_SCREENSHOT)"

test: $(TEST_STAMP) ## lint (ruff check), then run every test, the notebook (nbval) included
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

bench: $(TEST_STAMP) ## benchmark against the naive idiom, DuckDB, Polars, pymc-marketing, lifetimes; targets met/missed (BENCH_ARGS="--sizes 1M")
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	$(BIN)/python -m benchmarks.bench $(BENCH_ARGS)

data: $(STAMP) ## download the real UCI Online Retail workbook into data/raw/
	$(BIN)/python -m segmentation.download

sample: $(STAMP) ## regenerate data/sample_invoices.csv from its seed
	$(BIN)/python -m segmentation.synthetic

clean: ## remove .venv, caches and data/processed/
	rm -rf $(VENV) .pytest_cache .hypothesis data/processed
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
