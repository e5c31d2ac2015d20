"""Execute the analysis notebook, and render it as one HTML page.

``python -m segmentation.presentation.notebook`` re-executes the committed notebook in place
on the bundled data (its figures go to ``figures/``). With ``--data FILE`` it
leaves the committed notebook alone and writes an executed copy and its
figures into ``data/processed/<FILE name>/`` (or ``--out DIR``). ``--report``
renders the executed notebook as one self-contained HTML page.

An executed notebook is written only when every cell succeeded. Input the
project cannot use gives the command line's one line (``error: ...``, exit 2);
any other failing cell gives one line naming the cell (exit 1).
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from segmentation import config
from segmentation.errors import InvoiceDataError


def missing_extra(module: str, error: ModuleNotFoundError) -> ModuleNotFoundError:
    """The error ``module`` raises when a package of the ``notebook`` extra is not installed."""
    return ModuleNotFoundError(f"{module} needs {error.name}: pip install 'segmentation[notebook]'", name=error.name)


#: A package that jsonschema (imported by nbformat) turns into an RFC 3987 grammar on import, over
#: a second, for the "iri" string format; notebook validation checks no string format, so it is
#: hidden from that import.
UNUSED_GRAMMAR = "rfc3987_syntax"

try:
    _grammar_hidden = UNUSED_GRAMMAR not in sys.modules
    if _grammar_hidden:
        sys.modules[UNUSED_GRAMMAR] = None  # type: ignore[assignment]  # None: import raises ImportError
    try:
        import nbformat
    finally:
        if _grammar_hidden:
            del sys.modules[UNUSED_GRAMMAR]
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
except ModuleNotFoundError as error:  # the optional extra is not installed
    raise missing_extra(__name__, error) from None

KERNEL = "python3"
TIMEOUT_S = 1800
#: The tag of the notebook's settings cell, and of the cell that overrides them (papermill's names).
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
#: Exit codes of ``main``: input the project cannot use (as the CLI), any other failure.
EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
#: Where the HTML page of the committed notebook goes (never beside the notebook).
REPORT_DIR = config.PROCESSED_DIR / "report"


class NotebookFailed(RuntimeError):
    """A cell raised an error other than ``InvoiceDataError``, timed out, or the kernel died.

    The message is one line naming the cell; nothing was written.
    """


class ReportRefused(ValueError):
    """The notebook to render is missing, not executed, or holds an error output."""


def execute_in_place(notebook: Path = config.NOTEBOOK_PATH, *, progress: bool = False) -> Path:
    """Run every cell of ``notebook`` with its own parameters and save it over itself.

    The notebook is replaced only when every cell succeeded. No timing metadata is
    recorded, so an unchanged analysis gives an unchanged file. ``InvoiceDataError``
    from a cell names the input as ``make run`` gives it: relative to the project root.
    ``progress`` prints each section's heading as it starts (:func:`section_starts`).
    """
    document = read_notebook(notebook)
    try:
        _run_cells(document, notebook, progress=progress)
    except InvoiceDataError as error:
        relative = _from_project_root(config.resolve_input(_parameter(document, PARAMETERS_TAG)))
        raise InvoiceDataError(_respell(str(error), _spellings(relative), relative)) from None
    write_notebook(document, notebook)
    return notebook


def execute_on_file(data_path: str | Path, *, out_dir: str | Path | None = None,
                    notebook: Path = config.NOTEBOOK_PATH, progress: bool = False) -> Path:
    """Run ``notebook`` on ``data_path``; return the executed copy, ``<out_dir>/<notebook name>``.

    ``out_dir`` defaults to ``config.output_dir_for(data_path)``; the notebook saves its
    figures there too. Both paths are written into the notebook relative to the project
    root (the notebook resolves them from there), so the copy holds no machine's folders.
    Nothing is written when a cell fails; ``InvoiceDataError`` from a cell is raised
    here with the message the command line prints for the same file. ``progress`` as for
    :func:`execute_in_place`.
    """
    data_path = Path(data_path)
    out_dir = Path(out_dir) if out_dir is not None else config.output_dir_for(data_path)
    parameters = {"DATA_PATH": _from_project_root(data_path), "OUTPUT_DIR": _from_project_root(out_dir)}
    document = with_parameters(read_notebook(notebook), parameters)
    try:
        _run_cells(document, notebook, progress=progress)
    except InvoiceDataError as error:
        spellings = _spellings(parameters["DATA_PATH"])
        raise InvoiceDataError(_respell(str(error), spellings, str(data_path))) from None
    executed = out_dir / notebook.name
    write_notebook(document, executed)
    return executed


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path``, as nbformat version 4."""
    return nbformat.read(path, as_version=4)


