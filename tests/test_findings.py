"""The notebook's sentences are computed from each run's tables, and say true things on any file.

Two kinds of test: the wording rules of :mod:`segmentation.presentation.findings` on tiny
tables worked out by hand, and the notebook executed on two inputs (the
bundled real year and the synthetic sample), whose every number in a computed
sentence must appear in a table or printout of the same run.
"""

from __future__ import annotations

import re

import nbformat
import pandas as pd
import pytest

from segmentation import columns as c
from segmentation import config
from segmentation.analysis import diagnostics
from segmentation.presentation import findings
from segmentation.presentation import present as p
from segmentation.presentation.notebook import execute_on_file

DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
NUMBER = re.compile(r"[−-]?£?\d[\d,]*(?:\.\d+)?%?")
CODE_SPAN = re.compile(r"`[^`]*`")
#: Method settings a sentence may state (thresholds, the scanned k), written as the sentences write them.
METHOD_NUMBERS = {
    "0", str(min(config.K_RANGE)), str(max(config.K_RANGE)),
    p.decimal(config.STABLE_JACCARD), p.share(config.SMALL_CLUSTER_SHARE).rstrip("%"), str(config.PSI_DRIFT),
}


def _normalise(number: str) -> str:
    return number.replace("−", "-").replace("£", "").replace(",", "").rstrip("%").lstrip("-") or number


def _numbers(text: str) -> tuple[set[str], set[str]]:
    """(dates, other numbers) in ``text``, numbers normalised (no £, %, sign or separators)."""
    dates = set(DATE.findall(text))
    rest = DATE.sub(" ", text)
    return dates, {_normalise(n) for n in NUMBER.findall(rest)}


def _outputs(notebook: nbformat.NotebookNode) -> tuple[str, str]:
    """(computed sentences, every table and printout) of an executed notebook, as text."""
    sentences, tables = [], []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/markdown" in data:
                sentences.append(data["text/markdown"])
            elif "text/html" in data:
                tables.append(re.sub(r"<[^>]+>", " ", data["text/html"]))
            elif output.get("output_type") == "stream":
                tables.append(output["text"])
    return "\n".join(sentences), "\n".join(tables)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[str, str]]:
    """The notebook executed on the real year and on the sample: name -> (sentences, tables)."""
    executed = {}
    for name, path in {"real": config.REAL_DATA_PATH, "sample": config.SAMPLE_PATH}.items():
        notebook = execute_on_file(path, out_dir=tmp_path_factory.mktemp(name))
        executed[name] = _outputs(nbformat.read(notebook, as_version=4))
    return executed


@pytest.mark.parametrize("name", ["real", "sample"])
def test_every_number_in_the_findings_appears_in_the_same_runs_tables(runs, name):
    sentences, tables = runs[name]
    assert sentences.count("\n") > 10, "the notebook shows computed findings"
    table_dates, table_numbers = _numbers(tables)
    sentence_dates, sentence_numbers = _numbers(CODE_SPAN.sub(" ", sentences))
    assert sentence_dates <= table_dates
    assert sentence_numbers - table_numbers - METHOD_NUMBERS == set()


@pytest.mark.parametrize(("name", "other"), [("real", "sample"), ("sample", "real")])
def test_findings_hold_nothing_about_the_other_input(runs, name, other):
    sentences, tables = runs[name]
    other_sentences, other_tables = runs[other]
    names = {"real": config.REAL_DATA_PATH.name, "sample": config.SAMPLE_PATH.name}
    assert names[name] in sentences and names[other] not in sentences
    _, own = _numbers(tables)
    _, theirs = _numbers(other_tables)
    only_theirs = {n for n in theirs - own if len(n.replace(".", "")) >= 3}
    _, said = _numbers(CODE_SPAN.sub(" ", sentences))
    assert said & only_theirs == set()
    assert sentences != other_sentences


def test_real_run_names_the_seed_methods_outlier_clusters(runs):
    sentences, _ = runs["real"]
    assert ("The method isolates very large customers in **Mid spend** (27 customers) and **High spend** "
            "(3 customers)") in sentences
    assert "Low spend: 4,255 customers" in sentences


# --- wording rules on tables worked out by hand ------------------------------------

def _clusters(sizes: list[int], spend_shares: list[float]) -> pd.DataFrame:
    total = sum(sizes)
    return pd.DataFrame(
        {
            c.SEGMENT: ["Low spend", "Mid spend", "High spend"][: len(sizes)],
            c.CUSTOMERS: sizes,
            c.SHARE_OF_CUSTOMERS: [n / total for n in sizes],
            "share_of_spend": spend_shares,
            "min_" + c.TOTAL_BILL_SIZE: [1.0, 500.0, 5000.0][: len(sizes)],
            "max_" + c.TOTAL_BILL_SIZE: [499.0, 4999.0, 90000.0][: len(sizes)],
        },
        index=pd.RangeIndex(len(sizes), name=c.CLUSTER),
    )


