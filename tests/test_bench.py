"""The benchmark harness (benchmarks/bench.py): its quick mode runs, its exact check catches one
cent, a run that differs gets no time, and the targets are judged met or missed."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from segmentation import columns as c
from segmentation.engines.runners import DuckDBEngine

pytest.importorskip("duckdb")
pytest.importorskip("polars")
pytest.importorskip("tabulate")

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """``benchmarks.bench``, imported from this checkout."""
    sys.path.insert(0, str(REPOSITORY))
    try:
        return importlib.import_module("benchmarks.bench")
    finally:
        sys.path.remove(str(REPOSITORY))


@pytest.fixture(scope="module")
def quick_run(bench: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    """The harness in quick mode: exit status, printed report and its folder."""
    out = tmp_path_factory.mktemp("bench")
    status = bench.main(["--quick", "--bench-dir", str(out)])
    return status, (out / "results.md").read_text(encoding="utf-8"), out


def test_quick_mode_checks_every_engine_equal_and_reports_the_targets(quick_run: tuple[int, str, Path]) -> None:
    status, report, out = quick_run
    assert status == 0
    rows = pd.read_csv(out / "results.csv")
    parquet, csv = "synthetic sample", "synthetic sample CSV"
    assert sorted(zip(rows["input"], rows["stage"], rows["engine"], strict=True)) == [
        (parquet, "features", "DuckDB"), (parquet, "features", "Polars"), (parquet, "features", "segmentation"),
        (parquet, "pipeline", "DuckDB"), (parquet, "pipeline", "Polars"), (parquet, "pipeline", "segmentation"),
        (csv, "pipeline", "DuckDB"), (csv, "pipeline", "Polars"), (csv, "pipeline", "segmentation"),
    ]
    assert (rows["equal"] == "yes").all() and (rows["runs"] == 1).all() and rows["median s"].notna().all()
    assert "Targets:" in report and "not measured" in report


def test_the_csv_copy_holds_the_same_lines_and_gives_the_same_customers(quick_run: tuple[int, str, Path]) -> None:
    out = quick_run[2]
    parquet = pd.read_parquet(out / "sample_invoices.parquet")
    text = pd.read_csv(out / "sample_invoices.csv", dtype=str, keep_default_na=False)
    assert list(text.columns) == list(parquet.columns) and len(text) == len(parquet) > 0
    engine = DuckDBEngine()
    pd.testing.assert_frame_equal(engine.customer_table(out / "sample_invoices.csv").customers,
                                  engine.customer_table(out / "sample_invoices.parquet").customers, check_exact=True)


def test_one_cent_changed_fails_the_exact_check(bench: ModuleType, quick_run: tuple[int, str, Path]) -> None:
    table = DuckDBEngine().customer_table(quick_run[2] / "sample_invoices.parquet").customers
    bench.check_equal(table.copy(), table)
    changed = table.copy()
    changed.iloc[0, changed.columns.get_loc(c.TOTAL_BILL_SIZE)] += 0.01
    with pytest.raises(AssertionError):
        bench.check_equal(changed, table)


def test_a_run_that_differs_gets_no_time(bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = pd.DataFrame({c.TOTAL_BILL_SIZE: [10.0, 20.0]}, index=pd.Index([1, 2], dtype="Int64"))

    def fake_worker(stage: str, engine, source: Path, result_path: Path):
        table = reference.copy()
        if engine.name == "DuckDB":
            table.iloc[1, 0] = 20.01
        table.to_pickle(result_path)
        return bench.RunStats(seconds=1.0, cpu_seconds=1.0, peak_mb=100.0, start_mb=50.0, threads=1)

    monkeypatch.setattr(bench, "_run_worker", fake_worker)
    item = bench.Input("synthetic tiny", tmp_path / "x.parquet", 2, 2, 2, 0.0)
    rows = [bench.Row(item.name, 2, "pipeline", engine) for engine in (bench.Engine("segmentation"),
                                                                        bench.Engine("DuckDB", 2))]
    bench._measure_stage(item, "pipeline", rows, 2, tmp_path)
    assert rows[0].median_s == 1.0 and rows[0].problem is None
    assert rows[1].median_s is None and rows[1].problem.startswith("differs")
    assert rows[1].record()["median s"] is None


def _row(bench: ModuleType, name: str, lines: int, stage: str, engine, seconds: float, peak_mb: float):
    row = bench.Row(name, lines, stage, engine)
    row.runs.append(bench.RunStats(seconds=seconds, cpu_seconds=seconds, peak_mb=peak_mb, start_mb=100.0, threads=1))
    return row


def test_the_targets_are_judged_met_or_missed_on_the_numbers(bench: ModuleType, tmp_path: Path) -> None:
    Engine = bench.Engine
    result = bench.Result(inputs=[
        bench.Input("real 2009-2010", tmp_path / "r.parquet", 500_000, 4_000, 100_000, 45.0, real=True),
        bench.Input("synthetic 20M", tmp_path / "s.parquet", 20_000_000, 1, 1, 1.0),
        bench.Input("synthetic 20M CSV", tmp_path / "s.csv", 20_000_000, 1, 1, 2.0),
    ])
    result.rows = [
        _row(bench, "synthetic 20M", 20_000_000, "pipeline", Engine("segmentation"), 9.0, 900.0),
        _row(bench, "synthetic 20M", 20_000_000, "pipeline", Engine("DuckDB", 2), 8.0, 2_000.0),
        _row(bench, "synthetic 20M CSV", 20_000_000, "pipeline", Engine("segmentation"), 10.0, 1_500.0),
        _row(bench, "synthetic 20M CSV", 20_000_000, "pipeline", Engine("DuckDB", 2), 12.0, 2_000.0),
        _row(bench, "real 2009-2010", 500_000, "features", Engine("segmentation"), 0.15, 300.0),
        _row(bench, "real 2009-2010", 500_000, "features", Engine("Polars"), 0.10, 300.0),
        _row(bench, "real 2009-2010", 500_000, "features", Engine("naive"), 6.0, 300.0),
    ]
    verdicts = [target.met for target in bench.targets(result)]
    # Parquet: slower, under 1 GB; CSV: faster, over 1 GB; the command at scale, 100M, make run and Spark not measured
    assert verdicts == [False, True, True, False, None, None, None, None, None, True, True]
    result.commands = {"command line": [2.5, 2.4, 2.6], "notebook": [6.0, 7.0, 6.5]}
    result.at_scale = [12.0, 11.0, 13.0]  # 12 s: 1.5 x the DuckDB query's 8 s, just met
    result.rows += [_row(bench, "real 2009-2010", 500_000, "pipeline", Engine("segmentation"), 1.5, 600.0),
                    _row(bench, "real 2009-2010", 500_000, "pipeline", Engine(bench.SPARK), 30.0, 1_700.0)]
    verdicts = [target.met for target in bench.targets(result)]
    assert verdicts == [False, True, True, False, True, None, False, True, True, True, True]
    report = bench.report(result)
    assert "| missed" in report and "| met" in report and "9.00 s vs 8.00 s (1.12×)" in report
    assert "10.00 s vs 12.00 s (0.83×)" in report and "1,500 MB (limit 1,000 MB)" in report
    assert "12.00 s vs 8.00 s (1.50×)" in report and "median 12.00 s (11.00–13.00)" in report
    assert "2.50 s + 6.50 s = 9.00 s" in report and "equal; 30.00 s vs 1.50 s, peak RSS 1,700 MB with Java" in report
    result.rows[-1].runs.clear()
    result.rows[-1].problem = "differs from segmentation: values differ"
    assert [target.met for target in bench.targets(result)][8] is False
