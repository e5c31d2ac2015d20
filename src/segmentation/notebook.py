"""Execute the analysis notebook, and render it as one HTML page.

``python -m segmentation.notebook`` re-executes the committed notebook in place
on the bundled sample (its figures go to ``figures/``). With ``--data FILE`` it
leaves the committed notebook alone and writes an executed copy, its figures
and the CLI's tables into ``data/processed/<FILE name>/``. ``--report`` renders
an executed notebook as a self-contained HTML page.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import nbformat
import papermill
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from segmentation import config
from segmentation.export import atomic_path

KERNEL = "python3"
TIMEOUT_S = 1800


def execute_in_place(notebook: Path = config.NOTEBOOK_PATH) -> Path:
    """Run every cell of ``notebook`` with its own parameters and save it over itself.

    No timing metadata is recorded, so an unchanged analysis gives an unchanged file.
    """
    document = nbformat.read(notebook, as_version=4)
    with tempfile.TemporaryDirectory() as sockets:
        _execute(document, notebook.parent, _local_kernel(sockets))
    with atomic_path(notebook) as temporary:
        nbformat.write(document, temporary)
    return notebook


def _execute(document: nbformat.NotebookNode, folder: Path, manager: KernelManager) -> None:
    client = NotebookClient(
        document,
        km=manager,
        kernel_name=KERNEL,
        timeout=TIMEOUT_S,
        record_timing=False,
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute()


def execute_on_file(data_path: Path, *, notebook: Path = config.NOTEBOOK_PATH) -> Path:
    """Run ``notebook`` on ``data_path``; the executed copy and figures go to its output folder."""
    out_dir = config.output_dir_for(data_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / notebook.name
    with tempfile.TemporaryDirectory() as sockets:
        manager = _local_kernel(sockets)
        try:
            papermill.execute_notebook(
                str(notebook),
                str(executed),
                parameters={"DATA_PATH": str(Path(data_path).resolve()), "OUTPUT_DIR": str(out_dir)},
                kernel_name=KERNEL,
                progress_bar=False,
                cwd=str(notebook.parent),
                km=manager,
            )
        finally:
            if manager.has_kernel:
                manager.shutdown_kernel()
    return executed


def _local_kernel(socket_dir: str) -> KernelManager:
    """A kernel that talks over local sockets in ``socket_dir``, not over TCP."""
    return KernelManager(kernel_name=KERNEL, transport="ipc", ip=str(Path(socket_dir) / "kernel"))


def render_html(notebook: Path, html_path: Path) -> Path:
    """Write the executed ``notebook`` as one HTML page with its figures embedded."""
    body, _ = HTMLExporter(embed_images=True).from_filename(str(notebook))
    with atomic_path(html_path) as temporary:
        temporary.write_text(body, encoding="utf-8")
    return html_path


def report_path_for(executed: Path) -> Path:
    """Where the HTML page of an executed notebook goes (never beside the committed one)."""
    if executed == config.NOTEBOOK_PATH:
        return config.PROCESSED_DIR / "report" / f"{executed.stem}.html"
    return executed.with_suffix(".html")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m segmentation.notebook", description=__doc__)
    parser.add_argument("--data", type=Path, help="run on this file instead of the bundled sample")
    parser.add_argument("--report", action="store_true",
                        help="also render the executed notebook as one HTML page")
    parser.add_argument("--no-execute", action="store_true",
                        help="do not execute; use the notebook as last executed")
    args = parser.parse_args(argv)
    if args.data is not None:
        executed = config.output_dir_for(args.data) / config.NOTEBOOK_PATH.name
        if not args.no_execute:
            execute_on_file(args.data)
    else:
        executed = config.NOTEBOOK_PATH
        if not args.no_execute:
            execute_in_place()
    print(f"notebook: {executed.relative_to(config.PROJECT_ROOT)}")
    if args.report:
        page = render_html(executed, report_path_for(executed))
        print(f"report: {page.relative_to(config.PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
