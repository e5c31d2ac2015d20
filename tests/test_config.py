"""Where a run reads and writes, whoever runs the notebook (Jupyter, papermill, make run)."""

from __future__ import annotations

from pathlib import Path

from segmentation import config


def test_default_input_is_the_bundled_real_year():
    assert config.resolve_input(None) == config.REAL_DATA_PATH == config.DEFAULT_DATA_PATH
    assert config.REAL_DATA_PATH.is_file()


def test_relative_inputs_start_at_the_project_root_whatever_the_working_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert config.resolve_input("data/sample_invoices.csv") == config.SAMPLE_PATH
    assert config.resolve_input("/abs/file.csv") == Path("/abs/file.csv")


def test_figures_go_to_figures_only_for_the_default_data():
    assert config.notebook_output_dir(None, None) == config.FIGURES_DIR
    # papermill -p DATA_PATH other.csv alone: never the committed figures/
    assert config.notebook_output_dir("elsewhere/other.csv", None) == config.PROCESSED_DIR / "other"
    assert config.notebook_output_dir(str(config.REAL_DATA_PATH), None) == (
        config.PROCESSED_DIR / "online_retail_II_2009_2010")
    assert config.notebook_output_dir("x.csv", "out/figs") == config.PROJECT_ROOT / "out" / "figs"


def test_display_paths_hold_no_machine_folder(tmp_path):
    assert config.display_path(config.SAMPLE_PATH) == "data/sample_invoices.csv"
    assert config.display_path(tmp_path / "mine.csv") == "mine.csv"


def test_the_notebook_takes_its_paths_from_these_rules():
    source = config.NOTEBOOK_PATH.read_text(encoding="utf-8")
    assert "config.resolve_input(DATA_PATH)" in source
    assert "config.notebook_output_dir(DATA_PATH, OUTPUT_DIR)" in source
