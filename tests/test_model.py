"""A saved segmentation (model.json) scores new files without refitting: frozen means frozen,
migration adds up, drift is measured, and bad models are refused in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation import columns as c
from segmentation import config
from segmentation.__main__ import main
from segmentation.analysis import model, pipeline, rfm
from segmentation.engines.runners import DuckDBEngine

SAMPLE = config.SAMPLE_PATH


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


def _segments(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "customer_segments.csv", index_col=c.CUSTOMER_ID)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> Path:
    """The sample fitted by the command line: its run folder, model.json inside."""
    out = tmp_path_factory.mktemp("fitted") / "run"
    assert main([str(SAMPLE), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def first_half(tmp_path_factory) -> tuple[Path, Path]:
    """(the sample's lines before its halfway day, as a file; the run fitted on them)."""
    folder = tmp_path_factory.mktemp("half")
    lines = pd.read_csv(SAMPLE)
    dates = pd.to_datetime(lines[c.INVOICE_DATE])
    halfway = pipeline.halfway_date(pd.DataFrame({c.INVOICE_DATE: dates}))
    path = folder / "first_half.csv"
    lines[dates < halfway].to_csv(path, index=False)
    out = folder / "run"
    assert main([str(path), "--out", str(out)]) == 0
    return path, out


# --- frozen cut points, worked out by hand ------------------------------------------------------

def test_thresholds_are_the_least_value_of_each_score_and_reproduce_it():
    # Frequency 1, 1, 2, 3, 5: w = 0, 0, 2, 3, 4 strictly worse of n = 5, so F = 1 + w = 1, 1, 3, 4, 5;
    # the least Frequency with F >= 2 is 2, with F >= 3 also 2, with F >= 4 it is 3, with F = 5 it is 5
    customers = pd.DataFrame({c.RECENCY_DAYS: [50, 40, 30, 20, 10], c.FREQUENCY: [1, 1, 2, 3, 5],
                              c.TOTAL_BILL_SIZE: [10.0, 20.0, 30.0, 40.0, 50.0]},
                             index=pd.Index([1, 2, 3, 4, 5], dtype="Int64", name=c.CUSTOMER_ID))
    thresholds = rfm.score_thresholds(customers)
    assert thresholds[c.FREQUENCY] == [2.0, 2.0, 3.0, 5.0]
    assert thresholds[c.RECENCY_DAYS] == [40.0, 30.0, 20.0, 10.0]  # smaller is better: the greatest recency
    pd.testing.assert_frame_equal(rfm.score_with_thresholds(customers, thresholds), rfm.score_customers(customers))
    # a new customer with Frequency 4 reaches 2, 2 and 3 but not 5: F = 4; recency 35 reaches only 40: R = 2
    new = customers.iloc[:1].assign(**{c.FREQUENCY: 4, c.RECENCY_DAYS: 35})
    scores = rfm.score_with_thresholds(new, thresholds)
    assert scores[c.F_SCORE].iloc[0] == 4 and scores[c.R_SCORE].iloc[0] == 2


def test_equal_values_leave_the_higher_scores_unreachable():
    customers = pd.DataFrame({c.RECENCY_DAYS: [5, 5], c.FREQUENCY: [2, 2], c.TOTAL_BILL_SIZE: [9.0, 9.0]},
                             index=pd.Index([1, 2], dtype="Int64", name=c.CUSTOMER_ID))
    thresholds = rfm.score_thresholds(customers)
    assert thresholds[c.FREQUENCY] == [None, None, None, None]
    assert (rfm.score_with_thresholds(customers, thresholds)[c.RFM_SCORE] == 3).all()


@pytest.mark.real_data
@pytest.mark.parametrize("path", [SAMPLE, config.REAL_DATA_PATH], ids=["sample", "real"])
def test_thresholds_and_nearest_centroids_reproduce_the_fitted_run_exactly(path):
    run = pipeline.segment_file(path, rfm_k=4, predict=False)
    saved = model.freeze(run)
    pd.testing.assert_frame_equal(rfm.score_with_thresholds(run.customers, saved.thresholds),
                                  rfm.score_customers(run.customers))
    for frozen, fitted in ((saved.rfm, run.segments.rfm), (saved.spend_clusters, run.segments.spend)):
        assigned = frozen.assign(run.customers)
        pd.testing.assert_series_equal(assigned.labels, fitted.labels)
        pd.testing.assert_series_equal(assigned.segments, fitted.segments)


# --- model.json ------------------------------------------------------------------------------

def test_model_json_is_plain_sorted_json_without_nan_and_the_same_for_the_same_run(fitted, tmp_path):
    text = (fitted / model.MODEL_FILE).read_text(encoding="utf-8")
    document = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in model.json"))
    assert model.model_text(document) == text  # sorted keys, stable layout
    assert document["schema_version"] == config.MODEL_SCHEMA_VERSION
    assert document["rules_version"] == config.RULES_VERSION
    assert document["data"]["input_sha256"] and "finished_at" not in text
    assert {"rfm_thresholds", "segment_map", "kmeans_rfm", "spend_clusters", "forecast", "drift"} <= set(document)
    assert "purchases" in document["forecast"]
    again = tmp_path / "again"
    assert main([str(SAMPLE), "--out", str(again)]) == 0
    assert (again / model.MODEL_FILE).read_bytes() == text.encode("utf-8")


def test_a_model_read_back_holds_what_was_fitted(fitted):
    saved = model.read_model(fitted / model.MODEL_FILE)
    assert saved.segment_map == rfm.load_segment_map()
    assert saved.purchases is not None and saved.spend_model is not None
    assert saved.folder == fitted


# --- scoring --------------------------------------------------------------------------------

def test_scoring_the_fitted_file_with_its_own_model_gives_the_fitted_segments(fitted, tmp_path):
    out = tmp_path / "scored"
    assert main(["score", str(SAMPLE), "--model", str(fitted / model.MODEL_FILE), "--out", str(out)]) == 0
    assert (out / "customer_segments.csv").read_bytes() == (fitted / "customer_segments.csv").read_bytes()
    record = json.loads((out / "run.json").read_text())
    assert record["model"] == str(fitted / model.MODEL_FILE)
    assert record["model_sha256"] == model.input_sha256(fitted / model.MODEL_FILE)
    assert set(record["drift"]["psi"].values()) == {0.0} and not record["drift"]["refit_advised"]
    migration = pd.read_csv(out / "migration.csv", index_col=0)
    assert migration.drop(index=model.NEW_CUSTOMERS, columns=model.NOT_SEEN).to_numpy().trace() == len(
        _segments(fitted))
    assert pd.read_csv(out / "movers.csv").empty and (out / "migration.png").is_file()


def test_doubled_prices_move_customers_up_in_m_where_a_refit_would_not(fitted, tmp_path):
    lines = pd.read_csv(SAMPLE)
    doubled = tmp_path / "doubled.csv"
    lines.assign(**{c.UNIT_PRICE: lines[c.UNIT_PRICE] * 2}).to_csv(doubled, index=False)
    assert main(["score", str(doubled), "--model", str(fitted / model.MODEL_FILE), "--out", str(tmp_path / "s")]) == 0
    before, scored = _segments(fitted), _segments(tmp_path / "s")
    both = before.dropna(subset=[c.M_SCORE]).index
    assert (scored.loc[both, c.M_SCORE] >= before.loc[both, c.M_SCORE]).all()
    assert (scored.loc[both, c.M_SCORE] > before.loc[both, c.M_SCORE]).sum() > len(both) / 10
    assert main([str(doubled), "--out", str(tmp_path / "refit")]) == 0
    refit = _segments(tmp_path / "refit")
    pd.testing.assert_series_equal(refit.loc[both, c.M_SCORE], before.loc[both, c.M_SCORE])


def test_a_map_edited_in_model_json_renames_the_segments(fitted, tmp_path):
    folder = tmp_path / "edited"
    shutil.copytree(fitted, folder)
    document = json.loads((folder / model.MODEL_FILE).read_text())
    for entry in document["segment_map"]["segment"]:
        entry["name"] = entry["name"].replace("Champions", "Stars")
    (folder / model.MODEL_FILE).write_text(model.model_text(document))
    assert main(["score", str(SAMPLE), "--model", str(folder / model.MODEL_FILE), "--out", str(tmp_path / "s")]) == 0
    before, scored = _segments(fitted), _segments(tmp_path / "s")
    champions = before.index[before[c.RFM_SEGMENT] == "Champions"]
    assert len(champions) and (scored.loc[champions, c.RFM_SEGMENT] == "Stars").all()
    assert "Champions" not in set(scored[c.RFM_SEGMENT])


def test_migration_is_the_cross_tabulation_of_the_two_runs_and_adds_up(first_half, tmp_path):
    _, half_run = first_half
    out = tmp_path / "scored"
    assert main(["score", str(SAMPLE), "--model", str(half_run / model.MODEL_FILE), "--out", str(out)]) == 0
    before, after = _segments(half_run), _segments(out)
    migration = pd.read_csv(out / "migration.csv", index_col=0)
    customers = before.index.union(after.index)
    rows = before[c.RFM_SEGMENT].reindex(customers).where(customers.isin(before.index), model.NEW_CUSTOMERS)
    columns = after[c.RFM_SEGMENT].reindex(customers).where(customers.isin(after.index), model.NOT_SEEN)
    expected = pd.crosstab(rows.fillna(model.NO_SEGMENT), columns.fillna(model.NO_SEGMENT))
    found = migration.loc[expected.index, expected.columns]
    assert (found.to_numpy() == expected.to_numpy()).all()
    assert migration.to_numpy().sum() == len(customers)
    assert migration.loc[model.NEW_CUSTOMERS].sum() == len(after.index.difference(before.index)) > 0
    movers = pd.read_csv(out / "movers.csv", index_col=c.CUSTOMER_ID)
    both = before.index.intersection(after.index)
    changed = both[(before.loc[both, c.RFM_SEGMENT].fillna(model.NO_SEGMENT)
                    != after.loc[both, c.RFM_SEGMENT].fillna(model.NO_SEGMENT)).to_numpy()]
    assert set(movers.index) == set(changed) and len(changed)
    assert list(movers.columns) == list(c.MOVER_COLUMNS)
    assert movers[c.SPEND_BEFORE].is_monotonic_decreasing


def test_migration_summary_counts_a_customer_without_a_segment_in_both_runs_apart_worked_by_hand():
    # customers 1, 2: Champions then Champions (kept); 3: Champions then Lost (changed); 4: no segment
    # then no segment (neither); 5: no segment then Lost (changed); 6: new; 7: not seen now
    def table(segments: dict[int, str | None]) -> pd.DataFrame:
        index = pd.Index(list(segments), dtype="Int64", name=c.CUSTOMER_ID)
        return pd.DataFrame({c.RFM_SEGMENT: pd.array(list(segments.values()), dtype="string")}, index=index)

    before = table({1: "Champions", 2: "Champions", 3: "Champions", 4: None, 5: None, 7: "Lost"})
    after = table({1: "Champions", 2: "Champions", 3: "Lost", 4: None, 5: "Lost", 6: "Lost"})
    migration = model.migration_table(before, after, names=("Champions", "Lost"))
    summary = model.migration_summary(migration)[c.CUSTOMERS].to_dict()
    assert summary == {model.IN_BOTH: 5, model.KEPT: 2, model.CHANGED: 2, model.NO_SEGMENT_IN_BOTH: 1,
                       model.NEW_CUSTOMERS: 1, model.NOT_SEEN: 1}
    assert summary[model.CHANGED] == len(model.movers_table(before.assign(**{c.TOTAL_BILL_SIZE: 1.0}),
                                                            after.assign(**{c.TOTAL_BILL_SIZE: 1.0})))


def test_without_the_models_customer_segments_migration_is_skipped_in_one_line(fitted, tmp_path, capsys):
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(fitted / model.MODEL_FILE, alone / model.MODEL_FILE)
    capsys.readouterr()
    assert main(["score", str(SAMPLE), "--model", str(alone / model.MODEL_FILE), "--out", str(tmp_path / "s")]) == 0
    assert "no migration" in _one_line_error(capsys)
    assert not (tmp_path / "s" / "migration.csv").exists()
    assert (tmp_path / "s" / "customer_segments.csv").is_file()


# --- drift ----------------------------------------------------------------------------------

def test_psi_is_zero_for_the_same_shares_and_positive_otherwise():
    assert model.psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0
    # (0.9 - 0.5) ln(0.9 / 0.5) + (0.1 - 0.5) ln(0.1 / 0.5) = 0.4 (ln 1.8 + ln 5)
    assert model.psi(np.array([0.5, 0.5]), np.array([0.9, 0.1])) == pytest.approx(0.4 * np.log(9.0))


def test_a_year_of_inactivity_drifts_recency_and_the_run_still_completes(fitted, tmp_path, capsys):
    saved = model.read_model(fitted / model.MODEL_FILE)
    later = saved.snapshot_date + pd.Timedelta(days=365)
    out = tmp_path / "later"
    capsys.readouterr()
    assert main(["score", str(SAMPLE), "--model", str(fitted / model.MODEL_FILE), "--out", str(out),
                 "--as-of", f"{later:%Y-%m-%d}"]) == 0
    warning = _one_line_error(capsys)
    assert "Recency_Days" in warning and "refitting is advised" in warning
    record = json.loads((out / "run.json").read_text())
    assert record["drift"]["psi"][c.RECENCY_DAYS] > config.PSI_DRIFT and record["drift"]["refit_advised"]
    assert c.RECENCY_DAYS in record["drift"]["drifted"]


def test_population_stability_of_a_table_against_its_own_bins_is_zero(fitted):
    saved = model.read_model(fitted / model.MODEL_FILE)
    customers = DuckDBEngine(progress=False).customer_table(SAMPLE).customers
    drift = model.population_stability(saved, customers)
    assert list(drift.index) == list(c.DRIFT_FEATURES) and (drift[c.PSI] == 0).all()


# --- refusals: one line, exit 2, nothing written ----------------------------------------------

def _refused(capsys, tmp_path: Path, model_path: Path, *, new: Path = SAMPLE, extra: tuple[str, ...] = ()) -> str:
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["score", str(new), "--model", str(model_path), "--out", str(out), *extra]) == 2
    assert not out.exists()
    return _one_line_error(capsys)


