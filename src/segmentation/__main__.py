"""Command line: ``python -m segmentation INPUT [--out DIR] [--k 3|auto|elbow] [--features spend|rfm] [--log] ...``,
and ``python -m segmentation score NEW --model PATH/model.json [--out DIR]``.

Writes ``customers.csv``, ``ledger.csv``, ``clusters.csv``,
``customer_segments.csv`` (every customer, every segmentation and the forecast; CSVs
safe to open in a spreadsheet), ``contact_list.csv`` and ``slipping_away.csv``, with
``--as-of`` ``validation.csv``, ``forecast_check.csv`` and ``forecast_scores.csv``, the figures and ``run.json``
(input, its SHA-256, options, version, time) and ``model.json`` (the fitted segmentation, to score
later files with: ``score``, which writes ``customer_segments.csv``, ``migration.csv``, ``movers.csv``,
``migration.png`` and ``run.json``) into the output folder, which is
replaced as a whole at the end (``export.output_folder``), and prints a short
summary. Input the project cannot use gives one line on stderr and exit code 2;
Ctrl-C gives one line and exit code 130, the output folder unchanged.
"""

from __future__ import annotations

import os
import signal

#: Exit code after Ctrl-C (128 + SIGINT), as a shell reports it.
EXIT_INTERRUPTED = 130


def _interrupted_while_starting(signum: int, frame: object) -> None:
    """Ctrl-C while the libraries below load (seconds): one line and exit 130; nothing was written yet."""
    os.write(2, b"interrupted; nothing was written\n")
    os._exit(EXIT_INTERRUPTED)


if __name__ == "__main__" and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _interrupted_while_starting)  # until run() starts


class _CtrlC:
    """Whether Ctrl-C was pressed during this command.

    DuckDB takes a Ctrl-C that lands inside a statement and raises an error of its own ("Query interrupted", or
    one that wraps the KeyboardInterrupt's traceback), so the commands ask this rather than trust an error's
    type; and code below that swallows the KeyboardInterrupt cannot lead to a new output folder either, as the
    commands check this before they replace it."""

    pressed = False

    @classmethod
    def check(cls) -> None:
        """Stop here if a Ctrl-C was pressed and something below took its KeyboardInterrupt."""
        if cls.pressed:
            raise KeyboardInterrupt


def _on_ctrl_c(signum: int, frame: object) -> None:
    """Ctrl-C while the command runs: remember it and stop the command with KeyboardInterrupt."""
    _CtrlC.pressed = True
    rulebook.interrupt()
    raise KeyboardInterrupt


import argparse
import datetime
import importlib.util
import json
import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from segmentation import columns as c
from segmentation import config
from segmentation.analysis import forecast, populations
from segmentation.analysis.diagnostics import K_RULES
from segmentation.analysis.model import (
    CUSTOMER_SEGMENTS_CSV,
    MODEL_FILE,
    describe_drift,
    fitted_model,
    input_sha256,
    package_version,
    read_model,
    write_model,
)
from segmentation.analysis.pipeline import (
    ScoreRun,
    SegmentationRun,
    data_warnings,
    describe_run,
    describe_score,
    score_file,
    segment_file,
)
from segmentation.analysis.rfm import load_segment_map
from segmentation.engines.runners import ENGINES, Engine, OutcomeWindow, engine_named
from segmentation.errors import InvoiceDataError
from segmentation.export import cannot_write, output_folder, write_csv, write_customer_segments
from segmentation.presentation import plots
from segmentation.rules import rulebook

EXIT_BAD_INPUT = 2
#: The pinned Dask packages of a checkout (``make test`` installs them too).
DASK_REQUIREMENTS = "requirements-dask.txt"
SPARK_REQUIREMENTS = "requirements-spark.txt"
VALIDATION_CSV = "validation.csv"
CONTACT_LIST_CSV = "contact_list.csv"
SLIPPING_AWAY_CSV = "slipping_away.csv"
FORECAST_CHECK_CSV = "forecast_check.csv"
FORECAST_SCORES_CSV = "forecast_scores.csv"
#: What each run writes last: its input, options, version and time (the one file two identical runs differ in).
RUN_RECORD = "run.json"
#: What a score run writes beside customer_segments.csv: who moved between segments.
MIGRATION_CSV = "migration.csv"
MOVERS_CSV = "movers.csv"


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


