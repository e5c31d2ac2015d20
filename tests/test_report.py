"""The HTML report of the committed notebook: self-contained, code hidden, nothing wider than the window.

The page checks read the HTML; the browser checks open it in headless Chromium with
the network unusable, at a 1280-pixel-wide window, and measure it from inside the
page. They skip where ``/usr/bin/chromium`` is absent (``.ci/run`` installs it).
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from segmentation import config
from segmentation.presentation import notebook as nb_runner

CHROMIUM = Path("/usr/bin/chromium")
WINDOW_WIDTH = 1280
WINDOW_HEIGHT = 2400
#: ``make check-report`` sets this to keep the screenshot of the committed notebook's page.
SCREENSHOT_ENV = "SEGMENTATION_REPORT_SCREENSHOT"
MEASUREMENTS_ID = "report-measurements"

#: Measures the page once it has loaded and writes the result into the DOM as JSON.
MEASURE_SCRIPT = """
window.addEventListener("load", () => {
  const viewport = document.documentElement.clientWidth;
  const tables = [...document.querySelectorAll("table")].map(t => t.getBoundingClientRect().right);
  const result = {
    viewport: viewport,
    scrollWidth: document.documentElement.scrollWidth,
    tables: tables.length,
    widestTableRight: Math.max(0, ...tables),
    widestTableBoxRight: Math.max(0, ...[...document.querySelectorAll("table")]
      .map(t => (t.closest(".jp-OutputArea-output") || t).getBoundingClientRect().right)),
    overflowing: [...document.querySelectorAll("body *")]
      .filter(e => e.getBoundingClientRect().right > viewport + 0.5)
      .map(e => e.tagName.toLowerCase() + "." + e.className).slice(0, 5),
    images: document.images.length,
    brokenImages: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length,
    widestImageRight: Math.max(0, ...[...document.images].map(i => i.getBoundingClientRect().right)),
  };
  const out = document.createElement("pre");
  out.id = "%s";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
""" % MEASUREMENTS_ID  # noqa: UP031 (the script's braces would need doubling in a format string)

_chromium_absent = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is absent: install Debian's chromium (apt-get install chromium) for the browser checks",
)


def needs_chromium(test):
    """Skipped without Chromium; slow (starts a browser)."""
    return pytest.mark.slow(_chromium_absent(test))


@pytest.fixture(scope="module")
def committed_page(tmp_path_factory) -> Path:
    """The report of the committed notebook, rendered into a scratch folder."""
    return nb_runner.render_html(config.NOTEBOOK_PATH, tmp_path_factory.mktemp("report") / "report.html")


@pytest.fixture(scope="module")
def page_text(committed_page) -> str:
    return committed_page.read_text(encoding="utf-8")


def _committed_notebook() -> nbformat.NotebookNode:
    return nbformat.read(config.NOTEBOOK_PATH, as_version=4)


def _without_data_uris(page: str) -> str:
    """The page less its embedded images and icons (base64 can spell anything)."""
    return re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "data:", page)


# --- the page itself -------------------------------------------------------------------------


def test_page_loads_nothing_from_the_network(page_text):
    page = _without_data_uris(page_text)
    assert not re.search(r"<script[^>]*\ssrc\s*=", page, flags=re.IGNORECASE)
    assert not re.search(r"<link[^>]*\shref\s*=", page, flags=re.IGNORECASE)
    assert not re.search(r"""\ssrc\s*=\s*["']?(https?:)?//""", page, flags=re.IGNORECASE)
    assert not re.search(r"""url\(\s*["']?(https?:)?//""", page, flags=re.IGNORECASE)
    assert not re.search(r"@import", page, flags=re.IGNORECASE)
    assert "MathJax" not in page and "require.min.js" not in page


def test_page_holds_no_local_path(page_text):
    page = _without_data_uris(page_text)
    # this machine's own folders: the project, the home folder, the temporary folder
    for local in (str(config.PROJECT_ROOT), str(Path.home()), tempfile.gettempdir(), "file://"):
        assert local not in page, local


def test_page_title_is_the_notebook_heading_and_the_input_name(page_text):
    heading = next(line[2:].strip() for cell in _committed_notebook().cells if cell.cell_type == "markdown"
                   for line in cell.source.splitlines() if line.startswith("# "))
    title = re.search(r"<title>(.*?)</title>", page_text, flags=re.DOTALL).group(1)
    assert html.unescape(title) == f"{heading} — {config.DEFAULT_DATA_PATH.name}"


def test_page_hides_code_and_prompts(page_text):
    body = page_text.split("<body", 1)[1]
    code_cells = re.split(r'(?=<div\s+class="jp-Cell )', body)
    code_cells = [cell for cell in code_cells if cell.startswith('<div class="jp-Cell jp-CodeCell')]
    assert code_cells
    for cell in code_cells:
        assert "jp-mod-noInput" in cell.split(">", 1)[0]
        assert "jp-InputArea" not in cell and 'class="highlight' not in cell
    assert "jp-InputPrompt" not in body and "jp-OutputPrompt" not in body
    assert not re.search(r"(In|Out)&nbsp;\[\d*\]", body)


def test_page_embeds_every_figure_as_a_png_data_uri(page_text):
    figures = sum("image/png" in output.get("data", {})
                  for cell in _committed_notebook().cells for output in cell.get("outputs", []))
    images = re.findall(r"<img\b[^>]*>", page_text)
    assert figures > 0
    assert len(images) == figures
    for image in images:
        data = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', image)
        assert data, image[:80]
        assert base64.b64decode(data.group(1)).startswith(b"\x89PNG\r\n\x1a\n")


def test_page_leaves_out_the_settings_meant_for_whoever_runs_it(page_text):
    page = _without_data_uris(page_text)
    assert "papermill" not in page and "figures: " not in page and "DATA_PATH = None" not in page
    assert "1. Load" in page


def test_every_figure_says_what_it_shows(page_text):
    from segmentation.presentation import plots

    alts = [html.unescape(text) for text in re.findall(r'<img\b[^>]*\balt="([^"]*)"', page_text)]
    assert len(alts) == len(re.findall(r"<img\b", page_text))
    described = set(plots.FIGURE_DESCRIPTIONS.values())
    assert alts and set(alts) <= described, set(alts) - described
    assert set(plots.FIGURE_DESCRIPTIONS) == set(plots.ALL_FIGURE_FILES)


def test_page_shows_no_error_or_stderr(page_text):
    body = page_text.split("<body", 1)[1]
    assert "Traceback" not in body
    assert "application/vnd.jupyter.stderr" not in body
    assert "jp-OutputArea-error" not in body


def test_report_refuses_a_missing_notebook(tmp_path):
    with pytest.raises(nb_runner.ReportRefused, match="no executed notebook"):
        nb_runner.render_html(tmp_path / "absent.ipynb", tmp_path / "absent.html")
    assert not (tmp_path / "absent.html").exists()


def test_report_refuses_a_notebook_holding_an_error(tmp_path):
    failed = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A run"), nbformat.v4.new_code_cell(
        "1 / 0", execution_count=1,
        outputs=[nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                        traceback=[])])])
    nbformat.write(failed, tmp_path / "failed.ipynb")
    with pytest.raises(nb_runner.ReportRefused, match=r"cell 2 holds an error \(ZeroDivisionError\)"):
        nb_runner.render_html(tmp_path / "failed.ipynb", tmp_path / "failed.html")
    assert not (tmp_path / "failed.html").exists()


