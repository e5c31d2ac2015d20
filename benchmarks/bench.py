"""``make bench``: this package's customer table against other ways of computing it.

Run from the repository root as ``python -m benchmarks.bench`` (or ``python benchmarks/bench.py``);
it is not part of the installed package.

Two stages are measured:

- ``features``: clean invoice lines already in memory -> the customer feature
  table. Engines: this package (``build_customer_features``), the naive idiom
  (per-group Python functions; the real file only), DuckDB SQL over the lines
  copied into a DuckDB table, and Polars on the lines as a Polars frame.
- ``pipeline``: a Parquet or CSV file on disk -> the customer feature table. Engines:
  this package's entry point (``DuckDBEngine().customer_table(path).customers``),
  DuckDB and Polars reading the same file with the loader's and the cleaning rules;
  on the real file also this package's Spark engine in local mode (``SparkEngine()``,
  Spark started inside the timer, as a user's run starts it; its peak memory adds the
  peaks of the Java and Python worker processes it starts).

Inputs are the real file (``config.REAL_DATA_PATH`` unless ``--real-file``) and
synthetic Parquet files (``--sizes``), written once by
``segmentation.reading.synthetic.write_synthetic_parquet`` under ``data/processed/bench/``,
and CSV copies of them (``--csv``; the pipeline stage only), written once by DuckDB beside them.

Fairness rules:

- Every run is a fresh process. Imports and the preparation of the engine's
  input (loading and cleaning the lines for ``features``, converting them to a
  DuckDB table or a Polars frame, opening a connection and setting its threads)
  happen before the timer starts; the timer stops when the engine holds the
  table in its own form (an Arrow table, a Polars frame, a pandas frame).
- Thread counts are set and stated: DuckDB with ``SET threads``, Polars with
  ``POLARS_MAX_THREADS`` in the process's environment (read back from Polars);
  this package's count is DuckDB's threads (every core), for lines in memory and for a file.
  CPU time (user + system) is reported beside wall time.
- For each input and stage, repeat 1 of every engine runs, then repeat 2 of
  every engine, and so on; wall time is given as median and range.
- Every result of every run is checked exactly equal to this package's result
  (``assert_frame_equal`` with ``check_exact=True``, dtypes included, no
  tolerance) before its time is used; a run that differs has no time reported.
- Peak memory is the whole process's peak resident set size during the timed
  region (the kernel's high-water mark, reset when the timer starts), and the
  same minus the resident size when the timer started (after imports and
  preparation).

Beside them, ``benchmarks.forecast`` measures the forecast's fit (this package, pymc-marketing and
lifetimes on the real year's customers and on a million drawn ones: imports, first and warm fit, peak
memory, agreement of the parameters).

The targets are printed at the end with the numbers they were judged on, and
the tables are written as Markdown and CSV under ``data/processed/bench/``.
DuckDB, Polars, psutil and tabulate come from ``requirements-bench.txt``.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

import segmentation
from segmentation import columns as c
from segmentation import config

BENCH_DIR = config.PROCESSED_DIR / "bench"
DEFAULT_SIZES = ("1M", "20M", "100M")
#: By default the synthetic files up to this many lines are also measured as CSV files (a 100M-line CSV
#: file is about 11 GB).
CSV_MAX_LINES = 20_000_000
STAGES = ("features", "pipeline")
SYNTHETIC_SEED = 2026
#: The naive idiom runs a Python function per customer (minutes on millions of lines): the real file only.
NAIVE_REAL_ONLY = True
#: Above this many lines only this package's engine runs (``--all-engines`` runs the others too),
#: and only the pipeline stage (the feature stage would hold every line in memory before its timer).
LARGE_LINES = 50_000_000
MB = 1_000_000
#: A measuring process whose resident memory passes this share of the machine's is stopped (its row
#: says so), so that an engine that does not fit cannot take the machine down.
MEMORY_LIMIT_SHARE = 0.8
_WATCH_S = 0.1
PACKAGE = "segmentation"
#: This package's Spark engine in local mode (every core), measured on the real file's pipeline stage only.
SPARK = "segmentation-spark"


# --- engines ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Engine:
    """One row of the table: an engine at a thread count (None: the engine's default)."""

    name: str
    threads: int | None = None

    @property
    def key(self) -> str:
        """The engine's name on the worker's command line."""
        return self.name if self.threads is None else f"{self.name}:{self.threads}"

    @classmethod
    def parse(cls, key: str) -> Engine:
        """The engine named by :attr:`key`."""
        name, _, threads = key.partition(":")
        return cls(name, int(threads) if threads else None)


ENGINES = (
    Engine(PACKAGE),
    Engine(SPARK),
    Engine("naive"),
    Engine("DuckDB", 2),
    Engine("DuckDB", 1),
    Engine("Polars"),
    Engine("Polars", 1),
)


@dataclass(frozen=True)
class Prepared:
    """An engine made ready for one input: the timed call, its result in this package's layout,
    and the thread count it runs with."""

    run: Callable[[], object]
    to_pandas: Callable[[object], pd.DataFrame]
    threads: int


def _prepare(stage: str, engine: Engine, source: Path) -> Prepared:
    """Everything an engine needs before its timer: imports, input in the engine's form, threads."""
    from benchmarks import alternatives as alt

    invoices = _clean_lines(source) if stage == "features" else None
    if engine.name == PACKAGE:
        return _prepare_package(stage, source, invoices)
    if engine.name == SPARK:
        from segmentation.engines.runners import SparkEngine

        # a fresh local Spark per run, started inside the timer: what a user's run pays
        return Prepared(lambda: SparkEngine().customer_table(source).customers, _same, os.cpu_count() or 1)
    if engine.name == "naive":
        return Prepared(lambda: alt.features_naive(invoices), _same, 1)
    if engine.name == "DuckDB":
        connection = alt.duckdb_connection(engine.threads or os.cpu_count() or 1)
        if stage == "features":
            alt.duckdb_lines_table(connection, invoices)
            run = lambda: alt.features_duckdb(connection)  # noqa: E731
        else:
            run = lambda: alt.pipeline_duckdb(connection, source)  # noqa: E731
        return Prepared(run, alt.duckdb_to_pandas, alt.duckdb_threads(connection))
    if engine.name == "Polars":
        if stage == "features":
            lines = alt.polars_lines(invoices)
            run = lambda: alt.features_polars(lines)  # noqa: E731
        else:
            run = lambda: alt.pipeline_polars(source)  # noqa: E731
        return Prepared(run, alt.polars_to_pandas, alt.polars_threads())
    raise ValueError(f"unknown engine {engine.key!r}")


def _prepare_package(stage: str, source: Path, invoices: pd.DataFrame | None) -> Prepared:
    from segmentation.engines.runners import DuckDBEngine
    from segmentation.rules.features import build_customer_features

    engine = DuckDBEngine(progress=False)
    threads = engine.threads or os.cpu_count() or 1  # DuckDB runs the rulebook on every core
    if stage == "features":
        return Prepared(lambda: build_customer_features(invoices), _same, threads)
    # a file: the loader's batches into one DuckDB query
    return Prepared(lambda: engine.customer_table(source).customers, _same, threads)


def _clean_lines(source: Path) -> pd.DataFrame:
    from segmentation.reading.load import load_invoices
    from segmentation.rules.clean import clean_invoices

    return clean_invoices(load_invoices(source)).invoices


def _same(table: object) -> pd.DataFrame:
    assert isinstance(table, pd.DataFrame)
    return table


# --- one run, in its own process ------------------------------------------------------


@dataclass
class RunStats:
    """What one timed run measured."""

    seconds: float
    cpu_seconds: float
    peak_mb: float
    start_mb: float
    threads: int


def _rss_kib(field_name: str, process: int | str = "self") -> int | None:
    """A line of /proc/<process>/status in KiB (VmRSS, VmHWM); None where there is none."""
    try:
        with open(f"/proc/{process}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux 4.0+); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def _peak_rss_kib() -> int:
    """This process's peak resident set size in KiB since start or the last reset."""
    peak = _rss_kib("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _current_rss_kib() -> int:
    import psutil

    current = _rss_kib("VmRSS")
    return current if current is not None else psutil.Process().memory_info().rss // 1024


@contextmanager
def _measured() -> Iterator[dict[str, float]]:
    """Wall time, CPU time and whole-process peak RSS of the ``with`` body."""
    found: dict[str, float] = {}
    start_kib = _current_rss_kib()
    _reset_peak_rss()
    cpu = os.times()
    started = time.perf_counter()
    yield found
    found["seconds"] = time.perf_counter() - started
    after = os.times()
    found["cpu_seconds"] = (after.user - cpu.user) + (after.system - cpu.system)
    found["peak_mb"] = _peak_rss_kib() * 1024 / MB
    found["start_mb"] = start_kib * 1024 / MB


def worker(stage: str, engine: Engine, source: Path, result_path: Path) -> RunStats:
    """Prepare ``engine``, run it once under the timer, save its result (this package's layout)."""
    prepared = _prepare(stage, engine, source)
    _release_freed_memory()
    with _measured() as found:
        table = prepared.run()
    if engine.name == SPARK:  # Spark's Java process is a child of this one: its peak counts too
        found["peak_mb"] += _children_peak_kib() * 1024 / MB
    prepared.to_pandas(table).to_pickle(result_path)
    return RunStats(threads=prepared.threads, **found)


def _children_peak_kib() -> int:
    """The summed peak resident sizes (VmHWM) of this process's living child processes, in KiB."""
    import psutil

    return sum(_rss_kib("VmHWM", child.pid) or 0 for child in psutil.Process().children(recursive=True))


def _release_freed_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc), so that the resident
    size when the timer starts is what the prepared input holds."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _worker_environment(engine: Engine) -> dict[str, str]:
    """The measuring process's environment: this package on the path, Polars' threads if set."""
    env = dict(os.environ)
    roots = [str(Path(segmentation.__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1])]
    env["PYTHONPATH"] = os.pathsep.join([*roots, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("POLARS_MAX_THREADS", None)
    if engine.name == "Polars" and engine.threads is not None:
        env["POLARS_MAX_THREADS"] = str(engine.threads)
    return env


def _run_worker(stage: str, engine: Engine, source: Path, result_path: Path) -> RunStats:
    """One run in a fresh process; RuntimeError with the last line of its errors if it fails, or if its
    resident memory passes ``MEMORY_LIMIT_SHARE`` of the machine's (it is stopped then)."""
    import psutil

    command = [sys.executable, "-m", "benchmarks.bench", "--worker", stage, engine.key, str(source), str(result_path)]
    limit = MEMORY_LIMIT_SHARE * psutil.virtual_memory().total
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True, env=_worker_environment(engine),
                                   cwd=Path(__file__).resolve().parents[1])
        if _over_memory(process, limit):
            raise RuntimeError(f"stopped: resident memory above {limit / MB:,.0f} MB")
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        lines = stderr.strip().splitlines() or [f"exit status {process.returncode}"]
        raise RuntimeError(f"exit status {process.returncode}: {lines[-1]}")
    return RunStats(**json.loads(stdout.strip().splitlines()[-1]))


def _over_memory(process: subprocess.Popen, limit: float) -> bool:
    """Wait for ``process``; kill it and return True if its resident memory passes ``limit`` bytes."""
    import psutil

    watched = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            rss = watched.memory_info().rss
        except psutil.NoSuchProcess:
            break
        if rss > limit:
            process.kill()
            process.wait()
            return True
        time.sleep(_WATCH_S)
    return False


# --- equality ---------------------------------------------------------------------------


def check_equal(table: pd.DataFrame, reference: pd.DataFrame) -> None:
    """Raise AssertionError unless ``table`` equals ``reference`` exactly: values, dtypes, index, order."""
    pd.testing.assert_frame_equal(table, reference, check_dtype=True, check_exact=True)


# --- inputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    """One input file and what it holds."""

    name: str
    path: Path
    lines: int
    customers: int
    pairs: int
    megabytes: float
    generation_s: float | None = None
    generation_peak_mb: float | None = None
    real: bool = False

    @property
    def csv(self) -> bool:
        """Whether the input is a CSV file (measured in the pipeline stage only)."""
        return self.path.suffix.lower() == ".csv"


def parse_size(text: str) -> int:
    """``"20k"``, ``"1M"``, ``"100M"`` or a plain number of lines."""
    units = {"k": 1_000, "M": 1_000_000}
    if text[-1:] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def _counts(path: Path) -> tuple[int, int]:
    """Distinct customers and distinct (customer, StockCode) pairs of a Parquet file's lines."""
    import duckdb

    from benchmarks.alternatives import file_columns

    fields = file_columns(path)
    customer, code = ('"' + fields[name].name.replace('"', '""') + '"' for name in (c.CUSTOMER_ID, c.STOCK_CODE))
    file = str(path).replace("'", "''")
    query = (f"SELECT count(DISTINCT {customer}), count(DISTINCT ({customer}, {code})) "
             f"FROM read_parquet('{file}') WHERE {customer} IS NOT NULL")
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")
    customers, pairs = connection.execute(query).fetchone()
    return int(customers), int(pairs)


def real_input(path: Path) -> Input:
    """The real file, described."""
    import pyarrow.parquet as pq

    name = "real 2009-2010" if path.resolve() == config.REAL_DATA_PATH.resolve() else f"real {path.name}"
    customers, pairs = _counts(path)
    return Input(name, path, pq.ParquetFile(path).metadata.num_rows, customers, pairs,
                 path.stat().st_size / MB, real=True)


def synthetic_input(size: str, bench_dir: Path) -> Input:
    """The synthetic file of ``size`` lines, written (and its counts recorded beside it) on first use."""
    path = bench_dir / f"synthetic_{size}.parquet"
    info_path = path.with_suffix(".json")
    info = json.loads(info_path.read_text()) if path.exists() and info_path.exists() else {}
    if not path.exists():
        info = _generate(path, parse_size(size))
    if "customers" not in info:
        _progress(f"counting customers and pairs of {path.name}")
        info["customers"], info["pairs"] = _counts(path)
    info_path.write_text(json.dumps(info, indent=1) + "\n")
    return Input(f"synthetic {size}", path, info["lines"], info["customers"], info["pairs"],
                 path.stat().st_size / MB, info.get("seconds"), info.get("peak_rss_mb"))


def sample_input(bench_dir: Path) -> Input:
    """The bundled synthetic sample (``config.SAMPLE_PATH``, a CSV) as a Parquet file of canonical columns."""
    from segmentation.reading.load import load_invoices

    path = bench_dir / "sample_invoices.parquet"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        invoices = load_invoices(config.SAMPLE_PATH)
        invoices.astype({name: "str" for name in c.TEXT_COLUMNS}).to_parquet(path, index=False)
    customers, pairs = _counts(path)
    lines = len(pd.read_parquet(path, columns=[c.QUANTITY]))
    return Input("synthetic sample", path, lines, customers, pairs, path.stat().st_size / MB)


def csv_input(item: Input) -> Input:
    """``item``'s lines as a CSV file beside it (UTF-8, comma, a header line, dates as
    ``YYYY-MM-DD HH:MM:SS``), written by DuckDB on first use; the same lines and counts."""
    path = item.path.with_suffix(".csv")
    info_path = item.path.with_suffix(".csv.json")
    info = json.loads(info_path.read_text()) if path.exists() and info_path.exists() else {}
    if not path.exists() or "seconds" not in info:
        import duckdb

        _progress(f"writing {path.name} from {item.path.name} ...")
        partial = path.with_name(path.name + ".partial")
        source, target = (str(p).replace("'", "''") for p in (item.path, partial))
        started = time.perf_counter()
        connection = duckdb.connect()
        connection.execute("SET enable_progress_bar = false")
        connection.execute(f"COPY (SELECT * FROM read_parquet('{source}')) TO '{target}' "
                           "(FORMAT csv, HEADER, DELIMITER ',', TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S')")
        partial.replace(path)
        info = {"seconds": round(time.perf_counter() - started, 1)}
        info_path.write_text(json.dumps(info, indent=1) + "\n")
    return Input(f"{item.name} CSV", path, item.lines, item.customers, item.pairs, path.stat().st_size / MB,
                 info["seconds"], real=item.real)


def _generate(path: Path, lines: int) -> dict:
    """Write the synthetic file in a fresh process; its time and peak memory."""
    _progress(f"generating {path.name} ({lines:,} lines) ...")
    code = "\n".join([
        "import json, resource, sys, time",
        "from segmentation.reading.synthetic import write_synthetic_parquet",
        "t = time.perf_counter()",
        "write_synthetic_parquet(sys.argv[1], n_lines=int(sys.argv[2]), seed=int(sys.argv[3]))",
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6",
        "print(json.dumps({'lines': int(sys.argv[2]), 'seconds': round(time.perf_counter() - t, 1),"
        " 'peak_rss_mb': round(peak)}))",
    ])
    done = subprocess.run([sys.executable, "-c", code, str(path), str(lines), str(SYNTHETIC_SEED)],
                          capture_output=True, text=True, check=True, env=_worker_environment(Engine(PACKAGE)))
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the benchmark -------------------------------------------------------------------------


@dataclass
class Row:
    """Every run of one (input, stage, engine)."""

    input: str
    lines: int
    stage: str
    engine: Engine
    runs: list[RunStats] = field(default_factory=list)
    problem: str | None = None

    @property
    def seconds(self) -> list[float]:
        return [run.seconds for run in self.runs]

    @property
    def median_s(self) -> float | None:
        return statistics.median(self.seconds) if self.runs and not self.problem else None

    @property
    def peak_mb(self) -> float | None:
        return max(run.peak_mb for run in self.runs) if self.runs and not self.problem else None

    def record(self) -> dict:
        """The row as the table shows it."""
        ok = self.runs and not self.problem
        return {
            "input": self.input, "lines": self.lines, "stage": self.stage,
            "engine": self.engine.name,
            "threads": self.runs[0].threads if self.runs else self.engine.threads,
            "runs": len(self.runs),
            "median s": round(self.median_s, 3) if ok else None,
            "min s": round(min(self.seconds), 3) if ok else None,
            "max s": round(max(self.seconds), 3) if ok else None,
            "cpu s": round(statistics.median(r.cpu_seconds for r in self.runs), 2) if ok else None,
            "peak RSS MB": round(self.peak_mb) if ok else None,
            "peak above start MB": round(max(r.peak_mb - r.start_mb for r in self.runs)) if ok else None,
            "equal": "yes" if ok else ("no run" if not self.problem else self.problem.split(" ")[0]),
        }


@dataclass
class Result:
    """A benchmark run: its inputs, rows and the machine's load around each input."""

    inputs: list[Input] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    load: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = field(default_factory=dict)
    cpus: int = field(default_factory=lambda: os.cpu_count() or 1)
    #: ``make run``'s two commands on the real file, each a fresh process (imports included): their wall times.
    commands: dict[str, list[float]] = field(default_factory=dict)
    #: The command line on the 20M-line Parquet file, each run a fresh process (imports included): wall times.
    at_scale: list[float] = field(default_factory=list)
    #: The forecast's fit by this package, pymc-marketing and lifetimes (``benchmarks.forecast``).
    forecast: list = field(default_factory=list)

    def find(self, input_name: str, stage: str, engine: Engine) -> Row | None:
        for row in self.rows:
            if (row.input, row.stage, row.engine) == (input_name, stage, engine):
                return row
        return None


def _engines_for(item: Input, stage: str, *, all_engines: bool, quick: bool) -> list[Engine]:
    """The engines measured on ``item`` at ``stage``; this package's comes first. ``quick``: only the
    rows at default threads."""
    chosen = []
    for engine in ENGINES:
        if quick and engine.threads == 1:
            continue
        if engine.name == "naive" and (stage != "features" or (NAIVE_REAL_ONLY and not item.real)):
            continue
        if engine.name == SPARK and (stage != "pipeline" or not item.real or quick):
            continue
        if engine.name != PACKAGE and item.lines > LARGE_LINES and not all_engines:
            continue
        chosen.append(engine)
    return chosen


def _stages_for(item: Input, stages: tuple[str, ...] = STAGES) -> list[str]:
    """The stages measured on ``item``: a CSV file or one above ``LARGE_LINES`` in the pipeline stage only."""
    possible = ("pipeline",) if item.csv or item.lines > LARGE_LINES else STAGES
    return [stage for stage in possible if stage in stages]


def _progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_benchmark(inputs: list[Input], *, repeats: int, all_engines: bool = False, quick: bool = False,
                  stages: tuple[str, ...] = STAGES) -> Result:
    """Measure every (input, stage, engine), repeats interleaved; every result checked equal first."""
    result = Result(inputs=list(inputs))
    with tempfile.TemporaryDirectory() as scratch:
        for item in inputs:
            before = os.getloadavg()
            for stage in _stages_for(item, stages):
                engines = _engines_for(item, stage, all_engines=all_engines, quick=quick)
                rows = [Row(item.name, item.lines, stage, engine) for engine in engines]
                result.rows.extend(rows)
                _measure_stage(item, stage, rows, repeats, Path(scratch))
            result.load[item.name] = (before, os.getloadavg())
    return result


def _measure_stage(item: Input, stage: str, rows: list[Row], repeats: int, scratch: Path) -> None:
    """Repeat 1 of every engine, then repeat 2 of every engine, ...; each result checked before it counts."""
    reference: pd.DataFrame | None = None
    for repeat in range(1, repeats + 1):
        for row in rows:
            if row.problem:
                continue
            _progress(f"{item.name} | {stage} | {row.engine.key} | repeat {repeat}/{repeats}")
            result_path = scratch / "result.pkl"
            try:
                stats = _run_worker(stage, row.engine, item.path, result_path)
            except RuntimeError as error:
                row.problem = f"failed ({error})"
                _progress(f"  {row.problem}")
                continue
            table = pd.read_pickle(result_path)
            if reference is None:
                reference = table
            try:
                check_equal(table, reference)
            except AssertionError as error:
                row.problem = f"differs from {rows[0].engine.name}: " + " ".join(str(error).split())[:300]
                _progress(f"  {row.problem}")
                continue
            row.runs.append(stats)
            _progress(f"  {stats.seconds:.3f} s, peak RSS {stats.peak_mb:,.0f} MB, threads {stats.threads}")


# --- make run -------------------------------------------------------------------------------

#: ``make run``'s commands on a file (the README step is not timed: it copies text).
MAKE_RUN = {
    "command line": ["-m", "segmentation", "{file}", "--out", "{scratch}/cli"],
    "notebook": ["-m", "segmentation.presentation.notebook", "--data", "{file}", "--out", "{scratch}/notebook"],
}


def measure_make_run(real_file: Path, *, repeats: int, scratch: Path) -> dict[str, list[float]]:
    """Wall time of each of :data:`MAKE_RUN`'s commands on ``real_file``, each run in a fresh process
    (imports included), interleaved: command line, notebook, command line, ..."""
    found: dict[str, list[float]] = {name: [] for name in MAKE_RUN}
    for repeat in range(1, repeats + 1):
        for name, arguments in MAKE_RUN.items():
            _progress(f"make run | {name} | repeat {repeat}/{repeats}")
            found[name].append(_command_seconds(arguments, file=real_file, scratch=scratch))
    return found


def measure_command_at_scale(path: Path, *, repeats: int, scratch: Path) -> list[float]:
    """Wall time of the command line (every output: tables, forecast, figures, model) on ``path``, each run
    a fresh process, imports included."""
    found = []
    for repeat in range(1, repeats + 1):
        _progress(f"command line | {path.name} | repeat {repeat}/{repeats}")
        found.append(_command_seconds(MAKE_RUN["command line"], file=path, scratch=scratch))
    return found


def _command_seconds(arguments: list[str], *, file: Path, scratch: Path) -> float:
    command = [sys.executable, *(part.format(file=file, scratch=scratch) for part in arguments)]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=_worker_environment(Engine(PACKAGE)))
    seconds = time.perf_counter() - started
    _progress(f"  {seconds:.2f} s")
    return seconds


def _median(seconds: list[float] | None) -> float | None:
    return statistics.median(seconds) if seconds else None


# --- targets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A performance target, what was measured for it and whether it was met (None: not measured)."""

    target: str
    measured: str
    met: bool | None

    def record(self) -> dict:
        verdict = {True: "met", False: "missed", None: "not measured"}[self.met]
        return {"target": self.target, "measured": self.measured, "verdict": verdict}


def _seconds(row: Row | None) -> str:
    return f"{row.median_s:.2f} s" if row and row.median_s is not None else "—"


def _megabytes(row: Row | None) -> str:
    return f"{row.peak_mb:,.0f} MB" if row and row.peak_mb is not None else "—"


def _synthetic_name(result: Result, lines: int, *, csv: bool = False) -> str | None:
    return next((i.name for i in result.inputs if not i.real and i.lines == lines and i.csv == csv), None)


def targets(result: Result) -> list[Target]:
    """The project's performance targets judged on ``result``."""
    ours, duckdb2 = Engine(PACKAGE), Engine("DuckDB", 2)
    found: list[Target] = []
    for kind, csv in (("Parquet", False), ("CSV", True)):
        name20 = _synthetic_name(result, 20_000_000, csv=csv)
        ours20 = result.find(name20, "pipeline", ours) if name20 else None
        duck20 = result.find(name20, "pipeline", duckdb2) if name20 else None
        found.append(_compare(f"20M lines {kind} → customer table: segmentation no slower than DuckDB (2 threads)",
                              ours20, duck20, lambda a, b: a <= b,
                              lambda a, b, o=ours20, d=duck20: f"{_seconds(o)} vs {_seconds(d)} ({a / b:.2f}×)"))
        found.append(_memory_target(f"20M lines {kind} → customer table: segmentation peak RSS under 1 GB",
                                    ours20, 1_000))
    name100 = _synthetic_name(result, 100_000_000)
    ours100 = result.find(name100, "pipeline", ours) if name100 else None
    name20 = _synthetic_name(result, 20_000_000)
    duck20 = result.find(name20, "pipeline", duckdb2) if name20 else None
    at_scale = _median(result.at_scale)
    found.append(Target(
        "`python -m segmentation` on 20M lines Parquet within 1.5× of DuckDB's query of the customer table (2 threads)",
        "—" if at_scale is None or duck20 is None or duck20.median_s is None
        else f"{at_scale:.2f} s vs {_seconds(duck20)} ({at_scale / duck20.median_s:.2f}×)",
        None if at_scale is None or duck20 is None or duck20.median_s is None else at_scale <= 1.5 * duck20.median_s,
    ))
    found.append(_memory_target("100M lines Parquet → customer table: segmentation peak RSS under 2 GB",
                                ours100, 2_000, extra=f", wall time {_seconds(ours100)}"))
    cli, notebook = (_median(result.commands.get(name)) for name in MAKE_RUN)
    found.append(Target("`python -m segmentation` on the real file under 2 s, imports included",
                        "—" if cli is None else f"{cli:.2f} s", None if cli is None else cli < 2))
    both = None if cli is None or notebook is None else cli + notebook
    found.append(Target("`make run` on the real file under 10 s (command line + notebook, warm venv)",
                        "—" if both is None else f"{cli:.2f} s + {notebook:.2f} s = {both:.2f} s",
                        None if both is None else both < 10))
    real = next((i.name for i in result.inputs if i.real), None)
    spark = result.find(real, "pipeline", Engine(SPARK)) if real else None
    base = result.find(real, "pipeline", ours) if real else None
    found.append(Target(
        "Spark local on the real file: the same customer table as segmentation, the time stated",
        f"{spark.problem}" if spark and spark.problem else "—" if spark is None or spark.median_s is None
        else f"equal; {_seconds(spark)} vs {_seconds(base)}, peak RSS {_megabytes(spark)} with Java",
        None if spark is None or (spark.median_s is None and not spark.problem) else not spark.problem,
    ))
    ours_real = result.find(real, "features", ours) if real else None
    polars = result.find(real, "features", Engine("Polars")) if real else None
    naive = result.find(real, "features", Engine("naive")) if real else None
    found.append(_compare("feature stage on the real file within 1.5× of Polars (default threads)",
                          ours_real, polars, lambda a, b: a <= 1.5 * b,
                          lambda a, b: f"{_seconds(ours_real)} vs {_seconds(polars)} ({a / b:.2f}×)"))
    found.append(_compare("feature stage on the real file at least 10× faster than the naive idiom",
                          ours_real, naive, lambda a, b: b >= 10 * a,
                          lambda a, b: f"{_seconds(ours_real)} vs {_seconds(naive)} ({b / a:.1f}× faster)"))
    return found


def _compare(text: str, ours: Row | None, other: Row | None, test: Callable[[float, float], bool],
             describe: Callable[[float, float], str]) -> Target:
    if ours is None or other is None or ours.median_s is None or other.median_s is None:
        return Target(text, f"{_seconds(ours)} vs {_seconds(other)}", None)
    return Target(text, describe(ours.median_s, other.median_s), test(ours.median_s, other.median_s))


def _memory_target(text: str, row: Row | None, limit_mb: float, extra: str = "") -> Target:
    if row is None or row.peak_mb is None:
        return Target(text, "—", None)
    return Target(text, f"{_megabytes(row)} (limit {limit_mb:,.0f} MB){extra}", row.peak_mb < limit_mb)


# --- report ----------------------------------------------------------------------------------


def records(result: Result) -> list[dict]:
    """The result rows as the table shows them, with each median divided by the package's."""
    ours = {(row.input, row.stage): row.median_s for row in result.rows if row.engine.name == PACKAGE}
    found = []
    for row in result.rows:
        record = row.record()
        base = ours.get((row.input, row.stage))
        record["÷ segmentation"] = round(row.median_s / base, 2) if row.median_s is not None and base else None
        found.append(record)
    return found


def report(result: Result) -> str:
    """The run as Markdown: machine, inputs, results, the forecast's fit and targets."""
    from benchmarks import forecast as forecast_bench

    rows = pd.DataFrame(records(result)).astype(object)
    problems = [f"- {row.input} | {row.stage} | {row.engine.key}: {row.problem}" for row in result.rows if row.problem]
    inputs = pd.DataFrame([{
        "input": i.name, "lines": f"{i.lines:,}", "customers": f"{i.customers:,}", "(customer, StockCode) pairs":
        f"{i.pairs:,}", "file MB": round(i.megabytes, 1), "generated in s": i.generation_s,
        "generation peak RSS MB": i.generation_peak_mb,
    } for i in result.inputs]).astype(object)
    inputs = inputs.where(inputs.notna(), "—")
    load = "; ".join(f"{name}: {_load_text(before)} → {_load_text(after)}"
                     for name, (before, after) in result.load.items())
    if not rows.empty:
        rows["lines"] = rows["lines"].map("{:,}".format)
        rows = rows.where(rows.notna(), "—")
    return "\n\n".join([
        f"Machine: {result.cpus} CPUs, Python {sys.version.split()[0]}. "
        f"Load average (1, 5, 15 min) before → after each input: {load or '—'}.",
        "Inputs:\n\n" + inputs.to_markdown(index=False),
        "Results (wall time: median and range of the runs; peak RSS: whole process, during the timed run):\n\n"
        + (rows.to_markdown(index=False) if not rows.empty else "(no rows)"),
        *(["Problems (no time reported for these rows):\n\n" + "\n".join(problems)] if problems else []),
        *([_commands_table(result)] if result.commands or result.at_scale else []),
        *([forecast_bench.report(result.forecast)] if result.forecast else []),
        "Targets:\n\n" + pd.DataFrame([t.record() for t in targets(result)]).to_markdown(index=False),
    ]) + "\n"


def _commands_table(result: Result) -> str:
    table = pd.DataFrame([{
        "command": name, "runs": len(seconds), "median s": round(statistics.median(seconds), 2),
        "min–max s": f"{min(seconds):.2f}–{max(seconds):.2f}",
    } for name, seconds in result.commands.items() if seconds])
    text = "`make run` on the real file, each command a fresh process, imports included:\n\n" + table.to_markdown(
        index=False)
    if result.at_scale:
        text += (f"\n\nThe command line on the 20M-line Parquet file, {len(result.at_scale)} runs: median "
                 f"{statistics.median(result.at_scale):.2f} s ({min(result.at_scale):.2f}–{max(result.at_scale):.2f})")
    return text


def _load_text(load: tuple[float, ...]) -> str:
    return "/".join(f"{value:.2f}" for value in load)


def write_report(result: Result, out_dir: Path) -> Path:
    """Write ``results.md`` and ``results.csv`` into ``out_dir``; the Markdown file's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(records(result)).to_csv(out_dir / "results.csv", index=False)
    markdown = out_dir / "results.md"
    markdown.write_text(report(result), encoding="utf-8")
    return markdown


def main(argv: list[str] | None = None) -> int:
    from benchmarks import forecast as forecast_bench

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="*", help=f"synthetic inputs in lines, e.g. 1M 20M (default: "
                        f"{' '.join(DEFAULT_SIZES)}; with --quick: none)")
    parser.add_argument("--csv", nargs="*", metavar="SIZE",
                        help="synthetic sizes also measured as CSV files, pipeline stage only (default: the "
                             f"chosen sizes up to {CSV_MAX_LINES:,} lines; with --quick: the sample)")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES),
                        help="the stages measured (default: both)")
    parser.add_argument("--repeats", type=int, help="runs per engine and input (default 3; with --quick 1)")
    parser.add_argument("--quick", action="store_true",
                        help="checks the harness in seconds: the bundled synthetic sample as Parquet, one run "
                             "of each engine at default threads, no real file")
    parser.add_argument("--real-file", type=Path,
                        help=f"the real Parquet file (default {config.display_path(config.REAL_DATA_PATH)}; "
                             "skipped if missing)")
    parser.add_argument("--no-real", action="store_true", help="leave the real file out")
    parser.add_argument("--all-engines", action="store_true",
                        help=f"run DuckDB and Polars also above {LARGE_LINES:,} lines")
    parser.add_argument("--bench-dir", type=Path, default=BENCH_DIR,
                        help="where synthetic files are cached and results written")
    parser.add_argument("--forecast-customers", type=int,
                        help="drawn customers the forecast's fit is measured on, beside the real year's "
                             f"(default {forecast_bench.SIMULATED_CUSTOMERS:,}; with --quick 5,000 and no real year)")
    parser.add_argument("--worker", nargs=4, metavar=("STAGE", "ENGINE", "INPUT", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        stage, engine, source, result_path = args.worker
        print(json.dumps(asdict(worker(stage, Engine.parse(engine), Path(source), Path(result_path)))))
        return 0
    sizes = args.sizes if args.sizes is not None else ([] if args.quick else list(DEFAULT_SIZES))
    repeats = args.repeats or (1 if args.quick else 3)
    real_file = args.real_file or config.REAL_DATA_PATH
    use_real = not args.no_real and (args.real_file is not None or not args.quick) and real_file.exists()
    sample = [sample_input(args.bench_dir)] if args.quick else []
    synthetic = {size: synthetic_input(size, args.bench_dir) for size in sizes}
    inputs = [*([real_input(real_file)] if use_real else []), *sample, *synthetic.values()]
    if args.csv is None:
        copies = sample or [i for i in synthetic.values() if i.lines <= CSV_MAX_LINES]
    else:
        copies = [synthetic.get(size) or synthetic_input(size, args.bench_dir) for size in args.csv]
    inputs += [csv_input(item) for item in copies]
    result = run_benchmark(inputs, repeats=repeats, all_engines=args.all_engines, quick=args.quick,
                           stages=tuple(args.stages))
    if use_real and not args.quick:
        with tempfile.TemporaryDirectory() as scratch:
            result.commands = measure_make_run(real_file, repeats=repeats, scratch=Path(scratch))
    large = next((i for i in inputs if not i.real and not i.csv and i.lines == 20_000_000), None)
    if large is not None and "pipeline" in args.stages:
        with tempfile.TemporaryDirectory() as scratch:
            result.at_scale = measure_command_at_scale(large.path, repeats=repeats, scratch=Path(scratch))
    forecast_customers = (args.forecast_customers if args.forecast_customers is not None
                          else 5_000 if args.quick else forecast_bench.SIMULATED_CUSTOMERS)
    with tempfile.TemporaryDirectory() as scratch:
        result.forecast = forecast_bench.measure_forecast(real_file if use_real else None, repeats=repeats,
                                                          scratch=Path(scratch), customers=forecast_customers)
    markdown = write_report(result, args.bench_dir)
    print(report(result))
    print(f"wrote {markdown} and results.csv")
    return 1 if any(row.problem for row in [*result.rows, *result.forecast]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
