"""Command line: ``python -m segmentation INPUT [--out DIR] [--k 3] ...``.

Writes ``customers.csv``, ``ledger.csv``, ``clusters.csv`` and the three
figures into the output folder and prints a short summary. Input the project cannot use gives one line
on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt

from segmentation import columns as c
from segmentation import plots
from segmentation import config
from segmentation.errors import InvoiceDataError
from segmentation.export import write_csv
from segmentation.pipeline import describe_run, segment_file

EXIT_BAD_INPUT = 2


OUTPUT_FILES = ("customers.csv", "ledger.csv", "clusters.csv", *plots.FIGURE_FILES)


def check_output_dir(out_dir: Path, *, input_path: Path) -> None:
    """Refuse an output folder that would overwrite the input or sit beside the committed sample."""
    out_dir = out_dir.resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise InvoiceDataError(f"{out_dir}: --out is a file, not a folder; give a folder for the results.")
    if input_path.exists() and input_path.resolve() in {out_dir / name for name in OUTPUT_FILES}:
        raise InvoiceDataError(
            f"{input_path}: writing the results into {out_dir} would overwrite the input file; "
            "choose another --out folder."
        )
    if out_dir in {config.DATA_DIR.resolve(), config.PROJECT_ROOT.resolve()}:
        raise InvoiceDataError(
            f"{out_dir}: results are not written beside the committed sample and project files; "
            "leave out --out (results go to data/processed/<input name>/) or choose another folder."
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m segmentation",
        description="Segment customers from an invoice-line file (KMeans on Total_Bill_Size).",
    )
    parser.add_argument("input", type=Path, help="invoice lines: .csv, .csv.gz, .zip, .xlsx or .parquet")
    parser.add_argument("--out", type=Path, help="output folder (default: data/processed/<input name>/)")
    parser.add_argument("--k", type=int, default=config.N_CLUSTERS, help="number of clusters (default: 3)")
    parser.add_argument("--spend", choices=("net", "gross"), default="net",
                        help="Total_Bill_Size net of matched returns (default) or gross")
    parser.add_argument("--sheet", help="Excel: read only this sheet (default: every sheet)")
    parser.add_argument("--date-format", help="strftime format of InvoiceDate text, e.g. '%%d/%%m/%%Y %%H:%%M'")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    out_dir = args.out if args.out is not None else config.output_dir_for(args.input)
    try:
        check_output_dir(out_dir, input_path=args.input)
        run = segment_file(
            args.input, k=args.k, spend=args.spend, sheet=args.sheet, date_format=args.date_format
        )
    except InvoiceDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    customers = run.customers.copy()
    customers[c.CLUSTER] = customers[c.CLUSTER].astype("Int64")
    write_csv(customers, out_dir / "customers.csv")
    write_csv(run.cleaning.ledger.round({c.LEDGER_AMOUNT: 2}), out_dir / "ledger.csv")
    write_csv(run.clusters.round(4), out_dir / "clusters.csv")
    for name, figure in plots.draw_figures(run.customers, run.clustering).items():
        plots.save_figure(figure, out_dir / name)
        plt.close(figure)
    print(describe_run(run))
    print(f"wrote customers.csv, ledger.csv, clusters.csv and {len(plots.FIGURE_FILES)} figures to {out_dir}")
    return 0


def _run() -> int:
    """``main`` for a shell: a reader that closes the pipe early (``| head``) is not an error."""
    try:
        return main()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(_run())