def _edited(fitted: Path, tmp_path: Path, change) -> Path:
    document = json.loads((fitted / model.MODEL_FILE).read_text())
    change(document)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(document))
    return path


def test_a_file_that_is_not_a_model_is_refused(fitted, tmp_path, capsys):
    assert "not a segmentation model" in _refused(capsys, tmp_path, fitted / "run.json")


def test_damaged_json_is_refused(fitted, tmp_path, capsys):
    damaged = tmp_path / "model.json"
    damaged.write_bytes((fitted / model.MODEL_FILE).read_bytes()[:500])
    assert "damaged" in _refused(capsys, tmp_path, damaged)


def test_a_model_missing_a_part_is_refused_as_damaged(fitted, tmp_path, capsys):
    path = _edited(fitted, tmp_path, lambda document: document.pop("kmeans_rfm"))
    assert "damaged" in _refused(capsys, tmp_path, path)


@pytest.mark.parametrize("key", ["schema_version", "rules_version"])
def test_a_model_of_another_version_is_refused(fitted, tmp_path, capsys, key):
    path = _edited(fitted, tmp_path, lambda document: document.update({key: 99}))
    assert key in _refused(capsys, tmp_path, path)


def test_a_missing_model_file_is_refused(tmp_path, capsys):
    assert "no such model file" in _refused(capsys, tmp_path, tmp_path / "nowhere.json")


def test_a_file_ending_before_the_models_snapshot_is_refused_unless_as_of_says_otherwise(
        fitted, first_half, tmp_path, capsys):
    half_file, _ = first_half
    line = _refused(capsys, tmp_path, fitted / model.MODEL_FILE, new=half_file)
    assert "before the model's snapshot" in line
    last = pd.to_datetime(pd.read_csv(half_file)[c.INVOICE_DATE]).max()
    as_of = f"{last.normalize() + pd.Timedelta(days=1):%Y-%m-%d}"
    assert main(["score", str(half_file), "--model", str(fitted / model.MODEL_FILE), "--out",
                 str(tmp_path / "as_of"), "--as-of", as_of]) == 0


def test_the_models_own_run_folder_is_refused_as_output(fitted, capsys):
    capsys.readouterr()
    assert main(["score", str(SAMPLE), "--model", str(fitted / model.MODEL_FILE), "--out", str(fitted)]) == 2
    assert "model's own run folder" in _one_line_error(capsys)
    assert (fitted / model.MODEL_FILE).is_file()


def test_score_is_a_command_of_its_own_and_the_fitted_command_is_unchanged(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["score", "--help"])
    assert exit_.value.code == 0
    assert "--model" in capsys.readouterr().out