def test_make_report_without_an_executed_notebook_prints_one_line_and_exits_2(tmp_path, capsys):
    code = nb_runner.main(["--data", str(tmp_path / "mine.csv"), "--out", str(tmp_path), "--no-execute", "--report"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: ")
    assert "no executed notebook" in captured.err
    assert list(tmp_path.iterdir()) == []


# --- the page in a browser -------------------------------------------------------------------


def _chromium(page: Path, profile: Path, *options: str) -> subprocess.CompletedProcess:
    """Headless Chromium on ``page`` with the network unusable (proxy to a closed port, no DNS)."""
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
         f"--window-size={WINDOW_WIDTH},{WINDOW_HEIGHT}", *options, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )


def measure_in_chromium(page: Path, scratch: Path) -> dict:
    """The page's widths and images as the browser lays them out at a 1280-px window."""
    measured = scratch / f"measured-{page.name}"
    script = f"<script>{MEASURE_SCRIPT}</script>"
    measured.write_text(page.read_text(encoding="utf-8").replace("</head>", script + "</head>", 1), encoding="utf-8")
    result = _chromium(measured, scratch / "profile-measure", "--dump-dom", "--virtual-time-budget=10000")
    found = re.search(rf'<pre id="{MEASUREMENTS_ID}">(.*?)</pre>', result.stdout, flags=re.DOTALL)
    assert found, f"no measurements from Chromium (exit {result.returncode}): {result.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def _assert_fits_the_window(measurements: dict, *, tables_may_scroll: bool = False) -> None:
    """Nothing wider than the window; with ``tables_may_scroll`` a table may scroll inside its output box."""
    assert measurements["viewport"] == WINDOW_WIDTH, measurements
    assert measurements["scrollWidth"] <= measurements["viewport"], measurements
    assert measurements["widestTableBoxRight"] <= measurements["viewport"], measurements
    assert measurements["widestImageRight"] <= measurements["viewport"], measurements
    if not tables_may_scroll:
        assert measurements["widestTableRight"] <= measurements["viewport"], measurements
        assert measurements["overflowing"] == [], measurements


@needs_chromium
def test_screenshot_of_the_page_at_1280_pixels(committed_page, tmp_path):
    screenshot = tmp_path / "report.png"
    result = _chromium(committed_page, tmp_path / "profile-shot", f"--screenshot={screenshot}")
    assert screenshot.is_file(), result.stderr[-2000:]
    header = screenshot.read_bytes()[:24]
    assert header.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(header[16:20], "big") == WINDOW_WIDTH
    if os.environ.get(SCREENSHOT_ENV):
        kept = Path(os.environ[SCREENSHOT_ENV])
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screenshot, kept)


