"""Every count of customers names one population and agrees wherever it is printed.

Tiny tables worked by hand for the counts and the too-little-data thresholds; then the bundled
year, where the README's findings, the committed notebook, the command line's summary and
``run.json`` must give the same numbers; the messy sample and a three-customer file check the same
through the command line and the findings.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from conftest import REAL_FILE, three_customer_file
from segmentation import columns as c
from segmentation import config
from segmentation.__main__ import main
from segmentation.analysis import populations
from segmentation.analysis.populations import BOTH, BOUGHT, NET_SPEND, OCCASION
from segmentation.presentation import findings, readme

#: The findings' Purchases bullet, as describe_purchases writes it.
PURCHASES = re.compile(r"Of the ([\d,]+) customers who bought something, ([\d,]+) have net spend .*?, "
                       r"([\d,]+) a purchase occasion .*? and ([\d,]+) both")
VALIDATED = re.compile(r"of the ([\d,]+) customers with net spend and a purchase occasion on that date bought again")
FORECAST_CHECKED = re.compile(r"\(([\d,]+) customers with a purchase occasion before that date\)")


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def counts_in_findings(text: str) -> dict[str, int]:
    found = PURCHASES.search(text)
    assert found, text
    return dict(zip((BOUGHT, NET_SPEND, OCCASION, BOTH), map(_number, found.groups()), strict=True))


def counts_in_summary(summary: str) -> dict[str, int]:
    counts = {}
    for name in (BOUGHT, NET_SPEND, OCCASION, BOTH):
        found = re.search(rf"^\s*{re.escape(name)}: ([\d,]+)", summary, flags=re.MULTILINE)
        assert found, (name, summary)
        counts[name] = _number(found.group(1))
    return counts


def _run(path, tmp_path, capsys, *extra) -> tuple[str, dict]:
    out = tmp_path / "out"
    assert main([str(path), "--out", str(out), *extra]) == 0
    summary = capsys.readouterr().out
    return summary, json.loads((out / "run.json").read_text())


def _customers(rows: list[tuple[float, int]]) -> pd.DataFrame:
    """Customers 1, 2, … with (Total_Bill_Size, Frequency); no occasion: no recency or interval."""
    index = pd.Index(range(1, len(rows) + 1), dtype="Int64", name=c.CUSTOMER_ID)
    spend, frequency = zip(*rows, strict=True)
    recency = [10.0 if f else None for f in frequency]
    return pd.DataFrame({c.TOTAL_BILL_SIZE: spend, c.FREQUENCY: frequency, c.RECENCY_DAYS: recency},
                        index=index).astype({c.RECENCY_DAYS: "Float64"})


def test_the_populations_of_a_table_worked_by_hand():
    # 1: spend and an occasion; 2: spend (postage alone), no occasion; 3: returned all, had an occasion;
    # 4: returned all, no occasion; 5: spend and two occasions
    customers = _customers([(10.0, 1), (5.0, 0), (0.0, 1), (0.0, 0), (20.0, 2)])
    counts = populations.count_populations(customers)
    assert counts.to_dict() == {BOUGHT: 5, NET_SPEND: 3, OCCASION: 3, BOTH: 2}
    table = populations.populations_table(counts)
    assert table[populations.NOT_IN_IT].tolist() == [0, 2, 2, 3]
    lines = populations.describe_populations(counts, return_only=4)
    assert lines[0] == "customers who bought something: 5; 4 more with return lines only are not in the table"
    assert lines[1].startswith("  with net spend: 3 (spend clusters, the seed method); 2 returned everything")
    assert lines[2].startswith("  with a purchase occasion: 3 (RFM segments and the forecast); 2 never had one")
    text = findings.describe_purchases(customers)
    assert counts_in_findings(text) == counts.to_dict()
    assert "2 returned everything they bought and 2 never had a purchase occasion" in text


def test_too_little_data_starts_below_the_stated_customers_per_cluster_or_quintile():
    need = config.MIN_CUSTOMERS_PER_CLUSTER
    enough = pd.Series({BOUGHT: 100, NET_SPEND: 3 * need, OCCASION: 5 * need, BOTH: 4 * need})
    assert populations.too_little_data(enough, k_spend=3, k_rfm=4) == []
    short = enough - 1
    warnings = populations.too_little_data(short, k_spend=3, k_rfm=4)
    assert len(warnings) == 3
    assert warnings[0].startswith(f"too little data for 3 spend clusters: {3 * need - 1} customers with net spend, "
                                  f"under {need} per cluster ({3 * need} needed)")
    assert "RFM scores (quintiles)" in warnings[1] and f"({5 * need} needed)" in warnings[1]
    assert "KMeans on RFM with k = 4" in warnings[2]
    assert populations.too_little_data(short, k_spend=2, k_rfm=None) == warnings[1:2]


def test_three_customers_complete_with_the_warning_in_the_summary_the_findings_and_run_json(tmp_path, capsys):
    summary, record = _run(three_customer_file(tmp_path), tmp_path, capsys)
    warnings = [line.removeprefix("warning: ") for line in summary.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 3 and all(w.startswith("too little data for") for w in warnings)
    assert record["warnings"] == warnings
    assert record["populations"] == counts_in_summary(summary) == {BOUGHT: 3, NET_SPEND: 3, OCCASION: 3, BOTH: 3}
    assert summary.count("too few to be a segment") == 3
    assert "the only k the customers allow" in summary and "2 … 2" not in summary


def test_the_messy_sample_counts_agree_in_the_summary_run_json_and_the_findings(tmp_path, capsys):
    from segmentation import segment_file

    summary, record = _run(config.SAMPLE_PATH, tmp_path, capsys)
    counts = counts_in_summary(summary)
    assert record["populations"] == counts
    run = segment_file(config.SAMPLE_PATH)
    assert counts_in_findings(findings.describe_purchases(run.customers)) == counts
    assert counts[BOUGHT] == len(run.customers)
    assert counts[NET_SPEND] == int(run.clusters[c.CUSTOMERS].sum())
    assert counts[OCCASION] == int(run.segments.rule.notna().sum())
    assert counts[BOTH] == int(run.segments.rfm.labels.notna().sum())
    assert record["warnings"] == []


@pytest.mark.real_data
def test_the_bundled_year_counts_agree_in_the_readme_the_notebook_and_the_command_line(tmp_path, capsys):
    summary, record = _run(REAL_FILE, tmp_path, capsys)
    counts = counts_in_summary(summary)
    assert record["populations"] == counts
    assert counts_in_findings(readme.readme_findings()) == counts
    assert counts_in_findings(readme.notebook_findings()) == counts
    assert counts[OCCASION] == _number(re.search(r"forecast for the next \d+ days, ([\d,]+) customers",
                                                 summary).group(1))
    # the checks against what customers did next count the populations of the table as of their date
    as_of = re.search(r"lines before (\d{4}-\d\d-\d\d)", readme.readme_findings()).group(1)
    checked, checked_record = _run(REAL_FILE, tmp_path / "as_of", capsys, "--as-of", as_of)
    before = checked_record["populations"]
    assert _number(VALIDATED.search(readme.readme_findings()).group(1)) == before[BOTH]
    assert _number(FORECAST_CHECKED.search(readme.readme_findings()).group(1)) == before[OCCASION]
    assert before[BOTH] < before[OCCASION] < counts[OCCASION]