def write_notebook(document: nbformat.NotebookNode, path: Path) -> None:
    """Write ``document`` to ``path`` atomically (validated by nbformat)."""
    from segmentation.export import atomic_path  # pandas: only when something is written

    with atomic_path(path) as temporary:
        nbformat.write(document, temporary)


def with_parameters(document: nbformat.NotebookNode, parameters: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of ``document`` with a cell setting ``parameters`` right after its ``parameters`` cell.

    The new cell is tagged ``injected-parameters`` (as papermill does) and replaces any
    earlier one; its id is fixed, so the same parameters give the same file.
    """
    document = copy.deepcopy(document)
    cells = [cell for cell in document.cells if INJECTED_TAG not in cell.metadata.get("tags", [])]
    tagged = [i for i, cell in enumerate(cells) if PARAMETERS_TAG in cell.metadata.get("tags", [])]
    if not tagged:
        raise NotebookFailed("the notebook has no cell tagged 'parameters'; tag its settings cell")
    source = "# Parameters\n" + "".join(f"{name} = {value!r}\n" for name, value in parameters.items())
    injected = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
    injected.id = INJECTED_TAG
    document.cells = [*cells[: tagged[0] + 1], injected, *cells[tagged[0] + 1:]]
    return document


def _from_project_root(path: Path) -> str:
    """``path`` (relative: to the cwd) as the notebook reads it: relative to the project root."""
    return Path(os.path.relpath(os.path.abspath(path), config.PROJECT_ROOT)).as_posix()


def _spellings(relative: str) -> list[str]:
    """How the notebook may write the input's path in a message, longest first."""
    inside = config.resolve_input(relative)
    return sorted({str(inside), str(inside.resolve()), os.path.normpath(inside), relative}, key=len, reverse=True)


def _respell(message: str, spellings: list[str], typed: str) -> str:
    """``message`` with the notebook's spelling of the input replaced, in one pass, by the user's."""
    return re.sub("|".join(map(re.escape, spellings)), lambda _: typed, message)


def section_starts(document: nbformat.NotebookNode) -> dict[int, str]:
    """{index of a section's first code cell: the section's heading}, for each ``## `` heading
    followed by code (the settings section, tagged ``REPORT_HIDDEN``, included)."""
    starts, heading = {}, None
    for index, cell in enumerate(document.cells):
        if cell.cell_type == "markdown":
            heading = next((line[3:].strip() for line in cell.source.splitlines() if line.startswith("## ")), heading)
        elif cell.cell_type == "code" and heading is not None:
            starts[index], heading = heading, None
    return starts


def _progress_printer(document: nbformat.NotebookNode) -> Callable[..., None]:
    """An ``on_cell_start`` hook that prints ``  <heading>  (N s)`` as each section starts."""
    starts, started = section_starts(document), time.monotonic()
    sections = len(starts)

    def print_section(*, cell: nbformat.NotebookNode, cell_index: int) -> None:
        if cell_index in starts:
            number = list(starts).index(cell_index) + 1
            print(f"  notebook {number}/{sections}: {starts[cell_index]}  ({time.monotonic() - started:.0f} s)",
                  flush=True)

    return print_section


def _run_cells(document: nbformat.NotebookNode, notebook: Path, *, progress: bool = False) -> None:
    """Execute ``document`` in a fresh kernel started in ``notebook``'s folder, then stop it.

    The kernel's own output (debugger notes, its goodbye) goes to a scratch log, not to this
    process's stderr. ``progress`` prints each section's heading as it starts.
    """
    with tempfile.TemporaryDirectory(prefix="segmentation-kernel-") as scratch:
        hooks = {"on_cell_start": _progress_printer(document)} if progress else {}
        client = NotebookClient(
            document,
            km=_local_kernel(scratch),
            kernel_name=KERNEL,
            timeout=TIMEOUT_S,
            record_timing=False,
            shutdown_kernel="graceful",
            resources={"metadata": {"path": str(notebook.parent)}},
            **hooks,
        )
        kernel_log = Path(scratch) / "kernel.log"
        with open(kernel_log, "wb") as log:
            try:
                client.execute(cleanup_kc=True, stdout=log, stderr=log)
            except CellExecutionError as error:
                raise _cell_error(document, error) from None
            except CellTimeoutError:
                raise NotebookFailed(f"a cell of {notebook.name} ran longer than {TIMEOUT_S} s") from None
            except DeadKernelError:
                last = (kernel_log.read_text(errors="replace").strip().splitlines() or ["no message"])[-1]
                raise NotebookFailed(f"the kernel running {notebook.name} died ({last}); "
                                     "out of memory? try a smaller file") from None


def _local_kernel(socket_dir: str) -> AsyncKernelManager:
    """A kernel that talks over local sockets in ``socket_dir``, not over TCP."""
    return AsyncKernelManager(kernel_name=KERNEL, transport="ipc", ip=str(Path(socket_dir) / "kernel"))


def _cell_error(document: nbformat.NotebookNode, error: CellExecutionError) -> Exception:
    """The exception a failed cell turns into: the user's ``InvoiceDataError``, or ``NotebookFailed``."""
    if error.ename == InvoiceDataError.__name__:
        return InvoiceDataError(error.evalue)
    where = next((_cell_name(document, i) for i, cell in enumerate(document.cells)
                  if any(output.output_type == "error" for output in cell.get("outputs", []))), "a cell")
    first_line = (error.evalue.splitlines() or [""])[0]
    return NotebookFailed(f"the notebook failed in {where} ({error.ename}: {first_line}); nothing was saved: "
                          "open the notebook in Jupyter to see the traceback")


def _cell_name(document: nbformat.NotebookNode, index: int) -> str:
    """``cell N``, counting the notebook's own cells from 1 (the injected parameters are not one)."""
    if INJECTED_TAG in document.cells[index].metadata.get("tags", []):
        return "the injected parameters cell"
    own = [i for i, cell in enumerate(document.cells) if INJECTED_TAG not in cell.metadata.get("tags", [])]
    return f"cell {own.index(index) + 1}"


#: The report: JupyterLab's page with nothing fetched from the network (no require.js,
#: MathJax, Mermaid or widget scripts), and CSS that keeps every table and figure
#: inside the window.
REPORT_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">
main { max-width: 1100px; margin: 0 auto; padding: 1em 1.5em; box-sizing: border-box; }
.jp-Cell, .jp-Cell-outputWrapper, .jp-OutputArea, .jp-OutputArea-child, .jp-OutputArea-output,
.jp-RenderedHTMLCommon { max-width: 100%; min-width: 0; box-sizing: border-box; }
.jp-RenderedHTMLCommon table { max-width: 100%; table-layout: auto; }
.jp-RenderedHTMLCommon th, .jp-RenderedHTMLCommon td { white-space: normal; overflow-wrap: break-word; }
.jp-OutputArea-output { overflow-x: auto; }
.jp-OutputArea-output pre { white-space: pre-wrap; overflow-wrap: anywhere; }
img { max-width: 100%; height: auto; }
</style>
{%- endblock extra_css -%}
{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
{%- set alttext = output | get_metadata('alt', 'image/png') -%}
{%- if alttext is not none %} alt="{{ alttext | escape_html }}"{%- endif %}>
</div>
{%- endblock data_png %}
"""
REPORT_TEMPLATE_NAME = "segmentation-report.html.j2"
#: The tag of the notebook's cells that speak to whoever runs it (its settings, where its files go),
#: left out of the report for readers.
REPORT_HIDDEN = "report-hidden"


def render_html(notebook: Path, html_path: Path) -> Path:
    """Write the executed ``notebook`` as one self-contained HTML page and return its path.

    Markdown, tables, figures and printed text only: code and In/Out prompts are
    hidden, so are the cells tagged ``REPORT_HIDDEN`` (the run's settings and where its files
    go); figures are embedded as data URIs, with their alternative text
    (:func:`describe_figures`), and nothing is fetched from the network.
    The page title is the notebook's first ``# `` heading and the input file's name.
    Refuses (``ReportRefused``) a notebook that is missing, not executed, or holds an error.
    """
    try:
        from jinja2 import DictLoader
        from nbconvert import HTMLExporter
    except ModuleNotFoundError as error:
        raise missing_extra(__name__, error) from None
    from segmentation.export import atomic_path

    document = _executed_notebook(notebook)
    document.metadata["title"] = report_title(document)
    document.cells = [cell for cell in document.cells if REPORT_HIDDEN not in cell.metadata.get("tags", [])]
    describe_figures(document)
    exporter = HTMLExporter(
        template_name="lab",
        template_file=REPORT_TEMPLATE_NAME,
        extra_loaders=[DictLoader({REPORT_TEMPLATE_NAME: REPORT_TEMPLATE})],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(document, resources={"metadata": {"name": notebook.stem}})
    with atomic_path(html_path) as temporary:
        temporary.write_text(body, encoding="utf-8")
    return html_path


#: A figure a cell draws, named in its code (``plots.FORECAST_CHECK``).
_FIGURE_NAME = re.compile(r"\bplots\.([A-Z][A-Z_]+)\b")


def describe_figures(document: nbformat.NotebookNode) -> None:
    """Give each figure output of ``document`` its alternative text: ``plots.FIGURE_DESCRIPTIONS`` of the
    figure file its cell saves (``plots.save_figure(fig, figures_dir / plots.NAME)``)."""
    from segmentation.presentation import plots

    for cell in document.cells:
        if cell.cell_type != "code":
            continue
        names = [getattr(plots, name, None) for name in _FIGURE_NAME.findall(cell.source)]
        described = [plots.FIGURE_DESCRIPTIONS[name] for name in names if name in plots.FIGURE_DESCRIPTIONS]
        for output in cell.get("outputs", []):
            if described and "image/png" in output.get("data", {}):
                output.setdefault("metadata", {}).setdefault("image/png", {})["alt"] = described[0]


def _executed_notebook(notebook: Path) -> nbformat.NotebookNode:
    """``notebook`` read, after checking that every code cell ran and none failed."""
    shown = _shown(notebook)
    if not notebook.is_file():
        raise ReportRefused(f"{shown}: no executed notebook there; run `make run` (DATA=... for your file) first")
    document = read_notebook(notebook)
    for number, cell in enumerate(document.cells, start=1):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        if cell.get("execution_count") is None:
            raise ReportRefused(f"{shown}: cell {number} has not been executed; run `make run` first")
        for output in cell.outputs:
            if output.output_type == "error":
                raise ReportRefused(f"{shown}: cell {number} holds an error ({output.ename}); "
                                    "fix it and run `make run` again")
    return document


def report_title(document: nbformat.NotebookNode) -> str:
    """``<first # heading> — <input file name>``: the input is the injected DATA_PATH, else the default."""
    heading = next((line[2:].strip() for cell in document.cells if cell.cell_type == "markdown"
                    for line in cell.source.splitlines() if line.startswith("# ")), config.NOTEBOOK_PATH.stem)
    data_path = _parameter(document, INJECTED_TAG) or _parameter(document, PARAMETERS_TAG)
    return f"{heading} — {Path(data_path or config.DEFAULT_DATA_PATH).name}"


def _parameter(document: nbformat.NotebookNode, tag: str, name: str = "DATA_PATH") -> str | None:
    """The literal value the first cell tagged ``tag`` assigns to ``name`` (None if none)."""
    for cell in document.cells:
        if cell.cell_type == "code" and tag in cell.metadata.get("tags", []):
            try:
                statements = ast.parse(cell.source).body
            except SyntaxError:  # IPython magics
                return None
            for statement in statements:
                if isinstance(statement, ast.Assign) and any(
                        isinstance(target, ast.Name) and target.id == name for target in statement.targets):
                    try:
                        return ast.literal_eval(statement.value)
                    except ValueError:
                        return None
    return None


def report_path_for(executed: Path) -> Path:
    """Where the HTML page of an executed notebook goes (never beside the committed one)."""
    if executed.resolve() == config.NOTEBOOK_PATH.resolve():
        return REPORT_DIR / f"{executed.stem}.html"
    return executed.with_suffix(".html")


def _shown(path: Path) -> str:
    """``path`` for a message: relative to the project root when inside it."""
    absolute = Path(os.path.abspath(path))
    if absolute.is_relative_to(config.PROJECT_ROOT):
        return absolute.relative_to(config.PROJECT_ROOT).as_posix()
    return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m segmentation.presentation.notebook", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="run on this file instead of the bundled data")
    parser.add_argument("--out", type=Path,
                        help="with --data: folder for the executed copy and figures "
                             "(default: data/processed/<FILE name>/)")
    parser.add_argument("--report", action="store_true",
                        help="also render the executed notebook as one HTML page")
    parser.add_argument("--no-execute", action="store_true",
                        help="do not execute; use the notebook as last executed")
    parser.add_argument("--progress", action="store_true",
                        help="print each section's heading as it starts running")
    args = parser.parse_args(argv)
    if args.out is not None and args.data is None:
        parser.error("--out needs --data (the in-place run writes figures/)")
    try:
        if args.data is None:
            executed = config.NOTEBOOK_PATH if args.no_execute else execute_in_place(progress=args.progress)
        elif args.no_execute:
            executed = (args.out or config.output_dir_for(args.data)) / config.NOTEBOOK_PATH.name
        else:
            executed = execute_on_file(args.data, out_dir=args.out, progress=args.progress)
        if not args.no_execute:
            print(f"notebook: {_shown(executed)}")
        if args.report:
            print(f"report: {_shown(render_html(executed, report_path_for(executed)))}")
    except (InvoiceDataError, ReportRefused) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except NotebookFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