#: A moment whose every date field differs, to check a --date-format by writing it and reading it back.
_PROBE_MOMENT = datetime.datetime(2011, 12, 31, 13, 45, 59)


def _date_format_value(text: str) -> str:
    """``--date-format``: a strptime format that reads a day, a month and a year."""
    try:
        parsed = datetime.datetime.strptime(_PROBE_MOMENT.strftime(text), text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date format ({error}); "
                                         "write it like '%d/%m/%Y %H:%M'") from None
    if parsed.date() != _PROBE_MOMENT.date():
        raise argparse.ArgumentTypeError(f"{text!r} does not read a day, a month and a year; "
                                         "write it like '%d/%m/%Y %H:%M'")
    return text


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
OUTPUT_FILES = ("customers.csv", "ledger.csv", "clusters.csv", CUSTOMER_SEGMENTS_CSV, CONTACT_LIST_CSV,
                SLIPPING_AWAY_CSV, VALIDATION_CSV, FORECAST_CHECK_CSV, FORECAST_SCORES_CSV,
                *plots.ALL_FIGURE_FILES, MODEL_FILE, MIGRATION_CSV, MOVERS_CSV, RUN_RECORD)
#: Every file an earlier run may have left in an output folder: a run's, and the notebook's executed
#: copy and its HTML page (``python -m segmentation.presentation.notebook --data FILE``). A run replaces the
#: folder whole, so a folder holding anything else is refused.
EARLIER_RUN_FILES = frozenset({*OUTPUT_FILES, config.NOTEBOOK_PATH.name,
                               config.NOTEBOOK_PATH.with_suffix(".html").name})
#: Folders of the project that never take results, with everything under them (data/ only itself).
PROJECT_FOLDERS = ("figures", "src", "notebooks", "tests")


def check_output_dir(out_dir: Path, *, input_path: Path) -> None:
    """Refuse an output folder that a run must not replace.

    A run replaces the whole folder (``export.output_folder``), so the folder
    must not hold the input, be part of the project (its root or a folder above
    it, ``data/`` itself, ``figures/``, ``src/``, ``notebooks/``, ``tests/``, a
    folder holding files tracked by git) or hold anything but an earlier run's
    files (``EARLIER_RUN_FILES``, hidden files aside).
    """
    out_dir = out_dir.resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise InvoiceDataError(f"{out_dir}: --out is a file, not a folder; give a folder for the results.")
    if _is_project_folder(out_dir):
        raise InvoiceDataError(
            f"{out_dir}: results are not written beside the committed sample and project files; "
            "leave out --out (results go to data/processed/<input name>/) or choose another folder."
        )
    if input_path.exists() and out_dir in input_path.resolve().parents:
        raise InvoiceDataError(
            f"{input_path}: writing the results into {out_dir} would overwrite the input file; "
            "choose another --out folder."
        )
    others = _not_earlier_run_files(out_dir)
    if others:
        raise InvoiceDataError(
            f"{out_dir}: holds {len(others)} file(s) or folder(s) that are not an earlier run's results "
            f"({', '.join(others[:3])}), and a run replaces the whole folder; give --out a new or empty folder."
        )


def _is_project_folder(folder: Path) -> bool:
    root = config.PROJECT_ROOT.resolve()
    protected = [root / name for name in PROJECT_FOLDERS]
    return (folder in {root, config.DATA_DIR.resolve(), *root.parents}
            or any(folder == top or top in folder.parents for top in protected)
            or _holds_tracked_files(folder))


