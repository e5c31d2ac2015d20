# Segment retail customers from invoice lines. `make help` lists the targets.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.test-installed
NOTEBOOK := notebooks/Project_on_clustering_customer_invoice_data.ipynb
# DATA=path/to/file runs on your own file instead of the bundled 2009-2010 data. Its value is taken
# literally and reaches the commands through the environment ("$$DATA"), so names with spaces, quotes
# or $ work as typed.
DATA ?=
override DATA := $(value DATA)
export DATA

.DEFAULT_GOAL := help
.PHONY: help setup lab run report check-report test bench data sample clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt pyproject.toml
	@echo "setting up .venv with the packages the analysis needs (first run only)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -r requirements.txt
	touch $(STAMP)

setup: $(STAMP) ## create .venv with the pinned packages and the project (editable)

LAB_STAMP := $(VENV)/.lab-installed
$(LAB_STAMP): requirements-lab.txt $(STAMP)
	$(BIN)/python -m pip install --progress-bar on -r requirements-lab.txt
	touch $(LAB_STAMP)

lab: $(LAB_STAMP) ## open the notebook in JupyterLab (installs JupyterLab into .venv on first use)
	$(BIN)/jupyter lab $(NOTEBOOK)

# the test runner, lint, the Dask and Spark engines and the forecast's oracles: for `make test` and `make bench` only
$(TEST_STAMP): requirements-test.txt requirements-dask.txt requirements-spark.txt requirements-bayes.txt $(STAMP)
	@echo "adding the test, lint, Dask and Spark packages to .venv (first test run only)"
	$(BIN)/python -m pip install --progress-bar on -r requirements-test.txt
	touch $(TEST_STAMP)

ifeq ($(strip $(DATA)),)
run: $(STAMP) ## run the analysis on the bundled real data: command line and notebook (or DATA=file)
	@# The two share no file: they run at the same time, the notebook's progress shown after the command line's.
	$(BIN)/python -m segmentation.presentation.side_by_side
	$(BIN)/python -m segmentation.presentation.readme

report: $(STAMP) ## render the executed notebook as one HTML page under data/processed/
	$(BIN)/python -m segmentation.presentation.notebook --no-execute --report
else
run: $(STAMP)
	@echo "[1/2] command line: tables into data/processed/, as it goes"
	$(BIN)/python -m segmentation "$$DATA"
	@echo "[2/2] notebook: each section as it runs"
	$(BIN)/python -m segmentation.presentation.notebook --progress --data "$$DATA"

report: $(STAMP)
	$(BIN)/python -m segmentation.presentation.notebook --data "$$DATA" --no-execute --report
endif

REPORT_SCREENSHOT := data/processed/report/screenshot.png

check-report: $(TEST_STAMP) ## render the report and check it in headless Chromium at 1280 px (needs /usr/bin/chromium)
	$(BIN)/python -m segmentation.presentation.notebook --no-execute --report
	SEGMENTATION_REPORT_SCREENSHOT=$(REPORT_SCREENSHOT) $(BIN)/python -m pytest tests/test_report.py
	@echo "screenshot: $(REPORT_SCREENSHOT)"

test: $(TEST_STAMP) ## lint (ruff check), then run every test, the notebook (nbval) included
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

bench: $(TEST_STAMP) ## benchmark against the naive idiom, DuckDB, Polars, pymc-marketing, lifetimes; targets met/missed (BENCH_ARGS="--sizes 1M")
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	$(BIN)/python -m benchmarks.bench $(BENCH_ARGS)

data: $(STAMP) ## download the real UCI Online Retail workbook into data/raw/
	$(BIN)/python -m segmentation.reading.download

sample: $(STAMP) ## regenerate data/sample_invoices.csv from its seed
	$(BIN)/python -m segmentation.reading.synthetic

clean: ## remove .venv, caches and data/processed/
	rm -rf $(VENV) .pytest_cache .hypothesis data/processed
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
