"""The committed figures are current, readable and deterministic; the report holds them.

The figures are drawn from the default input (the real 2009-2010 file), as the
notebook and ``make run`` draw them; the readability tests read the drawn
artists' extents (after ``canvas.draw()``), so a title cut off, tick labels that
run together or a legend over the bars fail here, not in a reviewer's eye.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from itertools import pairwise

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from conftest import customers_with_spend
from segmentation import columns as c
from segmentation import config
from segmentation.analysis import diagnostics, model
from segmentation.analysis.cluster import ClusterResult
from segmentation.analysis.pipeline import (
    analyse_beyond_seed,
    check_against_next,
    halfway_date,
    score_file,
    segment_file,
)
from segmentation.analysis.rfm import load_segment_map
from segmentation.analysis.segments import segment_names
from segmentation.engines.runners import OutcomeWindow
from segmentation.presentation import plots
from segmentation.reading.load import load_invoices
from segmentation.rules.clean import clean_invoices

#: Extents may touch the figure's edge to within this many pixels.
EDGE_TOLERANCE_PX = 1.0
#: Neighbouring tick labels need at least half an em (of 10 pt text) between them; "£10,000£100,000" had 2 px.
MIN_TICK_GAP_PT = 5.0
LEGEND_COUNT = re.compile(r"^(\d+): (.+) \(n=([\d,]+)\)$")


@pytest.fixture(scope="module")
def default_run():
    return segment_file(config.DEFAULT_DATA_PATH)


@pytest.fixture(scope="module")
def default_beyond(default_run):
    return analyse_beyond_seed(default_run.customers)


@pytest.fixture(scope="module")
def default_figures(default_run, default_beyond):
    """The committed figures, drawn by the calls the notebook makes, with their layout done."""
    figures = plots.draw_figures(default_run.customers, default_run.clustering)
    figures |= plots.draw_beyond_seed_figures(default_run.customers, default_beyond)
    invoices = load_invoices(config.DEFAULT_DATA_PATH)
    check = check_against_next(invoices, source=config.DEFAULT_DATA_PATH,
                               last_invoice_date=clean_invoices(invoices).invoices[c.INVOICE_DATE].max(),
                               rfm_k=len(default_beyond.rfm.centroids))
    figures[plots.VALIDATION] = plots.plot_validation(check.validation, as_of=check.window.as_of,
                                                      horizon_days=check.window.horizon_days)
    figures[plots.FORECAST_CHECK] = plots.plot_forecast_check(check.forecast_check)
    halfway = halfway_date(clean_invoices(invoices).invoices)
    earlier = segment_file(config.DEFAULT_DATA_PATH, rfm_k=len(default_beyond.rfm.centroids),
                           window=OutcomeWindow(halfway, config.HORIZON_DAYS))
    saved = model.freeze(earlier)
    scored = score_file(config.DEFAULT_DATA_PATH, saved, before=earlier.segments_table)
    figures[plots.MIGRATION] = plots.plot_migration(scored.migration, fitted_to=saved.snapshot_date,
                                                    scored_to=scored.snapshot)
    for figure in figures.values():
        figure.canvas.draw()
    yield figures
    for figure in figures.values():
        plt.close(figure)


@pytest.mark.parametrize("name", plots.ALL_FIGURE_FILES)
def test_committed_figure_matches_a_fresh_drawing(default_figures, tmp_path, name):
    fresh = plots.save_figure(default_figures[name], tmp_path / name)
    committed = config.COMMITTED_FIGURES_DIR / name
    assert committed.is_file(), f"{name} is not committed; run `make run`"
    assert fresh.read_bytes() == committed.read_bytes(), (
        f"figures/{name} is stale: run `make run` and commit the result"
    )


def test_saving_twice_gives_identical_bytes(default_figures, tmp_path):
    figure = default_figures[plots.CUSTOMER_SEGMENTS]
    first = plots.save_figure(figure, tmp_path / "a.png").read_bytes()
    second = plots.save_figure(figure, tmp_path / "b.png").read_bytes()
    assert first == second
    assert b"Software" not in first


def test_bytes_do_not_depend_on_whether_the_figure_was_shown_first(default_run, default_beyond, tmp_path):
    """A notebook draws a figure at DPI before saving it, a script does not: both give the committed bytes."""
    shown = plots.plot_segment_profiles(default_run.customers, default_beyond.rfm)
    shown.canvas.draw()
    saved_only = plots.plot_segment_profiles(default_run.customers, default_beyond.rfm)
    first = plots.save_figure(shown, tmp_path / "shown.png").read_bytes()
    assert first == plots.save_figure(saved_only, tmp_path / "saved.png").read_bytes()
    plt.close(shown)
    plt.close(saved_only)


def _png_size(path) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR chunk."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_saved_figures_are_sharp_on_a_2x_screen_but_drawn_small_for_notebooks(default_figures, tmp_path):
    for name, figure in default_figures.items():
        width, _ = _png_size(plots.save_figure(figure, tmp_path / name))
        assert width >= 1600, name
        assert figure.dpi == plots.DPI < plots.SAVE_DPI


def _figure_title(figure: Figure) -> str:
    suptitle = figure.get_suptitle() if hasattr(figure, "get_suptitle") else ""
    return suptitle or " ".join(ax.get_title(loc) for ax in figure.axes for loc in ("center", "left"))


def test_figures_have_titles_and_labelled_axes(default_figures):
    for name, figure in default_figures.items():
        assert _figure_title(figure).strip(), name
        panels = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
        for ax in panels:
            assert ax.get_title() or ax.get_title(loc="left"), name
            shows_x = any(label.get_visible() and label.get_text() for label in ax.get_xticklabels())
            assert ax.get_xlabel() or not shows_x or name == plots.FEATURE_CORRELATIONS, name
        assert panels[0].get_ylabel() or panels[0].get_yticklabels() or name == plots.FEATURE_CORRELATIONS, name
    distribution = default_figures[plots.BILL_SIZE_DISTRIBUTION].axes[0]
    assert distribution.get_xscale() == "log"
    assert "£" in distribution.get_xlabel()


@pytest.mark.parametrize("name", plots.ALL_FIGURE_FILES)
def test_nothing_drawn_lies_outside_the_figure(default_figures, name):
    """Titles, labels, tick labels and legends all inside the canvas: nothing clipped."""
    figure = default_figures[name]
    renderer = figure.canvas.get_renderer()
    canvas = figure.bbox
    parts = [ax.get_tightbbox(renderer) for ax in figure.axes]
    parts += [text.get_window_extent(renderer) for text in figure.texts if text.get_text()]
    parts += [legend.get_window_extent(renderer) for legend in figure.legends]
    if figure.get_suptitle():
        parts.append(figure._suptitle.get_window_extent(renderer))
    for box in parts:
        assert box.x0 >= canvas.x0 - EDGE_TOLERANCE_PX and box.x1 <= canvas.x1 + EDGE_TOLERANCE_PX, (name, box)
        assert box.y0 >= canvas.y0 - EDGE_TOLERANCE_PX and box.y1 <= canvas.y1 + EDGE_TOLERANCE_PX, (name, box)


def _drawn_tick_labels(axis) -> list:
    """The major tick labels of ``axis`` that are drawn: inside the view and not blank."""
    low, high = sorted(axis.get_view_interval())
    return [label for location, label in zip(axis.get_majorticklocs(), axis.get_majorticklabels(), strict=False)
            if low <= location <= high and label.get_visible() and label.get_text()]


@pytest.mark.parametrize("name", [n for n in plots.ALL_FIGURE_FILES if n != plots.FEATURE_CORRELATIONS])
def test_x_tick_labels_never_touch(default_figures, name):
    figure = default_figures[name]
    renderer = figure.canvas.get_renderer()
    min_gap = MIN_TICK_GAP_PT * figure.dpi / 72
    for ax in figure.axes:
        boxes = sorted((label.get_window_extent(renderer) for label in _drawn_tick_labels(ax.xaxis)),
                       key=lambda box: box.x0)
        for left, right in pairwise(boxes):
            assert right.x0 - left.x1 >= min_gap, (name, ax.get_title(), left, right)


def test_raw_vs_log_money_ticks_are_compact_and_apart(default_figures):
    figure = default_figures[plots.RAW_VS_LOG_CLUSTERS]
    renderer = figure.canvas.get_renderer()
    for ax in figure.axes:
        labels = _drawn_tick_labels(ax.xaxis)
        texts = [label.get_text() for label in labels]
        assert "£10k" in texts and "£100k" in texts, texts
        assert all(len(text) <= len("£100k") for text in texts), texts
        boxes = [label.get_window_extent(renderer) for label in labels]
        assert all(b.x0 - a.x1 >= MIN_TICK_GAP_PT * figure.dpi / 72 for a, b in pairwise(boxes))


@pytest.mark.parametrize(("value", "text"), [(0.5, "£0.5"), (10, "£10"), (100, "£100"), (1_000, "£1k"),
                                             (25_000, "£25k"), (100_000, "£100k"), (1_000_000, "£1M")])
def test_money_is_written_compactly(value, text):
    assert plots.format_pounds(value) == text


def _legend_counts(texts) -> dict[str, int]:
    """{segment: customers} from legend texts "0: Low spend (n=4,261)"."""
    matches = [LEGEND_COUNT.match(text.get_text()) for text in texts]
    return {match[2]: int(match[3].replace(",", "")) for match in matches if match}


def _all_legend_texts(figure: Figure) -> list:
    legends = list(figure.legends) + [ax.get_legend() for ax in figure.axes if ax.get_legend()]
    return [text for legend in legends for text in legend.get_texts()]


def test_segment_legend_counts_every_clustered_customer(default_figures, default_run):
    counts = _legend_counts(_all_legend_texts(default_figures[plots.CUSTOMER_SEGMENTS]))
    assert sum(counts.values()) == default_run.clustering.labels.notna().sum()
    assert counts == {"Low spend": 4_255, "Mid spend": 27, "High spend": 3}


def _scatter_points(ax) -> int:
    return sum(len(collection.get_offsets()) for collection in ax.collections
               if isinstance(collection, PathCollection))


def test_single_day_customers_are_drawn_in_their_own_strip_and_counted(default_figures, default_run):
    clustered = default_run.customers[default_run.clustering.labels.notna()]
    n_single = int((clustered[c.PURCHASE_INTERVAL_DAYS].fillna(0) == 0).sum())  # one day, or no occasion
    several, single = default_figures[plots.CUSTOMER_SEGMENTS].axes
    assert n_single > 1_000  # a third of the real customers bought on one day only
    assert _scatter_points(single) == n_single
    assert _scatter_points(several) == len(clustered) - n_single
    heights = np.concatenate([collection.get_offsets()[:, 1] for collection in single.collections])
    assert np.ptp(heights) > 0.5  # spread out, not stacked on one line
    assert f"{n_single:,} customers ({n_single / len(clustered):.0%})" in single.get_title(loc="left")
    assert all(collection.get_offsets()[:, 1].min() > 0 for collection in several.collections
               if len(collection.get_offsets()))


def test_small_segments_are_drawn_bigger_outlined_and_on_top(default_figures):
    several, _ = default_figures[plots.CUSTOMER_SEGMENTS].axes
    by_segment = {LEGEND_COUNT.match(collection.get_label())[2]: collection for collection in several.collections
                  if isinstance(collection, PathCollection) and LEGEND_COUNT.match(collection.get_label())}
    big, small = by_segment["Low spend"], [by_segment["Mid spend"], by_segment["High spend"]]
    for collection in small:
        assert collection.get_sizes().min() > 2 * big.get_sizes().max()
        assert collection.get_zorder() > big.get_zorder()
        assert collection.get_linewidths().min() > 0 and big.get_linewidths().max() == 0


def _scan(silhouettes: list[float]) -> pd.DataFrame:
    """A k scan over k = 2, 3, … with falling inertia and the given silhouettes."""
    ks = range(2, 2 + len(silhouettes))
    return pd.DataFrame({c.INERTIA: [100.0 / k for k in ks], c.SILHOUETTE: silhouettes},
                        index=pd.Index(ks, name=c.K))


def _stars(ax) -> list[Line2D]:
    return [line for line in ax.get_lines() if line.get_marker() == "*"]


def test_k_diagnostics_star_no_best_k_on_a_flat_silhouette_and_mark_the_chosen_k_on_both_panels():
    flat = _scan([0.52, 0.55, 0.53, 0.54])  # spans 0.03 < config.FLAT_SILHOUETTE_RANGE
    peaked = _scan([0.40, 0.33, 0.30, 0.28])
    assert diagnostics.silhouette_is_flat(flat) and not diagnostics.silhouette_is_flat(peaked)
    scans = {"flat": flat, "peaked": peaked}
    figure = plots.plot_k_diagnostics(scans, diagnostics.summarise_scans(scans), chosen="peaked", k=4, elbow=3)
    inertia, silhouette = figure.axes
    stars = _stars(silhouette)
    assert [(line.get_xdata()[0], line.get_ydata()[0]) for line in stars] == [(2, 0.40)]
    legend = [text.get_text() for text in silhouette.get_legend().get_texts()]
    assert "flat (flat: no best k)" in legend and "peaked (best k = 2)" in legend
    for ax in (inertia, silhouette):
        assert any(text.get_text().startswith("chosen k = 4") for text in ax.get_legend().get_texts())
        assert any(list(line.get_xdata()) == [4, 4] for line in ax.get_lines())
    assert "elbow (kneed): k = 3" in [text.get_text() for text in inertia.get_legend().get_texts()]
    plt.close(figure)


def test_k_diagnostics_draw_no_elbow_when_none_is_given():
    scans = {"peaked": _scan([0.40, 0.33, 0.30])}
    figure = plots.plot_k_diagnostics(scans, diagnostics.summarise_scans(scans), chosen="peaked", k=2)
    assert not any("elbow" in text.get_text() for text in figure.axes[0].get_legend().get_texts())
    plt.close(figure)


def test_k_diagnostics_refuse_an_elbow_outside_the_scan():
    with pytest.raises(ValueError, match="elbow k = 12"):
        scans = {"peaked": _scan([0.40, 0.33, 0.30])}
        plots.plot_k_diagnostics(scans, diagnostics.summarise_scans(scans), chosen="peaked", k=2, elbow=12)


def test_committed_k_diagnostics_mark_the_analysis_choice(default_figures, default_beyond):
    inertia, silhouette = default_figures[plots.K_DIAGNOSTICS].axes
    choice = default_beyond.rfm_choice
    flat = default_beyond.scan_summary.index[default_beyond.scan_summary[c.FLAT]].tolist()
    assert flat == [diagnostics.LOG_SPEND]  # log1p spend: 0.519 … 0.563
    assert len(_stars(silhouette)) == len(default_beyond.scans) - len(flat)
    for ax in (inertia, silhouette):
        assert any(text.get_text().startswith(f"chosen k = {choice.k}") for text in ax.get_legend().get_texts())
    assert f"elbow (kneed): k = {choice.elbow}" in [text.get_text() for text in inertia.get_legend().get_texts()]


def test_draw_figures_with_a_scan_marks_the_choice(default_run, default_beyond):
    rfm_scan = default_beyond.scans[diagnostics.RFM_LOG]
    figures = plots.draw_figures(default_run.customers, default_beyond.rfm, scan=rfm_scan,
                                 scan_summary=diagnostics.summarise_scans({"rfm": rfm_scan}),
                                 choice=default_beyond.rfm_choice)
    assert set(figures) == {plots.SEGMENT_PROFILES, plots.CUSTOMER_SEGMENTS, plots.FEATURE_CORRELATIONS,
                            plots.K_DIAGNOSTICS}
    inertia, _ = figures[plots.K_DIAGNOSTICS].axes
    assert any("elbow (kneed)" in text.get_text() for text in inertia.get_legend().get_texts())
    for figure in figures.values():
        plt.close(figure)


def _legend_overlaps(figure: Figure, ax, artists) -> list:
    renderer = figure.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    return [artist for artist in artists if legend.overlaps(artist.get_window_extent(renderer))]


@pytest.mark.parametrize("name", [plots.BILL_SIZE_DISTRIBUTION, plots.RAW_VS_LOG_CLUSTERS])
def test_histogram_legends_leave_the_bars_uncovered(default_figures, name):
    figure = default_figures[name]
    for ax in figure.axes:
        bars = [patch for patch in ax.patches if isinstance(patch, Rectangle) and patch.get_height() > 0]
        assert not _legend_overlaps(figure, ax, bars), name


def test_k_diagnostics_legends_leave_the_points_uncovered(default_figures):
    figure = default_figures[plots.K_DIAGNOSTICS]
    renderer = figure.canvas.get_renderer()
    for ax in figure.axes:
        legend = ax.get_legend().get_window_extent(renderer)
        for line in ax.get_lines():
            if line.get_marker() in ("o", "*"):
                points = line.get_transform().transform(line.get_xydata())
                assert not any(legend.contains(x, y) for x, y in points), (ax.get_title(), line.get_label())


def test_scatter_legend_sits_outside_the_panels(default_figures):
    figure = default_figures[plots.CUSTOMER_SEGMENTS]
    renderer = figure.canvas.get_renderer()
    (legend,) = figure.legends
    box = legend.get_window_extent(renderer)
    assert not any(box.overlaps(ax.get_window_extent(renderer)) for ax in figure.axes)


def _colours_by_segment(figure: Figure) -> dict[str, set[str]]:
    """{segment: hex colours it is drawn in} from bars and points labelled "0: Low spend (n=…)",
    and from profile boxes labelled by their y tick "Low spend\n(n=…)"."""
    found: dict[str, set[str]] = {}
    for ax in figure.axes:
        for bars in ax.containers:  # hist labels the first bar of each stack
            if match := LEGEND_COUNT.match(bars[0].get_label()):
                found.setdefault(match[2], set()).update(to_hex(bar.get_facecolor()) for bar in bars)
        for collection in ax.collections:
            if isinstance(collection, PathCollection) and (match := LEGEND_COUNT.match(collection.get_label())):
                found.setdefault(match[2], set()).update(to_hex(rgba) for rgba in collection.get_facecolors())
    return found


def _profile_colours(figure: Figure) -> dict[str, set[str]]:
    first = figure.axes[0]
    names = [label.get_text().split("\n")[0] for label in first.get_yticklabels()]
    found: dict[str, set[str]] = {}
    for ax in figure.axes:
        boxes = [patch for patch in ax.patches if not isinstance(patch, Rectangle)]
        for name, box in zip(names, boxes, strict=False):
            found.setdefault(name, set()).add(to_hex(box.get_facecolor()))
    return found


def test_a_segment_has_one_colour_in_every_figure(default_figures):
    histogram = _colours_by_segment(default_figures[plots.BILL_SIZE_DISTRIBUTION])
    scatter = _colours_by_segment(default_figures[plots.CUSTOMER_SEGMENTS])
    raw_vs_log = _colours_by_segment(default_figures[plots.RAW_VS_LOG_CLUSTERS])
    profiles = _profile_colours(default_figures[plots.SEGMENT_PROFILES])
    assert set(histogram) == set(scatter) == set(raw_vs_log) == set(segment_names(3))
    for name in histogram:
        assert histogram[name] == scatter[name] == raw_vs_log[name] == {plots.segment_colour(name)}, name
    assert set(profiles) <= set(load_segment_map().names)
    for name, colours in profiles.items():
        assert colours == {plots.segment_colour(name)}, name
    assert len({plots.segment_colour(name) for name in profiles}) == len(profiles)


def test_segment_colours_are_distinct_within_a_family_and_stable_for_any_name():
    rfm = load_segment_map().names
    for family in (segment_names(3), rfm, segment_names(6)):
        colours = [plots.segment_colour(name) for name in family]
        assert len(set(colours)) == len(colours), family
    assert set(rfm) <= set(plots.SEGMENT_COLOURS)  # the default map's names have colours of their own
    assert plots.segment_colour("Spend level 1 of 2") == plots.segment_colour("Low spend")
    assert plots.segment_colour("Whales") == plots.segment_colour("Whales")  # no salted hash
    assert re.fullmatch(r"#[0-9a-f]{6}", plots.segment_colour("Whales"))


def test_segment_profiles_show_business_units_highest_value_segment_on_top(default_figures, default_run,
                                                                            default_beyond):
    figure = default_figures[plots.SEGMENT_PROFILES]
    recency, frequency, spend = figure.axes
    assert [ax.get_xscale() for ax in figure.axes] == ["linear", "log", "log"]
    assert "days" in recency.get_xlabel() and "£" in spend.get_xlabel()
    labels = [label.get_text() for label in recency.get_yticklabels()]
    centroids = default_beyond.rfm.centroids
    top_first = [f"{segment}\n(n=" for segment in centroids[c.SEGMENT][::-1]]
    assert [label.split("n=")[0] + "n=" for label in labels[::-1]] == top_first
    counts = [int(label.split("n=")[1].rstrip(")").replace(",", "")) for label in labels]
    assert sum(counts) == default_beyond.rfm.labels.notna().sum()
    assert all(label.get_text().startswith("£") for label in _drawn_tick_labels(spend.xaxis))


def test_boundaries_are_midpoints_between_ordered_centroids():
    from segmentation.analysis.cluster import cluster_customers

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


def test_raw_vs_log_panels_count_every_clustered_customer_in_their_legends(default_figures, default_run):
    for ax in default_figures[plots.RAW_VS_LOG_CLUSTERS].axes:
        counts = _legend_counts(ax.get_legend().get_texts())
        assert sum(counts.values()) == default_run.clustering.labels.notna().sum()
        assert ax.get_xscale() == "log"


def test_log_boundaries_are_midpoints_in_log_space():
    from segmentation.analysis.cluster import cluster_customers

    result = cluster_customers(customers_with_spend([9.0, 99.0, 999.0, 9999.0]), k=2, log=True)
    low, high = np.log1p(result.centroids[c.TOTAL_BILL_SIZE])
    assert plots.cluster_boundaries(result) == pytest.approx([np.expm1((low + high) / 2)])


def test_line_colours_are_seaborns_colour_blind_palette():
    import seaborn as sns

    assert list(plots.LINE_COLOURS) == sns.color_palette("colorblind", len(plots.LINE_COLOURS)).as_hex()
