"""The committed figures are current, readable and deterministic; the report holds them."""

from __future__ import annotations

import base64
import json
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest

from segmentation import columns as c
from segmentation import config, plots
from segmentation.cluster import ClusterResult
from segmentation.notebook import render_html
from segmentation.pipeline import analyse_beyond_seed, segment_file

from test_cluster import customers_with_spend


@pytest.fixture(scope="module")
def sample_figures():
    run = segment_file(config.SAMPLE_PATH)
    figures = plots.draw_figures(run.customers, run.clustering)
    figures |= plots.draw_beyond_seed_figures(run.customers, analyse_beyond_seed(run.customers))
    yield figures
    for figure in figures.values():
        plt.close(figure)


@pytest.mark.parametrize("name", plots.ALL_FIGURE_FILES)
def test_committed_figure_matches_a_fresh_drawing(sample_figures, tmp_path, name):
    fresh = plots.save_figure(sample_figures[name], tmp_path / name)
    committed = config.COMMITTED_FIGURES_DIR / name
    assert committed.is_file(), f"{name} is not committed; run `make run`"
    assert fresh.read_bytes() == committed.read_bytes(), (
        f"figures/{name} is stale: run `make run` and commit the result"
    )


def test_saving_twice_gives_identical_bytes(sample_figures, tmp_path):
    figure = sample_figures[plots.CUSTOMER_SEGMENTS]
    first = plots.save_figure(figure, tmp_path / "a.png").read_bytes()
    second = plots.save_figure(figure, tmp_path / "b.png").read_bytes()
    assert first == second
    assert b"Software" not in first


def test_figures_have_titles_and_labelled_axes(sample_figures):
    for name, figure in sample_figures.items():
        panels = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
        for ax in panels:
            assert ax.get_title(), name
            assert ax.get_xlabel() or name == plots.FEATURE_CORRELATIONS, name
        assert panels[0].get_ylabel() or name == plots.FEATURE_CORRELATIONS, name
    distribution = sample_figures[plots.BILL_SIZE_DISTRIBUTION].axes[0]
    assert distribution.get_xscale() == "log"
    assert "£" in distribution.get_xlabel()


def test_segment_legend_counts_every_clustered_customer(sample_figures):
    run = segment_file(config.SAMPLE_PATH)
    legend = sample_figures[plots.CUSTOMER_SEGMENTS].axes[0].get_legend()
    counts = [int(re.search(r"n=([\d,]+)", t.get_text()).group(1).replace(",", ""))
              for t in legend.get_texts() if "n=" in t.get_text()]
    assert sum(counts) == run.clustering.labels.notna().sum()


def test_heatmap_is_the_lower_triangle_of_spearman_correlations(sample_figures):
    mesh = sample_figures[plots.FEATURE_CORRELATIONS].axes[0].collections[0]
    values = np.ma.masked_invalid(mesh.get_array()).reshape(len(c.CORRELATION_FEATURES) - 1, -1)
    assert values.mask[0, 1:].all()  # above the diagonal is empty
    assert not values.mask[-1].any()  # the last row is full
    assert mesh.norm.vmin == -1 and mesh.norm.vmax == 1


def test_boundaries_are_midpoints_between_ordered_centroids():
    from segmentation.cluster import cluster_customers

    result: ClusterResult = cluster_customers(customers_with_spend([10.0, 12.0, 500.0, 520.0, 5000.0, 5100.0]))
    assert plots.cluster_boundaries(result).tolist() == pytest.approx([(11 + 510) / 2, (510 + 5050) / 2])


def _notebook() -> dict:
    return json.loads(config.NOTEBOOK_PATH.read_text(encoding="utf-8"))


def test_notebook_has_a_parameters_cell_first_and_no_definitions():
    code_cells = [cell for cell in _notebook()["cells"] if cell["cell_type"] == "code"]
    assert "parameters" in code_cells[0]["metadata"].get("tags", [])
    for cell in code_cells:
        source = "".join(cell["source"])
        assert not re.search(r"^\s*(def|class)\s", source, flags=re.MULTILINE), source


def test_notebook_outputs_hold_no_error_warning_or_machine_path():
    for cell in _notebook()["cells"]:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error"
            assert output.get("name") != "stderr", output
            text = json.dumps(output.get("data", {}).get("text/plain", "")) + "".join(output.get("text", ""))
            assert str(config.PROJECT_ROOT) not in text


def test_notebook_shows_the_committed_figures():
    shown = [base64.b64decode(output["data"]["image/png"])
             for cell in _notebook()["cells"] for output in cell.get("outputs", [])
             if "image/png" in output.get("data", {})]
    assert len(shown) == len(plots.ALL_FIGURE_FILES)


def test_report_page_embeds_every_figure_and_no_error(tmp_path):
    page = render_html(config.NOTEBOOK_PATH, tmp_path / "report.html").read_text(encoding="utf-8")
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', page)) == len(plots.ALL_FIGURE_FILES)
    body = page.split("<body", 1)[1]
    assert "Traceback" not in body
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in body
    assert 'src="http' not in body  # nothing fetched from elsewhere


def test_raw_vs_log_panels_count_every_clustered_customer_in_their_legends(sample_figures):
    run = segment_file(config.SAMPLE_PATH)
    for ax in sample_figures[plots.RAW_VS_LOG_CLUSTERS].axes:
        counts = [int(re.search(r"n=([\d,]+)", t.get_text()).group(1).replace(",", ""))
                  for t in ax.get_legend().get_texts() if "n=" in t.get_text()]
        assert sum(counts) == run.clustering.labels.notna().sum()
        assert ax.get_xscale() == "log"


def test_log_boundaries_are_midpoints_in_log_space():
    from segmentation.cluster import cluster_customers

    result = cluster_customers(customers_with_spend([9.0, 99.0, 999.0, 9999.0]), k=2, log=True)
    low, high = np.log1p(result.centroids[c.TOTAL_BILL_SIZE])
    assert plots.cluster_boundaries(result) == pytest.approx([np.expm1((low + high) / 2)])
