"""Command line: ``python -m segmentation INPUT [--out DIR] [--k 3|auto|elbow] [--features spend|rfm] [--log] ...``.

Writes ``customers.csv``, ``ledger.csv``, ``clusters.csv``,
``customer_segments.csv`` (every customer, every segmentation; safe to open in
a spreadsheet), with ``--as-of`` ``validation.csv``, and the figures into the
output folder and prints a short summary. Input the project cannot use gives one line
on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from segmentation import columns as c
from segmentation import config, plots
from segmentation.diagnostics import K_RULES
from segmentation.engines import ENGINES, OutcomeWindow, engine_named
from segmentation.errors import InvoiceDataError
from segmentation.export import neutralise_formulas, write_csv, write_customer_segments
from segmentation.pipeline import describe_run, segment_file
from segmentation.rfm import load_segment_map

EXIT_BAD_INPUT = 2
CUSTOMER_SEGMENTS_CSV = "customer_segments.csv"
VALIDATION_CSV = "validation.csv"


def _k_value(text: str) -> int | str:
    """``--k``: a whole number of clusters >= 1, or a rule of diagnostics.choose_k."""
    if text in K_RULES:
        return text
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or one of {', '.join(K_RULES)}, not {text!r}") from None
    if k < 1:
        raise argparse.ArgumentTypeError(f"k must be at least 1, not {k}")
    return k


def _date_value(text: str) -> pd.Timestamp:
    """``--as-of``: a calendar date, YYYY-MM-DD."""
    try:
        return pd.Timestamp(datetime.date.fromisoformat(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, not {text!r}") from None


def _positive_days(text: str) -> int:
    """``--horizon-days``: a whole number of days >= 1."""
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of days, not {text!r}") from None
    if days < 1:
        raise argparse.ArgumentTypeError(f"the horizon must be at least 1 day, not {days}")
    return days


def _positive_seconds(text: str) -> float:
    """``--scheduler-timeout``: a number of seconds above 0."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"the timeout must be a number of seconds above 0, not {text}")
    return seconds