def test_outlier_wording_only_when_a_cluster_is_under_one_percent():
    # 990 / 8 / 2 customers: 0.8% and 0.2% are small -> "isolates 10 very large customers"
    split = findings.describe_seed_clusters(_clusters([990, 8, 2], [0.6, 0.2, 0.2]), not_clustered=0)
    assert "isolates very large customers in **Mid spend** (8 customers) and **High spend** (2 customers)" in split
    # 500 / 300 / 200: no cluster under 1% -> spend bands, no outlier claim
    bands = findings.describe_seed_clusters(_clusters([500, 300, 200], [0.2, 0.3, 0.5]), not_clustered=1)
    assert "isolates" not in bands and "spend bands" in bands
    assert "1 customer returned everything they bought" in bands


def test_flat_silhouette_is_called_flat_and_a_clear_one_names_its_best_k():
    flat = pd.DataFrame({c.INERTIA: [9.0, 5.0, 3.0], c.SILHOUETTE: [0.52, 0.55, 0.53]},
                        index=pd.Index([2, 3, 4], name=c.K))
    clear = pd.DataFrame({c.INERTIA: [9.0, 5.0, 3.0], c.SILHOUETTE: [0.30, 0.45, 0.31]},
                         index=pd.Index([2, 3, 4], name=c.K))
    scans = {"a": flat, "b": clear}
    text = findings.describe_k_choice(scans, diagnostics.summarise_scans(scans), chosen="b", k=3, choice=None)
    assert "a: flat (0.520 to 0.550)" in text
    assert "b: highest at k = 3 (0.450)" in text
    assert "k = 3, set by hand" in text


def test_heavy_tail_wording_follows_mean_over_median():
    def spread(mean: float, median: float) -> pd.DataFrame:
        row = {c.CUSTOMERS: 10, "mean": mean, "25th percentile": 1.0, "median": median,
               "75th percentile": 2.0 * median, "largest": 10.0 * mean}
        return pd.DataFrame([row], index=pd.Index([c.TOTAL_BILL_SIZE], name="feature"))

    assert "heavy-tailed" in findings.describe_customers(spread(mean=300.0, median=100.0))
    assert "not strongly skewed" in findings.describe_customers(spread(mean=110.0, median=100.0))


def test_stability_claims_only_segments_whose_jaccard_says_so():
    summary = pd.DataFrame({"comparisons": [45, 10], "min": [0.9, 0.8], "median": [0.95, 0.9],
                            "mean": [0.95, 0.88]}, index=["seeds (every pair)", "bootstrap resamples"])
    segments = pd.DataFrame({c.SEGMENT: ["Lost", "Champions"], c.MEAN_JACCARD: [0.9, 0.6],
                             c.STABLE: [True, False]})
    text = findings.describe_stability(summary, segments)
    assert "Not stable (mean Jaccard below 0.750): Champions (0.600)" in text
    assert "Stable: Lost (0.900)" in text
    everyone = findings.describe_stability(summary, segments.assign(**{c.STABLE: True}))
    assert "Every segment is stable" in everyone and "least stable is Champions (0.600)" in everyone


def test_cleaning_sentence_lists_rules_largest_first_and_names_idle_ones():
    ledger = pd.DataFrame({c.LEDGER_ROWS: [100, 20, 5, 0, 75], c.LEDGER_AMOUNT: [500.0, 90.0, 10.0, 0.0, 400.0]},
                          index=["input", "duplicate", "missing_customer", "zero_quantity", "kept"])
    text = findings.describe_cleaning(findings.cleaning_table(ledger))
    assert text.startswith("75 of 100 lines (75.0%) are kept")
    assert text.index("`duplicate` 20 lines (20.0%, £90)") < text.index("`missing_customer` 5 lines")
    assert "No line met `zero_quantity`." in text


def test_segments_are_listed_by_share_of_revenue():
    profile = pd.DataFrame({
        c.SEGMENT: ["Lost", "Champions"], c.CUSTOMERS: [30, 1], c.SHARE_OF_CUSTOMERS: [30 / 31, 1 / 31],
        c.SHARE_OF_REVENUE: [0.2, 0.8], c.MEDIAN_PREFIX + c.RECENCY_DAYS: [200.0, 3.0],
        c.MEDIAN_PREFIX + c.FREQUENCY: [1.0, 12.5], c.MEDIAN_PREFIX + c.TOTAL_BILL_SIZE: [40.0, 9000.0],
    })
    first, second = findings.describe_segments(profile).splitlines()
    assert first.startswith("- **Champions**: 1 customer (3.2%) brings 80.0% of revenue")
    assert "made 12.5 purchases and spent £9,000" in first
    assert "made 1 purchase and" in second
