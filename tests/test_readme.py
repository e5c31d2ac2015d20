"""What the README states about the bundled data is what a run gives."""

from __future__ import annotations

import re

import pandas as pd

from segmentation import config
from segmentation.presentation import readme


def test_readme_findings_are_the_committed_notebooks_findings():
    # nbval checks the committed notebook against a fresh run; this links the README to it.
    assert readme.readme_findings() == readme.notebook_findings()
    assert "Low spend" in readme.readme_findings()


def test_update_readme_rewrites_only_the_block(tmp_path):
    page = tmp_path / "README.md"
    page.write_text(f"# Title\n\nbefore\n\n{readme.FINDINGS_START}\nold text 123\n{readme.FINDINGS_END}\n\nafter\n",
                    encoding="utf-8")
    assert readme.update_readme(page) is True
    text = page.read_text(encoding="utf-8")
    assert "old text 123" not in text
    assert text.startswith("# Title\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert readme.readme_findings(page) == readme.notebook_findings()
    assert readme.update_readme(page) is False


def test_readme_date_range_of_the_bundled_data_is_the_files():
    dates = pd.to_datetime(pd.read_parquet(config.REAL_DATA_PATH, columns=["InvoiceDate"])["InvoiceDate"])
    stated = re.search(r"first year \((\d{4}-\d{2}-\d{2}) to (\d{4}-\d{2}-\d{2})\)", readme.README_PATH.read_text())
    assert stated.groups() == (f"{dates.min():%Y-%m-%d}", f"{dates.max():%Y-%m-%d}")


def test_every_figure_the_readme_shows_is_committed():
    shown = re.findall(r"!\[[^\]]*\]\((figures/[^)]+)\)", readme.README_PATH.read_text())
    assert len(shown) == 8
    for path in shown:
        assert (config.PROJECT_ROOT / path).is_file(), path