#: Every file a run may write into its output folder.
OUTPUT_FILES = ("customers.csv", "ledger.csv", "clusters.csv", CUSTOMER_SEGMENTS_CSV, VALIDATION_CSV,
                *plots.ALL_FIGURE_FILES)


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
        description="Segment customers from an invoice-line file (KMeans on Total_Bill_Size, or on RFM).",
    )
    parser.add_argument("input", type=Path, help="invoice lines: .csv, .csv.gz, .zip, .xlsx or .parquet")
    parser.add_argument("--out", type=Path, help="output folder (default: data/processed/<input name>/)")
    parser.add_argument("--k", type=_k_value, default=config.N_CLUSTERS,
                        help="number of clusters (default: 3); 'auto': the best silhouette of k = 2..10, "
                             "'elbow': the inertia elbow (kneed)")
    parser.add_argument("--features", choices=tuple(c.FEATURE_SETS), default=c.SPEND_FEATURE_SET,
                        help="cluster on Total_Bill_Size ('spend', default) or on Recency_Days, Frequency "
                             "and Total_Bill_Size ('rfm')")
    parser.add_argument("--log", action="store_true", help="take log1p of the features before standardising")
    parser.add_argument("--spend", choices=("net", "gross"), default="net",
                        help="Total_Bill_Size net of matched returns (default) or gross")
    parser.add_argument("--rfm-k", type=_k_value, default=config.RFM_K_RULE,
                        help="clusters of KMeans on log1p RFM in customer_segments.csv: a number, 'auto' or "
                             f"'elbow' (default: {config.RFM_K_RULE})")
    parser.add_argument("--segment-map", type=Path, metavar="FILE",
                        help="TOML file of named RFM segments over (R score, FM score) cells (default: the "
                             "packaged map; segmentation/segment_map.toml shows the format)")
    parser.add_argument("--as-of", type=_date_value, metavar="DATE",
                        help="build features only from lines before DATE (YYYY-MM-DD) and check the segments "
                             "against what customers did in the --horizon-days after it (validation.csv)")
    parser.add_argument("--horizon-days", type=_positive_days, default=config.HORIZON_DAYS,
                        help=f"days after --as-of in which purchases are counted (default: {config.HORIZON_DAYS})")
    parser.add_argument("--sheet", help="Excel: read only this sheet (default: every sheet)")
    parser.add_argument("--date-format", help="strftime format of InvoiceDate text, e.g. '%%d/%%m/%%Y %%H:%%M'")
    parser.add_argument("--engine", choices=ENGINES, default="pandas",
                        help="build the customer table in memory with pandas (default) or out of core with "
                             "Dask; with dask INPUT may be a glob or a folder of CSV/Parquet files")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="dask: address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                             "(default: a local cluster, one worker per core)")
    parser.add_argument("--scheduler-timeout", type=_positive_seconds, default=config.DASK_SCHEDULER_TIMEOUT,
                        metavar="SECONDS",
                        help="dask: how long to wait for --scheduler to answer "
                             f"(default: {config.DASK_SCHEDULER_TIMEOUT:g})")
    parser.add_argument("--worker-memory", default=config.DASK_WORKER_MEMORY,
                        help="dask, local cluster: memory limit of each worker, which spills to disk above it "
                             f"(default: {config.DASK_WORKER_MEMORY}, at least {config.DASK_MIN_WORKER_MEMORY})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    out_dir = args.out if args.out is not None else config.output_dir_for(args.input)
    if args.scheduler and args.engine != "dask":
        print("error: --scheduler needs --engine dask", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.worker_memory != config.DASK_WORKER_MEMORY and args.engine != "dask":
        print("error: --worker-memory needs --engine dask", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.scheduler_timeout != config.DASK_SCHEDULER_TIMEOUT and not args.scheduler:
        print("error: --scheduler-timeout needs --scheduler", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.engine == "dask" and importlib.util.find_spec("distributed") is None:
        print("error: --engine dask needs Dask: pip install 'segmentation[dask]'", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.horizon_days != config.HORIZON_DAYS and args.as_of is None:
        print("error: --horizon-days needs --as-of", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        engine = engine_named(args.engine, scheduler=args.scheduler, worker_memory=args.worker_memory,
                              scheduler_timeout=args.scheduler_timeout)
        check_output_dir(out_dir, input_path=args.input)
        segment_map = load_segment_map(args.segment_map)
        window = OutcomeWindow(args.as_of, args.horizon_days) if args.as_of is not None else None
        run = segment_file(
            args.input, k=args.k, spend=args.spend, sheet=args.sheet, date_format=args.date_format,
            features=args.features, log=args.log, engine=engine,
            rfm_k=args.rfm_k, segment_map=segment_map, window=window,
        )
    except InvoiceDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    customers = neutralise_formulas(run.customers.assign(**{c.CLUSTER: run.customers[c.CLUSTER].astype("Int64")}))
    write_csv(customers, out_dir / "customers.csv")
    write_csv(run.ledger.round({c.LEDGER_AMOUNT: 2}), out_dir / "ledger.csv")
    write_csv(run.clusters.round(4), out_dir / "clusters.csv")
    write_customer_segments(run.segments_table, out_dir / CUSTOMER_SEGMENTS_CSV)
    written = ["customers.csv", "ledger.csv", "clusters.csv", CUSTOMER_SEGMENTS_CSV]
    if run.validation is not None:
        write_csv(run.validation.round(6), out_dir / VALIDATION_CSV)
        written.append(VALIDATION_CSV)
    else:
        (out_dir / VALIDATION_CSV).unlink(missing_ok=True)  # an earlier run's check is not this run's
    figures = plots.draw_figures(run.customers, run.clustering, scan=run.scan, scan_summary=run.scan_summary,
                                 choice=run.k_choice)
    if run.validation is not None:
        figures[plots.VALIDATION] = plots.plot_validation(run.validation, as_of=run.window.as_of,
                                                          horizon_days=run.window.horizon_days)
    else:
        (out_dir / plots.VALIDATION).unlink(missing_ok=True)
    for name, figure in figures.items():
        plots.save_figure(figure, out_dir / name)
        plt.close(figure)
    print(describe_run(run))
    print(f"wrote {', '.join(written)} and {len(figures)} figures to {out_dir}")
    return 0


def run() -> int:
    """``main`` for a shell: a reader that closes the pipe early (``| head``) is not an error."""
    try:
        return main()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(run())