def _holds_tracked_files(folder: Path) -> bool:
    """Whether git tracks a file under ``folder`` in the project's repository (False without git)."""
    try:
        listed = subprocess.run(["git", "-C", str(config.PROJECT_ROOT), "ls-files", "-z", "--", str(folder)],
                                capture_output=True, check=False, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return listed.returncode == 0 and listed.stdout != b""


def _not_earlier_run_files(folder: Path) -> list[str]:
    """Names in ``folder`` that no earlier run wrote: folders, links, files not in ``EARLIER_RUN_FILES``
    (hidden files aside)."""
    if not folder.is_dir():
        return []
    return sorted(entry.name for entry in folder.iterdir()
                  if entry.is_symlink() or not entry.is_file()
                  or not (entry.name in EARLIER_RUN_FILES or entry.name.startswith(".")))


#: What ``--help`` says after the options: the columns a file needs and what a run writes.
HELP_EPILOG = f"""\
the file needs one row per invoice line with the columns
  {", ".join(c.INVOICE_COLUMNS)}
  (or the "Online Retail II" names {", ".join(c.ONLINE_RETAIL_II_NAMES.values())}); other columns are ignored

a run writes into the output folder
  customer_segments.csv  every customer: segments, recency/frequency/spend scores, forecast
  contact_list.csv       the customers to contact first (highest expected spend)
  slipping_away.csv      valuable customers unlikely to buy again soon
  customers.csv, clusters.csv, ledger.csv (the lines each cleaning rule removed), the figures,
  model.json (the fitted segmentation, for `score`) and run.json (input, options, version)
  with --as-of also validation.csv, forecast_check.csv, forecast_scores.csv

next month's export into the same segments:
  python -m segmentation score NEW --model FOLDER/model.json
"""


def _add_reading_options(group: argparse._ActionsContainer) -> None:
    """``--sheet`` and ``--date-format``: how the input is read, the same for a fitted and a score run."""
    group.add_argument("--sheet", help="Excel: read only this sheet (default: every sheet)")
    group.add_argument("--date-format", type=_date_format_value,
                       help="how InvoiceDate text is written, for a file whose dates cannot be told apart on "
                            "their own (the run then proposes one): '%%d.%%m.%%Y %%H:%%M' reads 31.12.2010 "
                            "09:53 (%%d day, %%m month, %%Y year, %%H:%%M hours and minutes; Python's "
                            "strftime codes)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m segmentation",
        description="Segment a shop's customers from a file of invoice lines: spend groups (the method\n"
                    "of the analysis this project reproduces: KMeans clustering on net spend), RFM segments\n"
                    "named from a map (how recently, how often and how much each customer bought), and a\n"
                    "forecast of what each customer will do next.",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", type=Path, help="invoice lines: .csv, .csv.gz, .zip, .xlsx or .parquet")
    common = parser.add_argument_group("what you set most")
    common.add_argument("--out", type=Path, help="output folder (default: data/processed/<input name>/)")
    common.add_argument("--as-of", type=_date_value, metavar="DATE",
                        help="use only the lines before DATE (YYYY-MM-DD), then check the segments and the "
                             "forecast against what customers did in the --horizon-days after it")
    common.add_argument("--horizon-days", type=_positive_days, default=config.HORIZON_DAYS,
                        help="days ahead that the forecast (Expected_Purchases, P_Purchase, Expected_Spend) covers, "
                             "and with --as-of the days after DATE it is checked against "
                             f"(default: {config.HORIZON_DAYS})")
    segments = parser.add_argument_group("segments")
    segments.add_argument("--k", type=_k_value, default=config.N_CLUSTERS,
                        help="number of spend groups (clusters; default: 3, as in the reproduced analysis); "
                             "'auto' or 'elbow' let the data choose among 2..10: 'auto' the number whose groups "
                             "are most clearly apart (silhouette), 'elbow' the number after which more groups "
                             "add little (inertia elbow)")
    segments.add_argument("--features", choices=tuple(c.FEATURE_SETS), default=c.SPEND_FEATURE_SET,
                        help="what the groups of customers.csv are built on: net spend alone ('spend', "
                             "default) or how recently, how often and how much customers bought ('rfm')")
    segments.add_argument("--log", action="store_true",
                          help="group on the logarithm (log1p) of the features, so that a few very large "
                               "customers do not make groups of their own")
    segments.add_argument("--spend", choices=("net", "gross"), default="net",
                        help="spend (Total_Bill_Size) after taking off returns matched to purchases "
                             "('net', default) or before ('gross')")
    segments.add_argument("--rfm-k", type=_k_value, default=config.RFM_K_RULE,
                        help="number of segments found by clustering (KMeans) on recency, frequency and spend, "
                             "the KMeans_RFM_Segment column of customer_segments.csv: a number, 'auto' or 'elbow' as "
                             f"for --k (default: {config.RFM_K_RULE})")
    segments.add_argument("--segment-map", type=Path, metavar="FILE",
                        help="your own map of segment names over the recency and frequency-spend scores, as a "
                             "TOML file (default: the packaged map; segmentation/analysis/segment_map.toml shows the "
                             "format)")
    predict = parser.add_argument_group("the forecast (purchases, chance of buying, value per customer)")
    predict.add_argument("--clv-days", type=_positive_days, default=config.CLV_DAYS,
                        help=f"days ahead that CLV (customer lifetime value) adds up expected net spend "
                             f"over, undiscounted (default: {config.CLV_DAYS})")
    predict.add_argument("--intervals", action="store_true",
                        help="add a range around each customer's Expected_Purchases and Expected_Spend: "
                             "from 5%% to 95%% of what the data allows (a Bayesian posterior, sampled by "
                             "pymc-marketing: about 30 s more on the bundled year; "
                             f"{forecast.POSTERIOR_EXTRA})")
    predict.add_argument("--no-forecast", dest="forecast", action="store_false",
                        help="segment without forecasting what each customer will do next (no model of "
                             "purchase rates and spend is fitted; the forecast columns stay empty)")
    reading = parser.add_argument_group("reading the file")
    _add_reading_options(reading)
    cluster = parser.add_argument_group("large files and clusters")
    cluster.add_argument("--engine", choices=ENGINES, default="duckdb",
                        help="run the rules with DuckDB on this machine (default; files larger than memory "
                             "spill to disk), with Dask or with Spark, on a cluster of machines; with dask or "
                             "spark INPUT may be a glob or a folder of CSV/Parquet files")
    cluster.add_argument("--memory-limit", metavar="SIZE",
                        help="duckdb: the memory the rules may use before they spill to disk, e.g. 4GiB "
                             "(default: DuckDB's own, 80%% of the machine's memory)")
    cluster.add_argument("--temp-directory", type=Path, metavar="DIR",
                        help="duckdb: where to spill above --memory-limit (default: a temporary folder, "
                             "removed when the run ends)")
    cluster.add_argument("--scheduler", metavar="ADDRESS",
                        help="dask: address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                             "(default: a local cluster, one worker per core)")
    cluster.add_argument("--scheduler-timeout", type=_positive_seconds, default=config.DASK_SCHEDULER_TIMEOUT,
                        metavar="SECONDS",
                        help="dask: how long to wait for --scheduler to answer "
                             f"(default: {config.DASK_SCHEDULER_TIMEOUT:g})")
    cluster.add_argument("--worker-memory", default=config.DASK_WORKER_MEMORY,
                        help="dask, local cluster: memory limit of each worker, which spills to disk above it "
                             f"(default: {config.DASK_WORKER_MEMORY}, at least {config.DASK_MIN_WORKER_MEMORY})")
    cluster.add_argument("--spark-master", metavar="URL",
                        help="spark: the cluster's master, e.g. spark://10.0.0.5:7077, yarn or k8s://HOST:PORT "
                             f"(default: {config.SPARK_MASTER}, every core of this machine)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["score"]:
        return main_score(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    out_dir = args.out if args.out is not None else config.output_dir_for(args.input)
    if (args.memory_limit or args.temp_directory) and args.engine != "duckdb":
        print("error: --memory-limit and --temp-directory are for --engine duckdb; Dask workers take "
              "--worker-memory, Spark executors spark.executor.memory", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.scheduler and args.engine != "dask":
        print("error: --scheduler needs --engine dask", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.worker_memory != config.DASK_WORKER_MEMORY and args.engine != "dask":
        print("error: --worker-memory needs --engine dask", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.scheduler_timeout != config.DASK_SCHEDULER_TIMEOUT and not args.scheduler:
        print("error: --scheduler-timeout needs --scheduler", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.spark_master and args.engine != "spark":
        print("error: --spark-master needs --engine spark", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.engine == "dask" and importlib.util.find_spec("distributed") is None:
        print(f"error: --engine dask needs Dask: {config.install_hint('dask', DASK_REQUIREMENTS)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.engine == "spark" and not all(importlib.util.find_spec(name) for name in ("pyspark", "sqlglot")):
        print(f"error: --engine spark needs PySpark and SQLGlot: {config.install_hint('spark', SPARK_REQUIREMENTS)}",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.intervals and not args.forecast:
        print("error: --intervals needs the forecast; leave out --no-forecast", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.intervals and importlib.util.find_spec(forecast.POSTERIOR_PACKAGE) is None:
        print(f"error: --intervals needs pymc-marketing: {forecast.POSTERIOR_EXTRA}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.clv_days != config.CLV_DAYS and not args.forecast:
        print("error: --clv-days needs the forecast; leave out --no-forecast", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.horizon_days != config.HORIZON_DAYS and args.as_of is None and not args.forecast:
        print("error: --horizon-days needs --as-of or the forecast; leave out --no-forecast", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        engine = engine_named(args.engine, scheduler=args.scheduler, worker_memory=args.worker_memory,
                              scheduler_timeout=args.scheduler_timeout, memory_limit=args.memory_limit,
                              temp_directory=args.temp_directory, spark_master=args.spark_master)
        check_output_dir(out_dir, input_path=args.input)
        with output_folder(out_dir) as folder:
            run = _segment(args, engine)
            try:
                written, figures = _write_results(run, folder)
                sha256 = input_sha256(args.input)
                write_model(fitted_model(run, input_name=args.input.name, input_sha256=sha256,
                                         options=_model_options(args)), folder / MODEL_FILE)
                _write_run_record(args, folder, run, sha256=sha256)
            except OSError as error:
                raise cannot_write(out_dir, error) from error
            _CtrlC.check()
    except BaseException as error:  # _stopped raises again what is neither bad input nor Ctrl-C
        return _stopped(error, out_dir)
    print(describe_run(run))
    print(f"wrote {', '.join(written)}, {MODEL_FILE}, {RUN_RECORD} and {len(figures)} figures "
          f"({', '.join(figures)}) to {out_dir}")
    return 0


def build_score_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m segmentation score",
        description="Place the customers of a new invoice-line file in a saved segmentation's segments "
                    "(the model.json of a fitted run), without refitting; show who moved and whether the data drifted.",
    )
    parser.add_argument("input", type=Path, help="the new invoice lines: .csv, .csv.gz, .zip, .xlsx or .parquet")
    parser.add_argument("--model", type=Path, required=True, metavar="PATH",
                        help="the model.json a fitted run wrote (python -m segmentation FILE)")
    parser.add_argument("--out", type=Path,
                        help="output folder (default: data/processed/<input name>-scored/)")
    parser.add_argument("--as-of", type=_date_value, metavar="DATE",
                        help="count recency to DATE (YYYY-MM-DD) instead of the day after the file's last line; "
                             "the file must end before DATE, which may come before the model's own snapshot")
    _add_reading_options(parser)
    return parser


def main_score(argv: Sequence[str]) -> int:
    """``python -m segmentation score NEW --model PATH [--out DIR]``: see :func:`pipeline.score_file`."""
    args = build_score_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    out_dir = args.out if args.out is not None else config.output_dir_for(args.input).with_name(
        config.output_dir_for(args.input).name + "-scored")
    try:
        saved = read_model(args.model)
        if saved.folder is not None and saved.folder.resolve() == out_dir.resolve():
            raise InvoiceDataError(f"{out_dir}: is the model's own run folder, which a run replaces whole; "
                                   "give --out another folder.")
        check_output_dir(out_dir, input_path=args.input)
        run = score_file(args.input, saved, as_of=args.as_of, sheet=args.sheet, date_format=args.date_format)
        with output_folder(out_dir) as folder:
            try:
                written = _write_score_results(run, folder)
                _write_score_record(args, folder, run)
            except OSError as error:
                raise cannot_write(out_dir, error) from error
            _CtrlC.check()
    except BaseException as error:  # _stopped raises again what is neither bad input nor Ctrl-C
        return _stopped(error, out_dir)
    drifted = describe_drift(run.drift)
    if drifted is not None:
        print(f"warning: {drifted}", file=sys.stderr)
    if run.migration_skipped is not None:
        print(f"note: {run.migration_skipped}", file=sys.stderr)
    print(describe_score(run))
    print(f"wrote {', '.join(written)} and {RUN_RECORD} to {out_dir}")
    return 0


def _write_score_results(run: ScoreRun, folder: Path) -> list[str]:
    """Write a score run's tables (and the migration figure) into ``folder``; return their names."""
    write_customer_segments(run.segments_table, folder / CUSTOMER_SEGMENTS_CSV)
    written = [CUSTOMER_SEGMENTS_CSV]
    predicted = run.scored.forecast
    if predicted is not None:
        write_customer_segments(forecast.customers_to_contact(predicted, run.customers), folder / CONTACT_LIST_CSV)
        write_customer_segments(forecast.customers_slipping_away(predicted, run.customers),
                                folder / SLIPPING_AWAY_CSV)
        written += [CONTACT_LIST_CSV, SLIPPING_AWAY_CSV]
    if run.migration is not None:
        write_csv(run.migration, folder / MIGRATION_CSV)
        write_csv(run.movers, folder / MOVERS_CSV)
        figure = plots.plot_migration(run.migration, fitted_to=run.model.snapshot_date, scored_to=run.snapshot)
        plots.save_figure(figure, folder / plots.MIGRATION)
        plt.close(figure)
        written += [MIGRATION_CSV, MOVERS_CSV, plots.MIGRATION]
    return written


def _write_score_record(args: argparse.Namespace, folder: Path, run: ScoreRun) -> None:
    """``run.json`` of a score run: the input and its SHA-256, the model used and its SHA-256, the
    snapshot, the drift (and whether refitting is advised), the migration's note, version and time."""
    drift = run.drift
    record = {
        "command": "score",
        "input": args.input.name,
        "input_sha256": input_sha256(args.input),
        "model": str(args.model),
        "model_sha256": run.model.sha256,
        "options": {name: _plain(value) for name, value in sorted(vars(args).items()) if name != "input"},
        "snapshot_date": f"{run.snapshot:%Y-%m-%d}",
        "drift": {"psi": {name: round(float(value), 6) for name, value in drift[c.PSI].items()},
                  "threshold": config.PSI_DRIFT,
                  "drifted": [str(name) for name in drift.index[drift[c.DRIFTED]]],
                  "refit_advised": bool(drift[c.DRIFTED].any()),
                  "message": describe_drift(drift)},
        "migration": run.migration_skipped,
        "forecast": (forecast.describe_fit(run.scored.forecast) if run.scored.forecast is not None
                     else {"skipped": run.scored.no_forecast}),
        "version": package_version(),
        "finished_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    (folder / RUN_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _segment(args: argparse.Namespace, engine: Engine) -> SegmentationRun:
    segment_map = load_segment_map(args.segment_map)
    window = OutcomeWindow(args.as_of, args.horizon_days) if args.as_of is not None else None
    return segment_file(
        args.input, k=args.k, spend=args.spend, sheet=args.sheet, date_format=args.date_format,
        features=args.features, log=args.log, engine=engine,
        rfm_k=args.rfm_k, segment_map=segment_map, window=window,
        predict=args.forecast, horizon_days=args.horizon_days, clv_days=args.clv_days, intervals=args.intervals,
    )


def _write_results(run: SegmentationRun, folder: Path) -> tuple[list[str], list[str]]:
    """Write the tables and figures of ``run`` into ``folder``; return the tables' and the figures' names."""
    write_csv(run.customers.assign(**{c.CLUSTER: run.customers[c.CLUSTER].astype("Int64")}), folder / "customers.csv")
    write_csv(run.ledger.round({c.LEDGER_AMOUNT: 2}), folder / "ledger.csv")
    write_csv(run.clusters.round(4), folder / "clusters.csv")
    write_customer_segments(run.segments_table, folder / CUSTOMER_SEGMENTS_CSV)
    written = ["customers.csv", "ledger.csv", "clusters.csv", CUSTOMER_SEGMENTS_CSV]
    if run.forecast is not None:
        write_customer_segments(forecast.customers_to_contact(run.forecast, run.customers),
                                folder / CONTACT_LIST_CSV)
        write_customer_segments(forecast.customers_slipping_away(run.forecast, run.customers),
                                folder / SLIPPING_AWAY_CSV)
        written += [CONTACT_LIST_CSV, SLIPPING_AWAY_CSV]
    if run.validation is not None:
        write_csv(run.validation.round(6), folder / VALIDATION_CSV)
        written.append(VALIDATION_CSV)
    if run.forecast_check is not None:
        write_csv(run.forecast_check.calibration.round(6), folder / FORECAST_CHECK_CSV)
        write_csv(run.forecast_check.scores.round(6), folder / FORECAST_SCORES_CSV)
        written += [FORECAST_CHECK_CSV, FORECAST_SCORES_CSV]
    figures = plots.draw_figures(run.customers, run.clustering, scan=run.scan, scan_summary=run.scan_summary,
                                 choice=run.k_choice)
    if run.validation is not None:
        figures[plots.VALIDATION] = plots.plot_validation(run.validation, as_of=run.window.as_of,
                                                          horizon_days=run.window.horizon_days)
    if run.forecast_check is not None:
        figures[plots.FORECAST_CHECK] = plots.plot_forecast_check(run.forecast_check)
    for name, figure in figures.items():
        plots.save_figure(figure, folder / name)
        plt.close(figure)
    return written, list(figures)


def _model_options(args: argparse.Namespace) -> dict:
    """The options ``model.json`` records: how the segmentation was fitted (not where its files went)."""
    kept = ("k", "features", "log", "spend", "rfm_k", "segment_map", "as_of", "horizon_days", "clv_days", "forecast")
    return {name: _plain(getattr(args, name)) for name in kept}


def _write_run_record(args: argparse.Namespace, folder: Path, run: SegmentationRun, *, sha256: str) -> None:
    """``run.json``: the input's name and SHA-256, every option, the populations counted and the
    too-little-data warnings (:mod:`segmentation.analysis.populations`), the forecast's fitted models and what
    to know about them, the package version and the time (UTC)."""
    record = {
        "input": args.input.name,
        "input_sha256": sha256,
        "options": {name: _plain(value) for name, value in sorted(vars(args).items()) if name != "input"},
        "populations": {name: int(n) for name, n in populations.count_populations(run.customers).items()},
        "warnings": data_warnings(run),
        "forecast": (forecast.describe_fit(run.forecast) if run.forecast is not None
                     else {"skipped": run.forecast_skipped} if run.forecast_skipped is not None else None),
        "version": package_version(),
        "finished_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    (folder / RUN_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _plain(value: object) -> object:
    """An option's value as JSON: numbers, text, true/false and null as they are; paths and dates as text."""
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)


def _stopped(error: BaseException, out_dir: Path) -> int:
    """A command's exit status when ``error`` stopped it before its output folder was replaced: Ctrl-C, whatever
    error it surfaced as, is one line and 130; input the project cannot use is one line and 2; anything else
    is raised again."""
    if _CtrlC.pressed or isinstance(error, KeyboardInterrupt):
        if signal.getsignal(signal.SIGINT) is _on_ctrl_c:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # one line, whatever more Ctrl-Cs come
        print(f"interrupted; {out_dir} is unchanged", file=sys.stderr)
        return EXIT_INTERRUPTED
    if isinstance(error, InvoiceDataError):
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    raise error


def run() -> int:
    """``main`` for a shell: a reader that closes the pipe early (``| head``) is not an error, and
    Ctrl-C is one line and exit code 130 (``main`` says whether the output folder was touched). Once the
    command has finished, Ctrl-C is ignored: Python's shutdown would otherwise die of it, with no line."""
    if signal.getsignal(signal.SIGINT) in (_interrupted_while_starting, signal.default_int_handler):
        signal.signal(signal.SIGINT, _on_ctrl_c)
    try:
        status = main()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 0
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("interrupted", file=sys.stderr)
        status = EXIT_INTERRUPTED
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return status


if __name__ == "__main__":
    raise SystemExit(run())
