"""Command line: ``python -m segmentation INPUT [--out DIR] [--k 3] ...``.

Writes ``customers.csv``, ``ledger.csv`` and ``clusters.csv`` into the output
folder and prints a short summary. Input the project cannot use gives one line
on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from segmentation import columns as c
from segmentation import config
from segmentation.errors import InvoiceDataError
from segmentation.export import write_csv
from segmentation.pipeline import describe_run, segment_file

EXIT_BAD_INPUT = 2
_INPUT_SUFFIXES = (".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip", ".csv", ".zip", ".gz",
                   ".xlsx", ".xlsm", ".xls", ".parquet", ".pq", ".txt")


def default_output_dir(input_path: Path) -> Path:
    """``data/processed/<input file name without its extensions>/``."""
    name = input_path.name
    for suffix in _INPUT_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return config.PROCESSED_DIR / name


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
    out_dir = args.out if args.out is not None else default_output_dir(args.input)
    try:
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
    print(describe_run(run))
    print(f"wrote customers.csv, ledger.csv, clusters.csv to {out_dir}")
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