@needs_chromium
def test_nothing_is_wider_than_the_window_and_every_image_loads(committed_page, tmp_path):
    measurements = measure_in_chromium(committed_page, tmp_path)
    _assert_fits_the_window(measurements)
    assert measurements["tables"] > 0
    assert measurements["images"] > 0 and measurements["brokenImages"] == 0, measurements


@needs_chromium
def test_a_very_wide_table_and_long_lines_still_fit_the_window(tmp_path):
    """The CSS keeps the page inside the window: a table too wide to fit with whole words scrolls in its box."""
    wide = pd.DataFrame([[f"value_{row}_{column}" * 2 for column in range(40)] for row in range(3)],
                         columns=[f"a_long_column_name_{column}" for column in range(40)])
    document = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A wide page\n\n" + "word" * 200),
        nbformat.v4.new_code_cell("wide", execution_count=1, outputs=[nbformat.v4.new_output(
            "execute_result", execution_count=1, data={"text/html": wide.to_html(), "text/plain": "wide"})]),
        nbformat.v4.new_code_cell("print(line)", execution_count=2, outputs=[nbformat.v4.new_output(
            "stream", name="stdout", text="x" * 2000 + "\n")]),
    ])
    nbformat.write(document, tmp_path / "wide.ipynb")
    page = nb_runner.render_html(tmp_path / "wide.ipynb", tmp_path / "wide.html")
    _assert_fits_the_window(measure_in_chromium(page, tmp_path), tables_may_scroll=True)
