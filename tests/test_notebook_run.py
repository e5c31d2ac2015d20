"""Executing the notebook: on another file into its own folder, in place, and failing cleanly.

One run of the real notebook on the bundled sample (a subprocess, as ``make run DATA=...``
starts it) serves the checks of a successful run; bad input is compared with what the
command line prints for the same file; tiny notebooks written here check failures.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from segmentation import config
from segmentation.errors import InvoiceDataError
from segmentation.presentation import notebook as nb_runner
from segmentation.presentation import plots

pytestmark = pytest.mark.slow

#: An absolute path of this machine: the project, a home, or a scratch folder (``../../tmp`` is relative).
ABSOLUTE_PATH = re.compile(rf"{re.escape(str(config.PROJECT_ROOT))}|(?<![\w.])/(root|home|tmp)\b")


def run_module(module: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600, check=False)


def _files(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {path.name: (path.stat().st_mtime_ns, path.read_bytes()) for path in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path, dict, dict]:
    """``python -m segmentation.presentation.notebook --data <sample> --out <tmp>``, with figures/ before and after."""
    out = tmp_path_factory.mktemp("notebook_out")
    before = _files(config.COMMITTED_FIGURES_DIR)
    result = run_module("segmentation.presentation.notebook", "--data", str(config.SAMPLE_PATH), "--out", str(out))
    return result, out, before, _files(config.COMMITTED_FIGURES_DIR)


def test_run_on_a_file_writes_the_executed_copy_and_figures_into_its_folder(sample_run):
    result, out, _, _ = sample_run
    assert result.returncode == 0, result.stderr
    assert (out / config.NOTEBOOK_PATH.name).is_file()
    assert all((out / name).is_file() for name in plots.ALL_FIGURE_FILES)


def test_run_on_a_file_leaves_the_committed_figures_alone(sample_run):
    _, _, before, after = sample_run
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    assert changed == [], f"figures/ changed during the run: {changed}"


def test_successful_run_prints_nothing_on_stderr(sample_run):
    result, _, _, _ = sample_run
    assert result.returncode == 0
    assert result.stderr == ""


def test_executed_copy_holds_no_absolute_path(sample_run):
    _, out, _, _ = sample_run
    text = (out / config.NOTEBOOK_PATH.name).read_text(encoding="utf-8")
    assert not ABSOLUTE_PATH.search(text), ABSOLUTE_PATH.search(text)


def test_executed_copy_reads_its_parameters_relative_to_the_project_root(sample_run):
    _, out, _, _ = sample_run
    executed = nbformat.read(out / config.NOTEBOOK_PATH.name, as_version=4)
    tags = [cell.metadata.get("tags", []) for cell in executed.cells]
    at = next(i for i, cell_tags in enumerate(tags) if nb_runner.PARAMETERS_TAG in cell_tags)
    assert nb_runner.INJECTED_TAG in tags[at + 1]
    assert executed.cells[at + 1].source == (
        "# Parameters\n"
        f"DATA_PATH = {config.SAMPLE_PATH.relative_to(config.PROJECT_ROOT).as_posix()!r}\n"
        f"OUTPUT_DIR = {os.path.relpath(out, config.PROJECT_ROOT)!r}\n"
    )


def test_executed_copy_ran_every_cell_without_error_or_timing(sample_run):
    _, out, _, _ = sample_run
    for cell in json.loads((out / config.NOTEBOOK_PATH.name).read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "code":
            assert cell["execution_count"] is not None
            assert "execution" not in cell["metadata"]
            assert all(output["output_type"] != "error" for output in cell["outputs"])


@pytest.mark.parametrize("bad", ["header_only_absolute", "missing_relative_to_the_cwd"])
def test_bad_file_gives_the_cli_line_exit_2_and_no_notebook(tmp_path, bad):
    if bad == "header_only_absolute":
        (tmp_path / "export.csv").write_text(
            "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n", encoding="utf-8")
        data, cwd = str(tmp_path / "export.csv"), None
    else:
        data, cwd = "missing.csv", tmp_path
    out = tmp_path / "out"
    cli = run_module("segmentation", data, "--out", str(tmp_path / "cli_out"), cwd=cwd)
    run = run_module("segmentation.presentation.notebook", "--data", data, "--out", str(out), cwd=cwd)
    assert cli.returncode == 2 and cli.stderr.startswith("error: "), cli.stderr
    assert run.returncode == 2
    assert run.stderr == cli.stderr
    assert run.stderr.count("\n") == 1
    assert not (out / config.NOTEBOOK_PATH.name).exists()


def _tiny_notebook(folder: Path, *sources: str) -> Path:
    """A notebook with a parameters cell and ``sources`` as code cells."""
    cells = [nbformat.v4.new_code_cell("DATA_PATH = None\nOUTPUT_DIR = None", metadata={"tags": ["parameters"]}),
             *(nbformat.v4.new_code_cell(source) for source in sources)]
    path = folder / "tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def test_a_failing_cell_is_named_and_nothing_is_written(tmp_path):
    tiny = _tiny_notebook(tmp_path, "x = 1", "raise KeyError('boom')")
    out = tmp_path / "out"
    with pytest.raises(nb_runner.NotebookFailed, match=r"failed in cell 3 \(KeyError: 'boom'\)"):
        nb_runner.execute_on_file(config.SAMPLE_PATH, out_dir=out, notebook=tiny)
    assert not out.exists()


def test_invoice_data_error_in_a_cell_is_raised_with_the_users_spelling_of_the_file(tmp_path):
    tiny = _tiny_notebook(tmp_path, "from segmentation import config, load_invoices\n"
                                    "load_invoices(config.resolve_input(DATA_PATH))")
    typed = tmp_path / "absent.csv"
    with pytest.raises(InvoiceDataError) as raised:
        nb_runner.execute_on_file(typed, out_dir=tmp_path / "out", notebook=tiny)
    assert str(raised.value).startswith(f"{typed}: no such file")


def test_in_place_run_is_byte_for_byte_repeatable_and_a_failed_one_leaves_the_file(tmp_path):
    tiny = _tiny_notebook(tmp_path, "print(DATA_PATH, OUTPUT_DIR)")
    first = nb_runner.execute_in_place(tiny).read_bytes()
    assert nb_runner.execute_in_place(tiny).read_bytes() == first
    assert "None None" in first.decode()
    broken = nbformat.read(tiny, as_version=4)
    broken.cells.append(nbformat.v4.new_code_cell("1 / 0"))
    nbformat.write(broken, tiny)
    unexecuted = tiny.read_bytes()
    with pytest.raises(nb_runner.NotebookFailed, match="ZeroDivisionError"):
        nb_runner.execute_in_place(tiny)
    assert tiny.read_bytes() == unexecuted
    assert [path.name for path in tmp_path.iterdir()] == ["tiny.ipynb"]


def test_injected_parameters_follow_the_parameters_cell_and_replace_earlier_ones():
    document = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("DATA_PATH = None", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("# Parameters\nDATA_PATH = 'old.csv'\n", metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("print(DATA_PATH)"),
    ])
    injected = nb_runner.with_parameters(document, {"DATA_PATH": "data/new.csv"})
    assert [cell.source for cell in injected.cells] == [
        "# Title", "DATA_PATH = None", "# Parameters\nDATA_PATH = 'data/new.csv'\n", "print(DATA_PATH)"]
    assert injected.cells[2].id == nb_runner.INJECTED_TAG
    assert len(document.cells) == 4 and document.cells[2].source.endswith("'old.csv'\n")  # input untouched


def _make(*args: str) -> subprocess.CompletedProcess:
    """``make`` in the project root with this interpreter's folder as the venv's, never rebuilding it."""
    return subprocess.run(["make", "-s", "-o", ".venv/.installed", f"BIN={Path(sys.executable).parent}", *args],
                          cwd=config.PROJECT_ROOT, capture_output=True, text=True, timeout=120)


def test_make_takes_a_data_path_with_spaces_quotes_and_dollars_as_typed(tmp_path):
    path = tmp_path / "my export $HOME 'q\".csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    result = _make("run", f"DATA={path}")
    assert f"error: {path}: missing column(s)" in result.stderr  # the name reached the command whole
    assert "Traceback" not in result.stderr
    report = _make("report", f"DATA={path}")
    assert report.returncode != 0 and "no executed notebook there" in report.stderr


def test_the_notebooks_counts_on_the_messy_sample_are_the_command_lines(sample_run, tmp_path, capsys):
    from segmentation.__main__ import main
    from segmentation.presentation import readme
    from test_populations import counts_in_findings, counts_in_summary

    _, out, _, _ = sample_run
    in_notebook = counts_in_findings(readme.notebook_findings(out / config.NOTEBOOK_PATH.name))
    assert main([str(config.SAMPLE_PATH), "--out", str(tmp_path / "cli")]) == 0
    assert counts_in_summary(capsys.readouterr().out) == in_notebook


def test_three_customers_run_through_the_notebook_with_the_warning_first_in_its_findings(tmp_path):
    from conftest import three_customer_file
    from segmentation.presentation import readme

    executed = nb_runner.execute_on_file(three_customer_file(tmp_path), out_dir=tmp_path / "out")
    found = readme.notebook_findings(executed)
    assert found.startswith("- **Too little data.** Too little data for 3 spend clusters: 3 customers")
    assert "no silhouette (each customer is a cluster of their own)" in found
    assert "describes those customers, not a spend band" in found and "spend bands." not in found
    assert re.search(r"\bnan\b", found, flags=re.IGNORECASE) is None
